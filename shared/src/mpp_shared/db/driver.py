"""One statement straight on asyncpg, for the hottest reads.

SQLAlchemy's execution of a prebuilt Core statement (execution context, parameter and result
processing, row objects) costs a primary-key read about as much again as asyncpg's own work
(measured: 235 to 340 µs against 120 µs for the same statement on a pooled connection, load
average 8). ``fetch_row`` runs SQL already compiled for asyncpg on the driver's connection of a
pooled ``AsyncConnection``: the pool, its fair queue, its ping of an idle connection and the
connection's return stay SQLAlchemy's. No transaction is begun (asyncpg is in autocommit
until one is), so one statement is one round trip. A connection that fails under it is
invalidated, as SQLAlchemy would, and the failure is raised as ``DisconnectionError`` so the
request answers 503 ``database_unavailable``; other errors are raised as asyncpg gives them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects.postgresql import asyncpg as asyncpg_dialect
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import ClauseElement

from mpp_shared.db.failures import is_outage

_DIALECT = asyncpg_dialect.dialect()  # type: ignore[no-untyped-call]


def compile_for_asyncpg(statement: ClauseElement) -> str:
    """The SQL text of a Core statement with ``$1``, ``$2`` … parameters, in the order of its
    bind parameters (``compiled.positiontup``)."""
    return str(statement.compile(dialect=_DIALECT))


async def fetch_row(connection: AsyncConnection, sql: str, *args: Any) -> Any:
    """The first row of ``sql`` (an ``asyncpg.Record``, by column label), or None."""
    return await _run(connection, "fetchrow", sql, args)


async def fetch_rows(connection: AsyncConnection, sql: str, *args: Any) -> list[Any]:
    """Every row of ``sql`` (``asyncpg.Record`` objects, by column label).

    On a connection in a transaction (a session's, once it ran a statement) the statement is
    part of it; before that, it is a statement of its own, which under READ COMMITTED sees
    what a first statement of the transaction would."""
    rows: list[Any] = await _run(connection, "fetch", sql, args)
    return rows


async def _run(connection: AsyncConnection, method: str, sql: str, args: tuple[Any, ...]) -> Any:
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    if driver is None:  # pragma: no cover - only a detached connection has none
        raise sa_exc.DisconnectionError("the pooled connection has no driver connection")
    try:
        return await getattr(driver, method)(sql, *args)
    except Exception as error:
        # A connection the driver closed under the statement is lost whatever the error says.
        if is_outage(error) or driver.is_closed():
            raw.invalidate(error)
            raise sa_exc.DisconnectionError(f"the database went away: {error}") from error
        raise
