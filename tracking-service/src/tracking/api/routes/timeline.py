"""``GET /api/v1/applications/{id}/timeline``: an application's history for its owner and
the handling agency (internal notes only for the agency)."""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel

from mpp_shared.deps import SessionDep
from mpp_shared.problems import Problem
from tracking.api.reader import CurrentReader
from tracking.db.timeline import TimelineRepository
from tracking.domain.timeline import can_read, ordered_history, sees_internal_notes

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


class TimelineRead(BaseModel):
    application_id: uuid.UUID
    items: list[TimelineItemRead]


class ApplicationNotFound(Problem):
    status = 404
    code = "not_found"


@router.get("/{application_id}/timeline", response_model_exclude_none=True)
async def read_timeline(
    application_id: uuid.UUID, reader: CurrentReader, session: SessionDep
) -> TimelineRead:
    """Oldest first. 404 for an application the caller may not see, as for an unknown one."""
    timeline = TimelineRepository(session)
    application = await timeline.application(application_id)
    if application is None or not can_read(application, reader):
        raise ApplicationNotFound("No such application.")
    internal = sees_internal_notes(application, reader)
    entries = ordered_history(await timeline.entries(application_id))
    return TimelineRead(
        application_id=application_id,
        items=[
            TimelineItemRead(
                status=entry.status,
                stage=entry.stage,
                stage_name=entry.stage_name,
                note=entry.note,
                internal_note=entry.internal_note if internal else None,
                sequence=entry.sequence,
                event=entry.event_type,
                at=entry.occurred_at,
            )
            for entry in entries
        ],
    )
