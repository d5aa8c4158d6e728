"""A service starting while its database is away waits for it, instead of exiting."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from mpp_shared.db.migrations import MigrationsFailed, run_migrations, run_migrations_apart
from mpp_shared.testing.proxy import TcpProxy


def _migrations(root: Path) -> Path:
    versions = root / "migrations" / "versions"
    versions.mkdir(parents=True)
    (root / "migrations" / "env.py").write_text(
        "from mpp_shared.db.alembic_env import run\n"
        "from mpp_shared.events.tables import EVENTS_METADATA\n"
        "run(EVENTS_METADATA)\n"
    )
    (versions / "0001_events.py").write_text(
        "from mpp_shared.events.tables import create_event_tables, drop_event_tables\n"
        "revision = '0001'\ndown_revision = None\nbranch_labels = None\ndepends_on = None\n"
        "def upgrade():\n    create_event_tables()\n"
        "def downgrade():\n    drop_event_tables()\n"
    )
    return root / "migrations"


def _broken_migrations(root: Path) -> Path:
    """The migrations above and a second one that fails (a table that does not exist)."""
    migrations = _migrations(root)
    (migrations / "versions" / "0002_broken.py").write_text(
        "from alembic import op\n"
        "revision = '0002'\ndown_revision = '0001'\nbranch_labels = None\ndepends_on = None\n"
        "def upgrade():\n    op.execute('SELECT * FROM no_such_table')\n"
        "def downgrade():\n    pass\n"
    )
    return migrations


async def test_migrations_wait_for_a_database_that_comes_back(
    database_url: str, tmp_path: Path
) -> None:
    proxy = TcpProxy.for_database(database_url)  # not started: connections are refused
    engine = create_async_engine(proxy.database_url(database_url))
    try:
        migrating = asyncio.create_task(
            run_migrations(engine, _migrations(tmp_path), wait_seconds=30)
        )
        await asyncio.sleep(1.0)
        assert not migrating.done(), "gave up while the database was away"
        await proxy.start()
        await asyncio.wait_for(migrating, 20)
        async with engine.connect() as conn:
            version = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
        assert version == "0001"
    finally:
        await engine.dispose()
        await proxy.close()


async def test_migrations_give_up_once_the_wait_is_over(database_url: str, tmp_path: Path) -> None:
    proxy = TcpProxy.for_database(database_url)
    engine = create_async_engine(proxy.database_url(database_url))
    try:
        with pytest.raises(ConnectionRefusedError):
            await run_migrations(engine, _migrations(tmp_path), wait_seconds=0.5)
    finally:
        await engine.dispose()


async def test_a_broken_migration_is_not_retried(database_url: str, tmp_path: Path) -> None:
    migrations = _broken_migrations(tmp_path)
    engine = create_async_engine(database_url)
    try:
        started = asyncio.get_running_loop().time()
        with pytest.raises(Exception, match="no_such_table"):
            await run_migrations(engine, migrations, wait_seconds=30)
        assert asyncio.get_running_loop().time() - started < 10
    finally:
        await engine.dispose()


async def test_a_service_migrates_in_a_child_process(database_url: str, tmp_path: Path) -> None:
    migrations = _migrations(tmp_path)
    await run_migrations_apart(database_url, migrations, service_name="uji")
    await run_migrations_apart(database_url, migrations, service_name="uji")  # at head: no-op
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as conn:
            version = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
            tables = set(
                (
                    await conn.execute(
                        text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
                    )
                ).scalars()
            )
    finally:
        await engine.dispose()
    assert version == "0001"
    assert {"event_outbox", "event_inbox"} <= tables


async def test_a_broken_migration_in_the_child_stops_the_service(
    database_url: str, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    migrations = _broken_migrations(tmp_path)
    with pytest.raises(MigrationsFailed):
        await run_migrations_apart(database_url, migrations, service_name="uji")
    # The child's own error is in the service's log, and the database URL is nowhere in it.
    err = capfd.readouterr().err
    assert "no_such_table" in err
    assert database_url not in err
