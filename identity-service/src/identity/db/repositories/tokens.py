"""Authorization codes, refresh-token families and their refresh tokens."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from identity.db.tables import (
    AuthorizationCodeRow,
    RefreshTokenRow,
    TokenFamilyRow,
)
from identity.domain.ports import (
    AuthorizationCodeRecord,
    RefreshTokenRecord,
)


class TokenRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add_code(self, record: AuthorizationCodeRecord) -> None:
        self._session.add(
            AuthorizationCodeRow(
                code_hash=record.code_hash,
                client_id=record.client_id,
                account_id=record.account_id,
                redirect_uri=record.redirect_uri,
                scope=list(record.scope),
                code_challenge=record.code_challenge,
                nonce=record.nonce,
                auth_time=record.auth_time,
                expires_at=record.expires_at,
            )
        )
        await self._session.flush()

    async def code_for_update(self, code_hash: str) -> AuthorizationCodeRecord | None:
        row = (
            await self._session.execute(
                select(AuthorizationCodeRow)
                .where(AuthorizationCodeRow.code_hash == code_hash)
                .with_for_update()
            )
        ).scalar_one_or_none()
        if row is None:
            return None
        return AuthorizationCodeRecord(
            code_hash=row.code_hash,
            client_id=row.client_id,
            account_id=row.account_id,
            redirect_uri=row.redirect_uri,
            scope=tuple(row.scope),
            code_challenge=row.code_challenge,
            nonce=row.nonce,
            auth_time=row.auth_time,
            expires_at=row.expires_at,
            used_at=row.used_at,
            family_id=row.family_id,
        )

    async def mark_code_used(self, code_hash: str, *, family_id: uuid.UUID | None) -> None:
        await self._session.execute(
            update(AuthorizationCodeRow)
            .where(AuthorizationCodeRow.code_hash == code_hash)
            .values(used_at=func.now(), family_id=family_id)
        )

    async def create_family(
        self,
        *,
        account_id: uuid.UUID,
        client_id: str,
        scope: Sequence[str],
        auth_time: datetime,
    ) -> uuid.UUID:
        family_id = uuid.uuid4()
        self._session.add(
            TokenFamilyRow(
                id=family_id,
                account_id=account_id,
                client_id=client_id,
                scope=list(scope),
                auth_time=auth_time,
            )
        )
        await self._session.flush()
        return family_id

    async def add_refresh_token(
        self, *, token_hash: str, family_id: uuid.UUID, expires_at: datetime
    ) -> None:
        self._session.add(
            RefreshTokenRow(token_hash=token_hash, family_id=family_id, expires_at=expires_at)
        )
        await self._session.flush()

    async def refresh_token_for_update(self, token_hash: str) -> RefreshTokenRecord | None:
        row = (
            await self._session.execute(
                select(RefreshTokenRow, TokenFamilyRow)
                .join(TokenFamilyRow, TokenFamilyRow.id == RefreshTokenRow.family_id)
                .where(RefreshTokenRow.token_hash == token_hash)
                .with_for_update()
            )
        ).first()
        if row is None:
            return None
        token, family = row[0], row[1]
        return RefreshTokenRecord(
            token_hash=token.token_hash,
            family_id=family.id,
            account_id=family.account_id,
            client_id=family.client_id,
            scope=tuple(family.scope),
            auth_time=family.auth_time,
            expires_at=token.expires_at,
            used_at=token.used_at,
            family_revoked_at=family.revoked_at,
        )

    async def mark_refresh_token_used(self, token_hash: str) -> None:
        await self._session.execute(
            update(RefreshTokenRow)
            .where(RefreshTokenRow.token_hash == token_hash)
            .values(used_at=func.now())
        )

    async def revoke_family(self, family_id: uuid.UUID, *, reason: str) -> bool:
        result = await self._session.execute(
            update(TokenFamilyRow)
            .where(TokenFamilyRow.id == family_id, TokenFamilyRow.revoked_at.is_(None))
            .values(revoked_at=func.now(), revoked_reason=reason)
            .returning(TokenFamilyRow.id)
        )
        return result.first() is not None

    async def revoke_families(self, account_id: uuid.UUID, *, scope: str, reason: str) -> int:
        result = await self._session.execute(
            update(TokenFamilyRow)
            .where(
                TokenFamilyRow.account_id == account_id,
                TokenFamilyRow.revoked_at.is_(None),
                TokenFamilyRow.scope.contains([scope]),
            )
            .values(revoked_at=func.now(), revoked_reason=reason)
            .returning(TokenFamilyRow.id)
        )
        return len(result.all())

    async def family_owner(self, family_id: uuid.UUID) -> uuid.UUID | None:
        row = await self._session.get(TokenFamilyRow, family_id)
        return row.account_id if row is not None else None
