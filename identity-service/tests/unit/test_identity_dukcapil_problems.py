"""The registry's errors leave the service as problem+json with stable codes."""

from __future__ import annotations

import pytest
from fastapi import FastAPI

from identity.dukcapil.nik import InvalidNik
from identity.dukcapil.problems import install_registry_problem_handlers, problem_for
from identity.dukcapil.registry import (
    ImageTooLarge,
    InvalidImage,
    RegistryError,
    RegistryQuotaExceeded,
    ResidentNotFound,
)
from mpp_shared.problems import install_problem_handlers
from mpp_shared.testing.client import app_client


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (InvalidImage("not a picture"), 422, "invalid_image"),
        (ImageTooLarge(size=6_000_000, limit=5 * 1024 * 1024), 413, "payload_too_large"),
        (
            RegistryQuotaExceeded(caller="x", limit=10, retry_after_seconds=60),
            429,
            "registry_quota_exceeded",
        ),
        (ResidentNotFound("gone"), 422, "registry_mismatch"),
        (RegistryError("down"), 503, "registry_unavailable"),
        (InvalidNik("a NIK has 16 digits, not 3"), 422, "invalid_nik"),
    ],
)
def test_each_registry_error_has_its_status_and_code(
    error: Exception, status: int, code: str
) -> None:
    problem = problem_for(error)  # type: ignore[arg-type]

    assert (problem.status, problem.code) == (status, code)
    assert problem.detail


def test_a_spent_quota_says_when_to_come_back() -> None:
    problem = problem_for(RegistryQuotaExceeded(caller="x", limit=10, retry_after_seconds=3600))

    assert problem.headers == {"Retry-After": "3600"}


def test_an_invalid_nik_says_why_at_the_field() -> None:
    problem = problem_for(InvalidNik("the birth month must be 01-12"), loc=("body", "username"))

    assert problem.errors == [{"loc": ["body", "username"], "msg": "the birth month must be 01-12"}]


async def test_installed_handlers_render_errors_raised_by_routes() -> None:
    app = FastAPI()
    install_problem_handlers(app)
    install_registry_problem_handlers(app)

    @app.post("/selfie")
    async def selfie() -> None:
        raise InvalidImage("the file is not a JPEG or PNG image")

    @app.get("/quota")
    async def quota() -> None:
        raise RegistryQuotaExceeded(caller="registration", limit=1, retry_after_seconds=42)

    async with app_client(app) as client:
        selfie_answer = await client.post("/selfie")
        quota_answer = await client.get("/quota")

    assert selfie_answer.status_code == 422
    assert selfie_answer.headers["content-type"] == "application/problem+json"
    assert selfie_answer.json()["code"] == "invalid_image"
    assert quota_answer.status_code == 429
    assert quota_answer.headers["retry-after"] == "42"
    assert quota_answer.json()["code"] == "registry_quota_exceeded"
