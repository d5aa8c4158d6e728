"""The ``tracking-reports`` consumer: keeps the application projection (owner, agency,
service, status, times) and the report aggregates up to date, one event at a time, in
whatever order the events arrive."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mpp_shared.contracts.application import v1 as application
from mpp_shared.events import CloudEvent, EventConsumer, Handler, NatsConnection, PermanentError
from tracking.db.reports import ApplicationFact, ReportRepository
from tracking.domain.reports import ClockStep, Finish, WorkingDays, clock_kind, month_of, run_clock

CONSUMER_NAME = "tracking-reports"
APPLICATION_EVENTS = "mpp.application.>"


def report_projector(calendar: WorkingDays, zone: ZoneInfo) -> Handler:
    """The handler: applies one application event to the projection and the aggregates.

    The current status, due time and owner follow the highest ``sequence`` seen, so a late
    event never moves them back. The clock's events (submissions, revision requests, the
    decision, the completion) are kept by sequence and the clock is read again from all of
    them whenever one arrives, so a late one still counts: a resubmission that arrives after
    the completion still takes its revision pause out of the processing time, a decision that
    arrives after the completion still stops the clock at the decision. An event whose
    sequence is already kept (a redelivery under another id) changes nothing. Aggregates are
    moved, never recounted: the application's old contribution is taken back and the new one
    added (status counts; the decision's month, working days and SLA).
    """

    async def project(session: AsyncSession, event: CloudEvent) -> None:
        if not event.type.startswith(_PREFIX):
            return
        try:
            facts = event.data_as(application.ApplicationEvent)
        except ValidationError as exc:
            raise PermanentError(f"not an application event: {exc.error_count()} errors") from exc
        repository = ReportRepository(session)
        fact = await repository.fact(facts.application_id, lock=True)
        new = False
        if fact is None:
            fact = _first_fact(facts, zone)
            new = await repository.add_fact(fact)
            if new:
                await _count(repository, fact, fact.status, +1)
            else:
                # Another replica stored this application's first event meanwhile.
                fact = await repository.fact(facts.application_id, lock=True)
                assert fact is not None
        kind = clock_kind(event.type.removeprefix(_PREFIX), facts.status)
        changed = new
        if facts.sequence > fact.last_sequence:
            if fact.status != facts.status:
                await _count(repository, fact, fact.status, -1)
                await _count(repository, fact, facts.status, +1)
            fact.status = facts.status
            fact.last_sequence = facts.sequence
            if facts.due_at is not None:
                fact.due_at = facts.due_at
            if facts.owner_account_id is not None:
                fact.owner_account_id = facts.owner_account_id
            changed = True
        if event.type == application.APPLICATION_OVERDUE and not fact.overdue:
            # Also when a later event overtook it: the deadline was missed all the same.
            fact.overdue = True
            changed = True
        if kind is not None and all(s.sequence != facts.sequence for s in fact.clock_steps):
            fact.clock_steps.append(
                ClockStep(
                    sequence=facts.sequence, kind=kind, at=facts.occurred_at, due_at=facts.due_at
                )
            )
            await _read_clock(repository, fact, calendar, zone)
            changed = True
        if not changed:
            return  # a duplicate, or a late event the projection already carries
        if new or facts.sequence >= fact.last_sequence:
            await repository.remember_service(
                service_id=facts.service_id, agency_id=facts.agency_id, name=facts.service_name
            )
        await repository.save_fact(fact)

    return project


_PREFIX = "mpp.application.application."


def _first_fact(facts: application.ApplicationEvent, zone: ZoneInfo) -> ApplicationFact:
    """The row of an application's first event seen (whichever of its events that is)."""
    return ApplicationFact(
        application_id=facts.application_id,
        agency_id=facts.agency_id,
        service_id=facts.service_id,
        owner_account_id=facts.owner_account_id,
        registration_number=facts.registration_number,
        status=facts.status,
        last_sequence=facts.sequence,
        # Every event carries the first submission's time: the month is known at once.
        counted_month=month_of(facts.submitted_at, zone),
        submitted_at=facts.submitted_at,
        due_at=facts.due_at,
        revision_since=None,
        paused_days=0,
        finished_at=None,
        working_days=None,
        within_sla=None,
        overdue=False,
        clock_steps=[],
    )


async def _count(repository: ReportRepository, fact: ApplicationFact, status: str, by: int) -> None:
    await repository.count_status(
        agency_id=fact.agency_id,
        service_id=fact.service_id,
        month=fact.counted_month,
        status=status,
        by=by,
    )


async def _read_clock(
    repository: ReportRepository, fact: ApplicationFact, calendar: WorkingDays, zone: ZoneInfo
) -> None:
    """Read the clock from the steps again; move the decision's aggregates if it changed."""
    before = (
        Finish(fact.finished_at, fact.working_days, bool(fact.within_sla))
        if fact.finished_at is not None and fact.working_days is not None
        else None
    )
    reading = run_clock(fact.clock_steps, calendar, fact.submitted_at)
    fact.paused_days, fact.revision_since = reading.paused_days, reading.revision_since
    after = reading.finish
    if after == before:
        return
    for finish, by in ((before, -1), (after, +1)):
        if finish is not None:
            await repository.count_finished(
                agency_id=fact.agency_id,
                service_id=fact.service_id,
                month=month_of(finish.at, zone),
                working_days=finish.working_days,
                within_sla=finish.within_sla,
                by=by,
            )
    fact.finished_at = after.at if after is not None else None
    fact.working_days = after.working_days if after is not None else None
    fact.within_sla = after.within_sla if after is not None else None


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
