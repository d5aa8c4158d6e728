"""Fixtures of the gateway tests: a signing key, tokens, a fake service and a real gateway.

The integration tests talk to the gateway over real sockets: ``python -m gateway`` runs as a
child process (so its memory can be measured alone) in front of ``FakeService``, a FastAPI
app served by uvicorn inside the test process, on free ports of 127.0.0.1. The catalog
service's URL points at a port nobody listens on: the catalog is "down".
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import importlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import StreamingResponse
from starlette.types import ASGIApp

from mpp_shared.auth.internal import decode_principal_headers
from mpp_shared.embedded import free_port
from mpp_shared.testing.keys import SigningKey, new_signing_key

# pytest's importlib mode names this file "gateway.tests.conftest" (its path from the
# repository root) and, on the way, imports the repository's gateway/ directory as the package
# "gateway". The real one is gateway/src/gateway: put it back before a test imports it, or
# "import gateway.routes" would look for gateway/routes.py.
if getattr(sys.modules.get("gateway"), "__file__", None) is None:
    sys.modules.pop("gateway", None)
_real_gateway = importlib.import_module("gateway")
assert str(_real_gateway.__file__).endswith("src/gateway/__init__.py")

ISSUER = "http://gateway.test"
AUDIENCE = "mpp"
INTERNAL_SECRET = "test-internal-secret-0123456789abcdef"
UPSTREAM_TIMEOUT = 1.5


@pytest.fixture(scope="session")
def signing_key() -> SigningKey:
    return new_signing_key("gateway-test-1")


@pytest.fixture(scope="session")
def intruder_key() -> SigningKey:
    """Claims the published kid, but nobody published this key."""
    return new_signing_key("gateway-test-1")


@pytest.fixture(scope="session")
def make_token(signing_key: SigningKey) -> Callable[..., str]:
    """A valid citizen access token; keyword arguments override claims (None removes one)."""

    def build(**overrides: Any) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": str(uuid.uuid4()),
            "iat": now,
            "exp": now + 300,
            "roles": ["citizen"],
            "scope": "openid",
            "ial": 1,
            "azp": "mpp-app",
        }
        claims.update(overrides)
        return signing_key.sign({k: v for k, v in claims.items() if v is not None})

    return build


@dataclass
class FakeService:
    """Stands in for every service behind the gateway and records what reaches it."""

    jwks: dict[str, Any]
    events: asyncio.Queue[str] = field(default_factory=asyncio.Queue)
    uploads: list[dict[str, Any]] = field(default_factory=list)
    reached: list[str] = field(default_factory=list)

    def app(self) -> FastAPI:
        app = FastAPI(title="fake service")

        @app.get("/oauth2/jwks")
        async def keys() -> dict[str, Any]:
            return self.jwks

        @app.get("/readyz", include_in_schema=False)
        async def ready() -> dict[str, str]:
            return {"status": "ready"}

        @app.get("/api/v1/me", tags=["me"])
        async def me(request: Request) -> dict[str, Any]:
            """Echoes what the gateway forwarded, and the principal it vouched for."""
            principal = decode_principal_headers(request.headers, INTERNAL_SECRET, max_age=30)
            return {
                "principal": None
                if principal is None
                else {"subject": principal.subject, "roles": sorted(principal.roles)},
                "headers": {k: v for k, v in request.headers.items()},
            }

        @app.get("/api/v1/regions", tags=["regions"])
        async def regions() -> dict[str, Any]:
            return {"items": [], "next_cursor": None}

        @app.post("/api/v1/auth/login", tags=["auth"])
        async def login(request: Request) -> dict[str, int]:
            return {"received": len(await request.body())}

        @app.get("/api/v1/tracking/{number}", tags=["tracking"])
        async def tracking(number: str, request: Request) -> dict[str, Any]:
            principal = decode_principal_headers(request.headers, INTERNAL_SECRET, max_age=30)
            return {
                "registration_number": number,
                "principal": None if principal is None else principal.subject,
                "internal_headers": sorted(
                    name for name in request.headers if name.startswith("x-mpp-")
                ),
            }

        @app.get("/api/v1/notifications", tags=["notifications"])
        async def notifications(delay: float = 0.0) -> dict[str, Any]:
            await asyncio.sleep(delay)
            return {"items": [], "next_cursor": None}

        @app.get("/api/v1/events/stream", tags=["events"])
        async def stream() -> StreamingResponse:
            async def events() -> AsyncIterator[bytes]:
                while True:
                    event = await self.events.get()
                    if event == "":
                        return
                    yield f'id: {event}\nevent: test\ndata: {{"n": "{event}"}}\n\n'.encode()

            return StreamingResponse(events(), media_type="text/event-stream")

        @app.post("/api/v1/applications/{application_id}/documents", tags=["documents"])
        async def upload(application_id: str, request: Request) -> dict[str, Any]:
            digest = hashlib.sha256()
            size = 0
            async for chunk in request.stream():
                digest.update(chunk)
                size += len(chunk)
            result = {"size": size, "sha256": digest.hexdigest()}
            self.uploads.append(result)
            return result

        @app.get("/api/v1/applications/{application_id}/documents/{document_id}")
        async def download(application_id: str, document_id: str, mb: int = 1) -> StreamingResponse:
            async def body() -> AsyncIterator[bytes]:
                block = b"x" * (1 << 20)
                for _ in range(mb):
                    yield block

            return StreamingResponse(
                body(), media_type="application/pdf", headers={"content-length": str(mb << 20)}
            )

        @app.get("/internal/secret", tags=["internal"])
        async def internal(request: Request) -> dict[str, str]:
            self.reached.append(request.url.path)
            return {"secret": "never public"}

        @app.get("/api/v1/regions/internal-stats", include_in_schema=True, tags=["internal"])
        async def stats() -> dict[str, int]:
            return {"regions": 0}

        return app


@asynccontextmanager
async def serve_in_process(app: ASGIApp, port: int) -> AsyncIterator[str]:
    """Serve ``app`` with uvicorn on 127.0.0.1:``port`` inside the test's loop; yields its URL."""
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="off",
        loop="none",
        http="httptools",
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:  # uvicorn offers no event to wait on
        if task.done():
            await task  # raises what stopped it
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@pytest.fixture(scope="session")
def serve_app() -> Callable[[ASGIApp, int], AbstractAsyncContextManager[str]]:
    return serve_in_process


