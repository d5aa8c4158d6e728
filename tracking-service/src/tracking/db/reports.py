"""The application projection (one fact row per application) and the report aggregates.

Reports never scan the facts: ``report_status_counts`` (by submission month),
``report_durations`` (a histogram of working days by the month of the decision) and
``report_finished`` (decisions and those within the SLA) are kept per agency, service and
month as the events arrive; a report sums at most (services x months) rows of each.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from operator import attrgetter
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    ColumnElement,
    Date,
    DateTime,
    Index,
    Integer,
    PrimaryKeyConstraint,
    Table,
    Text,
    bindparam,
    func,
    or_,
    select,
    text,
    union,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID, aggregate_order_by
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.sql import Select

from mpp_shared.db.bulk import in_array, insert_rows
from tracking.db.surveys import survey_totals
from tracking.db.tables import Base
from tracking.domain.reports import OPEN_STATUSES, ClockStep, Finish, ServiceLevels
from tracking.domain.surveys import ELEMENTS, ElementTotals

metadata = Base.metadata

report_applications = Table(
    "report_applications",
    metadata,
    Column("application_id", UUID(as_uuid=True), primary_key=True),
    Column("agency_id", UUID(as_uuid=True), nullable=False),
    Column("service_id", UUID(as_uuid=True), nullable=False),
    Column("owner_account_id", UUID(as_uuid=True)),
    Column("registration_number", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("last_sequence", Integer, nullable=False),
    # The month (first day, local time) the application is counted in: its first submission.
    Column("counted_month", Date, nullable=False),
    Column("submitted_at", DateTime(timezone=True), nullable=False),
    Column("due_at", DateTime(timezone=True)),
    # Set while the agency waits for the citizen's revision; those working days do not count.
    Column("revision_since", DateTime(timezone=True)),
    Column("paused_days", Integer, nullable=False, server_default="0"),
    Column("finished_at", DateTime(timezone=True)),
    Column("working_days", Integer),
    Column("within_sla", Boolean),
    Column("overdue", Boolean, nullable=False, server_default="false"),
    # The clock's events (submissions, revision requests, the decision, the completion) in
    # the order they arrived: the clock is read from them in sequence order (run_clock).
    Column("clock_steps", JSONB, nullable=False, server_default="[]"),
    Index(
        "ix_report_applications_open",
        "agency_id",
        "due_at",
        postgresql_where=text("status IN ('submitted', 'in_review', 'revision_requested')"),
    ),
)

report_services = Table(
    "report_services",
    metadata,
    Column("service_id", UUID(as_uuid=True), primary_key=True),
    Column("agency_id", UUID(as_uuid=True), nullable=False),
    Column("name", Text, nullable=False),
)

report_status_counts = Table(
    "report_status_counts",
    metadata,
    Column("agency_id", UUID(as_uuid=True), nullable=False),
    Column("service_id", UUID(as_uuid=True), nullable=False),
    Column("month", Date, nullable=False),
    Column("status", Text, nullable=False),
    Column("applications", Integer, nullable=False),
    PrimaryKeyConstraint("agency_id", "month", "service_id", "status"),
)

report_durations = Table(
    "report_durations",
    metadata,
    Column("agency_id", UUID(as_uuid=True), nullable=False),
    Column("service_id", UUID(as_uuid=True), nullable=False),
    Column("month", Date, nullable=False),
    Column("working_days", Integer, nullable=False),
    Column("applications", Integer, nullable=False),
    PrimaryKeyConstraint("agency_id", "month", "service_id", "working_days"),
)

report_finished = Table(
    "report_finished",
    metadata,
    Column("agency_id", UUID(as_uuid=True), nullable=False),
    Column("service_id", UUID(as_uuid=True), nullable=False),
    Column("month", Date, nullable=False),
    Column("finished", Integer, nullable=False),
    Column("within_sla", Integer, nullable=False),
    PrimaryKeyConstraint("agency_id", "month", "service_id"),
)


@dataclass
class ApplicationFact:
    application_id: uuid.UUID
    agency_id: uuid.UUID
    service_id: uuid.UUID
    owner_account_id: uuid.UUID | None
    registration_number: str
    status: str
    last_sequence: int
    counted_month: date
    submitted_at: datetime
    due_at: datetime | None
    revision_since: datetime | None
    paused_days: int
    finished_at: datetime | None
    working_days: int | None
    within_sla: bool | None
    overdue: bool
    clock_steps: list[ClockStep]


def steps_to_json(steps: Iterable[ClockStep]) -> list[dict[str, Any]]:
    return [
        {
            "sequence": s.sequence,
            "kind": s.kind,
            "at": s.at.isoformat(),
            "due_at": s.due_at.isoformat() if s.due_at is not None else None,
        }
        for s in steps
    ]


def steps_from_json(stored: Iterable[dict[str, Any]]) -> list[ClockStep]:
    return [
        ClockStep(
            sequence=int(s["sequence"]),
            kind=str(s["kind"]),
            at=datetime.fromisoformat(s["at"]),
            due_at=datetime.fromisoformat(s["due_at"]) if s.get("due_at") else None,
        )
        for s in stored
    ]


def _fact_values(fact: ApplicationFact) -> dict[str, Any]:
    values = fact.__dict__.copy()
    values["clock_steps"] = steps_to_json(fact.clock_steps)
    return values


@dataclass
class AggregateMoves:
    """What a batch of events moves in the aggregates, summed per row before it is written:
    ``statuses`` per (agency, service, submission month, status); ``durations`` per (agency,
    service, decision month, working days); ``decisions`` per (agency, service, decision
    month): (decided, within the SLA)."""

    statuses: Counter[tuple[uuid.UUID, uuid.UUID, date, str]] = field(default_factory=Counter)
    durations: Counter[tuple[uuid.UUID, uuid.UUID, date, int]] = field(default_factory=Counter)
    decisions: dict[tuple[uuid.UUID, uuid.UUID, date], tuple[int, int]] = field(
        default_factory=dict
    )

    def status(self, fact: ApplicationFact, status: str, by: int) -> None:
        key = (fact.agency_id, fact.service_id, fact.counted_month, status)
        self.statuses[key] += by

    def finished(self, fact: ApplicationFact, month: date, finish: Finish, by: int) -> None:
        """Add (``by=1``) or take back (``by=-1``, a late event moved the decision) one
        decided application in the month of its decision."""
        self.durations[(fact.agency_id, fact.service_id, month, finish.working_days)] += by
        key = (fact.agency_id, fact.service_id, month)
        decided, within = self.decisions.get(key, (0, 0))
        self.decisions[key] = (decided + by, within + (by if finish.within_sla else 0))


def _fact(row: Any) -> ApplicationFact:
    values = dict(row._mapping)
    values["clock_steps"] = steps_from_json(values["clock_steps"] or [])
    return ApplicationFact(**values)


class ReportRepository:
    """In the caller's transaction; never commits."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # -- the projection --------------------------------------------------------------------
    async def fact(
        self, application_id: uuid.UUID, *, lock: bool = False
    ) -> ApplicationFact | None:
        query = select(report_applications).where(
            report_applications.c.application_id == application_id
        )
        if lock:
            query = query.with_for_update()
        row = (await self.session.execute(query)).first()
        return _fact(row) if row is not None else None

    async def facts(
        self, application_ids: Iterable[uuid.UUID], *, lock: bool = False
    ) -> dict[uuid.UUID, ApplicationFact]:
        """The fact rows of the applications, by id; locked in key order with ``lock`` (two
        transactions locking overlapping sets wait for each other rather than deadlock)."""
        wanted = sorted(set(application_ids), key=attrgetter("int"))
        if not wanted:
            return {}
        query = select(report_applications).where(
            in_array(report_applications.c.application_id, wanted, name="application_ids")
        )
        if lock:
            query = query.order_by(report_applications.c.application_id).with_for_update()
        return {row.application_id: _fact(row) for row in await self.session.execute(query)}

    async def add_facts(self, facts: Sequence[ApplicationFact]) -> set[uuid.UUID]:
        """Insert the applications' first fact rows where there are none yet; the ids of those
        inserted (another transaction's row, committed or not, wins: it is waited for)."""
        if not facts:
            return set()
        rows = [_fact_values(f) for f in sorted(facts, key=lambda f: f.application_id.int)]
        inserted = await self.session.execute(
            insert_rows(report_applications, rows)
            .on_conflict_do_nothing(index_elements=[report_applications.c.application_id])
            .returning(report_applications.c.application_id)
        )
        return set(inserted.scalars())

    async def save_facts(self, facts: Sequence[ApplicationFact]) -> None:
        if not facts:
            return
        statement = insert_rows(
            report_applications,
            [_fact_values(f) for f in sorted(facts, key=lambda f: f.application_id.int)],
        )
        columns = [c.name for c in report_applications.columns if c.name != "application_id"]
        await self.session.execute(
            statement.on_conflict_do_update(
                index_elements=[report_applications.c.application_id],
                set_={name: statement.excluded[name] for name in columns},
            )
        )

    async def remember_services(self, services: Mapping[uuid.UUID, tuple[uuid.UUID, str]]) -> None:
        """Keep each service's agency and latest name (``service id: (agency id, name)``)."""
        if not services:
            return
        statement = insert_rows(
            report_services,
            [
                {"service_id": service_id, "agency_id": agency_id, "name": name}
                for service_id, (agency_id, name) in sorted(services.items())
            ],
        )
        await self.session.execute(
            statement.on_conflict_do_update(
                index_elements=[report_services.c.service_id],
                set_={"name": statement.excluded.name},
                where=report_services.c.name != statement.excluded.name,
            )
        )

    async def move_aggregates(self, moves: AggregateMoves) -> None:
        """Add the summed moves to the aggregates: one upsert per aggregate table. A key
        touched writes its row even when its moves cancel out, as moving it one at a time
        would have."""
        for table, counted, rows in (
            (
                report_status_counts,
                ("applications",),
                [
                    {"agency_id": a, "service_id": s, "month": m, "status": st, "applications": n}
                    for (a, s, m, st), n in sorted(moves.statuses.items())
                ],
            ),
            (
                report_durations,
                ("applications",),
                [
                    {
                        "agency_id": a,
                        "service_id": s,
                        "month": m,
                        "working_days": d,
                        "applications": n,
                    }
                    for (a, s, m, d), n in sorted(moves.durations.items())
                ],
            ),
            (
                report_finished,
                ("finished", "within_sla"),
                [
                    {"agency_id": a, "service_id": s, "month": m, "finished": n, "within_sla": w}
                    for (a, s, m), (n, w) in sorted(moves.decisions.items())
                ],
            ),
        ):
            if not rows:
                continue
            statement = insert_rows(table, rows)
            await self.session.execute(
                statement.on_conflict_do_update(
                    index_elements=list(table.primary_key.columns),
                    set_={name: table.c[name] + statement.excluded[name] for name in counted},
                )
            )


