"""The catalogue's operations: agencies, and the draft → published → retired life of a service."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from catalog.domain import permissions
from catalog.domain.exceptions import (
    AgencyNotFound,
    IncompleteService,
    InvalidDefinition,
    NoDraft,
    NotPermitted,
    NotPublished,
    ServiceNotFound,
    ServiceRetired,
    UnknownRegion,
)
from catalog.domain.form_schema import check_form
from catalog.domain.models import (
    Agency,
    AgencyFields,
    AgencyPatch,
    ServiceFields,
    ServiceFieldsPatch,
    ServiceHeader,
    ServiceStatus,
    ServiceVersion,
)
from catalog.domain.ports import CatalogEvents, CatalogRepository
from catalog.domain.regions import region_keys_for_service, timezone_of
from mpp_shared.auth.principal import Principal
from mpp_shared.contracts.catalog import v1 as contract

# --- agencies ---------------------------------------------------------------------------------


async def create_agency(
    *,
    repo: CatalogRepository,
    events: CatalogEvents,
    principal: Principal,
    fields: AgencyFields,
    agency_id: uuid.UUID | None = None,
) -> Agency:
    permissions.require_platform_admin(principal)
    await _check_regions(repo, [fields.region_code], loc=["region_code"])
    agency = await repo.add_agency(
        agency_id=agency_id or uuid.uuid4(),
        fields=fields,
        timezone=timezone_of(fields.region_code),
    )
    await events.agency_created(agency)
    return agency


async def update_agency(
    *,
    repo: CatalogRepository,
    events: CatalogEvents,
    principal: Principal,
    agency_id: uuid.UUID,
    patch: AgencyPatch,
) -> Agency:
    permissions.require_catalog_editor(principal)
    if not permissions.manages_agency(principal, agency_id):
        raise AgencyNotFound()
    if await repo.get_agency(agency_id) is None:
        raise AgencyNotFound()
    changes = patch.model_dump(exclude_unset=True)
    if changes.get("name", "") is None:
        del changes["name"]
    agency = await repo.update_agency(agency_id=agency_id, changes=changes)
    await events.agency_updated(agency)
    return agency


# --- services ---------------------------------------------------------------------------------


async def create_service(
    *,
    repo: CatalogRepository,
    principal: Principal,
    agency_id: uuid.UUID,
    code: str,
    fields: ServiceFields,
    service_id: uuid.UUID | None = None,
) -> tuple[ServiceHeader, ServiceVersion]:
    """A new service with its first draft (version 1)."""
    permissions.require_catalog_editor(principal)
    if not permissions.manages_agency(principal, agency_id):
        raise NotPermitted("An agency admin creates services for their own agency only.")
    if await repo.get_agency(agency_id) is None:
        raise AgencyNotFound()
    await _check_fields(repo, fields)
    header = await repo.add_service(
        service_id=service_id or uuid.uuid4(), agency_id=agency_id, code=code
    )
    draft = await repo.add_draft(
        service_id=header.id, version=1, fields=fields, actor=principal.subject
    )
    return header.model_copy(update={"draft_version": 1}), draft


async def edit_draft(
    *,
    repo: CatalogRepository,
    principal: Principal,
    service_id: uuid.UUID,
    patch: ServiceFieldsPatch,
) -> tuple[ServiceHeader, ServiceVersion]:
    """Change the draft; without one, start a draft (the next version) from the latest version."""
    header = await _service_to_change(repo, principal, service_id)
    if header.draft_version is not None:
        current = await _version(repo, header, header.draft_version)
        fields = _validated(patch.apply_to(current.fields))
        await _check_fields(repo, fields)
        draft = await repo.save_draft(
            service_id=header.id, version=header.draft_version, fields=fields
        )
        return header, draft
    assert header.published_version is not None  # a service without a draft was published
    latest = await _version(repo, header, header.published_version)
    fields = _validated(patch.apply_to(latest.fields))
    await _check_fields(repo, fields)
    next_version = header.published_version + 1
    draft = await repo.add_draft(
        service_id=header.id, version=next_version, fields=fields, actor=principal.subject
    )
    return header.model_copy(update={"draft_version": next_version}), draft


async def get_draft(
    *, repo: CatalogRepository, principal: Principal, service_id: uuid.UUID
) -> tuple[ServiceHeader, ServiceVersion]:
    header = await _service_to_change(repo, principal, service_id, for_update=False)
    if header.draft_version is None:
        raise NoDraft("The service has no draft; PATCH .../draft starts one.")
    return header, await _version(repo, header, header.draft_version)


async def publish_service(
    *,
    repo: CatalogRepository,
    events: CatalogEvents,
    principal: Principal,
    service_id: uuid.UUID,
) -> dict[str, Any]:
    """Freeze the draft as the next published version; returns its public document."""
    header = await _service_to_change(repo, principal, service_id)
    if header.draft_version is None:
        raise NoDraft("There is no draft to publish: the latest version is already published.")
    draft = await _version(repo, header, header.draft_version)
    _check_complete(draft.fields)
    # The form was checked when the draft was saved; regions may have changed since.
    await _check_regions(repo, draft.fields.region_codes, loc=["region_codes"])
    agency = await repo.get_agency(header.agency_id)
    if agency is None:
        raise AgencyNotFound()
    published_at = await repo.now()
    document = service_document(
        header=header,
        version=draft.version,
        fields=draft.fields,
        status=ServiceStatus.PUBLISHED,
        published_at=published_at,
    )
    await repo.publish(
        service_id=header.id,
        version=draft.version,
        document=document,
        listing=listing_item(document),
        region_keys=region_keys_for_service(draft.fields.region_codes),
        actor=principal.subject,
        published_at=published_at,
    )
    await events.service_published(published_event(document, agency))
    return document


async def retire_service(
    *,
    repo: CatalogRepository,
    events: CatalogEvents,
    principal: Principal,
    service_id: uuid.UUID,
) -> dict[str, Any]:
    header = await _service_to_change(repo, principal, service_id)
    if header.status is ServiceStatus.RETIRED:
        raise ServiceRetired("The service is already retired.")
    if header.published_version is None:
        raise NotPublished("A service that was never published cannot be retired.")
    latest = await _version(repo, header, header.published_version)
    retired_at = await repo.now()
    await repo.retire(service_id=header.id, retired_at=retired_at)
    await events.service_retired(
        contract.ServiceRetired(
            service_id=header.id,
            agency_id=header.agency_id,
            version=header.published_version,
            retired_at=retired_at,
        )
    )
    return service_document(
        header=header,
        version=latest.version,
        fields=latest.fields,
        status=ServiceStatus.RETIRED,
        published_at=latest.published_at,
    )


# --- documents --------------------------------------------------------------------------------


def service_document(
    *,
    header: ServiceHeader,
    version: int,
    fields: ServiceFields,
    status: str,
    published_at: datetime | None,
) -> dict[str, Any]:
    """The public JSON of a service version: the standar pelayanan fields of API.md."""
    body = fields.model_dump(mode="json")
    return {
        "id": str(header.id),
        "version": version,
        "status": str(status),
        "agency_id": str(header.agency_id),
        "code": header.code,
        **body,
        "published_at": published_at.isoformat() if published_at else None,
    }


_LISTING_FIELDS = (
    "id",
    "version",
    "status",
    "agency_id",
    "code",
    "name",
    "description",
    "category",
    "keywords",
    "region_codes",
    "sla_working_days",
    "fee",
    "output",
    "channels",
    "min_assurance_level",
    "published_at",
)


def listing_item(document: dict[str, Any]) -> dict[str, Any]:
    """A service as lists show it: the document without the form, requirements and procedure."""
    return {name: document[name] for name in _LISTING_FIELDS}


def published_event(document: dict[str, Any], agency: Agency) -> contract.ServicePublished:
    return contract.ServicePublished.model_validate(
        {
            **document,
            "service_id": document["id"],
            "agency_name": agency.name,
            "agency_region_code": agency.region_code,
            "agency_timezone": agency.timezone,
        }
    )


# --- helpers ----------------------------------------------------------------------------------


async def _service_to_change(
    repo: CatalogRepository, principal: Principal, service_id: uuid.UUID, *, for_update: bool = True
) -> ServiceHeader:
    permissions.require_catalog_editor(principal)
    header = await repo.get_service(service_id, for_update=for_update)
    # Another agency's service is "not found": its existence is not the caller's business.
    if header is None or not permissions.manages_agency(principal, header.agency_id):
        raise ServiceNotFound()
    return header


async def _version(repo: CatalogRepository, header: ServiceHeader, version: int) -> ServiceVersion:
    found = await repo.get_version(header.id, version)
    if found is None:
        raise ServiceNotFound()
    return found


def _validated(data: dict[str, Any]) -> ServiceFields:
    try:
        return ServiceFields.model_validate(data)
    except ValidationError as exc:
        raise InvalidDefinition(
            "The service definition is not valid.",
            [{"loc": list(err["loc"]), "msg": err["msg"]} for err in exc.errors()],
        ) from None


async def _check_fields(repo: CatalogRepository, fields: ServiceFields) -> None:
    errors: list[dict[str, Any]] = []
    for name, codes in (
        ("requirements", [r.code for r in fields.requirements]),
        ("stages", [s.code for s in fields.stages]),
    ):
        for code, count in Counter(codes).items():
            if count > 1:
                errors.append({"loc": [name], "msg": f"The code {code!r} is used twice."})
    if len(set(fields.channels)) != len(fields.channels):
        errors.append({"loc": ["channels"], "msg": "A channel is listed twice."})
    if errors:
        raise InvalidDefinition("The service definition is not valid.", errors)
    check_form(fields.form_schema, fields.prefill)
    await _check_regions(repo, fields.region_codes, loc=["region_codes"])


async def _check_regions(repo: CatalogRepository, codes: list[str], *, loc: list[str]) -> None:
    missing = await repo.missing_region_codes(codes) if codes else []
    if missing:
        raise UnknownRegion(
            "Unknown region code.",
            [{"loc": loc, "msg": f"{code!r} is not a Kemendagri region code."} for code in missing],
        )


def _check_complete(fields: ServiceFields) -> None:
    needed = {
        "description": bool(fields.description),
        "sla_working_days": fields.sla_working_days is not None,
        "output": bool(fields.output),
        "complaint_channel": bool(fields.complaint_channel),
        "procedure": bool(fields.procedure),
        "stages": bool(fields.stages),
        "channels": bool(fields.channels),
    }
    missing = [name for name, present in needed.items() if not present]
    if missing:
        raise IncompleteService(
            "The draft lacks what a published standar pelayanan states.",
            [{"loc": [name], "msg": "Required before publishing."} for name in missing],
        )
