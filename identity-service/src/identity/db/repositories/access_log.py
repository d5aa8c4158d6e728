"""The personal-data access log: who read a citizen's registry data."""

from __future__ import annotations

import uuid
from typing import cast

from sqlalchemy import Table, and_, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from identity.db.tables import (
    AccessLogRow,
)
from identity.domain.models import (
    AccessLogEntry,
    PageRequest,
)

_INSERT = insert(cast(Table, AccessLogRow.__table__))


class AccessLogRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, entry: AccessLogEntry) -> None:
        # A Core insert in the caller's transaction: no unit of work for a row never read back.
        await self._session.execute(
            _INSERT,
            {
                "id": entry.id,
                "account_id": entry.account_id,
                "accessed_at": entry.accessed_at,
                "accessor": entry.accessor,
                "accessor_kind": entry.accessor_kind,
                "purpose": entry.purpose,
                "fields": list(entry.fields),
                "service_id": entry.service_id,
                "consent_id": entry.consent_id,
            },
        )

    async def list(self, account_id: uuid.UUID, *, page: PageRequest) -> list[AccessLogEntry]:
        statement = select(AccessLogRow).where(AccessLogRow.account_id == account_id)
        if page.after is not None:
            at, last_id = page.after
            statement = statement.where(
                or_(
                    AccessLogRow.accessed_at < at,
                    and_(AccessLogRow.accessed_at == at, AccessLogRow.id < uuid.UUID(last_id)),
                )
            )
        statement = statement.order_by(AccessLogRow.accessed_at.desc(), AccessLogRow.id.desc())
        rows = (await self._session.execute(statement.limit(page.limit))).scalars().all()
        return [
            AccessLogEntry(
                id=row.id,
                account_id=row.account_id,
                accessed_at=row.accessed_at,
                accessor=row.accessor,
                accessor_kind=row.accessor_kind,
                purpose=row.purpose,
                fields=tuple(row.fields),
                service_id=row.service_id,
                consent_id=row.consent_id,
            )
            for row in rows
        ]
