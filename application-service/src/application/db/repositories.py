"""The SQL behind ``application.domain.ports.ApplicationRepository`` and the catalogue's copy.

Repositories never commit: the request's (or the message's) transaction does, in one place.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from collections.abc import Mapping
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Table,
    and_,
    bindparam,
    delete,
    func,
    insert,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from application.db.tables import (
    ApplicationRow,
    CatalogService,
    CatalogServiceVersion,
    DocumentRow,
    NoteRow,
    RegistrationCounter,
)
from application.domain.exceptions import ConcurrentChange
from application.domain.lifecycle import CLOCK_RUNNING, Status
from application.domain.models import Application, Document, Note, ServiceVersionCopy
from application.domain.ports import QueueFilter, Slice
from mpp_shared.contracts.catalog.v1 import ServicePublished
from mpp_shared.db.driver import compile_for_asyncpg, fetch_row, fetch_rows
from mpp_shared.pagination import InvalidCursor

_APPLICATIONS = cast(Table, ApplicationRow.__table__)
# What a change may write (``_values``); the rest is fixed when the application is made.
_CHANGING = (
    "status",
    "stage",
    "form_data",
    "registration_number",
    "tracking_code",
    "submitted_at",
    "due_at",
    "revision_requested_at",
    "decided_at",
    "overdue_notified_at",
    "updated_at",
    "event_sequence",
)
_DOCUMENTS = cast(Table, DocumentRow.__table__)
_NOTES = cast(Table, NoteRow.__table__)
_APPLICATION_BY_ID = select(_APPLICATIONS).where(_APPLICATIONS.c.id == bindparam("id"))
_DOCUMENTS_OF = (
    select(_DOCUMENTS)
    .where(_DOCUMENTS.c.application_id == bindparam("application_id"))
    .order_by(_DOCUMENTS.c.kind, _DOCUMENTS.c.created_at, _DOCUMENTS.c.id)
)
_ALL_NOTES_OF = (
    select(_NOTES)
    .where(_NOTES.c.application_id == bindparam("application_id"))
    .order_by(_NOTES.c.created_at, _NOTES.c.id)
)
_PUBLIC_NOTES_OF = (
    select(_NOTES)
    .where(_NOTES.c.application_id == bindparam("application_id"), _NOTES.c.visibility == "public")
    .order_by(_NOTES.c.created_at, _NOTES.c.id)
)

# The hottest reads (each submission makes six of them), also as SQL for asyncpg, run with
# mpp_shared.db.driver: SQLAlchemy's execution around a prebuilt statement costs about as much
# as asyncpg's own work. Their parameters, in order: the id; the application's id; the
# application's id and "public".
_APPLICATION_BY_ID_SQL = compile_for_asyncpg(_APPLICATION_BY_ID)
_DOCUMENTS_OF_SQL = compile_for_asyncpg(_DOCUMENTS_OF)
_ALL_NOTES_OF_SQL = compile_for_asyncpg(_ALL_NOTES_OF)
_PUBLIC_NOTES_OF_SQL = compile_for_asyncpg(_PUBLIC_NOTES_OF)

# Every changing column, and the version only moves on from the one the change was made on.
_SAVE = (
    update(_APPLICATIONS)
    .where(
        _APPLICATIONS.c.id == bindparam("key_id"),
        _APPLICATIONS.c.version == bindparam("key_version"),
    )
    .values(
        {
            name: bindparam(f"new_{name}", type_=_APPLICATIONS.c[name].type)
            for name in (*_CHANGING, "version")
        }
    )
)

# An upload, whole, in one statement (so, in autocommit, one transaction of its own): the
# application's version moves on from the one the upload was checked against, the document of
# the same requirement goes and the new one comes, both only if the version matched. The old
# document is what the statement returns (with ``bumped``: no row at all means the version
# had moved on).
_bumped = (
    update(_APPLICATIONS)
    .where(
        _APPLICATIONS.c.id == bindparam("application_id"),
        _APPLICATIONS.c.version == bindparam("expected_version"),
    )
    .values(version=_APPLICATIONS.c.version + 1, updated_at=bindparam("bumped_at"))
    .returning(_APPLICATIONS.c.id)
    .cte("bumped")
)
_replaced = (
    delete(_DOCUMENTS)
    .where(
        _DOCUMENTS.c.application_id.in_(select(_bumped.c.id)),
        _DOCUMENTS.c.kind == "input",
        _DOCUMENTS.c.requirement_code == bindparam("document_requirement_code"),
    )
    .returning(*_DOCUMENTS.c)
    .cte("replaced")
)
_DOCUMENT_COLUMNS = tuple(c.name for c in _DOCUMENTS.c)
_added = (
    insert(_DOCUMENTS)
    .from_select(
        list(_DOCUMENT_COLUMNS),
        select(
            *(
                _bumped.c.id
                if name == "application_id"
                # Not the column's own name: an UPDATE would take that for a value to set.
                else bindparam(f"document_{name}", type_=_DOCUMENTS.c[name].type)
                for name in _DOCUMENT_COLUMNS
            )
        ),
    )
    .cte("added")
)
_ATTACH_INPUT = (
    select(
        literal_column("true").label("bumped"), *(_replaced.c[name] for name in _DOCUMENT_COLUMNS)
    )
    .select_from(_bumped)
    .outerjoin(_replaced, literal_column("true"))
    .add_cte(_added)
)

# A new application, every column, built once (a statement built per call costs its
# construction and its cache key again). The parameters are not named as the columns: an
# INSERT keeps those names for values given at execution.
_ADD = insert(_APPLICATIONS).values(
    {column.name: bindparam(f"add_{column.name}", type_=column.type) for column in _APPLICATIONS.c}
)

# The SLA clock runs: submitted or in review. Paused in revision_requested, so never overdue
# there (the due time moves on resubmission), and stopped once decided.
CLOCK_RUNNING_STATUSES = tuple(sorted(status.value for status in CLOCK_RUNNING))


class PublishedVersions:
    """The published versions read so far, by (service, version), for the life of the process.

    A version never changes once published (the read copy keeps the first copy it was told
    of), so a version held here is never stale: what may change, the service's latest
    version and its retirement, is read from the database every time. Bounded: the least
    recently used version goes first.
    """

    def __init__(self, size: int = 256) -> None:
        self._size = max(size, 1)
        self._versions: OrderedDict[tuple[uuid.UUID, int], ServicePublished] = OrderedDict()

    def get(self, service_id: uuid.UUID, version: int) -> ServicePublished | None:
        key = (service_id, version)
        found = self._versions.get(key)
        if found is not None:
            self._versions.move_to_end(key)
        return found

    def put(self, published: ServicePublished) -> None:
        self._versions[(published.service_id, published.version)] = published
        self._versions.move_to_end((published.service_id, published.version))
        while len(self._versions) > self._size:
            self._versions.popitem(last=False)


_SERVICE_HEADER = select(CatalogService.latest_version, CatalogService.retired_version).where(
    CatalogService.service_id == bindparam("service_id")
)
# Every new draft reads it (its parameter: the service's id): on asyncpg itself.
_SERVICE_HEADER_SQL = compile_for_asyncpg(_SERVICE_HEADER)
_VERSION_PAYLOAD = select(CatalogServiceVersion.payload).where(
    CatalogServiceVersion.service_id == bindparam("service_id"),
    CatalogServiceVersion.version == bindparam("version"),
)


# One row per (region, year), incremented under its row lock: concurrent callers never get the
# same serial.
_counter = pg_insert(RegistrationCounter).values(
    region_code=bindparam("region_code"), year=bindparam("year"), last_serial=literal_column("1")
)
_NEXT_SERIAL = _counter.on_conflict_do_update(
    index_elements=[RegistrationCounter.region_code, RegistrationCounter.year],
    set_={"last_serial": RegistrationCounter.last_serial + literal_column("1")},
).returning(RegistrationCounter.last_serial)
# As SQL for asyncpg (its parameters: the region code, the year): in autocommit anyway, the
# allocator needs none of SQLAlchemy's execution around it.
_NEXT_SERIAL_SQL = compile_for_asyncpg(_NEXT_SERIAL)


class RegistrationSerials:
    """Gives out registration serials, each in a statement of its own, committed at once.

    The counter's row is locked only while that one statement runs (autocommit: no
    ``BEGIN``, one round trip), not until the submission's transaction ends, so concurrent
    submissions of a region no longer queue behind each other's whole transaction. The price:
    a submission that fails after taking its serial (its transaction rolls back) leaves that
    serial unused. Serials stay unique per region and year, and increasing; they may have gaps.

    ``engine`` is one of its own (a small pool; the statement runs on asyncpg, which begins
    no transaction), not the requests' pool: a
    request that holds a connection of that pool waits here for a second one, which must
    not come from the same pool, or a full pool would wait on itself.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._pool = engine

    async def aclose(self) -> None:
        await self._pool.dispose()

    async def next(self, *, region_code: str, year: int) -> int:
        # On asyncpg itself, which begins no transaction: the statement commits on its own.
        async with self._pool.connect() as connection:
            record = await fetch_row(connection, _NEXT_SERIAL_SQL, region_code, year)
        assert record is not None
        return int(record[0])


