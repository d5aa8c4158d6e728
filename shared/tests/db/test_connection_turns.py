"""Connections are granted first come, first served, and a wait for one is bounded."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
from fastapi import APIRouter
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from mpp_shared.app import create_service_app
from mpp_shared.config import BaseServiceSettings
from mpp_shared.db import ConnectionTurns, DatabaseBusy, FairQueuePool, pool_turns
from mpp_shared.deps import SessionDep
from mpp_shared.testing.client import app_client


async def _until(check: Callable[[], bool]) -> None:
    for _ in range(500):
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not met within 5 s")


async def test_a_freed_turn_goes_to_the_oldest_waiter_even_if_a_newcomer_asks_first() -> None:
    turns = ConnectionTurns(1, timeout=5)
    granted: list[str] = []

    async def take(name: str) -> None:
        await turns.acquire()
        granted.append(name)
        await asyncio.sleep(0)
        turns.release()

    await turns.acquire()
    waiters = [asyncio.create_task(take(name)) for name in "BCD"]
    await _until(lambda: turns.waiting == 3)

    turns.release()
    # In the same turn of the loop as the release, before the woken waiter has run.
    assert turns.try_acquire() is False
    late = asyncio.create_task(take("E"))
    await asyncio.gather(*waiters, late)
    assert granted == ["B", "C", "D", "E"]
    assert (turns.in_use, turns.waiting) == (0, 0)


async def test_a_wait_past_the_timeout_is_refused_as_busy_with_retry_after() -> None:
    turns = ConnectionTurns(1, timeout=0.05)
    await turns.acquire()
    with pytest.raises(DatabaseBusy) as refused:
        await turns.acquire()
    assert refused.value.status == 503
    assert refused.value.headers == {"Retry-After": "1"}
    assert (turns.waiting, turns.timeouts, turns.waits) == (0, 1, 1)
    turns.release()
    assert turns.in_use == 0


async def test_a_turn_handed_to_a_waiter_that_gives_up_passes_to_the_next() -> None:
    turns = ConnectionTurns(1, timeout=5)
    await turns.acquire()
    quitter = asyncio.create_task(turns.acquire())
    patient = asyncio.create_task(turns.acquire())
    await _until(lambda: turns.waiting == 2)

    turns.release()  # the quitter's, but it is cancelled before it runs
    quitter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await quitter
    await asyncio.wait_for(patient, 1)
    assert (turns.in_use, turns.waiting) == (1, 0)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    # One connection: whoever is granted it runs alone, so the order of grants is observable.
    engine = create_async_engine(
        database_url, poolclass=FairQueuePool, pool_size=1, max_overflow=0, pool_timeout=5
    )
    try:
        yield engine
    finally:
        await engine.dispose()


async def _hold_every_connection(engine: AsyncEngine) -> list[AsyncConnection]:
    turns = pool_turns(engine)
    assert turns is not None
    return [await engine.connect() for _ in range(turns.size)]


async def test_engine_checkouts_are_granted_in_the_order_they_were_asked_for(
    engine: AsyncEngine,
) -> None:
    turns = pool_turns(engine)
    assert turns is not None
    held = await _hold_every_connection(engine)
    granted: list[str] = []

    async def take(name: str) -> None:
        async with engine.connect() as conn:
            granted.append(name)
            await conn.execute(text("SELECT 1"))

    waiters = []
    for name in "ABC":
        waiters.append(asyncio.create_task(take(name)))
        await _until(lambda: turns.waiting == len(waiters))

    for conn in held:
        await conn.close()
    # Asked right after the release, before the first waiter has run: the stock pool would
    # hand it the connection just put back.
    async with engine.connect() as late:
        granted.append("late")
        await late.execute(text("SELECT 1"))
    await asyncio.gather(*waiters)
    assert granted == ["A", "B", "C", "late"]
    assert (turns.waits, turns.in_use) == (4, 0)


async def test_a_disposed_engine_keeps_its_fair_pool(engine: AsyncEngine) -> None:
    await engine.dispose()
    turns = pool_turns(engine)
    assert turns is not None
    assert (turns.size, turns.timeout) == (1, 5)
    async with engine.connect() as conn:
        assert await conn.scalar(text("SELECT 1")) == 1


async def test_a_request_that_gets_no_connection_in_time_is_503_problem_with_retry_after(
    database_url: str, nats_url: str
) -> None:
    settings = BaseServiceSettings(
        service_name="probe",
        database_url=database_url,
        nats_url=nats_url,
        environment="test",
        database_pool_size=1,
        database_pool_timeout_seconds=0.1,
    )
    router = APIRouter()

    @router.get("/answer")
    async def answer(session: SessionDep) -> dict[str, int]:
        return {"answer": int(await session.scalar(text("SELECT 42")) or 0)}

    app = create_service_app(settings, title="probe", routers=[router], outbox_relay=False)
    async with app_client(app) as client:
        engine = app.state.runtime.engine
        held = await _hold_every_connection(engine)
        busy = await client.get("/answer")
        for conn in held:
            await conn.close()
        served = await client.get("/answer")
        metrics = (await client.get("/metrics")).text

    assert busy.status_code == 503
    assert busy.headers["content-type"] == "application/problem+json"
    assert busy.headers["retry-after"] == "1"
    assert busy.json()["code"] == "database_busy"
    assert served.json() == {"answer": 42}
    assert 'db_pool_wait_timeouts_total{pool="main",service="probe"} 1.0' in metrics
    assert 'db_pool_waiting{pool="main",service="probe"} 0.0' in metrics


@pytest.mark.parametrize(("ping_after_idle", "pings"), [(60.0, 0), (0.0, 1)])
async def test_only_a_connection_idle_for_a_while_is_pinged_before_use(
    database_url: str, ping_after_idle: float, pings: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = create_async_engine(
        database_url, poolclass=FairQueuePool, pool_size=1, max_overflow=0, pool_pre_ping=True
    )
    assert isinstance(engine.pool, FairQueuePool)
    engine.pool.ping_after_idle = ping_after_idle
    dialect = engine.sync_engine.dialect
    pinged: list[object] = []
    real_ping = dialect.do_ping

    def counting_ping(dbapi_connection: object) -> bool:
        pinged.append(dbapi_connection)
        return real_ping(dbapi_connection)  # type: ignore[arg-type]

    monkeypatch.setattr(dialect, "do_ping", counting_ping)
    try:
        for _ in range(2):  # a new connection (never pinged), then the same one again
            async with engine.connect() as conn:
                assert await conn.scalar(text("SELECT 1")) == 1
    finally:
        await engine.dispose()
    assert len(pinged) == pings


async def test_every_connection_the_pool_opens_is_kept_for_the_next_request(
    database_url: str,
) -> None:
    from mpp_shared.db import create_engine

    engine = create_engine(
        BaseServiceSettings(database_url=database_url, environment="test", database_pool_size=3)
    )
    try:
        turns = pool_turns(engine)
        assert turns is not None
        assert turns.size == 3
        held = await _hold_every_connection(engine)
        for conn in held:
            await conn.close()
        # None was closed on return: the next burst reuses them, no new PostgreSQL backend.
        assert engine.pool.checkedin() == 3  # type: ignore[attr-defined]
    finally:
        await engine.dispose()
