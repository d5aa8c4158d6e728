"""Prefill consents citizens gave to services."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from identity.db.tables import (
    ConsentRow,
)
from identity.domain.models import (
    Consent,
    PageRequest,
)

_CONSENTS = cast(Table, ConsentRow.__table__)
_ACTIVE_FOR = select(_CONSENTS).where(
    _CONSENTS.c.account_id == bindparam("account_id"),
    _CONSENTS.c.service_id == bindparam("service_id"),
    _CONSENTS.c.revoked_at.is_(None),
)
_INSERT = insert(_CONSENTS)


def _consent(row: Any) -> Consent:
    """From a ``ConsentRow`` or a Core row of the ``consents`` table."""
    return Consent(
        id=row.id,
        account_id=row.account_id,
        service_id=row.service_id,
        fields=tuple(row.fields),
        purpose=row.purpose,
        granted_at=row.granted_at,
        granted_via=row.granted_via,
        revoked_at=row.revoked_at,
    )


class ConsentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def active_for(self, account_id: uuid.UUID, service_id: uuid.UUID) -> Consent | None:
        # Core: the row read straight into the domain object (the prefill path reads it twice).
        row = (
            await self._session.execute(
                _ACTIVE_FOR, {"account_id": account_id, "service_id": service_id}
            )
        ).one_or_none()
        return _consent(row) if row is not None else None

    async def add(self, consent: Consent) -> None:
        await self._session.execute(
            _INSERT,
            {
                "id": consent.id,
                "account_id": consent.account_id,
                "service_id": consent.service_id,
                "fields": list(consent.fields),
                "purpose": consent.purpose,
                "granted_via": consent.granted_via,
                "granted_at": consent.granted_at,
            },
        )

    async def replace_fields(
        self, consent_id: uuid.UUID, *, fields: Sequence[str], purpose: str, at: datetime
    ) -> None:
        await self._session.execute(
            update(ConsentRow)
            .where(ConsentRow.id == consent_id)
            .values(fields=list(fields), purpose=purpose, granted_at=at)
        )

    async def get(self, account_id: uuid.UUID, consent_id: uuid.UUID) -> Consent | None:
        row = (
            await self._session.execute(
                select(ConsentRow).where(
                    ConsentRow.id == consent_id, ConsentRow.account_id == account_id
                )
            )
        ).scalar_one_or_none()
        return _consent(row) if row is not None else None

    async def revoke(self, consent_id: uuid.UUID, *, at: datetime) -> None:
        await self._session.execute(
            update(ConsentRow)
            .where(ConsentRow.id == consent_id, ConsentRow.revoked_at.is_(None))
            .values(revoked_at=at)
        )

    async def list(self, account_id: uuid.UUID, *, page: PageRequest) -> list[Consent]:
        statement = select(ConsentRow).where(ConsentRow.account_id == account_id)
        if page.after is not None:
            at, last_id = page.after
            statement = statement.where(
                or_(
                    ConsentRow.granted_at < at,
                    and_(ConsentRow.granted_at == at, ConsentRow.id < uuid.UUID(last_id)),
                )
            )
        statement = statement.order_by(ConsentRow.granted_at.desc(), ConsentRow.id.desc())
        rows = (await self._session.execute(statement.limit(page.limit))).scalars().all()
        return [_consent(row) for row in rows]
