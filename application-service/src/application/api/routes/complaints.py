"""Complaints and consultations: ``/api/v1/complaints`` (complainants, with an account or
anonymous; public tracking by number and code) and ``/api/v1/agency/complaints`` (the agency)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from application.api.deps import AppRuntime
from application.db.complaints import SqlComplaintRepository
from application.domain import complaints
from application.domain.complaints import (
    Complaint,
    ComplaintAction,
    ComplaintStatus,
    Contact,
    Message,
)
from application.messaging.publishers import OutboxComplaintEvents
from mpp_shared.auth import CurrentPrincipal, OptionalPrincipal
from mpp_shared.contracts.application.v1 import ComplaintKind
from mpp_shared.deps import SessionDep
from mpp_shared.openapi import problems

router = APIRouter(prefix="/api/v1/complaints", tags=["complaints"])
agency_router = APIRouter(prefix="/api/v1/agency", tags=["complaints"])

NO_STORE = {"Cache-Control": "no-store"}
MAX_TEXT = 4000


async def get_complaint_repository(session: SessionDep) -> SqlComplaintRepository:
    return SqlComplaintRepository(session)


async def get_complaint_events(session: SessionDep) -> OutboxComplaintEvents:
    return OutboxComplaintEvents(session)


Complaints = Annotated[SqlComplaintRepository, Depends(get_complaint_repository)]
ComplaintEventsDep = Annotated[OutboxComplaintEvents, Depends(get_complaint_events)]


def _now() -> datetime:
    return datetime.now(UTC)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ContactIn(_Body):
    name: str | None = Field(None, max_length=200)
    email: str | None = Field(None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    phone: str | None = Field(None, pattern=r"^\+?[0-9]{8,15}$")


class ComplaintCreate(_Body):
    kind: ComplaintKind = "complaint"
    service_id: uuid.UUID
    application_id: uuid.UUID | None = Field(
        None, description="An own application the case is about (not for anonymous cases)."
    )
    subject: str = Field(min_length=1, max_length=200)
    message: str = Field(min_length=1, max_length=MAX_TEXT)
    contact: ContactIn | None = Field(
        None, description="Required without a token: an email or a phone for the answer."
    )


class MessageCreate(_Body):
    text: str = Field("", max_length=MAX_TEXT)
    escalate: bool = Field(False, description="Ask for the agency's head to look at the case.")


class ComplaintActionRequest(_Body):
    action: Literal["answer", "escalate", "forward_to_lapor", "close"]
    text: str | None = Field(None, max_length=MAX_TEXT, description="The answer (required).")
    public: bool = Field(
        False,
        description="Show this text on the public view by number and code (write it without "
        "the complainant's personal data); otherwise only the complainant and staff see it.",
    )
    lapor_reference: str | None = Field(
        None, max_length=100, description="forward_to_lapor: the SP4N-LAPOR! report number."
    )


class ResponseTime(_Body):
    response_working_days: int = Field(ge=1, le=60)


class MessageRead(BaseModel):
    author_kind: Literal["citizen", "anonymous", "staff"]
    text: str
    created_at: datetime
    public: bool = Field(False, description="An agency answer shown on the public view.")


class ComplaintPublicRead(BaseModel):
    """What the holder of the number and code sees: the state of the case, never what the
    complainant wrote (subject, messages: they may name or describe the person) nor a name,
    contact or account. `messages` holds only the agency's answers marked `public`."""

    tracking_number: str
    kind: ComplaintKind
    service_name: str
    agency_id: uuid.UUID
    agency_name: str | None
    status: ComplaintStatus
    response_due_at: datetime
    answered_at: datetime | None
    closed_at: datetime | None
    overdue: bool
    lapor_reference: str | None
    created_at: datetime
    updated_at: datetime
    messages: list[MessageRead]


class ComplaintRead(ComplaintPublicRead):
    """The complainant's and the agency staff's view: the whole thread."""

    id: uuid.UUID
    service_id: uuid.UUID
    application_id: uuid.UUID | None
    subject: str
    contact: ContactIn | None = Field(None, description="The agency's staff only, anonymous cases.")


class ComplaintCreated(ComplaintRead):
    tracking_code: str = Field(description="Shown once: with the number it opens the public view.")


class ComplaintSummary(BaseModel):
    id: uuid.UUID
    tracking_number: str
    kind: ComplaintKind
    service_name: str
    subject: str
    status: ComplaintStatus
    response_due_at: datetime
    overdue: bool
    created_at: datetime


class ComplaintList(BaseModel):
    items: list[ComplaintSummary]
    next_cursor: str | None = None


class ServiceCount(BaseModel):
    service_id: uuid.UUID
    service_name: str
    count: int


class ComplaintReportRead(BaseModel):
    agency_id: uuid.UUID
    from_: date = Field(alias="from")
    to: date
    total: int
    by_status: dict[str, int]
    by_service: list[ServiceCount]
    answered: int
    overdue: int
    average_response_working_days: float | None

    model_config = ConfigDict(populate_by_name=True)


async def _agency_name(repo: SqlComplaintRepository, c: Complaint) -> str | None:
    version = await repo.service_version(c.service_id)
    return version.published.agency_name if version is not None else None


