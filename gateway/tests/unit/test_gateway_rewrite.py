"""A service's URL headers naming an internal address are rewritten to the public URL."""

from __future__ import annotations

import pytest

from gateway.config import GatewaySettings
from gateway.rewrite import InternalAddresses

ADDRESSES = InternalAddresses(
    ["http://127.0.0.1:8081", "http://catalog:8082", "http://application.mpp.svc:8083"],
    "https://mpp.example.go.id/",
)


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        (b"location", b"http://127.0.0.1:8081/api/v1/me", b"https://mpp.example.go.id/api/v1/me"),
        (b"location", b"http://CATALOG:8082/x?y=1#z", b"https://mpp.example.go.id/x?y=1#z"),
        (b"location", b"//application.mpp.svc:8083/a", b"https://mpp.example.go.id/a"),
        (b"location", b"http://127.0.0.1:8081", b"https://mpp.example.go.id"),
        (b"location", b"/api/v1/me", b"/api/v1/me"),
        (b"location", b"https://mpp.example.go.id/a", b"https://mpp.example.go.id/a"),
        (b"location", b"https://dukcapil.go.id/a", b"https://dukcapil.go.id/a"),
        (b"location", b"http://10.0.3.7:9000/a", None),
        (b"location", b"http://[::1]:9000/a", None),
        (b"location", b"http://identity/a", None),
        (b"content-location", b"http://127.0.0.1:8081/b", b"https://mpp.example.go.id/b"),
        (
            b"link",
            b'<http://127.0.0.1:8081/a?page=2>; rel="next", </b>; rel="up"',
            b'<https://mpp.example.go.id/a?page=2>; rel="next", </b>; rel="up"',
        ),
        (b"link", b'<http://192.168.1.4/a>; rel="next"', None),
        (b"refresh", b"0; url=http://127.0.0.1:8081/c", b"0; url=https://mpp.example.go.id/c"),
    ],
)
def test_internal_urls_become_public_or_go(
    name: bytes, value: bytes, expected: bytes | None
) -> None:
    assert ADDRESSES.rewrite(name, value) == expected


def test_the_public_url_on_loopback_in_development_is_left_alone() -> None:
    addresses = InternalAddresses(["http://127.0.0.1:8081"], "http://127.0.0.1:8080")

    assert addresses.rewrite(b"location", b"http://127.0.0.1:8080/a") == b"http://127.0.0.1:8080/a"
    assert addresses.rewrite(b"location", b"http://127.0.0.1:8081/a") == b"http://127.0.0.1:8080/a"


def test_the_metrics_port_is_internal_and_apart_from_the_public_one() -> None:
    settings = GatewaySettings(port=8080, environment="test")
    assert settings.metrics_listen_port == 9080
    assert settings.metrics_host == "127.0.0.1"
    assert GatewaySettings(port=8080, metrics_port=9100).metrics_listen_port == 9100
    assert GatewaySettings(port=8080, metrics_port=0).metrics_listen_port is None
