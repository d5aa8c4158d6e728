"""The SQL behind ``application.domain.bookings.BookingRepository`` (never commits)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, or_, select, update
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from application.db.repositories import SqlApplicationRepository, position_of
from application.db.tables import BookingRow, BookingSlotRow, QueueSerialRow
from application.domain.bookings import Booking, BookingStatus, CounterStats
from application.domain.exceptions import BookingExists
from application.domain.models import ServiceVersionCopy

UNIQUE_ACTIVE = "uq_bookings_active"


class SqlBookingRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def service_version(self, service_id: uuid.UUID) -> ServiceVersionCopy | None:
        return await SqlApplicationRepository(self.session).service_version(service_id)

    # ---- places ---------------------------------------------------------------------------------

    async def booked_places(
        self, counter_ids: list[uuid.UUID], *, start: datetime, end: datetime
    ) -> dict[tuple[uuid.UUID, datetime], int]:
        rows = await self.session.execute(
            select(
                BookingSlotRow.counter_id, BookingSlotRow.slot_start, BookingSlotRow.booked
            ).where(
                BookingSlotRow.counter_id.in_(counter_ids),
                BookingSlotRow.slot_start >= start,
                BookingSlotRow.slot_start < end,
            )
        )
        return {(row.counter_id, row.slot_start): row.booked for row in rows}

    async def take_place(
        self, *, counter_id: uuid.UUID, slot_start: datetime, capacity: int
    ) -> bool:
        # One statement: the first booking inserts the row, later ones update it under its row
        # lock and only while a place is free. A concurrent booking of the last place waits for
        # the lock, then sees the place taken and gets no row back.
        if capacity < 1:
            return False
        insert = pg_insert(BookingSlotRow).values(
            counter_id=counter_id, slot_start=slot_start, booked=1
        )
        taken = await self.session.scalar(
            insert.on_conflict_do_update(
                index_elements=[BookingSlotRow.counter_id, BookingSlotRow.slot_start],
                set_={"booked": BookingSlotRow.booked + 1},
                where=BookingSlotRow.booked < capacity,
            ).returning(BookingSlotRow.booked)
        )
        return taken is not None

    async def release_place(self, *, counter_id: uuid.UUID, slot_start: datetime) -> None:
        await self.session.execute(
            update(BookingSlotRow)
            .where(
                BookingSlotRow.counter_id == counter_id,
                BookingSlotRow.slot_start == slot_start,
                BookingSlotRow.booked > 0,
            )
            .values(booked=BookingSlotRow.booked - 1)
        )

    # ---- bookings -------------------------------------------------------------------------------

    async def add(self, booking: Booking) -> None:
        try:
            async with self.session.begin_nested():
                self.session.add(BookingRow(**_values(booking)))
        except IntegrityError as exc:
            if UNIQUE_ACTIVE in str(exc.orig):
                raise BookingExists() from None
            raise

    async def get(self, booking_id: uuid.UUID, *, lock: bool = False) -> Booking | None:
        query = select(BookingRow).where(BookingRow.id == booking_id)
        if lock:
            query = query.with_for_update()
        row = await self.session.scalar(query.execution_options(populate_existing=True))
        return _booking(row) if row is not None else None

    async def save(self, booking: Booking) -> None:
        values = _values(booking)
        values.pop("id")
        await self.session.execute(
            update(BookingRow)
            .where(BookingRow.id == booking.id)
            .values(**values)
            .execution_options(synchronize_session=False)
        )

    async def list_owned(
        self, account_id: uuid.UUID, *, limit: int, after: Mapping[str, Any] | None
    ) -> tuple[list[Booking], dict[str, Any] | None]:
        query = select(BookingRow).where(BookingRow.account_id == account_id)
        if after is not None:
            start, last_id = position_of(after, "s")
            query = query.where(
                or_(
                    BookingRow.slot_start < start,
                    and_(BookingRow.slot_start == start, BookingRow.id < last_id),
                )
            )
        rows = list(
            await self.session.scalars(
                query.order_by(BookingRow.slot_start.desc(), BookingRow.id.desc()).limit(limit + 1)
            )
        )
        items = [_booking(row) for row in rows[:limit]]
        position = None
        if len(rows) > limit:
            position = {"s": items[-1].slot_start.isoformat(), "i": str(items[-1].id)}
        return items, position

    async def count_no_shows(self, account_id: uuid.UUID, *, since: datetime) -> int:
        found = await self.session.scalar(
            select(func.count())
            .select_from(BookingRow)
            .where(
                BookingRow.account_id == account_id,
                BookingRow.status == BookingStatus.NO_SHOW.value,
                BookingRow.no_show_at >= since,
            )
        )
        return int(found or 0)

    async def next_queue_serial(self, *, location_id: uuid.UUID, day: date, letter: str) -> int:
        insert = pg_insert(QueueSerialRow).values(
            location_id=location_id, day=day, letter=letter, last_serial=1
        )
        serial = await self.session.scalar(
            insert.on_conflict_do_update(
                index_elements=[
                    QueueSerialRow.location_id,
                    QueueSerialRow.day,
                    QueueSerialRow.letter,
                ],
                set_={"last_serial": QueueSerialRow.last_serial + 1},
            ).returning(QueueSerialRow.last_serial)
        )
        assert serial is not None
        return int(serial)

    async def called_at_counter(self, counter_id: uuid.UUID, day: date) -> Booking | None:
        row = await self.session.scalar(
            select(BookingRow)
            .where(
                BookingRow.counter_id == counter_id,
                BookingRow.day == day,
                BookingRow.status == BookingStatus.CALLED.value,
            )
            .order_by(BookingRow.called_at.desc())
            .limit(1)
        )
        return _booking(row) if row is not None else None

    async def next_waiting(self, counter_id: uuid.UUID, day: date) -> Booking | None:
        row = await self.session.scalar(
            select(BookingRow)
            .where(
                BookingRow.counter_id == counter_id,
                BookingRow.day == day,
                BookingRow.status == BookingStatus.CHECKED_IN.value,
            )
            .order_by(BookingRow.slot_start, BookingRow.checked_in_at, BookingRow.id)
            .limit(1)
            .with_for_update(skip_locked=True)
            .execution_options(populate_existing=True)
        )
        return _booking(row) if row is not None else None

    async def counter_stats(
        self, location_id: uuid.UUID, day: date
    ) -> dict[uuid.UUID, CounterStats]:
        served = BookingRow.status == BookingStatus.SERVED.value
        seconds = func.extract("epoch", BookingRow.served_at - BookingRow.called_at)
        rows = await self.session.execute(
            select(
                BookingRow.counter_id,
                func.count()
                .filter(BookingRow.status == BookingStatus.CHECKED_IN.value)
                .label("waiting"),
                func.count().filter(served).label("served"),
                func.coalesce(func.sum(case((served, seconds), else_=None)), 0).label("seconds"),
            )
            .where(BookingRow.location_id == location_id, BookingRow.day == day)
            .group_by(BookingRow.counter_id)
        )
        calling = await self.session.execute(
            select(BookingRow.counter_id, BookingRow.queue_number)
            .where(
                BookingRow.location_id == location_id,
                BookingRow.day == day,
                BookingRow.called_at.is_not(None),
            )
            .ext(distinct_on(BookingRow.counter_id))
            .order_by(BookingRow.counter_id, BookingRow.called_at.desc())
        )
        serving = {row.counter_id: row.queue_number for row in calling}
        return {
            row.counter_id: CounterStats(
                now_serving=serving.get(row.counter_id),
                waiting=int(row.waiting),
                served=int(row.served),
                service_seconds_total=float(row.seconds),
            )
            for row in rows
        }

    # ---- the clock ------------------------------------------------------------------------------

    async def claim_reminders(self, *, now: datetime, limit: int) -> list[Booking]:
        rows = await self.session.scalars(
            select(BookingRow)
            .where(
                BookingRow.status == BookingStatus.BOOKED.value,
                BookingRow.reminded_at.is_(None),
                BookingRow.remind_at.is_not(None),
                BookingRow.remind_at <= now,
                BookingRow.slot_start > now,
            )
            .order_by(BookingRow.remind_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .execution_options(populate_existing=True)
        )
        return [_booking(row) for row in rows]

    async def claim_unattended(
        self, *, now: datetime, grace: timedelta, limit: int
    ) -> list[Booking]:
        rows = await self.session.scalars(
            select(BookingRow)
            .where(
                and_(
                    BookingRow.status == BookingStatus.BOOKED.value,
                    BookingRow.slot_end < now - grace,
                )
            )
            .order_by(BookingRow.slot_end)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .execution_options(populate_existing=True)
        )
        return [_booking(row) for row in rows]


def _values(booking: Booking) -> dict[str, Any]:
    return {
        "id": booking.id,
        "account_id": booking.account_id,
        "service_id": booking.service_id,
        "service_name": booking.service_name,
        "agency_id": booking.agency_id,
        "location_id": booking.location_id,
        "location_name": booking.location_name,
        "counter_id": booking.counter_id,
        "counter_label": booking.counter_label,
        "counter_letter": booking.counter_letter,
        "day": booking.day,
        "slot_start": booking.slot_start,
        "slot_end": booking.slot_end,
        "timezone": booking.timezone,
        "status": booking.status.value,
        "queue_number": booking.queue_number,
        "remind_at": booking.remind_at,
        "reminded_at": booking.reminded_at,
        "checked_in_at": booking.checked_in_at,
        "called_at": booking.called_at,
        "served_at": booking.served_at,
        "no_show_at": booking.no_show_at,
        "cancelled_at": booking.cancelled_at,
        "created_at": booking.created_at,
        "updated_at": booking.updated_at,
        "event_sequence": booking.event_sequence,
    }


def _booking(row: BookingRow) -> Booking:
    return Booking(
        id=row.id,
        account_id=row.account_id,
        service_id=row.service_id,
        service_name=row.service_name,
        agency_id=row.agency_id,
        location_id=row.location_id,
        location_name=row.location_name,
        counter_id=row.counter_id,
        counter_label=row.counter_label,
        counter_letter=row.counter_letter,
        day=row.day,
        slot_start=row.slot_start,
        slot_end=row.slot_end,
        timezone=row.timezone,
        status=BookingStatus(row.status),
        queue_number=row.queue_number,
        remind_at=row.remind_at,
        reminded_at=row.reminded_at,
        checked_in_at=row.checked_in_at,
        called_at=row.called_at,
        served_at=row.served_at,
        no_show_at=row.no_show_at,
        cancelled_at=row.cancelled_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
        event_sequence=row.event_sequence,
    )