# -- the report routes: one or two statements each, built once, on a plain connection --------
# Four variants of each (an agency or all, a service or all), so that each keeps a plan that
# uses its index; built at import, as SQLAlchemy would compute a per-call statement's cache
# key again on every request.

Scope = tuple[bool, bool]  # (an agency given, a service given)
_SCOPES: tuple[Scope, ...] = ((False, False), (True, False), (False, True), (True, True))


def _scoped(table: Table, scope: Scope, *, months: bool = True) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if months:
        where.append(table.c.month.between(bindparam("first"), bindparam("last")))
    if scope[0]:
        where.append(table.c.agency_id == bindparam("agency_id"))
    if scope[1]:
        where.append(table.c.service_id == bindparam("service_id"))
    return where


def _service_levels_statement(scope: Scope) -> Select[*tuple[Any, ...]]:
    """One row per service: its status counts (a JSON object, zero sums left out), its
    working-day histogram (two arrays, the days ascending), decided and within the SLA, and
    its name; the monthly rows summed in PostgreSQL."""
    c, d, f = report_status_counts.c, report_durations.c, report_finished.c
    counted = (
        select(c.service_id, c.status, func.sum(c.applications).label("n"))
        .where(*_scoped(report_status_counts, scope))
        .group_by(c.service_id, c.status)
        .having(func.sum(c.applications) != 0)
        .subquery("counted")
    )
    counts = (
        select(
            counted.c.service_id,
            func.jsonb_object_agg(counted.c.status, counted.c.n, type_=JSONB).label("counts"),
        )
        .group_by(counted.c.service_id)
        .subquery("counts")
    )
    days = (
        select(d.service_id, d.working_days, func.sum(d.applications).label("n"))
        .where(*_scoped(report_durations, scope))
        .group_by(d.service_id, d.working_days)
        .subquery("days")
    )
    histogram = (
        select(
            days.c.service_id,
            func.array_agg(aggregate_order_by(days.c.working_days, days.c.working_days)).label(
                "days"
            ),
            func.array_agg(aggregate_order_by(days.c.n, days.c.working_days)).label("applications"),
        )
        .group_by(days.c.service_id)
        .subquery("histogram")
    )
    finished = (
        select(
            f.service_id,
            func.sum(f.finished).label("finished"),
            func.sum(f.within_sla).label("within_sla"),
        )
        .where(*_scoped(report_finished, scope))
        .group_by(f.service_id)
        .subquery("finished")
    )
    services = union(
        select(counts.c.service_id), select(histogram.c.service_id), select(finished.c.service_id)
    ).subquery("services")
    return select(
        services.c.service_id,
        report_services.c.name,
        counts.c.counts,
        histogram.c.days,
        histogram.c.applications,
        finished.c.finished,
        finished.c.within_sla,
    ).select_from(
        services.outerjoin(counts, counts.c.service_id == services.c.service_id)
        .outerjoin(histogram, histogram.c.service_id == services.c.service_id)
        .outerjoin(finished, finished.c.service_id == services.c.service_id)
        .outerjoin(report_services, report_services.c.service_id == services.c.service_id)
    )


