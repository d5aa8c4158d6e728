"""Turns at a limited number of database connections, granted first come, first served.

asyncpg's pool, and the asyncio queue behind SQLAlchemy's async pool, let a request that
arrives just as a connection is freed take it ahead of those already waiting, which go back to
the end of the line: under load the slowest hundredth waits four to five times as long as the
median. Here a freed turn is handed straight to the oldest waiter, so nobody can overtake, and
a wait is bounded: past ``timeout`` the caller gets :class:`DatabaseBusy` (503 with
``Retry-After``) instead of queueing forever.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from mpp_shared.problems import Problem

# Seconds a client is asked to wait before trying again when no connection came free in time.
RETRY_AFTER_SECONDS = 1


class DatabaseBusy(Problem):
    """No database connection came free within the pool's timeout."""

    status = 503
    code = "database_busy"

    def __init__(self, waited: float) -> None:
        super().__init__(
            f"The service is busy: no database connection came free within {waited:g} s.",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
        self.waited = waited


class ConnectionTurns:
    """A first-in, first-out semaphore of ``size`` turns with a bounded wait.

    A released turn goes to the oldest waiter directly (it is never put back for anyone to
    grab), and a newcomer waits whenever someone is already waiting, even if a turn is free for
    the moment.
    """

    def __init__(self, size: int, *, timeout: float) -> None:
        if size < 1:
            raise ValueError("a pool needs at least one connection")
        self.size = size
        self.timeout = timeout
        self._free = size
        self._waiters: deque[asyncio.Future[None]] = deque()
        # Cheap counters for /metrics (see TurnsCollector).
        self.waits = 0
        self.wait_seconds = 0.0
        self.timeouts = 0

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    @property
    def in_use(self) -> int:
        return self.size - self._free

    def try_acquire(self) -> bool:
        """Take a turn without waiting, if one is free and nobody is queued before us."""
        if self._free > 0 and not self._waiters:
            self._free -= 1
            return True
        return False

    async def acquire(self) -> None:
        """Take a turn, after those who asked earlier; :class:`DatabaseBusy` after ``timeout``."""
        if self.try_acquire():
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self.timeout):
                await waiter
        except BaseException as exc:
            self._leave(waiter)
            if isinstance(exc, TimeoutError):
                self.timeouts += 1
                raise DatabaseBusy(self.timeout) from None
            raise
        finally:
            self.waits += 1
            self.wait_seconds += time.perf_counter() - started

    def _leave(self, waiter: asyncio.Future[None]) -> None:
        """A waiter gives up (timeout, cancellation): a turn handed to it meanwhile moves on."""
        if waiter.done() and not waiter.cancelled():
            # Handed a turn in the same turn of the loop as the timeout: pass it on.
            self.release()
        else:
            waiter.cancel()
            # A release may have dropped it already (it skips waiters that gave up).
            with contextlib.suppress(ValueError):
                self._waiters.remove(waiter)

    def release(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        if self._free >= self.size:
            raise RuntimeError("a turn was released that was never taken")
        self._free += 1


class TurnsCollector(Collector):
    """Prometheus: how long requests queue for a connection, per pool of the service."""

    def __init__(self, service: str, pools: Callable[[], Mapping[str, ConnectionTurns]]) -> None:
        self.service = service
        self.pools = pools

    def collect(self) -> Iterator[Metric]:
        labels = ["service", "pool"]
        waits = CounterMetricFamily(
            "db_pool_waits", "Connection checkouts that had to queue", labels=labels
        )
        seconds = CounterMetricFamily(
            "db_pool_wait_seconds", "Time spent queueing for a connection", labels=labels
        )
        timeouts = CounterMetricFamily(
            "db_pool_wait_timeouts",
            "Checkouts refused (503) because no connection came free in time",
            labels=labels,
        )
        waiting = GaugeMetricFamily(
            "db_pool_waiting", "Checkouts queueing for a connection now", labels=labels
        )
        in_use = GaugeMetricFamily(
            "db_pool_connections_in_use", "Connections checked out now", labels=labels
        )
        for name, turns in self.pools().items():
            key = [self.service, name]
            waits.add_metric(key, turns.waits)
            seconds.add_metric(key, turns.wait_seconds)
            timeouts.add_metric(key, turns.timeouts)
            waiting.add_metric(key, turns.waiting)
            in_use.add_metric(key, turns.in_use)
        yield from (waits, seconds, timeouts, waiting, in_use)
