"""Complaints and consultations (pengaduan / konsultasi) about a service or an application.

A citizen, or an anonymous person who leaves a contact for the answer, opens a case; it gets a
tracking number and a code (shown once, kept only as a hash) for the public tracking. The
agency answers in the case's thread within its response time (working days, default 5),
escalates, closes, or forwards the case to SP4N-LAPOR! with the external reference. A case
not answered by ``response_due_at`` is overdue, and stays so once answered late.

Each function takes its collaborators by keyword; the caller commits.
"""

from __future__ import annotations

import hmac
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Literal, Protocol
from zoneinfo import ZoneInfo

from application.domain.codes import new_tracking_code
from application.domain.exceptions import (
    ApplicationNotFound,
    ComplaintNotFound,
    ComplaintStateConflict,
    InvalidInput,
    NotPermitted,
    ServiceNotFound,
)
from application.domain.models import Actor, Application, ServiceVersionCopy
from mpp_shared.auth.principal import Principal, Role
from mpp_shared.contracts.application import v1 as contract
from mpp_shared.observability.masking import mask_personal_text

DEFAULT_RESPONSE_WORKING_DAYS = 5
AuthorKind = Literal["citizen", "anonymous", "staff"]


class ComplaintStatus(StrEnum):
    OPEN = "open"
    ANSWERED = "answered"
    ESCALATED = "escalated"
    FORWARDED_TO_LAPOR = "forwarded_to_lapor"
    CLOSED = "closed"


class ComplaintAction(StrEnum):
    ANSWER = "answer"
    ESCALATE = "escalate"
    FORWARD_TO_LAPOR = "forward_to_lapor"
    CLOSE = "close"


S, A = ComplaintStatus, ComplaintAction
TRANSITIONS: dict[tuple[ComplaintStatus, ComplaintAction], ComplaintStatus] = {
    (S.OPEN, A.ANSWER): S.ANSWERED,
    (S.ANSWERED, A.ANSWER): S.ANSWERED,
    (S.ESCALATED, A.ANSWER): S.ANSWERED,
    (S.OPEN, A.ESCALATE): S.ESCALATED,
    (S.ANSWERED, A.ESCALATE): S.ESCALATED,
    (S.OPEN, A.FORWARD_TO_LAPOR): S.FORWARDED_TO_LAPOR,
    (S.ANSWERED, A.FORWARD_TO_LAPOR): S.FORWARDED_TO_LAPOR,
    (S.ESCALATED, A.FORWARD_TO_LAPOR): S.FORWARDED_TO_LAPOR,
    (S.OPEN, A.CLOSE): S.CLOSED,
    (S.ANSWERED, A.CLOSE): S.CLOSED,
    (S.ESCALATED, A.CLOSE): S.CLOSED,
    (S.FORWARDED_TO_LAPOR, A.CLOSE): S.CLOSED,
}
EVENT_OF = {
    A.ANSWER: contract.COMPLAINT_ANSWERED,
    A.ESCALATE: contract.COMPLAINT_ESCALATED,
    A.FORWARD_TO_LAPOR: contract.COMPLAINT_FORWARDED_TO_LAPOR,
    A.CLOSE: contract.COMPLAINT_CLOSED,
}


@dataclass(frozen=True)
class Contact:
    """How to reach an anonymous complainant (personal data: the agency's staff only)."""

    name: str | None = None
    email: str | None = None
    phone: str | None = None


@dataclass(frozen=True)
class Message:
    id: uuid.UUID
    complaint_id: uuid.UUID
    author_kind: AuthorKind
    text: str
    created_at: datetime
    # An agency answer the staff marked for the public view (by number and code); the
    # complainant's own texts never are (they may say who they are).
    public: bool = False