class SqlApplicationRepository:
    """On a request's session, or on a connection in autocommit (``mpp_shared.deps.
    autocommit_connection``) for a request whose every write is one statement."""

    def __init__(
        self,
        session: AsyncSession | AsyncConnection,
        *,
        versions: PublishedVersions | None = None,
        serials: RegistrationSerials | None = None,
    ) -> None:
        self.session = session
        # Without the runtime's cache (sweeps, tests), one of this repository's own.
        self.versions = versions if versions is not None else PublishedVersions()
        self.serials = serials

    # ---- the catalogue's read copy -------------------------------------------------------------

    async def service_version(
        self, service_id: uuid.UUID, version: int | None = None
    ) -> ServiceVersionCopy | None:
        header = await fetch_row(await self._connection(), _SERVICE_HEADER_SQL, service_id)
        if header is None:
            return None
        latest, retired_version = header["latest_version"], header["retired_version"]
        wanted = latest if version is None else version
        published = self.versions.get(service_id, wanted)
        if published is None:
            payload = await self.session.scalar(
                _VERSION_PAYLOAD, {"service_id": service_id, "version": wanted}
            )
            if payload is None:
                return None
            published = ServicePublished.model_validate(payload)
            self.versions.put(published)
        retired = retired_version is not None and retired_version >= wanted
        return ServiceVersionCopy(published=published, retired=retired)

    async def published_version(
        self, service_id: uuid.UUID, version: int
    ) -> ServiceVersionCopy | None:
        """A version an application was made against, without its retirement (which does not
        concern an application already made): kept in memory once read, so mostly no
        statement at all."""
        published = self.versions.get(service_id, version)
        if published is None:
            payload = await self.session.scalar(
                _VERSION_PAYLOAD, {"service_id": service_id, "version": version}
            )
            if payload is None:
                return None
            published = ServicePublished.model_validate(payload)
            self.versions.put(published)
        return ServiceVersionCopy(published=published)

    # ---- applications ------------------------------------------------------------------------

    async def add(self, application: Application) -> None:
        await self.session.execute(
            _ADD, {f"add_{name}": value for name, value in _columns(application).items()}
        )

    async def _connection(self) -> AsyncConnection:
        """The connection the statements run on (the session's, in its transaction)."""
        if isinstance(self.session, AsyncConnection):
            return self.session
        return await self.session.connection()

    async def get(self, application_id: uuid.UUID) -> Application | None:
        # On asyncpg itself: one row read into the domain object, nothing to track.
        record = await fetch_row(await self._connection(), _APPLICATION_BY_ID_SQL, application_id)
        return _application(_Fields(record)) if record is not None else None

    async def save(self, application: Application, *, expected_version: int) -> None:
        values = {f"new_{name}": value for name, value in _values(application).items()}
        result = await self.session.execute(
            _SAVE,
            {
                **values,
                "new_version": expected_version + 1,
                "key_id": application.id,
                "key_version": expected_version,
            },
        )
        if getattr(result, "rowcount", 0) != 1:
            raise ConcurrentChange()
        application.version = expected_version + 1

    async def list_owned(
        self, owner: uuid.UUID, *, limit: int, after: Mapping[str, Any] | None
    ) -> Slice:
        query = select(ApplicationRow).where(ApplicationRow.owner_account_id == owner)
        if after is not None:
            created, last_id = position_of(after, "c")
            query = query.where(
                or_(
                    ApplicationRow.created_at < created,
                    and_(ApplicationRow.created_at == created, ApplicationRow.id < last_id),
                )
            )
        rows = list(
            await self.session.scalars(
                query.order_by(ApplicationRow.created_at.desc(), ApplicationRow.id.desc()).limit(
                    limit + 1
                )
            )
        )
        items = [_application(row) for row in rows[:limit]]
        position = None
        if len(rows) > limit:
            last = items[-1]
            position = {"c": last.created_at.isoformat(), "i": str(last.id)}
        return Slice(items=items, next_position=position)

    async def list_queue(
        self, where: QueueFilter, *, now: datetime, limit: int, after: Mapping[str, Any] | None
    ) -> Slice:
        conditions: list[ColumnElement[bool]] = [
            ApplicationRow.agency_id == where.agency_id,
            ApplicationRow.status != Status.DRAFT.value,
        ]
        if where.status is not None:
            conditions.append(ApplicationRow.status == where.status.value)
        if where.service_id is not None:
            conditions.append(ApplicationRow.service_id == where.service_id)
        if where.stage is not None:
            conditions.append(ApplicationRow.stage == where.stage)
        overdue = and_(
            ApplicationRow.due_at < now, ApplicationRow.status.in_(CLOCK_RUNNING_STATUSES)
        )
        if where.overdue is True:
            conditions.append(overdue)
        elif where.overdue is False:
            conditions.append(~overdue)
        if where.submitted_from is not None:
            conditions.append(ApplicationRow.submitted_at >= where.submitted_from)
        if where.submitted_to is not None:
            conditions.append(ApplicationRow.submitted_at < where.submitted_to)
        if after is not None:
            due, last_id = position_of(after, "d")
            conditions.append(
                or_(
                    ApplicationRow.due_at > due,
                    and_(ApplicationRow.due_at == due, ApplicationRow.id > last_id),
                )
            )
        rows = list(
            await self.session.scalars(
                select(ApplicationRow)
                .where(*conditions)
                .order_by(ApplicationRow.due_at.asc(), ApplicationRow.id.asc())
                .limit(limit + 1)
            )
        )
        items = [_application(row) for row in rows[:limit]]
        position = None
        if len(rows) > limit:
            last = items[-1]
            assert last.due_at is not None
            position = {"d": last.due_at.isoformat(), "i": str(last.id)}
        return Slice(items=items, next_position=position)

    async def claim_overdue(self, *, now: datetime, limit: int) -> list[Application]:
        """Applications whose due time passed unannounced, locked for this transaction; rows
        another replica holds are skipped, so each is announced by exactly one of them."""
        rows = await self.session.scalars(
            select(ApplicationRow)
            .where(
                ApplicationRow.overdue_notified_at.is_(None),
                ApplicationRow.status.in_(CLOCK_RUNNING_STATUSES),
                ApplicationRow.due_at < now,
            )
            .order_by(ApplicationRow.due_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .execution_options(populate_existing=True)
        )
        return [_application(row) for row in rows]

    async def next_registration_serial(self, *, region_code: str, year: int) -> int:
        if self.serials is not None:
            return await self.serials.next(region_code=region_code, year=year)
        # Without the allocator (sweeps, tests of the repository): in this transaction, so the
        # counter's row stays locked until it ends.
        serial = await self.session.scalar(_NEXT_SERIAL, {"region_code": region_code, "year": year})
        assert serial is not None
        return int(serial)

    # ---- documents and notes -----------------------------------------------------------------

    async def documents(self, application_id: uuid.UUID) -> list[Document]:
        records = await fetch_rows(await self._connection(), _DOCUMENTS_OF_SQL, application_id)
        return [_document(_Fields(record)) for record in records]

    async def document(self, application_id: uuid.UUID, document_id: uuid.UUID) -> Document | None:
        row = await self.session.scalar(
            select(DocumentRow).where(
                DocumentRow.application_id == application_id, DocumentRow.id == document_id
            )
        )
        return _document(row) if row is not None else None

    async def put_document(self, document: Document) -> Document | None:
        same_slot = (
            DocumentRow.requirement_code == document.requirement_code
            if document.kind == "input"
            else DocumentRow.kind == "output"
        )
        replaced = (
            await self.session.execute(
                delete(DocumentRow)
                .where(
                    DocumentRow.application_id == document.application_id,
                    DocumentRow.kind == document.kind,
                    same_slot,
                )
                .returning(*DocumentRow.__table__.columns)
            )
        ).first()
        await self.session.execute(
            insert(_DOCUMENTS).values(
                id=document.id,
                application_id=document.application_id,
                kind=document.kind,
                requirement_code=document.requirement_code,
                filename=document.filename,
                size=document.size,
                content_type=document.content_type,
                sha256=document.sha256,
                blob_key=document.blob_key,
                created_at=document.created_at,
            )
        )
        return _document(replaced) if replaced is not None else None

    async def attach_input_document(
        self, application: Application, document: Document, *, expected_version: int
    ) -> Document | None:
        """The upload in one statement (``_ATTACH_INPUT``); the document it replaces, if any."""
        assert document.kind == "input"
        assert document.requirement_code is not None
        rows = (
            await self.session.execute(
                _ATTACH_INPUT,
                {
                    "application_id": application.id,
                    "expected_version": expected_version,
                    "bumped_at": application.updated_at,
                    "document_id": document.id,
                    "document_kind": document.kind,
                    "document_requirement_code": document.requirement_code,
                    "document_filename": document.filename,
                    "document_size": document.size,
                    "document_content_type": document.content_type,
                    "document_sha256": document.sha256,
                    "document_blob_key": document.blob_key,
                    "document_created_at": document.created_at,
                },
            )
        ).all()
        if not rows:
            raise ConcurrentChange()
        application.version = expected_version + 1
        # One requirement holds one document; should older data hold more, all went.
        return _document(rows[0]) if rows[0].id is not None else None

    async def add_note(self, note: Note) -> None:
        await self.session.execute(
            insert(_NOTES).values(
                id=note.id,
                application_id=note.application_id,
                visibility=note.visibility,
                action=note.action,
                text=note.text,
                actor_kind=note.actor_kind,
                created_at=note.created_at,
            )
        )

    async def notes(self, application_id: uuid.UUID, *, internal: bool) -> list[Note]:
        connection = await self._connection()
        if internal:
            rows = await fetch_rows(connection, _ALL_NOTES_OF_SQL, application_id)
        else:
            rows = await fetch_rows(connection, _PUBLIC_NOTES_OF_SQL, application_id, "public")
        return [
            Note(
                id=row["id"],
                application_id=row["application_id"],
                visibility=row["visibility"],
                action=row["action"],
                text=row["text"],
                actor_kind=row["actor_kind"],
                created_at=row["created_at"],
            )
            for row in rows
        ]


class CatalogCopyRepository:
    """Keeps the published versions the catalogue announced (event or snapshot)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def remember_published(self, published: ServicePublished, *, now: datetime) -> None:
        # A version never changes: the first copy stays, a repeat changes nothing.
        await self.session.execute(
            pg_insert(CatalogServiceVersion)
            .values(
                service_id=published.service_id,
                version=published.version,
                agency_id=published.agency_id,
                payload=published.model_dump(mode="json"),
                published_at=published.published_at,
            )
            .on_conflict_do_nothing()
        )
        insert = pg_insert(CatalogService).values(
            service_id=published.service_id,
            latest_version=published.version,
            retired_version=None,
            updated_at=now,
        )
        # Events may come late or twice: the latest version only moves forward.
        await self.session.execute(
            insert.on_conflict_do_update(
                index_elements=[CatalogService.service_id],
                set_={
                    "latest_version": func.greatest(
                        CatalogService.latest_version, insert.excluded.latest_version
                    ),
                    "updated_at": now,
                },
            )
        )

    async def remember_retired(self, service_id: uuid.UUID, version: int, *, now: datetime) -> None:
        insert = pg_insert(CatalogService).values(
            service_id=service_id, latest_version=version, retired_version=version, updated_at=now
        )
        await self.session.execute(
            insert.on_conflict_do_update(
                index_elements=[CatalogService.service_id],
                set_={
                    "retired_version": func.greatest(
                        func.coalesce(CatalogService.retired_version, 0),
                        insert.excluded.retired_version,
                    ),
                    "updated_at": now,
                },
            )
        )

    async def count_versions(self) -> int:
        return int(
            await self.session.scalar(select(func.count()).select_from(CatalogServiceVersion)) or 0
        )


def position_of(after: Mapping[str, Any], key: str) -> tuple[datetime, uuid.UUID]:
    try:
        at = datetime.fromisoformat(str(after[key]))
        last_id = uuid.UUID(str(after["i"]))
    except (KeyError, ValueError, TypeError):
        raise InvalidCursor("The cursor is not one this list gave out.") from None
    if at.tzinfo is None:
        raise InvalidCursor("The cursor is not one this list gave out.")
    return at, last_id


def _values(application: Application) -> dict[str, Any]:
    return {
        "status": application.status.value,
        "stage": application.stage,
        "form_data": application.form_data,
        "registration_number": application.registration_number,
        "tracking_code": application.tracking_code,
        "submitted_at": application.submitted_at,
        "due_at": application.due_at,
        "revision_requested_at": application.revision_requested_at,
        "decided_at": application.decided_at,
        "overdue_notified_at": application.overdue_notified_at,
        "updated_at": application.updated_at,
        "event_sequence": application.event_sequence,
    }


def _columns(application: Application) -> dict[str, Any]:
    return {
        "id": application.id,
        "owner_account_id": application.owner_account_id,
        "service_id": application.service_id,
        "service_version": application.service_version,
        "agency_id": application.agency_id,
        "channel": application.channel,
        "created_at": application.created_at,
        "version": application.version,
        **_values(application),
    }


class _Fields:
    """An ``asyncpg.Record``'s columns as attributes, as a Core row or an ORM row has them."""

    __slots__ = ("_record",)

    def __init__(self, record: Any) -> None:
        self._record = record

    def __getattr__(self, name: str) -> Any:
        try:
            return self._record[name]
        except KeyError:
            raise AttributeError(name) from None


def _application(row: Any) -> Application:
    """From an ``ApplicationRow``, a Core row or a record of the ``applications`` table."""
    return Application(
        id=row.id,
        owner_account_id=row.owner_account_id,
        service_id=row.service_id,
        service_version=row.service_version,
        agency_id=row.agency_id,
        status=Status(row.status),
        form_data=dict(row.form_data),
        created_at=row.created_at,
        updated_at=row.updated_at,
        channel=row.channel,
        stage=row.stage,
        registration_number=row.registration_number,
        tracking_code=row.tracking_code,
        submitted_at=row.submitted_at,
        due_at=row.due_at,
        revision_requested_at=row.revision_requested_at,
        decided_at=row.decided_at,
        overdue_notified_at=row.overdue_notified_at,
        version=row.version,
        event_sequence=row.event_sequence,
    )


def _document(row: Any) -> Document:
    """From a ``DocumentRow``, a Core row or a record of the ``documents`` table."""
    return Document(
        id=row.id,
        application_id=row.application_id,
        kind=row.kind,
        requirement_code=row.requirement_code,
        filename=row.filename,
        size=row.size,
        content_type=row.content_type,
        sha256=row.sha256,
        blob_key=row.blob_key,
        created_at=row.created_at,
    )
