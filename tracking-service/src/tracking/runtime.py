"""What a running tracking service holds besides the shared runtime."""

from __future__ import annotations

from dataclasses import dataclass, field

from tracking.messaging.stream import StreamHub


@dataclass
class TrackingRuntime:
    # Set at startup, when the NATS connection exists.
    hub: StreamHub | None = field(default=None)

    @property
    def stream_hub(self) -> StreamHub:
        if self.hub is None:
            raise RuntimeError("the live stream hub starts with the service")
        return self.hub
