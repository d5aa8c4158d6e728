"""The token-signing keys, active and retired."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from identity.db.tables import (
    SigningKeyRow,
)
from identity.domain.keys import StoredSigningKey


def _stored_key(row: SigningKeyRow) -> StoredSigningKey:
    return StoredSigningKey(
        kid=row.kid,
        algorithm=row.algorithm,
        public_jwk=dict(row.public_jwk),
        sealed_private_key=row.private_key_sealed,
        active=row.status == "active",
        created_at=row.created_at,
        retired_at=row.retired_at,
    )


class SigningKeyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def active(self) -> StoredSigningKey | None:
        row = (
            await self._session.execute(
                select(SigningKeyRow).where(SigningKeyRow.status == "active")
            )
        ).scalar_one_or_none()
        return _stored_key(row) if row is not None else None

    async def lock_active(self) -> StoredSigningKey | None:
        row = (
            await self._session.execute(
                select(SigningKeyRow).where(SigningKeyRow.status == "active").with_for_update()
            )
        ).scalar_one_or_none()
        return _stored_key(row) if row is not None else None

    async def published(self, *, retired_since: datetime) -> list[StoredSigningKey]:
        rows = (
            await self._session.execute(
                select(SigningKeyRow)
                .where(
                    or_(
                        SigningKeyRow.status == "active",
                        SigningKeyRow.retired_at > retired_since,
                    )
                )
                .order_by(SigningKeyRow.created_at.desc())
            )
        ).scalars()
        return [_stored_key(row) for row in rows]

    async def add_active(self, key: StoredSigningKey) -> bool:
        result = await self._session.execute(
            pg_insert(SigningKeyRow)
            .values(
                kid=key.kid,
                algorithm=key.algorithm,
                public_jwk=key.public_jwk,
                private_key_sealed=key.sealed_private_key,
                status="active",
                created_at=key.created_at,
            )
            # Another replica made the first key at the same moment: keep theirs.
            .on_conflict_do_nothing()
            .returning(SigningKeyRow.kid)
        )
        return result.first() is not None

    async def retire(self, kid: str, *, at: datetime) -> None:
        await self._session.execute(
            update(SigningKeyRow)
            .where(SigningKeyRow.kid == kid)
            .values(status="retired", retired_at=at)
        )

    async def all(self) -> list[StoredSigningKey]:
        rows = (
            await self._session.execute(
                select(SigningKeyRow).order_by(SigningKeyRow.created_at.desc())
            )
        ).scalars()
        return [_stored_key(row) for row in rows]
