"""Tables of the application service's own database."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from mpp_shared.db.naming import NAMING_CONVENTION


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class CatalogService(Base):
    """The read copy's header of a service: its latest version and whether it is retired."""

    __tablename__ = "catalog_services"

    service_id: Mapped[uuid.UUID] = mapped_column(UUID, primary_key=True)
    latest_version: Mapped[int] = mapped_column(Integer)
    # The latest version when the catalogue retired it; a later publish brings it back.
    retired_version: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CatalogServiceVersion(Base):
    """One immutable published version: the ``ServicePublished`` payload as it came."""

    __tablename__ = "catalog_service_versions"
    __table_args__ = (PrimaryKeyConstraint("service_id", "version"),)

    service_id: Mapped[uuid.UUID] = mapped_column(UUID)
    version: Mapped[int] = mapped_column(Integer)
    agency_id: Mapped[uuid.UUID] = mapped_column(UUID)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    published_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ApplicationRow(Base):
    __tablename__ = "applications"

    id: Mapped[uuid.UUID] = mapped_column(UUID, primary_key=True)
    # None: filed at a counter for a resident without an account yet (see CounterFilingRow).
    owner_account_id: Mapped[uuid.UUID | None] = mapped_column(UUID)
    service_id: Mapped[uuid.UUID] = mapped_column(UUID)
    service_version: Mapped[int] = mapped_column(Integer)
    agency_id: Mapped[uuid.UUID] = mapped_column(UUID)
    status: Mapped[str] = mapped_column(String(24))
    stage: Mapped[str | None] = mapped_column(Text)
    channel: Mapped[str] = mapped_column(String(10))
    form_data: Mapped[dict[str, Any]] = mapped_column(JSONB)
    registration_number: Mapped[str | None] = mapped_column(String(40), unique=True)
    tracking_code: Mapped[str | None] = mapped_column(String(16))
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revision_requested_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    overdue_notified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    version: Mapped[int] = mapped_column(Integer)
    event_sequence: Mapped[int] = mapped_column(Integer)


class CounterFilingRow(Base):
    """An application an officer filed at a counter for a resident checked in person."""

    __tablename__ = "counter_filings"

    application_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("applications.id"), primary_key=True
    )
    filed_by: Mapped[uuid.UUID] = mapped_column(UUID)
    officer_name: Mapped[str] = mapped_column(Text)
    # The NIK's keyed hash (mpp_shared.contracts.identity.v1.resident_key) while it waits.
    resident_key: Mapped[str | None] = mapped_column(String(64))
    filed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    linked_account_id: Mapped[uuid.UUID | None] = mapped_column(UUID)
    linked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class DocumentRow(Base):
    __tablename__ = "documents"

    id: Mapped[uuid.UUID] = mapped_column(UUID, primary_key=True)
    application_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("applications.id"))
    kind: Mapped[str] = mapped_column(String(10))
    requirement_code: Mapped[str | None] = mapped_column(Text)
    filename: Mapped[str] = mapped_column(Text)
    size: Mapped[int] = mapped_column(BigInteger)
    content_type: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    blob_key: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class NoteRow(Base):
    __tablename__ = "application_notes"

    id: Mapped[uuid.UUID] = mapped_column(UUID, primary_key=True)
    application_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("applications.id"))
    visibility: Mapped[str] = mapped_column(String(10))
    action: Mapped[str] = mapped_column(String(24))
    text: Mapped[str] = mapped_column(Text)
    actor_kind: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class RegistrationCounter(Base):
    """The last serial given out per (region, year): one upsert per submission."""

    __tablename__ = "registration_counters"
    __table_args__ = (PrimaryKeyConstraint("region_code", "year"),)

    region_code: Mapped[str] = mapped_column(String(13))
    year: Mapped[int] = mapped_column(Integer)
    last_serial: Mapped[int] = mapped_column(Integer)


class BookingSlotRow(Base):
    """Places held at one counter in one slot (the conditional upsert that books)."""

    __tablename__ = "booking_slots"
    __table_args__ = (PrimaryKeyConstraint("counter_id", "slot_start"),)

    counter_id: Mapped[uuid.UUID] = mapped_column(UUID)
    slot_start: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    booked: Mapped[int] = mapped_column(Integer)


