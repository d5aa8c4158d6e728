"""Whose X-Forwarded-For the identity service believes: only the configured proxies'."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.requests import Request

from identity.api.deps import client_ip
from identity.components import build_components
from identity.config import IdentitySettings


def _request(peer: str, forwarded: str | None) -> Request:
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded else []
    scope: dict[str, Any] = {
        "type": "http",
        "method": "POST",
        "path": "/api/v1/auth/login",
        "headers": headers,
        "client": (peer, 40000),
    }
    return Request(scope)


async def _address(peer: str, forwarded: str | None, **settings: Any) -> str:
    components = build_components(IdentitySettings(environment="test", **settings))
    return await client_ip(_request(peer, forwarded), components)


@pytest.mark.parametrize("peer", ["10.0.0.5", "172.16.3.4", "192.168.1.10", "203.0.113.9"])
async def test_a_private_address_that_is_not_a_configured_proxy_cannot_name_the_caller(peer: str):
    assert await _address(peer, "198.51.100.7") == peer


@pytest.mark.parametrize("peer", ["127.0.0.1", "::1"])
async def test_by_default_the_gateway_on_loopback_names_the_caller(peer: str):
    assert await _address(peer, "198.51.100.7") == "198.51.100.7"


async def test_a_configured_gateway_address_names_the_caller():
    trusted = {"trusted_proxies": ("172.30.80.10/32",)}

    assert await _address("172.30.80.10", "198.51.100.7", **trusted) == "198.51.100.7"
    assert await _address("172.30.80.11", "198.51.100.7", **trusted) == "172.30.80.11"
    # Hops a caller wrote itself, left of the gateway's own entry, are not believed.
    assert await _address("172.30.80.10", "10.9.9.9, 198.51.100.7", **trusted) == "198.51.100.7"


def test_trusted_proxies_come_from_the_environment_as_a_json_list(
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.setenv("MPP_IDENTITY_TRUSTED_PROXIES", '["172.30.80.10/32", "fd00::10/128"]')

    assert IdentitySettings(environment="test").trusted_proxies == (
        "172.30.80.10/32",
        "fd00::10/128",
    )
