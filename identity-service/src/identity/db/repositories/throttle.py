"""Throttle counters of logins, registrations and selfies."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import case, func, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from identity.db.tables import (
    ThrottleCounterRow,
)
from identity.domain.throttle import Counter


class ThrottleRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, key: str) -> Counter | None:
        row = await self._session.get(ThrottleCounterRow, key)
        if row is None:
            return None
        return Counter(
            count=row.count,
            window_started_at=row.window_started_at,
            blocked_until=row.blocked_until,
        )

    async def count(self, key: str, *, window: timedelta, now: datetime) -> Counter:
        statement = pg_insert(ThrottleCounterRow).values(
            key=key, count=1, window_started_at=now, expires_at=now + window
        )
        expired = ThrottleCounterRow.window_started_at <= now - window
        # One statement: replicas counting the same key at once each add one.
        row = (
            await self._session.execute(
                statement.on_conflict_do_update(
                    index_elements=[ThrottleCounterRow.key],
                    set_={
                        "count": case((expired, 1), else_=ThrottleCounterRow.count + 1),
                        "window_started_at": case(
                            (expired, now), else_=ThrottleCounterRow.window_started_at
                        ),
                        "expires_at": func.greatest(
                            ThrottleCounterRow.expires_at, statement.excluded.expires_at
                        ),
                    },
                ).returning(
                    ThrottleCounterRow.count,
                    ThrottleCounterRow.window_started_at,
                    ThrottleCounterRow.blocked_until,
                )
            )
        ).one()
        return Counter(count=row[0], window_started_at=row[1], blocked_until=row[2])

    async def block(self, key: str, *, until: datetime) -> None:
        await self._session.execute(
            update(ThrottleCounterRow)
            .where(ThrottleCounterRow.key == key)
            .values(
                blocked_until=until,
                expires_at=func.greatest(ThrottleCounterRow.expires_at, until),
            )
        )

    async def reset(self, key: str) -> None:
        await self._session.execute(
            update(ThrottleCounterRow)
            .where(ThrottleCounterRow.key == key)
            .values(count=0, blocked_until=None)
        )
