"""What a failed database call means: an outage to wait out, a conflict to retry, or neither."""

from __future__ import annotations

from collections.abc import Iterator

from asyncpg.exceptions import ConnectionDoesNotExistError
from sqlalchemy import exc as sa_exc

# SQLSTATE classes of a database that cannot serve: 08 connection exception, 53 insufficient
# resources (too many connections, disk full), 57 operator intervention (admin or crash
# shutdown, "the database system is starting up").
_OUTAGE_CLASSES = frozenset({"08", "53", "57"})
# Another transaction got there first: serialization failure, deadlock, unique and exclusion
# violations. Reading again and retrying is the answer.
_CONFLICT_STATES = frozenset({"40001", "40P01", "23505", "23P01"})


def _chain(error: BaseException) -> Iterator[BaseException]:
    """``error``, what it wraps (``orig``) and what caused it, each once."""
    seen: set[int] = set()
    pending: list[BaseException] = [error]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        orig = getattr(current, "orig", None)
        for linked in (orig, current.__cause__, current.__context__):
            if isinstance(linked, BaseException):
                pending.append(linked)


def sqlstate_of(error: BaseException) -> str | None:
    """The PostgreSQL SQLSTATE behind ``error``, if the server answered with one."""
    for linked in _chain(error):
        state = getattr(linked, "sqlstate", None)
        if isinstance(state, str) and len(state) == 5:
            return state
    return None


def is_outage(error: BaseException) -> bool:
    """True when ``error`` says the database (or the network to it) is not there, not that
    the work was wrong: refused or dropped connections, timeouts, a server shutting down."""
    for linked in _chain(error):
        if isinstance(linked, sa_exc.DBAPIError) and linked.connection_invalidated:
            return True
        if isinstance(linked, sa_exc.DisconnectionError | sa_exc.TimeoutError):
            return True  # TimeoutError here: no pooled connection came free in time
        # OSError covers refused and reset connections, unknown hosts and TimeoutError:
        # the machine or the network, never the data.
        if isinstance(linked, OSError):
            return True
        if isinstance(linked, ConnectionDoesNotExistError):
            return True  # the connection closed in the middle of an operation
        state = getattr(linked, "sqlstate", None)
        if isinstance(state, str) and state[:2] in _OUTAGE_CLASSES:
            return True
    return False


def is_conflict(error: BaseException) -> bool:
    """True when another transaction's commit made this one fail (retrying may succeed)."""
    return sqlstate_of(error) in _CONFLICT_STATES