def _overdue_statement(scope: Scope) -> Select[*tuple[Any, ...]]:
    a = report_applications.c
    return (
        select(
            a.application_id,
            a.registration_number,
            a.service_id,
            report_services.c.name.label("service_name"),
            a.status,
            a.submitted_at,
            a.due_at,
        )
        .outerjoin(report_services, report_services.c.service_id == a.service_id)
        .where(
            a.status.in_(sorted(OPEN_STATUSES)),
            a.due_at.is_not(None),
            or_(a.overdue, a.due_at < bindparam("now")),
            *_scoped(report_applications, scope, months=False),
        )
        .order_by(a.due_at, a.application_id)
        .limit(bindparam("limit"))
    )


def _satisfaction_statement(scope: Scope) -> Select[*tuple[Any, ...]]:
    t = survey_totals.c
    sums = (
        select(
            t.service_id,
            func.sum(t.responses).label("responses"),
            *(func.sum(t[e]).label(e) for e in ELEMENTS),
        )
        .where(*_scoped(survey_totals, scope))
        .group_by(t.service_id)
        .subquery("sums")
    )
    return select(sums, report_services.c.name).outerjoin(
        report_services, report_services.c.service_id == sums.c.service_id
    )


_SERVICE_LEVELS: dict[Scope, Select[*tuple[Any, ...]]] = {
    scope: _service_levels_statement(scope) for scope in _SCOPES
}
_OVERDUE: dict[Scope, Select[*tuple[Any, ...]]] = {
    scope: _overdue_statement(scope) for scope in _SCOPES
}
_SATISFACTION: dict[Scope, Select[*tuple[Any, ...]]] = {
    scope: _satisfaction_statement(scope) for scope in _SCOPES
}


