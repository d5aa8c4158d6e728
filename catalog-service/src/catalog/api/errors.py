"""The one place where the catalogue's domain errors become problem+json answers."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from catalog.db.queries import BadCursor
from catalog.domain.exceptions import (
    CatalogError,
    Conflict,
    InvalidDefinition,
    NotFound,
    NotPermitted,
)
from mpp_shared.pagination import InvalidCursor
from mpp_shared.problems import Problem, problem_response


def to_problem(exc: CatalogError) -> Problem:
    if isinstance(exc, NotFound):
        return Problem(f"No such {exc.what}.", status=404, code="not_found")
    if isinstance(exc, NotPermitted):
        return Problem(str(exc), status=403, code="forbidden")
    if isinstance(exc, InvalidDefinition):
        return Problem(str(exc), status=422, code=exc.code, errors=exc.errors)
    if isinstance(exc, Conflict):
        return Problem(str(exc), status=409, code=exc.code)
    return Problem(str(exc), status=400, code="bad_request")


def install_catalog_error_handlers(app: FastAPI) -> None:
    async def on_catalog_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, CatalogError)
        return problem_response(to_problem(exc), request)

    async def on_bad_cursor(request: Request, exc: Exception) -> JSONResponse:
        return problem_response(InvalidCursor("The cursor is not one this list gave out."), request)

    app.add_exception_handler(CatalogError, on_catalog_error)
    app.add_exception_handler(BadCursor, on_bad_cursor)
