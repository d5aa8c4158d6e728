"""The connections that reads use, handed out in the order the requests asked for them."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from catalog.config import CatalogSettings


class QueuedPool:
    """asyncpg's pool behind a first-come, first-served queue (``catalog.db.queries`` uses it).

    When every connection is busy, asyncpg's pool lets a request that arrives just as one is
    freed take it ahead of those already waiting, which go back to the end of the line: with
    32 concurrent searches on 10 connections, the slowest hundredth waited four to five times
    as long as the median. A semaphore as large as the pool queues them in order (from
    Python 3.11 a newcomer waits behind earlier waiters), so the pool itself never has to.
    """

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self._turns = asyncio.Semaphore(pool.get_max_size())

    async def fetch(self, query: str, *args: Any) -> list[Any]:
        async with self._turns:
            return list(await self.pool.fetch(query, *args))

    async def fetchrow(self, query: str, *args: Any) -> Any:
        async with self._turns:
            return await self.pool.fetchrow(query, *args)

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
    return QueuedPool(pool)


async def _keep_session(connection: asyncpg.Connection) -> None:
    """Nothing to reset (an open transaction is still rolled back by asyncpg itself)."""
