"""Stopping NATS loses nothing: the relay keeps the rows and catches up when it returns."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import nats
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mpp_shared.config import BaseServiceSettings
from mpp_shared.embedded import EmbeddedNats
from mpp_shared.events import CloudEvent, NatsConnection, OutboxRelay, new_event, record_event
from mpp_shared.events.tables import outbox
from mpp_shared.testing.infrastructure import TEST_NATS_USER

Eventually = Callable[..., Awaitable[Any]]


def _relay(
    sessionmaker: async_sessionmaker[AsyncSession],
    connection: NatsConnection,
    nats_server: EmbeddedNats,
) -> OutboxRelay:
    settings = BaseServiceSettings(
        service_name="outage-test", **nats_server.settings(TEST_NATS_USER)
    )
    return OutboxRelay(sessionmaker, connection, settings=settings, poll_interval=0.2)


def _event() -> CloudEvent:
    return new_event(
        type="mpp.test.thing.happened", source="/test", subject=str(uuid.uuid4()), data={"n": 1}
    )


async def _row(sessionmaker: async_sessionmaker[AsyncSession], event: CloudEvent) -> Any:
    async with sessionmaker() as session:
        return (
            await session.execute(
                select(outbox.c.published_at, outbox.c.attempts).where(
                    outbox.c.id == event.event_id
                )
            )
        ).one()


async def _stream_ids(nats_server: EmbeddedNats) -> list[tuple[str, str]]:
    """(Nats-Msg-Id, event id) of every message in the events stream."""
    client = await nats.connect(nats_server.url, **nats_server.connect_options(TEST_NATS_USER))
    try:
        js = client.jetstream()
        state = (await js.stream_info("MPP")).state
        found = []
        for seq in range(state.first_seq, state.last_seq + 1) if state.messages else ():
            raw = await js.get_msg("MPP", seq)
            found.append(((raw.headers or {})["Nats-Msg-Id"], json.loads(raw.data or b"")["id"]))
        return found
    finally:
        await client.close()


async def test_event_written_while_nats_is_stopped_arrives_after_it_comes_back(
    sessionmaker: async_sessionmaker[AsyncSession],
    connection: NatsConnection,
    nats_server: EmbeddedNats,
    eventually: Eventually,
) -> None:
    relay = _relay(sessionmaker, connection, nats_server)
    await relay.start()
    try:
        before = _event()
        async with sessionmaker() as session, session.begin():
            await record_event(session, before)

        async def published(event: CloudEvent) -> bool:
            return (await _row(sessionmaker, event)).published_at is not None

        await eventually(lambda: published(before))

        nats_server.stop()

        async def disconnected() -> bool:
            return not connection.connected

        await eventually(disconnected)
        during = _event()
        async with sessionmaker() as session, session.begin():
            await record_event(session, during)
        await asyncio.sleep(1.0)  # several relay passes while the broker is away
        assert not await published(during)

        nats_server.start()
        await eventually(lambda: published(during), within=20.0)
        assert await _stream_ids(nats_server) == [(before.id, before.id), (during.id, during.id)]
    finally:
        await relay.stop()


async def test_service_started_while_nats_is_down_publishes_once_it_is_up(
    sessionmaker: async_sessionmaker[AsyncSession],
    nats_server: EmbeddedNats,
    eventually: Eventually,
) -> None:
    nats_server.stop()
    connection = NatsConnection(
        nats_server.url, name="late-broker", options=nats_server.connect_options(TEST_NATS_USER)
    )
    await connection.start()
    relay = _relay(sessionmaker, connection, nats_server)
    await relay.start()
    try:
        event = _event()
        async with sessionmaker() as session, session.begin():
            await record_event(session, event)
        await asyncio.sleep(0.5)
        assert (await _row(sessionmaker, event)).published_at is None

        nats_server.start()

        async def published() -> bool:
            return (await _row(sessionmaker, event)).published_at is not None

        # The relay creates the stream on the first connect: the broker had never seen it.
        await eventually(published, within=20.0)
        assert await _stream_ids(nats_server) == [(event.id, event.id)]
    finally:
        await relay.stop()
        await connection.close()
