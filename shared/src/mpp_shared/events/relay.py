"""The outbox relay: publishes committed outbox rows to JetStream, at least once, in order."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from nats.js import JetStreamContext
from sqlalchemy import CursorResult, bindparam, delete, func, select, update
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool

from mpp_shared.config import BaseServiceSettings
from mpp_shared.events.connection import NatsConnection
from mpp_shared.events.outbox import OUTBOX_CHANNEL
from mpp_shared.events.stream import ensure_event_streams
from mpp_shared.events.tables import outbox
from mpp_shared.tasks import cancel_and_wait

log = logging.getLogger(__name__)

# CloudEvents NATS binding: the content type of a structured-mode message.
CLOUDEVENTS_CONTENT_TYPE = "application/cloudevents+json"


# The rows of a batch the broker took. An expanding IN: one statement per batch size, each
# compiled once.
_MARK_PUBLISHED = (
    update(outbox)
    .where(outbox.c.id.in_(bindparam("ids", expanding=True)))
    .values(published_at=func.clock_timestamp(), last_error=None)
)


@dataclass(frozen=True, slots=True)
class _Pending:
    id: uuid.UUID
    subject: str
    envelope: dict[str, Any]
    attempts: int


class OutboxRelay:
    """A worker (start/stop) that moves outbox rows to JetStream.

    Wakes on ``NOTIFY mpp_outbox`` (sent by :func:`record_event` on commit) and otherwise polls
    every ``poll_interval`` seconds. Rows are claimed with ``FOR UPDATE SKIP LOCKED`` so any
    number of replicas share the work; a row is marked published only after JetStream's ack,
    and the event id travels as ``Nats-Msg-Id`` so a republish after a lost ack is dropped by
    the server within the stream's duplicate window.

    One relay publishes rows in the order they were recorded and stops a batch at the first
    failure, so a later event of an entity never overtakes an earlier one. Replicas each take
    their own batch, so across replicas the order holds only between batches' heads.
    """

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        connection: NatsConnection,
        *,
        settings: BaseServiceSettings,
        batch_size: int = 100,
        poll_interval: float = 1.0,
        publish_timeout: float = 5.0,
        max_backoff: float = 60.0,
        keep_published: timedelta | None = timedelta(days=7),
        purge_interval: float = 3600.0,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._connection = connection
        self._stream = settings.events_stream
        self._duplicate_window = settings.events_duplicate_window_seconds
        self._name = settings.service_name
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._publish_timeout = publish_timeout
        self._max_backoff = max_backoff
        self._keep_published = keep_published
        self._purge_interval = purge_interval
        # Built once, as every statement of a pass (only the values change).
        self._due = (
            select(outbox.c.id, outbox.c.subject, outbox.c.envelope, outbox.c.attempts)
            .where(
                outbox.c.published_at.is_(None),
                outbox.c.next_attempt_at <= func.now(),
            )
            .order_by(outbox.c.created_at, outbox.c.id)
            .limit(batch_size)
            .with_for_update(skip_locked=True)
        )
        self._wake = asyncio.Event()
        # Both set by every (re)connect; worked off by the relay's own task, not in the
        # NATS client's callback, so a slow JetStream API call never stalls the client.
        self._streams_ready = False
        self._broker_returned = False
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._listen_task: asyncio.Task[None] | None = None
        self._listening = False
        self._registered = False

    @property
    def listening(self) -> bool:
        """Whether the LISTEN connection is up (otherwise the relay only polls)."""
        return self._listening

    async def start(self) -> None:
        self._stopping = False
        if not self._registered:
            self._connection.on_connect(self._on_nats_connect)
            self._registered = True
        self._task = asyncio.create_task(self._run(), name=f"outbox-relay:{self._name}")
        engine = self._sessionmaker.kw.get("bind")
        if isinstance(engine, AsyncEngine):
            self._listen_task = asyncio.create_task(
                self._listen_forever(engine), name=f"outbox-listen:{self._name}"
            )
        else:
            log.warning("outbox relay has no engine to LISTEN on; polling only")

    async def stop(self) -> None:
        """Let the batch in flight finish (its acks are recorded), then return."""
        self._stopping = True
        self._wake.set()
        listen_task, self._listen_task = self._listen_task, None
        await cancel_and_wait(listen_task)
        if self._task is not None:
            await self._task
            self._task = None

    def wake(self) -> None:
        """Publish due rows now instead of at the next poll."""
        self._wake.set()

    async def _on_nats_connect(self, connection: NatsConnection) -> None:
        self._streams_ready = False
        self._broker_returned = True
        self._wake.set()

    async def _run(self) -> None:
        last_purge = time.monotonic()
        failures = 0
        while not self._stopping:
            self._wake.clear()
            full_batch = False
            try:
                full_batch = await self.relay_once() >= self._batch_size
                failures = 0
            except Exception as exc:
                # Typically the database is away; back off so that a long outage is neither
                # a busy loop nor a traceback a second in the logs.
                failures += 1
                log.warning(
                    "outbox relay pass failed",
                    extra={"error": f"{type(exc).__name__}: {exc}", "failures": failures},
                    exc_info=failures == 1,
                )
            if self._keep_published is not None and (
                time.monotonic() - last_purge >= self._purge_interval
            ):
                last_purge = time.monotonic()
                try:
                    await self.purge_published(older_than=self._keep_published)
                except Exception:
                    log.exception("outbox purge failed")
            if full_batch or self._stopping:
                continue  # more rows may be waiting: go again without sleeping
            pause = self._poll_interval * 2 ** min(failures, 5) if failures else self._poll_interval
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), min(pause, 30.0))

    async def relay_once(self) -> int:
        """Publish one batch of due rows; returns how many were published.

        Does nothing while NATS is away: the rows wait, untouched, for the broker to return.
        """
        if not self._connection.connected:
            return 0
        js = self._connection.jetstream
        if not self._streams_ready:
            await ensure_event_streams(
                js,
                name=self._stream,
                duplicate_window_seconds=self._duplicate_window,
                replicas=self._connection.stream_replicas,
            )
            self._streams_ready = True
        if self._broker_returned:
            self._broker_returned = False
            await self._release_backoff()
        return await self._publish_batch(js)

    async def _release_backoff(self) -> None:
        # Rows that failed while the broker was going away would otherwise sit out their
        # backoff (up to max_backoff) although the broker is back now.
        async with self._sessionmaker() as session, session.begin():
            await session.execute(
                update(outbox)
                .where(outbox.c.published_at.is_(None), outbox.c.next_attempt_at > func.now())
                .values(next_attempt_at=func.now())
            )

    async def _publish_batch(self, js: JetStreamContext) -> int:
        async with self._sessionmaker() as session, session.begin():
            result = await session.execute(self._due)
            rows = [_Pending(*row) for row in result.all()]
            published: list[uuid.UUID] = []
            for row in rows:
                try:
                    await self._publish(js, row)
                except Exception as exc:
                    # Stop at the first failure: later events of the same entity must not
                    # overtake this one while the broker is failing.
                    await self._record_failure(session, row, exc)
                    # The stream may be what is missing (deleted, or a broker with an empty
                    # store): check it again before the next attempt.
                    self._streams_ready = False
                    break
                published.append(row.id)
            if published:
                await session.execute(_MARK_PUBLISHED, {"ids": published})
        if published:
            log.debug("outbox rows published", extra={"count": len(published)})
        return len(published)

    async def _publish(self, js: JetStreamContext, row: _Pending) -> None:
        body = json.dumps(row.envelope, separators=(",", ":"), ensure_ascii=False).encode()
        ack = await js.publish(
            row.subject,
            body,
            timeout=self._publish_timeout,
            stream=self._stream,
            headers={"Nats-Msg-Id": str(row.id), "Content-Type": CLOUDEVENTS_CONTENT_TYPE},
        )
        if ack.duplicate:
            # An earlier attempt was stored but its ack (or our commit) was lost.
            log.info("event was already in the stream", extra={"event_id": str(row.id)})

    async def _record_failure(self, session: AsyncSession, row: _Pending, exc: Exception) -> None:
        attempts = int(row.attempts) + 1
        delay = min(self._max_backoff, 0.5 * 2 ** min(attempts - 1, 16))
        log.warning(
            "event not published, will retry",
            extra={
                "event_id": str(row.id),
                "event_type": row.subject,
                "attempts": attempts,
                "retry_in_seconds": delay,
                "error": type(exc).__name__,
            },
        )
        await session.execute(
            update(outbox)
            .where(outbox.c.id == row.id)
            .values(
                attempts=attempts,
                last_error=f"{type(exc).__name__}: {exc}"[:1000],
                next_attempt_at=func.clock_timestamp() + timedelta(seconds=delay),
            )
        )

    async def purge_published(self, *, older_than: timedelta) -> int:
        """Delete rows published more than ``older_than`` ago; returns how many.

        Harmless when several replicas run it at once: each row is deleted once.
        """
        async with self._sessionmaker() as session, session.begin():
            result = await session.execute(
                delete(outbox).where(
                    outbox.c.published_at.is_not(None),
                    outbox.c.published_at < func.now() - older_than,
                )
            )
        count = result.rowcount if isinstance(result, CursorResult) else 0
        if count:
            log.info("published outbox rows purged", extra={"count": count})
        return count

    async def _listen_forever(self, engine: AsyncEngine) -> None:
        # A connection of its own, outside the pool: it is held for the relay's lifetime and a
        # pooled connection would carry the LISTEN to whoever borrows it next.
        listen_engine = create_async_engine(
            engine.url,
            poolclass=NullPool,
            connect_args={"server_settings": {"application_name": f"{self._name}-outbox"}},
        )
        delay = 0.5
        try:
            while not self._stopping:
                try:
                    await self._listen(listen_engine)
                    delay = 0.5
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.warning(
                        "outbox LISTEN connection lost; polling meanwhile",
                        extra={"error": type(exc).__name__},
                    )
                finally:
                    self._listening = False
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
        finally:
            await listen_engine.dispose()

    async def _listen(self, listen_engine: AsyncEngine) -> None:
        async with listen_engine.connect() as conn:
            raw = await conn.get_raw_connection()
            # The asyncpg connection itself: LISTEN must run outside SQLAlchemy's transaction,
            # which would hold the notifications back until it ended.
            driver: Any = raw.driver_connection
            lost = asyncio.Event()

            def on_notify(*_: object) -> None:
                self._wake.set()

            driver.add_termination_listener(lambda *_: lost.set())
            await driver.add_listener(OUTBOX_CHANNEL, on_notify)
            self._listening = True
            # Events committed while nobody listened are due now.
            self._wake.set()
            while not lost.is_set():
                try:
                    await asyncio.wait_for(lost.wait(), 30.0)
                except TimeoutError:
                    # A connection that died silently (no FIN) is only noticed by using it.
                    await asyncio.wait_for(driver.fetchval("SELECT 1"), 10.0)
            raise ConnectionError("LISTEN connection terminated")
