"""Runs a service's Alembic migrations on start, one replica at a time."""

from __future__ import annotations

import zlib
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine


def alembic_config(migrations_dir: Path) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    return config


def _upgrade(connection: Connection, migrations_dir: Path) -> None:
    config = alembic_config(migrations_dir)
    # env.py picks the connection up from here instead of building its own engine.
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


async def run_migrations(engine: AsyncEngine, migrations_dir: Path) -> None:
    """Upgrade to head under an advisory lock so that replicas starting together take turns."""
    lock_key = zlib.crc32(f"mpp-migrations:{migrations_dir.parent.name}".encode())
    async with engine.connect() as conn:
        await conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": lock_key})
        try:
            await conn.run_sync(_upgrade, migrations_dir)
            await conn.commit()
        finally:
            await conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": lock_key})
            await conn.commit()
