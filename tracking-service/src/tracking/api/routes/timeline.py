"""``GET /api/v1/applications/{id}/timeline``: an application's history for its owner and
the handling agency (internal notes only for the agency), with the steps of complaint cases
about it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel
from pydantic_core import to_json

from mpp_shared.app import ServiceRuntime
from mpp_shared.deps import read_connection
from mpp_shared.problems import Problem
from tracking.api.reader import CurrentReader
from tracking.db.timeline import application_history
from tracking.domain.timeline import can_read, sees_internal_notes

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


@router.get(
    "/{application_id}/timeline", response_model=TimelineRead, response_model_exclude_none=True
)
async def read_timeline(
    application_id: uuid.UUID, reader: CurrentReader, request: Request
) -> Response:
    """Oldest first: ``items`` the application's own steps, ``case_steps`` those of complaint
    cases about it. 404 for an application the caller may not see, as for an unknown one."""
    # The runtime from the app, not a dependency: each one costs FastAPI a resolution.
    runtime: ServiceRuntime = request.app.state.runtime
    async with read_connection(runtime, autocommit=False) as connection:
        history = await application_history(connection, application_id)
    if history is None or not can_read(history, reader):
        raise ApplicationNotFound("No such application.")
    internal = sees_internal_notes(history, reader)
    # TimelineRead's shape without its None fields (as response_model_exclude_none), the
    # internal notes only for the agency; encoded as the model would, without validating
    # what the database's types already guarantee.
    items = [
        {
            name: value
            for name, value in step.items()
            if value is not None and (internal or name != "internal_note")
        }
        for step in history.steps
    ]
    cases = [{"kind": "complaint", **step} for step in history.case_steps]
    return Response(
        to_json({"application_id": application_id, "items": items, "case_steps": cases}),
        media_type="application/json",
    )
