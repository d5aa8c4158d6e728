"""Request and response bodies of the application routes (API.md's Applications rows)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from application.domain.lifecycle import AGENCY_ACTIONS, Action, Status
from application.domain.models import ApplicationView, Document, Note
from application.domain.services import MAX_NOTE_LENGTH, is_overdue

AgencyAction = Literal[
    "start_review", "advance_stage", "request_revision", "approve", "reject", "complete"
]  # fmt: skip
# The literal above and the lifecycle's table must name the same actions.
assert set(AgencyAction.__args__) == {a.value for a in AGENCY_ACTIONS}  # type: ignore[attr-defined]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ApplicationCreate(_Body):
    service_id: uuid.UUID
    prefill_consent: bool = False


class ApplicationUpdate(_Body):
    form_data: dict[str, Any]


class ActionRequest(_Body):
    action: AgencyAction
    note: str | None = Field(
        None,
        max_length=MAX_NOTE_LENGTH,
        description="Shown to the citizen (required for request_revision and reject).",
    )
    internal_note: str | None = Field(
        None, max_length=MAX_NOTE_LENGTH, description="For the agency's staff only."
    )
    stage: str | None = Field(None, max_length=100, description="advance_stage: the next stage.")
    version: int | None = Field(
        None, ge=1, description="The application's `version` as read; 409 `conflict` if it moved."
    )

    @property
    def as_action(self) -> Action:
        return Action(self.action)


class DocumentRead(BaseModel):
    id: uuid.UUID
    kind: Literal["input", "output"]
    requirement_code: str | None
    filename: str
    size: int
    content_type: str
    sha256: str
    created_at: datetime

    @classmethod
    def of(cls, document: Document) -> DocumentRead:
        return cls(
            id=document.id,
            kind=document.kind,
            requirement_code=document.requirement_code,
            filename=document.filename,
            size=document.size,
            content_type=document.content_type,
            sha256=document.sha256,
            created_at=document.created_at,
        )


class NoteRead(BaseModel):
    action: str
    visibility: Literal["public", "internal"]
    text: str
    at: datetime

    @classmethod
    def of(cls, note: Note) -> NoteRead:
        return cls(
            action=note.action, visibility=note.visibility, text=note.text, at=note.created_at
        )


class ApplicationSummary(BaseModel):
    id: uuid.UUID
    status: Status
    service_id: uuid.UUID
    service_version: int
    agency_id: uuid.UUID
    registration_number: str | None = None
    submitted_at: datetime | None = None
    due_at: datetime | None = None
    stage: str | None = None
    overdue: bool = False
    version: int
    created_at: datetime
    updated_at: datetime


class ApplicationRead(ApplicationSummary):
    form_data: dict[str, Any]
    documents: list[DocumentRead] = Field(
        default_factory=list,
        description="The citizen's documents (`kind: input`) and the agency's output document "
        "(`kind: output`), once the application is completed with one.",
    )
    notes: list[NoteRead] = Field(
        default_factory=list,
        description="Revision requests and rejection reasons; staff also see internal notes.",
    )
    tracking_code: str | None = Field(None, description="Shown to the owner only.")

    @classmethod
    def of(cls, view: ApplicationView, *, now: datetime) -> ApplicationRead:
        application = view.application
        return cls(
            **summary(view, now=now).model_dump(),
            form_data=application.form_data,
            documents=[DocumentRead.of(d) for d in view.documents],
            notes=[NoteRead.of(n) for n in view.notes],
            tracking_code=application.tracking_code if view.owner_view else None,
        )


class SubmitResult(BaseModel):
    id: uuid.UUID
    status: Status
    registration_number: str
    tracking_code: str
    due_at: datetime
    submitted_at: datetime


def summary(view: ApplicationView, *, now: datetime) -> ApplicationSummary:
    application = view.application
    return ApplicationSummary(
        id=application.id,
        status=application.status,
        service_id=application.service_id,
        service_version=application.service_version,
        agency_id=application.agency_id,
        registration_number=application.registration_number,
        submitted_at=application.submitted_at,
        due_at=application.due_at,
        stage=application.stage,
        overdue=is_overdue(application, now),
        version=application.version,
        created_at=application.created_at,
        updated_at=application.updated_at,
    )
