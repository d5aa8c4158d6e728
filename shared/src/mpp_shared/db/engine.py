"""Engine and session factory for a service's own database."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import AsyncAdaptedQueuePool, ConnectionPoolEntry
from sqlalchemy.util import await_

from mpp_shared.config import BaseServiceSettings
from mpp_shared.db.turns import ConnectionTurns

# Where a connection's last check-in time is kept (its info dict, cleared on reconnect).
_RETURNED_AT = "mpp_returned_at"


class FairQueuePool(AsyncAdaptedQueuePool):
    """SQLAlchemy's async pool, its connections handed out first come, first served.

    Every checkout (sessions, ``engine.connect()``, the outbox relay) first takes one of
    ``pool_size + max_overflow`` turns (:class:`ConnectionTurns`), so the queue underneath
    never has to wait and nobody overtakes; past ``timeout`` seconds the checkout raises
    :class:`~mpp_shared.db.turns.DatabaseBusy`.

    With ``pre_ping``, only a connection idle for ``ping_after_idle`` seconds or more is
    tested before use. SQLAlchemy's asyncpg ping is three round trips (BEGIN, ``;``,
    ROLLBACK): under load that doubled the round trips of a one-query request, for
    connections that had answered a few milliseconds before. One that was used that recently
    and then failed is still invalidated and replaced by the failure itself.
    """

    ping_after_idle: float = 5.0

    def __init__(
        self,
        creator: Any,
        pool_size: int = 5,
        max_overflow: int = 10,
        timeout: float = 30.0,
        **kw: Any,
    ) -> None:
        if max_overflow < 0:
            raise ValueError("a fair pool needs a bounded overflow")
        super().__init__(
            creator, pool_size=pool_size, max_overflow=max_overflow, timeout=timeout, **kw
        )
        self.turns = ConnectionTurns(pool_size + max_overflow, timeout=timeout)

    def _do_get(self) -> ConnectionPoolEntry:
        if not self.turns.try_acquire():
            # Inside SQLAlchemy's greenlet, like the asyncio queue's own wait.
            await_(self.turns.acquire())
        try:
            record = super()._do_get()
        except BaseException:
            self.turns.release()
            raise
        returned_at = record.info.get(_RETURNED_AT)
        if returned_at is not None and time.monotonic() - returned_at < self.ping_after_idle:
            # SQLAlchemy skips the pre-ping of a connection it has just made ("fresh").
            record.fresh = True  # type: ignore[attr-defined]
        return record

    def _do_return_conn(self, record: ConnectionPoolEntry) -> None:
        if record.dbapi_connection is not None:
            record.info[_RETURNED_AT] = time.monotonic()
        try:
            super()._do_return_conn(record)
        finally:
            self.turns.release()

    def recreate(self) -> FairQueuePool:
        pool = super().recreate()
        assert isinstance(pool, FairQueuePool)
        pool.ping_after_idle = self.ping_after_idle
        return pool


def create_engine(settings: BaseServiceSettings) -> AsyncEngine:
    engine = create_async_engine(
        settings.database_url,
        poolclass=FairQueuePool,
        # Every connection the pool may open is kept: "overflow" connections were closed when
        # returned to a full pool and opened again (a new PostgreSQL backend each) as the load
        # went up and down.
        pool_size=settings.database_pool_size,
        max_overflow=0,
        pool_timeout=settings.database_pool_timeout_seconds,
        pool_pre_ping=True,
        # A service name in pg_stat_activity tells operators who holds a connection.
        connect_args={"server_settings": {"application_name": settings.service_name}},
    )
    assert isinstance(engine.pool, FairQueuePool)
    engine.pool.ping_after_idle = settings.database_pool_ping_after_idle_seconds
    return engine


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # expire_on_commit=False: objects stay readable after the one commit of a request.
    return async_sessionmaker(engine, expire_on_commit=False)


def pool_turns(engine: AsyncEngine) -> ConnectionTurns | None:
    """The turns of the engine's pool (``None`` for a pool not made here)."""
    pool = engine.pool
    return pool.turns if isinstance(pool, FairQueuePool) else None


async def database_ready(engine: AsyncEngine) -> bool:
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception:
        return False
    return True
