"""Version 1 of identity-service's event payloads (``mpp.identity.*``) and its NATS requests.

Events carry ids and facts, never a NIK or other registry data. The request-reply subjects live
outside ``mpp.>`` because the events stream captures ``mpp.>`` and would answer them itself.

Prefill, from application-service::

    reply = await nc.request(PREFILL_SUBJECT, PrefillRequest(...).model_dump_json().encode(),
                             timeout=2)
    answer = parse_prefill_reply(reply.data)   # PrefillResponse or RpcError

``RpcError.error`` is ``unknown_resident`` (a lookup of a NIK the registry does not have),
``not_staff`` (the officer of a lookup is not staff of that agency), ``no_consent`` (no
recorded, unrevoked consent covering every field asked for), ``unknown_account``,
``unknown_field``, ``invalid_request`` or ``internal_error``.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from datetime import datetime
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mpp_shared.contracts import EventData

SOURCE = "/identity"

CITIZEN_REGISTERED = "mpp.identity.citizen.registered"
CITIZEN_VERIFIED = "mpp.identity.citizen.verified"
STAFF_CREATED = "mpp.identity.staff.created"
ACCESS_REVOKED = "mpp.identity.access.revoked"

PREFILL_SUBJECT = "rpc.identity.prefill"
CONSENT_GRANT_SUBJECT = "rpc.identity.consent.grant"
# Both at once, in one transaction of identity's: the consent granted, then the prefill under
# it (a draft with ``prefill_consent``). Answered by PrefillResponse or RpcError.
CONSENTED_PREFILL_SUBJECT = "rpc.identity.consent.prefill"
# tracking-service only: where to send a notification copy (email/SMS) at send time.
CONTACT_SUBJECT = "rpc.identity.contact"
# application-service, assisted filing at a counter: the registry record of a resident whose
# identity an officer checked in person.
RESIDENT_LOOKUP_SUBJECT = "rpc.identity.resident.lookup"

# Both services key the resident link with this in development; production refuses it.
DEVELOPMENT_RESIDENT_LINK_KEY = "development-only-resident-link-key-change-me"

StaffRole = Literal["officer", "agency_admin"]
_ReplyT = TypeVar("_ReplyT", bound=BaseModel)
# How an assurance level was raised: the citizen's own face check, or an officer at a counter.
VerificationMethod = Literal["face", "ktp_el_reader", "document_check"]
COUNTER_METHODS: tuple[VerificationMethod, ...] = ("ktp_el_reader", "document_check")


def resident_key(nik: str, secret: str) -> str:
    """The keyed hash (hex HMAC-SHA256) by which a counter application waits for the resident's
    account: application-service keeps it instead of the NIK, identity-service announces it at
    registration. Without the shared secret it cannot be turned back into a NIK by trying the
    NIK space."""
    return hmac.new(secret.encode(), nik.encode(), hashlib.sha256).hexdigest()


class CitizenRegistered(EventData):
    """``mpp.identity.citizen.registered``: the registry confirmed NIK, name and birth date."""

    account_id: uuid.UUID
    assurance_level: int
    registered_at: datetime
    # resident_key() of the NIK: applications filed at a counter for it now belong to the account.
    resident_key: str | None = Field(default=None, min_length=64, max_length=64)


class CitizenVerified(EventData):
    """``mpp.identity.citizen.verified``: the citizen's assurance level went up."""

    account_id: uuid.UUID
    assurance_level: int
    method: VerificationMethod
    verified_at: datetime
    # The officer who checked the resident in person (counter methods only).
    verified_by: uuid.UUID | None = None


class StaffCreated(EventData):
    """``mpp.identity.staff.created``."""

    account_id: uuid.UUID
    agency_id: uuid.UUID
    role: StaffRole
    created_by: uuid.UUID
    created_at: datetime


RevokedKind = Literal["session", "account", "client", "token"]


class AccessRevoked(EventData):
    """``mpp.identity.access.revoked``: access tokens matching ``kind``/``id`` that were issued
    before ``revoked_at`` must be refused until ``until`` (when the last of them expires).

    ``kind`` names the claim that is matched: ``session`` the ``sid`` (logout, refresh-token
    reuse), ``account`` the ``sub`` (account disabled), ``client`` the ``client_id`` (client
    revoked), ``token`` the ``jti`` (one access token revoked). Gateways replay these events
    from the stream on start, so a restarted replica knows every revocation still in force.
    """

    kind: RevokedKind
    id: str = Field(min_length=1, max_length=200)
    reason: str = Field(min_length=1, max_length=50)  # e.g. "logout", "refresh_reuse"
    revoked_at: datetime
    until: datetime


class _Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class PrefillRequest(_Message):
    """Profile fields of an account for a service's form; names are those of ``GET /me``
    (``full_name``, ``birth_date``, ``address`` or ``address.village`` …)."""

    account_id: uuid.UUID
    service_id: uuid.UUID
    fields: list[str] = Field(min_length=1, max_length=50)
    requested_by: str = Field(min_length=1, max_length=100)  # e.g. "application-service"
    purpose: str | None = Field(default=None, max_length=300)


