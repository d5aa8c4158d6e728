"""The outbox and its relay: what commits is published once, what rolls back never is."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest
from nats.aio.client import Client
from nats.js.api import StorageType
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mpp_shared.config import BaseServiceSettings
from mpp_shared.embedded import EmbeddedNats
from mpp_shared.events import (
    CloudEvent,
    NatsConnection,
    OutboxRelay,
    new_event,
    record_event,
)
from mpp_shared.events.tables import outbox
from mpp_shared.observability.context import request_id_var
from mpp_shared.testing.infrastructure import TEST_NATS_USER

STREAM = "MPP"

Eventually = Callable[..., Awaitable[Any]]


def _settings(nats_server: EmbeddedNats, window: float = 120.0) -> BaseServiceSettings:
    return BaseServiceSettings(
        service_name="outbox-test",
        events_duplicate_window_seconds=window,
        **nats_server.settings(TEST_NATS_USER),
    )


@pytest.fixture
async def relay(
    sessionmaker: async_sessionmaker[AsyncSession],
    connection: NatsConnection,
    nats_server: EmbeddedNats,
) -> AsyncIterator[OutboxRelay]:
    worker = OutboxRelay(
        sessionmaker, connection, settings=_settings(nats_server), poll_interval=0.2
    )
    await worker.start()
    try:
        yield worker
    finally:
        await worker.stop()


def _event(entity: str = "thing", verb: str = "happened", **data: Any) -> CloudEvent:
    return new_event(
        type=f"mpp.test.{entity}.{verb}",
        source="/test",
        subject=str(uuid.uuid4()),
        data=data or {"n": 1},
    )


async def _published_at(sessionmaker: async_sessionmaker[AsyncSession], event_id: str) -> Any:
    async with sessionmaker() as session:
        return await session.scalar(
            select(outbox.c.published_at).where(outbox.c.id == uuid.UUID(event_id))
        )


async def _stream_messages(observer: Client) -> list[tuple[dict[str, str], dict[str, Any]]]:
    js = observer.jetstream()
    state = (await js.stream_info(STREAM)).state
    messages = []
    for seq in range(state.first_seq, state.last_seq + 1) if state.messages else ():
        raw = await js.get_msg(STREAM, seq)
        messages.append((dict(raw.headers or {}), json.loads(raw.data or b"{}")))
    return messages


async def test_committed_event_is_published_with_its_id_and_marked_published(
    relay: OutboxRelay,
    sessionmaker: async_sessionmaker[AsyncSession],
    observer: Client,
    eventually: Eventually,
) -> None:
    token = request_id_var.set("req-outbox-1")
    try:
        event = _event(answer=42)
    finally:
        request_id_var.reset(token)
    async with sessionmaker() as session, session.begin():
        await record_event(session, event)

    await eventually(lambda: _published_at(sessionmaker, event.id))
    [(headers, body)] = await _stream_messages(observer)
    assert headers["Nats-Msg-Id"] == event.id
    assert headers["Content-Type"] == "application/cloudevents+json"
    assert CloudEvent.model_validate(body) == event
    assert body["correlationid"] == "req-outbox-1"
    async with sessionmaker() as session:
        attempts = await session.scalar(select(outbox.c.attempts))
    assert attempts == 0


async def test_event_of_a_rolled_back_transaction_is_never_published(
    relay: OutboxRelay,
    sessionmaker: async_sessionmaker[AsyncSession],
    observer: Client,
    eventually: Eventually,
) -> None:
    rolled_back = _event(verb="abandoned")
    async with sessionmaker() as session:
        await record_event(session, rolled_back)
        await session.rollback()
    # A later committed event: once it is out, the relay has had its chance at the first.
    committed = _event(verb="kept")
    async with sessionmaker() as session, session.begin():
        await record_event(session, committed)

    await eventually(lambda: _published_at(sessionmaker, committed.id))
    messages = await _stream_messages(observer)
    assert [body["id"] for _, body in messages] == [committed.id]
    async with sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(outbox)) == 1


async def test_relay_wakes_on_commit_without_waiting_for_its_poll(
    sessionmaker: async_sessionmaker[AsyncSession],
    connection: NatsConnection,
    nats_server: EmbeddedNats,
    eventually: Eventually,
) -> None:
    relay = OutboxRelay(
        sessionmaker, connection, settings=_settings(nats_server), poll_interval=60.0
    )
    await relay.start()
    try:

        async def listening() -> bool:
            return relay.listening

        await eventually(listening)
        event = _event()
        async with sessionmaker() as session, session.begin():
            await record_event(session, event)
        # Far less than the 60 s poll: only the NOTIFY can have woken it.
        await eventually(lambda: _published_at(sessionmaker, event.id), within=5.0)
    finally:
        await relay.stop()


async def test_events_of_one_transaction_are_published_in_the_order_recorded(
    relay: OutboxRelay,
    sessionmaker: async_sessionmaker[AsyncSession],
    observer: Client,
    eventually: Eventually,
) -> None:
    events = [_event(n=n) for n in range(20)]
    async with sessionmaker() as session, session.begin():
        for event in events:
            await record_event(session, event)

    await eventually(lambda: _published_at(sessionmaker, events[-1].id))
    messages = await _stream_messages(observer)
    assert [body["id"] for _, body in messages] == [event.id for event in events]


async def test_republishing_an_event_inside_the_duplicate_window_stores_it_once(
    relay: OutboxRelay,
    sessionmaker: async_sessionmaker[AsyncSession],
    observer: Client,
    eventually: Eventually,
) -> None:
    event = _event()
    async with sessionmaker() as session, session.begin():
        await record_event(session, event)
    await eventually(lambda: _published_at(sessionmaker, event.id))

    # As if the relay had lost the ack (or its commit) and must publish the row again.
    async with sessionmaker() as session, session.begin():
        await session.execute(update(outbox).values(published_at=None))
    relay.wake()
    await eventually(lambda: _published_at(sessionmaker, event.id))

    messages = await _stream_messages(observer)
    assert [body["id"] for _, body in messages] == [event.id]


async def test_stream_has_the_configured_duplicate_window(
    relay: OutboxRelay,
    observer: Client,
    sessionmaker: async_sessionmaker[AsyncSession],
    eventually: Eventually,
) -> None:
    event = _event()
    async with sessionmaker() as session, session.begin():
        await record_event(session, event)
    await eventually(lambda: _published_at(sessionmaker, event.id))

    info = await observer.jetstream().stream_info(STREAM)
    assert info.config.duplicate_window == pytest.approx(120.0)
    assert info.config.subjects == ["mpp.>"]
    assert info.config.storage == StorageType.FILE


async def test_failed_publish_is_recorded_and_retried_until_it_succeeds(
    relay: OutboxRelay,
    sessionmaker: async_sessionmaker[AsyncSession],
    observer: Client,
    eventually: Eventually,
) -> None:
    first = _event()
    async with sessionmaker() as session, session.begin():
        await record_event(session, first)
    await eventually(lambda: _published_at(sessionmaker, first.id))
    # An operator deletes the stream under the running relay: its next publish fails.
    await observer.jetstream().delete_stream(STREAM)

    second = _event()
    async with sessionmaker() as session, session.begin():
        await record_event(session, second)

    async def failure_recorded() -> Any:
        async with sessionmaker() as session:
            return (
                await session.execute(
                    select(outbox.c.attempts, outbox.c.last_error).where(
                        outbox.c.id == uuid.UUID(second.id), outbox.c.attempts > 0
                    )
                )
            ).first()

    attempts, last_error = await eventually(failure_recorded)
    assert attempts >= 1
    assert last_error
    # The relay recreates the stream and publishes the row after its backoff.
    await eventually(lambda: _published_at(sessionmaker, second.id))
    messages = await _stream_messages(observer)
    assert [body["id"] for _, body in messages] == [second.id]


async def test_purge_deletes_only_rows_published_long_ago(
    relay: OutboxRelay,
    sessionmaker: async_sessionmaker[AsyncSession],
    eventually: Eventually,
) -> None:
    old, recent = _event(), _event()
    async with sessionmaker() as session, session.begin():
        await record_event(session, old)
        await record_event(session, recent)
    await eventually(lambda: _published_at(sessionmaker, recent.id))
    async with sessionmaker() as session, session.begin():
        await session.execute(
            update(outbox)
            .where(outbox.c.id == uuid.UUID(old.id))
            .values(published_at=func.now() - timedelta(days=8))
        )

    assert await relay.purge_published(older_than=timedelta(days=7)) == 1
    async with sessionmaker() as session:
        remaining = (await session.scalars(select(outbox.c.id))).all()
    assert remaining == [uuid.UUID(recent.id)]
