"""Request and response shapes of the catalogue's API (``XCreate`` / ``XUpdate`` / ``XRead``)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from catalog.domain.models import (
    AgencyFields,
    AgencyKind,
    AgencyPatch,
    Category,
    Channel,
    Code,
    Fee,
    Requirement,
    ServiceFields,
    ServiceFieldsPatch,
    Stage,
)
from mpp_shared.contracts.catalog.v1 import TimeZoneName


class RegionRead(BaseModel):
    code: str
    name: str
    level: Literal["province", "regency", "district", "village"]
    parent_code: str | None


class AgencyCreate(AgencyFields):
    pass


class AgencyUpdate(AgencyPatch):
    pass


class AgencyRead(BaseModel):
    id: uuid.UUID
    name: str
    kind: AgencyKind
    region_code: str
    region_name: str
    timezone: TimeZoneName
    address: str | None
    phone: str | None
    email: str | None
    website: str | None
    service_pledge: str | None = Field(description="maklumat pelayanan")
    revision: int
    created_at: datetime
    updated_at: datetime


class CounterRead(BaseModel):
    id: uuid.UUID
    label: str
    agency_id: uuid.UUID
    agency_name: str
    service_ids: list[uuid.UUID]


class LocationRead(BaseModel):
    id: uuid.UUID
    name: str
    region_code: str
    address: str
    opening_hours: dict[str, list[list[str]]] = Field(
        description='Per weekday ("mon" … "sun") the open intervals in local time, e.g. '
        '[["08:00", "15:00"]]; an empty list is closed.'
    )
    counters: list[CounterRead]


class ServiceCreate(ServiceFields):
    agency_id: uuid.UUID
    code: Code = Field(description="The agency's own code of the service, unique per agency.")


class ServiceDraftUpdate(ServiceFieldsPatch):
    pass


class ServiceSummary(BaseModel):
    id: uuid.UUID
    version: int
    status: str
    agency_id: uuid.UUID
    code: str
    name: str
    description: str
    category: Category
    keywords: list[str]
    region_codes: list[str] = Field(description="Empty: offered nationwide.")
    sla_working_days: int
    fee: Fee
    output: str
    channels: list[Channel]
    min_assurance_level: int
    published_at: datetime | None


class ServiceRead(BaseModel):
    """The standar pelayanan of one version."""

    id: uuid.UUID
    version: int
    status: str = Field(
        description="draft; published (the latest, open for applications); retired (the "
        "latest, closed); superseded (an older version)"
    )
    latest_version: int | None = None
    agency_id: uuid.UUID
    code: str
    name: str
    description: str
    category: Category
    keywords: list[str]
    region_codes: list[str]
    requirements: list[Requirement]
    procedure: list[str]
    stages: list[Stage]
    sla_working_days: int | None
    fee: Fee
    output: str
    legal_basis: list[str]
    complaint_channel: str
    channels: list[Channel]
    min_assurance_level: int
    form_schema: dict[str, Any]
    prefill: dict[str, str]
    published_at: datetime | None