def _state(c: Complaint, now: datetime, agency_name: str | None) -> dict[str, object]:
    return {
        "tracking_number": c.tracking_number,
        "kind": c.kind,
        "service_name": c.service_name,
        "agency_id": c.agency_id,
        "agency_name": agency_name,
        "status": c.status,
        "response_due_at": c.response_due_at,
        "answered_at": c.answered_at,
        "closed_at": c.closed_at,
        "overdue": c.is_overdue(now),
        "lapor_reference": c.lapor_reference,
        "created_at": c.created_at,
        "updated_at": c.updated_at,
    }


def _messages(messages: list[Message]) -> list[MessageRead]:
    return [
        MessageRead(
            author_kind=m.author_kind, text=m.text, created_at=m.created_at, public=m.public
        )
        for m in messages
    ]


async def _public(repo: SqlComplaintRepository, c: Complaint, now: datetime) -> ComplaintPublicRead:
    return ComplaintPublicRead(
        **_state(c, now, await _agency_name(repo, c)),
        messages=_messages(complaints.public_answers(c)),
    )


async def _full(
    repo: SqlComplaintRepository, c: Complaint, now: datetime, *, staff: bool
) -> ComplaintRead:
    contact = None
    if staff and c.account_id is None:
        contact = ContactIn(name=c.contact.name, email=c.contact.email, phone=c.contact.phone)
    return ComplaintRead(
        id=c.id,
        service_id=c.service_id,
        application_id=c.application_id,
        subject=c.subject,
        contact=contact,
        messages=_messages(c.messages),
        **_state(c, now, await _agency_name(repo, c)),
    )


def _summary(c: Complaint, now: datetime) -> ComplaintSummary:
    return ComplaintSummary(
        id=c.id,
        tracking_number=c.tracking_number,
        kind=c.kind,
        service_name=c.service_name,
        subject=c.subject,
        status=c.status,
        response_due_at=c.response_due_at,
        overdue=c.is_overdue(now),
        created_at=c.created_at,
    )


def _json(model: BaseModel, status: int = 200) -> JSONResponse:
    return JSONResponse(model.model_dump(mode="json"), status_code=status, headers=NO_STORE)


# ---- public tracking (before /{complaint_id}) ---------------------------------------------------


@router.get("/track/{tracking_number}", response_model=ComplaintPublicRead, responses=problems(404))
async def track_complaint(
    tracking_number: Annotated[str, Path(max_length=40)],
    repo: Complaints,
    code: Annotated[str | None, Query(max_length=64)] = None,
) -> JSONResponse:
    """By tracking number and code: status, service, agency, dates, due time, overdue, and the
    agency's answers marked public; nothing the complainant wrote and no personal data. A
    wrong or missing code is the same 404 as an unknown number."""
    found = await complaints.track(repo=repo, tracking_number=tracking_number, code=code)
    return _json(await _public(repo, found, _now()))


@router.post(
    "/track/{tracking_number}/messages",
    response_model=ComplaintPublicRead,
    responses=problems(404, 409, 422),
)
async def reply_by_code(
    tracking_number: Annotated[str, Path(max_length=40)],
    body: MessageCreate,
    repo: Complaints,
    events: ComplaintEventsDep,
    code: Annotated[str | None, Query(max_length=64)] = None,
) -> JSONResponse:
    """The complainant (an anonymous one too) replies or escalates with number and code; the
    answer is the public view (the reply itself is not shown in it)."""
    found = await complaints.track(repo=repo, tracking_number=tracking_number, code=code)
    locked = await repo.get(found.id, lock=True)
    assert locked is not None
    now = _now()
    updated = await complaints.reply_as_complainant(
        repo=repo, events=events, complaint=locked, principal=None, text=body.text,
        escalate=body.escalate, now=now,
    )  # fmt: skip
    return _json(await _public(repo, updated, now))


# ---- the complainant's --------------------------------------------------------------------------


@router.post(
    "", status_code=201, response_model=ComplaintCreated, responses=problems(403, 404, 422)
)
async def open_complaint(
    body: ComplaintCreate,
    principal: OptionalPrincipal,
    repo: Complaints,
    events: ComplaintEventsDep,
    runtime: AppRuntime,
) -> JSONResponse:
    """A citizen's case (with a token), or an anonymous one with `contact`; the answer gives
    `tracking_number` and, once, `tracking_code`."""
    now = _now()
    contact = (
        Contact(name=body.contact.name, email=body.contact.email, phone=body.contact.phone)
        if body.contact is not None
        else None
    )
    opened = await complaints.open_complaint(
        repo=repo,
        events=events,
        due_dates=runtime.due_dates,
        principal=principal,
        kind=body.kind,
        service_id=body.service_id,
        application_id=body.application_id,
        subject=body.subject,
        message=body.message,
        contact=contact,
        now=now,
    )
    full = await _full(repo, opened.complaint, now, staff=False)
    created = ComplaintCreated(**full.model_dump(), tracking_code=opened.code)
    return _json(created, 201)


