"""Deleting what has expired."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from identity.db.tables import (
    AuthorizationCodeRow,
    RefreshTokenRow,
    ThrottleCounterRow,
)
from mpp_shared.idempotency import purge_expired as purge_expired_idempotency_keys


class Housekeeping:
    """Deletes what has expired; harmless when replicas do it at the same time."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def purge(self, *, now: datetime, keep_used_for: timedelta) -> int:
        removed = 0
        for statement in (
            delete(AuthorizationCodeRow).where(
                AuthorizationCodeRow.expires_at < now - keep_used_for
            ),
            delete(RefreshTokenRow).where(RefreshTokenRow.expires_at < now),
            delete(ThrottleCounterRow).where(ThrottleCounterRow.expires_at < now),
        ):
            result = await self._session.execute(statement)
            removed += getattr(result, "rowcount", 0) or 0
        return removed + await purge_expired_idempotency_keys(self._session, now=now)