@pytest.fixture(scope="session")
async def fake_service(signing_key: SigningKey) -> AsyncIterator[tuple[FakeService, str]]:
    service = FakeService(jwks={"keys": [signing_key.public_jwk]})
    async with serve_in_process(service.app(), free_port()) as url:
        yield service, url


@pytest.fixture(scope="session")
def gateway_settings() -> Callable[..., Any]:
    """Settings of a gateway run in-process (``create_app``) with every service at one URL."""
    from gateway.config import GatewaySettings

    def build(upstream: str, **overrides: Any) -> GatewaySettings:
        values: dict[str, Any] = {
            "environment": "test",
            "public_url": ISSUER,
            "jwks_url": f"{upstream}/oauth2/jwks",
            "internal_secret": INTERNAL_SECRET,
            "identity_url": upstream,
            "catalog_url": upstream,
            "application_url": upstream,
            "tracking_url": upstream,
            "rate_limit_sync": "local",
            "revocations": "off",
            "access_log": False,
        }
        values.update(overrides)
        return GatewaySettings(**values)

    return build


@dataclass
class RunningGateway:
    url: str
    process: subprocess.Popen[bytes]
    service: FakeService
    log_path: Path

    def rss(self) -> int:
        import psutil

        return int(psutil.Process(self.process.pid).memory_info().rss)

    def client(self, **kwargs: Any) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, **{"timeout": 10.0, **kwargs})


