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
from tracking.domain.notifications import ApplicationChange, notifications_for
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


def timeline_handler(hub: StreamHub) -> Handler:
    """The handler: the event takes its place in the timeline, the current state follows the
    highest sequence, notifications are written, and after the commit the live stream hears."""

    async def record_application_event(session: AsyncSession, event: CloudEvent) -> None:
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
