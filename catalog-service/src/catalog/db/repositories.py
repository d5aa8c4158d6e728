"""The catalogue's storage for writes, on the request's session (never commits)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, insert, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.db.tables import (
    AgencyRow,
    CounterRow,
    CounterServiceRow,
    LocationRow,
    Region,
    ServiceRow,
    ServiceVersionRow,
)
from catalog.domain.exceptions import DuplicateAgency, DuplicateServiceCode
from catalog.domain.models import (
    Agency,
    AgencyFields,
    ServiceFields,
    ServiceHeader,
    ServiceStatus,
    ServiceVersion,
    VersionStatus,
)
from catalog.domain.snapshot import Position, PublishedVersion
from mpp_shared.calendar import timezone_of_region
from mpp_shared.contracts.catalog.v1 import LocationCounter, LocationReply


class SqlCatalogRepository:
    """Implements ``catalog.domain.ports.CatalogRepository``."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def now(self) -> datetime:
        # The transaction's time: every row written by one request carries the same instant.
        value: datetime = await self.session.scalar(select(func.now()))  # type: ignore[assignment]
        return value

    async def missing_region_codes(self, codes: Sequence[str]) -> list[str]:
        wanted = set(codes)
        found = set(
            (await self.session.scalars(select(Region.code).where(Region.code.in_(wanted)))).all()
        )
        return sorted(wanted - found)

    async def region_name(self, code: str) -> str | None:
        return await self.session.scalar(select(Region.name).where(Region.code == code))

    # -- agencies ------------------------------------------------------------------------------
    async def get_agency(self, agency_id: uuid.UUID) -> Agency | None:
        row = await self.session.get(AgencyRow, agency_id)
        return _agency(row) if row is not None else None

    async def add_agency(
        self, *, agency_id: uuid.UUID, fields: AgencyFields, timezone: str
    ) -> Agency:
        row = AgencyRow(id=agency_id, timezone=timezone, **fields.model_dump(mode="json"))
        try:
            async with self.session.begin_nested():
                self.session.add(row)
                await self.session.flush()
        except IntegrityError:
            raise DuplicateAgency("An agency of that name exists in that region.") from None
        await self.session.refresh(row)
        return _agency(row)

    async def update_agency(self, *, agency_id: uuid.UUID, changes: dict[str, Any]) -> Agency:
        try:
            async with self.session.begin_nested():
                row = (
                    await self.session.execute(
                        update(AgencyRow)
                        .where(AgencyRow.id == agency_id)
                        .values(**changes, revision=AgencyRow.revision + 1, updated_at=func.now())
                        .returning(AgencyRow)
                    )
                ).scalar_one()
        except IntegrityError:
            raise DuplicateAgency("An agency of that name exists in that region.") from None
        await self.session.refresh(row)
        return _agency(row)

    # -- services ------------------------------------------------------------------------------
    async def get_service(
        self, service_id: uuid.UUID, *, for_update: bool = False
    ) -> ServiceHeader | None:
        query = select(ServiceRow).where(ServiceRow.id == service_id)
        if for_update:
            # Serialises edits, publishing and retiring of one service.
            query = query.with_for_update()
        row = (await self.session.scalars(query)).one_or_none()
        return _header(row) if row is not None else None

    async def add_service(
        self, *, service_id: uuid.UUID, agency_id: uuid.UUID, code: str
    ) -> ServiceHeader:
        try:
            async with self.session.begin_nested():
                await self.session.execute(
                    insert(ServiceRow).values(
                        id=service_id, agency_id=agency_id, code=code, status=ServiceStatus.DRAFT
                    )
                )
        except IntegrityError:
            raise DuplicateServiceCode(
                f"The agency already has a service with the code {code!r}."
            ) from None
        return ServiceHeader(
            id=service_id,
            agency_id=agency_id,
            code=code,
            status=ServiceStatus.DRAFT,
            published_version=None,
            draft_version=None,
        )

    async def get_version(self, service_id: uuid.UUID, version: int) -> ServiceVersion | None:
        row = await self.session.get(ServiceVersionRow, (service_id, version))
        if row is None:
            return None
        return ServiceVersion(
            service_id=row.service_id,
            version=row.version,
            status=VersionStatus(row.status),
            fields=ServiceFields.model_validate(row.fields),
            created_at=row.created_at,
            updated_at=row.updated_at,
            published_at=row.published_at,
        )

    async def add_draft(
        self, *, service_id: uuid.UUID, version: int, fields: ServiceFields, actor: str
    ) -> ServiceVersion:
        now = await self.now()
        await self.session.execute(
            insert(ServiceVersionRow).values(
                service_id=service_id,
                version=version,
                status=VersionStatus.DRAFT,
                fields=fields.model_dump(mode="json"),
                created_by=actor,
                created_at=now,
                updated_at=now,
            )
        )
        await self.session.execute(
            update(ServiceRow)
            .where(ServiceRow.id == service_id)
            .values(draft_version=version, updated_at=now)
        )
        return ServiceVersion(
            service_id=service_id,
            version=version,
            status=VersionStatus.DRAFT,
            fields=fields,
            created_at=now,
            updated_at=now,
        )

    async def save_draft(
        self, *, service_id: uuid.UUID, version: int, fields: ServiceFields
    ) -> ServiceVersion:
        row = (
            await self.session.execute(
                update(ServiceVersionRow)
                .where(
                    ServiceVersionRow.service_id == service_id,
                    ServiceVersionRow.version == version,
                    ServiceVersionRow.status == VersionStatus.DRAFT,
                )
                .values(fields=fields.model_dump(mode="json"), updated_at=func.now())
                .returning(ServiceVersionRow.created_at, ServiceVersionRow.updated_at)
            )
        ).one()
        return ServiceVersion(
            service_id=service_id,
            version=version,
            status=VersionStatus.DRAFT,
            fields=fields,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )

    async def publish(
        self,
        *,
        service_id: uuid.UUID,
        version: int,
        document: dict[str, Any],
        listing: dict[str, Any],
        region_keys: list[str],
        actor: str,
        published_at: datetime,
    ) -> None:
        await self.session.execute(
            update(ServiceVersionRow)
            .where(
                ServiceVersionRow.service_id == service_id,
                ServiceVersionRow.version == version,
                ServiceVersionRow.status == VersionStatus.DRAFT,
            )
            .values(
                status=VersionStatus.PUBLISHED,
                document=document,
                published_by=actor,
                published_at=published_at,
                updated_at=published_at,
            )
        )
        await self.session.execute(
            update(ServiceRow)
            .where(ServiceRow.id == service_id)
            .values(
                status=ServiceStatus.PUBLISHED,
                published_version=version,
                draft_version=None,
                retired_at=None,
                updated_at=published_at,
                name=document["name"],
                description=document["description"],
                search_keywords=" ".join(document["keywords"]),
                category=document["category"],
                channels=document["channels"],
                region_keys=region_keys,
                listing=listing,
            )
        )

    async def retire(self, *, service_id: uuid.UUID, retired_at: datetime) -> None:
        await self.session.execute(
            update(ServiceRow)
            .where(ServiceRow.id == service_id)
            .values(status=ServiceStatus.RETIRED, retired_at=retired_at, updated_at=retired_at)
        )

    # -- MPP locations -------------------------------------------------------------------------
    async def ensure_location(
        self,
        *,
        location_id: uuid.UUID,
        name: str,
        region_code: str,
        address: str,
        opening_hours: dict[str, Any],
    ) -> None:
        await self.session.execute(
            pg_insert(LocationRow)
            .values(
                id=location_id,
                name=name,
                region_code=region_code,
                address=address,
                opening_hours=opening_hours,
            )
            .on_conflict_do_update(
                index_elements=[LocationRow.id],
                set_={"name": name, "address": address, "opening_hours": opening_hours},
            )
        )

    async def ensure_counter(
        self,
        *,
        counter_id: uuid.UUID,
        location_id: uuid.UUID,
        label: str,
        agency_id: uuid.UUID,
        position: int,
        service_ids: Sequence[uuid.UUID],
    ) -> None:
        await self.session.execute(
            pg_insert(CounterRow)
            .values(
                id=counter_id,
                location_id=location_id,
                label=label,
                agency_id=agency_id,
                position=position,
            )
            .on_conflict_do_update(
                index_elements=[CounterRow.id], set_={"label": label, "position": position}
            )
        )
        if service_ids:
            await self.session.execute(
                pg_insert(CounterServiceRow)
                .values([{"counter_id": counter_id, "service_id": s} for s in service_ids])
                .on_conflict_do_nothing()
            )


