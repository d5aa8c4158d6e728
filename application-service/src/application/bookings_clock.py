"""The booking clock's background job: day-before reminders, and no-shows nobody checked in for."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from application.db.bookings import SqlBookingRepository
from application.domain.bookings import BookingPolicy, expire_unattended, send_reminder
from application.messaging.publishers import OutboxBookingEvents
from mpp_shared.scheduler import ClaimAndHandle, PeriodicSweep

SWEEP_NAME = "application-bookings"
BATCH = 100


async def run_booking_clock(session: AsyncSession, *, policy: BookingPolicy, now: datetime) -> int:
    """One pass in one transaction; rows are claimed ``FOR UPDATE SKIP LOCKED`` and marked
    (``reminded_at``, status ``no_show``) with their event, so each is handled once."""
    repo = SqlBookingRepository(session)
    events = OutboxBookingEvents(session)
    reminders = await repo.claim_reminders(now=now, limit=BATCH)
    for booking in reminders:
        await send_reminder(events=events, repo=repo, booking=booking, now=now)
    unattended = await repo.claim_unattended(
        now=now, grace=timedelta(minutes=policy.no_show_grace_minutes), limit=BATCH
    )
    for booking in unattended:
        await expire_unattended(events=events, repo=repo, booking=booking, now=now)
    return len(reminders) + len(unattended)


def booking_pass(policy: BookingPolicy) -> ClaimAndHandle:
    async def run(session: AsyncSession) -> int:
        return await run_booking_clock(session, policy=policy, now=datetime.now(UTC))

    return run


def booking_sweep(
    sessionmaker: async_sessionmaker[AsyncSession], *, policy: BookingPolicy, interval: float
) -> PeriodicSweep:
    return PeriodicSweep(SWEEP_NAME, sessionmaker, booking_pass(policy), interval=interval)
