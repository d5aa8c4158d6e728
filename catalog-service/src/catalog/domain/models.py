"""The catalogue's vocabulary: agencies, the standar pelayanan of a service, its versions."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from mpp_shared.contracts.catalog.v1 import TimeZoneName


class AgencyKind(StrEnum):
    OPD = "opd"  # a regional government office (dinas, badan)
    VERTICAL = "vertical"  # a central-government office in the region (instansi vertikal)
    BUMN = "bumn"  # state-owned company
    BUMD = "bumd"  # region-owned company


class Channel(StrEnum):
    ONLINE = "online"
    COUNTER = "counter"


class Category(StrEnum):
    """Service categories, named after the sectors of the standar pelayanan."""

    CIVIL_REGISTRATION = "kependudukan"  # KTP-el, KK, akta, pindah datang
    LICENSING = "perizinan"  # business and building permits
    EMPLOYMENT = "ketenagakerjaan"
    IMMIGRATION = "keimigrasian"
    CUSTOMS = "kepabeanan"
    TAXATION = "perpajakan"  # regional taxes and levies (PBB, BPHTB)
    UTILITIES = "utilitas"  # water, electricity
    BANKING = "perbankan"
    SOCIAL_SECURITY = "jaminan_sosial"  # BPJS
    HEALTH = "kesehatan"
    EDUCATION = "pendidikan"
    SOCIAL = "sosial"
    LAND = "pertanahan"
    TRANSPORT = "perhubungan"
    OTHER = "lainnya"


class ServiceStatus(StrEnum):
    DRAFT = "draft"  # never published
    PUBLISHED = "published"
    RETIRED = "retired"


class VersionStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"


Code = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=4000)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=300)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=200)]
MimeType = Annotated[
    str, StringConstraints(pattern=r"^[a-z]+/[a-z0-9][a-z0-9.+-]*$", max_length=100)
]
RegionCode = Annotated[str, StringConstraints(pattern=r"^\d{2}(\.\d{2}(\.\d{2}(\.\d{4})?)?)?$")]
Keyword = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Requirement(_Strict):
    """A document the citizen must (or may) attach: *persyaratan*."""

    code: Code
    name: Name
    mandatory: bool = True
    accepted_types: list[MimeType] = Field(
        default_factory=lambda: ["application/pdf", "image/jpeg", "image/png"], min_length=1
    )
    max_size_mb: float = Field(default=2.0, gt=0, le=50)
    description: Text | None = None


class Stage(_Strict):
    """A processing stage officers move an application through."""

    code: Code
    name: Name


class Fee(_Strict):
    amount_idr: int = Field(default=0, ge=0)
    note: ShortText | None = None


def _default_form_schema() -> dict[str, Any]:
    return {"type": "object", "properties": {}}


class ServiceFields(_Strict):
    """The editable standar pelayanan of a service version.

    A draft may be incomplete; ``missing_for_publication`` says what publishing needs.
    """

    name: Name
    description: Text = ""
    category: Category = Category.OTHER
    keywords: list[Keyword] = Field(default_factory=list, max_length=40)
    region_codes: list[RegionCode] = Field(default_factory=list, max_length=600)
    requirements: list[Requirement] = Field(default_factory=list, max_length=50)
    procedure: list[Text] = Field(default_factory=list, max_length=50)
    stages: list[Stage] = Field(default_factory=list, max_length=30)
    sla_working_days: int | None = Field(default=None, ge=1, le=365)
    fee: Fee = Field(default_factory=Fee)
    output: ShortText = ""
    legal_basis: list[ShortText] = Field(default_factory=list, max_length=30)
    complaint_channel: ShortText = ""
    channels: list[Channel] = Field(default_factory=lambda: [Channel.ONLINE], max_length=2)
    min_assurance_level: Literal[1, 2] = 1
    form_schema: dict[str, Any] = Field(default_factory=_default_form_schema)
    prefill: dict[str, str] = Field(default_factory=dict, max_length=50)


class ServiceFieldsPatch(_Strict):
    """A partial edit of a draft: only the fields sent change."""

    name: Name | None = None
    description: Text | None = None
    category: Category | None = None
    keywords: list[Keyword] | None = Field(default=None, max_length=40)
    region_codes: list[RegionCode] | None = Field(default=None, max_length=600)
    requirements: list[Requirement] | None = Field(default=None, max_length=50)
    procedure: list[Text] | None = Field(default=None, max_length=50)
    stages: list[Stage] | None = Field(default=None, max_length=30)
    sla_working_days: int | None = Field(default=None, ge=1, le=365)
    fee: Fee | None = None
    output: ShortText | None = None
    legal_basis: list[ShortText] | None = Field(default=None, max_length=30)
    complaint_channel: ShortText | None = None
    channels: list[Channel] | None = Field(default=None, max_length=2)
    min_assurance_level: Literal[1, 2] | None = None
    form_schema: dict[str, Any] | None = None
    prefill: dict[str, str] | None = Field(default=None, max_length=50)

    def apply_to(self, fields: ServiceFields) -> dict[str, Any]:
        """The merged fields as plain data (validate them again as ``ServiceFields``)."""
        merged = fields.model_dump(mode="json")
        merged.update(self.model_dump(mode="json", exclude_unset=True))
        return merged


class Agency(BaseModel):
    id: uuid.UUID
    name: str
    kind: AgencyKind
    region_code: str
    timezone: TimeZoneName
    address: str | None = None
    phone: str | None = None
    email: str | None = None
    website: str | None = None
    service_pledge: str | None = None  # maklumat pelayanan
    revision: int = 1
    created_at: datetime
    updated_at: datetime


class AgencyFields(_Strict):
    name: Name
    kind: AgencyKind
    region_code: RegionCode
    address: ShortText | None = None
    phone: Annotated[str, StringConstraints(pattern=r"^\+?[0-9 ()-]{5,20}$")] | None = None
    email: Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")] | None = None
    website: Annotated[str, StringConstraints(pattern=r"^https?://\S+$", max_length=300)] | None = (
        None
    )
    service_pledge: Text | None = None


class AgencyPatch(_Strict):
    name: Name | None = None
    address: ShortText | None = None
    phone: Annotated[str, StringConstraints(pattern=r"^\+?[0-9 ()-]{5,20}$")] | None = None
    email: Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")] | None = None
    website: Annotated[str, StringConstraints(pattern=r"^https?://\S+$", max_length=300)] | None = (
        None
    )
    service_pledge: Text | None = None


class ServiceHeader(BaseModel):
    """A service apart from its versions."""

    id: uuid.UUID
    agency_id: uuid.UUID
    code: str
    status: ServiceStatus
    published_version: int | None
    draft_version: int | None
    retired_at: datetime | None = None


class ServiceVersion(BaseModel):
    service_id: uuid.UUID
    version: int
    status: VersionStatus
    fields: ServiceFields
    created_at: datetime
    updated_at: datetime
    published_at: datetime | None = None
