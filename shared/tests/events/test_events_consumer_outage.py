"""A database outage never dead-letters an event: the consumer waits it out and handles the
event once; a poison event still goes to the dead-letter stream after max_deliver."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from nats.aio.client import Client
from nats.js.api import ConsumerInfo, RawStreamMsg
from nats.js.errors import NotFoundError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine as create_engine

from mpp_shared.events import (
    DEAD_LETTER_STREAM,
    DLQ_DELIVERIES_HEADER,
    DLQ_REASON_HEADER,
    CloudEvent,
    EventConsumer,
    Handler,
    NatsConnection,
    ensure_event_streams,
    new_event,
)
from mpp_shared.testing.proxy import TcpProxy

Eventually = Callable[..., Awaitable[Any]]
MakeConsumer = Callable[..., Awaitable[EventConsumer]]
NAME = "outage-test"
SUBJECT = "mpp.application.application.submitted"
ACK_WAIT = 1.0


@pytest.fixture
async def proxy(database_url: str) -> AsyncIterator[TcpProxy]:
    relay = TcpProxy.for_database(database_url)
    await relay.start()
    try:
        yield relay
    finally:
        await relay.close()


@pytest.fixture
async def consumer_sessionmaker(
    engine: AsyncEngine, database_url: str, proxy: TcpProxy
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """The consumer's database, reached through the proxy the test cuts; the test itself
    looks at the database directly (``engine``)."""
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE handled (event_id uuid NOT NULL)"))
    # As a service's engine: pre-ping, so connections that died in the outage are replaced.
    through_proxy = create_engine(proxy.database_url(database_url), pool_pre_ping=True)
    try:
        yield async_sessionmaker(through_proxy, expire_on_commit=False)
    finally:
        await through_proxy.dispose()


@pytest.fixture
async def make_consumer(
    consumer_sessionmaker: async_sessionmaker[AsyncSession], connection: NatsConnection
) -> AsyncIterator[MakeConsumer]:
    await ensure_event_streams(connection.jetstream)
    started: list[EventConsumer] = []

    async def make(handler: Handler, *, max_deliver: int) -> EventConsumer:
        consumer = EventConsumer(
            name=NAME,
            subjects=["mpp.application.>"],
            handler=handler,
            sessionmaker=consumer_sessionmaker,
            connection=connection,
            max_deliver=max_deliver,
            ack_wait=ACK_WAIT,
            nak_delay=lambda attempt: 0.1,
            fetch_timeout=1.0,
        )
        await consumer.start()
        started.append(consumer)
        return consumer

    try:
        yield make
    finally:
        for consumer in started:
            await consumer.stop()


async def record_handling(session: AsyncSession, event: CloudEvent) -> None:
    await session.execute(text("INSERT INTO handled VALUES (:id)"), {"id": event.event_id})


def _event() -> CloudEvent:
    return new_event(type=SUBJECT, source="/application", subject=str(uuid.uuid4()), data={})


async def _publish(observer: Client, event: CloudEvent) -> None:
    await observer.jetstream().publish(
        event.nats_subject, event.to_json(), headers={"Nats-Msg-Id": event.id}
    )


async def _handled(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(text("SELECT count(*) FROM handled")) or 0)


async def _info(observer: Client) -> ConsumerInfo | None:
    try:
        info: ConsumerInfo = await observer.jetstream().consumer_info("MPP", NAME)
    except NotFoundError:
        return None
    return info


async def _deliveries(observer: Client) -> int:
    """How many times the server handed the consumer a message, redeliveries included."""
    info = await _info(observer)
    return info.delivered.consumer_seq if info is not None and info.delivered else 0


async def _settled(observer: Client) -> bool:
    info = await _info(observer)
    return (
        info is not None
        and info.delivered is not None
        and info.delivered.stream_seq >= 1
        and info.num_pending == 0
        and info.num_ack_pending == 0
    )


async def _dead_letters(observer: Client) -> list[RawStreamMsg]:
    js = observer.jetstream()
    state = (await js.stream_info(DEAD_LETTER_STREAM)).state
    if not state.messages:
        return []
    return [await js.get_msg(DEAD_LETTER_STREAM, seq) for seq in range(1, state.last_seq + 1)]


async def test_event_arriving_in_an_outage_is_handled_once_after_it_and_never_dead_lettered(
    make_consumer: MakeConsumer,
    engine: AsyncEngine,
    proxy: TcpProxy,
    observer: Client,
    eventually: Eventually,
) -> None:
    await make_consumer(record_handling, max_deliver=1)
    await proxy.cut()
    event = _event()
    await _publish(observer, event)

    await eventually(lambda: _deliveries(observer))
    await asyncio.sleep(4 * ACK_WAIT)  # the outage outlasts ack_wait and many retries
    assert await _deliveries(observer) == 1  # kept in progress, never redelivered
    assert await _dead_letters(observer) == []
    assert await _handled(engine) == 0

    await proxy.restore()
    assert await eventually(lambda: _handled(engine)) == 1
    await eventually(lambda: _settled(observer))
    assert await _deliveries(observer) == 1
    assert await _dead_letters(observer) == []
    await asyncio.sleep(2 * ACK_WAIT)
    assert await _handled(engine) == 1


async def test_connection_lost_before_the_commit_is_waited_out_not_dead_lettered(
    make_consumer: MakeConsumer,
    engine: AsyncEngine,
    proxy: TcpProxy,
    observer: Client,
    eventually: Eventually,
) -> None:
    calls: list[str] = []

    async def handler(session: AsyncSession, event: CloudEvent) -> None:
        calls.append(event.id)
        await record_handling(session, event)
        if len(calls) == 1:
            # The database goes away between the handler's work and the commit.
            await proxy.cut()
            asyncio.get_running_loop().call_later(
                3 * ACK_WAIT, lambda: asyncio.ensure_future(proxy.restore())
            )

    # max_deliver=1: one counted failure would dead-letter the event at once.
    await make_consumer(handler, max_deliver=1)
    event = _event()
    await _publish(observer, event)

    assert await eventually(lambda: _handled(engine), within=20) == 1
    await eventually(lambda: _settled(observer))
    assert calls == [event.id, event.id]
    assert await _deliveries(observer) == 1
    assert await _dead_letters(observer) == []


async def test_poison_event_still_dead_letters_after_max_deliver_an_outage_spent_nothing(
    make_consumer: MakeConsumer,
    proxy: TcpProxy,
    observer: Client,
    eventually: Eventually,
) -> None:
    attempts: list[str] = []

    async def handler(session: AsyncSession, event: CloudEvent) -> None:
        attempts.append(event.id)
        raise RuntimeError("cannot handle this one")

    await make_consumer(handler, max_deliver=2)
    await proxy.cut()
    await _publish(observer, _event())
    await eventually(lambda: _deliveries(observer))
    await asyncio.sleep(3 * ACK_WAIT)
    assert attempts == []  # the handler never ran against an unreachable database
    await proxy.restore()

    async def one_dead_letter() -> list[RawStreamMsg]:
        return await _dead_letters(observer)

    [dead] = await eventually(one_dead_letter, within=20)
    headers = dead.headers or {}
    assert headers[DLQ_REASON_HEADER] == "max_deliver"
    assert headers[DLQ_DELIVERIES_HEADER] == "2"
    assert len(attempts) == 2
