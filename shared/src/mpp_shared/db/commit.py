"""Committing a request's transaction: a commit that fails becomes a problem+json answer."""

from __future__ import annotations

import logging

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from mpp_shared.db.failures import is_conflict, is_outage
from mpp_shared.problems import Problem

log = logging.getLogger(__name__)


class CommitConflict(Problem):
    """Another transaction changed the same data first; nothing of this request was kept."""

    status = 409
    code = "commit_conflict"


class DatabaseUnavailable(Problem):
    """The database could not be reached; nothing of this request was kept."""

    status = 503
    code = "database_unavailable"


class CommitFailed(Problem):
    """The database refused the commit for another reason; nothing of this request was kept."""

    status = 500
    code = "commit_failed"


async def commit_or_problem(session: AsyncSession) -> None:
    """Commit ``session``; on failure roll back and raise the problem that answers the request.

    Called before the response starts, so a client never sees a success that was not kept.
    """
    try:
        await session.commit()
    except Exception as error:
        try:
            await session.rollback()
        except Exception:
            log.debug("rollback after a failed commit failed too", exc_info=True)
        raise problem_for_commit(error) from error


def unavailable_problem(error: BaseException) -> DatabaseUnavailable | None:
    """The 503 for a request whose database went away under it (not only at commit).

    Only errors of the database layer itself qualify (a refused connection is a bare
    OSError from the driver); a Problem or an error of an outbound call keeps its own answer.
    """
    if isinstance(error, SQLAlchemyError | OSError) and is_outage(error):
        log.warning("database unavailable", extra={"error": type(error).__name__})
        return _unavailable()
    return None


def _unavailable() -> DatabaseUnavailable:
    return DatabaseUnavailable(
        "The database is not reachable; nothing was saved. Try again shortly.",
        headers={"Retry-After": "1"},
    )


def problem_for_commit(error: BaseException) -> Problem:
    if is_conflict(error):
        return CommitConflict(
            "Another change to the same data was saved first; nothing was saved. "
            "Read the current state and try again."
        )
    if is_outage(error):
        log.warning("commit failed: database unavailable", extra={"error": type(error).__name__})
        return _unavailable()
    log.error("commit failed", exc_info=error)
    return CommitFailed("The change could not be saved; nothing was saved.")
