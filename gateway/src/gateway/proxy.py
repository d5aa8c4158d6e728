"""Forwards a public request to the service that owns its path, streaming both ways."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import aiohttp
from starlette.types import Message, Receive, Scope, Send

from gateway.config import GatewaySettings
from gateway.routes import RoutingTable
from mpp_shared.observability.context import outgoing_headers
from mpp_shared.problems import Problem, problem_response

log = logging.getLogger(__name__)

# RFC 9110 §7.6.1: meaningful for one connection only, never forwarded.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)
# Set by the gateway alone; a caller's copy is dropped so that nobody can forge them.
GATEWAY_HEADERS = frozenset(
    {"x-request-id", "traceparent", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host"}
)


class Proxy:
    """An ASGI app: the gateway's catch-all below its own endpoints."""

    def __init__(self, settings: GatewaySettings, table: RoutingTable | None = None) -> None:
        self.settings = settings
        self.table = table or RoutingTable()
        self.upstreams = settings.upstreams()
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=30),
            timeout=aiohttp.ClientTimeout(
                total=None,
                connect=self.settings.upstream_connect_timeout_seconds,
                sock_read=self.settings.upstream_timeout_seconds,
            ),
            auto_decompress=False,
            skip_auto_headers=("User-Agent", "Accept-Encoding", "Content-Type"),
        )

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("proxy not started")
        return self._session

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        route = self.table.match(path)
        if route is None:
            await _answer(scope, send, Problem("No such endpoint.", status=404, code="not_found"))
            return
        url = self.upstreams[route.service] + scope.get("raw_path", path.encode()).decode("latin-1")
        if scope.get("query_string"):
            url += "?" + scope["query_string"].decode("latin-1")

        headers = self._request_headers(scope)
        has_body = any(k == "content-length" and v != "0" for k, v in headers.items()) or any(
            name == b"transfer-encoding" for name, _ in scope["headers"]
        )
        headers.pop("content-length", None)
        data = _request_body(receive) if has_body else None
        if not has_body:
            # Forward an explicit empty body, so that the upstream need not guess.
            headers["content-length"] = "0"
        else:
            for name, value in scope["headers"]:
                if name == b"content-length":
                    headers["content-length"] = value.decode("latin-1")

        try:
            async with self.session.request(
                scope["method"], url, headers=headers, data=data, allow_redirects=False,
                compress=None,
            ) as upstream:
                await send(
                    {
                        "type": "http.response.start",
                        "status": upstream.status,
                        "headers": [
                            (k.lower(), v)
                            for k, v in upstream.raw_headers
                            if k.decode("latin-1").lower() not in HOP_BY_HOP
                            or k.lower() == b"content-length"
                        ],
                    }
                )
                async for chunk in upstream.content.iter_any():
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        except (aiohttp.ClientConnectorError, aiohttp.ServerDisconnectedError) as exc:
            log.warning("upstream unavailable", extra={"service": route.service, "error": str(exc)})
            await _answer(
                scope,
                send,
                Problem(
                    f"The {route.service} service is not available. Try again shortly.",
                    status=503,
                    code="service_unavailable",
                    headers={"Retry-After": "5"},
                ),
            )
        except TimeoutError:
            await _answer(
                scope,
                send,
                Problem(
                    f"The {route.service} service did not answer in time.",
                    status=504,
                    code="gateway_timeout",
                ),
            )

    def _request_headers(self, scope: Scope) -> dict[str, str]:
        headers: dict[str, str] = {}
        host = ""
        for raw_name, raw_value in scope["headers"]:
            name = raw_name.decode("latin-1").lower()
            value = raw_value.decode("latin-1")
            if name == "host":
                host = value
            if name in HOP_BY_HOP or name in GATEWAY_HEADERS:
                continue
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        client = scope.get("client")
        if client:
            headers["x-forwarded-for"] = client[0]
        headers["x-forwarded-proto"] = scope.get("scheme", "http")
        if host:
            headers["x-forwarded-host"] = host
        headers.update({k.lower(): v for k, v in outgoing_headers().items()})
        return headers


async def _request_body(receive: Receive) -> AsyncIterator[bytes]:
    while True:
        message: Message = await receive()
        if message["type"] == "http.disconnect":
            raise asyncio.CancelledError("client went away")
        body = message.get("body", b"")
        if body:
            yield body
        if not message.get("more_body", False):
            return


async def _answer(scope: Scope, send: Send, problem: Problem) -> None:
    response = problem_response(problem)

    async def no_body() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    await response(scope, no_body, send)
