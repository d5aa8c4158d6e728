"""Queries of assisted filing at a counter: who filed, and the applications waiting for an owner."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from application.db.tables import ApplicationRow, CounterFilingRow
from application.domain.models import CounterFiling


class SqlCounterFilings:
    """Implements ``application.domain.counter_filing.CounterFilings``."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, filing: CounterFiling) -> None:
        self._session.add(
            CounterFilingRow(
                application_id=filing.application_id,
                filed_by=filing.filed_by,
                officer_name=filing.officer_name,
                resident_key=filing.resident_key,
                filed_at=filing.filed_at,
            )
        )
        await self._session.flush()

    async def get(self, application_id: uuid.UUID) -> CounterFiling | None:
        row = await self._session.get(CounterFilingRow, application_id)
        if row is None:
            return None
        return CounterFiling(
            application_id=row.application_id,
            filed_by=row.filed_by,
            officer_name=row.officer_name,
            resident_key=row.resident_key,
            filed_at=row.filed_at,
            linked_account_id=row.linked_account_id,
            linked_at=row.linked_at,
        )

    async def waiting_for(self, key: str) -> list[uuid.UUID]:
        statement = (
            select(CounterFilingRow.application_id)
            .where(CounterFilingRow.resident_key == key, CounterFilingRow.linked_at.is_(None))
            .order_by(CounterFilingRow.filed_at, CounterFilingRow.application_id)
            .with_for_update()
        )
        return list((await self._session.execute(statement)).scalars().all())

    async def link(self, application_id: uuid.UUID, *, owner: uuid.UUID, at: datetime) -> None:
        await self._session.execute(
            update(ApplicationRow)
            .where(ApplicationRow.id == application_id, ApplicationRow.owner_account_id.is_(None))
            .values(owner_account_id=owner)
        )
        await self._session.execute(
            update(CounterFilingRow)
            .where(CounterFilingRow.application_id == application_id)
            .values(linked_account_id=owner, linked_at=at, resident_key=None)
        )
