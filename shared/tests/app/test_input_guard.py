"""Every service refuses text it cannot store or encode, and JSON nested past 64, with a 422."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

import httpx
import pytest
from fastapi import APIRouter, Depends, Request

from mpp_shared.app import create_service_app
from mpp_shared.config import BaseServiceSettings
from mpp_shared.pagination import PageParams, page_params
from mpp_shared.testing.client import app_client
from mpp_shared.text import contains_invalid_text, json_depth_exceeds, json_text_reason


def _router() -> APIRouter:
    router = APIRouter()

    @router.get("/things/{name}")
    async def read_thing(name: str, q: str = "") -> dict[str, str]:
        return {"name": name, "q": q}

    @router.get("/things")
    async def list_things(page: Annotated[PageParams, Depends(page_params)]) -> dict[str, Any]:
        return {"cursor": page.cursor}

    @router.post("/things")
    async def create_thing(thing: dict[str, Any]) -> dict[str, Any]:
        return thing

    @router.post("/login")
    async def login(request: Request) -> dict[str, str]:
        form = await request.form()
        return {name: str(value) for name, value in form.items()}

    @router.post("/deep")
    async def deep() -> None:
        def down(n: int) -> int:
            return down(n + 1)

        down(0)

    return router


@pytest.fixture(scope="module")
async def client() -> AsyncIterator[httpx.AsyncClient]:
    settings = BaseServiceSettings(service_name="probe", environment="test")
    app = create_service_app(
        settings, title="probe", routers=[_router()], uses_database=False, uses_nats=False
    )
    async with app_client(app) as opened:
        yield opened


def _cursor(raw_json: str) -> str:
    return base64.urlsafe_b64encode(raw_json.encode()).decode().rstrip("=")


def _assert_invalid_text(response: httpx.Response, loc: list[Any]) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "invalid_text"
    assert body["errors"][0]["loc"] == loc
    assert "x-request-id" in response.headers


@pytest.mark.parametrize("query", ["q=akta%00kelahiran", "q=akta%ED%A0%80", "q=%C3", "q=a+%00"])
async def test_nul_or_broken_utf8_in_the_query_is_422(
    client: httpx.AsyncClient, query: str
) -> None:
    response = await client.get(httpx.URL("/things/x", query=query.encode("latin-1")))
    _assert_invalid_text(response, ["query", "q"])


async def test_nul_in_a_path_parameter_is_422(client: httpx.AsyncClient) -> None:
    _assert_invalid_text(await client.get("/things/akta%00"), ["path"])
    _assert_invalid_text(await client.get("/things/akta%ED%A0%80"), ["path"])


async def _raw_request(
    app: Any, *, query: bytes = b"", headers: list[tuple[bytes, bytes]] | None = None
) -> tuple[int, dict[str, Any]]:
    """Straight through ASGI, as a server would hand over bytes no HTTP client sends."""
    messages: list[dict[str, Any]] = []
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/things/x",
        "raw_path": b"/things/x",
        "query_string": query,
        "root_path": "",
        "headers": [(b"host", b"testserver"), *(headers or [])],
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    await app(scope, receive, send)
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    return messages[0]["status"], json.loads(body)


async def test_raw_nul_in_the_query_or_a_header_is_422(client: httpx.AsyncClient) -> None:
    app = client._transport.app  # type: ignore[attr-defined]
    status, body = await _raw_request(app, query=b"q=a\x00b")
    assert (status, body["code"], body["errors"][0]["loc"]) == (422, "invalid_text", ["query", "q"])
    status, body = await _raw_request(app, headers=[(b"x-reason", b"a\x00b")])
    assert (status, body["errors"][0]["loc"]) == (422, ["header", "x-reason"])
    status, body = await _raw_request(app, query=b"q=ok")
    assert status == 200


async def test_good_text_still_passes(client: httpx.AsyncClient) -> None:
    response = await client.get("/things/s%C3%BArat", params={"q": "akta kelahiran 😀 ü"})
    assert response.status_code == 200
    assert response.json() == {"name": "súrat", "q": "akta kelahiran 😀 ü"}
    body = {"name": "Surat \\u0000 keterangan", "emoji": "😀", "n": [[1]]}
    response = await client.post("/things", json=body)
    assert response.status_code == 200
    assert response.json() == body
    response = await client.post(
        "/things",
        content=b'{"pair": "\\ud83d\\ude00"}',
        headers={"content-type": "application/json"},
    )
    assert response.json() == {"pair": "😀"}


@pytest.mark.parametrize(
    "raw",
    [
        b'{"name": "a\\u0000b"}',
        b'{"name": "\\ud800"}',
        b'{"name": "\\udc00x"}',
        b'{"name": "\\ud83dx"}',
        b'{"name": "\\\\\\u0000"}',
        b'{"form": {"nested": ["ok", {"deeper": "\\u0000"}]}}',
        b'{"a\\u0000": 1}',
        b'{"name": "\xed\xa0\x80"}',
        b'{"name": "a\x00b"}',
    ],
)
async def test_nul_or_lone_surrogate_anywhere_in_a_json_body_is_422(
    client: httpx.AsyncClient, raw: bytes
) -> None:
    response = await client.post(
        "/things", content=raw, headers={"content-type": "application/json"}
    )
    _assert_invalid_text(response, ["body"])


async def test_json_without_content_type_is_checked_too(client: httpx.AsyncClient) -> None:
    # A route with strict_content_type=False parses such a body as JSON.
    response = await client.post("/things", content=b'{"name": "\\u0000"}')
    _assert_invalid_text(response, ["body"])


async def test_json_nested_deeper_than_64_is_422_before_any_parser(
    client: httpx.AsyncClient,
) -> None:
    ok = {"a": json.loads("[" * 62 + "]" * 62)}
    assert (await client.post("/things", json=ok)).status_code == 200
    deep = "[" * 65 + "]" * 65
    response = await client.post("/things", content=('{"a": ' + deep + "}").encode())
    assert response.status_code == 422
    assert response.json()["code"] == "too_deeply_nested"
    # Brackets inside strings are text, not nesting.
    assert (await client.post("/things", json={"a": "[" * 500})).status_code == 200


async def test_form_fields_with_nul_are_422(client: httpx.AsyncClient) -> None:
    response = await client.post("/login", data={"username": "warga1\x00", "password": "x"})
    _assert_invalid_text(response, ["body", "username"])
    response = await client.post("/login", data={"username": "warga1", "password": "x"})
    assert response.status_code == 200


@pytest.mark.parametrize(
    "cursor_json", ['{"n": "\\u0000"}', '{"n": "\\ud800"}', '{"n": ["x", {"y": "\\u0000"}]}']
)
async def test_cursor_that_decodes_to_nul_or_lone_surrogate_is_invalid_cursor(
    client: httpx.AsyncClient, cursor_json: str
) -> None:
    response = await client.get("/things", params={"cursor": _cursor(cursor_json)})
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_cursor"


async def test_recursion_error_in_a_handler_is_422_not_500(client: httpx.AsyncClient) -> None:
    response = await client.post("/deep")
    assert response.status_code == 422
    assert response.json()["code"] == "too_deeply_nested"


def test_escaped_backslash_before_u0000_is_text_not_a_nul() -> None:
    assert json_text_reason(b'{"a": "\\\\u0000"}') is None
    assert json_text_reason(b'{"a": "\\\\\\u0000"}') is not None
    assert json_text_reason(b'{"a": "\\ud83d\\ude00\\ud83d\\ude00"}') is None
    assert json_text_reason(b'{"a": "\\ud83d\\ude00\\ude00"}') is not None


def test_depth_counts_only_brackets_outside_strings() -> None:
    assert not json_depth_exceeds(b'["' + b"[" * 100 + b'"]', 64)
    assert not json_depth_exceeds(b"[" * 64 + b"]" * 64, 64)
    assert json_depth_exceeds(b"[" * 65 + b"]" * 65, 64)
    assert not json_depth_exceeds(b"[" + b"[]," * 200 + b"[]]", 64)
    assert not json_depth_exceeds(b'{"x": "\\"' + b"[" * 70 + b'"}', 64)
    assert json_depth_exceeds(b'{"x": "\\\\", "y": ' + b"[" * 70 + b"]" * 70 + b"}", 64)
    # Not JSON, but a parser would recurse into every opening bracket before saying so.
    assert json_depth_exceeds(b"[" * 10_000, 64)


def test_invalid_text_is_found_in_keys_and_nested_values() -> None:
    assert contains_invalid_text({"a": [{"b\x00": 1}]})
    assert contains_invalid_text(["\ud800"])
    assert not contains_invalid_text({"a": ["ok", {"b": 1.5, "c": None}]})
