"""Fixtures of the catalog-service tests: tokens signed for a mock JWKS, apps on fresh databases."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from catalog.config import CatalogSettings
from catalog.main import create_app
from mpp_shared.testing.client import app_client
from mpp_shared.testing.infrastructure import TestInfrastructure
from mpp_shared.testing.keys import SigningKey, new_signing_key

CATALOG_JWKS_URL = "http://identity.test/oauth2/jwks"
CATALOG_ISSUER = "http://gateway.test"
KID = "catalog-test-key"


@pytest.fixture(scope="session")
def catalog_signing_key() -> SigningKey:
    return new_signing_key(KID)


@pytest.fixture(scope="session")
def catalog_jwks(catalog_signing_key: SigningKey) -> dict[str, Any]:
    return catalog_signing_key.jwks


@pytest.fixture(scope="session")
def catalog_token(catalog_signing_key: SigningKey) -> Callable[..., dict[str, str]]:
    """``catalog_token(roles=[...], agency_id=...)`` → the Authorization header of a token."""

    def sign(
        *,
        roles: list[str],
        agency_id: uuid.UUID | None = None,
        subject: str | None = None,
        scope: str = "openid",
    ) -> dict[str, str]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": CATALOG_ISSUER,
            "aud": "mpp",
            "sub": subject or str(uuid.uuid4()),
            "iat": now,
            "exp": now + 600,
            "roles": roles,
            "scope": scope,
            "ial": 1,
        }
        if agency_id is not None:
            claims["agency_id"] = str(agency_id)
        token = catalog_signing_key.sign(claims)
        return {"Authorization": f"Bearer {token}"}

    return sign


@pytest.fixture(scope="session")
def catalog_app_client(
    infrastructure: TestInfrastructure, catalog_jwks: dict[str, Any]
) -> Callable[..., Any]:
    """``async with catalog_app_client(seed_demo_data=...) as client``: an app on a fresh DB."""

    @asynccontextmanager
    async def open_client(**overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
        values: dict[str, Any] = {
            "database_url": infrastructure.create_database("catalog"),
            **infrastructure.nats_settings("catalog"),
            "environment": "test",
            "public_url": CATALOG_ISSUER,
            "jwks_url": CATALOG_JWKS_URL,
            "load_all_villages": False,
            "read_pool_size": 4,
            "database_pool_size": 4,
        }
        settings = CatalogSettings(**{**values, **overrides})
        jwks_http = httpx.AsyncClient(
            transport=httpx.MockTransport(lambda request: httpx.Response(200, json=catalog_jwks))
        )
        app = create_app(settings, jwks_http=jwks_http)
        try:
            async with app_client(app) as client:
                client.app = app  # type: ignore[attr-defined]
                yield client
        finally:
            await jwks_http.aclose()

    return open_client
