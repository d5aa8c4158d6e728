"""The live stream's framing: no length (a proxy would end it at once), events as they come."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from tracking.api.routes.stream import EventStreamResponse
from tracking.domain.timeline import Reader
from tracking.messaging.stream import StreamEvent, StreamHub


async def test_the_stream_has_no_length_and_carries_events_after_its_head() -> None:
    hub = StreamHub(None, queue_size=8)
    account = uuid.uuid4()
    client = hub.connect(Reader(account_id=account, agency_id=None, is_staff=False))
    response = EventStreamResponse(
        hub=hub, client=client, backlog=[], heartbeat_seconds=30, send_timeout_seconds=5
    )
    sent: list[dict[str, Any]] = []
    disconnected = asyncio.Event()

    async def receive() -> dict[str, Any]:
        await disconnected.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    serving = asyncio.create_task(response({"type": "http"}, receive, send))
    await asyncio.sleep(0.05)
    event = StreamEvent(
        event_id=str(uuid.uuid4()),
        event_type="mpp.application.application.submitted",
        position=1,
        application_id=str(uuid.uuid4()),
        registration_number="REG-1",
        status="submitted",
        stage=None,
        sequence=1,
        at="2026-01-05T01:00:00Z",
        owner_account_id=str(account),
        agency_id=str(uuid.uuid4()),
    )
    hub.deliver(event)
    await asyncio.sleep(0.05)
    disconnected.set()
    await asyncio.wait_for(serving, 5)

    headers = dict(sent[0]["headers"])
    assert b"content-length" not in headers
    assert headers[b"content-type"].startswith(b"text/event-stream")
    bodies = [m["body"] for m in sent[1:]]
    assert any(f"id: {event.event_id}".encode() in body for body in bodies)
    assert all(m.get("more_body") for m in sent[1:-1])
