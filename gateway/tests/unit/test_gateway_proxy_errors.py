"""Whatever goes wrong inside the edge, the caller gets problem+json, never a stack trace."""

from __future__ import annotations

import json
from typing import Any

from gateway.config import GatewaySettings
from gateway.edge import CorsPolicy
from gateway.proxy import Proxy
from gateway.routes import RoutingTable
from mpp_shared.observability.metrics import HttpMetrics


class BrokenLimiter:
    def check(self, *args: Any) -> int | None:
        raise RuntimeError("a bug, with NIK 3573014101900001 in it")


async def _call(proxy: Proxy, path: str) -> list[dict[str, Any]]:
    scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"host", b"gateway.test")],
        "client": ("127.0.0.1", 1234),
        "scheme": "http",
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await proxy(scope, receive, send)
    return sent


def _proxy() -> Proxy:
    settings = GatewaySettings(rate_limit_sync="local", access_log=False)
    return Proxy(
        settings, table=RoutingTable(), metrics=HttpMetrics("gateway-test"), cors=CorsPolicy([])
    )


async def test_an_unexpected_error_is_a_500_problem() -> None:
    proxy = _proxy()
    proxy.limiter = BrokenLimiter()  # type: ignore[assignment]

    start, body = await _call(proxy, "/api/v1/tracking/REG-1")

    headers = dict(start["headers"])
    assert start["status"] == 500
    assert headers[b"content-type"] == b"application/problem+json"
    assert headers[b"x-request-id"]
    problem = json.loads(body["body"])
    assert problem["code"] == "internal_error"
    assert "3573" not in body["body"].decode()


async def test_an_unknown_path_is_a_404_problem_without_touching_a_service() -> None:
    start, body = await _call(_proxy(), "/internal/anything")

    assert start["status"] == 404
    assert json.loads(body["body"])["code"] == "not_found"
