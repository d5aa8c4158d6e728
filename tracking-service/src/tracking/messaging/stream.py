"""Live application events and complaint case steps for Server-Sent Events, fanned out to
every replica over core NATS.

The replica whose consumer handled a batch of events publishes them after its transaction
committed, all in one NATS message on ``BATCH_SUBJECT`` (a message per event cost the
consumer about as much as writing the event); every replica subscribes and hands each event
to its own connected clients whose reader may see it. A message of one event on its kind's
subject (what replicas of before published) is read too. Each client has a bounded queue: one that
falls behind is dropped (it reconnects with ``Last-Event-ID`` and resumes from the stored
timeline and case steps) and never slows the others down.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, ClassVar, Self

from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from mpp_shared.events import NatsConnection
from tracking.domain.timeline import CaseStep, Reader, TimelineEntry, TrackedApplication

log = logging.getLogger(__name__)

# Outside mpp.> (the JetStream stream MPP would store it); only tracking publishes and reads it.
STREAM_SUBJECTS = "_tracking.stream.v1.>"
STREAM_SUBJECT = "_tracking.stream.v1.events"  # application events
CASE_STEP_SUBJECT = "_tracking.stream.v1.case_steps"
# A batch's events in their order: a JSON array of [kind's subject, the event's fields].
BATCH_SUBJECT = "_tracking.stream.v1.batch"
BATCH_MOST = 256  # events per message: well under NATS's payload limit (1 MB by default)
CASE_STEP_EVENT = "case_step"  # the SSE ``event:`` of a case step


class LiveEvent:
    """What a stream client receives (a dataclass of str, int and None fields): its id and
    place in the stream's order, who may see it, its SSE message and its NATS form."""

    __slots__ = ()
    subject: ClassVar[str]  # what it is fanned out on
    event_id: str
    position: int
    owner_account_id: str | None
    agency_id: str

    @property
    def sse_event(self) -> str:
        raise NotImplementedError

    def data(self) -> dict[str, Any]:
        """What the client reads in ``data:`` (the same for every reader)."""
        raise NotImplementedError

    def visible_to(self, reader: Reader) -> bool:
        """``can_read``: the owner, and the staff and systems of the handling agency."""
        if reader.account_id is not None and self.owner_account_id == str(reader.account_id):
            return True
        return reader.agency_id is not None and self.agency_id == str(reader.agency_id)

    def sse(self) -> bytes:
        data = json.dumps(self.data(), separators=(",", ":"), ensure_ascii=False)
        return f"id: {self.event_id}\nevent: {self.sse_event}\ndata: {data}\n\n".encode()

    def wire(self) -> dict[str, Any]:
        # Every field is a str, an int or None: no deep copy (asdict) needed.
        return {f.name: getattr(self, f.name) for f in fields(self)}  # type: ignore[arg-type]

    @classmethod
    def from_wire(cls, body: bytes) -> Self:
        return cls(**json.loads(body))


def _at(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class StreamEvent(LiveEvent):
    """One application event as a stream client receives it, with who may see it."""

    subject: ClassVar[str] = STREAM_SUBJECT
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
            at=_at(entry.occurred_at),
            owner_account_id=(
                str(application.owner_account_id) if application.owner_account_id else None
            ),
            agency_id=str(application.agency_id),
        )

    @property
    def sse_event(self) -> str:
        return self.event_type

    def data(self) -> dict[str, Any]:
        """Never notes (the stream is the same for all)."""
        return {
            "application_id": self.application_id,
            "registration_number": self.registration_number,
            "status": self.status,
            "stage": self.stage,
            "sequence": self.sequence,
            "at": self.at,
        }


