"""The child process a service migrates in (``migrations.run_migrations_apart`` starts it):
the database URL from its environment, the service's log format, ``run_migrations``."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from pathlib import Path

from mpp_shared.db.migrations import DATABASE_URL_VARIABLE, run_migrations

log = logging.getLogger(__name__)


async def _migrate_alone(database_url: str, migrations_dir: Path, service_name: str) -> None:
    from sqlalchemy.ext.asyncio import create_async_engine
    from sqlalchemy.pool import NullPool

    engine = create_async_engine(
        database_url,
        poolclass=NullPool,
        connect_args={"server_settings": {"application_name": f"{service_name}-migrations"}},
    )
    try:
        await run_migrations(engine, migrations_dir)
    finally:
        await engine.dispose()


def main(argv: list[str]) -> int:
    """``python -m mpp_shared.db.migrate DIR SERVICE_NAME LOG_LEVEL``."""
    from mpp_shared.observability.logging import configure_logging

    migrations_dir, service_name, log_level = argv
    configure_logging(service_name, log_level)
    database_url = os.environ.pop(DATABASE_URL_VARIABLE, "")
    if not database_url:
        log.error("no database URL in the environment", extra={"variable": DATABASE_URL_VARIABLE})
        return 2
    asyncio.run(_migrate_alone(database_url, Path(migrations_dir), service_name))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
