"""Timelines and notifications from application-service's events (``mpp.application.>``)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import TypeVar

from pydantic import BaseModel
from sqlalchemy import event as orm_event
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from mpp_shared.contracts.application import v1 as application
from mpp_shared.events import (
    BatchHandler,
    CloudEvent,
    EventConsumer,
    NatsConnection,
    PermanentError,
)
from mpp_shared.events.permissions import event_subjects
from tracking.db.notifications import NewNotification, NotificationRepository
from tracking.db.timeline import TimelineRepository
from tracking.domain.notifications import (
    BOOKING_PREFIX,
    COMPLAINT_PREFIX,
    ApplicationChange,
    BookingChange,
    ComplaintChange,
    Subject,
    booking_notifications,
    complaint_notifications,
    notifications_for,
)
from tracking.domain.timeline import (
    CaseStep,
    TimelineEntry,
    TrackedApplication,
    is_case_step,
)
from tracking.messaging.stream import CaseStepEvent, LiveEvent, StreamEvent, StreamHub

CONSUMER_NAME = "tracking-applications"
# Events fetched and handled in one transaction (what the stream has at once, up to this).
CONSUMER_BATCH = 256
KNOWN_TYPES = frozenset(
    {
        application.APPLICATION_SUBMITTED,
        application.APPLICATION_STATUS_CHANGED,
        application.APPLICATION_REVISION_REQUESTED,
        application.APPLICATION_COMPLETED,
        application.APPLICATION_WITHDRAWN,
        application.APPLICATION_OVERDUE,
    }
)

log = logging.getLogger(__name__)
Model = TypeVar("Model", bound=BaseModel)


def timeline_handler(hub: StreamHub) -> BatchHandler:
    """The batch handler: each event takes its place in the timeline (one insert for the
    batch), the current state of each application follows the highest sequence seen (one
    upsert for the batch), the notifications are written (one insert), and after the commit
    the live stream hears of each event in arrival order."""

    async def record_application_events(
        session: AsyncSession, events: Sequence[CloudEvent]
    ) -> None:
        notifications: dict[str, list[NewNotification]] = {}
        changes: list[tuple[CloudEvent, application.ApplicationEvent]] = []
        links: list[application.ApplicationOwnerLinked] = []
        case_steps: list[CaseStep] = []
        for event in events:
            if event.type.startswith(BOOKING_PREFIX):
                notifications[event.id] = notify_booking(event)
            elif event.type.startswith(COMPLAINT_PREFIX):
                case = event_data(event, application.ComplaintEvent, "a complaint")
                notifications[event.id] = notify_complaint(event, case)
                if is_case_step(event.type):
                    case_steps.append(_case_step(event, case))
            elif event.type == application.APPLICATION_OWNER_LINKED:
                links.append(event_data(event, application.ApplicationOwnerLinked, "an owner link"))
            elif event.type not in KNOWN_TYPES:
                # A newer publisher's event type: nothing of ours depends on it yet.
                log.info("application event type not followed", extra={"event_type": event.type})
            else:
                changes.append(
                    (event, event_data(event, application.ApplicationEvent, "an application"))
                )
        if changes or case_steps:
            # Before any row is locked: the stream's positions follow the commits' order.
            await TimelineRepository(session).take_stream_turn()
        live: list[LiveEvent] = [*await _record_changes(session, changes, notifications)]
        if links:
            # An application filed at a counter now belongs to the resident's new account: its
            # current state takes the owner (their timeline and notifications from now on). The
            # status did not change, so the timeline gets no entry; the sequence rule keeps a
            # later change of the same batch, saved above, in place.
            await TimelineRepository(session).save_if_newer(
                [_current(data, overdue=False) for data in links]
            )
        # A case's steps: on the timeline of the application it is about (not on the public
        # page: they are no step of the application's own processing) and the live stream,
        # after the batch's application events (stored after them: their positions follow).
        stored_steps = await TimelineRepository(session).add_case_steps(case_steps)
        live += [CaseStepEvent.of(step, number) for step, number in stored_steps]
        await NotificationRepository(session).add_all(
            await _with_registration_numbers(
                session, [n for event in events for n in notifications.get(event.id, [])]
            ),
            at=datetime.now(UTC),
        )
        if live:

            def committed(_: Session) -> None:
                hub.publish_all_soon(live)

            orm_event.listen(session.sync_session, "after_commit", committed, once=True)

    return record_application_events


async def _record_changes(
    session: AsyncSession,
    changes: Sequence[tuple[CloudEvent, application.ApplicationEvent]],
    notifications: dict[str, list[NewNotification]],
) -> list[StreamEvent]:
    """The application events' timeline entries and current states; their notifications
    go into ``notifications`` (by event id); what the live stream is to hear, in arrival
    order."""
    if not changes:
        return []
    timeline = TimelineRepository(session)
    stored = await timeline.add_entries([_entry(event, data) for event, data in changes])
    newest: dict[uuid.UUID, TrackedApplication] = {}
    overdue: set[uuid.UUID] = set()
    live: list[StreamEvent] = []
    for event, data in changes:
        entry = stored.get(event.event_id)
        if entry is None:
            # This application's step of that sequence is known (the same change again).
            log.info("application event already in the timeline", extra={"event_id": event.id})
            continue
        is_overdue = event.type == application.APPLICATION_OVERDUE
        current = _current(data, overdue=is_overdue)
        known = newest.get(data.application_id)
        if known is None or known.sequence < current.sequence:
            newest[data.application_id] = current
        if is_overdue:
            # Also when a later event overtook it: the deadline was missed all the same.
            overdue.add(data.application_id)
        notifications[event.id] = [
            NewNotification.about_application(
                draft,
                event_id=event.event_id,
                application_id=data.application_id,
                registration_number=data.registration_number,
            )
            for draft in notifications_for(_change(event, data))
        ]
        live.append(StreamEvent.of(entry, current))
    await timeline.save_if_newer(list(newest.values()))
    await timeline.mark_overdue(overdue)
    live.sort(key=lambda item: item.position)
    return live


async def _with_registration_numbers(
    session: AsyncSession, notifications: list[NewNotification]
) -> list[NewNotification]:
    """A case's notifications name the application it is about by id; the registration number
    comes from the timeline (none while the application is not known here yet)."""
    wanted = {
        n.application_id
        for n in notifications
        if n.application_id is not None and n.registration_number is None
    }
    if not wanted:
        return notifications
    numbers = await TimelineRepository(session).registration_numbers(wanted)
    return [
        replace(n, registration_number=numbers.get(n.application_id))
        if n.application_id in wanted
        else n
        for n in notifications
    ]


def _entry(event: CloudEvent, data: application.ApplicationEvent) -> TimelineEntry:
    return TimelineEntry(
        event_id=event.event_id,
        application_id=data.application_id,
        sequence=data.sequence,
        event_type=event.type,
        old_status=data.old_status,
        status=data.status,
        stage=data.stage,
        stage_name=data.stage_name,
        note=data.note,
        internal_note=data.internal_note,
        occurred_at=data.occurred_at,
    )


def _current(data: application.ApplicationEvent, *, overdue: bool) -> TrackedApplication:
    return TrackedApplication(
        application_id=data.application_id,
        registration_number=data.registration_number,
        tracking_code_hash=data.tracking_code_hash,
        service_id=data.service_id,
        service_version=data.service_version,
        service_name=data.service_name,
        agency_id=data.agency_id,
        owner_account_id=data.owner_account_id,
        status=data.status,
        stage=data.stage,
        stage_name=data.stage_name,
        sequence=data.sequence,
        submitted_at=data.submitted_at,
        due_at=data.due_at,
        overdue=overdue,
        updated_at=data.occurred_at,
    )


def _change(event: CloudEvent, data: application.ApplicationEvent) -> ApplicationChange:
    return ApplicationChange(
        event_id=event.event_id,
        event_type=event.type,
        application_id=data.application_id,
        registration_number=data.registration_number,
        service_name=data.service_name,
        agency_id=data.agency_id,
        owner_account_id=data.owner_account_id,
        old_status=data.old_status,
        status=data.status,
        actor_kind=data.actor_kind,
        note=data.note,
        occurred_at=data.occurred_at,
    )


def event_data(event: CloudEvent, model: type[Model], what: str) -> Model:
    """The event's data as ``model``; an event that is not one is dead-lettered at once."""
    try:
        return event.data_as(model)
    except ValueError as exc:
        raise PermanentError(f"not {what} event: {exc}") from exc


