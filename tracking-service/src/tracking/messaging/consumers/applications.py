"""Timelines and notifications from application-service's events (``mpp.application.>``)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy import event as orm_event
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from mpp_shared.contracts.application import v1 as application
from mpp_shared.events import CloudEvent, EventConsumer, Handler, NatsConnection, PermanentError
from mpp_shared.events.permissions import event_subjects
from tracking.db.notifications import NotificationRepository
from tracking.db.timeline import TimelineRepository
from tracking.domain.notifications import (
    BOOKING_PREFIX,
    COMPLAINT_PREFIX,
    ApplicationChange,
    BookingChange,
    ComplaintChange,
    booking_notifications,
    complaint_notifications,
    notifications_for,
)
from tracking.domain.timeline import TimelineEntry, TrackedApplication
from tracking.messaging.stream import StreamEvent, StreamHub

CONSUMER_NAME = "tracking-applications"
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


async def link_owner(session: AsyncSession, event: CloudEvent) -> None:
    """An application filed at a counter now belongs to the resident's new account: its
    current state takes the owner (their timeline and notifications from now on); the status
    did not change, so the timeline gets no entry."""
    try:
        data = event.data_as(application.ApplicationOwnerLinked)
    except ValueError as exc:
        raise PermanentError(f"not an application event: {exc}") from exc
    await TimelineRepository(session).save_if_newer(
        TrackedApplication(
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
            overdue=False,
            updated_at=data.occurred_at,
        )
    )


def timeline_handler(hub: StreamHub) -> Handler:
    """The handler: the event takes its place in the timeline, the current state follows the
    highest sequence, notifications are written, and after the commit the live stream hears."""

    async def record_application_event(session: AsyncSession, event: CloudEvent) -> None:
        if event.type.startswith(BOOKING_PREFIX):
            await notify_booking(session, event)
            return
        if event.type.startswith(COMPLAINT_PREFIX):
            await notify_complaint(session, event)
            return
        if event.type == application.APPLICATION_OWNER_LINKED:
            await link_owner(session, event)
            return
        if event.type not in KNOWN_TYPES:
            # A newer publisher's event type: nothing of ours depends on it yet.
            log.info("application event type not followed", extra={"event_type": event.type})
            return
        try:
            data = event.data_as(application.ApplicationEvent)
        except ValueError as exc:
            raise PermanentError(f"not an application event: {exc}") from exc
        timeline = TimelineRepository(session)
        entry = await timeline.add_entry(
            TimelineEntry(
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
        )
        if entry is None:
            # This application's step of that sequence is known (the same change again).
            log.info("application event already in the timeline", extra={"event_id": event.id})
            return
        is_overdue = event.type == application.APPLICATION_OVERDUE
        current = TrackedApplication(
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
            overdue=is_overdue,
            updated_at=data.occurred_at,
        )
        await timeline.save_if_newer(current)
        if is_overdue:
            # Also when a later event overtook it: the deadline was missed all the same.
            await timeline.mark_overdue(data.application_id)
        notifications = NotificationRepository(session)
        change = ApplicationChange(
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
        now = datetime.now(UTC)
        for draft in notifications_for(change):
            await notifications.add(
                draft,
                event_id=event.event_id,
                application_id=data.application_id,
                registration_number=data.registration_number,
                at=now,
            )
        live = StreamEvent.of(entry, current)

        def committed(_: Session) -> None:
            hub.publish_soon(live)

        orm_event.listen(session.sync_session, "after_commit", committed, once=True)

    return record_application_event


async def notify_booking(session: AsyncSession, event: CloudEvent) -> None:
    """A booking event's notifications; the booking id stands where an application's would,
    and the queue number (or the location) where its registration number would."""
    try:
        data = event.data_as(application.BookingEvent)
    except ValueError as exc:
        raise PermanentError(f"not a booking event: {exc}") from exc
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
    notifications = NotificationRepository(session)
    now = datetime.now(UTC)
    for draft in booking_notifications(change):
        await notifications.add(
            draft,
            event_id=event.event_id,
            application_id=data.booking_id,
            registration_number=data.queue_number or f"ANTREAN {data.day.isoformat()}",
            at=now,
        )


async def notify_complaint(session: AsyncSession, event: CloudEvent) -> None:
    """A complaint event's notifications, under the case's id and tracking number."""
    try:
        data = event.data_as(application.ComplaintEvent)
    except ValueError as exc:
        raise PermanentError(f"not a complaint event: {exc}") from exc
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
    notifications = NotificationRepository(session)
    now = datetime.now(UTC)
    for draft in complaint_notifications(change):
        await notifications.add(
            draft,
            event_id=event.event_id,
            application_id=data.complaint_id,
            registration_number=data.tracking_number,
            at=now,
        )


def application_consumer(
    sessionmaker: async_sessionmaker[AsyncSession], connection: NatsConnection, hub: StreamHub
) -> EventConsumer:
    return EventConsumer(
        name=CONSUMER_NAME,
        subjects=[event_subjects("application")],
        handler=timeline_handler(hub),
        sessionmaker=sessionmaker,
        connection=connection,
    )
