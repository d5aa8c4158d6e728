"""Tables of the catalog service's own database."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Computed,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSVECTOR, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from mpp_shared.db.naming import NAMING_CONVENTION

# The stored full-text vector of a listed service: name weighs most, then keywords, then the
# description; the `indonesian` configuration stems (pembuatan → buat, kelahiran → lahir).
SEARCH_VECTOR_SQL = (
    "setweight(to_tsvector('indonesian', coalesce(name, '')), 'A') || "
    "setweight(to_tsvector('indonesian', coalesce(search_keywords, '')), 'B') || "
    "setweight(to_tsvector('indonesian', coalesce(description, '')), 'C')"
)
# What typo-tolerant (trigram) matching compares a query with: the name and the keywords.
SEARCH_TEXT_SQL = "lower(coalesce(name, '') || ' ' || coalesce(search_keywords, ''))"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Region(Base):
    __tablename__ = "regions"
    __table_args__ = (
        CheckConstraint("level IN ('province', 'regency', 'district', 'village')", name="level"),
    )

    code: Mapped[str] = mapped_column(String(13), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    level: Mapped[str] = mapped_column(String(10))
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("regions.code"), index=True)


class ReferenceData(Base):
    """Which vendored reference data set is loaded (its checksum), to reload only on change."""

    __tablename__ = "reference_data"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    checksum: Mapped[str] = mapped_column(String(64))
    loaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class AgencyRow(Base):
    __tablename__ = "agencies"
    __table_args__ = (CheckConstraint("kind IN ('opd', 'vertical', 'bumn', 'bumd')", name="kind"),)

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(10))
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), index=True)
    timezone: Mapped[str] = mapped_column(String(20))
    address: Mapped[str | None] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(String(20))
    email: Mapped[str | None] = mapped_column(Text)
    website: Mapped[str | None] = mapped_column(Text)
    service_pledge: Mapped[str | None] = mapped_column(Text)
    revision: Mapped[int] = mapped_column(Integer, server_default="1")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class LocationRow(Base):
    """A physical MPP building."""

    __tablename__ = "locations"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), index=True)
    address: Mapped[str] = mapped_column(Text)
    # {"mon": [["08:00", "15:00"]], ..., "sun": []} in the location's local time
    opening_hours: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class CounterRow(Base):
    __tablename__ = "counters"
    __table_args__ = (UniqueConstraint("location_id", "label"),)

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    location_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("locations.id", ondelete="CASCADE"), index=True
    )
    label: Mapped[str] = mapped_column(Text)
    agency_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("agencies.id"), index=True)
    position: Mapped[int] = mapped_column(Integer, server_default="0")


class CounterServiceRow(Base):
    __tablename__ = "counter_services"
    __table_args__ = (PrimaryKeyConstraint("counter_id", "service_id"),)

    counter_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("counters.id", ondelete="CASCADE"))
    service_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("services.id", ondelete="CASCADE"), index=True
    )


class ServiceRow(Base):
    """A service, and the listing of its latest published version (what search reads)."""

    __tablename__ = "services"
    __table_args__ = (
        UniqueConstraint("agency_id", "code"),
        CheckConstraint("status IN ('draft', 'published', 'retired')", name="status"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    agency_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("agencies.id"))
    code: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(10), server_default="draft")
    published_version: Mapped[int | None] = mapped_column(Integer)
    draft_version: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The listing: copied from the latest published version when it is published.
    name: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    search_keywords: Mapped[str | None] = mapped_column(Text)
    category: Mapped[str | None] = mapped_column(String(40))
    channels: Mapped[list[str] | None] = mapped_column(ARRAY(Text))
    region_keys: Mapped[list[str] | None] = mapped_column(ARRAY(Text))
    listing: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    search_vector: Mapped[Any] = mapped_column(
        TSVECTOR, Computed(SEARCH_VECTOR_SQL, persisted=True)
    )
    search_text: Mapped[str] = mapped_column(Text, Computed(SEARCH_TEXT_SQL, persisted=True))


class ServiceVersionRow(Base):
    """A version of a service: the one draft, or an immutable published version."""

    __tablename__ = "service_versions"
    __table_args__ = (
        PrimaryKeyConstraint("service_id", "version"),
        CheckConstraint("status IN ('draft', 'published')", name="status"),
    )

    service_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(10))
    fields: Mapped[dict[str, Any]] = mapped_column(JSONB)
    # The public JSON of a published version, built once when it is published.
    document: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    created_by: Mapped[str] = mapped_column(Text)
    published_by: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
