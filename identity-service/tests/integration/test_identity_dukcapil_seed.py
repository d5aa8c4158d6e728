"""Seeding the mock registry: once, concurrently safe, the dataset before the generated people;
and the 0002 migration creates exactly the tables the code maps."""

from __future__ import annotations

import asyncio
import csv
import shutil
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, MetaData, func, select, text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from identity.dukcapil.dataset import DATASET_COLUMNS, DatasetError
from identity.dukcapil.population import generate_population, seed_population
from identity.dukcapil.tables import ResidentPhotoRow, ResidentRow, SeedRow
from identity.main import MIGRATIONS_DIR
from mpp_shared.db import run_migrations

if TYPE_CHECKING:
    from mpp_shared.testing.infrastructure import TestInfrastructure

DEMO = Path(__file__).resolve().parents[2] / "demo"
DUKCAPIL_TABLES = (
    "dukcapil_residents",
    "dukcapil_resident_photos",
    "dukcapil_quota_usage",
    "dukcapil_seeds",
)


@pytest.fixture(scope="module")
async def engine(infrastructure: TestInfrastructure) -> AsyncIterator[AsyncEngine]:
    """One database for the module, migrated once (each test empties the registry)."""
    engine = create_async_engine(infrastructure.create_database("t_dukcapil_seed"))
    await run_migrations(engine, MIGRATIONS_DIR)
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
async def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    async with engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {', '.join(DUKCAPIL_TABLES)}"))
    return async_sessionmaker(engine, expire_on_commit=False)


async def _count(sessionmaker: async_sessionmaker[AsyncSession], source: str | None = None) -> int:
    async with sessionmaker() as session:
        query = select(func.count()).select_from(ResidentRow)
        if source is not None:
            query = query.where(ResidentRow.source == source)
        return int(await session.scalar(query) or 0)


def _dukcapil_schema_diff(connection: Connection) -> list[object]:
    mapped = MetaData()
    for name in DUKCAPIL_TABLES:
        ResidentRow.metadata.tables[name].to_metadata(mapped)
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return [d for d in compare_metadata(context, mapped) if "dukcapil_" in repr(d)]


