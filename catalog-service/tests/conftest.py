"""Fixtures of the catalog-service tests: tokens signed for a mock JWKS, apps on fresh databases."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jose import jwk, jwt

from catalog.config import CatalogSettings
from catalog.main import create_app
from mpp_shared.testing.client import app_client
from mpp_shared.testing.infrastructure import TestInfrastructure

CATALOG_JWKS_URL = "http://identity.test/oauth2/jwks"
CATALOG_ISSUER = "http://gateway.test"
KID = "catalog-test-key"


@pytest.fixture(scope="session")
def catalog_private_key() -> Any:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def catalog_jwks(catalog_private_key: Any) -> dict[str, Any]:
    public_pem = (
        catalog_private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    key = jwk.construct(public_pem, "RS256").to_dict()
    key.update(kid=KID, use="sig", alg="RS256")
    return {"keys": [key]}


@pytest.fixture(scope="session")
def catalog_token(catalog_private_key: Any) -> Callable[..., dict[str, str]]:
    """``catalog_token(roles=[...], agency_id=...)`` → the Authorization header of a token."""
    private_pem = catalog_private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()

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
        token = jwt.encode(claims, private_pem, algorithm="RS256", headers={"kid": KID})
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
            "nats_url": infrastructure.nats_url,
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
