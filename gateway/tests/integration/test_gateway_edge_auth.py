"""Edge authentication and the trusted principal headers, through a running gateway."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from typing import Any

from mpp_shared.auth.internal import encode_principal_headers
from mpp_shared.auth.principal import Principal

# The fixtures' types live in the conftest, which tests do not import.
RunningGateway = Any
SigningKey = Any


def _problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"].endswith(code)
    assert response.headers["x-request-id"]
    return body


async def test_a_valid_token_reaches_the_service_as_a_signed_principal(
    gateway: RunningGateway, make_token: Callable[..., str]
) -> None:
    token = make_token(sub="citizen-1", roles=["citizen"])
    async with gateway.client() as client:
        response = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 200, response.text
    echoed = response.json()
    assert echoed["principal"] == {"subject": "citizen-1", "roles": ["citizen"]}
    assert echoed["headers"]["x-forwarded-for"] == "127.0.0.1"
    assert echoed["headers"]["authorization"] == f"Bearer {token}"


async def test_a_request_without_a_token_is_401_at_the_edge(gateway: RunningGateway) -> None:
    async with gateway.client() as client:
        response = await client.get("/api/v1/me")

    _problem(response, 401, "unauthorized")
    assert response.headers["www-authenticate"] == "Bearer"


async def test_an_expired_token_is_rejected(
    gateway: RunningGateway, make_token: Callable[..., str]
) -> None:
    now = int(time.time())
    token = make_token(iat=now - 3600, exp=now - 600)
    async with gateway.client() as client:
        response = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})

    body = _problem(response, 401, "invalid_token")
    assert "expired" in body["detail"]


async def test_a_tampered_token_is_rejected(
    gateway: RunningGateway, make_token: Callable[..., str]
) -> None:
    header, payload, signature = make_token(roles=["citizen"]).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["roles"] = ["platform_admin"]
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    async with gateway.client() as client:
        response = await client.get(
            "/api/v1/clients", headers={"Authorization": f"Bearer {header}.{forged}.{signature}"}
        )

    _problem(response, 401, "invalid_token")


async def test_a_token_signed_with_an_unpublished_key_is_rejected(
    gateway: RunningGateway, make_token: Callable[..., str], intruder_key: SigningKey
) -> None:
    token = intruder_key.sign(
        {
            "iss": "http://gateway.test",
            "aud": "mpp",
            "sub": "x",
            "exp": int(time.time()) + 300,
            "roles": ["platform_admin"],
        }
    )
    async with gateway.client() as client:
        response = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})

    _problem(response, 401, "invalid_token")


async def test_a_token_for_another_audience_is_rejected(
    gateway: RunningGateway, make_token: Callable[..., str]
) -> None:
    token = make_token(aud="another-api")
    async with gateway.client() as client:
        response = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})

    body = _problem(response, 401, "invalid_token")
    assert "audience" in body["detail"]


async def test_a_token_of_another_issuer_is_rejected(
    gateway: RunningGateway, make_token: Callable[..., str]
) -> None:
    token = make_token(iss="https://evil.example")
    async with gateway.client() as client:
        response = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})

    _problem(response, 401, "invalid_token")


async def test_a_bad_token_on_a_public_route_is_still_401(gateway: RunningGateway) -> None:
    async with gateway.client() as client:
        response = await client.get(
            "/api/v1/tracking/REG-1", headers={"Authorization": "Bearer not-a-jwt"}
        )

    _problem(response, 401, "invalid_token")


async def test_a_role_the_route_does_not_admit_is_403(
    gateway: RunningGateway, make_token: Callable[..., str]
) -> None:
    token = make_token(roles=["citizen"])
    async with gateway.client() as client:
        response = await client.post(
            "/api/v1/clients", json={}, headers={"Authorization": f"Bearer {token}"}
        )

    _problem(response, 403, "forbidden")


async def test_an_mfa_enrolment_token_only_opens_the_enrolment_endpoints(
    gateway: RunningGateway, make_token: Callable[..., str]
) -> None:
    token = make_token(roles=["officer"], scope="mfa:enroll")
    async with gateway.client() as client:
        response = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})

    _problem(response, 403, "mfa_enrolment_required")


async def test_a_principal_header_forged_by_the_caller_is_stripped(
    gateway: RunningGateway, internal_secret: str
) -> None:
    # Even correctly signed (a leaked secret, a replay): the caller's X-MPP-* never pass.
    admin = Principal(subject="admin", roles=frozenset({"platform_admin"}))
    forged = encode_principal_headers(admin, internal_secret)
    async with gateway.client() as client:
        response = await client.get(
            "/api/v1/tracking/REG-1", headers={**forged, "X-MPP-Anything": "1"}
        )
        me = await client.get("/api/v1/me", headers=forged)

    assert response.status_code == 200
    assert response.json()["principal"] is None
    assert response.json()["internal_headers"] == []
    _problem(me, 401, "unauthorized")  # the forged principal opened nothing


async def test_forged_principal_headers_never_reach_the_service(
    gateway: RunningGateway, make_token: Callable[..., str], internal_secret: str
) -> None:
    admin = Principal(subject="admin", roles=frozenset({"platform_admin"}))
    forged = {**encode_principal_headers(admin, internal_secret), "X-MPP-Role": "platform_admin"}
    token = make_token(sub="citizen-2")
    async with gateway.client() as client:
        response = await client.get(
            "/api/v1/me",
            headers={**forged, "Authorization": f"Bearer {token}", "X-Forwarded-For": "10.9.9.9"},
        )

    echoed = response.json()
    assert echoed["principal"] == {"subject": "citizen-2", "roles": ["citizen"]}
    assert "x-mpp-role" not in echoed["headers"]
    assert echoed["headers"]["x-forwarded-for"] == "127.0.0.1"
