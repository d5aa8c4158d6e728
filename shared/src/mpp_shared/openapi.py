"""Every operation of a service's OpenAPI document names the problem answers it really gives.

FastAPI documents a route's success and a 422 whose schema (``HTTPValidationError``) is not
what the services send. :func:`install_openapi` post-processes the generated document from
what each route declares: a caller's principal → ``security`` (bearer JWT), 401 and 403; path
parameters → 404; a body → 413, 415 and 422; other parameters → 422; ``Idempotency-Key`` →
409. Every problem answer is ``application/problem+json`` with the :data:`PROBLEM_SCHEMA`
component. A route adds its own with ``responses=problems(409, 429)``; routes in modules a
service does not want to touch get theirs through :func:`document_responses`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import BaseRoute

from mpp_shared.problems import PROBLEM_CONTENT_TYPE

PROBLEM_SCHEMA = "Problem"
BEARER_SCHEME = "bearerAuth"
IDEMPOTENCY_HEADER = "idempotency-key"
# FastAPI's own names, replaced: the services answer problem+json and one bearer scheme.
_FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")
_FASTAPI_BEARER_SCHEME = "HTTPBearer"
_EXTRA_STATE = "openapi_extra_responses"

PROBLEM_JSON_SCHEMA: dict[str, Any] = {
    "title": PROBLEM_SCHEMA,
    "description": "An error answer: RFC 9457 problem details with a stable `code`.",
    "type": "object",
    "required": ["type", "title", "status", "code"],
    "properties": {
        "type": {"type": "string", "description": "A URI naming the kind of problem."},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 100, "maximum": 599},
        "detail": {"type": "string", "description": "For people (Indonesian where shown)."},
        "instance": {"type": "string", "description": "The path of the request."},
        "code": {
            "type": "string",
            "pattern": "^[a-z0-9_]+$",
            "description": "Stable snake_case identifier clients branch on.",
        },
        "errors": {
            "type": "array",
            "description": "What was wrong, field by field (validation failures).",
            "items": {
                "type": "object",
                "required": ["loc", "msg"],
                "properties": {
                    "loc": {
                        "type": "array",
                        "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
                    },
                    "msg": {"type": "string"},
                },
            },
        },
    },
    # Some problems carry more (``retry_after``, ``checks``, OAuth's ``error``).
    "additionalProperties": True,
}

_DESCRIPTIONS: Mapping[int, str] = {
    400: "The request is malformed.",
    401: "No bearer token, or one that is not valid (expired, revoked, wrong audience).",
    403: "The token lacks the role, scope or second factor this needs.",
    404: "No such object, or one that is not the caller's.",
    409: "Conflicts with the current state (exists already, illegal transition).",
    413: "The body is too large.",
    415: "The body's content type is not one this accepts.",
    422: "The request is not valid: `errors` says where.",
    429: "Too many requests: wait as long as `Retry-After` says.",
    503: "A service this depends on is not available now.",
}

_RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "integer", "minimum": 0},
    }
}


def problem_response(status: int, description: str | None = None) -> dict[str, Any]:
    """One OpenAPI response object: a problem+json answer of ``status``."""
    response: dict[str, Any] = {
        "description": description or _DESCRIPTIONS.get(status) or HTTPStatus(status).phrase,
        "content": {
            PROBLEM_CONTENT_TYPE: {"schema": {"$ref": f"#/components/schemas/{PROBLEM_SCHEMA}"}}
        },
    }
    if status == 429:
        response["headers"] = dict(_RETRY_AFTER)
    return response


def problems(*statuses: int, **descriptions: str) -> dict[int | str, dict[str, Any]]:
    """A route's own problem answers, for ``@router.post(..., responses=problems(409))``.

    ``descriptions`` override the generic text per status: ``problems(409, s409="...")``.
    """
    return {status: problem_response(status, descriptions.get(f"s{status}")) for status in statuses}


def add_problems(operation: dict[str, Any], statuses: Iterable[int]) -> None:
    """Documents a problem+json answer of each of ``statuses`` in ``operation``.

    A status documented already with another content type (a login page's HTML 429) gets the
    problem's as a second one: the gateway answers problems on every route.
    """
    responses: dict[str, Any] = operation.setdefault("responses", {})
    for status in statuses:
        problem = problem_response(status)
        existing = responses.get(str(status))
        if not isinstance(existing, dict):
            responses[str(status)] = problem
        elif "content" in existing and PROBLEM_CONTENT_TYPE not in existing["content"]:
            existing = dict(existing)
            existing["content"] = {**existing["content"], **problem["content"]}
            for name, header in problem.get("headers", {}).items():
                existing.setdefault("headers", {}).setdefault(name, header)
            responses[str(status)] = existing


def document_responses(
    app: FastAPI, responses: Mapping[str, Mapping[int | str, dict[str, Any]]]
) -> None:
    """Extra responses for the operations named ``"METHOD /path"``, declared away from them.

    For routes whose module the service keeps as it is. A name that matches no route is an
    error, so the declaration cannot silently outlive a renamed path.
    """
    known = {
        f"{method} {context.path_format}"
        for context in _api_routes(app.routes)
        for method in context.methods or ()
    }
    unknown = sorted(set(responses) - known)
    if unknown:
        raise ValueError("no such routes: " + ", ".join(unknown))
    extra: dict[str, dict[str, Any]] = getattr(app.state, _EXTRA_STATE, {})
    for name, entries in responses.items():
        extra.setdefault(name, {}).update({str(k): v for k, v in entries.items()})
    setattr(app.state, _EXTRA_STATE, extra)
    app.openapi_schema = None


def install_openapi(app: FastAPI) -> None:
    """``app.openapi()`` returns the post-processed document (built once, then cached)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                openapi_version=app.openapi_version,
                description=app.description,
                routes=app.routes,
            )
            app.openapi_schema = complete_document(
                document, app.routes, extra=getattr(app.state, _EXTRA_STATE, {})
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def complete_document(
    document: dict[str, Any],
    routes: Sequence[BaseRoute],
    *,
    extra: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """Adds to ``document`` (FastAPI's, of ``routes``) the problem answers each route gives.

    ``extra``: more responses by ``"METHOD /path"``, which replace FastAPI's of that status.
    """
    components: dict[str, Any] = document.setdefault("components", {})
    schemas: dict[str, Any] = components.setdefault("schemas", {})
    schemas[PROBLEM_SCHEMA] = PROBLEM_JSON_SCHEMA
    paths: dict[str, Any] = document.get("paths") or {}
    uses_bearer = False
    for route in _api_routes(routes):
        item = paths.get(route.path_format)
        if not route.include_in_schema or not isinstance(item, dict):
            continue
        facts = _RouteFacts.of(route)
        for method in route.methods or ():
            operation = item.get(method.lower())
            if not isinstance(operation, dict):
                continue
            responses = operation.setdefault("responses", {})
            responses.update((extra or {}).get(f"{method} {route.path_format}", {}))
            uses_bearer |= facts.apply(operation)
    security_schemes: dict[str, Any] = components.setdefault("securitySchemes", {})
    security_schemes.pop(_FASTAPI_BEARER_SCHEME, None)
    if uses_bearer:
        security_schemes[BEARER_SCHEME] = {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "Access token issued by the identity service.",
        }
    if not security_schemes:
        components.pop("securitySchemes")
    text = repr(document["paths"])
    for name in _FASTAPI_VALIDATION_SCHEMAS:
        if f"#/components/schemas/{name}" not in text:
            schemas.pop(name, None)
    return document


class _RouteFacts:
    """What a route's declaration says about the problems it can answer."""

    def __init__(
        self,
        *,
        auth: str | None,
        path_params: bool,
        other_params: bool,
        body: bool,
        idempotent: bool,
    ) -> None:
        self.auth = auth
        self.path_params = path_params
        self.other_params = other_params
        self.body = body
        self.idempotent = idempotent

    @classmethod
    def of(cls, route: Any) -> _RouteFacts:
        """``route``: an ``APIRoute`` or FastAPI's context of one included by a router."""
        from mpp_shared.auth.deps import (
            PRINCIPAL_DEPENDENCIES,
            get_enrolment_principal,
            get_optional_principal,
        )

        dependants = list(_walk(route.dependant))
        calls = {dependant.call for dependant in dependants}
        auth = None
        if get_enrolment_principal in calls or not calls.isdisjoint(PRINCIPAL_DEPENDENCIES):
            auth = "required"
        elif get_optional_principal in calls:
            auth = "optional"
        headers = {
            (param.alias or param.name).lower() for d in dependants for param in d.header_params
        }
        return cls(
            auth=auth,
            path_params=any(d.path_params for d in dependants),
            other_params=any(
                d.query_params or d.header_params or d.cookie_params for d in dependants
            ),
            body=route.body_field is not None,
            idempotent=IDEMPOTENCY_HEADER in headers,
        )

    def apply(self, operation: dict[str, Any]) -> bool:
        """Completes one operation; whether it uses the bearer scheme."""
        statuses: list[int] = []
        if self.auth is not None:
            requirement: list[dict[str, list[str]]] = [{BEARER_SCHEME: []}]
            if self.auth == "optional":
                requirement.append({})
            operation["security"] = requirement
            statuses += [401, 403]
        if self.path_params:
            statuses.append(404)
        if self.idempotent:
            statuses += [409, 422]
        if self.body:
            # 400: a body that is not text in UTF-8, which the JSON parser cannot even read.
            statuses += [400, 413, 415, 422]
        if self.other_params:
            statuses.append(422)
        responses: dict[str, Any] = operation.setdefault("responses", {})
        validation = responses.get("422")
        if isinstance(validation, dict) and _is_fastapi_validation(validation):
            responses["422"] = problem_response(422)
        add_problems(operation, sorted(set(statuses)))
        operation["responses"] = dict(sorted(responses.items()))
        return self.auth is not None


def _is_fastapi_validation(response: Mapping[str, Any]) -> bool:
    content = response.get("content") or {}
    return any(
        "HTTPValidationError" in str(media.get("schema", {}).get("$ref", ""))
        for media in content.values()
        if isinstance(media, dict)
    )


def _api_routes(routes: Sequence[BaseRoute]) -> Iterator[Any]:
    """The API routes, those included through routers too, as FastAPI's OpenAPI sees them."""
    for context in iter_route_contexts(routes):
        if isinstance(context.original_route, APIRoute):
            yield context


def _walk(dependant: Dependant) -> Iterator[Dependant]:
    yield dependant
    for sub in dependant.dependencies:
        yield from _walk(sub)
