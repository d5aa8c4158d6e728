"""Minimal forwarding proxies the gateway's structure was compared with (bench_gateway.py).

    python bench/gateway_alternatives.py VARIANT PORT UPSTREAM_URL

They forward only (no token check, no limits, no logging): the ceiling of each structure.
"""

from __future__ import annotations

import sys
from typing import Any

import uvicorn
from starlette.types import Message, Receive, Scope, Send

_HOP = frozenset({b"connection", b"keep-alive", b"transfer-encoding", b"host", b"content-length"})


class AiohttpForwarder:
    """Forwards with a tuned aiohttp ClientSession; ``start``/``stop`` own the session."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.session: Any = None

    async def start(self) -> None:
        import aiohttp

        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=4, ttl_dns_cache=None),
            auto_decompress=False,
            skip_auto_headers=("User-Agent", "Accept-Encoding"),
        )

    async def stop(self) -> None:
        await self.session.close()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send, start=self.start, stop=self.stop)
            return
        headers = {k.decode(): v.decode() for k, v in scope["headers"] if k not in _HOP}
        async with self.session.request(
            scope["method"], self.upstream + scope["path"], headers=headers
        ) as response:
            await send(
                {
                    "type": "http.response.start",
                    "status": response.status,
                    "headers": [
                        (k.lower(), v)
                        for k, v in response.raw_headers
                        if k.lower() not in _HOP or k.lower() == b"content-length"
                    ],
                }
            )
            async for chunk in response.content.iter_any():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})


def raw_aiohttp(upstream: str) -> Any:
    return AiohttpForwarder(upstream)


def raw_httpx(upstream: str) -> Any:
    import httpx

    state: dict[str, httpx.AsyncClient] = {}

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(
                receive,
                send,
                start=lambda: state.update(client=httpx.AsyncClient()),
                stop=lambda: state["client"].aclose(),
            )
            return
        headers = [(k, v) for k, v in scope["headers"] if k not in _HOP]
        request = state["client"].build_request(
            scope["method"], upstream + scope["path"], headers=headers
        )
        response = await state["client"].send(request, stream=True)
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": response.status_code,
                    "headers": [
                        (k.lower(), v)
                        for k, v in response.headers.raw
                        if k.lower() not in _HOP or k.lower() == b"content-length"
                    ],
                }
            )
            async for chunk in response.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        finally:
            await response.aclose()

    return app


def raw_native(upstream: str) -> Any:
    from gateway.upstream import UpstreamPool

    pool = UpstreamPool("upstream", upstream)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send, start=lambda: None, stop=pool.close)
            return
        lines = [
            scope["method"].encode(),
            b" ",
            scope["raw_path"],
            b" HTTP/1.1\r\nhost: ",
            pool.authority,
            b"\r\n",
        ]
        lines += [k + b": " + v + b"\r\n" for k, v in scope["headers"] if k not in _HOP]
        lines.append(b"\r\n")
        conn = await pool.connection()
        conn.begin(b"".join(lines), head_only=False)
        await conn.response_head(30)
        headers = [(k, v) for k, v in conn.headers if k not in _HOP or k == b"content-length"]
        await send({"type": "http.response.start", "status": conn.status, "headers": headers})
        while chunk := await conn.read(30):
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        conn.finish()

    return app


def fastapi_mount_aiohttp(upstream: str) -> Any:
    """The first gateway's structure: a FastAPI app with the proxy mounted at "/"."""
    from contextlib import asynccontextmanager

    from fastapi import FastAPI

    forwarder = AiohttpForwarder(upstream)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> Any:
        # Starlette does not run a mounted app's lifespan.
        await forwarder.start()
        yield
        await forwarder.stop()

    app = FastAPI(lifespan=lifespan)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    app.mount("/", forwarder)
    return app


async def _lifespan(receive: Receive, send: Send, *, start: Any, stop: Any) -> None:
    import inspect

    while True:
        message: Message = await receive()
        if message["type"] == "lifespan.startup":
            result = start()
            if inspect.isawaitable(result):
                await result
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            result = stop()
            if inspect.isawaitable(result):
                await result
            await send({"type": "lifespan.shutdown.complete"})
            return


FACTORIES = {
    "raw-aiohttp": raw_aiohttp,
    "raw-httpx": raw_httpx,
    "raw-native": raw_native,
    "fastapi-mount-aiohttp": fastapi_mount_aiohttp,
}

if __name__ == "__main__":
    variant, port, upstream_url = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    uvicorn.run(
        FACTORIES[variant](upstream_url),
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
    )
