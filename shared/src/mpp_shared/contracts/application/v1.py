"""Version 1 of application-service's event payloads (``mpp.application.*``).

Every event about one application carries the same :class:`ApplicationEvent` facts: its ids,
the registration number, the status before and after, the stage, the times that matter and a
per-application ``sequence`` (1, 2, 3 … in the order the changes were committed), so that a
consumer can put a late event in its place and never move the current status back.

Never in an event: form data, documents, a NIK or any other registry data, the tracking code
itself. The tracking code travels only as ``tracking_code_hash``: the hex SHA-256 of
``"<registration_number>:<tracking_code>"``; the code has at least 50 bits of randomness, so
the hash cannot be reversed in practice, and tracking-service checks a public lookup by hashing
what it is given.

Each change publishes exactly one event: submit and resubmit ``submitted``; ``start_review``,
``advance_stage``, ``approve`` and ``reject`` ``status_changed``; ``request_revision``
``revision_requested``; ``complete`` ``completed``; withdrawal ``withdrawn``; the SLA clock
``overdue``; an application filed at a counter for a resident without an account
``owner_linked`` when the resident registers (the status does not change; ``owner_account_id``
is the new owner). A draft is private to its owner and publishes nothing.

Counter bookings (``mpp.application.booking.*``) and complaint cases
(``mpp.application.complaint.*``) have events of their own, each with a per-booking or
per-case ``sequence``: :class:`BookingEvent` and :class:`ComplaintEvent`. They carry no
personal data either: no name, contact, complaint text or answer text (a consumer that tells
somebody about an answer says where to read it).

Notes: ``note`` is the text the citizen may read (a revision request, a rejection reason);
``internal_note`` is for the agency's staff only and never shown to the owner or in public.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import Field

from mpp_shared.contracts import EventData

SOURCE = "/application"

APPLICATION_SUBMITTED = "mpp.application.application.submitted"
APPLICATION_STATUS_CHANGED = "mpp.application.application.status_changed"
APPLICATION_REVISION_REQUESTED = "mpp.application.application.revision_requested"
APPLICATION_COMPLETED = "mpp.application.application.completed"
APPLICATION_WITHDRAWN = "mpp.application.application.withdrawn"
APPLICATION_OVERDUE = "mpp.application.application.overdue"
APPLICATION_OWNER_LINKED = "mpp.application.application.owner_linked"

BOOKING_BOOKED = "mpp.application.booking.booked"
BOOKING_CANCELLED = "mpp.application.booking.cancelled"
BOOKING_CHECKED_IN = "mpp.application.booking.checked_in"
BOOKING_CALLED = "mpp.application.booking.called"
BOOKING_SERVED = "mpp.application.booking.served"
BOOKING_NO_SHOW = "mpp.application.booking.no_show"
BOOKING_REMINDER = "mpp.application.booking.reminder"

COMPLAINT_OPENED = "mpp.application.complaint.opened"
COMPLAINT_MESSAGE_ADDED = "mpp.application.complaint.message_added"
COMPLAINT_ANSWERED = "mpp.application.complaint.answered"
COMPLAINT_ESCALATED = "mpp.application.complaint.escalated"
COMPLAINT_FORWARDED_TO_LAPOR = "mpp.application.complaint.forwarded_to_lapor"
COMPLAINT_CLOSED = "mpp.application.complaint.closed"
COMPLAINT_OVERDUE = "mpp.application.complaint.overdue"

ApplicationStatus = Literal[
    "draft",
    "submitted",
    "in_review",
    "revision_requested",
    "approved",
    "rejected",
    "completed",
    "withdrawn",
]
Channel = Literal["online", "counter", "api"]
# Who caused the change: the owner, agency staff, an agency's own system, the platform (SLA).
ActorKind = Literal["citizen", "staff", "client", "system"]


def tracking_code_hash(registration_number: str, tracking_code: str) -> str:
    """The only form in which a tracking code leaves application-service."""
    return hashlib.sha256(f"{registration_number}:{tracking_code}".encode()).hexdigest()


class ApplicationEvent(EventData):
    """The facts every ``mpp.application.application.*`` event carries."""

    application_id: uuid.UUID
    sequence: int = Field(ge=1)  # per application, in commit order
    service_id: uuid.UUID
    service_version: int
    service_name: str
    agency_id: uuid.UUID
    owner_account_id: uuid.UUID | None  # None: filed at a counter for a resident not yet registered
    registration_number: str
    tracking_code_hash: str
    channel: Channel
    old_status: ApplicationStatus | None
    status: ApplicationStatus
    stage: str | None = None  # code of the version's current stage, when it has one
    stage_name: str | None = None
    actor_kind: ActorKind
    actor_id: str | None = None  # account or client id; None for the system
    note: str | None = None
    internal_note: str | None = None
    submitted_at: datetime
    due_at: datetime | None
    occurred_at: datetime


class ApplicationSubmitted(ApplicationEvent):
    """``…submitted``: first submission or a resubmission after a revision request
    (``old_status`` ``draft`` or ``revision_requested``); ``due_at`` is (re)computed."""


class ApplicationStatusChanged(ApplicationEvent):
    """``…status_changed``: any other change of status or stage (``start_review``,
    ``advance_stage`` with ``old_status == status``, ``approve``, ``reject``)."""


class ApplicationRevisionRequested(ApplicationEvent):
    """``…revision_requested``: the agency asks the citizen to fix something (``note``)."""


class ApplicationCompleted(ApplicationEvent):
    """``…completed``: the product is ready; ``output_document`` says whether one is attached."""

    output_document: bool = False


class ApplicationWithdrawn(ApplicationEvent):
    """``…withdrawn``: the owner withdrew it before a decision."""


class ApplicationOverdue(ApplicationEvent):
    """``…overdue``: ``due_at`` passed without a decision; published once per application.
    ``old_status == status`` (the status does not change)."""


class ApplicationOwnerLinked(ApplicationEvent):
    """``…owner_linked``: the resident an officer filed for at a counter registered, and the
    application now belongs to their account. ``old_status == status``."""


BookingStatus = Literal["booked", "checked_in", "called", "served", "no_show", "cancelled"]


class BookingEvent(EventData):
    """Every ``mpp.application.booking.*`` event: a citizen's visit to a counter.

    ``booked`` (the slot is held), ``cancelled`` (by the citizen; the slot is free again),
    ``checked_in`` (arrived; ``queue_number`` such as ``A-017`` given), ``called`` (an officer
    called the number at ``counter_id``), ``served``, ``no_show`` (called and absent, or never
    checked in by the end of the slot; ``actor_kind`` ``staff`` or ``system``), ``reminder``
    (the day before the visit, once; the status does not change)."""

    booking_id: uuid.UUID
    sequence: int = Field(ge=1)  # per booking, in commit order
    account_id: uuid.UUID
    service_id: uuid.UUID
    service_name: str
    agency_id: uuid.UUID
    location_id: uuid.UUID
    location_name: str
    counter_id: uuid.UUID
    counter_label: str
    day: date  # the visit's date, local to the location
    slot_start: datetime
    slot_end: datetime
    timezone: str
    old_status: BookingStatus | None
    status: BookingStatus
    queue_number: str | None = None
    actor_kind: ActorKind
    actor_id: str | None = None
    occurred_at: datetime


ComplaintKind = Literal["complaint", "consultation"]
ComplaintStatus = Literal["open", "answered", "escalated", "forwarded_to_lapor", "closed"]


class ComplaintEvent(EventData):
    """Every ``mpp.application.complaint.*`` event: a complaint or consultation case.

    ``opened``; ``message_added`` (the complainant wrote again); ``answered`` (the agency
    replied in the thread); ``escalated``; ``forwarded_to_lapor`` (sent on to SP4N-LAPOR!,
    ``lapor_reference`` set); ``closed``; ``overdue`` (no answer by ``response_due_at``, once
    per case; the status does not change). ``account_id`` is None for an anonymous case."""

    complaint_id: uuid.UUID
    sequence: int = Field(ge=1)  # per case, in commit order
    tracking_number: str
    kind: ComplaintKind
    service_id: uuid.UUID
    service_name: str
    agency_id: uuid.UUID
    application_id: uuid.UUID | None
    account_id: uuid.UUID | None
    old_status: ComplaintStatus | None
    status: ComplaintStatus
    response_due_at: datetime
    answered_at: datetime | None = None  # the agency's first answer
    overdue: bool
    lapor_reference: str | None = None
    actor_kind: ActorKind | Literal["anonymous"]
    actor_id: str | None = None
    occurred_at: datetime


__all__ = [
    "APPLICATION_COMPLETED",
    "APPLICATION_OVERDUE",
    "APPLICATION_OWNER_LINKED",
    "APPLICATION_REVISION_REQUESTED",
    "APPLICATION_STATUS_CHANGED",
    "APPLICATION_SUBMITTED",
    "APPLICATION_WITHDRAWN",
    "BOOKING_BOOKED",
    "BOOKING_CALLED",
    "BOOKING_CANCELLED",
    "BOOKING_CHECKED_IN",
    "BOOKING_NO_SHOW",
    "BOOKING_REMINDER",
    "BOOKING_SERVED",
    "COMPLAINT_ANSWERED",
    "COMPLAINT_CLOSED",
    "COMPLAINT_ESCALATED",
    "COMPLAINT_FORWARDED_TO_LAPOR",
    "COMPLAINT_MESSAGE_ADDED",
    "COMPLAINT_OPENED",
    "COMPLAINT_OVERDUE",
    "SOURCE",
    "ActorKind",
    "ApplicationCompleted",
    "ApplicationEvent",
    "ApplicationOverdue",
    "ApplicationOwnerLinked",
    "ApplicationRevisionRequested",
    "ApplicationStatus",
    "ApplicationStatusChanged",
    "ApplicationSubmitted",
    "ApplicationWithdrawn",
    "BookingEvent",
    "BookingStatus",
    "Channel",
    "ComplaintEvent",
    "ComplaintKind",
    "ComplaintStatus",
    "tracking_code_hash",
]
