"""``GET /api/v1/events/stream``: Server-Sent Events of the caller's applications and
complaint cases (staff: of their agency's), resumable with ``Last-Event-ID`` from the stored
timeline and case steps."""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import uuid
from operator import attrgetter
from typing import Annotated

from fastapi import APIRouter, Header, Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from mpp_shared.deps import SessionDep
from tracking.api.reader import CurrentReader
from tracking.config import TrackingSettings
from tracking.db.timeline import TimelineRepository
from tracking.domain.timeline import Reader
from tracking.messaging.stream import (
    CaseStepEvent,
    LiveEvent,
    StreamClient,
    StreamEvent,
    StreamHub,
)
from tracking.runtime import TrackingRuntime

router = APIRouter(prefix="/api/v1/events", tags=["live updates"])

HEARTBEAT = b": heartbeat\n\n"


class _Gone(Exception):
    """The client left, was dropped, or did not take a write in time."""


class EventStreamResponse(Response):
    """A ``text/event-stream`` answer fed by one hub client; ends when the client goes."""

    media_type = "text/event-stream"

    def __init__(
        self,
        *,
        hub: StreamHub,
        client: StreamClient,
        backlog: list[LiveEvent],
        heartbeat_seconds: float,
        send_timeout_seconds: float,
    ) -> None:
        super().__init__(
            status_code=200,
            headers={
                "Cache-Control": "no-store",
                # Proxies that buffer by default (nginx) pass each event on at once.
                "X-Accel-Buffering": "no",
            },
            media_type="text/event-stream; charset=utf-8",
        )
        # A stream has no length: without this, Starlette's "content-length: 0" for an empty
        # body would tell any proxy in between (the gateway) that the response is over.
        self.raw_headers = [(k, v) for k, v in self.raw_headers if k != b"content-length"]
        self._hub = hub
        self._client = client
        self._backlog = backlog
        self._heartbeat = heartbeat_seconds
        self._send_timeout = send_timeout_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = self._client
        listener = asyncio.create_task(self._wait_for_disconnect(receive))
        try:
            await self._send(
                send,
                {"type": "http.response.start", "status": 200, "headers": self.raw_headers},
            )
            await self._send(send, _chunk(b"retry: 3000\n\n"))
            replayed = {event.event_id for event in self._backlog}
            for event in self._backlog:
                await self._send(send, _chunk(event.sse()))
            self._backlog = []
            while True:
                try:
                    item = await asyncio.wait_for(client.queue.get(), self._heartbeat)
                except TimeoutError:
                    await self._send(send, _chunk(HEARTBEAT))
                    continue
                if item is None:
                    break
                if item.event_id in replayed:
                    continue  # arrived live while it was being replayed
                await self._send(send, _chunk(item.sse()))
            await self._send(send, {"type": "http.response.body", "body": b""})
        except _Gone:
            pass
        finally:
            self._hub.disconnect(client)
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener

    async def _send(self, send: Send, message: Message) -> None:
        """One write, abandoned when the client is dropped or does not take it in time."""
        if self._client.dropped.done():
            raise _Gone
        writing = asyncio.ensure_future(send(message))
        done, _ = await asyncio.wait(
            {writing, self._client.dropped},
            timeout=self._send_timeout,
            return_when=asyncio.FIRST_COMPLETED,
        )
        if writing not in done:
            writing.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await writing
            raise _Gone
        try:
            writing.result()
        except Exception as exc:  # the connection went away under the write
            raise _Gone from exc

    async def _wait_for_disconnect(self, receive: Receive) -> None:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                self._client.queue.put_nowait(None)
                return


def _chunk(body: bytes) -> Message:
    return {"type": "http.response.body", "body": body, "more_body": True}


def _event_id(value: str | None) -> uuid.UUID | None:
    if not value:
        return None
    try:
        return uuid.UUID(value.strip())
    except ValueError:
        return None


async def _missed(
    timeline: TimelineRepository, *, after: uuid.UUID, reader: Reader, limit: int
) -> list[LiveEvent]:
    """The reader's application events and case steps that arrived after the event ``after``,
    the first ``limit`` of them in arrival order (none when ``after`` is not known here)."""
    position = await timeline.position_of(after)
    if position is None:
        return []
    entries = await timeline.entries_after(position=position, reader=reader, limit=limit)
    steps = await timeline.case_steps_after(position=position, reader=reader, limit=limit)
    merged = heapq.merge(
        [StreamEvent.of(entry, app) for entry, app in entries],
        [CaseStepEvent.of(step, number) for step, number in steps],
        key=attrgetter("position"),
    )
    return list(merged)[:limit]


@router.get(
    "/stream",
    # Explicit: FastAPI cannot read a default status from this response class's signature.
    status_code=200,
    response_class=EventStreamResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "An event stream."}},
)
async def stream_events(
    request: Request,
    reader: CurrentReader,
    session: SessionDep,
    last_event_id: Annotated[str | None, Header(max_length=100)] = None,
) -> EventStreamResponse:
    """Live events; with ``Last-Event-ID`` (of an application event or a case step), first
    those of both kinds that came after it (in arrival order)."""
    runtime = request.app.state.runtime
    settings: TrackingSettings = runtime.settings
    hub = runtime.state_as(TrackingRuntime).stream_hub
    # Connected before the replay is read, so nothing falls between the two.
    client = hub.connect(reader)
    backlog: list[LiveEvent] = []
    try:
        after = _event_id(last_event_id)
        if after is not None:
            backlog = await _missed(
                TimelineRepository(session),
                after=after,
                reader=reader,
                limit=settings.stream_resume_limit,
            )
    except BaseException:
        hub.disconnect(client)
        raise
    return EventStreamResponse(
        hub=hub,
        client=client,
        backlog=backlog,
        heartbeat_seconds=settings.stream_heartbeat_seconds,
        send_timeout_seconds=settings.stream_send_timeout_seconds,
    )
