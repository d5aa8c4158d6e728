"""The gateway's HTTP/1.1 client against scripted servers: framing, reuse, failures."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest

from gateway.upstream import (
    UpstreamBroken,
    UpstreamPool,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from mpp_shared.embedded import free_port

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def scripted(handler: Handler) -> AsyncIterator[UpstreamPool]:
    connections: list[int] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        try:
            await handler(reader, writer)
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    pool = UpstreamPool("test", f"http://127.0.0.1:{port}", connect_timeout=1)
    pool.connections_made = connections  # type: ignore[attr-defined]
    try:
        yield pool
    finally:
        await pool.close()
        server.close()
        await server.wait_closed()


async def _read_request(reader: asyncio.StreamReader) -> bytes:
    return await reader.readuntil(b"\r\n\r\n")


async def _exchange(pool: UpstreamPool, method: str = "GET") -> tuple[int, bytes]:
    conn = await pool.connection()
    conn.begin(f"{method} / HTTP/1.1\r\nhost: x\r\n\r\n".encode(), head_only=method == "HEAD")
    await conn.response_head(2)
    body = b""
    while chunk := await conn.read(2):
        body += chunk
    conn.finish()
    return conn.status, body


async def test_keep_alive_connections_are_reused() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for _ in range(3):
            await _read_request(reader)
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
            await writer.drain()

    async with scripted(handler) as pool:
        results = [await _exchange(pool) for _ in range(3)]

        assert results == [(200, b"ok")] * 3
        assert len(pool.connections_made) == 1  # type: ignore[attr-defined]


async def test_chunked_and_close_delimited_bodies_are_read_whole() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
        )
        await _read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nuntil the end")
        await writer.drain()

    async with scripted(handler) as pool:
        assert await _exchange(pool) == (200, b"abcde")
        assert await _exchange(pool) == (200, b"until the end")


async def test_informational_responses_are_skipped_and_head_has_no_body() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(b"HTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\n")
        writer.write(b"HTTP/1.1 201 Created\r\ncontent-length: 1\r\n\r\nx")
        await _read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n")
        await writer.drain()
        await asyncio.sleep(0.2)

    async with scripted(handler) as pool:
        assert await _exchange(pool) == (201, b"x")
        assert await _exchange(pool, "HEAD") == (200, b"")


async def test_a_service_that_is_down_is_unavailable_at_once_and_for_a_moment() -> None:
    pool = UpstreamPool(
        "down", f"http://127.0.0.1:{free_port()}", connect_timeout=1, retry_after_seconds=5
    )
    started = asyncio.get_running_loop().time()
    with pytest.raises(UpstreamUnavailable):
        await pool.connection()
    with pytest.raises(UpstreamUnavailable, match="a moment ago"):
        await pool.connection()

    assert asyncio.get_running_loop().time() - started < 1
    await pool.close()


async def test_a_silent_service_times_out() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        await asyncio.sleep(2)

    async with scripted(handler) as pool:
        conn = await pool.connection()
        conn.begin(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n", head_only=False)
        with pytest.raises(UpstreamTimeout):
            await conn.response_head(0.2)
        conn.close()


async def test_a_connection_closed_before_the_response_is_broken_before_response() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)

    async with scripted(handler) as pool:
        conn = await pool.connection()
        conn.begin(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n", head_only=False)
        with pytest.raises(UpstreamBroken) as broken:
            await conn.response_head(2)

        assert broken.value.before_response


async def test_garbage_is_not_http() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(b"SSH-2.0-OpenSSH\r\n\r\n")
        await writer.drain()
        await asyncio.sleep(0.5)

    async with scripted(handler) as pool:
        conn = await pool.connection()
        conn.begin(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n", head_only=False)
        with pytest.raises(UpstreamBroken, match="invalid response"):
            await conn.response_head(2)
