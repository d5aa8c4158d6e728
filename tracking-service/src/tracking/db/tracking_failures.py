"""Wrong tracking codes per registration number, counted over a sliding window."""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import (
    BigInteger,
    DateTime,
    Identity,
    String,
    Table,
    bindparam,
    delete,
    insert,
    text,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from tracking.db.tables import Base


class TrackingFailure(Base):
    __tablename__ = "tracking_failures"

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    registration_number: Mapped[str] = mapped_column(String(64))
    failed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


FAILURES = cast(Table, TrackingFailure.__table__)

_LOCK_NUMBER = text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 7))")

# One statement: the failure counted, and the number's failures that left the window dropped.
_RECORD_FAILURE = (
    insert(FAILURES)
    .values(registration_number=bindparam("number"), failed_at=bindparam("at"))
    .add_cte(
        delete(FAILURES)
        .where(
            FAILURES.c.registration_number == bindparam("number"),
            FAILURES.c.failed_at <= bindparam("since"),
        )
        .cte("gone")
    )
)


class TrackingFailureRepository:
    """On an ORM or a plain connection (``AsyncSession``, ``AsyncConnection``), in the
    caller's transaction."""

    def __init__(self, session: AsyncSession | AsyncConnection) -> None:
        self._session = session

    async def lock_number(self, registration_number: str) -> None:
        """Serialise the checks of one number until the transaction ends (replicas too), so
        concurrent guesses cannot overshoot the limit."""
        await self._session.execute(_LOCK_NUMBER, {"key": f"tracking:{registration_number}"})

    async def record_failure(
        self, registration_number: str, *, at: datetime, since: datetime
    ) -> None:
        """Count one failure and forget this number's failures that left the window."""
        await self._session.execute(
            _RECORD_FAILURE, {"number": registration_number, "at": at, "since": since}
        )