@dataclass
class Complaint:
    id: uuid.UUID
    tracking_number: str
    code_hash: str
    kind: contract.ComplaintKind
    account_id: uuid.UUID | None
    contact: Contact
    service_id: uuid.UUID
    service_name: str
    agency_id: uuid.UUID
    timezone: str
    application_id: uuid.UUID | None
    subject: str
    status: ComplaintStatus
    response_due_at: datetime
    created_at: datetime
    updated_at: datetime
    answered_at: datetime | None = None
    closed_at: datetime | None = None
    lapor_reference: str | None = None
    overdue_notified_at: datetime | None = None
    event_sequence: int = 0
    messages: list[Message] = field(default_factory=list)

    def is_overdue(self, now: datetime) -> bool:
        """Unanswered past its due time, or answered after it (it stays late)."""
        if self.answered_at is not None:
            return self.answered_at > self.response_due_at
        return self.status is not ComplaintStatus.CLOSED and now > self.response_due_at


@dataclass(frozen=True)
class Opened:
    complaint: Complaint
    code: str  # shown once, to the complainant


@dataclass(frozen=True)
class ComplaintReport:
    total: int
    by_status: dict[str, int]
    by_service: list[tuple[uuid.UUID, str, int]]
    answered: int
    overdue: int
    average_response_working_days: float | None


# ---- ports --------------------------------------------------------------------------------------


class ComplaintRepository(Protocol):
    async def service_version(self, service_id: uuid.UUID) -> ServiceVersionCopy | None: ...

    async def application(self, application_id: uuid.UUID) -> Application | None: ...

    async def response_working_days(self, agency_id: uuid.UUID) -> int | None: ...

    async def set_response_working_days(self, agency_id: uuid.UUID, days: int) -> None: ...

    async def next_serial(self, *, region_code: str, year: int) -> int: ...

    async def add(self, complaint: Complaint) -> None: ...

    async def get(self, complaint_id: uuid.UUID, *, lock: bool = False) -> Complaint | None: ...

    async def by_number(self, tracking_number: str, *, lock: bool = False) -> Complaint | None: ...

    async def save(self, complaint: Complaint) -> None: ...

    async def add_message(self, message: Message) -> None: ...

    async def list_for_account(self, account_id: uuid.UUID, *, limit: int) -> list[Complaint]: ...

    async def list_for_agency(
        self, agency_id: uuid.UUID, *, status: ComplaintStatus | None, limit: int
    ) -> list[Complaint]: ...

    async def in_period(
        self, agency_id: uuid.UUID, *, start: datetime, end: datetime
    ) -> list[Complaint]: ...


class ComplaintEvents(Protocol):
    async def record(self, event_type: str, payload: contract.ComplaintEvent) -> None: ...


class DueDates(Protocol):
    def due_at(self, *, submitted_at: datetime, working_days: int, timezone: str) -> datetime: ...


class WorkingTime(Protocol):
    def working_days_between(self, start: datetime, end: datetime, tz: str) -> float: ...


# ---- the complainant's side ---------------------------------------------------------------------


async def open_complaint(
    *,
    repo: ComplaintRepository,
    events: ComplaintEvents,
    due_dates: DueDates,
    principal: Principal | None,
    kind: contract.ComplaintKind,
    service_id: uuid.UUID,
    application_id: uuid.UUID | None,
    subject: str,
    message: str,
    contact: Contact | None,
    now: datetime,
) -> Opened:
    account: uuid.UUID | None = None
    if principal is not None:
        if not principal.is_citizen:
            raise NotPermitted("Pengaduan diajukan oleh warga, dengan akun atau tanpa nama.")
        account = uuid.UUID(principal.subject)
    elif contact is None or not (contact.email or contact.phone):
        raise InvalidInput(
            "Pengaduan tanpa akun memerlukan email atau nomor telepon untuk jawaban.",
            errors=[{"loc": ["body", "contact"], "msg": "email or phone required"}],
        )
    version = await repo.service_version(service_id)
    if version is None:
        raise ServiceNotFound()
    if application_id is not None:
        application = await repo.application(application_id)
        # Only the owner may complain about an application (an anonymous person cannot be).
        if (
            application is None
            or account is None
            or application.owner_account_id != account
            or application.service_id != service_id
        ):
            raise ApplicationNotFound()
    published = version.published
    days = await repo.response_working_days(published.agency_id) or DEFAULT_RESPONSE_WORKING_DAYS
    year = now.astimezone(ZoneInfo(published.agency_timezone)).year
    serial = await repo.next_serial(region_code=published.agency_region_code, year=year)
    number = f"ADU-{published.agency_region_code}-{year:04d}-{serial:06d}"
    code = new_tracking_code()
    complaint = Complaint(
        id=uuid.uuid4(),
        tracking_number=number,
        code_hash=contract.tracking_code_hash(number, code),
        kind=kind,
        account_id=account,
        contact=contact if account is None and contact is not None else Contact(),
        service_id=service_id,
        service_name=published.name,
        agency_id=published.agency_id,
        timezone=published.agency_timezone,
        application_id=application_id,
        subject=subject.strip(),
        status=ComplaintStatus.OPEN,
        response_due_at=due_dates.due_at(
            submitted_at=now, working_days=days, timezone=published.agency_timezone
        ),
        created_at=now,
        updated_at=now,
    )
    actor = Actor(kind="citizen", id=str(account)) if account else None
    await _publish(events, complaint, contract.COMPLAINT_OPENED, old=None, actor=actor, now=now)
    await repo.add(complaint)
    await _add_message(repo, complaint, "citizen" if account else "anonymous", message, now)
    return Opened(complaint=complaint, code=code)


