"""/readyz of the gateway: 200 only once it can serve every request, soon after identity is up."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx
from fastapi import FastAPI

from gateway.main import create_app
from mpp_shared.embedded import free_port
from mpp_shared.testing.client import app_client

# The fixtures' types live in the conftest, which tests do not import.
FakeService = Any
SigningKey = Any


async def _ready_within(client: httpx.AsyncClient, seconds: float) -> float:
    """Seconds until /readyz answered 200; fails after ``seconds``."""
    started = time.monotonic()
    while True:
        response = await client.get("/readyz")
        if response.status_code == 200:
            return time.monotonic() - started
        if time.monotonic() - started > seconds:
            raise AssertionError(f"not ready after {seconds} s: {response.text}")
        await asyncio.sleep(0.02)


async def test_a_gateway_started_before_identity_serves_right_after_identity_comes_up(
    fake_service: tuple[FakeService, str],
    signing_key: SigningKey,
    make_token: Callable[..., str],
    gateway_settings: Callable[..., Any],
    serve_app: Callable[..., Any],
) -> None:
    port = free_port()
    settings = gateway_settings(f"http://127.0.0.1:{port}")
    async with app_client(create_app(settings)) as client:
        early = await client.get("/readyz")
        assert early.status_code == 503
        assert early.json()["checks"]["signing_keys"] is False
        assert early.json()["checks"]["openapi"] is False
        # Long enough for the start-up backoff to reach its cap.
        await asyncio.sleep(2.0)

        service = type(fake_service[0])(jwks={"keys": [signing_key.public_jwk]})
        async with serve_app(service.app(), port):
            waited = await _ready_within(client, 5.0)
            login = await client.post(
                "/api/v1/auth/login", json={"username": "warga1", "password": "x"}
            )
            me = await client.get(
                "/api/v1/me", headers={"Authorization": f"Bearer {make_token(sub='early-1')}"}
            )
            document = (await client.get("/openapi.json")).json()

    # ~1 s: the backoff's cap (startup_retry_max_seconds), plus a loaded machine's slack.
    assert waited < 1.5, waited
    assert login.status_code == 200, login.text
    assert me.status_code == 200, me.text
    assert me.json()["principal"]["subject"] == "early-1"
    assert "/api/v1/me" in document["paths"]
    assert "/api/v1/regions" in document["paths"]


async def test_readiness_is_503_while_the_key_set_has_no_key(
    fake_service: tuple[FakeService, str],
    gateway_settings: Callable[..., Any],
    serve_app: Callable[..., Any],
) -> None:
    keyless = type(fake_service[0])(jwks={"keys": []})
    async with (
        serve_app(keyless.app(), free_port()) as upstream,
        app_client(create_app(gateway_settings(upstream))) as client,
    ):
        await asyncio.sleep(0.5)
        response = await client.get("/readyz")

    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    checks = response.json()["checks"]
    assert checks.pop("signing_keys") is False
    assert all(checks.values()), checks


async def test_readiness_is_503_while_a_service_s_openapi_document_is_missing(
    fake_service: tuple[FakeService, str],
    gateway_settings: Callable[..., Any],
    serve_app: Callable[..., Any],
) -> None:
    _, upstream = fake_service
    without_spec = FastAPI(openapi_url=None)

    @without_spec.get("/readyz")
    async def ready() -> dict[str, str]:
        return {"status": "ready"}

    async with serve_app(without_spec, free_port()) as catalog:
        settings = gateway_settings(upstream, catalog_url=catalog)
        async with app_client(create_app(settings)) as client:
            await asyncio.sleep(0.5)
            response = await client.get("/readyz")

    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks.pop("openapi") is False
    assert all(checks.values()), checks
