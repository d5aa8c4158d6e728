"""Idempotent consumers: each event changes state once, poison goes to the dead-letter stream."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import ConsumerInfo, RawStreamMsg
from nats.js.errors import NotFoundError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from mpp_shared.embedded import EmbeddedNats
from mpp_shared.events import (
    DEAD_LETTER_STREAM,
    DLQ_CONSUMER_HEADER,
    DLQ_DELIVERIES_HEADER,
    DLQ_ERROR_HEADER,
    DLQ_EVENT_ID_HEADER,
    DLQ_REASON_HEADER,
    DLQ_SUBJECT_HEADER,
    CloudEvent,
    EventConsumer,
    Handler,
    NatsConnection,
    PermanentError,
    ensure_event_streams,
    new_event,
)
from mpp_shared.observability.context import request_id_var

Eventually = Callable[..., Awaitable[Any]]
MakeConsumer = Callable[..., Awaitable[EventConsumer]]
NAME = "tracking-timeline"
SUBJECT = "mpp.application.application.submitted"


@pytest.fixture
async def handled_table(engine: AsyncEngine) -> None:
    # Deliberately without a unique key: a second handling would show as a second row.
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE handled (event_id uuid NOT NULL, note text)"))


@pytest.fixture
async def make_consumer(
    sessionmaker: async_sessionmaker[AsyncSession],
    connection: NatsConnection,
    handled_table: None,
) -> AsyncIterator[MakeConsumer]:
    await ensure_event_streams(connection.jetstream)
    started: list[EventConsumer] = []

    async def make(handler: Handler, **options: Any) -> EventConsumer:
        settings: dict[str, Any] = {
            "name": NAME,
            "subjects": ["mpp.application.>"],
            "max_deliver": 3,
            "ack_wait": 2.0,
            "nak_delay": lambda deliveries: 0.1,
            "fetch_timeout": 1.0,
        } | options
        consumer = EventConsumer(
            handler=handler, sessionmaker=sessionmaker, connection=connection, **settings
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
    await session.execute(
        text("INSERT INTO handled (event_id, note) VALUES (:id, :note)"),
        {"id": event.event_id, "note": event.data.get("note")},
    )


def _event(**data: Any) -> CloudEvent:
    return new_event(
        type=SUBJECT, source="/application", subject=str(uuid.uuid4()), data=data or {"n": 1}
    )


async def _publish(observer: Client, event: CloudEvent, *, msg_id: str | None = None) -> None:
    await observer.jetstream().publish(
        event.nats_subject, event.to_json(), headers={"Nats-Msg-Id": msg_id or event.id}
    )


async def _count(sessionmaker: async_sessionmaker[AsyncSession], sql: str, **params: Any) -> int:
    async with sessionmaker() as session:
        return int(await session.scalar(text(sql), params) or 0)


async def _consumer_info(observer: Client) -> ConsumerInfo | None:
    try:
        info: ConsumerInfo = await observer.jetstream().consumer_info("MPP", NAME)
    except NotFoundError:
        return None  # the consumer task has not created it yet
    return info


async def _idle(observer: Client, *, delivered: int) -> bool:
    """The consumer has been handed ``delivered`` stream messages and settled all of them."""
    info = await _consumer_info(observer)
    return (
        info is not None
        and info.delivered is not None
        and info.delivered.stream_seq >= delivered
        and info.num_pending == 0
        and info.num_ack_pending == 0
        and info.num_redelivered == 0
    )


async def _dead_letters(observer: Client) -> list[RawStreamMsg]:
    js = observer.jetstream()
    state = (await js.stream_info(DEAD_LETTER_STREAM)).state
    if not state.messages:
        return []
    return [await js.get_msg(DEAD_LETTER_STREAM, seq) for seq in range(1, state.last_seq + 1)]


async def test_event_delivered_twice_is_handled_once(
    make_consumer: MakeConsumer,
    sessionmaker: async_sessionmaker[AsyncSession],
    observer: Client,
    eventually: Eventually,
) -> None:
    event = _event()
    # Two stored copies of one event: a publisher that retried after the duplicate window.
    await _publish(observer, event, msg_id=f"{event.id}-first")
    await _publish(observer, event, msg_id=f"{event.id}-again")
    calls: list[str] = []

    async def handler(session: AsyncSession, event: CloudEvent) -> None:
        calls.append(event.id)
        await record_handling(session, event)

    await make_consumer(handler)

    await eventually(lambda: _idle(observer, delivered=2))
    assert calls == [event.id]
    assert await _count(sessionmaker, "SELECT count(*) FROM handled") == 1
    assert await _count(sessionmaker, "SELECT count(*) FROM event_inbox") == 1


async def test_redelivery_after_a_lost_ack_changes_nothing(
    make_consumer: MakeConsumer,
    sessionmaker: async_sessionmaker[AsyncSession],
    observer: Client,
    eventually: Eventually,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The process "dies" between its commit and its ack: the first ack never reaches NATS.
    real_ack = Msg.ack
    acks: list[int] = []

    async def lossy_ack(msg: Msg) -> None:
        acks.append(msg.metadata.num_delivered)
        if len(acks) > 1:
            await real_ack(msg)

    monkeypatch.setattr(Msg, "ack", lossy_ack)
    calls: list[str] = []

    async def handler(session: AsyncSession, event: CloudEvent) -> None:
        calls.append(event.id)
        await record_handling(session, event)

    await make_consumer(handler, ack_wait=1.0)
    event = _event()
    await _publish(observer, event)

    async def acked_on_redelivery() -> bool:
        info = await _consumer_info(observer)
        return (
            acks == [1, 2]
            and info is not None
            and info.num_ack_pending == 0
            and info.num_pending == 0
        )

    await eventually(acked_on_redelivery)
    assert calls == [event.id]
    assert await _count(sessionmaker, "SELECT count(*) FROM handled") == 1


async def test_poison_event_is_dead_lettered_and_the_consumer_keeps_going(
    make_consumer: MakeConsumer,
    sessionmaker: async_sessionmaker[AsyncSession],
    observer: Client,
    eventually: Eventually,
) -> None:
    poison, good = _event(note="poison"), _event(note="good")
    attempts: list[int] = []

    async def handler(session: AsyncSession, event: CloudEvent) -> None:
        await record_handling(session, event)  # rolled back with the failure
        if event.data["note"] == "poison":
            attempts.append(1)
            raise RuntimeError("cannot handle this one")

    await make_consumer(handler, max_deliver=3)
    await _publish(observer, poison)
    await _publish(observer, good)

    async def one_dead_letter() -> list[RawStreamMsg]:
        return await _dead_letters(observer)

    [dead] = await eventually(one_dead_letter)
    headers = dead.headers or {}
    assert dead.subject == f"dlq.mpp.{NAME}"
    assert CloudEvent.from_json(dead.data or b"") == poison
    assert headers[DLQ_CONSUMER_HEADER] == NAME
    assert headers[DLQ_REASON_HEADER] == "max_deliver"
    assert headers[DLQ_DELIVERIES_HEADER] == "3"
    assert headers[DLQ_ERROR_HEADER] == "RuntimeError: cannot handle this one"
    assert headers[DLQ_SUBJECT_HEADER] == SUBJECT
    assert headers[DLQ_EVENT_ID_HEADER] == poison.id
    assert len(attempts) == 3

    await eventually(lambda: _idle_after_term(observer))
    async with sessionmaker() as session:
        notes = (await session.scalars(text("SELECT note FROM handled"))).all()
    assert notes == ["good"]
    # Terminated: the poison event is not delivered again.
    await asyncio.sleep(0.5)
    assert len(attempts) == 3


async def _idle_after_term(observer: Client) -> bool:
    info = await _consumer_info(observer)
    return info is not None and info.num_pending == 0 and info.num_ack_pending == 0


async def test_permanent_error_is_dead_lettered_without_retries(
    make_consumer: MakeConsumer, observer: Client, eventually: Eventually
) -> None:
    calls: list[str] = []

    async def handler(session: AsyncSession, event: CloudEvent) -> None:
        calls.append(event.id)
        raise PermanentError("service version unknown")

    await make_consumer(handler, max_deliver=5)
    event = _event()
    await _publish(observer, event)

    async def one_dead_letter() -> list[RawStreamMsg]:
        return await _dead_letters(observer)

    [dead] = await eventually(one_dead_letter)
    headers = dead.headers or {}
    assert headers[DLQ_REASON_HEADER] == "permanent"
    assert headers[DLQ_DELIVERIES_HEADER] == "1"
    assert calls == [event.id]


async def test_unparseable_message_is_dead_lettered_at_once(
    make_consumer: MakeConsumer, observer: Client, eventually: Eventually
) -> None:
    calls: list[str] = []

    async def handler(session: AsyncSession, event: CloudEvent) -> None:
        calls.append(event.id)

    await make_consumer(handler)
    await observer.jetstream().publish(SUBJECT, b"{not json")
    good = _event()
    await _publish(observer, good)

    async def one_dead_letter() -> list[RawStreamMsg]:
        return await _dead_letters(observer)

    [dead] = await eventually(one_dead_letter)
    headers = dead.headers or {}
    assert dead.data == b"{not json"
    assert headers[DLQ_REASON_HEADER] == "unparseable"
    assert DLQ_EVENT_ID_HEADER not in headers
    await eventually(lambda: _idle(observer, delivered=2))
    assert calls == [good.id]


async def test_passing_error_is_retried_and_the_event_handled_once(
    make_consumer: MakeConsumer,
    sessionmaker: async_sessionmaker[AsyncSession],
    observer: Client,
    eventually: Eventually,
) -> None:
    failures = 1
    calls: list[str] = []

    async def handler(session: AsyncSession, event: CloudEvent) -> None:
        nonlocal failures
        calls.append(event.id)
        await record_handling(session, event)
        if failures:
            failures -= 1
            raise ConnectionError("agency system briefly unreachable")

    await make_consumer(handler)
    event = _event()
    await _publish(observer, event)

    async def handled() -> int:
        return await _count(sessionmaker, "SELECT count(*) FROM handled")

    await eventually(handled)
    await eventually(lambda: _idle_after_term(observer))
    assert calls == [event.id, event.id]
    assert await handled() == 1
    assert await _dead_letters(observer) == []


async def test_handler_runs_with_the_events_correlation_id(
    make_consumer: MakeConsumer, observer: Client, eventually: Eventually
) -> None:
    seen: list[str | None] = []

    async def handler(session: AsyncSession, event: CloudEvent) -> None:
        # What the handler logs, and any event it records, carries the original request id.
        seen.append(request_id_var.get())

    await make_consumer(handler)
    token = request_id_var.set("req-citizen-42")
    try:
        event = _event()
    finally:
        request_id_var.reset(token)
    await _publish(observer, event)

    async def called() -> list[str | None]:
        return seen

    assert await eventually(called) == ["req-citizen-42"]


async def test_consumer_keeps_going_after_nats_restarts(
    make_consumer: MakeConsumer,
    sessionmaker: async_sessionmaker[AsyncSession],
    connection: NatsConnection,
    nats_server: EmbeddedNats,
    observer: Client,
    eventually: Eventually,
) -> None:
    await make_consumer(record_handling)
    before = _event()
    await _publish(observer, before)

    async def handled() -> int:
        return await _count(sessionmaker, "SELECT count(*) FROM handled")

    await eventually(handled)

    nats_server.stop()

    async def disconnected() -> bool:
        return not connection.connected

    await eventually(disconnected)
    nats_server.start()

    async def reconnected() -> bool:
        return connection.connected and observer.is_connected

    await eventually(reconnected, within=20.0)
    after = _event()
    await _publish(observer, after)

    async def both_handled() -> bool:
        return await handled() == 2

    await eventually(both_handled, within=20.0)


async def test_stop_finishes_the_event_in_flight(
    make_consumer: MakeConsumer,
    sessionmaker: async_sessionmaker[AsyncSession],
    observer: Client,
    eventually: Eventually,
) -> None:
    started = asyncio.Event()

    async def slow_handler(session: AsyncSession, event: CloudEvent) -> None:
        started.set()
        await asyncio.sleep(0.5)
        await record_handling(session, event)

    consumer = await make_consumer(slow_handler)
    await _publish(observer, _event())
    await asyncio.wait_for(started.wait(), 10)

    await consumer.stop()

    assert await _count(sessionmaker, "SELECT count(*) FROM handled") == 1
    info = await observer.jetstream().consumer_info("MPP", NAME)
    assert info.num_ack_pending == 0
    assert info.num_pending == 0


async def test_dead_letter_stream_is_apart_from_the_events_stream(
    make_consumer: MakeConsumer, observer: Client, eventually: Eventually
) -> None:
    async def handler(session: AsyncSession, event: CloudEvent) -> None:
        raise PermanentError("no")

    await make_consumer(handler, subjects=["mpp.>"])
    await _publish(observer, _event())

    async def one_dead_letter() -> list[RawStreamMsg]:
        return await _dead_letters(observer)

    await eventually(one_dead_letter)
    js = observer.jetstream()
    events = await js.stream_info("MPP")
    # A consumer of everything under mpp.> never sees a dead letter as an event.
    assert events.state.messages == 1
    assert (await js.stream_info(DEAD_LETTER_STREAM)).config.subjects == ["dlq.mpp.>"]
    body = json.loads((await js.get_msg(DEAD_LETTER_STREAM, 1)).data or b"")
    assert body["type"] == SUBJECT


async def test_database_outage_is_retried_and_never_dead_letters_the_event(
    make_consumer: MakeConsumer,
    engine: AsyncEngine,
    sessionmaker: async_sessionmaker[AsyncSession],
    observer: Client,
    eventually: Eventually,
) -> None:
    # The inbox missing stands in for a database that fails before the handler runs.
    async with engine.begin() as conn:
        await conn.execute(text("ALTER TABLE event_inbox RENAME TO event_inbox_away"))
    await make_consumer(record_handling, max_deliver=2)
    event = _event()
    await _publish(observer, event)

    async def delivered() -> bool:
        info = await _consumer_info(observer)
        return info is not None and info.delivered is not None and info.delivered.stream_seq >= 1

    await eventually(delivered)
    await asyncio.sleep(2.5)  # more than ack_wait, many retries of nak_delay
    info = await _consumer_info(observer)
    assert info is not None
    assert info.delivered is not None
    # Waited out in place: no redelivery, so the delivery budget is untouched.
    assert info.delivered.consumer_seq == 1
    assert info.num_redelivered == 0
    assert await _dead_letters(observer) == []

    async with engine.begin() as conn:
        await conn.execute(text("ALTER TABLE event_inbox_away RENAME TO event_inbox"))

    async def handled() -> int:
        return await _count(sessionmaker, "SELECT count(*) FROM handled")

    assert await eventually(handled) == 1
    assert await _dead_letters(observer) == []