async def read_complaint(
    *, repo: ComplaintRepository, principal: Principal, complaint_id: uuid.UUID
) -> tuple[Complaint, bool]:
    """The case and whether the reader is the agency's staff (who see the contact)."""
    complaint = await repo.get(complaint_id)
    if complaint is None:
        raise ComplaintNotFound()
    if _is_owner(principal, complaint):
        return complaint, False
    if _staff_agency(principal) == complaint.agency_id:
        return complaint, True
    raise ComplaintNotFound()


async def track(*, repo: ComplaintRepository, tracking_number: str, code: str | None) -> Complaint:
    """By number and code; an unknown number and a wrong code are the same 404."""
    complaint = await repo.by_number(tracking_number)
    if complaint is None or not code_matches(complaint, code):
        raise ComplaintNotFound()
    return complaint


def public_answers(complaint: Complaint) -> list[Message]:
    """What the public view by number and code shows of the thread: the agency's answers the
    staff marked public, never the complainant's texts. An answer may repeat what the person
    wrote about themselves (their NIK, phone number, e-mail address): masked here; the
    complainant signed in and the agency's staff read the thread whole."""
    return [
        replace(m, text=mask_personal_text(m.text))
        for m in complaint.messages
        if m.author_kind == "staff" and m.public
    ]


def code_matches(complaint: Complaint, code: str | None) -> bool:
    if not code:
        return False
    given = contract.tracking_code_hash(complaint.tracking_number, code.strip().upper())
    return hmac.compare_digest(given, complaint.code_hash)


async def reply_as_complainant(
    *,
    repo: ComplaintRepository,
    events: ComplaintEvents,
    complaint: Complaint,
    principal: Principal | None,
    text: str,
    escalate: bool,
    now: datetime,
) -> Complaint:
    """The complainant writes again (``escalate``: and asks for the agency's head)."""
    if complaint.status is ComplaintStatus.CLOSED:
        raise ComplaintStateConflict("Pengaduan sudah ditutup.")
    author: AuthorKind = "citizen" if complaint.account_id is not None else "anonymous"
    actor = Actor(kind="citizen", id=principal.subject) if principal is not None else None
    if text.strip():
        await _add_message(repo, complaint, author, text, now)
    old = complaint.status
    event = contract.COMPLAINT_MESSAGE_ADDED
    if escalate:
        complaint.status = _transition(old, ComplaintAction.ESCALATE)
        event = contract.COMPLAINT_ESCALATED
    elif not text.strip():
        raise InvalidInput(
            "Tanggapan tidak boleh kosong.", errors=[{"loc": ["body", "text"], "msg": "empty"}]
        )
    complaint.updated_at = now
    await _publish(events, complaint, event, old=old, actor=actor, now=now)
    await repo.save(complaint)
    return complaint


