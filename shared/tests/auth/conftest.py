"""Fixtures for the auth tests: signing keys, a JWKS served through httpx.MockTransport, tokens."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from mpp_shared.testing.keys import SigningKey, new_signing_key

ISSUER = "https://mpp.test"
AUDIENCE = "mpp"
JWKS_URL = "http://identity.test/oauth2/jwks"


@pytest.fixture(scope="session")
def rsa_key() -> SigningKey:
    return new_signing_key("rsa-2024")


@pytest.fixture(scope="session")
def rsa_key_next() -> SigningKey:
    """The key identity-service rotates to."""
    return new_signing_key("rsa-2025")


@pytest.fixture(scope="session")
def ec_key() -> SigningKey:
    return new_signing_key("ec-2024", "ES256")


@pytest.fixture(scope="session")
def intruder_key() -> SigningKey:
    """A key nobody published, claiming a published kid."""
    return new_signing_key("rsa-2024")


@dataclass
class JwksServer:
    """identity-service's JWKS endpoint, counting fetches; ``fail`` makes it answer 503."""

    keys: list[dict[str, Any]]
    fetches: int = 0
    fail: bool = False
    delay: float = 0.0
    body: Any = None
    clients: list[httpx.AsyncClient] = field(default_factory=list)

    async def handle(self, request: httpx.Request) -> httpx.Response:
        assert str(request.url) == JWKS_URL
        self.fetches += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.fail:
            return httpx.Response(503, text="identity-service is down")
        if self.body is not None:
            return httpx.Response(200, text=self.body)
        return httpx.Response(200, json={"keys": self.keys})

    def client(self) -> httpx.AsyncClient:
        http = httpx.AsyncClient(transport=httpx.MockTransport(self.handle))
        self.clients.append(http)
        return http


@pytest.fixture
async def jwks_server(rsa_key: SigningKey, ec_key: SigningKey) -> Any:
    server = JwksServer(keys=[rsa_key.public_jwk, ec_key.public_jwk])
    yield server
    for http in server.clients:
        await http.aclose()


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_claims() -> Callable[..., dict[str, Any]]:
    """Claims of a valid citizen access token; keyword arguments override (None removes)."""

    def build(**overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": str(uuid.uuid4()),
            "iat": now,
            "exp": now + 300,
            "roles": ["citizen"],
            "scope": "openid profile",
            "ial": 1,
            "azp": "mpp-app",
        }
        claims.update(overrides)
        return {name: value for name, value in claims.items() if value is not None}

    return build
