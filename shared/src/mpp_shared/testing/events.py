"""Publish events in tests exactly as a service's outbox relay would, without its database."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from nats.js import JetStreamContext

from mpp_shared.contracts.identity.v1 import ACCESS_REVOKED, SOURCE, AccessRevoked, RevokedKind
from mpp_shared.events.envelope import CloudEvent, new_event
from mpp_shared.events.relay import CLOUDEVENTS_CONTENT_TYPE
from mpp_shared.events.stream import EVENTS_STREAM, ensure_event_streams


async def publish_like_relay(
    js: JetStreamContext, event: CloudEvent, *, stream: str = EVENTS_STREAM
) -> int:
    """Publish ``event`` to its subject in ``stream`` as ``OutboxRelay`` does; its sequence.

    The streams are created first if missing, as the relay does on connecting.
    """
    await ensure_event_streams(js, name=stream)
    body = json.dumps(event.to_json_dict(), separators=(",", ":"), ensure_ascii=False).encode()
    ack = await js.publish(
        event.nats_subject,
        body,
        stream=stream,
        headers={"Nats-Msg-Id": event.id, "Content-Type": CLOUDEVENTS_CONTENT_TYPE},
    )
    return int(ack.seq)


def access_revoked_event(
    *,
    kind: RevokedKind,
    id: str,
    reason: str = "logout",
    revoked_at: datetime | None = None,
    until: datetime | None = None,
) -> CloudEvent:
    """identity's ``AccessRevoked`` event; by default revoked now, in force for 15 minutes."""
    revoked_at = revoked_at if revoked_at is not None else datetime.now(UTC)
    until = until if until is not None else revoked_at + timedelta(minutes=15)
    data = AccessRevoked(kind=kind, id=id, reason=reason, revoked_at=revoked_at, until=until)
    return new_event(type=ACCESS_REVOKED, source=SOURCE, data=data)
