"""Idempotent event consumers: a durable pull consumer, an inbox, retries and dead letters."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Any

from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError
from pydantic import ValidationError
from sqlalchemy import String, Uuid, bindparam, cast, func, literal, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.sql.dml import ReturningInsert

from mpp_shared.db.failures import is_outage
from mpp_shared.events.connection import NatsConnection
from mpp_shared.events.envelope import CloudEvent
from mpp_shared.events.stream import (
    DEAD_LETTER_STREAM,
    EVENTS_STREAM,
    dead_letter_subject,
    ensure_dead_letter_stream,
    ensure_stream,
)
from mpp_shared.events.tables import inbox
from mpp_shared.observability.context import TraceContext, request_id_var, trace_var

log = logging.getLogger(__name__)

Handler = Callable[[AsyncSession, CloudEvent], Awaitable[None]]
# Handles the new events of one fetched batch in the consumer's transaction, in the order the
# stream gave them (duplicates and events handled before are left out by the inbox).
BatchHandler = Callable[[AsyncSession, Sequence[CloudEvent]], Awaitable[None]]
NakDelay = Callable[[int], float]

# Headers a dead letter carries besides the original message's own.
DLQ_CONSUMER_HEADER = "Mpp-Dlq-Consumer"
DLQ_REASON_HEADER = "Mpp-Dlq-Reason"  # unparseable | permanent | max_deliver
DLQ_ERROR_HEADER = "Mpp-Dlq-Error"
DLQ_DELIVERIES_HEADER = "Mpp-Dlq-Deliveries"
DLQ_SUBJECT_HEADER = "Mpp-Dlq-Subject"
DLQ_STREAM_HEADER = "Mpp-Dlq-Stream"
DLQ_SEQUENCE_HEADER = "Mpp-Dlq-Stream-Sequence"
DLQ_EVENT_ID_HEADER = "Mpp-Dlq-Event-Id"

# A durable name is one subject token and becomes the dead-letter subject's last token.
_DURABLE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class PermanentError(Exception):
    """Raised by a handler for an event that no retry will fix: dead-lettered at once."""


class _Outage(Exception):
    """The infrastructure failed, not the event: the database (or a service the handler
    needs) is unreachable, a connection dropped, a call timed out."""


def exponential_backoff(*, base: float = 1.0, cap: float = 60.0) -> NakDelay:
    """Redelivery delay after the n-th failed delivery: base, 2·base, 4·base… up to cap."""

    def delay(num_delivered: int) -> float:
        return float(min(cap, base * 2 ** min(max(num_delivered - 1, 0), 16)))

    return delay


@contextlib.contextmanager
def event_context(event: CloudEvent) -> Iterator[None]:
    """The event's request id and a child of its trace as the current ones: what is logged
    or recorded meanwhile carries the request that caused the event."""
    request_token = request_id_var.set(event.correlationid or event.id)
    parent = TraceContext.parse(event.traceparent)
    trace_token = trace_var.set(parent.child() if parent is not None else TraceContext.new())
    try:
        yield
    finally:
        trace_var.reset(trace_token)
        request_id_var.reset(request_token)


class EventConsumer:
    """A worker (start/stop) that hands each event to ``handler`` exactly once in effect.

    Per message: the inbox row ``(name, event id)`` and the handler's changes commit in one
    transaction, and the message is acked only after that commit. A redelivery of a handled
    event (the ack was lost, or the publisher sent it twice) finds the inbox row and is acked
    without calling the handler. A handler exception rolls everything back and the message is
    redelivered after ``nak_delay(deliveries)``; a :class:`PermanentError`, an unparseable
    message, or the ``max_deliver``-th failure sends it to ``dlq.mpp.<name>`` and terminates it.

    An outage is not the event's fault and never dead-letters it: when the consumer's own
    step fails (claiming the inbox row, committing) or the handler fails on an unreachable
    database, a dropped connection or a timeout, the consumer keeps the delivery (in progress,
    not nak'd: a redelivery would count towards ``max_deliver``) and tries again after
    ``nak_delay(attempt)`` until it succeeds or the consumer stops. The rest of the fetched
    batch is kept in progress meanwhile.

    With a ``batch_handler`` instead, the messages of one fetch (up to ``batch``; the fetch
    returns what the stream has at once, waiting up to ``fetch_timeout`` only for a first
    one) are handled together: one multi-row insert of their inbox rows tells which are new,
    the batch handler gets those in stream order, one commit, then every message is acked.
    A crash before the commit leaves all of them unacked and the inbox without their rows:
    they come back and are handled once. If the batch fails for anything but an outage
    (one poison event among good ones), it is rolled back and its messages are handled one
    by one, each in its own transaction with the batch handler given that one event, so only
    the event at fault is retried or dead-lettered and its neighbours are not held back.
    With ``linger`` (seconds), a fetch that came back short waits that long once and takes
    what arrived meanwhile into the same batch: when events come one at a time, fewer and
    larger batches (each costs a transaction and its fixed statements) for at most about
    twice ``linger`` of delay; a backlog fills its batches without waiting.

    Replicas with the same ``name`` share one durable consumer, so each event goes to one
    of them. The handler must not commit; it may call ``record_event`` on its session.
    """

    def __init__(
        self,
        *,
        name: str,
        subjects: Sequence[str],
        handler: Handler | None = None,
        batch_handler: BatchHandler | None = None,
        sessionmaker: async_sessionmaker[AsyncSession],
        connection: NatsConnection,
        stream: str = EVENTS_STREAM,
        max_deliver: int = 5,
        ack_wait: float = 30.0,
        nak_delay: NakDelay | None = None,
        batch: int = 10,
        fetch_timeout: float = 5.0,
        linger: float = 0.0,
    ) -> None:
        if not _DURABLE_NAME.match(name):
            raise ValueError(f"consumer name {name!r} must be letters, digits, '-' or '_'")
        if not subjects:
            raise ValueError("a consumer needs at least one subject")
        if max_deliver < 1:
            raise ValueError("max_deliver must be at least 1")
        if (handler is None) == (batch_handler is None):
            raise ValueError("a consumer needs either a handler or a batch handler")
        if batch < 1:
            raise ValueError("batch must be at least 1")
        if linger < 0 or (linger and batch_handler is None):
            raise ValueError("linger is a non-negative delay, for a batch handler only")
        self.name = name
        self.subjects = list(subjects)
        self._batch_handler = batch_handler
        self._handler: Handler
        if handler is not None:
            self._handler = handler
        else:
            assert batch_handler is not None
            together = batch_handler

            async def one_at_a_time(session: AsyncSession, event: CloudEvent) -> None:
                await together(session, [event])

            self._handler = one_at_a_time
        self._sessionmaker = sessionmaker
        self._connection = connection
        self._stream = stream
        self._max_deliver = max_deliver
        self._ack_wait = ack_wait
        self._nak_delay = nak_delay or exponential_backoff()
        self._batch = batch
        self._fetch_timeout = fetch_timeout
        self._linger = linger
        self._sub: JetStreamContext.PullSubscription | None = None
        self._resubscribe = True
        self._stopping = False
        self._handling = False
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._registered = False
        self._claim = _claim_statement(name)

    @property
    def dead_letter_subject(self) -> str:
        return dead_letter_subject(self.name)

    async def start(self) -> None:
        self._stopping = False
        if not self._registered:
            self._connection.on_connect(self._on_nats_connect)
            self._registered = True
        self._task = asyncio.create_task(self._run(), name=f"event-consumer:{self.name}")

    async def stop(self) -> None:
        """Finish the message being handled (if any), give the rest of the batch back, return."""
        self._stopping = True
        self._wakeup.set()
        task, self._task = self._task, None
        if task is not None:
            if not self._handling:
                # Waiting for messages or for the broker: nothing to finish.
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._drop_subscription()

    async def _on_nats_connect(self, connection: NatsConnection) -> None:
        # The broker may have come back without our consumer (a fresh store) or the
        # subscription may be stale: make sure of both before the next fetch.
        self._resubscribe = True
        self._wakeup.set()

    async def _pause(self, seconds: float) -> None:
        self._wakeup.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wakeup.wait(), seconds)

    async def _run(self) -> None:
        retry_delay = 0.5
        while not self._stopping:
            if not self._connection.connected:
                await self._pause(0.5)
                continue
            if self._sub is None or self._resubscribe:
                try:
                    self._resubscribe = False
                    await self._subscribe()
                    retry_delay = 0.5
                except Exception as exc:
                    self._resubscribe = True
                    log.warning(
                        "event consumer cannot subscribe yet",
                        extra={"consumer": self.name, "error": f"{type(exc).__name__}: {exc}"},
                    )
                    await self._pause(retry_delay)
                    retry_delay = min(retry_delay * 2, 10.0)
                    continue
            sub = self._sub
            assert sub is not None
            try:
                messages = await sub.fetch(self._batch, timeout=self._fetch_timeout)
            except TimeoutError:
                continue  # nothing to do
            except Exception as exc:
                self._fetch_failed(exc)
                self._resubscribe = True
                await self._pause(retry_delay)
                retry_delay = min(retry_delay * 2, 10.0)
                continue
            # Set before the next await so that stop() never cancels a message half done.
            self._handling = True
            try:
                if self._linger and len(messages) < self._batch:
                    messages += await self._arrived_within_linger(sub, self._batch - len(messages))
                await self._handle_fetched(messages)
            finally:
                self._handling = False

    async def _handle_fetched(self, messages: list[Msg]) -> None:
        unsettled = list(messages)
        keep_alive = asyncio.create_task(self._keep_alive(unsettled))
        try:
            if self._batch_handler is not None and len(messages) > 1:
                await self._handle_together(messages, unsettled)
            else:
                await self._handle_each(messages, unsettled)
        finally:
            keep_alive.cancel()

    async def _arrived_within_linger(
        self, sub: JetStreamContext.PullSubscription, room: int
    ) -> list[Msg]:
        """Up to ``room`` more messages, those that arrive within ``linger``: none if none.
        A failing broker is the next fetch's concern: the messages in hand are handled."""
        await asyncio.sleep(self._linger)
        try:
            more: list[Msg] = await sub.fetch(room, timeout=self._linger)
        except TimeoutError:
            return []
        except Exception as exc:
            self._fetch_failed(exc)
            return []
        return more

    def _fetch_failed(self, exc: Exception) -> None:
        log.warning(
            "event fetch failed",
            extra={"consumer": self.name, "error": f"{type(exc).__name__}: {exc}"},
        )

    async def _handle_each(self, messages: Sequence[Msg], unsettled: list[Msg]) -> None:
        for index, msg in enumerate(messages):
            if self._stopping:
                await self._give_back(messages[index:])
                return
            try:
                await self._handle(msg)
            except Exception:
                # Never lose the loop over one message: unsettled, it is redelivered.
                log.exception("event consumer failed on a message", extra={"consumer": self.name})
            finally:
                unsettled.remove(msg)

    async def _handle_together(self, messages: Sequence[Msg], unsettled: list[Msg]) -> None:
        """The batch mode: every parseable message of the fetch in one transaction."""
        parsed: list[tuple[Msg, CloudEvent]] = []
        for msg in messages:
            try:
                parsed.append((msg, CloudEvent.from_json(msg.data)))
            except (ValidationError, ValueError) as exc:
                try:
                    await self._dead_letter(msg, None, reason="unparseable", error=exc)
                finally:
                    unsettled.remove(msg)
        if not parsed:
            return
        events = [event for _, event in parsed]
        attempt = 0
        while True:
            try:
                handled = await self._handle_batch_once(events)
                break
            except _Outage as exc:
                attempt += 1
                if not await self._wait_out(exc, attempt, events=len(events)):
                    await self._give_back([msg for msg, _ in parsed])
                    return
            except Exception as exc:
                log.warning(
                    "event batch failed; handling its events one by one",
                    extra={
                        "consumer": self.name,
                        "events": len(events),
                        "error": type(exc).__name__,
                    },
                )
                await self._handle_each([msg for msg, _ in parsed], unsettled)
                return
        if handled < len(events):
            log.info(
                "events already handled",
                extra={"consumer": self.name, "events": len(events) - handled},
            )
        for msg, event in parsed:
            try:
                await self._settle(msg, event, "ack")
            finally:
                unsettled.remove(msg)

    async def _subscribe(self) -> None:
        await self._drop_subscription()
        js = self._connection.jetstream
        try:
            await js.stream_info(self._stream)
        except NotFoundError:
            # Normally the publishers' relays create it; a consumer that starts first
            # must not wait for them (the relays bring its settings up to date later).
            await ensure_stream(js, name=self._stream, replicas=self._connection.stream_replicas)
        await ensure_dead_letter_stream(js, replicas=self._connection.stream_replicas)
        config = ConsumerConfig(
            name=self.name,
            durable_name=self.name,
            deliver_policy=DeliverPolicy.ALL,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=self._ack_wait,
            # Unlimited on the server: this consumer counts deliveries itself and
            # dead-letters before it terminates, so the server never drops an event silently.
            max_deliver=-1,
            filter_subject=self.subjects[0] if len(self.subjects) == 1 else None,
            filter_subjects=self.subjects if len(self.subjects) > 1 else None,
        )
        # Create, or update a consumer whose subjects or timings changed with a new release.
        await js.add_consumer(self._stream, config)
        self._sub = await js.pull_subscribe_bind(durable=self.name, stream=self._stream)
        log.info("event consumer subscribed", extra={"consumer": self.name})

    async def _drop_subscription(self) -> None:
        sub, self._sub = self._sub, None
        if sub is not None:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    async def _give_back(self, messages: Sequence[Msg]) -> None:
        # Fetched but not started: another replica may take them at once.
        for msg in messages:
            with contextlib.suppress(Exception):
                await msg.nak()

    async def _handle(self, msg: Msg) -> None:
        deliveries = msg.metadata.num_delivered
        try:
            event = CloudEvent.from_json(msg.data)
        except (ValidationError, ValueError) as exc:
            await self._dead_letter(msg, None, reason="unparseable", error=exc)
            return
        with event_context(event):
            attempt = 0
            while True:
                try:
                    handled = await self._handle_once(event)
                    break
                except _Outage as exc:
                    attempt += 1
                    if not await self._wait_out(exc, attempt, event_id=event.id):
                        await self._give_back([msg])  # stopping: another replica takes it
                        return
                except Exception as exc:
                    await self._on_failure(msg, event, exc, deliveries)
                    return
        if not handled:
            log.info(
                "event already handled",
                extra={"consumer": self.name, "event_id": event.id, "event_type": event.type},
            )
        await self._settle(msg, event, "ack")

    async def _handle_once(self, event: CloudEvent) -> bool:
        """Claim the inbox row, run the handler, commit: True if handled now, False if it had
        been before. Raises :class:`_Outage` for a failure of the infrastructure."""
        async with self._sessionmaker() as session:
            try:
                await session.begin()
                # Inserting the inbox row first also makes a concurrent redelivery of the
                # same event (ack_wait ran out) wait on this row and then find it handled.
                claimed = await session.execute(self._claim, {"event_ids": [event.event_id]})
                if claimed.first() is None:
                    await session.rollback()
                    return False
            except Exception as exc:
                # The consumer's own step: the handler has not run, the event is not at fault.
                raise _Outage from exc
            # An exception here leaves the block, and closing the session rolls back.
            try:
                await self._handler(session, event)
                await session.commit()
            except PermanentError:
                raise
            except Exception as exc:
                if is_outage(exc):
                    raise _Outage from exc
                raise
        return True

    async def _handle_batch_once(self, events: Sequence[CloudEvent]) -> int:
        """Claim the inbox rows of ``events`` in one statement, hand the new ones to the
        batch handler, commit: how many were new. Raises :class:`_Outage` as
        :meth:`_handle_once` does."""
        assert self._batch_handler is not None
        # Two stored copies of one event in a batch: the first one stands for both.
        unique: dict[uuid.UUID, CloudEvent] = {}
        for event in events:
            unique.setdefault(event.event_id, event)
        async with self._sessionmaker() as session:
            try:
                await session.begin()
                # In key order: two replicas claiming overlapping batches (a redelivery after
                # ack_wait) wait on each other's rows instead of deadlocking.
                claimed = await session.execute(
                    self._claim, {"event_ids": sorted(unique, key=_uuid_order)}
                )
                new = set(claimed.scalars())
            except Exception as exc:
                raise _Outage from exc
            fresh = [event for key, event in unique.items() if key in new]
            if not fresh:
                await session.rollback()
                return 0
            try:
                await self._batch_handler(session, fresh)
                await session.commit()
            except Exception as exc:
                if is_outage(exc):
                    raise _Outage from exc
                raise
        return len(fresh)

    async def _keep_alive(self, messages: Sequence[Msg]) -> None:
        # A handler slower than ack_wait, or an outage waited out, would otherwise see the
        # batch's events redelivered meanwhile (and each redelivery counted).
        interval = max(self._ack_wait / 2, 0.5)
        while True:
            await asyncio.sleep(interval)
            for msg in list(messages):
                with contextlib.suppress(Exception):
                    await msg.in_progress()

    async def _wait_out(self, exc: _Outage, attempt: int, **about: Any) -> bool:
        """Pause before trying the same delivery again; False when the consumer is stopping."""
        if self._stopping:
            return False
        delay = self._nak_delay(attempt)
        cause = exc.__cause__
        log.warning(
            "event consumer cannot reach what it needs; will retry",
            extra={
                "consumer": self.name,
                **about,
                "attempt": attempt,
                "retry_in_seconds": delay,
                "error": type(cause).__name__ if cause is not None else "unknown",
            },
        )
        await self._pause(delay)
        return not self._stopping

    async def _on_failure(
        self, msg: Msg, event: CloudEvent, exc: Exception, deliveries: int
    ) -> None:
        if isinstance(exc, PermanentError):
            await self._dead_letter(msg, event, reason="permanent", error=exc)
        elif deliveries >= self._max_deliver:
            await self._dead_letter(msg, event, reason="max_deliver", error=exc)
        else:
            delay = self._nak_delay(deliveries)
            log.warning(
                "event handler failed; will retry",
                extra={
                    "consumer": self.name,
                    "event_id": event.id,
                    "event_type": event.type,
                    "deliveries": deliveries,
                    "retry_in_seconds": delay,
                    "error": type(exc).__name__,
                },
            )
            await self._settle(msg, event, "nak", delay=delay)

    async def _dead_letter(
        self, msg: Msg, event: CloudEvent | None, *, reason: str, error: Exception
    ) -> None:
        metadata = msg.metadata
        headers = {
            key: value
            for key, value in (msg.headers or {}).items()
            # Nats-* headers steer the server (dedup id, expectations) and belong to the
            # original publish; the dead letter gets its own.
            if not key.lower().startswith("nats-")
        }
        headers.update(
            {
                # One dead letter per stored message and consumer, even if this is retried.
                "Nats-Msg-Id": f"{self.name}:{metadata.stream}:{metadata.sequence.stream}",
                DLQ_CONSUMER_HEADER: self.name,
                DLQ_REASON_HEADER: reason,
                DLQ_ERROR_HEADER: _header_value(f"{type(error).__name__}: {error}"),
                DLQ_DELIVERIES_HEADER: str(metadata.num_delivered),
                DLQ_SUBJECT_HEADER: msg.subject,
                DLQ_STREAM_HEADER: metadata.stream,
                DLQ_SEQUENCE_HEADER: str(metadata.sequence.stream),
            }
        )
        if event is not None:
            headers[DLQ_EVENT_ID_HEADER] = event.id
        log_extra: dict[str, Any] = {
            "consumer": self.name,
            "reason": reason,
            "deliveries": metadata.num_delivered,
            "stream_sequence": metadata.sequence.stream,
            "error": type(error).__name__,
        }
        if event is not None:
            log_extra.update(event_id=event.id, event_type=event.type)
        try:
            await self._connection.jetstream.publish(
                self.dead_letter_subject,
                msg.data,
                headers=headers,
                stream=DEAD_LETTER_STREAM,
                timeout=5.0,
            )
        except Exception as exc:
            # Not terminated: the event comes back after a delay and is dead-lettered then.
            log.error(
                "dead-letter publish failed; event will be redelivered",
                extra={**log_extra, "dlq_error": type(exc).__name__},
            )
            self._resubscribe = True  # re-checks the dead-letter stream too
            with contextlib.suppress(Exception):
                await msg.nak(delay=self._nak_delay(metadata.num_delivered))
            return
        log.error("event dead-lettered", extra=log_extra, exc_info=error)
        with contextlib.suppress(Exception):
            await msg.term()

    async def _settle(
        self, msg: Msg, event: CloudEvent, action: str, *, delay: float | None = None
    ) -> None:
        try:
            if action == "ack":
                await msg.ack()
            else:
                await msg.nak(delay=delay)
        except Exception as exc:
            # The broker went away: the event is redelivered after ack_wait, and the inbox
            # turns a redelivery of a handled event into a plain ack.
            log.warning(
                "event %s failed",
                action,
                extra={"consumer": self.name, "event_id": event.id, "error": type(exc).__name__},
            )


def _claim_statement(consumer: str) -> ReturningInsert[tuple[uuid.UUID]]:
    """``INSERT INTO event_inbox … SELECT <consumer>, unnest(:event_ids) ON CONFLICT DO
    NOTHING RETURNING event_id``: built once per consumer, so claiming a batch builds no
    statement (one text whatever the batch size, prepared once by the connection), and the
    rows go in the order of the array."""
    ids = ARRAY(Uuid())
    return (
        pg_insert(inbox)
        .from_select(
            ["consumer", "event_id"],
            select(
                literal(consumer, String()),
                func.unnest(cast(bindparam("event_ids", type_=ids), ids)),
            ),
        )
        .on_conflict_do_nothing()
        .returning(inbox.c.event_id)
    )


def _uuid_order(value: uuid.UUID) -> int:
    # The order of UUID's own comparison, read once per key instead of once per comparison.
    return value.int


def _header_value(text: str, limit: int = 512) -> str:
    # Header values are one line of ASCII on the wire.
    flat = " ".join(text.split())
    return flat.encode("ascii", "replace").decode("ascii")[:limit]
