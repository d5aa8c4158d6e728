"""Multi-row statements of one text: rows in order, conflicts, JSON lists, NULLs, ANY(array)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import (
    Column,
    Date,
    DateTime,
    Integer,
    MetaData,
    Table,
    Text,
    select,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from mpp_shared.db.bulk import in_array, insert_rows, insert_select, row_arrays

metadata = MetaData()
things = Table(
    "bulk_things",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("name", Text),
    Column("count", Integer, nullable=False),
    Column("day", Date),
    Column("at", DateTime(timezone=True)),
    Column("steps", JSONB, nullable=False),
)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(database_url)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    try:
        yield engine
    finally:
        await engine.dispose()


def _row(n: int, **changes: object) -> dict[str, object]:
    return {
        "id": uuid.UUID(int=n),
        "name": f"thing {n}" if n % 2 else None,
        "count": n,
        "day": date(2026, 1, n % 28 + 1),
        "at": datetime(2026, 1, 1, n % 24, tzinfo=UTC),
        "steps": [{"sequence": n}] if n % 3 else [],
        **changes,
    }


async def test_rows_go_in_with_their_values_and_one_statement_text(engine: AsyncEngine) -> None:
    texts = set()
    async with engine.begin() as conn:
        for rows in ([_row(n) for n in range(1, 4)], [_row(n) for n in range(4, 11)]):
            statement = insert_rows(things, rows).returning(things.c.id)
            texts.add(str(statement.compile(conn.engine)))
            inserted = (await conn.execute(statement)).scalars().all()
            assert sorted(inserted) == sorted(r["id"] for r in rows)
        stored = (await conn.execute(select(things).order_by(things.c.count))).mappings().all()
    # Three rows or seven: the same statement, prepared once.
    assert len(texts) == 1
    assert [dict(r) for r in stored] == [_row(n) for n in range(1, 11)]


async def test_a_statement_built_once_takes_its_rows_at_execution(engine: AsyncEngine) -> None:
    # Built before any row is known, as a consumer does at start-up; JSON lists and NULLs too.
    statement = insert_select(things, list(_row(1))).on_conflict_do_nothing().returning(things.c.id)
    async with engine.begin() as conn:
        for rows in ([_row(n) for n in range(1, 4)], [_row(n) for n in range(3, 11)]):
            inserted = (await conn.execute(statement, row_arrays(things, rows))).scalars().all()
            # The second batch's first row is the first one's last: left out.
            assert sorted(inserted) == sorted(
                r["id"] for r in rows if r["count"] > 3 or len(rows) == 3
            )
        stored = (await conn.execute(select(things).order_by(things.c.count))).mappings().all()
    assert [dict(r) for r in stored] == [_row(n) for n in range(1, 11)]


async def test_conflicts_and_the_proposed_rows_work_as_with_values(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(insert_rows(things, [_row(1), _row(2)]))
        statement = insert_rows(things, [_row(2, count=20), _row(3)])
        upserted = (
            await conn.execute(
                statement.on_conflict_do_update(
                    index_elements=[things.c.id],
                    set_={"count": things.c.count + statement.excluded.count},
                ).returning(things.c.id, things.c.count)
            )
        ).all()
        skipped = (
            await conn.execute(
                insert_rows(things, [_row(1, count=99), _row(4)])
                .on_conflict_do_nothing()
                .returning(things.c.id)
            )
        ).scalars()
        counts = dict(
            (await conn.execute(select(things.c.id, things.c.count).order_by(things.c.id))).all()
        )
        found = (
            await conn.execute(
                select(things.c.count).where(
                    in_array(things.c.id, [uuid.UUID(int=2), uuid.UUID(int=4)], name="ids")
                )
            )
        ).scalars()
    assert sorted(upserted) == [(uuid.UUID(int=2), 22), (uuid.UUID(int=3), 3)]
    assert list(skipped) == [uuid.UUID(int=4)]
    assert counts == {uuid.UUID(int=n): c for n, c in ((1, 1), (2, 22), (3, 3), (4, 4))}
    assert sorted(found) == [4, 22]


def test_no_rows_is_a_mistake_of_the_caller() -> None:
    with pytest.raises(ValueError, match="at least one row"):
        insert_rows(things, [])