class PrefillResponse(_Message):
    """Exactly the fields asked for; a field the citizen has no value for is null."""

    fields: dict[str, Any]


class ConsentGrantRequest(_Message):
    """Sent when the citizen ticks ``prefill_consent``: they allow ``service_id`` to be
    prefilled with ``fields``."""

    account_id: uuid.UUID
    service_id: uuid.UUID
    fields: list[str] = Field(min_length=1, max_length=50)
    purpose: str = Field(min_length=1, max_length=300)
    requested_by: str = Field(default="application-service", min_length=1, max_length=100)


class ConsentedPrefillRequest(_Message):
    """A ``ConsentGrantRequest`` and the ``PrefillRequest`` of the same fields, in one: the
    citizen allows ``service_id`` to be prefilled with ``fields`` (``purpose``, kept with the
    consent) and the form is filled at once (``read_purpose``, kept in the access log; the
    consent's purpose when absent)."""

    account_id: uuid.UUID
    service_id: uuid.UUID
    fields: list[str] = Field(min_length=1, max_length=50)
    purpose: str = Field(min_length=1, max_length=300)
    read_purpose: str | None = Field(default=None, max_length=300)
    requested_by: str = Field(default="application-service", min_length=1, max_length=100)


class ConsentGrantResponse(_Message):
    consent_id: uuid.UUID
    granted_at: datetime
    fields: list[str]


class ContactRequest(_Message):
    """The account's contact addresses, to send it a notification copy."""

    account_id: uuid.UUID
    requested_by: str = Field(default="tracking-service", min_length=1, max_length=100)
    purpose: str = Field(default="notification", min_length=1, max_length=300)


class ContactResponse(_Message):
    """The account's current email and phone (either may be null)."""

    email: str | None
    phone: str | None


class ResidentLookupRequest(_Message):
    """An officer at a counter files for the resident with this NIK: the registry's record of
    the ``fields`` (names of ``GET /me``) the service prefills. identity-service writes the read
    in the resident's access log (who: the officer, why: ``purpose``)."""

    nik: str = Field(pattern=r"^[0-9]{16}$")
    officer_account_id: uuid.UUID
    agency_id: uuid.UUID
    service_id: uuid.UUID
    fields: list[str] = Field(default_factory=list, max_length=50)
    purpose: str = Field(min_length=1, max_length=300)
    requested_by: str = Field(default="application-service", min_length=1, max_length=100)


class ResidentLookupResponse(_Message):
    """The resident as the registry knows them, and their account if they have one.

    ``fields``: exactly the fields asked for (null where the registry has no value);
    ``account_id``/``assurance_level`` null without an account; ``officer_name`` the name of
    the officer's own account (for the receipt)."""

    nik_masked: str
    fields: dict[str, Any]
    account_id: uuid.UUID | None
    assurance_level: int | None
    officer_name: str


class RpcError(_Message):
    error: str
    detail: str | None = None


def parse_prefill_reply(body: bytes | str) -> PrefillResponse | RpcError:
    return _parse(body, PrefillResponse)


def parse_consent_grant_reply(body: bytes | str) -> ConsentGrantResponse | RpcError:
    return _parse(body, ConsentGrantResponse)


def parse_contact_reply(body: bytes | str) -> ContactResponse | RpcError:
    return _parse(body, ContactResponse)


def parse_resident_lookup_reply(body: bytes | str) -> ResidentLookupResponse | RpcError:
    return _parse(body, ResidentLookupResponse)


def _parse(body: bytes | str, model: type[_ReplyT]) -> _ReplyT | RpcError:
    try:
        return RpcError.model_validate_json(body)
    except ValidationError:
        return model.model_validate_json(body)


__all__ = [
    "ACCESS_REVOKED",
    "CITIZEN_REGISTERED",
    "CITIZEN_VERIFIED",
    "CONSENTED_PREFILL_SUBJECT",
    "CONSENT_GRANT_SUBJECT",
    "CONTACT_SUBJECT",
    "COUNTER_METHODS",
    "DEVELOPMENT_RESIDENT_LINK_KEY",
    "PREFILL_SUBJECT",
    "RESIDENT_LOOKUP_SUBJECT",
    "SOURCE",
    "STAFF_CREATED",
    "AccessRevoked",
    "CitizenRegistered",
    "CitizenVerified",
    "ConsentGrantRequest",
    "ConsentGrantResponse",
    "ConsentedPrefillRequest",
    "ContactRequest",
    "ContactResponse",
    "PrefillRequest",
    "PrefillResponse",
    "ResidentLookupRequest",
    "ResidentLookupResponse",
    "RevokedKind",
    "RpcError",
    "StaffCreated",
    "VerificationMethod",
    "parse_consent_grant_reply",
    "parse_contact_reply",
    "parse_prefill_reply",
    "parse_resident_lookup_reply",
    "resident_key",
]