class SqlSnapshotReader:
    """Implements ``catalog.domain.snapshot.SnapshotReader``: published versions in key order."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def published_versions(
        self, *, after: Position | None, limit: int, all_versions: bool
    ) -> list[PublishedVersion]:
        statement = (
            select(
                ServiceVersionRow.document,
                ServiceRow.published_version,
                ServiceRow.status,
                ServiceRow.retired_at,
                AgencyRow,
            )
            .join(ServiceRow, ServiceRow.id == ServiceVersionRow.service_id)
            .join(AgencyRow, AgencyRow.id == ServiceRow.agency_id)
            .where(
                ServiceVersionRow.status == VersionStatus.PUBLISHED,
                ServiceVersionRow.document.is_not(None),
            )
            .order_by(ServiceVersionRow.service_id, ServiceVersionRow.version)
            .limit(limit)
        )
        if not all_versions:
            statement = statement.where(ServiceVersionRow.version == ServiceRow.published_version)
        if after is not None:
            statement = statement.where(
                tuple_(ServiceVersionRow.service_id, ServiceVersionRow.version)
                > tuple_(after.service_id, after.version)
            )
        rows = (await self.session.execute(statement)).all()
        return [
            PublishedVersion(
                document=document,
                agency=_agency(agency),
                latest_version=latest,
                retired_at=retired_at if status == ServiceStatus.RETIRED else None,
            )
            for document, latest, status, retired_at, agency in rows
        ]


def _agency(row: AgencyRow) -> Agency:
    return Agency.model_validate(row, from_attributes=True)


def _header(row: ServiceRow) -> ServiceHeader:
    return ServiceHeader(
        id=row.id,
        agency_id=row.agency_id,
        code=row.code,
        status=ServiceStatus(row.status),
        published_version=row.published_version,
        draft_version=row.draft_version,
        retired_at=row.retired_at,
    )


class SqlLocationReader:
    """MPP locations with their counters, as ``rpc.catalog.locations.get`` (one) and
    ``rpc.catalog.locations.snapshot`` (pages by id) answer them."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def location(self, location_id: uuid.UUID) -> LocationReply | None:
        found = await self.locations(ids=[location_id])
        return found[0] if found else None

    async def locations(
        self,
        *,
        ids: Sequence[uuid.UUID] | None = None,
        after: uuid.UUID | None = None,
        limit: int | None = None,
    ) -> list[LocationReply]:
        """The locations named by ``ids``, or those after ``after`` by id (at most ``limit``)."""
        as_of = datetime.now(UTC)
        query = select(LocationRow).order_by(LocationRow.id)
        if ids is not None:
            query = query.where(LocationRow.id.in_(ids))
        if after is not None:
            query = query.where(LocationRow.id > after)
        if limit is not None:
            query = query.limit(limit)
        locations = list(
            await self.session.scalars(query.execution_options(populate_existing=True))
        )
        if not locations:
            return []
        counters = (
            await self.session.execute(
                select(CounterRow, AgencyRow.name)
                .join(AgencyRow, AgencyRow.id == CounterRow.agency_id)
                .where(CounterRow.location_id.in_([location.id for location in locations]))
                .order_by(CounterRow.position, CounterRow.label)
                .execution_options(populate_existing=True)
            )
        ).all()
        served: dict[uuid.UUID, list[uuid.UUID]] = {}
        if counters:
            rows = await self.session.execute(
                select(CounterServiceRow.counter_id, CounterServiceRow.service_id)
                .where(CounterServiceRow.counter_id.in_([c.id for c, _ in counters]))
                .order_by(CounterServiceRow.service_id)
            )
            for counter_id, service_id in rows:
                served.setdefault(counter_id, []).append(service_id)
        by_location: dict[uuid.UUID, list[LocationCounter]] = {}
        for counter, agency_name in counters:
            by_location.setdefault(counter.location_id, []).append(
                LocationCounter(
                    counter_id=counter.id,
                    label=counter.label,
                    agency_id=counter.agency_id,
                    agency_name=agency_name,
                    service_ids=served.get(counter.id, []),
                )
            )
        return [
            LocationReply(
                location_id=location.id,
                name=location.name,
                region_code=location.region_code,
                timezone=timezone_of_region(location.region_code).key,
                opening_hours=location.opening_hours,
                counters=by_location.get(location.id, []),
                as_of=as_of,
            )
            for location in locations
        ]
