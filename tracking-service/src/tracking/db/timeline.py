"""Tables and queries of the timeline read model: applications, their events, agency names."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from operator import attrgetter
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    Boolean,
    ColumnElement,
    DateTime,
    Identity,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    or_,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import UUID, insert
from sqlalchemy.dialects.postgresql.dml import Insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from mpp_shared.db.bulk import in_array, insert_rows, insert_select, row_arrays
from mpp_shared.db.driver import fetch_row
from tracking.db.tables import Base
from tracking.domain.timeline import (
    OVERDUE_EVENT,
    CaseStep,
    Reader,
    TimelineEntry,
    TrackedApplication,
)


class KnownAgency(Base):
    __tablename__ = "known_agencies"

    agency_id: Mapped[uuid.UUID] = mapped_column(UUID, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    timezone: Mapped[str | None] = mapped_column(String(40))
    revision: Mapped[int] = mapped_column(Integer)


class TrackedApplicationRow(Base):
    __tablename__ = "tracked_applications"

    application_id: Mapped[uuid.UUID] = mapped_column(UUID, primary_key=True)
    registration_number: Mapped[str] = mapped_column(String(64), unique=True)
    tracking_code_hash: Mapped[str] = mapped_column(String(64))
    service_id: Mapped[uuid.UUID] = mapped_column(UUID)
    service_version: Mapped[int] = mapped_column(Integer)
    service_name: Mapped[str] = mapped_column(Text)
    agency_id: Mapped[uuid.UUID] = mapped_column(UUID, index=True)
    owner_account_id: Mapped[uuid.UUID | None] = mapped_column(UUID, index=True)
    status: Mapped[str] = mapped_column(String(32))
    stage: Mapped[str | None] = mapped_column(String(100))
    stage_name: Mapped[str | None] = mapped_column(Text)
    sequence: Mapped[int] = mapped_column(Integer)
    submitted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    overdue: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class TimelineEntryRow(Base):
    __tablename__ = "timeline_entries"
    __table_args__ = (UniqueConstraint("application_id", "sequence"),)

    event_id: Mapped[uuid.UUID] = mapped_column(UUID, primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger, Identity(always=True), unique=True)
    application_id: Mapped[uuid.UUID] = mapped_column(UUID)
    sequence: Mapped[int] = mapped_column(Integer)
    event_type: Mapped[str] = mapped_column(String(100))
    old_status: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(32))
    stage: Mapped[str | None] = mapped_column(String(100))
    stage_name: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    internal_note: Mapped[str | None] = mapped_column(Text)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class TimelineCaseStepRow(Base):
    """A step of a complaint case (no text of the case), about an application or not."""

    __tablename__ = "timeline_case_steps"
    __table_args__ = (UniqueConstraint("complaint_id", "sequence"),)

    event_id: Mapped[uuid.UUID] = mapped_column(UUID, primary_key=True)
    # From the sequence of the timeline entries' positions (migration 0009); None for the
    # steps stored before the live stream carried them.
    position: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    complaint_id: Mapped[uuid.UUID] = mapped_column(UUID)
    sequence: Mapped[int] = mapped_column(Integer)
    application_id: Mapped[uuid.UUID | None] = mapped_column(UUID, index=True)
    case_number: Mapped[str] = mapped_column(String(64))
    event_type: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(32))
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Null only in the steps stored before migration 0009.
    response_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    agency_id: Mapped[uuid.UUID | None] = mapped_column(UUID)
    owner_account_id: Mapped[uuid.UUID | None] = mapped_column(UUID)


_APP = cast(Table, TrackedApplicationRow.__table__)
_CASE = cast(Table, TimelineCaseStepRow.__table__)
_CASE_FIELDS = tuple(CaseStep.__dataclass_fields__)
_ENTRY = cast(Table, TimelineEntryRow.__table__)
_AGENCY = cast(Table, KnownAgency.__table__)
_APP_FIELDS = tuple(TrackedApplication.__dataclass_fields__)
_ENTRY_FIELDS = tuple(f for f in TimelineEntry.__dataclass_fields__)
_NEW_ENTRY_FIELDS = tuple(name for name in _ENTRY_FIELDS if name != "position")


def _newer_state() -> Insert:
    statement = insert_select(_APP, _APP_FIELDS)
    newer: dict[str, Any] = {
        name: statement.excluded[name] for name in _APP_FIELDS if name != "overdue"
    }
    newer["overdue"] = _APP.c.overdue | statement.excluded.overdue
    return statement.on_conflict_do_update(
        index_elements=[_APP.c.application_id],
        set_=newer,
        where=_APP.c.sequence < statement.excluded.sequence,
    )


# The consumer's statements for every batch, built once (their rows are parameters).
_ADD_ENTRIES = (
    insert_select(_ENTRY, _NEW_ENTRY_FIELDS)
    .on_conflict_do_nothing()
    .returning(_ENTRY.c.event_id, _ENTRY.c.position)
)
_SAVE_IF_NEWER = _newer_state()
# Positions in commit order: a transaction that stores stream events takes this lock before it
# draws positions from the sequence (``take_stream_turn``) and holds it until it ends, so a
# batch of one replica never commits after a later-numbered batch of another. A client
# resuming after position X then finds every event stored after X; without it, a batch
# numbered earlier but committing later would fall behind the cursor of a client that had
# already seen the later one.
_STREAM_TURN = text(
    "SELECT pg_advisory_xact_lock(hashtextextended('tracking:stream-positions', 7))"
)


def _entry(row: object) -> TimelineEntry:
    return TimelineEntry(**{name: getattr(row, name) for name in _ENTRY_FIELDS})


def _audience(table: Table, reader: Reader) -> list[ColumnElement[bool]]:
    """The conditions of ``can_read`` on ``table``'s ``owner_account_id`` and ``agency_id``
    (none: the reader may see no row)."""
    audience = []
    if reader.account_id is not None:
        audience.append(table.c.owner_account_id == reader.account_id)
    if reader.agency_id is not None:
        audience.append(table.c.agency_id == reader.agency_id)
    return audience


def _case_step(row: object) -> CaseStep:
    return CaseStep(**{name: getattr(row, name) for name in _CASE_FIELDS})


class TimelineRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def take_stream_turn(self) -> None:
        """Wait for the other transactions storing stream events (``add_entries``,
        ``add_case_steps``) to end, and keep the turn until this one does: call it first, before
        the transaction locks any row another one may be waiting with the turn for."""
        await self._session.execute(_STREAM_TURN)

    async def add_entries(self, entries: Sequence[TimelineEntry]) -> dict[uuid.UUID, TimelineEntry]:
        """Store the events in their places in one statement, in the order given (the arrival
        order, which their positions follow); the stored ones by event id. An event whose
        place (application, sequence) is taken, by an earlier one or one before it in
        ``entries``, is left out."""
        if not entries:
            return {}
        rows = [{name: getattr(entry, name) for name in _NEW_ENTRY_FIELDS} for entry in entries]
        result = await self._session.execute(_ADD_ENTRIES, row_arrays(_ENTRY, rows))
        positions = {row.event_id: row.position for row in result}
        return {
            values["event_id"]: TimelineEntry(**values, position=positions[values["event_id"]])
            for values in rows
            if values["event_id"] in positions
        }

    async def add_case_steps(self, steps: Sequence[CaseStep]) -> list[tuple[CaseStep, str | None]]:
        """Store the case steps in one statement, in the order given (their positions follow
        it); the stored ones in that order, each with the registration number of the
        application it is about (None for a case about none, or one not known here yet). A
        step whose place (case, sequence) is taken (the same change again) is left out."""
        if not steps:
            return []
        stored = (
            insert_rows(
                _CASE,
                [
                    {name: getattr(step, name) for name in _CASE_FIELDS if name != "position"}
                    for step in steps
                ],
            )
            .on_conflict_do_nothing()
            .returning(*_CASE.c)
            .cte("stored")
        )
        rows = await self._session.execute(
            select(stored, _APP.c.registration_number)
            .outerjoin(_APP, _APP.c.application_id == stored.c.application_id)
            .order_by(stored.c.position)
        )
        return [(_case_step(row), row.registration_number) for row in rows]

    async def save_if_newer(self, applications: Sequence[TrackedApplication]) -> None:
        """Keep each of ``applications`` (one per application) as the current state unless a
        higher sequence is stored.

        One statement, so two replicas handling two events of one application concurrently
        still end with the higher one; in key order, so two such statements wait for each
        other rather than deadlock. The SLA flag, once set, stays.
        """
        if not applications:
            return
        rows = [
            {name: getattr(application, name) for name in _APP_FIELDS}
            for application in sorted(applications, key=lambda a: a.application_id.int)
        ]
        await self._session.execute(_SAVE_IF_NEWER, row_arrays(_APP, rows))

    async def mark_overdue(self, application_ids: Iterable[uuid.UUID]) -> None:
        wanted = sorted(set(application_ids), key=attrgetter("int"))
        if wanted:
            await self._session.execute(
                _APP.update()
                .where(in_array(_APP.c.application_id, wanted, name="overdue_ids"))
                .values(overdue=True)
            )

    async def registration_numbers(
        self, application_ids: Iterable[uuid.UUID]
    ) -> dict[uuid.UUID, str]:
        """The registration numbers of those of the applications known here."""
        wanted = sorted(set(application_ids))
        if not wanted:
            return {}
        rows = await self._session.execute(
            select(_APP.c.application_id, _APP.c.registration_number).where(
                in_array(_APP.c.application_id, wanted, name="numbered_ids")
            )
        )
        return {row.application_id: row.registration_number for row in rows}

    async def position_of(self, event_id: uuid.UUID) -> int | None:
        """Where an application event or a case step is in the stream's order (None: unknown,
        or a case step from before the stream carried them)."""
        result = await self._session.execute(
            select(_ENTRY.c.position)
            .where(_ENTRY.c.event_id == event_id)
            .union_all(
                select(_CASE.c.position).where(
                    _CASE.c.event_id == event_id, _CASE.c.position.is_not(None)
                )
            )
        )
        return result.scalar_one_or_none()

    async def entries_after(
        self, *, position: int, reader: Reader, limit: int
    ) -> list[tuple[TimelineEntry, TrackedApplication]]:
        """The reader's applications' events that arrived after ``position``, in arrival order."""
        audience = _audience(_APP, reader)
        if not audience:
            return []
        rows = await self._session.execute(
            select(_ENTRY, *(_APP.c[name].label(f"app_{name}") for name in _APP_FIELDS))
            .join(_APP, _APP.c.application_id == _ENTRY.c.application_id)
            .where(_ENTRY.c.position > position, or_(*audience))
            .order_by(_ENTRY.c.position)
            .limit(limit)
        )
        found = []
        for row in rows:
            app = TrackedApplication(**{name: getattr(row, f"app_{name}") for name in _APP_FIELDS})
            found.append((_entry(row), app))
        return found

    async def case_steps_after(
        self, *, position: int, reader: Reader, limit: int
    ) -> list[tuple[CaseStep, str | None]]:
        """The steps of the reader's cases (staff: their agency's) that arrived after
        ``position``, in arrival order, each with the registration number of the application
        it is about (as ``add_case_steps``)."""
        audience = _audience(_CASE, reader)
        if not audience:
            return []
        rows = await self._session.execute(
            select(_CASE, _APP.c.registration_number)
            .outerjoin(_APP, _APP.c.application_id == _CASE.c.application_id)
            .where(_CASE.c.position > position, or_(*audience))
            .order_by(_CASE.c.position)
            .limit(limit)
        )
        return [(_case_step(row), row.registration_number) for row in rows]

    async def remember_agency(
        self, *, agency_id: uuid.UUID, name: str, timezone: str | None, revision: int
    ) -> None:
        """Keep the agency's name of the highest revision announced."""
        statement = insert(_AGENCY).values(
            agency_id=agency_id, name=name, timezone=timezone, revision=revision
        )
        await self._session.execute(
            statement.on_conflict_do_update(
                index_elements=[_AGENCY.c.agency_id],
                set_={
                    "name": statement.excluded.name,
                    "timezone": statement.excluded.timezone,
                    "revision": statement.excluded.revision,
                },
                where=_AGENCY.c.revision < statement.excluded.revision,
            )
        )


