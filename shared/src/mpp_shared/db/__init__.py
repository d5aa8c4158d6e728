"""Async database plumbing: engine, sessions, migrations run on start."""

from mpp_shared.db.engine import create_engine, create_sessionmaker, database_ready
from mpp_shared.db.migrations import run_migrations

__all__ = ["create_engine", "create_sessionmaker", "database_ready", "run_migrations"]
