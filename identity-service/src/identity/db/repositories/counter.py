"""Identity checks made in person at a counter, and the level they raised."""

from __future__ import annotations

from sqlalchemy import func, update
from sqlalchemy.ext.asyncio import AsyncSession

from identity.db.tables import AccountRow, CounterVerificationRow
from identity.domain.models import CounterVerification


class CounterVerificationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def record(self, verification: CounterVerification) -> bool:
        """Keep the check; raise the account to its level. False: the level was already there."""
        self._session.add(
            CounterVerificationRow(
                id=verification.id,
                account_id=verification.account_id,
                method=verification.method,
                officer_account_id=verification.officer_account_id,
                agency_id=verification.agency_id,
                assurance_level=verification.assurance_level,
                verified_at=verification.verified_at,
            )
        )
        result = await self._session.execute(
            update(AccountRow)
            .where(
                AccountRow.id == verification.account_id,
                AccountRow.assurance_level < verification.assurance_level,
            )
            .values(assurance_level=verification.assurance_level, updated_at=func.now())
            .returning(AccountRow.id)
        )
        await self._session.flush()
        return result.first() is not None
