"""Tables of the mock Dukcapil registry, in the identity service's database."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from identity.db.tables import Base

# How a resident's registered photo is found: rendered from the NIK (generated population),
# stored in dukcapil_resident_photos (dataset with a photo), or none (dataset without one).
PHOTO_RENDERED = "rendered"
PHOTO_STORED = "stored"
PHOTO_NONE = "none"

SOURCE_GENERATED = "generated"
SOURCE_DATASET = "dataset"


class ResidentRow(Base):
    __tablename__ = "dukcapil_residents"
    __table_args__ = (
        CheckConstraint("gender IN ('L', 'P')", name="gender"),
        CheckConstraint("nik ~ '^[0-9]{16}$'", name="nik_digits"),
        CheckConstraint("kk_number ~ '^[0-9]{16}$'", name="kk_digits"),
        CheckConstraint("source IN ('generated', 'dataset')", name="source"),
        CheckConstraint("photo IN ('rendered', 'stored', 'none')", name="photo"),
    )

    nik: Mapped[str] = mapped_column(String(16), primary_key=True)
    kk_number: Mapped[str] = mapped_column(String(16), index=True)
    full_name: Mapped[str] = mapped_column(String(200))
    birth_place: Mapped[str] = mapped_column(String(100))
    birth_date: Mapped[date] = mapped_column(Date)
    gender: Mapped[str] = mapped_column(String(1))
    blood_type: Mapped[str] = mapped_column(String(3))
    religion: Mapped[str] = mapped_column(String(60))
    marital_status: Mapped[str] = mapped_column(String(20))
    occupation: Mapped[str] = mapped_column(String(100))
    street: Mapped[str] = mapped_column(String(200))
    rt: Mapped[str] = mapped_column(String(3))
    rw: Mapped[str] = mapped_column(String(3))
    village: Mapped[str] = mapped_column(String(100))
    district: Mapped[str] = mapped_column(String(100))
    regency: Mapped[str] = mapped_column(String(100))
    province: Mapped[str] = mapped_column(String(100))
    region_code: Mapped[str] = mapped_column(String(13), index=True)
    source: Mapped[str] = mapped_column(String(10))
    photo: Mapped[str] = mapped_column(String(10))


class ResidentPhotoRow(Base):
    """The photos of dataset residents, kept in the database so every replica has them."""

    __tablename__ = "dukcapil_resident_photos"

    nik: Mapped[str] = mapped_column(
        String(16), ForeignKey("dukcapil_residents.nik", ondelete="CASCADE"), primary_key=True
    )
    image: Mapped[bytes] = mapped_column(LargeBinary)


class QuotaUsageRow(Base):
    """Registry calls per caller and day (Asia/Jakarta)."""

    __tablename__ = "dukcapil_quota_usage"

    caller: Mapped[str] = mapped_column(String(100), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    calls: Mapped[int] = mapped_column(Integer)


class SeedRow(Base):
    """What has been seeded: ``generated`` once the synthetic population exists."""

    __tablename__ = "dukcapil_seeds"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    residents: Mapped[int] = mapped_column(Integer)
    seeded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
