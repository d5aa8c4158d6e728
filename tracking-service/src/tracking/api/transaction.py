"""A plain connection in one transaction for a request that reads and may write a little
(public tracking's wrong-code count), without the ORM's unit of work."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncConnection

from mpp_shared.db.commit import problem_for_commit, unavailable_problem
from mpp_shared.deps import RuntimeDep

log = logging.getLogger(__name__)


async def get_transaction(runtime: RuntimeDep) -> AsyncIterator[AsyncConnection]:
    """As ``SessionDep``: committed when the handler returns and before the response starts
    (a failed commit answers problem+json), rolled back when it raises; a database that goes
    away answers 503. Core statements only: no identity map or unit of work to pay for."""
    engine = runtime.engine
    if engine is None:
        raise RuntimeError("this service has no database")
    try:
        async with engine.connect() as connection:
            transaction = await connection.begin()
            try:
                yield connection
            except BaseException:
                await _rollback(connection)
                raise
            try:
                await transaction.commit()
            except Exception as error:
                await _rollback(connection)
                raise problem_for_commit(error) from error
    except Exception as error:
        problem = unavailable_problem(error)
        if problem is not None:
            raise problem from error
        raise


async def _rollback(connection: AsyncConnection) -> None:
    try:
        await connection.rollback()
    except Exception:
        # A dead connection cannot roll back; the server already did. Keep the first error.
        log.debug("rollback failed", exc_info=True)


TransactionDep = Annotated[AsyncConnection, Depends(get_transaction, scope="function")]
