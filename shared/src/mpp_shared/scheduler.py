"""Background jobs that exactly one replica runs: sweeps over due rows, and named leases.

Two tools, both in the service's own database (no clock of a replica is trusted: every
"now" is PostgreSQL's):

- :class:`PeriodicSweep`, a worker (``mpp_shared.app.Worker``) that every ``interval`` runs
  the caller's ``claim_and_handle(session)`` in one transaction. The caller selects its due
  rows ``FOR UPDATE SKIP LOCKED`` (:func:`claim_due`) and handles them in that transaction,
  marking them so that they are not due any more; replicas running the same sweep never
  handle the same row, and a replica that dies mid-way (its transaction rolled back) leaves
  the rows due for the next pass of any replica. Examples::

      # application-service: announce an overdue application once
      async def announce_overdue(session: AsyncSession) -> int:
          rows = await claim_due(session, applications, applications.c.due_at,
                                 where=[applications.c.overdue_notified_at.is_(None),
                                        applications.c.status.in_(OPEN)], limit=100)
          for row in rows:
              await record_event(session, ...)           # the outbox, same transaction
          await session.execute(update(applications).where(...).values(
              overdue_notified_at=func.now()))
          return len(rows)

      PeriodicSweep("overdue-applications", sessionmaker, announce_overdue, interval=60)

  tracking-service's webhook retries are the same: rows with ``next_attempt_at``, claimed
  with :func:`claim_due`, each attempt moving ``next_attempt_at`` on (or marking it done).
  Work done inside the transaction holds the rows' locks: keep each pass short (a small
  ``limit``, HTTP calls with a timeout).

- :class:`Lease`, a named row (``scheduler_leases``: holder + expires_at) that one holder at a
  time has, for jobs that must run in one replica at all ("send tomorrow's reminders").
  ``PeriodicSweep(..., lease=Lease(...))`` runs its passes only while it holds the lease, and
  renews it on each pass; a holder that stops renewing loses it after ``ttl``. The lease is a
  best effort against a holder that is alive but paused longer than ``ttl``: a job under a
  lease should still be safe to run twice (record what it did, in its transaction).

A service that uses :class:`Lease` adds the table in a migration with
:func:`create_scheduler_tables` (:func:`drop_scheduler_tables` in the downgrade).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    DateTime,
    MetaData,
    Row,
    String,
    Table,
    case,
    func,
    select,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mpp_shared.db.failures import is_outage
from mpp_shared.db.migrations import migration_bind
from mpp_shared.db.naming import NAMING_CONVENTION
from mpp_shared.tasks import cancel_and_wait

log = logging.getLogger(__name__)

SCHEDULER_METADATA = MetaData(naming_convention=NAMING_CONVENTION)

# One row per named lease; a row whose expires_at has passed is free for anyone to take.
leases = Table(
    "scheduler_leases",
    SCHEDULER_METADATA,
    Column("name", String(100), primary_key=True),
    Column("holder", String(200), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("acquired_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

ClaimAndHandle = Callable[[AsyncSession], Awaitable[int]]


def create_scheduler_tables() -> None:
    """Called from a service's migration (the lease table)."""
    SCHEDULER_METADATA.create_all(bind=migration_bind(), tables=[leases])


def drop_scheduler_tables() -> None:
    SCHEDULER_METADATA.drop_all(bind=migration_bind(), tables=[leases])


