"""Assisted filing at a counter (layanan dibantu petugas): an officer files an application for a
resident whose identity they checked in person, and the application finds its owner's account
when there is one, or when the resident registers later.

The NIK never stays here: identity-service looks the resident up, and an application waiting
for an owner keeps only the NIK's keyed hash (``mpp_shared.contracts.identity.v1.resident_key``).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from application.domain import access
from application.domain.exceptions import (
    ApplicationNotFound,
    NotFiledAtCounter,
    NotPermitted,
    NotSubmittedYet,
    ServiceNotAtCounter,
    ServiceNotFound,
    ServiceRetired,
)
from application.domain.forms import check_form_size, get_path, set_path
from application.domain.lifecycle import Status
from application.domain.models import Actor, Application, ApplicationView, CounterFiling
from application.domain.ports import ApplicationEvents, ApplicationRepository
from application.domain.services import _publish
from mpp_shared.auth.principal import Principal
from mpp_shared.contracts.application import v1 as contract
from mpp_shared.contracts.identity.v1 import resident_key

LOOKUP_PURPOSE = "Pengajuan permohonan dibantu petugas di loket"
# Contact details are the resident's own to give; the registry vouches only for these.
NOT_FROM_REGISTRY = frozenset({"email", "phone"})


@dataclass(frozen=True)
class ResidentFound:
    """identity-service's answer about a resident looked up at a counter."""

    nik_masked: str
    fields: dict[str, Any]
    account_id: uuid.UUID | None
    assurance_level: int | None
    officer_name: str


class ResidentRegistry(Protocol):
    """``rpc.identity.resident.lookup``: the read is in the resident's access log."""

    async def lookup_resident(
        self,
        *,
        nik: str,
        officer_id: uuid.UUID,
        agency_id: uuid.UUID,
        service_id: uuid.UUID,
        fields: Sequence[str],
        purpose: str,
    ) -> ResidentFound: ...


class CounterFilings(Protocol):
    async def add(self, filing: CounterFiling) -> None: ...

    async def get(self, application_id: uuid.UUID) -> CounterFiling | None: ...

    async def waiting_for(self, key: str) -> list[uuid.UUID]:
        """Applications (ids) waiting for the resident of ``key``, locked for the link."""
        ...

    async def link(self, application_id: uuid.UUID, *, owner: uuid.UUID, at: datetime) -> None:
        """The application now belongs to ``owner``; its resident key is dropped."""
        ...


@dataclass(frozen=True)
class CounterFiled:
    view: ApplicationView
    resident: ResidentFound


async def file_at_counter(
    *,
    repo: ApplicationRepository,
    filings: CounterFilings,
    registry: ResidentRegistry,
    principal: Principal,
    service_id: uuid.UUID,
    nik: str,
    form_data: dict[str, Any],
    prefill_from_registry: bool,
    link_secret: str,
    now: datetime,
) -> CounterFiled:
    """A draft with ``channel: counter``, filed by the officer for the resident of ``nik``."""
    agency = access.counter_agency(principal)
    if agency is None:
        raise NotPermitted("Hanya petugas dan admin instansi yang mengajukan permohonan di loket.")
    version = await repo.service_version(service_id)
    if version is None:
        raise ServiceNotFound()
    if version.published.agency_id != agency:
        raise NotPermitted("Layanan ini milik instansi lain; ajukan di loket instansi tersebut.")
    if version.retired:
        raise ServiceRetired()
    if "counter" not in version.published.channels:
        raise ServiceNotAtCounter()
    check_form_size(form_data)
    prefill = version.published.prefill if prefill_from_registry else {}
    wanted = sorted({field for field in prefill.values() if field not in NOT_FROM_REGISTRY})
    officer = uuid.UUID(principal.subject)
    resident = await registry.lookup_resident(
        nik=nik,
        officer_id=officer,
        agency_id=agency,
        service_id=service_id,
        fields=wanted,
        purpose=LOOKUP_PURPOSE,
    )
    form = dict(form_data)
    for form_path, profile_field in sorted(prefill.items()):
        value = resident.fields.get(profile_field)
        # What the officer typed in wins over the registry's copy.
        if value is not None and get_path(form, form_path) is None:
            set_path(form, form_path, value)
    check_form_size(form)
    application = Application(
        id=uuid.uuid4(),
        owner_account_id=resident.account_id,
        service_id=service_id,
        service_version=version.version,
        agency_id=agency,
        status=Status.DRAFT,
        form_data=form,
        created_at=now,
        updated_at=now,
        channel="counter",
    )
    await repo.add(application)
    await filings.add(
        CounterFiling(
            application_id=application.id,
            filed_by=officer,
            officer_name=resident.officer_name,
            resident_key=None if resident.account_id else resident_key(nik, link_secret),
            filed_at=now,
        )
    )
    return CounterFiled(view=ApplicationView(application=application), resident=resident)


@dataclass(frozen=True)
class Receipt:
    application: Application
    filing: CounterFiling
    service_name: str
    agency_name: str
    timezone: str  # the agency's, for the date printed


async def receipt_of(
    *,
    repo: ApplicationRepository,
    filings: CounterFilings,
    principal: Principal,
    application_id: uuid.UUID,
) -> Receipt:
    """What the printed receipt says: for the agency's staff, once the application is numbered."""
    agency = access.counter_agency(principal)
    if agency is None:
        raise NotPermitted("Tanda terima loket dicetak oleh petugas instansi.")
    application = await repo.get(application_id)
    if application is None or application.agency_id != agency:
        raise ApplicationNotFound()
    filing = await filings.get(application.id)
    if filing is None:
        raise NotFiledAtCounter()
    if application.registration_number is None or application.tracking_code is None:
        raise NotSubmittedYet()
    version = await repo.published_version(application.service_id, application.service_version)
    if version is None:
        raise ServiceNotFound()
    return Receipt(
        application=application,
        filing=filing,
        service_name=version.published.name,
        agency_name=version.published.agency_name,
        timezone=version.published.agency_timezone,
    )


async def link_resident(
    *,
    repo: ApplicationRepository,
    filings: CounterFilings,
    events: ApplicationEvents,
    key: str,
    account_id: uuid.UUID,
    now: datetime,
) -> list[uuid.UUID]:
    """The resident of ``key`` registered as ``account_id``: the applications filed for them
    become theirs; each submitted one says so in an ``owner_linked`` event (a draft publishes
    nothing), so that tracking shows it on the owner's timeline and notifies them from then on."""
    linked: list[uuid.UUID] = []
    for application_id in await filings.waiting_for(key):
        application = await repo.get(application_id)
        if application is None or application.owner_account_id is not None:
            continue
        expected = application.version
        application.owner_account_id = account_id
        application.updated_at = now
        if application.registration_number is not None:
            version = await repo.published_version(
                application.service_id, application.service_version
            )
            if version is None:
                raise ServiceNotFound()
            await _publish(
                events,
                application,
                version,
                contract.APPLICATION_OWNER_LINKED,
                contract.ApplicationOwnerLinked,
                old_status=application.status,
                actor=Actor(kind="system", id=None),
                now=now,
            )
        await repo.save(application, expected_version=expected)
        await filings.link(application.id, owner=account_id, at=now)
        linked.append(application.id)
    return linked
