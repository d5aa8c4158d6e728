"""Tables and queries of the timeline read model: applications, their events, agency names."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Identity,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    bindparam,
    func,
    literal,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.dialects.postgresql import UUID, insert
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql import CompoundSelect, Select

from mpp_shared.db.bulk import in_array, insert_rows
from tracking.db.tables import Base
from tracking.db.tracking_failures import FAILURES
from tracking.domain.timeline import (
    APPLICATION_STEP,
    COMPLAINT_STEP,
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
    """A step of a complaint case about an application (no text of the case)."""

    __tablename__ = "timeline_case_steps"
    __table_args__ = (UniqueConstraint("complaint_id", "sequence"),)

    event_id: Mapped[uuid.UUID] = mapped_column(UUID, primary_key=True)
    complaint_id: Mapped[uuid.UUID] = mapped_column(UUID)
    sequence: Mapped[int] = mapped_column(Integer)
    application_id: Mapped[uuid.UUID] = mapped_column(UUID, index=True)
    case_number: Mapped[str] = mapped_column(String(64))
    event_type: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(32))
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


_APP = cast(Table, TrackedApplicationRow.__table__)
_CASE = cast(Table, TimelineCaseStepRow.__table__)
_CASE_FIELDS = tuple(CaseStep.__dataclass_fields__)
_ENTRY = cast(Table, TimelineEntryRow.__table__)
_AGENCY = cast(Table, KnownAgency.__table__)
_APP_FIELDS = tuple(TrackedApplication.__dataclass_fields__)
_ENTRY_FIELDS = tuple(f for f in TimelineEntry.__dataclass_fields__)


def _entry(row: object) -> TimelineEntry:
    return TimelineEntry(**{name: getattr(row, name) for name in _ENTRY_FIELDS})


class TimelineRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add_entries(self, entries: Sequence[TimelineEntry]) -> dict[uuid.UUID, TimelineEntry]:
        """Store the events in their places in one statement, in the order given (the arrival
        order, which their positions follow); the stored ones by event id. An event whose
        place (application, sequence) is taken, by an earlier one or one before it in
        ``entries``, is left out."""
        if not entries:
            return {}
        rows = [
            {name: getattr(entry, name) for name in _ENTRY_FIELDS if name != "position"}
            for entry in entries
        ]
        result = await self._session.execute(
            insert_rows(_ENTRY, rows)
            .on_conflict_do_nothing()
            .returning(_ENTRY.c.event_id, _ENTRY.c.position)
        )
        positions = {row.event_id: row.position for row in result}
        return {
            values["event_id"]: TimelineEntry(**values, position=positions[values["event_id"]])
            for values in rows
            if values["event_id"] in positions
        }

    async def add_case_steps(self, steps: Sequence[CaseStep]) -> None:
        """Store the case steps in one statement; a step whose place (case, sequence) is taken
        (the same change again) is left out."""
        if steps:
            await self._session.execute(
                insert_rows(
                    _CASE, [{name: getattr(step, name) for name in _CASE_FIELDS} for step in steps]
                ).on_conflict_do_nothing()
            )

    async def save_if_newer(self, applications: Sequence[TrackedApplication]) -> None:
        """Keep each of ``applications`` (one per application) as the current state unless a
        higher sequence is stored.

        One statement, so two replicas handling two events of one application concurrently
        still end with the higher one; in key order, so two such statements wait for each
        other rather than deadlock. The SLA flag, once set, stays.
        """
        if not applications:
            return
        statement = insert_rows(
            _APP,
            [
                {name: getattr(application, name) for name in _APP_FIELDS}
                for application in sorted(applications, key=lambda a: a.application_id)
            ],
        )
        newer: dict[str, Any] = {
            name: statement.excluded[name] for name in _APP_FIELDS if name != "overdue"
        }
        newer["overdue"] = _APP.c.overdue | statement.excluded.overdue
        await self._session.execute(
            statement.on_conflict_do_update(
                index_elements=[_APP.c.application_id],
                set_=newer,
                where=_APP.c.sequence < statement.excluded.sequence,
            )
        )

    async def mark_overdue(self, application_ids: Iterable[uuid.UUID]) -> None:
        wanted = sorted(set(application_ids))
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
        result = await self._session.execute(
            select(_ENTRY.c.position).where(_ENTRY.c.event_id == event_id)
        )
        return result.scalar_one_or_none()

    async def entries_after(
        self, *, position: int, reader: Reader, limit: int
    ) -> list[tuple[TimelineEntry, TrackedApplication]]:
        """The reader's applications' events that arrived after ``position``, in arrival order."""
        audience = []
        if reader.account_id is not None:
            audience.append(_APP.c.owner_account_id == reader.account_id)
        if reader.agency_id is not None:
            audience.append(_APP.c.agency_id == reader.agency_id)
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


# -- the read routes: one statement each, built once, on a plain connection ---------------------
# (no ORM unit of work or identity map; built once: SQLAlchemy would compute a per-call statement's
# cache key again on every request.)

# The steps of the history: the SLA notice changes no status (``TimelineEntry.is_history``).
_HISTORY = and_(
    _ENTRY.c.application_id == _APP.c.application_id, _ENTRY.c.event_type != OVERDUE_EVENT
)

_OWN_STEPS = (
    select(
        _APP.c.owner_account_id,
        _APP.c.agency_id,
        literal(APPLICATION_STEP).label("kind"),
        _ENTRY.c.status,
        _ENTRY.c.stage,
        _ENTRY.c.stage_name,
        _ENTRY.c.note,
        _ENTRY.c.internal_note,
        null().cast(String).label("case_number"),
        _ENTRY.c.sequence,
        _ENTRY.c.event_type.label("event"),
        _ENTRY.c.occurred_at.label("at"),
    )
    .select_from(_APP.outerjoin(_ENTRY, _HISTORY))
    .where(_APP.c.application_id == bindparam("application_id"))
)
_CASE_STEPS = (
    select(
        _APP.c.owner_account_id,
        _APP.c.agency_id,
        literal(COMPLAINT_STEP).label("kind"),
        _CASE.c.status,
        null().cast(String),
        null().cast(Text),
        null().cast(Text),
        null().cast(Text),
        _CASE.c.case_number,
        _CASE.c.sequence,
        _CASE.c.event_type,
        _CASE.c.occurred_at,
    )
    .select_from(_APP.join(_CASE, _CASE.c.application_id == _APP.c.application_id))
    .where(_APP.c.application_id == bindparam("application_id"))
)
_TIMELINE_READ: CompoundSelect[*tuple[Any, ...]] = union_all(_OWN_STEPS, _CASE_STEPS)


async def timeline_rows(
    connection: AsyncConnection, application_id: uuid.UUID
) -> Sequence[Row[*tuple[Any, ...]]]:
    """The application's owner and agency with its history, one row per step, in no order
    (``split_timeline`` orders them): its own steps (``kind`` application) and those of
    complaint cases about it (``kind`` complaint, with ``case_number``); one row with
    ``sequence`` None when it has no step of its own yet; no rows for an unknown one."""
    return (await connection.execute(_TIMELINE_READ, {"application_id": application_id})).all()


_FAILURES_IN_WINDOW = (
    select(func.count().label("failures"), func.min(FAILURES.c.failed_at).label("oldest_failure"))
    .where(
        FAILURES.c.registration_number == bindparam("number"),
        FAILURES.c.failed_at > bindparam("since"),
    )
    .subquery("f")
)

_PUBLIC_READ: Select[*tuple[Any, ...]] = (
    select(
        _FAILURES_IN_WINDOW.c.failures,
        _FAILURES_IN_WINDOW.c.oldest_failure,
        _APP.c.registration_number,
        _APP.c.tracking_code_hash,
        _APP.c.service_name,
        _APP.c.status,
        _APP.c.stage,
        _APP.c.due_at,
        _APP.c.overdue,
        _AGENCY.c.name.label("agency_name"),
        _ENTRY.c.status.label("entry_status"),
        _ENTRY.c.stage.label("entry_stage"),
        _ENTRY.c.stage_name.label("entry_stage_name"),
        _ENTRY.c.occurred_at.label("entry_at"),
    )
    .select_from(
        _FAILURES_IN_WINDOW.outerjoin(_APP, _APP.c.registration_number == bindparam("number"))
        .outerjoin(_AGENCY, _AGENCY.c.agency_id == _APP.c.agency_id)
        .outerjoin(_ENTRY, _HISTORY)
    )
    .order_by(_ENTRY.c.sequence)
)


async def read_public_tracking(
    connection: AsyncConnection, *, registration_number: str, failures_since: datetime
) -> Sequence[Row[*tuple[Any, ...]]]:
    """The wrong codes for the number since ``failures_since`` (count and oldest), and the
    application of the number with its agency's name and its history oldest first: at least
    one row (the application's columns None for an unknown number, the step's None while it
    has no history)."""
    result = await connection.execute(
        _PUBLIC_READ, {"number": registration_number, "since": failures_since}
    )
    return result.all()
