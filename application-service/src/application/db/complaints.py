"""The SQL behind ``application.domain.complaints.ComplaintRepository`` (never commits)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from application.db.repositories import SqlApplicationRepository
from application.db.tables import (
    ComplaintCounterRow,
    ComplaintMessageRow,
    ComplaintRow,
    ComplaintSettingsRow,
)
from application.domain.complaints import Complaint, ComplaintStatus, Contact, Message
from application.domain.models import Application, ServiceVersionCopy


class SqlComplaintRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def service_version(self, service_id: uuid.UUID) -> ServiceVersionCopy | None:
        return await SqlApplicationRepository(self.session).service_version(service_id)

    async def application(self, application_id: uuid.UUID) -> Application | None:
        return await SqlApplicationRepository(self.session).get(application_id)

    async def response_working_days(self, agency_id: uuid.UUID) -> int | None:
        row = await self.session.get(ComplaintSettingsRow, agency_id)
        return row.response_working_days if row is not None else None

    async def set_response_working_days(self, agency_id: uuid.UUID, days: int) -> None:
        insert = pg_insert(ComplaintSettingsRow).values(
            agency_id=agency_id, response_working_days=days
        )
        await self.session.execute(
            insert.on_conflict_do_update(
                index_elements=[ComplaintSettingsRow.agency_id],
                set_={"response_working_days": days},
            )
        )

    async def next_serial(self, *, region_code: str, year: int) -> int:
        insert = pg_insert(ComplaintCounterRow).values(
            region_code=region_code, year=year, last_serial=1
        )
        serial = await self.session.scalar(
            insert.on_conflict_do_update(
                index_elements=[ComplaintCounterRow.region_code, ComplaintCounterRow.year],
                set_={"last_serial": ComplaintCounterRow.last_serial + 1},
            ).returning(ComplaintCounterRow.last_serial)
        )
        assert serial is not None
        return int(serial)

    async def add(self, complaint: Complaint) -> None:
        self.session.add(ComplaintRow(id=complaint.id, **_values(complaint)))
        await self.session.flush()

    async def get(self, complaint_id: uuid.UUID, *, lock: bool = False) -> Complaint | None:
        return await self._one(select(ComplaintRow).where(ComplaintRow.id == complaint_id), lock)

    async def by_number(self, tracking_number: str, *, lock: bool = False) -> Complaint | None:
        query = select(ComplaintRow).where(ComplaintRow.tracking_number == tracking_number)
        return await self._one(query, lock)

    async def _one(self, query: Any, lock: bool) -> Complaint | None:
        if lock:
            query = query.with_for_update()
        row = await self.session.scalar(query.execution_options(populate_existing=True))
        if row is None:
            return None
        complaint = _complaint(row)
        messages = await self.session.scalars(
            select(ComplaintMessageRow)
            .where(ComplaintMessageRow.complaint_id == row.id)
            .order_by(ComplaintMessageRow.created_at, ComplaintMessageRow.id)
        )
        complaint.messages = [
            Message(
                id=m.id,
                complaint_id=m.complaint_id,
                author_kind=m.author_kind,  # type: ignore[arg-type]
                text=m.text,
                created_at=m.created_at,
                public=m.public,
            )
            for m in messages
        ]
        return complaint

    async def save(self, complaint: Complaint) -> None:
        await self.session.execute(
            update(ComplaintRow)
            .where(ComplaintRow.id == complaint.id)
            .values(**_values(complaint))
            .execution_options(synchronize_session=False)
        )

    async def add_message(self, message: Message) -> None:
        self.session.add(
            ComplaintMessageRow(
                id=message.id,
                complaint_id=message.complaint_id,
                author_kind=message.author_kind,
                text=message.text,
                created_at=message.created_at,
                public=message.public,
            )
        )
        await self.session.flush()

    async def list_for_account(self, account_id: uuid.UUID, *, limit: int) -> list[Complaint]:
        rows = await self.session.scalars(
            select(ComplaintRow)
            .where(ComplaintRow.account_id == account_id)
            .order_by(ComplaintRow.created_at.desc(), ComplaintRow.id.desc())
            .limit(limit)
        )
        return [_complaint(row) for row in rows]

    async def list_for_agency(
        self, agency_id: uuid.UUID, *, status: ComplaintStatus | None, limit: int
    ) -> list[Complaint]:
        query = select(ComplaintRow).where(ComplaintRow.agency_id == agency_id)
        if status is not None:
            query = query.where(ComplaintRow.status == status.value)
        rows = await self.session.scalars(
            query.order_by(ComplaintRow.response_due_at, ComplaintRow.id).limit(limit)
        )
        return [_complaint(row) for row in rows]

    async def in_period(
        self, agency_id: uuid.UUID, *, start: datetime, end: datetime
    ) -> list[Complaint]:
        rows = await self.session.scalars(
            select(ComplaintRow).where(
                ComplaintRow.agency_id == agency_id,
                ComplaintRow.created_at >= start,
                ComplaintRow.created_at < end,
            )
        )
        return [_complaint(row) for row in rows]

    async def claim_unanswered(self, *, now: datetime, limit: int) -> list[Complaint]:
        rows = await self.session.scalars(
            select(ComplaintRow)
            .where(
                ComplaintRow.answered_at.is_(None),
                ComplaintRow.overdue_notified_at.is_(None),
                ComplaintRow.status != ComplaintStatus.CLOSED.value,
                ComplaintRow.response_due_at < now,
            )
            .order_by(ComplaintRow.response_due_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .execution_options(populate_existing=True)
        )
        return [_complaint(row) for row in rows]


def _values(complaint: Complaint) -> dict[str, Any]:
    return {
        "tracking_number": complaint.tracking_number,
        "code_hash": complaint.code_hash,
        "kind": complaint.kind,
        "account_id": complaint.account_id,
        "contact_name": complaint.contact.name,
        "contact_email": complaint.contact.email,
        "contact_phone": complaint.contact.phone,
        "service_id": complaint.service_id,
        "service_name": complaint.service_name,
        "agency_id": complaint.agency_id,
        "timezone": complaint.timezone,
        "application_id": complaint.application_id,
        "subject": complaint.subject,
        "status": complaint.status.value,
        "response_due_at": complaint.response_due_at,
        "answered_at": complaint.answered_at,
        "closed_at": complaint.closed_at,
        "lapor_reference": complaint.lapor_reference,
        "overdue_notified_at": complaint.overdue_notified_at,
        "created_at": complaint.created_at,
        "updated_at": complaint.updated_at,
        "event_sequence": complaint.event_sequence,
    }


def _complaint(row: ComplaintRow) -> Complaint:
    return Complaint(
        id=row.id,
        tracking_number=row.tracking_number,
        code_hash=row.code_hash,
        kind=row.kind,  # type: ignore[arg-type]
        account_id=row.account_id,
        contact=Contact(name=row.contact_name, email=row.contact_email, phone=row.contact_phone),
        service_id=row.service_id,
        service_name=row.service_name,
        agency_id=row.agency_id,
        timezone=row.timezone,
        application_id=row.application_id,
        subject=row.subject,
        status=ComplaintStatus(row.status),
        response_due_at=row.response_due_at,
        answered_at=row.answered_at,
        closed_at=row.closed_at,
        lapor_reference=row.lapor_reference,
        overdue_notified_at=row.overdue_notified_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
        event_sequence=row.event_sequence,
    )
