"""Recording an event in the caller's transaction: the producing half of the outbox."""

from __future__ import annotations

from sqlalchemy import func, insert, text
from sqlalchemy.ext.asyncio import AsyncSession

from mpp_shared.events.envelope import CloudEvent
from mpp_shared.events.tables import outbox

# The channel the relay LISTENs on; PostgreSQL delivers the NOTIFY only when (and if) the
# transaction commits, so a rolled-back event wakes nobody.
OUTBOX_CHANNEL = "mpp_outbox"


async def record_event(session: AsyncSession, event: CloudEvent) -> None:
    """Add ``event`` to the outbox in the session's current transaction; never commits.

    The event is published if and only if the caller's transaction commits.
    """
    await session.execute(
        insert(outbox).values(
            id=event.event_id,
            subject=event.nats_subject,
            envelope=event.to_json_dict(),
            # clock_timestamp(), not now(): several events of one transaction must keep the
            # order they were recorded in, and now() is the same for the whole transaction.
            created_at=func.clock_timestamp(),
        )
    )
    # Several NOTIFYs in one transaction are folded into one by PostgreSQL.
    await session.execute(text(f"NOTIFY {OUTBOX_CHANNEL}"))
