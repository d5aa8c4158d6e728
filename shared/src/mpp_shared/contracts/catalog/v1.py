"""Version 1 of the catalog-service's event payloads (``mpp.catalog.*``).

``ServicePublished`` carries the published version's full *standar pelayanan*, so a consumer
(application-service, tracking-service) keeps its own read copy without asking the catalogue.
A published version never changes: a consumer may store it under ``(service_id, version)``.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from mpp_shared.contracts import EventData

SOURCE = "/catalog"

AGENCY_CREATED = "mpp.catalog.agency.created"
AGENCY_UPDATED = "mpp.catalog.agency.updated"
SERVICE_PUBLISHED = "mpp.catalog.service.published"
SERVICE_RETIRED = "mpp.catalog.service.retired"

AgencyKind = Literal["opd", "vertical", "bumn", "bumd"]
# The agency's local time for due dates: WIB (UTC+7), WITA (UTC+8), WIT (UTC+9).
TimeZoneName = Literal["Asia/Jakarta", "Asia/Makassar", "Asia/Jayapura"]


class Agency(EventData):
    """``mpp.catalog.agency.created`` and ``mpp.catalog.agency.updated`` (the state after)."""

    agency_id: uuid.UUID
    name: str
    kind: AgencyKind
    region_code: str
    timezone: TimeZoneName
    revision: int


class AgencyCreated(Agency):
    pass


class AgencyUpdated(Agency):
    pass


class Requirement(EventData):
    code: str
    name: str
    mandatory: bool
    accepted_types: list[str]
    max_size_mb: float
    description: str | None = None


class Stage(EventData):
    code: str
    name: str


class Fee(EventData):
    amount_idr: int
    note: str | None = None


class ServicePublished(EventData):
    """``mpp.catalog.service.published``: a new immutable version; the latest one from now on."""

    service_id: uuid.UUID
    version: int
    agency_id: uuid.UUID
    agency_name: str
    agency_region_code: str
    agency_timezone: TimeZoneName
    region_codes: list[str]  # empty: offered nationwide
    code: str
    name: str
    description: str
    category: str
    keywords: list[str]
    requirements: list[Requirement]
    procedure: list[str]
    stages: list[Stage]
    sla_working_days: int
    fee: Fee
    output: str
    legal_basis: list[str]
    complaint_channel: str
    channels: list[Literal["online", "counter"]]
    min_assurance_level: int
    form_schema: dict[str, Any]
    prefill: dict[str, str]  # form field (dotted path) -> profile field of GET /api/v1/me
    published_at: datetime


class ServiceRetired(EventData):
    """``mpp.catalog.service.retired``: no new applications; existing ones carry on."""

    service_id: uuid.UUID
    agency_id: uuid.UUID
    version: int  # the latest published version at retirement
    retired_at: datetime


__all__ = [
    "AGENCY_CREATED",
    "AGENCY_UPDATED",
    "SERVICE_PUBLISHED",
    "SERVICE_RETIRED",
    "SOURCE",
    "Agency",
    "AgencyCreated",
    "AgencyKind",
    "AgencyUpdated",
    "Fee",
    "Requirement",
    "ServicePublished",
    "ServiceRetired",
    "Stage",
    "TimeZoneName",
]