@router.get("", response_model=ComplaintList, responses=problems(403))
async def list_complaints(
    principal: CurrentPrincipal,
    repo: Complaints,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> JSONResponse:
    """The citizen's own cases, newest first."""
    now = _now()
    found = await complaints.list_own(repo=repo, principal=principal, limit=limit)
    return _json(ComplaintList(items=[_summary(c, now) for c in found]))


@router.get("/{complaint_id}", response_model=ComplaintRead, responses=problems(404))
async def get_complaint(
    complaint_id: uuid.UUID, principal: CurrentPrincipal, repo: Complaints
) -> JSONResponse:
    """The complainant's, or the staff's of the agency (who also see an anonymous contact)."""
    found, staff = await complaints.read_complaint(
        repo=repo, principal=principal, complaint_id=complaint_id
    )
    return _json(await _full(repo, found, _now(), staff=staff))


@router.post(
    "/{complaint_id}/messages", response_model=ComplaintRead, responses=problems(404, 409, 422)
)
async def reply(
    complaint_id: uuid.UUID,
    body: MessageCreate,
    principal: CurrentPrincipal,
    repo: Complaints,
    events: ComplaintEventsDep,
) -> JSONResponse:
    """The complainant replies in the thread, or escalates (`escalate: true`)."""
    found = await complaints.owned(repo=repo, principal=principal, complaint_id=complaint_id)
    now = _now()
    updated = await complaints.reply_as_complainant(
        repo=repo, events=events, complaint=found, principal=principal, text=body.text,
        escalate=body.escalate, now=now,
    )  # fmt: skip
    return _json(await _full(repo, updated, now, staff=False))


# ---- the agency's -------------------------------------------------------------------------------


@agency_router.get("/complaints", response_model=ComplaintList, responses=problems(403))
async def agency_complaints(
    principal: CurrentPrincipal,
    repo: Complaints,
    status: ComplaintStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> JSONResponse:
    """The agency's cases, the earliest response due first."""
    now = _now()
    found = await complaints.agency_queue(
        repo=repo, principal=principal, status=status, limit=limit
    )
    return _json(ComplaintList(items=[_summary(c, now) for c in found]))


@agency_router.get(
    "/complaints/report", response_model=ComplaintReportRead, responses=problems(403, 422)
)
async def complaint_report(
    principal: CurrentPrincipal,
    repo: Complaints,
    runtime: AppRuntime,
    from_: Annotated[date, Query(alias="from")],
    to: date,
) -> JSONResponse:
    """Cases opened from `from` to `to` (inclusive, UTC dates): counts by status and by
    service, answered, overdue, and the mean response time in working days."""
    start = datetime.combine(from_, time(), tzinfo=UTC)
    end = datetime.combine(to + timedelta(days=1), time(), tzinfo=UTC)
    found = await complaints.report(
        repo=repo, working_time=runtime.working_time, principal=principal, start=start,
        end=end, now=_now(),
    )  # fmt: skip
    assert principal.agency_id is not None
    answer = ComplaintReportRead(
        agency_id=principal.agency_id,
        from_=from_,
        to=to,
        total=found.total,
        by_status=found.by_status,
        by_service=[
            ServiceCount(service_id=sid, service_name=name, count=n)
            for sid, name, n in found.by_service
        ],
        answered=found.answered,
        overdue=found.overdue,
        average_response_working_days=found.average_response_working_days,
    )
    return JSONResponse(answer.model_dump(mode="json", by_alias=True), headers=NO_STORE)


@agency_router.post(
    "/complaints/{complaint_id}/actions",
    response_model=ComplaintRead,
    responses=problems(403, 404, 409, 422),
)
async def act_on_complaint(
    complaint_id: uuid.UUID,
    body: ComplaintActionRequest,
    principal: CurrentPrincipal,
    repo: Complaints,
    events: ComplaintEventsDep,
) -> JSONResponse:
    """`answer` (with `text`), `escalate`, `forward_to_lapor` (with `lapor_reference`), `close`;
    `public: true` shows the text on the public view by number and code."""
    now = _now()
    updated = await complaints.act(
        repo=repo, events=events, principal=principal, complaint_id=complaint_id,
        action=ComplaintAction(body.action), text=body.text,
        lapor_reference=body.lapor_reference, now=now, public=body.public,
    )  # fmt: skip
    return _json(await _full(repo, updated, now, staff=True))


@agency_router.get("/complaint-settings", response_model=ResponseTime, responses=problems(403))
async def get_response_time(principal: CurrentPrincipal, repo: Complaints) -> ResponseTime:
    """The agency's response time for complaints (default 5 working days)."""
    days = await complaints.response_time(repo=repo, principal=principal)
    return ResponseTime(response_working_days=days)


@agency_router.put("/complaint-settings", response_model=ResponseTime, responses=problems(403))
async def set_response_time(
    body: ResponseTime, principal: CurrentPrincipal, repo: Complaints
) -> ResponseTime:
    """The agency admin sets the response time for cases opened from now on."""
    days = await complaints.set_response_time(
        repo=repo, principal=principal, working_days=body.response_working_days
    )
    return ResponseTime(response_working_days=days)
