"""One-replica jobs on a real PostgreSQL: due rows claimed with SKIP LOCKED by two replicas (two
engines), a crashed holder's rows taken over, a lease held by one at a time, database outages
waited out."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import (
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from mpp_shared.scheduler import (
    SCHEDULER_METADATA,
    Lease,
    PeriodicSweep,
    claim_due,
    leases,
)
from mpp_shared.testing.proxy import TcpProxy

JOBS = MetaData()
# A caller's own table of due-time rows (as webhook deliveries or applications are).
jobs = Table(
    "jobs",
    JOBS,
    Column("id", Integer, primary_key=True),
    Column("due_at", DateTime(timezone=True), nullable=False),
    Column("done_at", DateTime(timezone=True)),
)
# Every handling of a job, by whom: more than one row for a job would be a double handling.
handled = Table(
    "handled",
    JOBS,
    Column("job_id", Integer, nullable=False),
    Column("replica", String(20), nullable=False),
)

Replica = Callable[[], Awaitable[async_sessionmaker[AsyncSession]]]


async def _eventually(check: Callable[[], Awaitable[Any]], *, within: float = 15.0) -> Any:
    deadline = time.monotonic() + within
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within} s (last: {result!r})")
        await asyncio.sleep(0.05)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(database_url)
    async with engine.begin() as conn:
        await conn.run_sync(JOBS.create_all)
        await conn.run_sync(SCHEDULER_METADATA.create_all)
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
async def replica(database_url: str, engine: AsyncEngine) -> AsyncIterator[Replica]:
    """``await replica()``: the sessionmaker of one more replica, with an engine of its own."""
    engines: list[AsyncEngine] = []

    async def make() -> async_sessionmaker[AsyncSession]:
        own = create_async_engine(database_url, pool_pre_ping=True)
        engines.append(own)
        return async_sessionmaker(own, expire_on_commit=False)

    try:
        yield make
    finally:
        for own in engines:
            await own.dispose()


async def _add_jobs(
    engine: AsyncEngine, count: int, *, due_in: timedelta = timedelta(seconds=-1)
) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO jobs (id, due_at) "
                "SELECT n, now() + :due_in FROM generate_series(0, :last) AS n"
            ),
            {"due_in": due_in, "last": count - 1},
        )


def _handler(replica_name: str, *, batch: int = 5, hold: float = 0.0) -> Any:
    async def claim_and_handle(session: AsyncSession) -> int:
        rows = await claim_due(
            session, jobs, jobs.c.due_at, where=[jobs.c.done_at.is_(None)], limit=batch
        )
        for row in rows:
            await session.execute(insert(handled).values(job_id=row.id, replica=replica_name))
        if hold:
            await asyncio.sleep(hold)  # the work itself, while the rows stay locked
        await session.execute(
            update(jobs).where(jobs.c.id.in_([r.id for r in rows])).values(done_at=func.now())
        )
        return len(rows)

    return claim_and_handle


async def _handled_counts(engine: AsyncEngine) -> dict[int, int]:
    async with engine.connect() as conn:
        rows = await conn.execute(select(handled.c.job_id, func.count()).group_by(handled.c.job_id))
        return {job_id: count for job_id, count in rows.all()}


async def _by_replica(engine: AsyncEngine) -> dict[str, int]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(handled.c.replica, func.count()).group_by(handled.c.replica)
        )
        return {name: count for name, count in rows.all()}


# ---- sweeps -----------------------------------------------------------------------------------


async def test_two_replicas_handle_every_due_row_exactly_once(
    engine: AsyncEngine, replica: Replica
) -> None:
    await _add_jobs(engine, 120)
    sweeps = [
        PeriodicSweep(name, await replica(), _handler(name, hold=0.02), interval=0.05)
        for name in ("a", "b")
    ]
    for sweep in sweeps:
        await sweep.start()
    try:

        async def all_handled() -> bool:
            return len(await _handled_counts(engine)) == 120

        await _eventually(all_handled)
    finally:
        for sweep in sweeps:
            await sweep.stop()
    counts = await _handled_counts(engine)
    assert set(counts) == set(range(120))
    assert set(counts.values()) == {1}
    # Both replicas took part: neither waited for the other's locked rows.
    by_replica = await _by_replica(engine)
    assert by_replica["a"] > 0
    assert by_replica["b"] > 0


async def test_rows_not_yet_due_are_left_alone(engine: AsyncEngine, replica: Replica) -> None:
    await _add_jobs(engine, 3, due_in=timedelta(hours=1))
    sweep = PeriodicSweep("a", await replica(), _handler("a"), interval=0.05)
    assert await sweep.run_once() == 0
    assert await _handled_counts(engine) == {}


async def test_locked_rows_are_skipped_not_waited_for(
    engine: AsyncEngine, replica: Replica
) -> None:
    await _add_jobs(engine, 3)
    holder = await replica()
    other = PeriodicSweep("b", await replica(), _handler("b"), interval=0.05)
    async with holder() as session, session.begin():
        claimed = await claim_due(session, jobs, jobs.c.due_at, limit=2)
        assert [r.id for r in claimed] == [0, 1]
        # While the holder's transaction is open, the other replica gets only the third row
        # at once (a wait would hit the timeout).
        assert await asyncio.wait_for(other.run_once(), timeout=5) == 1
    assert await _handled_counts(engine) == {2: 1}


async def test_a_crashed_holder_lets_the_other_replica_take_its_rows(
    engine: AsyncEngine, replica: Replica
) -> None:
    await _add_jobs(engine, 4)
    crashed = await replica()
    other = PeriodicSweep("b", await replica(), _handler("b", batch=10), interval=0.05)
    session = crashed()
    await session.begin()
    claimed = await claim_due(session, jobs, jobs.c.due_at, limit=10)
    assert len(claimed) == 4
    await session.execute(insert(handled).values(job_id=0, replica="crashed"))
    assert await other.run_once() == 0  # all four are locked by the holder
    # The holder's process dies: PostgreSQL ends its backend and rolls its transaction back.
    pid = (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one()
    async with engine.begin() as conn:
        await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    with pytest.raises(Exception):  # noqa: B017, PT011 - whatever the dead connection says
        await session.commit()
    await session.close()
    assert await other.run_once() == 4
    assert await _handled_counts(engine) == {0: 1, 1: 1, 2: 1, 3: 1}
    assert await _by_replica(engine) == {"b": 4}


async def test_a_failing_pass_rolls_back_and_the_rows_stay_due(
    engine: AsyncEngine, replica: Replica
) -> None:
    await _add_jobs(engine, 2)
    inner = _handler("a")
    attempts = 0

    async def fails_first(session: AsyncSession) -> int:
        nonlocal attempts
        attempts += 1
        count = await inner(session)
        if attempts == 1:
            raise RuntimeError("a bug in the handler")
        return int(count)

    sweep = PeriodicSweep("a", await replica(), fails_first, interval=0.05, max_backoff=0.1)
    await sweep.start()
    try:

        async def done() -> bool:
            return len(await _handled_counts(engine)) == 2

        await _eventually(done)
    finally:
        await sweep.stop()
    # The first pass's writes were rolled back: each job was handled once, by the second.
    assert await _handled_counts(engine) == {0: 1, 1: 1}
    assert attempts >= 2
    assert sweep.failures == 0


async def test_sweep_waits_out_a_database_outage(
    engine: AsyncEngine, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    proxy = TcpProxy.for_database(database_url)
    await proxy.start()
    through_proxy = create_async_engine(proxy.database_url(database_url), pool_pre_ping=True)
    sweep = PeriodicSweep(
        "outage",
        async_sessionmaker(through_proxy, expire_on_commit=False),
        _handler("a"),
        interval=0.05,
        max_backoff=0.2,
    )
    try:
        await sweep.start()
        await asyncio.sleep(0.2)
        await proxy.cut()
        await _add_jobs(engine, 3)

        async def failing() -> bool:
            return sweep.failures >= 2

        await _eventually(failing)
        assert await _handled_counts(engine) == {}
        await proxy.start()

        async def recovered() -> bool:
            return len(await _handled_counts(engine)) == 3

        await _eventually(recovered)
        assert sweep.failures == 0
    finally:
        await sweep.stop()
        await through_proxy.dispose()
        await proxy.close()
    assert any("the database is away" in r.getMessage() for r in caplog.records)


async def test_wake_runs_a_pass_before_the_interval(engine: AsyncEngine, replica: Replica) -> None:
    sweep = PeriodicSweep("a", await replica(), _handler("a"), interval=3600)
    await sweep.start()
    try:
        await asyncio.sleep(0.2)  # the first pass found nothing; the next is an hour away
        await _add_jobs(engine, 1)
        sweep.wake()

        async def handled_now() -> bool:
            return len(await _handled_counts(engine)) == 1

        await _eventually(handled_now, within=5)
    finally:
        await sweep.stop()


def test_sweep_refuses_a_non_positive_interval() -> None:
    with pytest.raises(ValueError, match="interval"):
        PeriodicSweep("a", async_sessionmaker(), _handler("a"), interval=0)


# ---- leases -----------------------------------------------------------------------------------


async def test_lease_is_held_by_one_at_a_time_and_taken_over_after_expiry(
    engine: AsyncEngine, replica: Replica
) -> None:
    first = Lease("reminders", await replica(), ttl=timedelta(seconds=1), holder="first")
    second = Lease("reminders", await replica(), ttl=timedelta(seconds=1), holder="second")
    assert await first.acquire()
    assert not await second.acquire()
    assert await first.acquire()  # renewing
    assert await first.current_holder() == "first"
    assert not second.held
    # The first holder stops renewing (crashed, or paused): after the ttl the second takes it.
    await asyncio.sleep(1.2)
    assert await first.current_holder() is None
    assert await second.acquire()
    assert not await first.acquire()
    assert await second.current_holder() == "second"
    async with engine.connect() as conn:
        rows = (await conn.execute(select(leases.c.name, leases.c.holder))).all()
    assert rows == [("reminders", "second")]


async def test_released_lease_is_free_at_once(replica: Replica) -> None:
    first = Lease("report", await replica(), ttl=timedelta(minutes=5), holder="first")
    second = Lease("report", await replica(), ttl=timedelta(minutes=5), holder="second")
    assert await first.acquire()
    assert not await second.acquire()
    await first.release()
    assert not first.held
    assert await second.acquire()
    await first.release()  # not the holder: changes nothing
    assert await second.current_holder() == "second"


async def test_leases_of_different_names_are_independent(replica: Replica) -> None:
    sessionmaker = await replica()
    assert await Lease("one", sessionmaker, holder="x").acquire()
    assert await Lease("two", sessionmaker, holder="y").acquire()


async def test_renewal_keeps_the_time_the_lease_was_first_taken(
    engine: AsyncEngine, replica: Replica
) -> None:
    lease = Lease("daily", await replica(), holder="only")
    assert await lease.acquire()
    async with engine.connect() as conn:
        first = (await conn.execute(select(leases.c.acquired_at, leases.c.expires_at))).one()
    await asyncio.sleep(0.05)
    assert await lease.acquire()
    async with engine.connect() as conn:
        second = (await conn.execute(select(leases.c.acquired_at, leases.c.expires_at))).one()
    assert second.acquired_at == first.acquired_at
    assert second.expires_at > first.expires_at


def test_lease_refuses_a_non_positive_ttl() -> None:
    with pytest.raises(ValueError, match="ttl"):
        Lease("x", async_sessionmaker(), ttl=timedelta(0))


async def test_a_sweep_under_a_lease_runs_in_one_replica_and_moves_on_when_it_stops(
    engine: AsyncEngine, replica: Replica
) -> None:
    passes: dict[str, int] = {"a": 0, "b": 0}

    def counting(name: str) -> Any:
        async def job(session: AsyncSession) -> int:
            passes[name] += 1
            return 0

        return job

    sweeps = {
        name: PeriodicSweep(
            name,
            sessionmaker,
            counting(name),
            interval=0.05,
            lease=Lease("nightly", sessionmaker, ttl=timedelta(seconds=30), holder=name),
        )
        for name in ("a", "b")
        for sessionmaker in [await replica()]
    }
    await sweeps["a"].start()

    async def a_ran() -> bool:
        return passes["a"] > 0

    await _eventually(a_ran)
    await sweeps["b"].start()
    await asyncio.sleep(0.5)
    assert passes["a"] >= 3
    assert passes["b"] == 0
    # A stopping replica releases the lease: the other one takes over without waiting 30 s.
    await sweeps["a"].stop()
    stopped_at = passes["a"]

    async def b_ran() -> bool:
        return passes["b"] > 0

    await _eventually(b_ran, within=5)
    await sweeps["b"].stop()
    assert passes["a"] == stopped_at
