"""Text identity cannot store (NUL, lone surrogates) is a 422 on every route, never a 500."""

from __future__ import annotations

import pytest

from .conftest import Service


@pytest.mark.parametrize("username", ["warga1@mpp.local\x00", "\x00", "6409011203850001\x00"])
async def test_login_with_a_nul_in_the_username_is_422(service: Service, username: str) -> None:
    response = await service.login(username)

    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "invalid_text"


async def test_login_with_a_lone_surrogate_in_the_password_is_422(service: Service) -> None:
    response = await service.client.post(
        "/api/v1/auth/login",
        content=b'{"username": "warga1@mpp.local", "password": "x\\ud800"}',
        headers={"content-type": "application/json", "X-Forwarded-For": service.new_ip()},
    )

    assert response.status_code == 422, response.text
    assert response.json()["code"] == "invalid_text"


@pytest.mark.parametrize(
    "change",
    [
        {"full_name": "BUDI\x00SANTOSO"},
        {"email": "budi\x00@warga.test"},
        {"phone": "0812\x00"},
        {"password": "Rahasia#\x002026"},
    ],
)
async def test_registration_with_a_nul_in_any_field_is_422(
    service: Service, change: dict[str, str]
) -> None:
    response = await service.register(service.residents[3], **change)

    assert response.status_code == 422, response.text
    assert response.json()["code"] == "invalid_text"


async def test_token_endpoint_form_with_a_nul_is_422(service: Service) -> None:
    response = await service.client.post(
        "/oauth2/token",
        data={"grant_type": "client_credentials", "client_id": "x\x00", "client_secret": "y"},
    )

    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["loc"] == ["body", "client_id"]