async def test_the_migration_creates_the_tables_the_code_maps(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        diff = await conn.run_sync(_dukcapil_schema_diff)
        version = await conn.scalar(text("SELECT version_num FROM alembic_version"))

    assert diff == []
    assert version is not None


async def test_the_first_start_seeds_the_population_and_the_second_adds_nothing(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    first = await seed_population(sessionmaker, size=120, seed=3)
    second = await seed_population(sessionmaker, size=120, seed=3)
    bigger = await seed_population(sessionmaker, size=500, seed=4)

    assert first == 120
    assert second == 0
    assert bigger == 0
    assert await _count(sessionmaker) == 120
    async with sessionmaker() as session:
        marker = await session.get(SeedRow, "generated")
    assert marker is not None
    assert marker.residents == 120


async def test_the_seeded_residents_are_the_generated_ones(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    await seed_population(sessionmaker, size=50, seed=8)

    expected = {r.nik: r for r in generate_population(size=50, seed=8)}
    async with sessionmaker() as session:
        rows = (await session.scalars(select(ResidentRow))).all()
    assert {row.nik for row in rows} == set(expected)
    row = rows[0]
    resident = expected[row.nik]
    assert (row.full_name, row.birth_date, row.kk_number, row.region_code) == (
        resident.full_name,
        resident.birth_date,
        resident.kk_number,
        resident.region_code,
    )
    assert {row.photo for row in rows} == {"rendered"}


async def test_replicas_starting_together_seed_once(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    added = await asyncio.gather(
        *(
            seed_population(sessionmaker, size=200, seed=9, dataset=DEMO / "residents.csv")
            for _ in range(3)
        )
    )

    assert sorted(added) == [0, 0, 207]
    assert await _count(sessionmaker) == 207


async def test_the_demo_dataset_loads_with_its_photos(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    added = await seed_population(sessionmaker, size=30, dataset=DEMO / "residents.csv")

    assert added == 37
    assert await _count(sessionmaker, "dataset") == 7
    async with sessionmaker() as session:
        budi = await session.get(ResidentRow, "6409011203850001")
        photo = await session.get(ResidentPhotoRow, "6409011203850001")
    assert budi is not None
    assert budi.full_name == "BUDI SANTOSO"
    assert budi.photo == "stored"
    assert photo is not None
    assert photo.image == (DEMO / "photos" / "budi-santoso.jpg").read_bytes()


async def test_size_zero_loads_only_the_dataset_and_leaves_generation_for_later(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    assert await seed_population(sessionmaker, size=0, dataset=DEMO / "residents.csv") == 7
    assert await seed_population(sessionmaker, size=25, dataset=DEMO / "residents.csv") == 25

    assert await _count(sessionmaker, "generated") == 25
    assert await _count(sessionmaker, "dataset") == 7


async def test_a_dataset_added_later_replaces_a_generated_resident_with_its_nik(
    sessionmaker: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    await seed_population(sessionmaker, size=40, seed=10)
    taken = generate_population(size=40, seed=10)[0]
    path = tmp_path / "residents.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=DATASET_COLUMNS)
        writer.writeheader()
        writer.writerow(
            {
                "nik": taken.nik,
                "kk_number": taken.kk_number,
                "full_name": "NAMA DARI DATASET",
                "birth_place": taken.birth_place,
                "birth_date": taken.birth_date.isoformat(),
                "gender": taken.gender,
                "blood_type": "O",
                "religion": "ISLAM",
                "marital_status": "KAWIN",
                "occupation": "WIRASWASTA",
                "street": "JL. BARU NO. 1",
                "rt": "1",
                "rw": "1",
                "region_code": taken.region_code,
                "photo": "",
            }
        )

    assert await seed_population(sessionmaker, size=40, seed=10, dataset=path) == 1
    assert await seed_population(sessionmaker, size=40, seed=10, dataset=path) == 0
    async with sessionmaker() as session:
        row = await session.get(ResidentRow, taken.nik)
    assert row is not None
    assert (row.full_name, row.source, row.photo) == ("NAMA DARI DATASET", "dataset", "none")
    assert await _count(sessionmaker) == 40


async def test_the_generated_population_avoids_the_datasets_numbers(
    sessionmaker: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    # A dataset resident holding the NIK the generator would give first.
    first = generate_population(size=10, seed=12)[0]
    shutil.copytree(DEMO / "photos", tmp_path / "photos")
    path = tmp_path / "residents.csv"
    with (DEMO / "residents.csv").open(encoding="utf-8") as source:
        rows = list(csv.DictReader(source))
    rows[0] |= {
        "nik": first.nik,
        "birth_date": first.birth_date.isoformat(),
        "gender": first.gender,
    }
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=DATASET_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)

    added = await seed_population(sessionmaker, size=10, seed=12, dataset=path)

    assert added == 17
    async with sessionmaker() as session:
        holder = await session.get(ResidentRow, first.nik)
    assert holder is not None
    assert holder.source == "dataset"


async def test_a_bad_dataset_stops_the_start_and_writes_nothing(
    sessionmaker: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    path = tmp_path / "residents.csv"
    path.write_text(",".join(DATASET_COLUMNS) + "\n123,,,,,,,,,,,,,,,,,,\n", encoding="utf-8")

    with pytest.raises(DatasetError, match="line 2"):
        await seed_population(sessionmaker, size=10, dataset=path)
    assert await _count(sessionmaker) == 0


async def test_ten_thousand_residents_are_written_in_seconds(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    started = time.perf_counter()
    added = await seed_population(sessionmaker, size=10_000, seed=2026)
    elapsed = time.perf_counter() - started

    assert added == 10_000
    assert elapsed < 15, f"took {elapsed:.1f} s"