# -- the read routes: one statement each, in SQL for asyncpg (``fetch_row``) ------------------
# (SQLAlchemy's execution and row processing cost as much again as asyncpg's own work.) The
# history leaves out the SLA notice, which changes no status (``TimelineEntry.is_history``).

# The application's owner and agency, its history oldest first and the steps of complaint
# cases about it, as parallel arrays: one row (none for an unknown application), straight on
# asyncpg.
_TIMELINE_READ = """
SELECT a.owner_account_id, a.agency_id, h.*, c.*
FROM tracked_applications a
CROSS JOIN LATERAL (
    SELECT coalesce(array_agg(e.status::text ORDER BY e.sequence), '{}') AS status,
        coalesce(array_agg(e.stage::text ORDER BY e.sequence), '{}') AS stage,
        coalesce(array_agg(e.stage_name ORDER BY e.sequence), '{}') AS stage_name,
        coalesce(array_agg(e.note ORDER BY e.sequence), '{}') AS note,
        coalesce(array_agg(e.internal_note ORDER BY e.sequence), '{}') AS internal_note,
        coalesce(array_agg(e.sequence ORDER BY e.sequence), '{}') AS sequence,
        coalesce(array_agg(e.event_type::text ORDER BY e.sequence), '{}') AS event,
        coalesce(array_agg(e.occurred_at ORDER BY e.sequence), '{}') AS at
    FROM timeline_entries e
    WHERE e.application_id = a.application_id AND e.event_type <> $2::text
) h
CROSS JOIN LATERAL (
    SELECT coalesce(array_agg(s.case_number ORDER BY s.occurred_at, s.case_number, s.sequence),
            '{}') AS case_number,
        coalesce(array_agg(s.status ORDER BY s.occurred_at, s.case_number, s.sequence), '{}')
            AS case_status,
        coalesce(array_agg(s.sequence ORDER BY s.occurred_at, s.case_number, s.sequence), '{}')
            AS case_sequence,
        coalesce(array_agg(s.event_type ORDER BY s.occurred_at, s.case_number, s.sequence),
            '{}') AS case_event,
        coalesce(array_agg(s.occurred_at ORDER BY s.occurred_at, s.case_number, s.sequence),
            '{}') AS case_at
    FROM timeline_case_steps s
    WHERE s.application_id = a.application_id
) c
WHERE a.application_id = $1::uuid
"""