def gateway_environment(upstream: str, port: int) -> dict[str, str]:
    dead = f"http://127.0.0.1:{free_port()}"  # nobody listens: the catalog is down
    return {
        "MPP_GATEWAY_PORT": str(port),
        "MPP_GATEWAY_METRICS_PORT": str(free_port()),
        "MPP_GATEWAY_HOST": "127.0.0.1",
        "MPP_GATEWAY_ENVIRONMENT": "test",
        "MPP_GATEWAY_PUBLIC_URL": ISSUER,
        "MPP_GATEWAY_JWKS_URL": f"{upstream}/oauth2/jwks",
        "MPP_INTERNAL_SECRET": INTERNAL_SECRET,
        "MPP_GATEWAY_IDENTITY_URL": upstream,
        "MPP_GATEWAY_CATALOG_URL": dead,
        "MPP_GATEWAY_APPLICATION_URL": upstream,
        "MPP_GATEWAY_TRACKING_URL": upstream,
        "MPP_GATEWAY_UPSTREAM_TIMEOUT_SECONDS": str(UPSTREAM_TIMEOUT),
        "MPP_GATEWAY_RATE_LIMIT_SYNC": "local",
        "MPP_GATEWAY_REVOCATIONS": "off",  # these tests run without NATS
        "MPP_GATEWAY_RATE_LIMITS": (
            '{"default": {"per_ip": 100000, "per_account": 100000},'
            ' "login": {"per_ip": 3, "window_seconds": 1},'
            ' "tracking": {"per_ip": 100000}}'
        ),
        "MPP_GATEWAY_CORS_ORIGINS": '["https://app.mpp.test"]',
        "MPP_GATEWAY_OPENAPI_REFRESH_SECONDS": "1",
        "MPP_GATEWAY_LOG_LEVEL": "INFO",
    }


@contextlib.asynccontextmanager
async def running_gateway_process(
    env: dict[str, str], url: str, log_path: Path
) -> AsyncIterator[subprocess.Popen[bytes]]:
    """``python -m gateway`` with ``env`` added to the environment, until it answers /healthz."""
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: ASYNC220 - starting it does not wait for it
            [sys.executable, "-m", "gateway"],
            env={**os.environ, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        async with httpx.AsyncClient(base_url=url, timeout=10.0) as client:
            deadline = time.monotonic() + 30
            while True:
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get("/healthz")).status_code == 200:
                        break
                if process.poll() is not None or time.monotonic() > deadline:
                    log_text = log_path.read_text()  # noqa: ASYNC240 - it failed: no hurry
                    raise RuntimeError("the gateway did not start:\n" + log_text)
                await asyncio.sleep(0.1)
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
async def gateway(
    fake_service: tuple[FakeService, str], tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RunningGateway]:
    service, upstream = fake_service
    port = free_port()
    log_path = tmp_path_factory.mktemp("gateway") / "gateway.log"
    url = f"http://127.0.0.1:{port}"
    async with running_gateway_process(
        gateway_environment(upstream, port), url, log_path
    ) as process:
        yield RunningGateway(url, process, service, log_path)


@pytest.fixture
def service(gateway: RunningGateway) -> FakeService:
    return gateway.service


@pytest.fixture(scope="session")
def internal_secret() -> str:
    return INTERNAL_SECRET


@pytest.fixture(scope="session")
def upstream_timeout() -> float:
    return UPSTREAM_TIMEOUT


@dataclass(frozen=True)
class GatewayLauncher:
    """For test packages that run a gateway of their own (tests do not import the conftest)."""

    environment: Callable[[str, int], dict[str, str]] = gateway_environment
    run: Callable[..., contextlib.AbstractAsyncContextManager[subprocess.Popen[bytes]]] = (
        running_gateway_process
    )


@pytest.fixture(scope="session")
def gateway_launcher() -> GatewayLauncher:
    return GatewayLauncher()
