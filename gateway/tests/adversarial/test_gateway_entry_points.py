"""Every way of starting the gateway reads requests with its bounded server protocol.

``python -m gateway`` is what the other adversarial tests run. Here: the app an ASGI server
builds by import path (``--factory gateway.__main__:create_app_from_environment``) bounds heads
when served with ``--http gateway.__main__:HttpProtocol``, and refuses every request when a
server reads them with a protocol of its own (unbounded heads).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from mpp_shared.embedded import free_port


@contextlib.asynccontextmanager
async def _served_by_import_path(
    http: str, env: dict[str, str], port: int, log_path: Path
) -> AsyncIterator[None]:
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "gateway.__main__:create_app_from_environment",
        "--http",
        http,
        "--loop",
        "uvloop",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: ASYNC220 - starting it does not wait for it
            command, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(OSError):
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the server did not start:\n" + log_path.read_text())  # noqa: ASYNC240
            await asyncio.sleep(0.1)
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def _exchange(port: int, request: bytes) -> tuple[int, dict[str, Any]]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        status = int(head.split(b" ", 2)[1])
        length = next(
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        body = await asyncio.wait_for(reader.readexactly(length), 10)
        return status, json.loads(body) if body else {}
    finally:
        writer.close()


HEALTHZ = b"GET /healthz HTTP/1.1\r\nHost: gateway.test\r\n"


@pytest.fixture
def environment(gateway_launcher: Any) -> tuple[dict[str, str], int]:
    port = free_port()
    dead = f"http://127.0.0.1:{free_port()}"  # no service is needed to refuse a head
    return gateway_launcher.environment(dead, port), port


async def test_the_factory_served_with_the_gateway_protocol_bounds_heads(
    environment: tuple[dict[str, str], int], tmp_path: Path
) -> None:
    env, port = environment
    async with _served_by_import_path("gateway.__main__:HttpProtocol", env, port, tmp_path / "log"):
        status, _ = await _exchange(port, HEALTHZ + b"\r\n")
        assert status == 200

        many = b"".join(b"X-H%d: a\r\n" % i for i in range(101))
        status, body = await _exchange(port, HEALTHZ + many + b"\r\n")
        assert (status, body["code"]) == (431, "headers_too_large")

        long_url = b"GET /healthz?" + b"a" * (9 * 1024) + b" HTTP/1.1\r\nHost: g\r\n\r\n"
        status, body = await _exchange(port, long_url)
        assert (status, body["code"]) == (414, "uri_too_long")


async def test_the_factory_under_another_server_protocol_refuses_every_request(
    environment: tuple[dict[str, str], int], tmp_path: Path
) -> None:
    env, port = environment
    log_path = tmp_path / "log"
    async with _served_by_import_path("httptools", env, port, log_path):
        for request in (HEALTHZ, b"GET /api/v1/services HTTP/1.1\r\nHost: gateway.test\r\n"):
            status, body = await _exchange(port, request + b"\r\n")
            assert (status, body["code"]) == (500, "unbounded_server_protocol")
        # Unbounded heads are not served either: refused like any other request.
        many = b"".join(b"X-H%d: a\r\n" % i for i in range(500))
        status, body = await _exchange(port, HEALTHZ + many + b"\r\n")
        assert (status, body["code"]) == (500, "unbounded_server_protocol")
    assert "without the gateway's head bounds" in log_path.read_text()
