"""Assisted filing at a counter: an officer looks a resident up in the registry, and may raise
the resident's assurance level after checking their identity in person (the fallback for a
face check that fails). Every read and every check is in the resident's access log."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from identity.domain.accounts import REGISTRY_CALLER
from identity.domain.consents import record_access
from identity.domain.exceptions import (
    CitizenAccountUnusable,
    InvalidInput,
    NoCitizenAccount,
    NotAllowed,
    UnknownResident,
)
from identity.domain.models import Account, CounterVerification
from identity.domain.ports import (
    AccessLogRepository,
    AccountRepository,
    CounterVerificationRepository,
    EventRecorder,
)
from identity.domain.profile import REGISTRY_FIELDS, citizen_profile, registry_values
from identity.dukcapil.registry import PopulationRegistry, Resident
from mpp_shared.auth import Role
from mpp_shared.contracts.identity import v1 as contracts
from mpp_shared.events import new_event

COUNTER_STAFF = frozenset({Role.OFFICER, Role.AGENCY_ADMIN})
COUNTER_LEVEL = 2
VERIFIED_FIELDS = ("nik", "full_name", "birth_date")


@dataclass(frozen=True, slots=True)
class ResidentFound:
    resident: Resident
    fields: dict[str, Any]
    account: Account | None
    officer: Account


async def _officer(
    accounts: AccountRepository, officer_id: uuid.UUID, agency_id: uuid.UUID
) -> Account:
    officer = await accounts.get(officer_id)
    if (
        officer is None
        or officer.disabled
        or officer.role not in COUNTER_STAFF
        or officer.agency_id != agency_id
    ):
        raise NotAllowed("Only an agency's officers and admins serve residents at its counters.")
    return officer


async def _resident(registry: PopulationRegistry, nik: str) -> Resident:
    resident = await registry.lookup(nik, caller=REGISTRY_CALLER)
    if resident is None:
        raise UnknownResident("no resident with this NIK")
    return resident


def _usable(account: Account) -> bool:
    """Whether the account is an enabled citizen's (staff are not checked at a counter)."""
    return account.is_citizen and not account.disabled


async def _account(accounts: AccountRepository, nik: str) -> Account | None:
    account = await accounts.by_nik(nik)
    return account if account is not None and _usable(account) else None


async def lookup_resident(
    *,
    nik: str,
    officer_id: uuid.UUID,
    agency_id: uuid.UUID,
    service_id: uuid.UUID,
    fields: Sequence[str],
    purpose: str,
    accounts: AccountRepository,
    access_log: AccessLogRepository,
    registry: PopulationRegistry,
    now: datetime,
) -> ResidentFound:
    """The registry's record of the fields asked for, and the resident's account if any; the
    read goes in that account's access log with the officer as the reader."""
    officer = await _officer(accounts, officer_id, agency_id)
    wanted = tuple(dict.fromkeys(fields))
    unknown = [name for name in wanted if name not in REGISTRY_FIELDS]
    if unknown:
        raise InvalidInput("not registry fields: " + ", ".join(unknown), loc=["fields"])
    resident = await _resident(registry, nik)
    values = registry_values(citizen_profile(resident))
    account = await _account(accounts, nik)
    if account is not None:
        await record_access(
            access_log,
            account_id=account.id,
            accessor=str(officer.id),
            accessor_kind="staff",
            purpose=purpose,
            fields=wanted or ("nik",),
            service_id=service_id,
            now=now,
        )
    return ResidentFound(
        resident=resident,
        fields={name: values.get(name) for name in wanted},
        account=account,
        officer=officer,
    )


@dataclass(frozen=True, slots=True)
class CounterVerified:
    account: Account
    assurance_level: int
    verification: CounterVerification


async def verify_at_counter(
    *,
    nik: str,
    method: str,
    officer_id: uuid.UUID,
    agency_id: uuid.UUID,
    accounts: AccountRepository,
    verifications: CounterVerificationRepository,
    access_log: AccessLogRepository,
    registry: PopulationRegistry,
    events: EventRecorder,
    now: datetime,
) -> CounterVerified:
    """An officer saw the resident and their KTP-el: the account goes to level 2, the check
    is kept with the officer, the method and the time, and the resident's access log says so.

    The resident needs an account (the check is of a person against the account's NIK): one
    without is told to register first, and the officer checks again. The check is never kept
    for an account to come: whoever registered with the NIK later would get level 2 without
    having been seen. Refused, nothing is kept and no access log has an entry."""
    if method not in contracts.COUNTER_METHODS:
        raise InvalidInput(f"unknown method {method!r}", loc=["method"])
    await _officer(accounts, officer_id, agency_id)
    await _resident(registry, nik)
    account = await accounts.by_nik(nik)
    if account is None:
        raise NoCitizenAccount("no citizen account with this NIK")
    if not _usable(account):
        raise CitizenAccountUnusable("the account with this NIK is disabled or no citizen's")
    verification = CounterVerification(
        id=uuid.uuid4(),
        account_id=account.id,
        method=method,
        officer_account_id=officer_id,
        agency_id=agency_id,
        assurance_level=COUNTER_LEVEL,
        verified_at=now,
    )
    raised = await verifications.record(verification)
    await record_access(
        access_log,
        account_id=account.id,
        accessor=str(officer_id),
        accessor_kind="staff",
        purpose=f"Verifikasi identitas tatap muka di loket ({method})",
        fields=VERIFIED_FIELDS,
        now=now,
    )
    if raised:
        await events.record(
            new_event(
                type=contracts.CITIZEN_VERIFIED,
                source=contracts.SOURCE,
                subject=str(account.id),
                data=contracts.CitizenVerified(
                    account_id=account.id,
                    assurance_level=COUNTER_LEVEL,
                    method=method,
                    verified_at=now,
                    verified_by=officer_id,
                ),
            )
        )
    return CounterVerified(
        account=account,
        assurance_level=max(account.assurance_level, COUNTER_LEVEL),
        verification=verification,
    )
