"""The body of every service's ``migrations/env.py``: online migrations on a given connection."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from alembic import context
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import create_async_engine


def run(
    target_metadata: MetaData | Sequence[MetaData], *, version_table: str = "alembic_version"
) -> None:
    """Migrate on the connection handed over by ``run_migrations``, or on ``sqlalchemy.url``.

    The second path serves ``alembic revision --autogenerate`` run by a developer.
    """
    config = context.config
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            version_table=version_table,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        return

    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option(
        "sqlalchemy.url"
    )
    if not url:
        raise RuntimeError("set sqlalchemy.url (alembic -x or alembic.ini) to migrate by hand")

    async def migrate() -> None:
        engine = create_async_engine(url)
        async with engine.connect() as conn:
            await conn.run_sync(_migrate_sync, target_metadata, version_table)
            await conn.commit()
        await engine.dispose()

    asyncio.run(migrate())


def _migrate_sync(
    connection: object, target_metadata: MetaData | Sequence[MetaData], version_table: str
) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=target_metadata,
        version_table=version_table,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
