"""The ``tracking-reports`` consumer: keeps the application projection (owner, agency,
service, status, times) and the report aggregates up to date, a fetched batch of events at
a time, in whatever order the events arrive."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mpp_shared.contracts.application import v1 as application
from mpp_shared.events import (
    BatchHandler,
    CloudEvent,
    EventConsumer,
    NatsConnection,
    PermanentError,
)
from tracking.db.reports import AggregateMoves, ApplicationFact, ReportRepository
from tracking.domain.reports import ClockStep, Finish, WorkingDays, clock_kind, month_of, run_clock
from tracking.report_cache import ReportCache, invalidate_after_commit

CONSUMER_NAME = "tracking-reports"
APPLICATION_EVENTS = "mpp.application.>"
# Events fetched and handled in one transaction (what the stream has at once, up to this).
CONSUMER_BATCH = 256


def report_projector(
    calendar: WorkingDays, zone: ZoneInfo, report_cache: ReportCache | None = None
) -> BatchHandler:
    """The batch handler: applies application events to the projection and the aggregates.

    The current status, due time and owner follow the highest ``sequence`` seen, so a late
    event never moves them back. The clock's events (submissions, revision requests, the
    decision, the completion) are kept by sequence and the clock is read again from all of
    them whenever one arrives, so a late one still counts: a resubmission that arrives after
    the completion still takes its revision pause out of the processing time, a decision that
    arrives after the completion still stops the clock at the decision. An event whose
    sequence is already kept (a redelivery under another id) changes nothing. Aggregates are
    moved, never recounted: the application's old contribution is taken back and the new one
    added (status counts; the decision's month, working days and SLA).

    A batch is applied event by event, in arrival order, to the facts of its applications
    (read and locked in one statement); the moves of the aggregates are summed over the
    batch and each aggregate table gets one upsert, as the changed facts do.
    """

    async def project(session: AsyncSession, events: Sequence[CloudEvent]) -> None:
        changes: list[tuple[str, application.ApplicationEvent]] = []
        for event in events:
            if not event.type.startswith(_PREFIX):
                continue
            try:
                changes.append((event.type, event.data_as(application.ApplicationEvent)))
            except ValidationError as exc:
                raise PermanentError(
                    f"not an application event: {exc.error_count()} errors"
                ) from exc
        if not changes:
            return
        repository = ReportRepository(session)
        # Each application's first event in the batch makes its row if it has none yet (the
        # insert also waits for another replica's uncommitted first row); then all rows are
        # read locked, so the events apply to what is committed.
        firsts: dict[uuid.UUID, ApplicationFact] = {}
        for _, facts in changes:
            if facts.application_id not in firsts:
                firsts[facts.application_id] = _first_fact(facts, zone)
        created = await repository.add_facts(list(firsts.values()))
        stored = await repository.facts(firsts, lock=True)
        moves = AggregateMoves()
        for application_id in created:
            moves.status(stored[application_id], stored[application_id].status, +1)
        changed: dict[uuid.UUID, ApplicationFact] = {}
        services: dict[uuid.UUID, tuple[uuid.UUID, str]] = {}
        for event_type, facts in changes:
            fact = stored[facts.application_id]
            new = facts.application_id in created and facts.application_id not in changed
            if _apply(event_type, facts, fact, new=new, moves=moves, calendar=calendar, zone=zone):
                changed[fact.application_id] = fact
                if new or facts.sequence >= fact.last_sequence:
                    services[facts.service_id] = (facts.agency_id, facts.service_name)
        await repository.remember_services(services)
        await repository.save_facts(list(changed.values()))
        await repository.move_aggregates(moves)
        # The kept report answers of these agencies go once this batch commits.
        invalidate_after_commit(
            session,
            report_cache,
            {f.agency_id for f in changed.values()} | {a for a, _ in services.values()},
        )

    return project


_PREFIX = "mpp.application.application."


def _apply(
    event_type: str,
    facts: application.ApplicationEvent,
    fact: ApplicationFact,
    *,
    new: bool,
    moves: AggregateMoves,
    calendar: WorkingDays,
    zone: ZoneInfo,
) -> bool:
    """One event applied to its application's fact row; whether the row changed."""
    kind = clock_kind(event_type.removeprefix(_PREFIX), facts.status)
    changed = new
    if facts.sequence > fact.last_sequence:
        if fact.status != facts.status:
            moves.status(fact, fact.status, -1)
            moves.status(fact, facts.status, +1)
        fact.status = facts.status
        fact.last_sequence = facts.sequence
        if facts.due_at is not None:
            fact.due_at = facts.due_at
        if facts.owner_account_id is not None:
            fact.owner_account_id = facts.owner_account_id
        changed = True
    if event_type == application.APPLICATION_OVERDUE and not fact.overdue:
        # Also when a later event overtook it: the deadline was missed all the same.
        fact.overdue = True
        changed = True
    if kind is not None and all(s.sequence != facts.sequence for s in fact.clock_steps):
        fact.clock_steps.append(
            ClockStep(sequence=facts.sequence, kind=kind, at=facts.occurred_at, due_at=facts.due_at)
        )
        _read_clock(fact, calendar, zone, moves)
        changed = True
    return changed


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


def _read_clock(
    fact: ApplicationFact, calendar: WorkingDays, zone: ZoneInfo, moves: AggregateMoves
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
            moves.finished(fact, month_of(finish.at, zone), finish, by)
    fact.finished_at = after.at if after is not None else None
    fact.working_days = after.working_days if after is not None else None
    fact.within_sla = after.within_sla if after is not None else None


def report_consumer(
    sessionmaker: async_sessionmaker[AsyncSession],
    connection: NatsConnection,
    *,
    calendar: WorkingDays,
    zone: ZoneInfo,
    report_cache: ReportCache | None = None,
    linger: float = 0.0,
) -> EventConsumer:
    return EventConsumer(
        name=CONSUMER_NAME,
        subjects=[APPLICATION_EVENTS],
        batch_handler=report_projector(calendar, zone, report_cache),
        sessionmaker=sessionmaker,
        connection=connection,
        batch=CONSUMER_BATCH,
        linger=linger,
    )
