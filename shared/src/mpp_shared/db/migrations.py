"""Runs a service's Alembic migrations on start, one replica at a time.

A service migrates in a child process of its own (``run_migrations_apart``): Alembic, Mako and
the migration scripts are about 12 MiB that a running replica would otherwise hold for its
whole life. Nothing here imports Alembic until a migration runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import time
import zlib
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger(__name__)

# The child process takes the database URL from its environment, never from its arguments
# (which every user of the host can read).
DATABASE_URL_VARIABLE = "MPP_MIGRATIONS_DATABASE_URL"


class MigrationsFailed(RuntimeError):
    """The migrations' child process exited with an error (its log says which)."""


# How long a starting service waits for its database (a restart of PostgreSQL beside it)
# before it gives up and exits.
DEFAULT_DATABASE_WAIT_SECONDS = 120.0


def migration_bind() -> Connection:
    """The connection of the migration being run (for the shared tables' create and drop
    helpers that services' migrations call)."""
    from alembic import op

    return op.get_bind()


def alembic_config(migrations_dir: Path) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    return config


def _upgrade(connection: Connection, migrations_dir: Path) -> None:
    from alembic import command

    config = alembic_config(migrations_dir)
    # env.py picks the connection up from here instead of building its own engine.
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


async def run_migrations(
    engine: AsyncEngine,
    migrations_dir: Path,
    *,
    wait_seconds: float = DEFAULT_DATABASE_WAIT_SECONDS,
) -> None:
    """Upgrade to head under an advisory lock so that replicas starting together take turns.

    A database that cannot be reached (refused, starting up, gone mid-way) is waited for, with
    backoff, for ``wait_seconds``: a service starting while PostgreSQL restarts comes up
    without anybody stepping in. The upgrade is one transaction, so a retry starts clean. Any
    other error (a broken migration) is raised at once.
    """
    deadline = time.monotonic() + wait_seconds
    delay = 0.2
    while True:
        try:
            await _migrate_once(engine, migrations_dir)
            return
        except (OSError, DBAPIError) as exc:
            if isinstance(exc, DBAPIError) and not _unreachable(exc):
                raise
            if time.monotonic() + delay > deadline:
                raise
            log.warning(
                "database unreachable; migrations wait",
                extra={"error": type(exc).__name__, "retry_in_seconds": delay},
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


def _unreachable(exc: DBAPIError) -> bool:
    """A lost or refused connection, or a server still starting or shutting down (57P03)."""
    code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    return exc.connection_invalidated or code in {"57P01", "57P02", "57P03"}


async def _migrate_once(engine: AsyncEngine, migrations_dir: Path) -> None:
    lock_key = zlib.crc32(f"mpp-migrations:{migrations_dir.parent.name}".encode())
    async with engine.connect() as conn:
        await conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": lock_key})
        try:
            await conn.run_sync(_upgrade, migrations_dir)
            await conn.commit()
        except BaseException:
            # The error is what the caller must see, not the aborted transaction's next one.
            with contextlib.suppress(Exception):
                await conn.rollback()
            raise
        finally:
            try:
                await conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": lock_key})
                await conn.commit()
            except Exception:  # a lost connection: closing it frees the lock
                await conn.invalidate()


async def run_migrations_apart(
    database_url: str, migrations_dir: Path, *, service_name: str, log_level: str = "INFO"
) -> None:
    """``run_migrations`` in a child process, waited for: the same lock, the same wait for
    the database, the same errors in the service's log (the child writes to its stderr); a
    failure raises ``MigrationsFailed`` here, so the service does not start."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "mpp_shared.db.migrate",
        str(migrations_dir),
        service_name,
        log_level,
        env={**os.environ, DATABASE_URL_VARIABLE: database_url},
    )
    try:
        code = await process.wait()
    except BaseException:  # the service is stopping while it migrates
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        await asyncio.shield(process.wait())
        raise
    if code != 0:
        raise MigrationsFailed(f"migrations in {migrations_dir} failed (exit status {code})")
