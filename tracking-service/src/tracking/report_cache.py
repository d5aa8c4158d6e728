"""Report answers kept a few seconds per (report, agency, service, months, format).

A report is summed from aggregates that change with every event of its agency, yet a
dashboard asks for the same one again and again: the rendered answer is kept for at most
``ttl`` seconds and says when its figures were read (``as_of``). In this process a change is
seen at once: the report consumer and a survey answer drop the agency's answers (and the
all-agencies ones) after they commit; a change committed by another replica shows within
``ttl``. An answer computed while a change committed is not kept (the generation moved), so
no stale answer outlives the drop. Concurrent misses of one key compute it once.

An answer asked for again once it is past half its ``ttl`` is recomputed in the background
while the kept one is served: a report asked for steadily is never computed while a request
waits for it, and no answer served is older than ``ttl``.

Authorisation is not the cache's business: the routes check the caller and work out the
agency before they look up an answer.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable, Iterable
from dataclasses import dataclass
from datetime import date

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

log = logging.getLogger(__name__)

# The share of ``ttl`` after which an answer asked for is recomputed in the background.
REFRESH_AFTER = 0.5


@dataclass(frozen=True, slots=True)
class ReportKey:
    report: str
    agency_id: uuid.UUID | None
    service_id: uuid.UUID | None
    first_month: date
    last_month: date
    format: str = "json"


@dataclass(frozen=True, slots=True)
class CachedReport:
    body: bytes
    media_type: str
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(slots=True)
class _Entry:
    report: CachedReport
    read_at: float  # when its computation started: its figures are at least that recent


class ReportCache:
    """``ttl`` 0 keeps nothing (every request computes its answer)."""

    def __init__(
        self,
        *,
        ttl: float,
        max_entries: int = 512,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[ReportKey, _Entry] = OrderedDict()
        self._computing: dict[Hashable, asyncio.Future[CachedReport]] = {}
        self._refreshing: set[asyncio.Task[CachedReport]] = set()
        self._generation = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: ReportKey) -> CachedReport | None:
        entry = self._fresh(key)
        return None if entry is None else entry.report

    def _fresh(self, key: ReportKey) -> _Entry | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.read_at + self.ttl <= self._clock():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry

    async def answer(
        self, key: ReportKey, compute: Callable[[], Awaitable[CachedReport]]
    ) -> CachedReport:
        """The kept answer of ``key`` (recomputed in the background once past half its
        ``ttl``), else ``compute()``'s (kept unless a change committed meanwhile); one
        computation at a time per key, the others wait for it."""
        if self.ttl <= 0:
            return await compute()
        kept = self._fresh(key)
        if kept is not None:
            if kept.read_at + self.ttl * REFRESH_AFTER <= self._clock():
                self._refresh(key, compute)
            return kept.report
        pending = self._computing.get((key, self._generation))
        if pending is not None:
            return await asyncio.shield(pending)
        return await self._compute(key, compute, self._claim(key))

    def _claim(self, key: ReportKey) -> tuple[int, float, asyncio.Future[CachedReport]]:
        """Mark ``key`` as being computed (before anything awaits, so that nobody else starts
        it): the generation and the time the computation starts, and the future its waiters
        await."""
        future: asyncio.Future[CachedReport] = asyncio.get_running_loop().create_future()
        self._computing[(key, self._generation)] = future
        return self._generation, self._clock(), future

    def _refresh(self, key: ReportKey, compute: Callable[[], Awaitable[CachedReport]]) -> None:
        """Recompute ``key`` in a task of its own, unless that is under way already."""
        if (key, self._generation) in self._computing:
            return
        task = asyncio.get_running_loop().create_task(self._compute(key, compute, self._claim(key)))
        self._refreshing.add(task)
        task.add_done_callback(self._refreshed)

    def _refreshed(self, task: asyncio.Task[CachedReport]) -> None:
        self._refreshing.discard(task)
        if not task.cancelled() and (error := task.exception()) is not None:
            # The kept answer stays until its ttl; the next request past half of it tries again.
            log.warning("report refresh failed", exc_info=error)

    async def _compute(
        self,
        key: ReportKey,
        compute: Callable[[], Awaitable[CachedReport]],
        claim: tuple[int, float, asyncio.Future[CachedReport]],
    ) -> CachedReport:
        generation, started, future = claim
        try:
            report = await compute()
        except BaseException as error:
            if isinstance(error, asyncio.CancelledError):
                future.cancel()
            else:
                future.set_exception(error)
                # The waiters get the error; nobody else has to retrieve it.
                future.exception()
            raise
        else:
            future.set_result(report)
            if generation == self._generation:
                self._keep(key, report, started)
            return report
        finally:
            del self._computing[(key, generation)]

    async def close(self) -> None:
        """Cancel the background refreshes (at shutdown)."""
        tasks = list(self._refreshing)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _keep(self, key: ReportKey, report: CachedReport, read_at: float) -> None:
        self._entries[key] = _Entry(report, read_at)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def invalidate(self, agencies: Iterable[uuid.UUID]) -> None:
        """Drop the answers of these agencies and the all-agencies ones (after a commit)."""
        changed = set(agencies)
        if not changed:
            return
        self._generation += 1
        for key in [k for k in self._entries if k.agency_id is None or k.agency_id in changed]:
            del self._entries[key]


def invalidate_after_commit(
    session: AsyncSession, cache: ReportCache | None, agencies: Iterable[uuid.UUID]
) -> None:
    """Drop the agencies' answers once ``session``'s transaction commits (not if it rolls
    back): a request that reads before the commit sees the old figures and keeps nothing."""
    changed = frozenset(agencies)
    if cache is None or not changed:
        return

    def dropped(_: object) -> None:
        cache.invalidate(changed)

    event.listen(session.sync_session, "after_commit", dropped, once=True)
