"""Several replicas of one service: the gateway spreads requests over them and skips dead ones."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from gateway.config import GatewaySettings
from gateway.edge import CorsPolicy
from gateway.proxy import Proxy
from gateway.readiness import upstream_readiness
from gateway.routes import RoutingTable
from mpp_shared.embedded import free_port
from mpp_shared.observability.metrics import HttpMetrics


class Replica:
    """A keep-alive HTTP/1.1 service that names itself in every answer."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.requests = 0
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                self.requests += 1
                path = head.split(b" ", 2)[1]
                status, body = (
                    (b"200 OK", b'{"status":"ready"}')
                    if path == b"/readyz"
                    else (b"200 OK", json.dumps({"replica": self.name}).encode())
                )
                writer.write(
                    b"HTTP/1.1 " + status + b"\r\ncontent-type: application/json\r\n"
                    b"content-length: %d\r\n\r\n" % len(body) + body
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


@pytest.fixture
async def replicas() -> AsyncIterator[list[Replica]]:
    started = [Replica("a"), Replica("b")]
    for replica in started:
        await replica.start()
    yield started
    for replica in started:
        await replica.stop()


def _proxy(catalog_url: str) -> Proxy:
    settings = GatewaySettings(
        rate_limit_sync="local",
        rate_limit_enabled=False,
        access_log=False,
        catalog_url=catalog_url,
        upstream_connect_backoff_seconds=0,
    )
    proxy = Proxy(
        settings, table=RoutingTable(), metrics=HttpMetrics("gateway-test"), cors=CorsPolicy([])
    )
    proxy.start(None, None)  # type: ignore[arg-type]  # public routes only: no token checked
    return proxy


async def _get(proxy: Proxy, path: str = "/api/v1/services") -> tuple[int, dict[str, Any]]:
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
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0]["status"], json.loads(body)


def test_a_service_url_may_name_several_replicas() -> None:
    settings = GatewaySettings(
        rate_limit_sync="local",
        catalog_url="http://127.0.0.1:8082, http://127.0.0.1:8182/",
    )

    assert settings.upstream_replicas()["catalog"] == (
        "http://127.0.0.1:8082",
        "http://127.0.0.1:8182",
    )
    assert settings.upstreams()["catalog"] == "http://127.0.0.1:8082"
    assert settings.upstream_replicas()["identity"] == ("http://127.0.0.1:8081",)
    with pytest.raises(ValidationError, match="twice"):
        GatewaySettings(catalog_url="http://127.0.0.1:8082,http://127.0.0.1:8082")


async def test_requests_are_spread_over_every_replica(replicas: list[Replica]) -> None:
    proxy = _proxy(",".join(replica.url for replica in replicas))
    try:
        answers = Counter()
        for _ in range(20):
            status, body = await _get(proxy)
            assert status == 200
            answers[body["replica"]] += 1
    finally:
        await proxy.stop()

    # One request at a time: each replica is as idle as the other, so they take turns.
    assert answers == {"a": 10, "b": 10}


async def test_a_replica_that_is_down_is_skipped_without_an_error(
    replicas: list[Replica],
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    proxy = _proxy(f"{dead},{replicas[0].url}")
    try:
        statuses = [await _get(proxy) for _ in range(12)]
        dead_pool = proxy.pools["catalog"].pools[0]
        # After a few refused connects the dead replica rests: tried last, not first.
        assert dead_pool.resting
    finally:
        await proxy.stop()

    assert all(status == 200 and body == {"replica": "a"} for status, body in statuses)
    assert replicas[0].requests == 12


async def test_every_replica_down_is_a_503_problem() -> None:
    proxy = _proxy(f"http://127.0.0.1:{free_port()},http://127.0.0.1:{free_port()}")
    try:
        status, body = await _get(proxy)
    finally:
        await proxy.stop()

    assert status == 503
    assert body["code"] == "service_unavailable"


async def test_a_service_is_ready_when_one_replica_is(replicas: list[Replica]) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    async with httpx.AsyncClient() as http:
        checks = upstream_readiness(
            {"catalog": (dead, replicas[1].url), "tracking": (dead,)}, lambda: http
        )
        assert await checks["catalog"]()
        assert not await checks["tracking"]()
