"""The ``tracking-reports`` consumer: keeps the application projection (owner, agency,
service, status, times) and the report aggregates up to date, one event at a time."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mpp_shared.contracts.application import v1 as application
from mpp_shared.events import CloudEvent, EventConsumer, Handler, NatsConnection, PermanentError
from tracking.db.reports import ApplicationFact, ReportRepository
from tracking.domain.reports import DECISIONS, WorkingDays, month_of, processing_days

CONSUMER_NAME = "tracking-reports"
APPLICATION_EVENTS = "mpp.application.>"


def report_projector(calendar: WorkingDays, zone: ZoneInfo) -> Handler:
    """The handler: applies one application event to the projection and the aggregates.

    Events are put in order by their per-application ``sequence``: one at or below the last
    applied (a duplicate, or a late one whose change a later event already carries) changes
    nothing. The status counts are moved, never recounted: -1 on the old status, +1 on the new.
    """

    async def project(session: AsyncSession, event: CloudEvent) -> None:
        if not event.type.startswith("mpp.application.application."):
            return
        try:
            facts = event.data_as(application.ApplicationEvent)
        except ValidationError as exc:
            raise PermanentError(f"not an application event: {exc.error_count()} errors") from exc
        repository = ReportRepository(session)
        fact = await repository.fact(facts.application_id, lock=True)
        if fact is not None and facts.sequence <= fact.last_sequence:
            return
        await repository.remember_service(
            service_id=facts.service_id, agency_id=facts.agency_id, name=facts.service_name
        )
        if fact is None:
            fact = ApplicationFact(
                application_id=facts.application_id,
                agency_id=facts.agency_id,
                service_id=facts.service_id,
                owner_account_id=facts.owner_account_id,
                registration_number=facts.registration_number,
                status=facts.status,
                last_sequence=facts.sequence,
                counted_month=month_of(facts.submitted_at, zone),
                submitted_at=facts.submitted_at,
                due_at=facts.due_at,
                revision_since=None,
                paused_days=0,
                finished_at=None,
                working_days=None,
                within_sla=None,
                overdue=False,
            )
            await _count(repository, fact, fact.status, +1)
        elif fact.status != facts.status:
            await _count(repository, fact, fact.status, -1)
            await _count(repository, fact, facts.status, +1)
        fact.status = facts.status
        fact.last_sequence = facts.sequence
        if facts.due_at is not None:
            fact.due_at = facts.due_at
        if facts.owner_account_id is not None:
            fact.owner_account_id = facts.owner_account_id
        at = facts.occurred_at
        if event.type == application.APPLICATION_SUBMITTED and fact.revision_since is not None:
            fact.paused_days += calendar.working_days_between(fact.revision_since, at)
            fact.revision_since = None
        elif event.type == application.APPLICATION_REVISION_REQUESTED:
            fact.revision_since = fact.revision_since or at
        elif event.type == application.APPLICATION_OVERDUE:
            fact.overdue = True
        finished = (
            event.type == application.APPLICATION_STATUS_CHANGED and facts.status in DECISIONS
        ) or event.type == application.APPLICATION_COMPLETED
        if finished and fact.finished_at is None:
            await _finish(repository, fact, at, calendar, zone)
        await repository.save_fact(fact)

    return project


async def _count(repository: ReportRepository, fact: ApplicationFact, status: str, by: int) -> None:
    await repository.count_status(
        agency_id=fact.agency_id,
        service_id=fact.service_id,
        month=fact.counted_month,
        status=status,
        by=by,
    )


async def _finish(
    repository: ReportRepository,
    fact: ApplicationFact,
    at: datetime,
    calendar: WorkingDays,
    zone: ZoneInfo,
) -> None:
    """The decision (or, without one seen, the completion) stops the clock."""
    fact.finished_at = at
    fact.working_days = processing_days(
        calendar, submitted_at=fact.submitted_at, finished_at=at, paused_days=fact.paused_days
    )
    fact.within_sla = fact.due_at is None or at <= fact.due_at
    await repository.count_finished(
        agency_id=fact.agency_id,
        service_id=fact.service_id,
        month=month_of(at, zone),
        working_days=fact.working_days,
        within_sla=fact.within_sla,
    )


def report_consumer(
    sessionmaker: async_sessionmaker[AsyncSession],
    connection: NatsConnection,
    *,
    calendar: WorkingDays,
    zone: ZoneInfo,
) -> EventConsumer:
    return EventConsumer(
        name=CONSUMER_NAME,
        subjects=[APPLICATION_EVENTS],
        handler=report_projector(calendar, zone),
        sessionmaker=sessionmaker,
        connection=connection,
    )
