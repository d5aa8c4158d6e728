"""``GET /api/v1/tracking/{registration_number}?code=``: public tracking with the tracking code.

An unknown number, a wrong code and a missing code all get the same 404 (no oracle). Wrong
codes are counted per number across every address: past the limit each lookup of that number
is 429 until the window moves on, whatever code it carries.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from pydantic_core import to_json

from mpp_shared.app import ServiceRuntime
from mpp_shared.deps import read_connection
from mpp_shared.problems import PROBLEM_CONTENT_TYPE, Problem
from tracking.config import TrackingSettings
from tracking.db.timeline import public_tracking_lookup
from tracking.domain.timeline import is_overdue
from tracking.domain.tracking import FailureLimit, given_code_hash

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
    code: Annotated[str | None, Query(max_length=MAX_CODE_LENGTH)] = None,
) -> Response:
    settings: TrackingSettings = request.app.state.settings
    # The runtime from the app, not a dependency: each one costs FastAPI a resolution.
    runtime: ServiceRuntime = request.app.state.runtime
    if len(registration_number) > MAX_NUMBER_LENGTH:
        return _not_found()
    limit = FailureLimit(
        max_failures=settings.tracking_max_failures,
        window=timedelta(seconds=settings.tracking_failure_window_seconds),
    )
    now = datetime.now(UTC)
    # One statement, its own transaction: the number's lock, then the count, the check and
    # the failure it counts (guesses of one number stay serialised), and the history.
    async with read_connection(runtime, autocommit=False) as connection:
        found = await public_tracking_lookup(
            connection,
            registration_number=registration_number,
            code_hash=given_code_hash(registration_number=registration_number, code=code),
            failures_since=limit.window_start(now),
            at=now,
            max_failures=limit.max_failures,
        )
    if found["outcome"] == "limited":
        oldest = found["oldest_failure"]
        raise TooManyAttempts(
            "Too many wrong tracking codes for this registration number; try again later.",
            headers={"Retry-After": str(limit.retry_after(oldest_failure=oldest, now=now))},
        )
    if found["outcome"] != "found":
        return _not_found()
    # The fields of PublicTrackingRead in its order, serialised as the model would (the same
    # encoder) without validating what the database's own types already guarantee.
    body = to_json(
        {
            "registration_number": found["registration_number"],
            "service_name": found["service_name"],
            "agency_name": found["agency_name"],
            "status": found["status"],
            "stage": found["stage"],
            "due_at": found["due_at"],
            "overdue": is_overdue(
                status=found["status"], overdue=found["overdue"], due_at=found["due_at"], now=now
            ),
            "timeline": [
                {"status": status, "stage": stage, "stage_name": name, "at": at}
                for status, stage, name, at in zip(
                    found["entry_status"],
                    found["entry_stage"],
                    found["entry_stage_name"],
                    found["entry_at"],
                    strict=True,
                )
            ],
        }
    )
    return Response(body, media_type="application/json")
