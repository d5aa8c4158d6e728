"""``POST /api/v1/applications/{id}/survey``: the owner's SKM answers after completion."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from mpp_shared.app import ServiceRuntime
from mpp_shared.auth import Principal, Role, require_roles
from mpp_shared.deps import SessionDep
from mpp_shared.problems import Problem
from mpp_shared.text import contains_invalid_text
from tracking.db.reports import ReportRepository
from tracking.db.surveys import SurveyRepository
from tracking.domain.reports import month_of
from tracking.domain.surveys import (
    ELEMENTS,
    MAX_COMMENT_LENGTH,
    MAX_SCORE,
    MIN_SCORE,
    ApplicationNotCompleted,
    SurveyAlreadyAnswered,
    SurveyApplicationNotFound,
    SurveyError,
    SurveyTarget,
    check_may_answer,
)
from tracking.report_cache import invalidate_after_commit
from tracking.runtime import TrackingRuntime

router = APIRouter(prefix="/api/v1/applications", tags=["surveys"])

Score = Annotated[int, Field(ge=MIN_SCORE, le=MAX_SCORE, strict=True)]
Citizen = Annotated[Principal, Depends(require_roles(Role.CITIZEN))]


class SurveyAnswers(BaseModel):
    """The nine elements (unsur) of PermenPANRB 14/2017, each 1 (tidak baik) to 4 (sangat baik)."""

    model_config = ConfigDict(extra="forbid")

    u1: Score
    u2: Score
    u3: Score
    u4: Score
    u5: Score
    u6: Score
    u7: Score
    u8: Score
    u9: Score


class SurveyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    answers: SurveyAnswers
    comment: str | None = Field(default=None, max_length=MAX_COMMENT_LENGTH)


class SurveyRead(BaseModel):
    application_id: uuid.UUID
    answers: SurveyAnswers
    comment: str | None = None
    submitted_at: datetime


def _problem(exc: SurveyError) -> Problem:
    if isinstance(exc, SurveyApplicationNotFound):
        return Problem("No such application.", status=404, code="not_found")
    if isinstance(exc, ApplicationNotCompleted):
        return Problem(
            "The survey opens when the application is completed.",
            status=409,
            code="application_not_completed",
        )
    if isinstance(exc, SurveyAlreadyAnswered):
        return Problem(
            "This application's survey was answered already.",
            status=409,
            code="survey_already_submitted",
        )
    return Problem("The survey could not be saved.", status=400, code="bad_request")


@router.post("/{application_id}/survey", status_code=201, response_model=SurveyRead)
async def answer_survey(
    request: Request,
    application_id: uuid.UUID,
    body: SurveyCreate,
    principal: Citizen,
    session: SessionDep,
) -> SurveyRead:
    """The owner, once, after ``completed``; a second answer is 409."""
    comment = body.comment.strip() if body.comment else None
    if comment and contains_invalid_text(comment):
        raise Problem(
            "The comment holds characters that are not text.",
            status=422,
            code="validation_error",
            errors=[{"loc": ["body", "comment"], "msg": "not text"}],
        )
    fact = await ReportRepository(session).fact(application_id)
    try:
        target = check_may_answer(
            SurveyTarget(
                application_id=fact.application_id,
                owner_account_id=fact.owner_account_id,
                agency_id=fact.agency_id,
                service_id=fact.service_id,
                status=fact.status,
            )
            if fact is not None
            else None,
            account_id=principal.subject,
        )
    except SurveyError as exc:
        raise _problem(exc) from exc
    now = datetime.now(UTC)
    zone = ZoneInfo(request.app.state.settings.report_timezone)
    answers = body.answers.model_dump()
    if not await SurveyRepository(session).add(
        application_id=target.application_id,
        agency_id=target.agency_id,
        service_id=target.service_id,
        month=month_of(now, zone),
        answers=answers,
        comment=comment or None,
        now=now,
    ):
        raise _problem(SurveyAlreadyAnswered())
    runtime: ServiceRuntime = request.app.state.runtime
    invalidate_after_commit(
        session, runtime.state_as(TrackingRuntime).report_cache, {target.agency_id}
    )
    assert set(answers) == set(ELEMENTS)
    return SurveyRead(
        application_id=target.application_id,
        answers=body.answers,
        comment=comment or None,
        submitted_at=now,
    )
