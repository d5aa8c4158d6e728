"""The one place where the service's domain errors become problem+json answers."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from application.domain.exceptions import ApplicationError
from mpp_shared.problems import Problem, problem_response


def to_problem(exc: ApplicationError) -> Problem:
    headers = {"Retry-After": "2"} if exc.status == 503 else None
    return Problem(exc.detail, status=exc.status, code=exc.code, errors=exc.errors, headers=headers)


def install_application_error_handlers(app: FastAPI) -> None:
    async def on_application_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApplicationError)
        return problem_response(to_problem(exc), request)

    app.add_exception_handler(ApplicationError, on_application_error)
