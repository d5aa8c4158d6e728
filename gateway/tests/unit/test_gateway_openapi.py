"""The merged OpenAPI document: public operations only, tagged per service, no name clashes."""

from __future__ import annotations

from typing import Any

from gateway.openapi import merge_documents
from gateway.routes import RoutingTable


def _document(paths: dict[str, Any], schemas: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"openapi": "3.1.0", "paths": paths, "components": {"schemas": schemas or {}}}


def _operation(ref: str | None = None) -> dict[str, Any]:
    operation: dict[str, Any] = {"responses": {"200": {"description": "ok"}}, "tags": ["x"]}
    if ref:
        operation["responses"]["200"]["content"] = {
            "application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}
        }
    return operation


def _merge(documents: dict[str, Any]) -> dict[str, Any]:
    return merge_documents(
        documents, RoutingTable(), title="t", description="d", server_url="https://api.test"
    )


def test_only_the_public_operations_of_each_service_are_kept() -> None:
    merged = _merge(
        {
            "identity": _document(
                {
                    "/api/v1/me": {"get": _operation(), "patch": _operation()},
                    "/internal/accounts/{id}": {"get": _operation()},
                    # Another service's public path, served by identity: not identity's to show.
                    "/api/v1/regions": {"get": _operation()},
                }
            ),
            "catalog": _document({"/api/v1/regions": {"get": _operation()}}),
        }
    )

    assert set(merged["paths"]) == {"/api/v1/me", "/api/v1/regions"}
    assert merged["paths"]["/api/v1/me"]["get"]["tags"] == ["identity"]
    assert merged["paths"]["/api/v1/regions"]["get"]["tags"] == ["catalog"]
    assert [tag["name"] for tag in merged["tags"]] == ["catalog", "identity"]
    assert merged["servers"] == [{"url": "https://api.test"}]


def test_templated_paths_match_the_routing_table() -> None:
    merged = _merge(
        {
            "tracking": _document(
                {"/api/v1/applications/{application_id}/timeline": {"get": _operation()}}
            ),
            "application": _document(
                {
                    "/api/v1/applications/{application_id}": {"get": _operation()},
                    "/api/v1/applications/{application_id}/timeline": {"get": _operation()},
                }
            ),
        }
    )

    paths = merged["paths"]
    assert paths["/api/v1/applications/{application_id}/timeline"]["get"]["tags"] == ["tracking"]
    assert paths["/api/v1/applications/{application_id}"]["get"]["tags"] == ["application"]


def test_operations_behind_a_token_declare_the_bearer_scheme() -> None:
    merged = _merge(
        {
            "identity": _document(
                {"/api/v1/me": {"get": _operation()}, "/oauth2/jwks": {"get": _operation()}}
            )
        }
    )

    assert merged["paths"]["/api/v1/me"]["get"]["security"] == [{"bearerAuth": []}]
    assert "security" not in merged["paths"]["/oauth2/jwks"]["get"]
    assert merged["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


def test_components_named_alike_but_different_are_renamed_per_service() -> None:
    merged = _merge(
        {
            "identity": _document(
                {"/api/v1/me": {"get": _operation("Item")}},
                {"Item": {"type": "object", "title": "identity's"}, "Problem": {"type": "object"}},
            ),
            "catalog": _document(
                {"/api/v1/regions": {"get": _operation("Item")}},
                {"Item": {"type": "string", "title": "catalog's"}, "Problem": {"type": "object"}},
            ),
        }
    )

    schemas = merged["components"]["schemas"]
    assert schemas["Item"]["title"] == "catalog's"  # merged first (services in name order)
    assert schemas["IdentityItem"]["title"] == "identity's"
    assert set(schemas) == {"Item", "IdentityItem", "Problem"}  # an identical one is shared
    me = merged["paths"]["/api/v1/me"]["get"]["responses"]["200"]["content"]["application/json"]
    assert me["schema"]["$ref"] == "#/components/schemas/IdentityItem"
    regions = merged["paths"]["/api/v1/regions"]["get"]["responses"]["200"]
    assert regions["content"]["application/json"]["schema"]["$ref"] == "#/components/schemas/Item"


def test_no_documents_give_an_empty_valid_document() -> None:
    merged = _merge({})

    assert merged["openapi"] == "3.1.0"
    assert merged["paths"] == {}
    assert merged["tags"] == []


def test_the_gateways_own_answers_are_documented_on_every_operation() -> None:
    html = {"description": "page", "content": {"text/html": {"schema": {"type": "string"}}}}
    authorize = _operation()
    authorize["responses"]["429"] = html
    merged = _merge(
        {
            "identity": _document(
                {
                    "/api/v1/me": {
                        "get": _operation(),
                        "patch": {**_operation(), "requestBody": {}},
                    },
                    "/api/v1/auth/logout": {"post": _operation()},
                    "/oauth2/authorize": {"post": authorize},
                }
            ),
            "catalog": _document({"/api/v1/regions": {"get": _operation()}}),
        }
    )
    paths = merged["paths"]

    me, patch_me = paths["/api/v1/me"]["get"], paths["/api/v1/me"]["patch"]
    assert {"401", "403", "429"} <= set(me["responses"])
    assert "413" in patch_me["responses"]
    assert "413" not in me["responses"]
    # Public: a token that is present is still verified; no role to lack.
    assert set(paths["/api/v1/regions"]["get"]["responses"]) == {"200", "401", "429"}
    # Any valid token may log out, one only good for MFA enrolment too.
    assert "403" not in paths["/api/v1/auth/logout"]["post"]["responses"]
    limited = paths["/oauth2/authorize"]["post"]["responses"]["429"]
    assert set(limited["content"]) == {"text/html", "application/problem+json"}
    assert "401" not in paths["/oauth2/authorize"]["post"]["responses"]
    assert "Problem" in merged["components"]["schemas"]
