"""The SLA clock's background job: each application whose due time passed is announced once."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from application.db.repositories import SqlApplicationRepository
from application.domain.services import announce_overdue
from application.messaging.publishers import OutboxApplicationEvents
from mpp_shared.scheduler import PeriodicSweep

SWEEP_NAME = "application-overdue"
BATCH = 100


async def announce_overdue_applications(
    session: AsyncSession, *, now: datetime | None = None
) -> int:
    """One pass in one transaction: the rows are claimed ``FOR UPDATE SKIP LOCKED``, so two
    replicas never announce the same application, and ``overdue_notified_at`` is set with the
    event, so no later pass announces it again. Only applications whose clock runs are due:
    one waiting in ``revision_requested`` is paused, not late."""
    repo = SqlApplicationRepository(session)
    events = OutboxApplicationEvents(session)
    now = now if now is not None else datetime.now(UTC)
    claimed = await repo.claim_overdue(now=now, limit=BATCH)
    for application in claimed:
        await announce_overdue(repo=repo, events=events, application=application, now=now)
    return len(claimed)


def overdue_sweep(
    sessionmaker: async_sessionmaker[AsyncSession], *, interval: float
) -> PeriodicSweep:
    return PeriodicSweep(SWEEP_NAME, sessionmaker, announce_overdue_applications, interval=interval)