def default_holder() -> str:
    """A name unique to this process: host, pid and a random part (a restarted pod differs)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


async def claim_due(
    session: AsyncSession,
    table: Table,
    due_column: ColumnElement[Any],
    *,
    where: Iterable[ColumnElement[bool]] = (),
    limit: int = 100,
) -> Sequence[Row[Any]]:
    """Rows of ``table`` whose ``due_column`` has passed (``<= now()``) and that match
    ``where``, earliest first, at most ``limit``, locked ``FOR UPDATE SKIP LOCKED``: rows
    another transaction holds are skipped, not waited for. The locks last until ``session``'s
    transaction ends."""
    statement = (
        select(table)
        .where(due_column <= func.now(), *where)
        .order_by(due_column)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return (await session.execute(statement)).all()


class Lease:
    """A named lease in the service's database, held by one holder at a time.

    :meth:`acquire` takes the lease if it is free or expired, or renews it if this holder has
    it; either way it then runs until ``ttl`` from now (the database's now). :meth:`release`
    gives it up at once (on stop), so another replica need not wait out the ``ttl``.
    """

    def __init__(
        self,
        name: str,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        ttl: timedelta = timedelta(seconds=60),
        holder: str | None = None,
    ) -> None:
        if ttl <= timedelta(0):
            raise ValueError("ttl must be positive")
        self.name = name
        self.holder = holder or default_holder()
        self.ttl = ttl
        self._sessionmaker = sessionmaker
        self._held = False

    @property
    def held(self) -> bool:
        """Whether the last :meth:`acquire` got the lease (and no :meth:`release` since)."""
        return self._held

    async def acquire(self) -> bool:
        """Take or renew the lease; True if this holder has it now. Database errors raise."""
        self._held = False
        expires = func.now() + self.ttl
        statement = (
            insert(leases)
            .values(name=self.name, holder=self.holder, expires_at=expires)
            .on_conflict_do_update(
                index_elements=[leases.c.name],
                set_={
                    "holder": self.holder,
                    "expires_at": expires,
                    # Renewing keeps the time it was first taken.
                    "acquired_at": case(
                        (leases.c.holder == self.holder, leases.c.acquired_at),
                        else_=func.now(),
                    ),
                },
                where=(leases.c.holder == self.holder) | (leases.c.expires_at <= func.now()),
            )
            .returning(leases.c.holder)
        )
        async with self._sessionmaker() as session, session.begin():
            holder = (await session.execute(statement)).scalar_one_or_none()
        self._held = holder == self.holder
        return self._held

    async def release(self) -> None:
        """Give the lease up if this holder has it."""
        self._held = False
        async with self._sessionmaker() as session, session.begin():
            await session.execute(
                leases.delete().where(leases.c.name == self.name, leases.c.holder == self.holder)
            )

    async def current_holder(self) -> str | None:
        """Who holds the lease now (None when free or expired)."""
        async with self._sessionmaker() as session:
            return (
                await session.execute(
                    select(leases.c.holder).where(
                        leases.c.name == self.name, leases.c.expires_at > func.now()
                    )
                )
            ).scalar_one_or_none()


class PeriodicSweep:
    """A worker that runs ``claim_and_handle(session)`` every ``interval`` seconds, each run in
    one transaction of its own (committed when it returns, rolled back when it raises).

    ``claim_and_handle`` returns how many rows it handled; while that is more than 0 the next
    pass starts at once (a backlog drains without waiting ``interval`` per batch), so it must
    make the rows it handled not due any more. A failing pass (the database away, a bug) is
    logged and retried after a backoff that doubles up to ``max_backoff``; the worker keeps
    going until :meth:`stop`.

    With ``lease``, a pass runs only in the replica that holds (and on each pass renews) the
    lease; give the lease a ``ttl`` longer than ``interval`` plus one pass. :meth:`stop`
    releases it.
    """

    def __init__(
        self,
        name: str,
        sessionmaker: async_sessionmaker[AsyncSession],
        claim_and_handle: ClaimAndHandle,
        *,
        interval: float = 30.0,
        max_backoff: float = 300.0,
        lease: Lease | None = None,
    ) -> None:
        if interval <= 0:
            raise ValueError("interval must be positive")
        self.name = name
        self._sessionmaker = sessionmaker
        self._claim_and_handle = claim_and_handle
        self._interval = interval
        self._max_backoff = max_backoff
        self._lease = lease
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self.failures = 0  # consecutive failed passes

    async def start(self) -> None:
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name=f"sweep:{self.name}")

    async def stop(self) -> None:
        """Let a pass in flight finish, then return (releasing the lease if held)."""
        self._stopping = True
        self._wake.set()
        task, self._task = self._task, None
        if task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(task), timeout=30)
            except TimeoutError:
                await cancel_and_wait(task)
        if self._lease is not None and self._lease.held:
            try:
                await self._lease.release()
            except Exception as exc:
                log.warning(
                    "lease not released; it expires by itself",
                    extra={"lease": self._lease.name, "error": type(exc).__name__},
                )

    def wake(self) -> None:
        """Run a pass now instead of at the next interval."""
        self._wake.set()

    async def run_once(self) -> int:
        """One pass: how many rows were handled (0 without the lease). Errors raise."""
        if self._lease is not None and not await self._lease.acquire():
            return 0
        async with self._sessionmaker() as session, session.begin():
            return await self._claim_and_handle(session)

    async def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            handled = 0
            try:
                handled = await self.run_once()
                self.failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.failures += 1
                outage = is_outage(exc)
                log.warning(
                    "sweep pass failed" + ("; the database is away" if outage else ""),
                    extra={
                        "sweep": self.name,
                        "error": f"{type(exc).__name__}: {exc}"[:500],
                        "failures": self.failures,
                    },
                    # A bug's traceback once; an outage's never (it says nothing new).
                    exc_info=self.failures == 1 and not outage,
                )
            if self._stopping:
                break
            if handled > 0:
                continue
            pause = (
                min(self._max_backoff, self._interval * 2 ** min(self.failures, 16))
                if self.failures
                else self._interval
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), pause)


__all__ = [
    "SCHEDULER_METADATA",
    "ClaimAndHandle",
    "Lease",
    "PeriodicSweep",
    "claim_due",
    "create_scheduler_tables",
    "default_holder",
    "drop_scheduler_tables",
    "leases",
]
