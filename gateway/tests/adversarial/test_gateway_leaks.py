"""Nothing internal through the public port: operational endpoints, internal addresses."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

Edge = Any  # the fixtures' types live in the conftest, which tests do not import
ISSUER = "http://gateway.test"  # the public_url of the test gateway


async def test_the_gateways_metrics_are_on_the_internal_port_only(edge: Edge) -> None:
    public = await edge.raw.get("/metrics")
    assert public.status == 404
    assert public.headers[b"content-type"] == b"application/problem+json"

    reader, writer = await asyncio.open_connection("127.0.0.1", edge.metrics_port)
    writer.write(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    assert data.startswith(b"HTTP/1.")
    assert b" 200 " in data.split(b"\r\n", 1)[0]
    assert b"http_requests_total" in data
    await edge.assert_served_promptly()


async def test_the_gateways_own_health_and_docs_stay_public(edge: Edge) -> None:
    for path in ("/healthz", "/openapi.json"):
        answer = await edge.raw.get(path)
        assert answer.status == 200, path


async def test_operational_paths_of_services_are_unreachable(edge: Edge) -> None:
    before = len(edge.identity.lines) + len(edge.tracking.lines)
    for path in (
        "/docs/",
        "/redoc/",
        "/api/v1/me/../../metrics",
        "/api/v1/me/%2e%2e/%2e%2e/metrics",
        "/api/v1/tracking/..%2F..%2F..%2Fmetrics",
        "/api/v1/tracking/x%2F..%2Fy",
        "//metrics",
        "/api/v1/tracking//../../../readyz",
        "/METRICS",
        "/Metrics",
    ):
        answer = await edge.raw.get(path)
        assert answer.status in (400, 404), (path, answer.status)
        assert answer.headers[b"content-type"] == b"application/problem+json"
    assert len(edge.identity.lines) + len(edge.tracking.lines) == before
    await edge.assert_served_promptly()


async def test_a_redirect_to_an_internal_address_is_rewritten_to_the_public_url(
    edge: Edge, make_token: Callable[..., str]
) -> None:
    answer = await edge.raw.get("/api/v1/me/", f"Authorization: Bearer {make_token()}")

    assert answer.status == 307
    assert answer.headers[b"location"] == f"{ISSUER}/api/v1/me".encode()
    assert answer.headers[b"content-location"] == f"{ISSUER}/api/v1/me/".encode()
    assert answer.headers[b"link"] == (
        f'<{ISSUER}/api/v1/me>; rel="canonical", </docs>; rel="help"'.encode()
    )
    internal = edge.identity.authority.encode()
    for name, value in answer.raw_headers:
        assert internal not in value, name
        assert b"127.0.0.1" not in value, name
    await edge.assert_served_promptly()
