"""``GET /api/v1/applications/{id}/timeline``: an application's history for its owner and
the handling agency (internal notes only for the agency), with the steps of complaint cases
about it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel

from mpp_shared.deps import ReadConnectionDep
from mpp_shared.problems import Problem
from tracking.api.reader import CurrentReader
from tracking.db.timeline import timeline_rows
from tracking.domain.timeline import can_read, sees_internal_notes, split_timeline

router = APIRouter(prefix="/api/v1/applications", tags=["timeline"])


class TimelineItemRead(BaseModel):
    status: str
    stage: str | None = None
    stage_name: str | None = None
    note: str | None = None
    # Only in the handling agency's view; never the owner's.
    internal_note: str | None = None
    sequence: int
    event: str
    at: datetime


class CaseStepRead(BaseModel):
    """A step of a complaint case about the application: the case's number, the event and
    the case's status after it, the case's own sequence; never a text of the case."""

    kind: Literal["complaint"] = "complaint"
    case_number: str
    status: str
    sequence: int
    event: str
    at: datetime


class TimelineRead(BaseModel):
    application_id: uuid.UUID
    # The application's own processing, in its sequence (the last is its current status).
    items: list[TimelineItemRead]
    # The complaint cases about it (pengaduan), oldest first; merge by ``at`` for one line.
    case_steps: list[CaseStepRead] = []


class ApplicationNotFound(Problem):
    status = 404
    code = "not_found"


# Left out of the owner's view.
_WITHOUT_INTERNAL_NOTES = {"items": {"__all__": {"internal_note"}}}


@router.get(
    "/{application_id}/timeline", response_model=TimelineRead, response_model_exclude_none=True
)
async def read_timeline(
    application_id: uuid.UUID, reader: CurrentReader, connection: ReadConnectionDep
) -> Response:
    """Oldest first: ``items`` the application's own steps, ``case_steps`` those of complaint
    cases about it. 404 for an application the caller may not see, as for an unknown one."""
    rows = await timeline_rows(connection, application_id)
    if not rows or not can_read(rows[0], reader):
        raise ApplicationNotFound("No such application.")
    internal = sees_internal_notes(rows[0], reader)
    own, cases = split_timeline(rows)
    timeline = TimelineRead.model_validate(
        {
            "application_id": application_id,
            "items": [row for row in own if row.sequence is not None],
            "case_steps": cases,
        },
        from_attributes=True,
    )
    body = timeline.model_dump_json(
        exclude_none=True, exclude=None if internal else _WITHOUT_INTERNAL_NOTES
    )
    return Response(body, media_type="application/json")