HISTORY_COLUMNS = (
    "status",
    "stage",
    "stage_name",
    "note",
    "internal_note",
    "sequence",
    "event",
    "at",
)
CASE_STEP_COLUMNS = ("case_number", "status", "sequence", "event", "at")


@dataclass(frozen=True, slots=True)
class ApplicationHistory:
    """Whose application it is, which agency handles it, its own steps oldest first (each a
    dict of ``HISTORY_COLUMNS``)."""

    owner_account_id: uuid.UUID | None
    agency_id: uuid.UUID
    steps: list[dict[str, Any]]
    # The steps of complaint cases about it (each a dict of ``CASE_STEP_COLUMNS``), by when
    # they happened, case number and the case's sequence: never in the order they arrived.
    case_steps: list[dict[str, Any]]


async def application_history(
    connection: AsyncConnection, application_id: uuid.UUID
) -> ApplicationHistory | None:
    """None for an unknown application. On a connection in no transaction (one round trip)."""
    row = await fetch_row(connection, _TIMELINE_READ, application_id, OVERDUE_EVENT)
    if row is None:
        return None
    return ApplicationHistory(
        owner_account_id=row["owner_account_id"],
        agency_id=row["agency_id"],
        steps=_unzip(row, HISTORY_COLUMNS),
        case_steps=_unzip(row, CASE_STEP_COLUMNS, prefix="case_"),
    )