def _parameters(
    agency_id: uuid.UUID | None, service_id: uuid.UUID | None, **more: Any
) -> tuple[Scope, dict[str, Any]]:
    values = dict(more)
    if agency_id is not None:
        values["agency_id"] = agency_id
    if service_id is not None:
        values["service_id"] = service_id
    return (agency_id is not None, service_id is not None), values


async def read_service_levels(
    connection: AsyncConnection,
    *,
    agency_id: uuid.UUID | None,
    service_id: uuid.UUID | None,
    first_month: date,
    last_month: date,
) -> list[ServiceLevels]:
    """One line per service with anything in the months ``first_month..last_month``."""
    scope, values = _parameters(agency_id, service_id, first=first_month, last=last_month)
    lines = []
    for row in await connection.execute(_SERVICE_LEVELS[scope], values):
        days, applications = row.days or [], row.applications or []
        lines.append(
            ServiceLevels(
                service_id=row.service_id,
                service_name=row.name,
                counts=Counter({k: int(v) for k, v in (row.counts or {}).items()}),
                histogram=Counter(
                    {int(day): int(n) for day, n in zip(days, applications, strict=True)}
                ),
                finished=int(row.finished or 0),
                within_sla=int(row.within_sla or 0),
            )
        )
    return sorted(lines, key=lambda x: (x.service_name or "", str(x.service_id)))


async def read_overdue(
    connection: AsyncConnection,
    *,
    agency_id: uuid.UUID | None,
    service_id: uuid.UUID | None,
    now: datetime,
    limit: int,
) -> Sequence[Row[*tuple[Any, ...]]]:
    """The open applications past their due time (or announced overdue), the most overdue
    first: rows with the fields of ``OverdueRead``."""
    scope, values = _parameters(agency_id, service_id, now=now, limit=limit)
    result = await connection.execute(_OVERDUE[scope], values)
    return result.all()


async def read_satisfaction(
    connection: AsyncConnection,
    *,
    agency_id: uuid.UUID | None,
    service_id: uuid.UUID | None,
    first_month: date,
    last_month: date,
) -> list[tuple[uuid.UUID, str | None, ElementTotals]]:
    """Each service's SKM sums in the months and its name, in one statement."""
    scope, values = _parameters(agency_id, service_id, first=first_month, last=last_month)
    return [
        (
            row.service_id,
            row.name,
            ElementTotals(
                responses=int(row.responses), sums={e: int(row._mapping[e]) for e in ELEMENTS}
            ),
        )
        for row in await connection.execute(_SATISFACTION[scope], values)
    ]
