"""fetch_row: one statement straight on asyncpg, on a pooled connection; a lost one is a 503."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import bindparam, column, select, table, text
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from mpp_shared.db.commit import unavailable_problem
from mpp_shared.db.driver import compile_for_asyncpg, fetch_row

_THINGS = table("things", column("id"), column("name"))
_BY_ID = compile_for_asyncpg(
    select(_THINGS.c.id.label("t_id"), _THINGS.c.name.label("t_name")).where(
        _THINGS.c.id == bindparam("thing_id")
    )
)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(database_url, pool_size=1, max_overflow=0)
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE things (id uuid PRIMARY KEY, name text)"))
    yield engine
    await engine.dispose()


async def test_a_row_by_its_labels_and_none_without_one(engine: AsyncEngine) -> None:
    thing = uuid.uuid4()
    async with engine.begin() as conn:
        await conn.execute(text("INSERT INTO things VALUES (:id, 'lamp')"), {"id": thing})

    async with engine.connect() as conn:
        row = await fetch_row(conn, _BY_ID, thing)
        assert row is not None
        assert (row["t_id"], row["t_name"]) == (thing, "lamp")
        assert await fetch_row(conn, _BY_ID, uuid.uuid4()) is None
        # No transaction was begun: each statement is a transaction of its own.
        xact = "SELECT pg_current_xact_id()::text AS xact"
        first, second = await fetch_row(conn, xact), await fetch_row(conn, xact)
        assert first is not None
        assert second is not None
        assert first["xact"] != second["xact"]
        assert not conn.in_transaction()


async def test_a_connection_lost_under_it_is_an_outage_and_is_not_pooled_again(
    engine: AsyncEngine, database_url: str
) -> None:
    async with engine.connect() as conn:
        pid = (await fetch_row(conn, "SELECT pg_backend_pid() AS pid"))["pid"]
        driver = (await conn.get_raw_connection()).driver_connection
    other = create_async_engine(database_url)
    try:
        async with other.begin() as conn:
            await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    finally:
        await other.dispose()
    for _ in range(500):  # until the pooled connection has seen its backend go
        if driver.is_closed():
            break
        await asyncio.sleep(0.01)

    async with engine.connect() as conn:
        with pytest.raises(DisconnectionError) as raised:
            await fetch_row(conn, _BY_ID, uuid.uuid4())
    problem = unavailable_problem(raised.value)
    assert problem is not None
    assert problem.status == 503
    # The one pooled connection was invalidated: the next checkout gets a new backend.
    async with engine.connect() as conn:
        row = await fetch_row(conn, "SELECT pg_backend_pid() AS pid")
        assert row is not None
        assert row["pid"] != pid


async def test_an_error_of_the_statement_itself_is_not_an_outage(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        with pytest.raises(Exception) as raised:  # noqa: PT011 - asyncpg's own error
            await fetch_row(conn, "SELECT * FROM no_such_table")
        assert not isinstance(raised.value, DisconnectionError)
        assert unavailable_problem(raised.value) is None
        # The connection still serves.
        assert await fetch_row(conn, "SELECT 1 AS one") is not None
