"""Tables of the identity service's own database."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Text,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from mpp_shared.db.naming import NAMING_CONVENTION


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _now() -> Any:
    return func.now()


class AccountRow(Base):
    """A person who logs in: a citizen or a member of staff."""

    __tablename__ = "accounts"
    __table_args__ = (
        CheckConstraint(
            "role IN ('citizen', 'officer', 'agency_admin', 'platform_admin')", name="role"
        ),
        # Emails are kept lowercased; one account per address.
        Index("uq_accounts_email", "email", unique=True),
        Index("ix_accounts_agency_id", "agency_id", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    role: Mapped[str] = mapped_column(String(32))
    email: Mapped[str] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(20))
    full_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    agency_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    assurance_level: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    # TOTP seeds sealed with AES-GCM (identity.domain.crypto.SecretBox, context = account id).
    totp_secret: Mapped[bytes | None] = mapped_column(LargeBinary)
    totp_pending_secret: Mapped[bytes | None] = mapped_column(LargeBinary)
    totp_enabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The last TOTP time step accepted: a code is accepted once.
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    created_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())


class CitizenProfileRow(Base):
    """The registry's record of a citizen, copied when the registry confirmed it."""

    __tablename__ = "citizen_profiles"

    account_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    nik: Mapped[str] = mapped_column(String(16), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    birth_place: Mapped[str] = mapped_column(String(100))
    birth_date: Mapped[date] = mapped_column(Date)
    gender: Mapped[str] = mapped_column(String(1))
    religion: Mapped[str] = mapped_column(String(50))
    marital_status: Mapped[str] = mapped_column(String(50))
    occupation: Mapped[str] = mapped_column(String(100))
    street: Mapped[str] = mapped_column(String(200))
    rt: Mapped[str] = mapped_column(String(3))
    rw: Mapped[str] = mapped_column(String(3))
    village: Mapped[str] = mapped_column(String(100))
    district: Mapped[str] = mapped_column(String(100))
    regency: Mapped[str] = mapped_column(String(100))
    province: Mapped[str] = mapped_column(String(100))
    region_code: Mapped[str] = mapped_column(String(13))
    registry_checked_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=_now()
    )
    face_verified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class OAuthClientRow(Base):
    __tablename__ = "oauth_clients"

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    agency_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    # SHA-256 of a 256-bit random secret; None for a public client.
    secret_hash: Mapped[str | None] = mapped_column(String(64))
    scopes: Mapped[list[str]] = mapped_column(ARRAY(String(100)))
    redirect_uris: Mapped[list[str]] = mapped_column(ARRAY(Text))
    grant_types: Mapped[list[str]] = mapped_column(ARRAY(String(32)))
    first_party: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    created_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())


class AuthorizationCodeRow(Base):
    __tablename__ = "authorization_codes"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64))
    account_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("accounts.id", ondelete="CASCADE")
    )
    redirect_uri: Mapped[str] = mapped_column(Text)
    scope: Mapped[list[str]] = mapped_column(ARRAY(String(100)))
    code_challenge: Mapped[str] = mapped_column(String(64))
    nonce: Mapped[str | None] = mapped_column(String(255))
    auth_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The refresh-token family the code was exchanged for: revoked if the code comes back.
    family_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)


class TokenFamilyRow(Base):
    """One login session: every refresh token rotated from one login belongs to it."""

    __tablename__ = "token_families"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    account_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    client_id: Mapped[str] = mapped_column(String(64))
    scope: Mapped[list[str]] = mapped_column(ARRAY(String(100)))
    auth_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_reason: Mapped[str | None] = mapped_column(String(100))


class RefreshTokenRow(Base):
    __tablename__ = "refresh_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    family_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("token_families.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Set when rotated: presenting it again is reuse.
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class SigningKeyRow(Base):
    __tablename__ = "signing_keys"
    __table_args__ = (
        CheckConstraint("status IN ('active', 'retired')", name="status"),
        # At most one active key, even when two replicas start (or rotate) at once.
        Index(
            "uq_signing_keys_active",
            "status",
            unique=True,
            postgresql_where=text("status = 'active'"),
        ),
    )

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    algorithm: Mapped[str] = mapped_column(String(16))
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSONB)
    # PKCS#8 PEM sealed with AES-256-GCM (context = kid).
    private_key_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ConsentRow(Base):
    """A citizen's permission for a service to be prefilled with some profile fields."""

    __tablename__ = "consents"
    __table_args__ = (
        Index(
            "uq_consents_active",
            "account_id",
            "service_id",
            unique=True,
            postgresql_where=text("revoked_at IS NULL"),
        ),
        Index("ix_consents_account_id", "account_id", "granted_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    account_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("accounts.id", ondelete="CASCADE")
    )
    service_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    fields: Mapped[list[str]] = mapped_column(ARRAY(String(50)))
    purpose: Mapped[str] = mapped_column(Text)
    granted_via: Mapped[str] = mapped_column(String(100))
    granted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AccessLogRow(Base):
    """Who read a citizen's registry data, when and why (UU 27/2022 PDP)."""

    __tablename__ = "personal_data_access_log"
    __table_args__ = (Index("ix_access_log_account", "account_id", "accessed_at", "id"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    account_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("accounts.id", ondelete="CASCADE")
    )
    accessed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    accessor: Mapped[str] = mapped_column(String(100))
    accessor_kind: Mapped[str] = mapped_column(String(20))
    purpose: Mapped[str] = mapped_column(Text)
    fields: Mapped[list[str]] = mapped_column(ARRAY(String(50)))
    service_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    consent_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)


class KnownAgencyRow(Base):
    """Agencies the catalogue announced; staff and clients may only belong to these."""

    __tablename__ = "known_agencies"

    agency_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    region_code: Mapped[str] = mapped_column(String(13))
    revision: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())


class ThrottleCounterRow(Base):
    """Failure or attempt counts per key (an account, an IP, a NIK), shared by all replicas."""

    __tablename__ = "throttle_counters"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    window_started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    blocked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class CounterVerificationRow(Base):
    """An officer checked a resident in person at a counter and raised the account's level."""

    __tablename__ = "counter_verifications"
    __table_args__ = (
        CheckConstraint("method IN ('ktp_el_reader', 'document_check')", name="method"),
        Index("ix_counter_verifications_account", "account_id", "verified_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    account_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("accounts.id", ondelete="CASCADE")
    )
    method: Mapped[str] = mapped_column(String(20))
    officer_account_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    agency_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    assurance_level: Mapped[int] = mapped_column(SmallInteger)
    verified_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
