"""OAuth clients: the built-in app and the agency systems."""

from __future__ import annotations

import uuid

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from identity.db.tables import (
    OAuthClientRow,
)
from identity.domain.models import (
    Client,
    PageRequest,
)


def _client(row: OAuthClientRow) -> Client:
    return Client(
        client_id=row.client_id,
        name=row.name,
        scopes=frozenset(row.scopes),
        grant_types=frozenset(row.grant_types),
        redirect_uris=tuple(row.redirect_uris),
        agency_id=row.agency_id,
        secret_hash=row.secret_hash,
        first_party=row.first_party,
        disabled=row.disabled_at is not None,
        created_at=row.created_at,
    )


class ClientRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, client_id: str) -> Client | None:
        row = await self._session.get(OAuthClientRow, client_id)
        return _client(row) if row is not None else None

    async def add(self, client: Client, *, created_by: uuid.UUID | None = None) -> bool:
        result = await self._session.execute(
            pg_insert(OAuthClientRow)
            .values(
                client_id=client.client_id,
                name=client.name,
                agency_id=client.agency_id,
                secret_hash=client.secret_hash,
                scopes=sorted(client.scopes),
                redirect_uris=list(client.redirect_uris),
                grant_types=sorted(client.grant_types),
                first_party=client.first_party,
                created_by=created_by,
            )
            .on_conflict_do_nothing()
            .returning(OAuthClientRow.client_id)
        )
        return result.first() is not None

    async def list(self, *, page: PageRequest) -> list[Client]:
        statement = select(OAuthClientRow)
        if page.after is not None:
            at, last_id = page.after
            statement = statement.where(
                or_(
                    OAuthClientRow.created_at > at,
                    and_(
                        OAuthClientRow.created_at == at,
                        OAuthClientRow.client_id > last_id,
                    ),
                )
            )
        statement = statement.order_by(OAuthClientRow.created_at, OAuthClientRow.client_id)
        rows = (await self._session.execute(statement.limit(page.limit))).scalars().all()
        return [_client(row) for row in rows]

    async def disable(self, client_id: str) -> bool:
        result = await self._session.execute(
            update(OAuthClientRow)
            .where(OAuthClientRow.client_id == client_id, OAuthClientRow.first_party.is_(False))
            .values(disabled_at=func.coalesce(OAuthClientRow.disabled_at, func.now()))
            .returning(OAuthClientRow.client_id)
        )
        return result.first() is not None
