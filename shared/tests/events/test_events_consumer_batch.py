"""The batch mode of the consumer: a fetch in one transaction, and the same guarantees as one
event at a time (handled once, crash-safe, poison alone to the dead-letter stream, an outage
waited out without a redelivery)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import pytest
from nats.aio.client import Client
from nats.js.api import ConsumerInfo, RawStreamMsg
from nats.js.errors import NotFoundError
from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from mpp_shared.events import (
    DEAD_LETTER_STREAM,
    DLQ_DELIVERIES_HEADER,
    DLQ_EVENT_ID_HEADER,
    DLQ_REASON_HEADER,
    BatchHandler,
    CloudEvent,
    EventConsumer,
    NatsConnection,
    PermanentError,
    ensure_event_streams,
    new_event,
)
from mpp_shared.events.tables import inbox

Eventually = Callable[..., Awaitable[Any]]
MakeConsumer = Callable[..., Awaitable[EventConsumer]]
NAME = "batch-test"
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

    async def make(batch_handler: BatchHandler, **options: Any) -> EventConsumer:
        settings: dict[str, Any] = {
            "name": NAME,
            "subjects": ["mpp.application.>"],
            "max_deliver": 3,
            "ack_wait": 2.0,
            "nak_delay": lambda deliveries: 0.1,
            "fetch_timeout": 1.0,
            "batch": 64,
        } | options
        consumer = EventConsumer(
            batch_handler=batch_handler,
            sessionmaker=sessionmaker,
            connection=connection,
            **settings,
        )
        await consumer.start()
        started.append(consumer)
        return consumer

    try:
        yield make
    finally:
        for consumer in started:
            await consumer.stop()


async def record_all(session: AsyncSession, events: Sequence[CloudEvent]) -> None:
    await session.execute(
        text("INSERT INTO handled (event_id, note) VALUES (:id, :note)"),
        [{"id": e.event_id, "note": e.data.get("note")} for e in events],
    )


def _recording() -> tuple[list[list[str]], BatchHandler]:
    """A batch handler that records its events and the ids of each batch it was given."""
    calls: list[list[str]] = []

    async def handler(session: AsyncSession, batch: Sequence[CloudEvent]) -> None:
        calls.append([e.id for e in batch])
        await record_all(session, batch)

    return calls, handler


def _event(note: str = "good") -> CloudEvent:
    return new_event(
        type=SUBJECT, source="/application", subject=str(uuid.uuid4()), data={"note": note}
    )


async def _publish(observer: Client, event: CloudEvent, *, msg_id: str | None = None) -> None:
    await observer.jetstream().publish(
        event.nats_subject, event.to_json(), headers={"Nats-Msg-Id": msg_id or event.id}
    )


async def _handled(sessionmaker: async_sessionmaker[AsyncSession]) -> list[uuid.UUID]:
    async with sessionmaker() as session:
        return list((await session.scalars(text("SELECT event_id FROM handled"))).all())


async def _consumer_info(observer: Client) -> ConsumerInfo | None:
    try:
        info: ConsumerInfo = await observer.jetstream().consumer_info("MPP", NAME)
    except NotFoundError:
        return None
    return info


async def _settled(observer: Client, *, delivered: int) -> bool:
    info = await _consumer_info(observer)
    return (
        info is not None
        and info.delivered is not None
        and info.delivered.stream_seq >= delivered
        and info.num_pending == 0
        and info.num_ack_pending == 0
    )


async def _dead_letters(observer: Client) -> list[RawStreamMsg]:
    js = observer.jetstream()
    state = (await js.stream_info(DEAD_LETTER_STREAM)).state
    if not state.messages:
        return []
    return [await js.get_msg(DEAD_LETTER_STREAM, seq) for seq in range(1, state.last_seq + 1)]


def test_a_consumer_takes_one_kind_of_handler() -> None:
    async def one(session: AsyncSession, event: CloudEvent) -> None:
        return None

    async def many(session: AsyncSession, events: Sequence[CloudEvent]) -> None:
        return None

    common: dict[str, Any] = {
        "name": NAME,
        "subjects": [SUBJECT],
        "sessionmaker": None,
        "connection": None,
    }
    with pytest.raises(ValueError, match="either a handler or a batch handler"):
        EventConsumer(handler=one, batch_handler=many, **common)
    with pytest.raises(ValueError, match="either a handler or a batch handler"):
        EventConsumer(**common)
    with pytest.raises(ValueError, match="batch must be at least 1"):
        EventConsumer(batch_handler=many, batch=0, **common)
    with pytest.raises(ValueError, match="linger"):
        EventConsumer(handler=one, linger=0.1, **common)
    with pytest.raises(ValueError, match="linger"):
        EventConsumer(batch_handler=many, linger=-1, **common)


async def test_a_fetch_is_handled_in_one_transaction_in_stream_order(
    make_consumer: MakeConsumer,
    sessionmaker: async_sessionmaker[AsyncSession],
    observer: Client,
    eventually: Eventually,
) -> None:
    await ensure_event_streams(observer.jetstream())
    events = [_event() for _ in range(40)]
    for event in events:
        await _publish(observer, event)
    calls, handler = _recording()

    await make_consumer(handler, batch=64)

    await eventually(lambda: _settled(observer, delivered=len(events)))
    assert [i for call in calls for i in call] == [e.id for e in events]
    assert max(len(call) for call in calls) > 1
    assert len(calls) < len(events)
    assert sorted(await _handled(sessionmaker)) == sorted(e.event_id for e in events)
    async with sessionmaker() as session:
        # One commit per batch: the inbox rows of a batch share its transaction's time.
        commits = await session.scalar(
            text("SELECT count(DISTINCT handled_at) FROM event_inbox WHERE consumer = :c"),
            {"c": NAME},
        )
    assert commits == len(calls)


async def test_with_a_linger_events_arriving_one_at_a_time_share_a_batch(
    make_consumer: MakeConsumer,
    sessionmaker: async_sessionmaker[AsyncSession],
    observer: Client,
    eventually: Eventually,
) -> None:
    await ensure_event_streams(observer.jetstream())
    calls, handler = _recording()

    await make_consumer(handler, linger=0.5)
    first, second, alone = _event(), _event(), _event()
    await _publish(observer, first)
    await asyncio.sleep(0.1)  # the first is fetched alone; the second arrives in the linger
    await _publish(observer, second)

    await eventually(lambda: _settled(observer, delivered=2))
    assert calls == [[first.id, second.id]]
    # Nothing arrives within the linger: the one event is handled on its own, once.
    await _publish(observer, alone)
    await eventually(lambda: _settled(observer, delivered=3))
    assert calls == [[first.id, second.id], [alone.id]]
    assert sorted(await _handled(sessionmaker)) == sorted(
        e.event_id for e in (first, second, alone)
    )


async def test_a_stop_while_lingering_handles_the_batch_in_hand_first(
    make_consumer: MakeConsumer,
    sessionmaker: async_sessionmaker[AsyncSession],
    observer: Client,
    eventually: Eventually,
) -> None:
    await ensure_event_streams(observer.jetstream())
    calls, handler = _recording()
    consumer = await make_consumer(handler, linger=1.0)
    event = _event()
    await _publish(observer, event)
    await asyncio.sleep(0.3)  # fetched, and lingering for more

    await consumer.stop()

    assert calls == [[event.id]]
    assert await _handled(sessionmaker) == [event.event_id]
    await eventually(lambda: _settled(observer, delivered=1))


async def test_duplicates_and_events_handled_before_are_left_out_of_the_batch(
    make_consumer: MakeConsumer,
    sessionmaker: async_sessionmaker[AsyncSession],
    observer: Client,
    eventually: Eventually,
) -> None:
    await ensure_event_streams(observer.jetstream())
    before, twice, once = _event(), _event(), _event()
    async with sessionmaker.begin() as session:
        await session.execute(pg_insert(inbox).values(consumer=NAME, event_id=before.event_id))
    await _publish(observer, before)
    await _publish(observer, twice, msg_id=f"{twice.id}-first")
    # A second stored copy (a publisher that retried after the duplicate window).
    await _publish(observer, twice, msg_id=f"{twice.id}-again")
    await _publish(observer, once)
    calls, handler = _recording()

    await make_consumer(handler)

    await eventually(lambda: _settled(observer, delivered=4))
    assert [i for call in calls for i in call] == [twice.id, once.id]
    assert sorted(await _handled(sessionmaker)) == sorted([twice.event_id, once.event_id])


async def test_a_crash_before_the_commit_redelivers_the_batch_and_doubles_nothing(
    make_consumer: MakeConsumer,
    sessionmaker: async_sessionmaker[AsyncSession],
    observer: Client,
    eventually: Eventually,
) -> None:
    await ensure_event_streams(observer.jetstream())
    events = [_event() for _ in range(10)]
    for event in events:
        await _publish(observer, event)
    inside = asyncio.Event()

    async def dies_mid_batch(session: AsyncSession, batch: Sequence[CloudEvent]) -> None:
        await record_all(session, batch)  # written, never committed
        inside.set()
        await asyncio.Event().wait()

    first = await make_consumer(dies_mid_batch, ack_wait=1.0)
    await asyncio.wait_for(inside.wait(), 10)
    # The process dies: its task is gone without a commit, an ack or a nak.
    assert first._task is not None
    first._task.cancel()
    await asyncio.sleep(0.1)
    await first.stop()
    assert await _handled(sessionmaker) == []
    calls, handler = _recording()

    await make_consumer(handler, ack_wait=1.0)

    async def all_handled() -> bool:
        return len(await _handled(sessionmaker)) >= len(events)

    await eventually(all_handled, within=20.0)
    await eventually(lambda: _settled(observer, delivered=len(events)))
    assert sorted(await _handled(sessionmaker)) == sorted(e.event_id for e in events)
    assert sorted(i for call in calls for i in call) == sorted(e.id for e in events)


@pytest.mark.parametrize(
    ("failure", "reason", "deliveries"),
    [(PermanentError("not for us"), "permanent", "1"), (RuntimeError("bug"), "max_deliver", "3")],
)
async def test_a_poison_event_goes_alone_to_the_dead_letter_stream(
    make_consumer: MakeConsumer,
    sessionmaker: async_sessionmaker[AsyncSession],
    observer: Client,
    eventually: Eventually,
    failure: Exception,
    reason: str,
    deliveries: str,
) -> None:
    await ensure_event_streams(observer.jetstream())
    good = [_event() for _ in range(3)]
    poison = _event("poison")
    for event in (good[0], poison, good[1], good[2]):
        await _publish(observer, event)
    sizes: list[int] = []

    async def handler(session: AsyncSession, batch: Sequence[CloudEvent]) -> None:
        sizes.append(len(batch))
        await record_all(session, batch)  # rolled back with the failure
        if any(e.data["note"] == "poison" for e in batch):
            raise failure

    await make_consumer(handler, max_deliver=3)

    async def one_dead_letter() -> list[RawStreamMsg]:
        return await _dead_letters(observer)

    [dead] = await eventually(one_dead_letter, within=20.0)
    headers = dead.headers or {}
    assert headers[DLQ_EVENT_ID_HEADER] == poison.id
    assert headers[DLQ_REASON_HEADER] == reason
    assert headers[DLQ_DELIVERIES_HEADER] == deliveries
    await eventually(lambda: _settled(observer, delivered=4))
    # The good neighbours, handled one by one after the batch failed, each once.
    assert sorted(await _handled(sessionmaker)) == sorted(e.event_id for e in good)
    assert sizes[0] == 4
    assert 1 in sizes[1:]
    await asyncio.sleep(0.5)
    assert len(await _dead_letters(observer)) == 1


async def test_a_database_outage_in_a_batch_is_waited_out_without_a_redelivery(
    make_consumer: MakeConsumer,
    engine: AsyncEngine,
    sessionmaker: async_sessionmaker[AsyncSession],
    observer: Client,
    eventually: Eventually,
) -> None:
    await ensure_event_streams(observer.jetstream())
    async with engine.begin() as conn:
        await conn.execute(text("ALTER TABLE event_inbox RENAME TO event_inbox_away"))
    events = [_event() for _ in range(5)]
    for event in events:
        await _publish(observer, event)
    await make_consumer(record_all, max_deliver=2)

    async def delivered() -> bool:
        info = await _consumer_info(observer)
        return info is not None and info.delivered is not None and info.delivered.stream_seq >= 5

    await eventually(delivered)
    await asyncio.sleep(2.5)  # more than ack_wait, many retries of nak_delay
    info = await _consumer_info(observer)
    assert info is not None
    assert info.delivered is not None
    # Waited out in place: no redelivery, so the delivery budget is untouched.
    assert info.delivered.consumer_seq == 5
    assert info.num_redelivered == 0
    assert await _dead_letters(observer) == []

    async with engine.begin() as conn:
        await conn.execute(text("ALTER TABLE event_inbox_away RENAME TO event_inbox"))

    async def all_handled() -> bool:
        return len(await _handled(sessionmaker)) == len(events)

    await eventually(all_handled)
    await eventually(lambda: _settled(observer, delivered=5))
    assert sorted(await _handled(sessionmaker)) == sorted(e.event_id for e in events)
    assert await _dead_letters(observer) == []
