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

from mpp_shared.problems import PROBLEM_CONTENT_TYPE, Problem
from tracking.api.transaction import TransactionDep
from tracking.config import TrackingSettings
from tracking.db.timeline import read_public_tracking
from tracking.db.tracking_failures import TrackingFailureRepository
from tracking.domain.timeline import is_overdue
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
    connection: TransactionDep,
    code: Annotated[str | None, Query(max_length=MAX_CODE_LENGTH)] = None,
) -> Response:
    settings: TrackingSettings = request.app.state.settings
    if len(registration_number) > MAX_NUMBER_LENGTH:
        return _not_found()
    limit = FailureLimit(
        max_failures=settings.tracking_max_failures,
        window=timedelta(seconds=settings.tracking_failure_window_seconds),
    )
    now = datetime.now(UTC)
    failures = TrackingFailureRepository(connection)
    # The lock first, then one statement (its snapshot taken after the lock) reads the
    # failures, the application and its history: guesses of one number stay serialised.
    await failures.lock_number(registration_number)
    rows = await read_public_tracking(
        connection,
        registration_number=registration_number,
        failures_since=limit.window_start(now),
    )
    first = rows[0]
    if first.failures >= limit.max_failures and first.oldest_failure is not None:
        raise TooManyAttempts(
            "Too many wrong tracking codes for this registration number; try again later.",
            headers={
                "Retry-After": str(limit.retry_after(oldest_failure=first.oldest_failure, now=now))
            },
        )
    if not code_matches(
        registration_number=registration_number,
        code=code,
        stored_hash=first.tracking_code_hash,
    ):
        # Returned, not raised: the failure must be committed with this request.
        await failures.record_failure(registration_number, at=now, since=limit.window_start(now))
        return _not_found()
    read = PublicTrackingRead.model_validate(
        {
            "registration_number": first.registration_number,
            "service_name": first.service_name,
            "agency_name": first.agency_name,
            "status": first.status,
            "stage": first.stage,
            "due_at": first.due_at,
            "overdue": is_overdue(
                status=first.status, overdue=first.overdue, due_at=first.due_at, now=now
            ),
            "timeline": [
                {
                    "status": row.entry_status,
                    "stage": row.entry_stage,
                    "stage_name": row.entry_stage_name,
                    "at": row.entry_at,
                }
                for row in rows
                if row.entry_status is not None
            ],
        }
    )
    # Serialised by the model once (FastAPI would validate it again and encode it first).
    return Response(read.model_dump_json(), media_type="application/json")
