"""The kept report answers: at most ``ttl`` old, recomputed in the background once past half of
it, dropped for a changed agency, one computation per key at a time, nothing kept that was
computed while a change committed."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date

import pytest

from tracking.report_cache import CachedReport, ReportCache, ReportKey

AGENCY, OTHER = uuid.uuid4(), uuid.uuid4()


def key(agency: uuid.UUID | None = AGENCY, report: str = "service-levels") -> ReportKey:
    return ReportKey(report, agency, None, date(2026, 1, 1), date(2026, 12, 1))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class HeldAfterFirst:
    """A computation that answers its call number; every call after the first waits for
    ``release``."""

    def __init__(self) -> None:
        self.calls = 0
        self.release = asyncio.Event()

    async def __call__(self) -> CachedReport:
        self.calls += 1
        calls = self.calls
        if calls > 1:
            await self.release.wait()
        return CachedReport(str(calls).encode(), "application/json")


class Counting:
    """A computation that answers its call number."""

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self) -> CachedReport:
        self.calls += 1
        return CachedReport(str(self.calls).encode(), "application/json")


async def test_an_answer_is_kept_no_longer_than_the_ttl() -> None:
    clock, compute = Clock(), Counting()
    cache = ReportCache(ttl=10, clock=clock)
    assert (await cache.answer(key(), compute)).body == b"1"
    clock.now += 9.9
    assert (await cache.answer(key(), compute)).body == b"1"
    clock.now += 0.1
    assert (await cache.answer(key(), compute)).body == b"2"
    assert compute.calls == 2


async def test_an_answer_past_half_its_ttl_is_served_while_one_refresh_runs() -> None:
    clock = Clock()
    cache = ReportCache(ttl=10, clock=clock)
    compute = HeldAfterFirst()

    assert (await cache.answer(key(), compute)).body == b"1"
    clock.now += 4.9
    assert (await cache.answer(key(), compute)).body == b"1"
    await asyncio.sleep(0)
    assert compute.calls == 1  # not yet half its ttl: no refresh
    clock.now += 0.2
    # Past half: every request gets the kept answer at once, and one refresh starts.
    for _ in range(5):
        assert (await cache.answer(key(), compute)).body == b"1"
    await asyncio.sleep(0)
    assert compute.calls == 2
    compute.release.set()
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert (await cache.answer(key(), compute)).body == b"2"
    # The refreshed answer's age counts from when its reading started.
    clock.now += 9.9
    assert cache.get(key()) is not None
    clock.now += 0.1
    assert cache.get(key()) is None


async def test_an_answer_is_never_served_past_its_ttl_even_while_a_refresh_runs() -> None:
    clock = Clock()
    cache = ReportCache(ttl=10, clock=clock)
    compute = HeldAfterFirst()

    await cache.answer(key(), compute)
    clock.now += 6
    assert (await cache.answer(key(), compute)).body == b"1"  # starts the refresh
    await asyncio.sleep(0)
    clock.now += 4  # the kept answer is now ttl old; the refresh has not finished
    late = asyncio.create_task(cache.answer(key(), compute))
    await asyncio.sleep(0)
    assert not late.done()  # it waits for the refresh rather than take the old answer
    compute.release.set()
    assert (await late).body == b"2"
    assert compute.calls == 2


async def test_a_failed_refresh_keeps_the_answer_until_its_ttl_and_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    cache = ReportCache(ttl=10, clock=clock)
    failing = False

    async def compute() -> CachedReport:
        if failing:
            raise RuntimeError("database away")
        return CachedReport(b"kept", "application/json")

    await cache.answer(key(), compute)
    failing = True
    clock.now += 6
    assert (await cache.answer(key(), compute)).body == b"kept"
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert "report refresh failed" in caplog.text
    assert cache.get(key()) is not None
    clock.now += 4
    assert cache.get(key()) is None


async def test_close_cancels_a_refresh_under_way() -> None:
    clock = Clock()
    cache = ReportCache(ttl=10, clock=clock)
    compute = HeldAfterFirst()  # never released

    await cache.answer(key(), compute)
    clock.now += 6
    await cache.answer(key(), compute)
    await asyncio.sleep(0)
    assert compute.calls == 2
    await asyncio.wait_for(cache.close(), timeout=1)
    assert cache._refreshing == set()


async def test_a_change_drops_the_agencys_answers_and_the_all_agencies_ones_only() -> None:
    compute = Counting()
    cache = ReportCache(ttl=60, clock=Clock())
    for k in (key(AGENCY), key(OTHER), key(None), key(AGENCY, report="satisfaction")):
        await cache.answer(k, compute)
    cache.invalidate([AGENCY])
    assert cache.get(key(AGENCY)) is None
    assert cache.get(key(AGENCY, report="satisfaction")) is None
    assert cache.get(key(None)) is None
    assert cache.get(key(OTHER)) is not None


async def test_an_answer_computed_while_a_change_committed_is_not_kept() -> None:
    cache = ReportCache(ttl=60, clock=Clock())

    async def read_then_change_commits() -> CachedReport:
        cache.invalidate([AGENCY])  # the consumer's commit, while the figures were read
        return CachedReport(b"old", "application/json")

    assert (await cache.answer(key(), read_then_change_commits)).body == b"old"
    assert cache.get(key()) is None


async def test_concurrent_misses_of_one_key_compute_it_once() -> None:
    cache = ReportCache(ttl=60, clock=Clock())
    release = asyncio.Event()
    calls = 0

    async def slow() -> CachedReport:
        nonlocal calls
        calls += 1
        await release.wait()
        return CachedReport(b"r", "application/json")

    waiting = [asyncio.create_task(cache.answer(key(), slow)) for _ in range(5)]
    await asyncio.sleep(0)
    release.set()
    assert [a.body for a in await asyncio.gather(*waiting)] == [b"r"] * 5
    assert calls == 1


async def test_a_failed_computation_is_not_kept_and_its_waiters_get_the_error() -> None:
    cache = ReportCache(ttl=60, clock=Clock())
    release = asyncio.Event()

    async def failing() -> CachedReport:
        await release.wait()
        raise RuntimeError("database away")

    waiting = [asyncio.create_task(cache.answer(key(), failing)) for _ in range(3)]
    await asyncio.sleep(0)
    release.set()
    results = await asyncio.gather(*waiting, return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results)
    assert cache.get(key()) is None
    assert (await cache.answer(key(), Counting())).body == b"1"


async def test_a_ttl_of_zero_keeps_nothing() -> None:
    compute = Counting()
    cache = ReportCache(ttl=0, clock=Clock())
    await cache.answer(key(), compute)
    await cache.answer(key(), compute)
    assert (compute.calls, len(cache)) == (2, 0)


async def test_the_least_recently_used_answers_go_past_the_bound() -> None:
    cache = ReportCache(ttl=60, max_entries=2, clock=Clock())
    first, second, third = (key(uuid.uuid4()) for _ in range(3))
    for k in (first, second):
        await cache.answer(k, Counting())
    assert cache.get(first) is not None  # used: the second is now the oldest
    await cache.answer(third, Counting())
    assert cache.get(second) is None
    assert cache.get(first) is not None
    assert cache.get(third) is not None


@pytest.mark.parametrize("agencies", [[], ()])
def test_a_change_of_no_agency_drops_nothing(agencies: list[uuid.UUID]) -> None:
    cache = ReportCache(ttl=60, clock=Clock())
    cache._keep(key(None), CachedReport(b"x", "application/json"), read_at=1000.0)
    cache.invalidate(agencies)
    assert cache.get(key(None)) is not None
