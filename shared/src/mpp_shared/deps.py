"""FastAPI dependencies every service uses: the runtime and the one session of a request."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from mpp_shared.app import ServiceRuntime
from mpp_shared.db.commit import commit_or_problem, problem_for_commit, unavailable_problem

log = logging.getLogger(__name__)


def runtime_of(request: Request) -> ServiceRuntime:
    """The service's runtime, as a plain call: for a dependency that takes the request itself
    rather than ``RuntimeDep`` (each dependency FastAPI solves costs every request)."""
    runtime: ServiceRuntime = request.app.state.runtime
    return runtime


async def get_runtime(request: Request) -> ServiceRuntime:
    # async: a plain def dependency would cost every request a hop to a worker thread.
    return runtime_of(request)


RuntimeDep = Annotated[ServiceRuntime, Depends(get_runtime)]


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One transaction per request: committed when the handler returns, rolled back on error.

    The commit runs before the response starts (``scope="function"`` below), so a failed
    commit answers problem+json (409, 503 or 500), never the handler's 2xx. A database that
    goes away while the handler runs answers 503 ``database_unavailable`` too.
    """
    async with runtime_of(request).session_factory()() as session:
        try:
            yield session
        except Exception as error:
            await _rollback(session)
            problem = unavailable_problem(error)
            if problem is not None:
                raise problem from error
            raise
        except BaseException:
            await _rollback(session)
            raise
        await commit_or_problem(session)


async def _rollback(session: AsyncSession) -> None:
    try:
        await session.rollback()
    except Exception:
        # A dead connection cannot roll back; the server already did. Keep the first error.
        log.debug("rollback failed", exc_info=True)


# scope="function": FastAPI ends the dependency when the endpoint returns, before it sends
# the response; the default for a yield dependency ends it after the response was sent.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


@asynccontextmanager
async def autocommit_connection(runtime: ServiceRuntime) -> AsyncIterator[AsyncConnection]:
    """A connection on which every statement is a transaction of its own (no ``BEGIN``, no
    ``COMMIT``): for a request that reads, or whose every change is one statement, which
    then is kept or not as a whole. A statement the database refuses answers as a refused
    commit would (409 ``commit_conflict``, 503 ``database_unavailable``, 500
    ``commit_failed``): nothing of it was kept."""
    async with read_connection(runtime) as connection:
        try:
            yield connection
        except SQLAlchemyError as error:
            raise problem_for_commit(error) from error


@asynccontextmanager
async def read_connection(
    runtime: ServiceRuntime, *, autocommit: bool = True
) -> AsyncIterator[AsyncConnection]:
    """A connection for a request that only reads, in autocommit: no ``BEGIN``, no
    ``COMMIT`` or ``ROLLBACK``, so one statement costs one round trip (a session's
    transaction costs two more for a read). Taken from the engine's fair pool like a
    session's; each statement sees the data committed when it starts. A database that is
    away answers 503 ``database_unavailable``.

    For a dependency that reads and returns what it read: the connection goes back to the
    pool before the endpoint runs, and the request pays for no generator dependency.
    ``autocommit=False`` for statements run with ``mpp_shared.db.driver.fetch_row``, which
    begins no transaction anyway (setting the isolation level costs a round of its own).
    """
    engine = runtime.engine
    if engine is None:
        raise RuntimeError("this service has no database")
    try:
        async with engine.connect() as connection:
            if autocommit:
                await connection.execution_options(isolation_level="AUTOCOMMIT")
            yield connection
    except Exception as error:
        problem = unavailable_problem(error)
        if problem is not None:
            raise problem from error
        raise


async def get_read_connection(runtime: RuntimeDep) -> AsyncIterator[AsyncConnection]:
    """``read_connection`` for the whole of an endpoint that only reads."""
    async with read_connection(runtime) as connection:
        yield connection


ReadConnectionDep = Annotated[AsyncConnection, Depends(get_read_connection, scope="function")]
