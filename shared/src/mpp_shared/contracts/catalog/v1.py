"""Version 1 of the catalog-service's event payloads (``mpp.catalog.*``) and its NATS requests.

``ServicePublished`` carries the published version's full *standar pelayanan*, so a consumer
(application-service, tracking-service) keeps its own read copy without asking the catalogue.
A published version never changes: a consumer may store it under ``(service_id, version)``.

The snapshot (``rpc.catalog.services.snapshot``) gives a fresh consumer what the event stream
may no longer hold (it has a retention limit): every service's latest published version, as
the ``ServicePublished`` payload, and a ``ServiceRetired`` for each of them that is retired.
Page through it until ``next`` is null, handling each page as the events it stands for::

    after = None
    while True:
        reply = await nc.request(SNAPSHOT_SUBJECT, ServicesSnapshotRequest(after=after)
                                 .model_dump_json().encode(), timeout=5)
        page = parse_snapshot_reply(reply.data)        # ServicesSnapshotPage or RpcError
        for item in page.items: ...                    # as on mpp.catalog.service.published
        for retired in page.retired: ...               # as on mpp.catalog.service.retired
        if page.next is None: break
        after = page.next

``all_versions=True`` also gives the earlier published versions (oldest first per service).
A service's ``ServiceRetired`` comes in the page of its latest version, after it. The pages
are read one by one, not as one transaction: a service published meanwhile may be in a later
page or only in its event; both are the same payload, so handling it twice changes nothing.
``RpcError.error`` is ``invalid_request`` (a malformed request or cursor) or ``internal_error``.

One MPP location (``rpc.catalog.locations.get``): its opening hours and counters, for the
counter bookings of application-service::

    reply = await nc.request(LOCATION_SUBJECT, LocationRequest(location_id=...)
                             .model_dump_json().encode(), timeout=2)
    answer = parse_location_reply(reply.data)          # LocationReply or RpcError

``RpcError.error`` is ``not_found``, ``invalid_request`` or ``internal_error``.

Locations are also published: ``mpp.catalog.location.updated`` (``LocationUpdated``, the whole
location after the change, when it is created or anything of it changes), so a consumer keeps a
read copy and books while the catalogue is down. ``as_of`` is when the catalogue read that
state; a copy keeps the state with the latest ``as_of`` (events may arrive out of order). The
snapshot of every location (``rpc.catalog.locations.snapshot``, pages of ``LocationReply`` by
location id, ``next`` the last id of a full page) fills an empty copy::

    after = None
    while True:
        reply = await nc.request(LOCATIONS_SNAPSHOT_SUBJECT, LocationsSnapshotRequest(
            after=after).model_dump_json().encode(), timeout=5)
        page = parse_locations_snapshot_reply(reply.data)  # LocationsSnapshotPage or RpcError
        for location in page.items: ...                    # as on mpp.catalog.location.updated
        if page.next is None: break
        after = page.next
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mpp_shared.contracts import EventData

SOURCE = "/catalog"

AGENCY_CREATED = "mpp.catalog.agency.created"
AGENCY_UPDATED = "mpp.catalog.agency.updated"
SERVICE_PUBLISHED = "mpp.catalog.service.published"
SERVICE_RETIRED = "mpp.catalog.service.retired"
LOCATION_UPDATED = "mpp.catalog.location.updated"

# Request-reply, outside mpp.> (the events stream captures mpp.> and would answer it).
SNAPSHOT_SUBJECT = "rpc.catalog.services.snapshot"
LOCATION_SUBJECT = "rpc.catalog.locations.get"
LOCATIONS_SNAPSHOT_SUBJECT = "rpc.catalog.locations.snapshot"
SNAPSHOT_DEFAULT_LIMIT = 50
SNAPSHOT_MAX_LIMIT = 100
# A page stops growing past this many bytes of JSON (NATS' default max_payload is 1 MB).
SNAPSHOT_MAX_PAGE_BYTES = 512 * 1024

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


class _Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class ServicesSnapshotRequest(_Message):
    """One page of the snapshot: the one after ``after`` (a page's ``next``), or the first."""

    after: str | None = Field(default=None, max_length=200)  # opaque cursor
    limit: int = Field(default=SNAPSHOT_DEFAULT_LIMIT, ge=1, le=SNAPSHOT_MAX_LIMIT)
    all_versions: bool = False


class ServicesSnapshotPage(_Message):
    """At most ``limit`` published versions (fewer when they would pass
    ``SNAPSHOT_MAX_PAGE_BYTES``), ordered by service id then version; ``retired`` has one
    entry per service of ``items`` that is retired now; ``next`` is null on the last page."""

    items: list[ServicePublished]
    retired: list[ServiceRetired] = Field(default_factory=list)
    next: str | None = None


class RpcError(_Message):
    error: str
    detail: str | None = None


class LocationRequest(_Message):
    location_id: uuid.UUID


class LocationCounter(_Message):
    """A counter (loket): the agency that staffs it and the services it serves."""

    counter_id: uuid.UUID
    label: str
    agency_id: uuid.UUID
    agency_name: str
    service_ids: list[uuid.UUID]


class LocationReply(_Message):
    """``opening_hours``: per weekday (``mon`` … ``sun``) the open intervals in the location's
    local time (``[["08:00", "15:00"]]``; empty or absent: closed). ``counters`` are in the
    location's order (position, then label)."""

    location_id: uuid.UUID
    name: str
    region_code: str
    timezone: TimeZoneName
    opening_hours: dict[str, list[list[str]]]
    counters: list[LocationCounter]
    # When the catalogue read this state (null from a catalogue before location events).
    as_of: datetime | None = None


class LocationUpdated(EventData):
    """``mpp.catalog.location.updated``: the location as it is after the change (the fields of
    ``LocationReply``)."""

    location_id: uuid.UUID
    name: str
    region_code: str
    timezone: TimeZoneName
    opening_hours: dict[str, list[list[str]]]
    counters: list[LocationCounter]
    as_of: datetime

    def as_reply(self) -> LocationReply:
        return LocationReply.model_validate(self.model_dump())


class LocationsSnapshotRequest(_Message):
    """The page of locations after the location id ``after`` (a page's ``next``), or the first."""

    after: uuid.UUID | None = None
    limit: int = Field(default=SNAPSHOT_DEFAULT_LIMIT, ge=1, le=SNAPSHOT_MAX_LIMIT)


class LocationsSnapshotPage(_Message):
    """At most ``limit`` locations by id; ``next`` is null on the last page."""

    items: list[LocationReply]
    next: uuid.UUID | None = None


_ReplyT = TypeVar("_ReplyT", bound=BaseModel)


def parse_snapshot_reply(body: bytes | str) -> ServicesSnapshotPage | RpcError:
    return _parse(body, ServicesSnapshotPage)


def parse_location_reply(body: bytes | str) -> LocationReply | RpcError:
    return _parse(body, LocationReply)


def parse_locations_snapshot_reply(body: bytes | str) -> LocationsSnapshotPage | RpcError:
    return _parse(body, LocationsSnapshotPage)


def _parse(body: bytes | str, model: type[_ReplyT]) -> _ReplyT | RpcError:
    try:
        return RpcError.model_validate_json(body)
    except ValidationError:
        return model.model_validate_json(body)


__all__ = [
    "AGENCY_CREATED",
    "AGENCY_UPDATED",
    "LOCATIONS_SNAPSHOT_SUBJECT",
    "LOCATION_SUBJECT",
    "LOCATION_UPDATED",
    "SERVICE_PUBLISHED",
    "SERVICE_RETIRED",
    "SNAPSHOT_DEFAULT_LIMIT",
    "SNAPSHOT_MAX_LIMIT",
    "SNAPSHOT_MAX_PAGE_BYTES",
    "SNAPSHOT_SUBJECT",
    "SOURCE",
    "Agency",
    "AgencyCreated",
    "AgencyKind",
    "AgencyUpdated",
    "Fee",
    "LocationCounter",
    "LocationReply",
    "LocationRequest",
    "LocationUpdated",
    "LocationsSnapshotPage",
    "LocationsSnapshotRequest",
    "Requirement",
    "RpcError",
    "ServicePublished",
    "ServiceRetired",
    "ServicesSnapshotPage",
    "ServicesSnapshotRequest",
    "Stage",
    "TimeZoneName",
    "parse_location_reply",
    "parse_locations_snapshot_reply",
    "parse_snapshot_reply",
]
