"""Live application events for Server-Sent Events, fanned out to every replica over core NATS.

The replica whose consumer handled an event publishes it on ``STREAM_SUBJECT`` after its
transaction committed; every replica subscribes and hands it to its own connected clients
whose reader may see it. Each client has a bounded queue: one that falls behind is dropped
(it reconnects with ``Last-Event-ID`` and resumes from the stored timeline) and never slows
the others down.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass, field, fields
from typing import Any

from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from mpp_shared.events import NatsConnection
from tracking.domain.timeline import Reader, TimelineEntry, TrackedApplication

log = logging.getLogger(__name__)

# Outside mpp.> (the JetStream stream MPP would store it); only tracking publishes and reads it.
STREAM_SUBJECT = "_tracking.stream.v1.events"
STREAM_SUBJECTS = "_tracking.stream.v1.>"


@dataclass(frozen=True, slots=True)
class StreamEvent:
    """One application event as a stream client receives it, with who may see it."""

    event_id: str
    event_type: str
    position: int
    application_id: str
    registration_number: str
    status: str
    stage: str | None
    sequence: int
    at: str
    owner_account_id: str | None
    agency_id: str

    @classmethod
    def of(cls, entry: TimelineEntry, application: TrackedApplication) -> StreamEvent:
        return cls(
            event_id=str(entry.event_id),
            event_type=entry.event_type,
            position=entry.position,
            application_id=str(entry.application_id),
            registration_number=application.registration_number,
            status=entry.status,
            stage=entry.stage,
            sequence=entry.sequence,
            at=entry.occurred_at.isoformat().replace("+00:00", "Z"),
            owner_account_id=(
                str(application.owner_account_id) if application.owner_account_id else None
            ),
            agency_id=str(application.agency_id),
        )

    def visible_to(self, reader: Reader) -> bool:
        if reader.account_id is not None and self.owner_account_id == str(reader.account_id):
            return True
        return reader.agency_id is not None and self.agency_id == str(reader.agency_id)

    def data(self) -> dict[str, Any]:
        """What the client reads in ``data:``; never notes (the stream is the same for all)."""
        return {
            "application_id": self.application_id,
            "registration_number": self.registration_number,
            "status": self.status,
            "stage": self.stage,
            "sequence": self.sequence,
            "at": self.at,
        }

    def sse(self) -> bytes:
        data = json.dumps(self.data(), separators=(",", ":"), ensure_ascii=False)
        return f"id: {self.event_id}\nevent: {self.event_type}\ndata: {data}\n\n".encode()

    def to_wire(self) -> bytes:
        # Every field is a str, an int or None: no deep copy (asdict) needed.
        wire = {f.name: getattr(self, f.name) for f in fields(self)}
        return json.dumps(wire, separators=(",", ":")).encode()

    @classmethod
    def from_wire(cls, body: bytes) -> StreamEvent:
        return cls(**json.loads(body))


@dataclass(eq=False)
class StreamClient:
    """One connected reader: its queue (None ends the stream) and whether it was dropped."""

    reader: Reader
    queue: asyncio.Queue[StreamEvent | None] = field(default_factory=asyncio.Queue)
    dropped: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class StreamHub:
    """The replica's live clients and its side of the NATS fan-out (a worker: start/stop)."""

    def __init__(self, connection: NatsConnection | None, *, queue_size: int) -> None:
        self._connection = connection
        self._queue_size = queue_size
        self._clients: set[StreamClient] = set()
        self._subscription: Subscription | None = None
        self._lock = asyncio.Lock()
        self._publishing: set[asyncio.Task[None]] = set()

    @property
    def clients(self) -> int:
        return len(self._clients)

    async def start(self) -> None:
        if self._connection is None:
            return
        self._connection.on_connect(self._on_connect)
        if self._connection.connected:
            await self._subscribe()

    async def _on_connect(self, _: NatsConnection) -> None:
        await self._subscribe()

    async def _subscribe(self) -> None:
        assert self._connection is not None
        async with self._lock:
            # The client re-subscribes by itself after a reconnect; only a new client needs us.
            if self._subscription is not None and self._connection.connected:
                return
            self._subscription = await self._connection.client.subscribe(
                STREAM_SUBJECT, cb=self._on_message
            )

    async def _on_message(self, msg: Msg) -> None:
        if not self._clients:
            return  # nobody here to hand it to: not worth reading
        try:
            event = StreamEvent.from_wire(msg.data)
        except (ValueError, TypeError):
            log.warning("unreadable live event dropped", extra={"subject": msg.subject})
            return
        self.deliver(event)

    async def stop(self) -> None:
        if self._publishing:
            await asyncio.wait(self._publishing, timeout=5)
        subscription, self._subscription = self._subscription, None
        if subscription is not None:
            with contextlib.suppress(Exception):
                await subscription.unsubscribe()
        for client in list(self._clients):
            self.disconnect(client)
            client.queue.put_nowait(None)

    def connect(self, reader: Reader) -> StreamClient:
        client = StreamClient(reader=reader)
        self._clients.add(client)
        return client

    def disconnect(self, client: StreamClient) -> None:
        self._clients.discard(client)

    def deliver(self, event: StreamEvent) -> None:
        """Hand ``event`` to this replica's clients that may see it; drop those behind."""
        for client in list(self._clients):
            if not event.visible_to(client.reader):
                continue
            if client.queue.qsize() >= self._queue_size:
                self._drop(client)
                continue
            client.queue.put_nowait(event)

    def _drop(self, client: StreamClient) -> None:
        self.disconnect(client)
        if not client.dropped.done():
            client.dropped.set_result(None)
        client.queue.put_nowait(None)
        log.warning("live stream client dropped: it did not keep up")

    def publish_soon(self, event: StreamEvent) -> None:
        """Publish ``event`` to every replica (called once its transaction committed)."""
        self.publish_all_soon([event])

    def publish_all_soon(self, events: list[StreamEvent]) -> None:
        """Publish ``events`` in their order to every replica, in one task (a batch's events
        after its transaction committed)."""
        if not events:
            return
        task = asyncio.get_running_loop().create_task(self._publish_all(events))
        self._publishing.add(task)
        task.add_done_callback(self._publishing.discard)

    async def _publish_all(self, events: list[StreamEvent]) -> None:
        for event in events:
            await self.publish(event)

    async def publish(self, event: StreamEvent) -> None:
        connection = self._connection
        if connection is not None and connection.connected:
            try:
                await connection.client.publish(STREAM_SUBJECT, event.to_wire())
                return
            except Exception as exc:
                log.warning("live event not fanned out", extra={"error": type(exc).__name__})
        # Without NATS at least this replica's clients hear of it; the others resume from the
        # stored timeline when they reconnect.
        self.deliver(event)
