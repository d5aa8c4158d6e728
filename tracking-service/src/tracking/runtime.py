"""What a running tracking service holds besides the shared runtime."""

from __future__ import annotations

from dataclasses import dataclass, field

from tracking.messaging.stream import StreamHub
from tracking.report_cache import ReportCache


@dataclass
class TrackingRuntime:
    # Set at startup, when the NATS connection exists.
    hub: StreamHub | None = field(default=None)
    report_cache: ReportCache = field(default_factory=lambda: ReportCache(ttl=0))

    @property
    def stream_hub(self) -> StreamHub:
        if self.hub is None:
            raise RuntimeError("the live stream hub starts with the service")
        return self.hub
