"""The agencies the catalogue announced, to check staff and client agency ids."""

from __future__ import annotations

import uuid

from sqlalchemy import func
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from identity.db.tables import (
    KnownAgencyRow,
)


class AgencyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def known(self, agency_id: uuid.UUID) -> bool:
        return await self._session.get(KnownAgencyRow, agency_id) is not None

    async def remember(
        self, *, agency_id: uuid.UUID, name: str, kind: str, region_code: str, revision: int
    ) -> None:
        statement = pg_insert(KnownAgencyRow).values(
            agency_id=agency_id, name=name, kind=kind, region_code=region_code, revision=revision
        )
        # Events may arrive out of order: an older revision never overwrites a newer one.
        await self._session.execute(
            statement.on_conflict_do_update(
                index_elements=[KnownAgencyRow.agency_id],
                set_={
                    "name": statement.excluded.name,
                    "kind": statement.excluded.kind,
                    "region_code": statement.excluded.region_code,
                    "revision": statement.excluded.revision,
                    "updated_at": func.now(),
                },
                where=KnownAgencyRow.revision < statement.excluded.revision,
            )
        )
