"""Async database plumbing: engine, sessions, migrations run on start."""

from mpp_shared.db.engine import (
    FairQueuePool,
    create_engine,
    create_sessionmaker,
    database_ready,
    pool_turns,
)
from mpp_shared.db.migrations import run_migrations
from mpp_shared.db.turns import ConnectionTurns, DatabaseBusy

__all__ = [
    "ConnectionTurns",
    "DatabaseBusy",
    "FairQueuePool",
    "create_engine",
    "create_sessionmaker",
    "database_ready",
    "pool_turns",
    "run_migrations",
]
