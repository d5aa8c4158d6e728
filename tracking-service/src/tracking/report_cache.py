"""Report answers kept a few seconds per (report, agency, service, months, format).

A report is summed from aggregates that change with every event of its agency, yet a
dashboard asks for the same one again and again: the rendered answer is kept for at most
``ttl`` seconds and says when its figures were read (``as_of``). In this process a change is
seen at once: the report consumer and a survey answer drop the agency's answers (and the
all-agencies ones) after they commit; a change committed by another replica shows within
``ttl``. An answer computed while a change committed is not kept (the generation moved), so
no stale answer outlives the drop. Concurrent misses of one key compute it once.

Authorisation is not the cache's business: the routes check the caller and work out the
agency before they look up an answer.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable, Iterable
from dataclasses import dataclass
from datetime import date

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession


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
    expires: float


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
        self._generation = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: ReportKey) -> CachedReport | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.expires <= self._clock():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry.report

    async def answer(
        self, key: ReportKey, compute: Callable[[], Awaitable[CachedReport]]
    ) -> CachedReport:
        """The kept answer of ``key``, else ``compute()``'s (kept unless a change committed
        meanwhile); one computation at a time per key, the others wait for it."""
        if self.ttl <= 0:
            return await compute()
        kept = self.get(key)
        if kept is not None:
            return kept
        pending = self._computing.get((key, self._generation))
        if pending is not None:
            return await asyncio.shield(pending)
        generation = self._generation
        future: asyncio.Future[CachedReport] = asyncio.get_running_loop().create_future()
        self._computing[(key, generation)] = future
        try:
            report = await compute()
        except BaseException as error:
            future.set_exception(error)
            # The waiters get the error; nobody else has to retrieve it.
            future.exception()
            raise
        else:
            future.set_result(report)
            if generation == self._generation:
                self._keep(key, report)
            return report
        finally:
            del self._computing[(key, generation)]

    def _keep(self, key: ReportKey, report: CachedReport) -> None:
        self._entries[key] = _Entry(report, self._clock() + self.ttl)
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