def _unzip(row: Any, columns: Sequence[str], *, prefix: str = "") -> list[dict[str, Any]]:
    """Parallel arrays of a row (``prefix`` + each of ``columns``) as one dict per step."""
    arrays = [row[name if name.startswith(prefix) else prefix + name] for name in columns]
    return [dict(zip(columns, step, strict=True)) for step in zip(*arrays, strict=True)]


# The number's lock, its wrong codes, the code's check and the failure it counts, and the
# application with its history: one statement, its own transaction (migration 0008).
_PUBLIC_LOOKUP = (
    "SELECT * FROM public_tracking_lookup($1::text, $2::text, $3::timestamptz, $4::timestamptz, "
    "$5::integer, $6::text)"
)


async def public_tracking_lookup(
    connection: AsyncConnection,
    *,
    registration_number: str,
    code_hash: str | None,
    failures_since: datetime,
    at: datetime,
    max_failures: int,
) -> Any:
    """One row: ``outcome`` ``limited`` (``oldest_failure`` set), ``not_found`` (unknown
    number, wrong or missing code: a failure at ``at`` counted, the number's failures up to
    ``failures_since`` forgotten) or ``found`` (the application, ``agency_name`` and its
    history oldest first as the arrays ``entry_status``, ``entry_stage``,
    ``entry_stage_name``, ``entry_at``). On a connection in no transaction: the statement is
    its own, and holds the number's lock until it commits."""
    return await fetch_row(
        connection,
        _PUBLIC_LOOKUP,
        registration_number,
        code_hash,
        failures_since,
        at,
        max_failures,
        OVERDUE_EVENT,
    )
