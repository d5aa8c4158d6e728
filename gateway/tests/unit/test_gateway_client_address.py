"""Which address a request comes from: the peer, unless the peer is a trusted proxy."""

from __future__ import annotations

import pytest

from gateway.config import GatewaySettings
from gateway.edge import CorsPolicy
from gateway.proxy import Proxy, _read_headers
from gateway.routes import RoutingTable
from mpp_shared.observability.metrics import HttpMetrics


def _proxy(trusted: list[str]) -> Proxy:
    settings = GatewaySettings(trusted_proxies=trusted, rate_limit_sync="local")
    return Proxy(
        settings, table=RoutingTable(), metrics=HttpMetrics("gateway-test"), cors=CorsPolicy([])
    )


def _client_ip(proxy: Proxy, peer: str, forwarded_for: str | None) -> str:
    headers = [(b"x-forwarded-for", forwarded_for.encode())] if forwarded_for else []
    scope = {"client": (peer, 50000), "headers": headers}
    return proxy._client_ip(scope, _read_headers(headers))


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "expected"),
    [
        ("203.0.113.7", None, "203.0.113.7"),
        ("203.0.113.7", "198.51.100.1", "203.0.113.7"),  # an untrusted peer cannot claim one
        ("10.0.0.5", "198.51.100.1", "198.51.100.1"),
        ("10.0.0.5", "6.6.6.6, 198.51.100.1, 10.0.0.9", "198.51.100.1"),  # rightmost untrusted
        ("10.0.0.5", "10.0.0.8", "10.0.0.5"),
        ("10.0.0.5", "not-an-address", "not-an-address"),
    ],
)
def test_the_client_address_behind_trusted_proxies(
    peer: str, forwarded_for: str | None, expected: str
) -> None:
    assert _client_ip(_proxy(["10.0.0.0/8"]), peer, forwarded_for) == expected


def test_without_trusted_proxies_forwarded_for_is_ignored() -> None:
    assert _client_ip(_proxy([]), "10.0.0.5", "198.51.100.1") == "10.0.0.5"


def test_caller_headers_the_gateway_sets_itself_are_not_forwarded() -> None:
    request = _read_headers(
        [
            (b"x-mpp-principal", b"forged"),
            (b"x-mpp-principal-signature", b"t=1,v1=00"),
            (b"x-forwarded-host", b"evil"),
            (b"forwarded", b"for=1.2.3.4"),
            (b"connection", b"keep-alive, X-Secret"),
            (b"accept", b"application/json"),
            (b"x-secret", b"for the next hop only"),
            (b"authorization", b"Bearer t"),
        ]
    )

    forwarded = b"".join(request.forward)
    assert forwarded == b"accept: application/json\r\nauthorization: Bearer t\r\n"
    assert request.authorization == b"Bearer t"


def test_conflicting_content_lengths_are_refused() -> None:
    request = _read_headers([(b"content-length", b"5"), (b"content-length", b"6")])

    assert request.bad_length
