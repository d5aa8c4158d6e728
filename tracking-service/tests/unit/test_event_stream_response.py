"""The live stream's response head: a stream of unknown length, never an empty body."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from tracking.api.routes.stream import EventStreamResponse
from tracking.domain.timeline import Reader
from tracking.messaging.stream import StreamClient, StreamHub


async def test_the_stream_carries_no_content_length_and_sends_its_first_chunk() -> None:
    hub = StreamHub(None, queue_size=10)
    client = StreamClient(reader=_reader())
    response = EventStreamResponse(
        hub=hub, client=client, backlog=[], heartbeat_seconds=30, send_timeout_seconds=5
    )
    headers = dict(response.raw_headers)
    assert b"content-length" not in headers
    assert headers[b"content-type"].startswith(b"text/event-stream")

    sent: list[dict[str, Any]] = []

    async def send(message: Any) -> None:
        sent.append(message)
        if len(sent) == 2:
            client.queue.put_nowait(None)  # the client goes after the first chunk

    async def receive() -> Any:
        await asyncio.Event().wait()

    await response({"type": "http"}, receive, send)
    assert sent[0]["type"] == "http.response.start"
    assert sent[1]["body"].startswith(b"retry:")
    assert sent[1]["more_body"] is True


def _reader() -> Reader:
    return Reader(account_id=uuid.uuid4(), agency_id=None, is_staff=False)