def notify_booking(event: CloudEvent) -> list[NewNotification]:
    """A booking event's notifications, about the booking (its queue number once checked in);
    a booking concerns no application."""
    data = event_data(event, application.BookingEvent, "a booking")
    change = BookingChange(
        event_type=event.type,
        account_id=data.account_id,
        service_name=data.service_name,
        location_name=data.location_name,
        counter_label=data.counter_label,
        slot_start=data.slot_start,
        timezone=data.timezone,
        status=data.status,
        queue_number=data.queue_number,
        actor_kind=data.actor_kind,
    )
    return [
        NewNotification(
            draft,
            event_id=event.event_id,
            subject=Subject("booking", data.booking_id, data.queue_number),
        )
        for draft in booking_notifications(change)
    ]


def notify_complaint(event: CloudEvent, data: application.ComplaintEvent) -> list[NewNotification]:
    """A complaint event's notifications, about the case (its tracking number), and naming
    the application the case is about, if any (its registration number is filled in from
    the timeline's applications before they are stored)."""
    change = ComplaintChange(
        event_type=event.type,
        tracking_number=data.tracking_number,
        kind=data.kind,
        service_name=data.service_name,
        agency_id=data.agency_id,
        account_id=data.account_id,
        status=data.status,
        lapor_reference=data.lapor_reference,
        actor_kind=data.actor_kind,
    )
    return [
        NewNotification(
            draft,
            event_id=event.event_id,
            subject=Subject("complaint", data.complaint_id, data.tracking_number),
            application_id=data.application_id,
        )
        for draft in complaint_notifications(change)
    ]


def _case_step(event: CloudEvent, data: application.ComplaintEvent) -> CaseStep:
    return CaseStep(
        event_id=event.event_id,
        complaint_id=data.complaint_id,
        sequence=data.sequence,
        application_id=data.application_id,
        case_number=data.tracking_number,
        event_type=event.type,
        status=data.status,
        occurred_at=data.occurred_at,
        response_due_at=data.response_due_at,
        agency_id=data.agency_id,
        owner_account_id=data.account_id,
    )


def application_consumer(
    sessionmaker: async_sessionmaker[AsyncSession],
    connection: NatsConnection,
    hub: StreamHub,
    *,
    linger: float = 0.0,
) -> EventConsumer:
    return EventConsumer(
        name=CONSUMER_NAME,
        subjects=[event_subjects("application")],
        batch_handler=timeline_handler(hub),
        sessionmaker=sessionmaker,
        connection=connection,
        batch=CONSUMER_BATCH,
        linger=linger,
    )
