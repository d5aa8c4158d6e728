"""The read copy of the catalogue's MPP locations (never commits)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from application.db.tables import CatalogLocation
from mpp_shared.contracts.catalog.v1 import LocationReply


class SqlLocationCopies:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, location_id: uuid.UUID) -> LocationReply | None:
        payload = await self.session.scalar(
            select(CatalogLocation.payload).where(CatalogLocation.location_id == location_id)
        )
        return LocationReply.model_validate(payload) if payload is not None else None

    async def remember(self, location: LocationReply, *, as_of: datetime, now: datetime) -> None:
        """Keep ``location`` unless the copy holds a later state (events may come late)."""
        insert = pg_insert(CatalogLocation).values(
            location_id=location.location_id,
            payload=location.model_dump(mode="json"),
            as_of=as_of,
            updated_at=now,
        )
        await self.session.execute(
            insert.on_conflict_do_update(
                index_elements=[CatalogLocation.location_id],
                set_={
                    "payload": insert.excluded.payload,
                    "as_of": insert.excluded.as_of,
                    "updated_at": insert.excluded.updated_at,
                },
                where=CatalogLocation.as_of <= insert.excluded.as_of,
            )
        )