async def owned(
    *, repo: ComplaintRepository, principal: Principal, complaint_id: uuid.UUID
) -> Complaint:
    complaint = await repo.get(complaint_id, lock=True)
    if complaint is None or not _is_owner(principal, complaint):
        raise ComplaintNotFound()
    return complaint


async def list_own(
    *, repo: ComplaintRepository, principal: Principal, limit: int
) -> list[Complaint]:
    if not principal.is_citizen:
        raise NotPermitted("Hanya warga yang memiliki daftar pengaduan.")
    return await repo.list_for_account(uuid.UUID(principal.subject), limit=limit)


# ---- the agency's side --------------------------------------------------------------------------


async def act(
    *,
    repo: ComplaintRepository,
    events: ComplaintEvents,
    principal: Principal,
    complaint_id: uuid.UUID,
    action: ComplaintAction,
    text: str | None,
    lapor_reference: str | None,
    now: datetime,
    public: bool = False,
) -> Complaint:
    """``public``: the text may be shown on the public view (written without personal data)."""
    agency = _staff_agency(principal)
    if agency is None:
        raise NotPermitted("Hanya petugas dan admin instansi yang menangani pengaduan.")
    complaint = await repo.get(complaint_id, lock=True)
    if complaint is None or complaint.agency_id != agency:
        raise ComplaintNotFound()
    text = text.strip() if text and text.strip() else None
    if action is ComplaintAction.ANSWER and text is None:
        raise InvalidInput(
            "Jawaban wajib diisi.", errors=[{"loc": ["body", "text"], "msg": "required"}]
        )
    if action is ComplaintAction.FORWARD_TO_LAPOR:
        if not lapor_reference or not lapor_reference.strip():
            raise InvalidInput(
                "Nomor laporan SP4N-LAPOR! wajib diisi.",
                errors=[{"loc": ["body", "lapor_reference"], "msg": "required"}],
            )
        complaint.lapor_reference = lapor_reference.strip()
    old = complaint.status
    complaint.status = _transition(old, action)
    if action is ComplaintAction.ANSWER and complaint.answered_at is None:
        complaint.answered_at = now
    if complaint.status is ComplaintStatus.CLOSED:
        complaint.closed_at = now
    complaint.updated_at = now
    if text is not None:
        await _add_message(repo, complaint, "staff", text, now, public=public)
    actor = Actor(kind="staff", id=principal.subject)
    await _publish(events, complaint, EVENT_OF[action], old=old, actor=actor, now=now)
    await repo.save(complaint)
    return complaint


async def agency_queue(
    *,
    repo: ComplaintRepository,
    principal: Principal,
    status: ComplaintStatus | None,
    limit: int,
) -> list[Complaint]:
    agency = _staff_agency(principal)
    if agency is None:
        raise NotPermitted("Hanya petugas dan admin instansi yang menangani pengaduan.")
    return await repo.list_for_agency(agency, status=status, limit=limit)


async def set_response_time(
    *, repo: ComplaintRepository, principal: Principal, working_days: int
) -> int:
    if principal.agency_id is None or not principal.has_role(Role.AGENCY_ADMIN):
        raise NotPermitted("Hanya admin instansi yang menetapkan waktu tanggapan.")
    await repo.set_response_working_days(principal.agency_id, working_days)
    return working_days


async def response_time(*, repo: ComplaintRepository, principal: Principal) -> int:
    agency = _staff_agency(principal)
    if agency is None:
        raise NotPermitted("Hanya petugas dan admin instansi.")
    return await repo.response_working_days(agency) or DEFAULT_RESPONSE_WORKING_DAYS


