"""The connections that reads use, handed out in the order the requests asked for them."""

from __future__ import annotations

from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from catalog.config import CatalogSettings
from mpp_shared.db.turns import ConnectionTurns


class QueuedPool:
    """asyncpg's pool behind the shared first-come, first-served queue (``catalog.db.queries``).

    When every connection is busy, asyncpg's pool lets a request that arrives just as one is
    freed take it ahead of those already waiting: with 32 concurrent searches on 10
    connections, the slowest hundredth waited four to five times as long as the median. As many
    turns as the pool has connections (:class:`ConnectionTurns`, as the engine's sessions use)
    queue them in order, so the pool itself never has to; a read that waits too long is 503.
    """

    def __init__(self, pool: asyncpg.Pool, *, timeout: float) -> None:
        self.pool = pool
        self.turns = ConnectionTurns(pool.get_max_size(), timeout=timeout)

    async def fetch(self, query: str, *args: Any) -> list[Any]:
        await self.turns.acquire()
        try:
            return list(await self.pool.fetch(query, *args))
        finally:
            self.turns.release()

    async def fetchrow(self, query: str, *args: Any) -> Any:
        await self.turns.acquire()
        try:
            return await self.pool.fetchrow(query, *args)
        finally:
            self.turns.release()

    async def close(self) -> None:
        await self.pool.close()


async def open_read_pool(settings: CatalogSettings) -> QueuedPool:
    url = make_url(settings.database_url)
    pool = await asyncpg.create_pool(
        host=url.host,
        port=url.port,
        user=url.username,
        password=url.password,
        database=url.database,
        min_size=1,
        max_size=settings.read_pool_size,
        # Reads are single statements that leave nothing behind (no SET, LISTEN, cursor or
        # lock), so a connection goes back to the pool as it is: asyncpg's default reset
        # would cost a second round trip per read.
        reset=_keep_session,
        server_settings={
            "application_name": f"{settings.service_name}-read",
            # Timestamps in the JSON PostgreSQL builds come out in UTC.
            "timezone": "UTC",
            # The catalogue fits in memory: index pages cost about what sequential ones do,
            # which lets the planner use the GIN indexes for searches matching many rows.
            "random_page_cost": "1.1",
        },
    )
    return QueuedPool(pool, timeout=settings.database_pool_timeout_seconds)


async def _keep_session(connection: asyncpg.Connection) -> None:
    """Nothing to reset (an open transaction is still rolled back by asyncpg itself)."""
