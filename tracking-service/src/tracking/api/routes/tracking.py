"""``GET /api/v1/tracking/{registration_number}?code=``: public tracking with the tracking code.

An unknown number, a wrong code and a missing code all get the same 404 (no oracle). Wrong
codes are counted per number across every address: past the limit each lookup of that number
is 429 until the window moves on, whatever code it carries.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from mpp_shared.deps import SessionDep
from mpp_shared.problems import PROBLEM_CONTENT_TYPE, Problem
from tracking.config import TrackingSettings
from tracking.db.timeline import TimelineRepository
from tracking.db.tracking_failures import TrackingFailureRepository
from tracking.domain.timeline import ordered_history
from tracking.domain.tracking import FailureLimit, code_matches

router = APIRouter(prefix="/api/v1/tracking", tags=["tracking"])

MAX_NUMBER_LENGTH = 64
MAX_CODE_LENGTH = 128


class PublicTimelineItem(BaseModel):
    status: str
    stage: str | None = None
    stage_name: str | None = None
    at: datetime


class PublicTrackingRead(BaseModel):
    registration_number: str
    service_name: str
    agency_name: str | None
    status: str
    stage: str | None = None
    due_at: datetime | None
    overdue: bool
    timeline: list[PublicTimelineItem]


# The one answer for "no such application with this code": a fixed body (no instance, which
# would echo the number), the same for every cause.
NOT_FOUND_BODY = Problem(
    "No application matches this registration number and tracking code.",
    status=404,
    code="not_found",
).to_body()


def _not_found() -> JSONResponse:
    return JSONResponse(NOT_FOUND_BODY, status_code=404, media_type=PROBLEM_CONTENT_TYPE)


class TooManyAttempts(Problem):
    status = 429
    code = "rate_limited"


@router.get(
    "/{registration_number}",
    response_model=PublicTrackingRead,
    responses={404: {"description": "Unknown number or wrong code (one answer for both)."}},
)
async def track(
    registration_number: str,
    request: Request,
    session: SessionDep,
    code: Annotated[str | None, Query(max_length=MAX_CODE_LENGTH)] = None,
) -> PublicTrackingRead | JSONResponse:
    settings: TrackingSettings = request.app.state.settings
    if len(registration_number) > MAX_NUMBER_LENGTH:
        return _not_found()
    limit = FailureLimit(
        max_failures=settings.tracking_max_failures,
        window=timedelta(seconds=settings.tracking_failure_window_seconds),
    )
    now = datetime.now(UTC)
    failures = TrackingFailureRepository(session)
    await failures.lock_number(registration_number)
    count, oldest = await failures.failures_since(registration_number, limit.window_start(now))
    if count >= limit.max_failures and oldest is not None:
        raise TooManyAttempts(
            "Too many wrong tracking codes for this registration number; try again later.",
            headers={"Retry-After": str(limit.retry_after(oldest_failure=oldest, now=now))},
        )
    timeline = TimelineRepository(session)
    application = await timeline.by_registration_number(registration_number)
    if not code_matches(
        registration_number=registration_number,
        code=code,
        stored_hash=application.tracking_code_hash if application is not None else None,
    ):
        # Returned, not raised: the failure must be committed with this request.
        await failures.record_failure(registration_number, at=now, since=limit.window_start(now))
        return _not_found()
    assert application is not None
    entries = ordered_history(await timeline.entries(application.application_id))
    return PublicTrackingRead(
        registration_number=application.registration_number,
        service_name=application.service_name,
        agency_name=await timeline.agency_name(application.agency_id),
        status=application.status,
        stage=application.stage,
        due_at=application.due_at,
        overdue=application.is_overdue(now=now),
        timeline=[
            PublicTimelineItem(
                status=entry.status,
                stage=entry.stage,
                stage_name=entry.stage_name,
                at=entry.occurred_at,
            )
            for entry in entries
        ],
    )
