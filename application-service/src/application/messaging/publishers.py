"""Writes the application, booking and complaint events to the outbox, in the transaction of the
change they report."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from mpp_shared.contracts.application import v1 as contract
from mpp_shared.events.envelope import new_event
from mpp_shared.events.outbox import record_event


class OutboxApplicationEvents:
    """Implements ``application.domain.ports.ApplicationEvents``."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def record(self, event_type: str, payload: contract.ApplicationEvent) -> None:
        event = new_event(
            type=event_type,
            source=contract.SOURCE,
            subject=str(payload.application_id),
            data=payload,
        )
        await record_event(self.session, event)


class OutboxBookingEvents:
    """Implements ``application.domain.bookings.BookingEvents``."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def record(self, event_type: str, payload: contract.BookingEvent) -> None:
        event = new_event(
            type=event_type, source=contract.SOURCE, subject=str(payload.booking_id), data=payload
        )
        await record_event(self.session, event)


class OutboxComplaintEvents:
    """Implements ``application.domain.complaints.ComplaintEvents``."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def record(self, event_type: str, payload: contract.ComplaintEvent) -> None:
        event = new_event(
            type=event_type, source=contract.SOURCE, subject=str(payload.complaint_id), data=payload
        )
        await record_event(self.session, event)