@dataclass(frozen=True, slots=True)
class CaseStepEvent(LiveEvent):
    """One step of a complaint case as a stream client receives it (``event: case_step``),
    with who may see it: the case's citizen (nobody for an anonymous case) and the handling
    agency, as its application's timeline shows it."""

    subject: ClassVar[str] = CASE_STEP_SUBJECT
    event_id: str
    event_type: str
    position: int
    case_number: str
    status: str
    sequence: int
    at: str
    response_due_at: str
    application_id: str | None
    registration_number: str | None
    owner_account_id: str | None
    agency_id: str

    @classmethod
    def of(cls, step: CaseStep, registration_number: str | None) -> CaseStepEvent:
        return cls(
            event_id=str(step.event_id),
            event_type=step.event_type,
            position=step.position,
            case_number=step.case_number,
            status=step.status,
            sequence=step.sequence,
            at=_at(step.occurred_at),
            response_due_at=_at(step.response_due_at),
            application_id=str(step.application_id) if step.application_id else None,
            registration_number=registration_number,
            owner_account_id=str(step.owner_account_id) if step.owner_account_id else None,
            agency_id=str(step.agency_id),
        )

    @property
    def sse_event(self) -> str:
        return CASE_STEP_EVENT

    def data(self) -> dict[str, Any]:
        """A timeline's case step (``kind``, ``case_number``, ``status``, ``sequence`` the
        case's, ``event``, ``at``) with the case's response due time and the application it
        is about, if any; never a text of the case, its contact nor whose it is."""
        return {
            "kind": "complaint",
            "case_number": self.case_number,
            "status": self.status,
            "sequence": self.sequence,
            "event": self.event_type,
            "at": self.at,
            "response_due_at": self.response_due_at,
            "application_id": self.application_id,
            "registration_number": self.registration_number,
        }


_BY_SUBJECT: dict[str, type[LiveEvent]] = {
    kind.subject: kind for kind in (StreamEvent, CaseStepEvent)
}


@dataclass(eq=False)
class StreamClient:
    """One connected reader: its queue (None ends the stream) and whether it was dropped."""

    reader: Reader
    queue: asyncio.Queue[LiveEvent | None] = field(default_factory=asyncio.Queue)
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
                STREAM_SUBJECTS, cb=self._on_message
            )

    async def _on_message(self, msg: Msg) -> None:
        if not self._clients:
            return  # nobody here to hand it to: not worth reading
        if msg.subject == BATCH_SUBJECT:
            for event in _from_batch(msg.data):
                self.deliver(event)
            return
        kind = _BY_SUBJECT.get(msg.subject)
        if kind is None:
            return  # a newer replica's kind of event: its clients are served by it
        try:
            event = kind.from_wire(msg.data)
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

    def deliver(self, event: LiveEvent) -> None:
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

    def publish_soon(self, event: LiveEvent) -> None:
        """Publish ``event`` to every replica (called once its transaction committed)."""
        self.publish_all_soon([event])

    def publish_all_soon(self, events: Sequence[LiveEvent]) -> None:
        """Publish ``events`` in their order to every replica, in one task (a batch's events
        after its transaction committed)."""
        if not events:
            return
        task = asyncio.get_running_loop().create_task(self._publish_all(events))
        self._publishing.add(task)
        task.add_done_callback(self._publishing.discard)

    async def _publish_all(self, events: Sequence[LiveEvent]) -> None:
        connection = self._connection
        sent = 0
        if connection is not None and connection.connected:
            try:
                for sent in range(0, len(events), BATCH_MOST):
                    chunk = events[sent : sent + BATCH_MOST]
                    await connection.client.publish(BATCH_SUBJECT, _to_batch(chunk))
                return
            except Exception as exc:
                log.warning("live events not fanned out", extra={"error": type(exc).__name__})
        # Without NATS at least this replica's clients hear of those not sent; the others
        # resume from the stored timeline when they reconnect.
        for event in events[sent:]:
            self.deliver(event)

    async def publish(self, event: LiveEvent) -> None:
        await self._publish_all([event])


def _to_batch(events: Sequence[LiveEvent]) -> bytes:
    return json.dumps([[e.subject, e.wire()] for e in events], separators=(",", ":")).encode()


def _from_batch(body: bytes) -> list[LiveEvent]:
    """The events of a batch message that this replica knows (a newer replica's kinds left
    out: its clients are served by it); an unreadable message gives none."""
    try:
        items = json.loads(body)
        return [
            _BY_SUBJECT[subject](**fields_) for subject, fields_ in items if subject in _BY_SUBJECT
        ]
    except (ValueError, TypeError):
        log.warning("unreadable live events dropped", extra={"subject": BATCH_SUBJECT})
        return []
