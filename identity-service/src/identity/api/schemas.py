"""Request and response bodies of the identity API (``XCreate`` / ``XUpdate`` / ``XRead``)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from identity.domain.accounts import normalise_email, normalise_phone
from identity.domain.models import AccessLogEntry, Account, Client, Consent
from mpp_shared.observability.masking import mask_nik


def _email(value: str) -> str:
    try:
        return normalise_email(value)
    except ValueError:
        raise ValueError("alamat email tidak valid") from None


def _phone(value: str) -> str:
    try:
        return normalise_phone(value)
    except ValueError:
        raise ValueError("nomor ponsel tidak valid (08… atau +628…)") from None


# Checked by the route with parse_nik: a malformed NIK is 422 ``invalid_nik``. The document
# says what a NIK is (16 ASCII digits), so clients need not learn it from that answer.
Nik = Annotated[
    str,
    Field(
        min_length=1,
        max_length=32,
        json_schema_extra={"pattern": "^[0-9]{16}$", "minLength": 16, "maxLength": 16},
    ),
]
Email = Annotated[
    str, Field(max_length=254, json_schema_extra={"format": "email"}), AfterValidator(_email)
]
Phone = Annotated[str, Field(max_length=25), AfterValidator(_phone)]
Password = Annotated[str, Field(min_length=1, max_length=256)]
Name = Annotated[str, Field(min_length=1, max_length=200, pattern=r"\S")]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- citizens and /me ---------------------------------------------------------------------------


class CitizenCreate(_Body):
    nik: Nik
    full_name: Name
    birth_date: date
    email: Email
    phone: Phone
    password: Password


class CitizenCreated(BaseModel):
    id: uuid.UUID
    nik_masked: str
    assurance_level: int


class AddressRead(BaseModel):
    street: str
    rt: str
    rw: str
    village: str
    district: str
    regency: str
    province: str
    region_code: str


class MeRead(BaseModel):
    id: uuid.UUID
    roles: list[str]
    nik: str | None = None
    full_name: str
    birth_date: date | None = None
    birth_place: str | None = None
    gender: str | None = None
    religion: str | None = None
    marital_status: str | None = None
    occupation: str | None = None
    address: AddressRead | None = None
    email: str
    phone: str | None = None
    assurance_level: int
    agency_id: uuid.UUID | None = None
    mfa_enabled: bool = False

    @classmethod
    def of(cls, account: Account) -> MeRead:
        me = cls(
            id=account.id,
            roles=account.roles,
            full_name=account.full_name,
            email=account.email,
            phone=account.phone,
            assurance_level=account.assurance_level,
            agency_id=account.agency_id,
            mfa_enabled=account.totp_enabled,
        )
        profile = account.profile
        if profile is None:
            return me
        address = profile.address
        return me.model_copy(
            update={
                "nik": profile.nik,
                "birth_date": profile.birth_date,
                "birth_place": profile.birth_place,
                "gender": profile.gender,
                "religion": profile.religion,
                "marital_status": profile.marital_status,
                "occupation": profile.occupation,
                "address": AddressRead(
                    street=address.street,
                    rt=address.rt,
                    rw=address.rw,
                    village=address.village,
                    district=address.district,
                    regency=address.regency,
                    province=address.province,
                    region_code=address.region_code,
                ),
            }
        )


class MeUpdate(_Body):
    """Contact fields only; registry fields are read-only (and refused as unknown fields)."""

    email: Email | None = None
    phone: Phone | None = None


class FaceVerificationRead(BaseModel):
    matched: bool
    score: float
    assurance_level: int


class ConsentRead(BaseModel):
    id: uuid.UUID
    service_id: uuid.UUID
    fields: list[str]
    purpose: str
    granted_at: datetime
    granted_via: str
    active: bool
    revoked_at: datetime | None = None

    @classmethod
    def of(cls, consent: Consent) -> ConsentRead:
        return cls(
            id=consent.id,
            service_id=consent.service_id,
            fields=list(consent.fields),
            purpose=consent.purpose,
            granted_at=consent.granted_at,
            granted_via=consent.granted_via,
            active=consent.active,
            revoked_at=consent.revoked_at,
        )


class AccessLogRead(BaseModel):
    id: uuid.UUID
    accessed_at: datetime
    accessor: str
    accessor_kind: str
    purpose: str
    fields: list[str]
    service_id: uuid.UUID | None = None

    @classmethod
    def of(cls, entry: AccessLogEntry) -> AccessLogRead:
        return cls(
            id=entry.id,
            accessed_at=entry.accessed_at,
            accessor=entry.accessor,
            accessor_kind=entry.accessor_kind,
            purpose=entry.purpose,
            fields=list(entry.fields),
            service_id=entry.service_id,
        )


# --- auth ---------------------------------------------------------------------------------------


class LoginRequest(_Body):
    username: Annotated[str, Field(min_length=1, max_length=254)]
    password: Password
    otp: Annotated[str | None, Field(max_length=10)] = None


class TokenResponse(BaseModel):
    access_token: str
    refresh_token: str | None = None
    token_type: str = "Bearer"  # noqa: S105 - the token type's name
    expires_in: int
    scope: str
    id_token: str | None = None


class TotpEnrolmentRead(BaseModel):
    secret: str
    otpauth_uri: str


class TotpConfirm(_Body):
    otp: Annotated[str, Field(min_length=1, max_length=10)]


class LogoutRequest(_Body):
    refresh_token: str | None = None


# --- staff and clients --------------------------------------------------------------------------


class StaffCreate(_Body):
    email: Email
    full_name: Name
    password: Password
    role: Literal["officer", "agency_admin"]
    agency_id: uuid.UUID


class StaffRead(BaseModel):
    id: uuid.UUID
    email: str
    full_name: str
    role: str
    roles: list[str]
    agency_id: uuid.UUID | None
    mfa_enabled: bool
    created_at: datetime | None = None

    @classmethod
    def of(cls, account: Account) -> StaffRead:
        return cls(
            id=account.id,
            email=account.email,
            full_name=account.full_name,
            role=account.role,
            roles=account.roles,
            agency_id=account.agency_id,
            mfa_enabled=account.totp_enabled,
            created_at=account.created_at,
        )


Scope = Annotated[str, Field(min_length=1, max_length=100)]


class ClientCreate(_Body):
    name: Name
    agency_id: uuid.UUID
    scopes: Annotated[list[Scope], Field(max_length=50)] = []
    redirect_uris: Annotated[
        list[Annotated[str, Field(max_length=2000)]], Field(max_length=20)
    ] = []
    grant_types: Annotated[list[str], Field(max_length=3)] = []


class ClientRead(BaseModel):
    client_id: str
    name: str
    agency_id: uuid.UUID | None
    scopes: list[str]
    redirect_uris: list[str]
    grant_types: list[str]
    active: bool
    created_at: datetime | None = None

    @classmethod
    def of(cls, client: Client) -> ClientRead:
        return cls(
            client_id=client.client_id,
            name=client.name,
            agency_id=client.agency_id,
            scopes=sorted(client.scopes),
            redirect_uris=list(client.redirect_uris),
            grant_types=sorted(client.grant_types),
            active=not client.disabled,
            created_at=client.created_at,
        )


class ClientCreated(ClientRead):
    client_secret: str


class SigningKeyRead(BaseModel):
    kid: str
    algorithm: str
    status: Literal["active", "retired"]
    created_at: datetime
    retired_at: datetime | None = None


def masked(nik: str) -> str:
    return mask_nik(nik)