async def report(
    *,
    repo: ComplaintRepository,
    working_time: WorkingTime,
    principal: Principal,
    start: datetime,
    end: datetime,
    now: datetime,
) -> ComplaintReport:
    """Cases opened in ``[start, end)``: by status and service, and the response time (working
    days from opening to the first answer)."""
    agency = _staff_agency(principal)
    if agency is None:
        raise NotPermitted("Hanya petugas dan admin instansi.")
    cases = await repo.in_period(agency, start=start, end=end)
    by_status: dict[str, int] = {}
    by_service: dict[uuid.UUID, tuple[str, int]] = {}
    response_days: list[float] = []
    for case in cases:
        by_status[case.status.value] = by_status.get(case.status.value, 0) + 1
        name, count = by_service.get(case.service_id, (case.service_name, 0))
        by_service[case.service_id] = (name, count + 1)
        if case.answered_at is not None:
            response_days.append(
                working_time.working_days_between(case.created_at, case.answered_at, case.timezone)
            )
    return ComplaintReport(
        total=len(cases),
        by_status=by_status,
        by_service=sorted(
            ((sid, name, n) for sid, (name, n) in by_service.items()), key=lambda r: (-r[2], r[1])
        ),
        answered=len(response_days),
        overdue=sum(1 for case in cases if case.is_overdue(now)),
        average_response_working_days=(
            round(sum(response_days) / len(response_days), 2) if response_days else None
        ),
    )


async def announce_overdue(
    *, repo: ComplaintRepository, events: ComplaintEvents, complaint: Complaint, now: datetime
) -> None:
    """The one ``overdue`` event of an unanswered case (the caller claimed the row)."""
    if complaint.overdue_notified_at is not None or not complaint.is_overdue(now):
        return
    complaint.overdue_notified_at = now
    await _publish(
        events, complaint, contract.COMPLAINT_OVERDUE, old=complaint.status,
        actor=Actor(kind="system", id=None), now=now,
    )  # fmt: skip
    await repo.save(complaint)


# ---- internals ----------------------------------------------------------------------------------


def _transition(status: ComplaintStatus, action: ComplaintAction) -> ComplaintStatus:
    found = TRANSITIONS.get((status, action))
    if found is None:
        raise ComplaintStateConflict(
            f"Tindakan '{action.value}' tidak dapat dilakukan pada pengaduan berstatus "
            f"'{status.value}'."
        )
    return found


def _is_owner(principal: Principal, complaint: Complaint) -> bool:
    return (
        principal.is_citizen
        and complaint.account_id is not None
        and principal.subject == str(complaint.account_id)
    )


def _staff_agency(principal: Principal) -> uuid.UUID | None:
    if principal.agency_id is not None and principal.has_role(Role.OFFICER, Role.AGENCY_ADMIN):
        return principal.agency_id
    return None


async def _add_message(
    repo: ComplaintRepository,
    complaint: Complaint,
    author: AuthorKind,
    text: str,
    now: datetime,
    *,
    public: bool = False,
) -> None:
    message = Message(
        id=uuid.uuid4(),
        complaint_id=complaint.id,
        author_kind=author,
        text=text.strip(),
        created_at=now,
        public=public and author == "staff",
    )
    await repo.add_message(message)
    complaint.messages.append(message)


async def _publish(
    events: ComplaintEvents,
    complaint: Complaint,
    event_type: str,
    *,
    old: ComplaintStatus | None,
    actor: Actor | None,
    now: datetime,
) -> None:
    complaint.event_sequence += 1
    await events.record(
        event_type,
        contract.ComplaintEvent(
            complaint_id=complaint.id,
            sequence=complaint.event_sequence,
            tracking_number=complaint.tracking_number,
            kind=complaint.kind,
            service_id=complaint.service_id,
            service_name=complaint.service_name,
            agency_id=complaint.agency_id,
            application_id=complaint.application_id,
            account_id=complaint.account_id,
            old_status=old.value if old is not None else None,
            status=complaint.status.value,
            response_due_at=complaint.response_due_at,
            answered_at=complaint.answered_at,
            overdue=complaint.is_overdue(now),
            lapor_reference=complaint.lapor_reference,
            actor_kind=actor.kind if actor is not None else "anonymous",
            actor_id=actor.id if actor is not None else None,
            occurred_at=now,
        ),
    )


__all__: Sequence[str] = [
    "Complaint",
    "ComplaintAction",
    "ComplaintReport",
    "ComplaintStatus",
    "Contact",
    "Message",
    "Opened",
]
