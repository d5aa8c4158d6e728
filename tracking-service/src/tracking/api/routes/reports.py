"""``/api/v1/reports``: service levels (also as the yearly CSV) and SKM satisfaction."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field
from pydantic_core import to_json

from mpp_shared.app import ServiceRuntime
from mpp_shared.auth import Principal, Role, require_roles
from mpp_shared.deps import read_connection
from mpp_shared.problems import Problem
from tracking.db.reports import read_overdue, read_satisfaction, read_service_levels
from tracking.domain.reports import (
    CSV_HEADERS,
    InvalidPeriod,
    ServiceLevels,
    csv_row,
    last_day_of_month,
    month_range,
    total_of,
)
from tracking.domain.surveys import ELEMENTS, ElementTotals, Satisfaction, satisfaction
from tracking.report_cache import CachedReport, ReportKey
from tracking.runtime import TrackingRuntime

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])

Admin = Annotated[Principal, Depends(require_roles(Role.AGENCY_ADMIN, Role.PLATFORM_ADMIN))]
OVERDUE_LIMIT = 100


# The query parameters one by one: a query model costs FastAPI several times as much per
# request to read (measured), for the same parameters in the OpenAPI document.
AgencyParam = Annotated[
    uuid.UUID | None,
    Query(description="An agency admin's own agency by default; platform admins: any (all)."),
]
ServiceParam = Annotated[uuid.UUID | None, Query()]
FromParam = Annotated[
    date | None, Query(alias="from", description="first day (default: 1 January)")
]
ToParam = Annotated[date | None, Query(description="last day (default: today)")]


@dataclass(frozen=True, slots=True)
class ReportQuery:
    agency_id: uuid.UUID | None
    service_id: uuid.UUID | None
    from_: date | None
    to: date | None


class Period(BaseModel):
    """The months the report covers: aggregates are monthly, so a period is whole months."""

    from_: date = Field(serialization_alias="from")
    to: date


class OverdueRead(BaseModel):
    application_id: uuid.UUID
    registration_number: str
    service_id: uuid.UUID
    service_name: str | None
    status: str
    submitted_at: datetime
    due_at: datetime


class ServiceLevelsRead(BaseModel):
    service_id: uuid.UUID | None = None
    service_name: str | None = None
    applications: int
    counts: dict[str, int]
    finished: int = Field(description="decided (approved or rejected) in the period")
    median_working_days: float | None
    p90_working_days: float | None
    within_sla_ratio: float | None


class ServiceLevelReport(ServiceLevelsRead):
    agency_id: uuid.UUID | None
    period: Period
    as_of: datetime = Field(
        description="when the figures were read: an answer is kept a few seconds (at most "
        "``report_cache_seconds``, 10 by default) for the same agency, service and months"
    )
    overdue: list[OverdueRead]
    services: list[ServiceLevelsRead]


class SatisfactionRead(BaseModel):
    service_id: uuid.UUID | None = None
    service_name: str | None = None
    responses: int
    elements: dict[str, float | None] = Field(description="the average of each element, 1-4")
    ikm: float | None = Field(description="Indeks Kepuasan Masyarakat, 25-100")
    grade: Literal["A", "B", "C", "D"] | None


class SatisfactionReport(SatisfactionRead):
    agency_id: uuid.UUID | None
    period: Period
    as_of: datetime = Field(
        description="when the figures were read: an answer is kept a few seconds (at most "
        "``report_cache_seconds``, 10 by default) for the same agency, service and months"
    )
    services: list[SatisfactionRead]


def _scope(principal: Principal, wanted: uuid.UUID | None) -> uuid.UUID | None:
    """The agency reported on; an agency admin sees only its own."""
    if principal.has_role(Role.PLATFORM_ADMIN):
        return wanted
    if principal.agency_id is None or (wanted is not None and wanted != principal.agency_id):
        raise Problem("Agency admins see their own agency's reports.", status=403, code="forbidden")
    return principal.agency_id


def _period(request: Request, query: ReportQuery) -> tuple[date, date]:
    today = datetime.now(UTC).astimezone(ZoneInfo(request.app.state.settings.report_timezone))
    start = query.from_ or today.date().replace(month=1, day=1)
    end = query.to or today.date()
    try:
        return month_range(start, end)
    except InvalidPeriod as exc:
        raise Problem(
            str(exc),
            status=422,
            code="invalid_period",
            errors=[{"loc": ["query", "to"], "msg": str(exc)}],
        ) from exc


async def _kept_answer(
    runtime: ServiceRuntime, key: ReportKey, compute: Callable[[], Awaitable[CachedReport]]
) -> Response:
    """The report's kept answer, or ``compute()``'s (``ReportCache.answer``), as the response."""
    answer = await runtime.state_as(TrackingRuntime).report_cache.answer(key, compute)
    return Response(content=answer.body, media_type=answer.media_type)


def _float(value: float | None) -> float | None:
    return None if value is None else float(value)


def _levels(line: ServiceLevels) -> dict[str, Any]:
    """A report line as ``ServiceLevelsRead``'s fields, in its order, in its types."""
    return {
        "service_id": line.service_id,
        "service_name": line.service_name,
        "applications": line.applications,
        "counts": dict(sorted(line.counts.items())),
        "finished": line.finished,
        "median_working_days": _float(line.median_working_days),
        "p90_working_days": _float(line.p90_working_days),
        "within_sla_ratio": _float(line.within_sla_ratio),
    }


