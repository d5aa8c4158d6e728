"""Wrong tracking codes per registration number, counted over a sliding window (by the
database function ``public_tracking_lookup``, migration 0008)."""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import (
    BigInteger,
    DateTime,
    Identity,
    String,
    Table,
)
from sqlalchemy.orm import Mapped, mapped_column

from tracking.db.tables import Base


class TrackingFailure(Base):
    __tablename__ = "tracking_failures"

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    registration_number: Mapped[str] = mapped_column(String(64))
    failed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


FAILURES = cast(Table, TrackingFailure.__table__)
