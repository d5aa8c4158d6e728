"""Hostile input to the catalogue: bad text is a 422, hostile form schemas are refused at save."""

from __future__ import annotations

import base64
import copy
import json
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from mpp_shared.forms import FormValidator

BASE: dict[str, Any] = {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object"}

SERVICE: dict[str, Any] = {
    "name": "Penerbitan Akta Kelahiran",
    "description": "Penerbitan akta kelahiran bagi penduduk.",
    "category": "kependudukan",
    "region_codes": ["64.72"],
    "procedure": ["Isi formulir."],
    "stages": [{"code": "verifikasi", "name": "Verifikasi"}],
    "sla_working_days": 1,
    "channels": ["online"],
    "output": "Akta kelahiran",
    "complaint_channel": "SP4N-LAPOR!",
    "form_schema": {**BASE, "properties": {"nik": {"type": "string"}}},
}


@pytest.fixture(scope="module")
async def client(catalog_app_client: Callable[..., Any]) -> AsyncIterator[httpx.AsyncClient]:
    async with catalog_app_client() as opened:
        yield opened


@pytest.fixture(scope="module")
def admin(catalog_token: Callable[..., dict[str, str]]) -> dict[str, str]:
    return catalog_token(roles=["platform_admin"])


@pytest.fixture(scope="module")
async def agency_id(client: httpx.AsyncClient, admin: dict[str, str]) -> str:
    response = await client.post(
        "/api/v1/agencies",
        json={"name": "Disdukcapil (uji masukan)", "kind": "opd", "region_code": "64.72"},
        headers=admin,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _create(
    client: httpx.AsyncClient, admin: dict[str, str], agency_id: str, **changes: Any
) -> httpx.Response:
    body = {**copy.deepcopy(SERVICE), "agency_id": agency_id, **changes}
    body.setdefault("code", f"svc-{uuid.uuid4().hex[:8]}")
    return await client.post("/api/v1/services", json=body, headers=admin)


def _cursor(position: dict[str, Any]) -> str:
    raw = json.dumps(position).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _assert_422(response: httpx.Response, code: str) -> dict[str, Any]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["code"] == code
    return body


async def test_search_with_a_nul_in_the_query_is_422(client: httpx.AsyncClient) -> None:
    body = _assert_422(await client.get("/api/v1/services?q=akta%00kelahiran"), "invalid_text")
    assert body["errors"][0]["loc"] == ["query", "q"]
    _assert_422(await client.get("/api/v1/services?q=akta%ED%A0%80"), "invalid_text")


@pytest.mark.parametrize("path", ["/api/v1/services", "/api/v1/agencies"])
@pytest.mark.parametrize("text", ["\x00", "\ud800"])
async def test_a_cursor_holding_nul_or_a_lone_surrogate_is_422(
    client: httpx.AsyncClient, path: str, text: str
) -> None:
    forged = _cursor({"n": f"akta{text}", "c": text, "i": str(uuid.uuid4())})
    _assert_422(await client.get(path, params={"cursor": forged}), "invalid_cursor")
    _assert_422(await client.get(f"{path}?cursor=%00"), "invalid_text")
    _assert_422(await client.get(f"{path}?cursor=ab%ED%A0%80cd"), "invalid_text")


async def test_a_nul_in_a_service_name_is_422_on_create_and_on_update(
    client: httpx.AsyncClient, admin: dict[str, str], agency_id: str
) -> None:
    _assert_422(await _create(client, admin, agency_id, name="Akta\x00Kelahiran"), "invalid_text")

    created = await _create(client, admin, agency_id)
    assert created.status_code == 201, created.text
    response = await client.patch(
        f"/api/v1/services/{created.json()['id']}/draft",
        json={"name": "Akta\x00Kelahiran"},
        headers=admin,
    )
    _assert_422(response, "invalid_text")


async def test_a_form_schema_nested_over_100_deep_is_422(
    client: httpx.AsyncClient, admin: dict[str, str], agency_id: str
) -> None:
    schema: dict[str, Any] = dict(BASE)
    node = schema
    for _ in range(120):
        node["properties"] = {"a": {"type": "object"}}
        node = node["properties"]["a"]
    _assert_422(await _create(client, admin, agency_id, form_schema=schema), "too_deeply_nested")


def _fan_out(levels: int) -> dict[str, Any]:
    defs: dict[str, Any] = {
        f"d{i}": {"allOf": [{"$ref": f"#/$defs/d{i + 1}"}, {"$ref": f"#/$defs/d{i + 1}"}]}
        for i in range(levels)
    }
    defs[f"d{levels}"] = {"type": "string"}
    return {**BASE, "$defs": defs, "properties": {"x": {"$ref": "#/$defs/d0"}}}


@pytest.mark.parametrize(
    ("schema", "code", "loc"),
    [
        (
            {**BASE, "properties": {"x": {"$ref": "#"}}},
            "recursive_reference",
            ["form_schema", "properties", "x", "$ref"],
        ),
        (_fan_out(40), "schema_too_deep", None),
        (
            {**BASE, "properties": {"x": {"$ref": "https://example.com/s.json"}}},
            "external_reference",
            ["form_schema", "properties", "x", "$ref"],
        ),
        (
            {**BASE, "properties": {"x": {"type": "string", "pattern": "^(a)\\1$"}}},
            "invalid_pattern",
            ["form_schema", "properties", "x", "pattern"],
        ),
    ],
)
async def test_hostile_form_schemas_are_refused_at_save(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    agency_id: str,
    schema: dict[str, Any],
    code: str,
    loc: list[Any] | None,
) -> None:
    body = _assert_422(
        await _create(client, admin, agency_id, form_schema=schema), "invalid_form_schema"
    )
    assert [error["code"] for error in body["errors"]] == [code]
    if loc is not None:
        assert body["errors"][0]["loc"] == loc
    assert body["errors"][0]["msg"]


async def test_a_backtracking_pattern_re2_can_run_is_saved_and_published_safely(
    client: httpx.AsyncClient, admin: dict[str, str], agency_id: str
) -> None:
    schema = {**BASE, "properties": {"x": {"type": "string", "pattern": "^(a+)+$"}}}
    created = await _create(client, admin, agency_id, form_schema=schema)
    assert created.status_code == 201, created.text
    published = await client.post(f"/api/v1/services/{created.json()['id']}/publish", headers=admin)
    assert published.status_code == 200, published.text
    saved = published.json()["form_schema"]
    assert [p.code for p in FormValidator(saved).errors({"x": "a" * 10_000 + "!"})] == ["pattern"]
