"""Recording an event in the caller's transaction: the producing half of the outbox."""

from __future__ import annotations

from sqlalchemy import bindparam, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from mpp_shared.events.envelope import CloudEvent
from mpp_shared.events.tables import outbox

# The channel the relay LISTENs on; PostgreSQL delivers the NOTIFY only when (and if) the
# transaction commits, so a rolled-back event wakes nobody.
OUTBOX_CHANNEL = "mpp_outbox"


# One statement, built once: the row and the wake-up of the relays in a single round trip.
# clock_timestamp(), not now(): several events of one transaction must keep the order they
# were recorded in, and now() is the same for the whole transaction.
_recorded = (
    insert(outbox)
    .values(
        id=bindparam("id"),
        subject=bindparam("subject"),
        envelope=bindparam("envelope", type_=outbox.c.envelope.type),
        created_at=func.clock_timestamp(),
    )
    .returning(outbox.c.id)
    .cte("recorded")
)
# Several notifications of one channel and payload in one transaction are folded into one by
# PostgreSQL, and none is delivered if the transaction rolls back.
_RECORD = select(func.pg_notify(OUTBOX_CHANNEL, "")).select_from(_recorded)


async def record_event(session: AsyncSession, event: CloudEvent) -> None:
    """Add ``event`` to the outbox in the session's current transaction; never commits.

    The event is published if and only if the caller's transaction commits.
    """
    await session.execute(
        _RECORD,
        {"id": event.event_id, "subject": event.nats_subject, "envelope": event.to_json_dict()},
    )
