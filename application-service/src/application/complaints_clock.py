"""The complaints' clock: each case not answered within its response time is announced once."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from application.db.complaints import SqlComplaintRepository
from application.domain.complaints import announce_overdue
from application.messaging.publishers import OutboxComplaintEvents
from mpp_shared.scheduler import PeriodicSweep

SWEEP_NAME = "application-complaints-overdue"
BATCH = 100


async def announce_overdue_complaints(session: AsyncSession, *, now: datetime | None = None) -> int:
    """One pass: unanswered cases past their due time, claimed ``FOR UPDATE SKIP LOCKED`` and
    marked with their event (``overdue_notified_at``), so each is announced once."""
    repo = SqlComplaintRepository(session)
    events = OutboxComplaintEvents(session)
    now = now or datetime.now(UTC)
    claimed = await repo.claim_unanswered(now=now, limit=BATCH)
    for complaint in claimed:
        await announce_overdue(repo=repo, events=events, complaint=complaint, now=now)
    return len(claimed)


def complaint_sweep(
    sessionmaker: async_sessionmaker[AsyncSession], *, interval: float
) -> PeriodicSweep:
    return PeriodicSweep(SWEEP_NAME, sessionmaker, announce_overdue_complaints, interval=interval)
