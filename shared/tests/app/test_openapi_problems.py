"""A service's OpenAPI document names the problem answers its routes really give."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI
from pydantic import BaseModel

from mpp_shared.app import create_service_app
from mpp_shared.auth import CurrentPrincipal, OptionalPrincipal
from mpp_shared.config import BaseServiceSettings
from mpp_shared.idempotency import IdempotencyKey
from mpp_shared.openapi import PROBLEM_SCHEMA, document_responses, problems
from mpp_shared.problems import PROBLEM_CONTENT_TYPE

PROBLEM_REF = {"$ref": f"#/components/schemas/{PROBLEM_SCHEMA}"}


class Thing(BaseModel):
    name: str


def _app() -> FastAPI:
    router = APIRouter(prefix="/things")

    @router.get("")
    async def list_things(q: str | None = None) -> list[str]:
        return []

    @router.get("/{thing_id}")
    async def read_thing(thing_id: uuid.UUID, principal: OptionalPrincipal) -> dict[str, str]:
        return {}

    @router.post("", status_code=201, responses=problems(429))
    async def create_thing(
        body: Thing, principal: CurrentPrincipal, idempotency_key: IdempotencyKey = None
    ) -> dict[str, str]:
        return {}

    @router.get("/{thing_id}/page")
    async def page(thing_id: int) -> dict[str, str]:
        return {}

    settings = BaseServiceSettings(service_name="things", environment="test")
    return create_service_app(
        settings, title="t", routers=[router], uses_database=False, uses_nats=False
    )


def _responses(document: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    responses: dict[str, Any] = document["paths"][path][method]["responses"]
    return responses


def _is_problem(response: dict[str, Any]) -> bool:
    return bool(response["content"][PROBLEM_CONTENT_TYPE]["schema"] == PROBLEM_REF)


def test_a_route_behind_a_token_declares_the_bearer_scheme_401_and_403() -> None:
    document = _app().openapi()
    create = document["paths"]["/things"]["post"]

    assert create["security"] == [{"bearerAuth": []}]
    assert _is_problem(create["responses"]["401"])
    assert _is_problem(create["responses"]["403"])
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "Access token issued by the identity service.",
    }
    assert "HTTPBearer" not in schemes


def test_an_optional_token_is_an_optional_security_requirement() -> None:
    document = _app().openapi()

    read = document["paths"]["/things/{thing_id}"]["get"]
    assert read["security"] == [{"bearerAuth": []}, {}]
    assert "401" in read["responses"]
    assert "security" not in document["paths"]["/things"]["get"]


def test_path_parameters_body_and_idempotency_name_their_problems() -> None:
    document = _app().openapi()

    assert set(_responses(document, "get", "/things/{thing_id}")) == {
        "200",
        "401",
        "403",
        "404",
        "422",
    }
    assert set(_responses(document, "post", "/things")) == {
        "201",
        "400",
        "401",
        "403",
        "409",
        "413",
        "415",
        "422",
        "429",
    }
    assert set(_responses(document, "get", "/things")) == {"200", "422"}
    limited = _responses(document, "post", "/things")["429"]
    assert "Retry-After" in limited["headers"]


def test_validation_failures_are_documented_as_the_problems_they_are() -> None:
    document = _app().openapi()

    for path, item in document["paths"].items():
        for method, operation in item.items():
            if "422" in operation["responses"]:
                assert _is_problem(operation["responses"]["422"]), (method, path)
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    assert "ValidationError" not in schemas
    problem = schemas[PROBLEM_SCHEMA]
    assert set(problem["required"]) == {"type", "title", "status", "code"}
    assert problem["properties"]["errors"]["items"]["required"] == ["loc", "msg"]


def test_responses_declared_away_from_the_route_replace_fastapis() -> None:
    app = _app()
    html = {"description": "a page", "content": {"text/html": {"schema": {"type": "string"}}}}
    document_responses(app, {"GET /things/{thing_id}/page": {200: html, 400: html}})

    responses = _responses(app.openapi(), "get", "/things/{thing_id}/page")
    assert responses["200"] == html
    assert responses["400"] == html
    assert _is_problem(responses["404"])


def test_responses_for_a_route_that_does_not_exist_are_refused() -> None:
    with pytest.raises(ValueError, match="GET /nowhere"):
        document_responses(_app(), {"GET /nowhere": problems(404)})