class BookingRow(Base):
    __tablename__ = "bookings"

    id: Mapped[uuid.UUID] = mapped_column(UUID, primary_key=True)
    account_id: Mapped[uuid.UUID] = mapped_column(UUID)
    service_id: Mapped[uuid.UUID] = mapped_column(UUID)
    service_name: Mapped[str] = mapped_column(Text)
    agency_id: Mapped[uuid.UUID] = mapped_column(UUID)
    location_id: Mapped[uuid.UUID] = mapped_column(UUID)
    location_name: Mapped[str] = mapped_column(Text)
    counter_id: Mapped[uuid.UUID] = mapped_column(UUID)
    counter_label: Mapped[str] = mapped_column(Text)
    counter_letter: Mapped[str] = mapped_column(String(4))
    day: Mapped[date] = mapped_column(Date)
    slot_start: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    slot_end: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    timezone: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(12))
    queue_number: Mapped[str | None] = mapped_column(String(12))
    remind_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reminded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    checked_in_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    called_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    served_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    no_show_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    event_sequence: Mapped[int] = mapped_column(Integer)


class QueueSerialRow(Base):
    """The last queue number given out per (location, day, counter letter)."""

    __tablename__ = "booking_queue_serials"
    __table_args__ = (PrimaryKeyConstraint("location_id", "day", "letter"),)

    location_id: Mapped[uuid.UUID] = mapped_column(UUID)
    day: Mapped[date] = mapped_column(Date)
    letter: Mapped[str] = mapped_column(String(4))
    last_serial: Mapped[int] = mapped_column(Integer)


class ComplaintRow(Base):
    __tablename__ = "complaints"

    id: Mapped[uuid.UUID] = mapped_column(UUID, primary_key=True)
    tracking_number: Mapped[str] = mapped_column(String(40), unique=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(12))
    account_id: Mapped[uuid.UUID | None] = mapped_column(UUID)
    contact_name: Mapped[str | None] = mapped_column(Text)
    contact_email: Mapped[str | None] = mapped_column(Text)
    contact_phone: Mapped[str | None] = mapped_column(Text)
    service_id: Mapped[uuid.UUID] = mapped_column(UUID)
    service_name: Mapped[str] = mapped_column(Text)
    agency_id: Mapped[uuid.UUID] = mapped_column(UUID)
    timezone: Mapped[str] = mapped_column(String(20))
    application_id: Mapped[uuid.UUID | None] = mapped_column(UUID)
    subject: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20))
    response_due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    lapor_reference: Mapped[str | None] = mapped_column(Text)
    overdue_notified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    event_sequence: Mapped[int] = mapped_column(Integer)


class ComplaintMessageRow(Base):
    __tablename__ = "complaint_messages"

    id: Mapped[uuid.UUID] = mapped_column(UUID, primary_key=True)
    complaint_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("complaints.id"))
    author_kind: Mapped[str] = mapped_column(String(10))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # An answer of the agency shown on the public view by number and code.
    public: Mapped[bool] = mapped_column(Boolean, default=False)


class ComplaintSettingsRow(Base):
    __tablename__ = "complaint_settings"

    agency_id: Mapped[uuid.UUID] = mapped_column(UUID, primary_key=True)
    response_working_days: Mapped[int] = mapped_column(Integer)


class ComplaintCounterRow(Base):
    __tablename__ = "complaint_counters"
    __table_args__ = (PrimaryKeyConstraint("region_code", "year"),)

    region_code: Mapped[str] = mapped_column(String(13))
    year: Mapped[int] = mapped_column(Integer)
    last_serial: Mapped[int] = mapped_column(Integer)


__all__ = [
    "ApplicationRow",
    "Base",
    "BookingRow",
    "BookingSlotRow",
    "CatalogService",
    "CatalogServiceVersion",
    "ComplaintCounterRow",
    "ComplaintMessageRow",
    "ComplaintRow",
    "ComplaintSettingsRow",
    "DocumentRow",
    "NoteRow",
    "QueueSerialRow",
    "RegistrationCounter",
]


class CatalogLocation(Base):
    """The read copy of one MPP location (``LocationReply`` as JSON), the latest ``as_of``."""

    __tablename__ = "catalog_locations"

    location_id: Mapped[uuid.UUID] = mapped_column(UUID, primary_key=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    as_of: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