_OVERDUE_FIELDS = tuple(OverdueRead.model_fields)


def service_level_body(
    *,
    lines: list[ServiceLevels],
    overdue: Sequence[Any],
    agency_id: uuid.UUID | None,
    first: date,
    period_end: date,
    as_of: datetime,
) -> bytes:
    """``ServiceLevelReport`` as its model would serialise it (by alias), built as plain
    values in the model's field order and encoded by the same encoder: validating a report
    with a hundred overdue rows cost about as much as reading it (a test holds the two
    equal). ``overdue``: rows with ``OverdueRead``'s fields."""
    total = _levels(total_of(lines))
    return to_json(
        {
            **total,
            "service_id": None,
            "service_name": None,
            "agency_id": agency_id,
            "period": {"from": first, "to": period_end},
            "as_of": as_of,
            "overdue": [{name: row._mapping[name] for name in _OVERDUE_FIELDS} for row in overdue],
            "services": [_levels(line) for line in lines],
        }
    )


@router.get("/service-levels", response_model=ServiceLevelReport, response_model_by_alias=True)
async def service_levels(
    request: Request,
    principal: Admin,
    agency_id: AgencyParam = None,
    service_id: ServiceParam = None,
    from_: FromParam = None,
    to: ToParam = None,
    format: Literal["json", "csv"] = "json",
) -> Response:
    """Applications by status (counted in the month of their first submission), processing
    time in working days from submission to the decision without revision pauses (median and
    90th percentile, in the month of the decision), the share decided by ``due_at``, and the
    applications overdue now. ``?format=csv``: the yearly report, one row per service.

    The JSON answer may be up to ``report_cache_seconds`` old (``as_of``) when another replica
    handled the latest events; this replica's own changes show at once."""
    runtime: ServiceRuntime = request.app.state.runtime
    query = ReportQuery(agency_id=agency_id, service_id=service_id, from_=from_, to=to)
    agency = _scope(principal, query.agency_id)
    first, last = _period(request, query)
    period_end = last_day_of_month(last)
    if format == "csv":
        async with read_connection(runtime) as connection:
            lines = await read_service_levels(
                connection,
                agency_id=agency,
                service_id=query.service_id,
                first_month=first,
                last_month=last,
            )
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(CSV_HEADERS)
        for line in lines:
            writer.writerow(csv_row(line))
        name = f"laporan-tingkat-layanan-{agency or 'semua'}-{first:%Y%m%d}-{period_end:%Y%m%d}.csv"
        return Response(
            # A BOM, so that spreadsheet programs read the UTF-8 names right.
            content="\ufeff" + buffer.getvalue(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    async def compute() -> CachedReport:
        as_of = datetime.now(UTC)
        async with read_connection(runtime) as connection:
            lines = await read_service_levels(
                connection,
                agency_id=agency,
                service_id=query.service_id,
                first_month=first,
                last_month=last,
            )
            overdue = await read_overdue(
                connection,
                agency_id=agency,
                service_id=query.service_id,
                now=as_of,
                limit=OVERDUE_LIMIT,
            )
        body = service_level_body(
            lines=lines,
            overdue=overdue,
            agency_id=agency,
            first=first,
            period_end=period_end,
            as_of=as_of,
        )
        return CachedReport(body, "application/json")

    key = ReportKey("service-levels", agency, query.service_id, first, last)
    return await _kept_answer(runtime, key, compute)


def _number(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _satisfaction(
    result: Satisfaction, *, service_id: uuid.UUID | None = None, name: str | None = None
) -> dict[str, Any]:
    """A line as ``SatisfactionRead``'s fields, in its order, in its types."""
    return {
        "service_id": service_id,
        "service_name": name,
        "responses": result.responses,
        "elements": {e: _number(v) for e, v in result.elements.items()},
        "ikm": _number(result.ikm),
        "grade": result.grade,
    }


def satisfaction_body(
    *,
    total: dict[str, Any],
    services: list[dict[str, Any]],
    agency_id: uuid.UUID | None,
    first: date,
    period_end: date,
    as_of: datetime,
) -> bytes:
    """``SatisfactionReport`` as its model would serialise it (by alias), from lines of
    ``_satisfaction``, encoded by the same encoder without a validation pass (a test holds
    the two equal)."""
    return to_json(
        {
            **total,
            "service_id": None,
            "service_name": None,
            "agency_id": agency_id,
            "period": {"from": first, "to": period_end},
            "as_of": as_of,
            "services": services,
        }
    )


@router.get("/satisfaction", response_model=SatisfactionReport, response_model_by_alias=True)
async def satisfaction_report(
    request: Request,
    principal: Admin,
    agency_id: AgencyParam = None,
    service_id: ServiceParam = None,
    from_: FromParam = None,
    to: ToParam = None,
) -> Response:
    """SKM: the average of each element, IKM = their mean x 25 and its grade (A ≥ 88.31,
    B ≥ 76.61, C ≥ 65.00, D below), for the agency and per service (``services``). Up to
    ``report_cache_seconds`` old (``as_of``), as the service-level report."""
    runtime: ServiceRuntime = request.app.state.runtime
    query = ReportQuery(agency_id=agency_id, service_id=service_id, from_=from_, to=to)
    agency = _scope(principal, query.agency_id)
    first, last = _period(request, query)

    async def compute() -> CachedReport:
        as_of = datetime.now(UTC)
        async with read_connection(runtime) as connection:
            per_service = await read_satisfaction(
                connection,
                agency_id=agency,
                service_id=query.service_id,
                first_month=first,
                last_month=last,
            )
        total = ElementTotals(responses=0, sums=dict.fromkeys(ELEMENTS, 0))
        for _, _, totals in per_service:
            total = total + totals
        services = sorted(
            (_satisfaction(satisfaction(t), service_id=s, name=name) for s, name, t in per_service),
            key=lambda x: (x["service_name"] or "", str(x["service_id"])),
        )
        body = satisfaction_body(
            total=_satisfaction(satisfaction(total)),
            services=services,
            agency_id=agency,
            first=first,
            period_end=last_day_of_month(last),
            as_of=as_of,
        )
        return CachedReport(body, "application/json")

    key = ReportKey("satisfaction", agency, query.service_id, first, last)
    return await _kept_answer(runtime, key, compute)
