"""What the identity service knows: accounts, profiles, clients, consents, as plain values."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from mpp_shared.auth import Role

# The built-in public client of the project's own apps (API.md): direct login tokens are its.
FIRST_PARTY_CLIENT_ID = "mpp-app"

# Scopes a user's token may carry besides what a client asks for; the OIDC ones.
OIDC_SCOPES: frozenset[str] = frozenset({"openid", "profile", "email", "phone", "address"})
# What a first-party login gets.
FIRST_PARTY_SCOPES: tuple[str, ...] = ("openid", "profile", "email", "phone", "address")

STAFF_ACCOUNT_ROLES: frozenset[str] = frozenset(
    {Role.OFFICER, Role.AGENCY_ADMIN, Role.PLATFORM_ADMIN}
)


class GrantType(StrEnum):
    AUTHORIZATION_CODE = "authorization_code"
    REFRESH_TOKEN = "refresh_token"  # noqa: S105 - a grant type's name, not a secret
    CLIENT_CREDENTIALS = "client_credentials"


@dataclass(frozen=True, slots=True)
class Address:
    street: str
    rt: str
    rw: str
    village: str
    district: str
    regency: str
    province: str
    region_code: str


@dataclass(frozen=True, slots=True)
class CitizenProfile:
    """The registry's facts about a citizen, copied when the registry confirmed them."""

    nik: str
    full_name: str
    birth_place: str
    birth_date: date
    gender: str
    religion: str
    marital_status: str
    occupation: str
    address: Address


@dataclass(frozen=True, slots=True)
class Account:
    id: uuid.UUID
    role: str
    email: str
    full_name: str
    password_hash: str
    phone: str | None = None
    agency_id: uuid.UUID | None = None
    assurance_level: int = 0
    totp_enabled: bool = False
    disabled: bool = False
    created_at: datetime | None = None
    profile: CitizenProfile | None = None

    @property
    def roles(self) -> list[str]:
        return [self.role]

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ACCOUNT_ROLES

    @property
    def is_citizen(self) -> bool:
        return self.role == Role.CITIZEN


@dataclass(frozen=True, slots=True)
class Client:
    """An OAuth client: the built-in app, or an agency system registered by a platform admin."""

    client_id: str
    name: str
    scopes: frozenset[str]
    grant_types: frozenset[str]
    redirect_uris: tuple[str, ...] = ()
    agency_id: uuid.UUID | None = None
    secret_hash: str | None = None
    first_party: bool = False
    disabled: bool = False
    created_at: datetime | None = None

    @property
    def is_public(self) -> bool:
        return self.secret_hash is None


@dataclass(frozen=True, slots=True)
class Consent:
    id: uuid.UUID
    account_id: uuid.UUID
    service_id: uuid.UUID
    fields: tuple[str, ...]
    purpose: str
    granted_at: datetime
    granted_via: str
    revoked_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True, slots=True)
class CounterVerification:
    """An officer checked the resident in person (KTP-el reader or documents) at a counter."""

    id: uuid.UUID
    account_id: uuid.UUID
    method: str  # ktp_el_reader | document_check
    officer_account_id: uuid.UUID
    agency_id: uuid.UUID
    assurance_level: int
    verified_at: datetime


@dataclass(frozen=True, slots=True)
class AccessLogEntry:
    """One read of a citizen's registry data by someone other than the citizen."""

    id: uuid.UUID
    account_id: uuid.UUID
    accessed_at: datetime
    accessor: str
    accessor_kind: str  # service | client | staff
    purpose: str
    fields: tuple[str, ...]
    service_id: uuid.UUID | None = None
    consent_id: uuid.UUID | None = None


@dataclass(frozen=True, slots=True)
class AuthorizationRequest:
    """The validated parameters of a browser's /oauth2/authorize request."""

    client_id: str
    redirect_uri: str
    scope: tuple[str, ...]
    state: str
    code_challenge: str
    nonce: str | None = None


@dataclass(frozen=True, slots=True)
class TokenSet:
    access_token: str
    expires_in: int
    scope: str
    refresh_token: str | None = None
    id_token: str | None = None
    token_type: str = "Bearer"  # noqa: S105 - the token type's name
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PageRequest:
    limit: int
    after: tuple[datetime, str] | None = None  # the last item's sort time and id
