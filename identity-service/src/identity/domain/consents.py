"""Prefill consents and the personal-data access log (UU 27/2022 PDP)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from identity.domain.exceptions import IdentityError, InvalidInput, NotFound
from identity.domain.models import AccessLogEntry, Account, Consent
from identity.domain.ports import AccessLogRepository, AccountRepository, ConsentRepository
from identity.domain.profile import select_fields, unknown_fields


class NoConsent(IdentityError):
    """No recorded, unrevoked consent of the citizen covers every field asked for."""


async def _citizen(accounts: AccountRepository, account_id: uuid.UUID) -> Account:
    account = await accounts.get(account_id)
    if account is None or not account.is_citizen or account.disabled:
        raise NotFound("unknown account")
    return account


def _check_fields(fields: Sequence[str]) -> tuple[str, ...]:
    unknown = unknown_fields(list(fields))
    if unknown:
        raise InvalidInput("unknown profile fields: " + ", ".join(unknown), loc=["fields"])
    return tuple(dict.fromkeys(fields))


async def grant_consent(
    *,
    account_id: uuid.UUID,
    service_id: uuid.UUID,
    fields: Sequence[str],
    purpose: str,
    granted_via: str,
    accounts: AccountRepository,
    consents: ConsentRepository,
    now: datetime,
) -> Consent:
    """Record that the citizen lets ``service_id`` be prefilled with ``fields``.

    A service has one active consent per citizen; granting again replaces its fields (the
    service's form may have changed).
    """
    await _citizen(accounts, account_id)
    return await _record_consent(
        account_id=account_id,
        service_id=service_id,
        wanted=_check_fields(fields),
        purpose=purpose,
        granted_via=granted_via,
        consents=consents,
        now=now,
    )


async def grant_consent_and_prefill(
    *,
    query: PrefillQuery,
    purpose: str,
    accounts: AccountRepository,
    consents: ConsentRepository,
    access_log: AccessLogRepository,
    now: datetime,
) -> dict[str, Any]:
    """``grant_consent`` and then ``prefill`` under that consent, the account read once: what
    a draft with ``prefill_consent`` asks, in one request and one transaction."""
    account = await _citizen(accounts, query.account_id)
    wanted = _check_fields(query.fields)
    consent = await _record_consent(
        account_id=account.id,
        service_id=query.service_id,
        wanted=wanted,
        purpose=purpose,
        granted_via=query.requested_by,
        consents=consents,
        now=now,
    )
    return await _read_under(consent, account, wanted, query, access_log, now)


async def _record_consent(
    *,
    account_id: uuid.UUID,
    service_id: uuid.UUID,
    wanted: tuple[str, ...],
    purpose: str,
    granted_via: str,
    consents: ConsentRepository,
    now: datetime,
) -> Consent:
    existing = await consents.active_for(account_id, service_id)
    if existing is not None:
        await consents.replace_fields(existing.id, fields=wanted, purpose=purpose, at=now)
        return Consent(
            id=existing.id,
            account_id=account_id,
            service_id=service_id,
            fields=wanted,
            purpose=purpose,
            granted_at=now,
            granted_via=existing.granted_via,
        )
    consent = Consent(
        id=uuid.uuid4(),
        account_id=account_id,
        service_id=service_id,
        fields=wanted,
        purpose=purpose,
        granted_at=now,
        granted_via=granted_via,
    )
    await consents.add(consent)
    return consent


async def revoke_consent(
    *, account_id: uuid.UUID, consent_id: uuid.UUID, consents: ConsentRepository, now: datetime
) -> None:
    consent = await consents.get(account_id, consent_id)
    if consent is None:
        raise NotFound("consent not found")
    if consent.active:
        await consents.revoke(consent.id, at=now)


@dataclass(frozen=True, slots=True)
class PrefillQuery:
    account_id: uuid.UUID
    service_id: uuid.UUID
    fields: Sequence[str]
    requested_by: str
    purpose: str | None = None


async def prefill(
    *,
    query: PrefillQuery,
    accounts: AccountRepository,
    consents: ConsentRepository,
    access_log: AccessLogRepository,
    now: datetime,
) -> dict[str, Any]:
    """The fields asked for, only under a consent covering all of them; the read is logged."""
    account = await _citizen(accounts, query.account_id)
    wanted = _check_fields(query.fields)
    consent = await consents.active_for(query.account_id, query.service_id)
    if consent is None or not set(wanted) <= set(consent.fields):
        raise NoConsent()
    return await _read_under(consent, account, wanted, query, access_log, now)


async def _read_under(
    consent: Consent,
    account: Account,
    wanted: tuple[str, ...],
    query: PrefillQuery,
    access_log: AccessLogRepository,
    now: datetime,
) -> dict[str, Any]:
    """The fields of ``account`` read under ``consent``, the read kept in its access log."""
    await record_access(
        access_log,
        account_id=account.id,
        accessor=query.requested_by,
        accessor_kind="service",
        purpose=query.purpose or consent.purpose,
        fields=wanted,
        service_id=query.service_id,
        consent_id=consent.id,
        now=now,
    )
    return select_fields(account, wanted)


async def record_access(
    access_log: AccessLogRepository,
    *,
    account_id: uuid.UUID,
    accessor: str,
    accessor_kind: str,
    purpose: str,
    fields: Sequence[str],
    now: datetime,
    service_id: uuid.UUID | None = None,
    consent_id: uuid.UUID | None = None,
) -> None:
    await access_log.add(
        AccessLogEntry(
            id=uuid.uuid4(),
            account_id=account_id,
            accessed_at=now,
            accessor=accessor,
            accessor_kind=accessor_kind,
            purpose=purpose,
            fields=tuple(fields),
            service_id=service_id,
            consent_id=consent_id,
        )
    )


async def notification_contact(
    *,
    account_id: uuid.UUID,
    requested_by: str,
    purpose: str,
    accounts: AccountRepository,
    access_log: AccessLogRepository,
    now: datetime,
) -> tuple[str | None, str | None]:
    """(email, phone) of an active account, to send it a notification; the read is logged.

    Any account (citizen or staff) may receive notifications; a disabled one gets none.
    """
    account = await accounts.get(account_id)
    if account is None or account.disabled:
        raise NotFound("unknown account")
    await record_access(
        access_log,
        account_id=account.id,
        accessor=requested_by,
        accessor_kind="service",
        purpose=purpose,
        fields=("email", "phone"),
        now=now,
    )
    return account.email, account.phone
