"""What every program loads at start stays out of what only runs now and then: Alembic and
its templates are loaded by the child process that migrates, never by a running replica
(each replica holds its start-up memory for its whole life)."""

from __future__ import annotations

import subprocess
import sys

import pytest

MIGRATIONS_ONLY = ("alembic", "mako")
PROGRAMS = ["identity.main", "catalog.main", "application.main", "tracking.main", "gateway.main"]


@pytest.mark.parametrize("module", PROGRAMS)
def test_a_program_starts_without_the_migration_tools(module: str) -> None:
    probe = (
        f"import sys, {module}; print(','.join(m for m in {MIGRATIONS_ONLY!r} if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    ).stdout.strip()
    assert loaded == ""
