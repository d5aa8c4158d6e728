"""The timeline of an application as its events tell it, and who may read which part of it.

Events may arrive twice or out of order. Each takes its place by its per-application
``sequence``; the current state is always the one of the highest sequence seen, so a late
older event fills in the history without moving the status back. A complaint case about the
application adds its own steps (its number and what happened, never its texts), each by its
per-case sequence, in a list of their own beside the application's steps.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

# The statuses in which an application waits for the agency (the SLA clock runs).
OPEN_STATUSES = frozenset({"submitted", "in_review"})
OVERDUE_EVENT = "mpp.application.application.overdue"
COMPLAINT_PREFIX = "mpp.application.complaint."
# The case events an application's timeline shows (not the complainant's further messages,
# nor the missed response time, which the agency's inbox hears of).
CASE_STEP_VERBS = frozenset({"opened", "answered", "escalated", "forwarded_to_lapor", "closed"})


@dataclass(frozen=True, slots=True)
class Reader:
    """Who asks: an account (citizen or staff) and the agency it works for, if any."""

    account_id: uuid.UUID | None
    agency_id: uuid.UUID | None
    is_staff: bool
    roles: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class TrackedApplication:
    """The current state of one application: the facts of its highest-sequence event."""

    application_id: uuid.UUID
    registration_number: str
    tracking_code_hash: str
    service_id: uuid.UUID
    service_version: int
    service_name: str
    agency_id: uuid.UUID
    owner_account_id: uuid.UUID | None
    status: str
    stage: str | None
    stage_name: str | None
    sequence: int
    submitted_at: datetime
    due_at: datetime | None
    overdue: bool
    updated_at: datetime


def is_overdue(*, status: str, overdue: bool, due_at: datetime | None, now: datetime) -> bool:
    """Past its due time while the agency still has to act (the SLA event, or the clock)."""
    if status not in OPEN_STATUSES:
        return False
    return overdue or (due_at is not None and due_at <= now)


class Audience(Protocol):
    """What the read rules look at: whose application it is and which agency handles it (a
    ``TrackedApplication``, or a row of a read query with these columns)."""

    @property
    def owner_account_id(self) -> uuid.UUID | None: ...

    @property
    def agency_id(self) -> uuid.UUID: ...


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One event of an application's history."""

    event_id: uuid.UUID
    application_id: uuid.UUID
    sequence: int
    event_type: str
    old_status: str | None
    status: str
    stage: str | None
    stage_name: str | None
    note: str | None
    internal_note: str | None
    occurred_at: datetime
    position: int = 0  # arrival order in this service (resuming a live stream)

    @property
    def is_history(self) -> bool:
        """Whether it is a step of the history (the SLA notice changes no status)."""
        return self.event_type != OVERDUE_EVENT


def can_read(application: Audience, reader: Reader) -> bool:
    """The owner, and the staff and systems of the agency that handles it; nobody else."""
    if reader.account_id is not None and application.owner_account_id == reader.account_id:
        return True
    return reader.agency_id is not None and reader.agency_id == application.agency_id


def sees_internal_notes(application: Audience, reader: Reader) -> bool:
    """Internal notes are for the handling agency only, never for the owner."""
    return reader.agency_id is not None and reader.agency_id == application.agency_id


@dataclass(frozen=True, slots=True)
class CaseStep:
    """One step of a complaint case, for the timeline of the application it is about (if
    any) and the live stream of those who may see the case: the case's number and what
    happened (the event, the status after it), no text of the case, nor its contact."""

    event_id: uuid.UUID
    complaint_id: uuid.UUID
    sequence: int  # per case
    application_id: uuid.UUID | None
    case_number: str
    event_type: str
    status: str
    occurred_at: datetime
    response_due_at: datetime
    agency_id: uuid.UUID  # the agency that handles the case
    owner_account_id: uuid.UUID | None  # the citizen's account; None for an anonymous case
    position: int = 0  # arrival order in this service, among the timeline entries' (the stream)


def is_case_step(event_type: str) -> bool:
    """Whether a complaint event is a step on the timeline of the application it is about."""
    return (
        event_type.startswith(COMPLAINT_PREFIX)
        and event_type.removeprefix(COMPLAINT_PREFIX) in CASE_STEP_VERBS
    )
