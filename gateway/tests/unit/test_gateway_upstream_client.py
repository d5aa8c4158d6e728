"""The gateway's HTTP/1.1 client against scripted servers: framing, reuse, failures."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest

from gateway.upstream import (
    UpstreamBroken,
    UpstreamBusy,
    UpstreamConnection,
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


async def test_a_service_down_for_several_requests_in_a_row_fails_fast_for_a_moment() -> None:
    pool = UpstreamPool(
        "down",
        f"http://127.0.0.1:{free_port()}",
        connect_timeout=1,
        retry_after_seconds=5,
        connect_attempts=2,
        connect_backoff_seconds=0.01,
        failure_threshold=2,
    )
    started = asyncio.get_running_loop().time()
    for _ in range(2):
        with pytest.raises(UpstreamUnavailable, match="cannot connect"):
            await pool.connection()
    with pytest.raises(UpstreamUnavailable, match="a moment ago"):
        await pool.connection()

    assert asyncio.get_running_loop().time() - started < 1
    await pool.close()


async def test_one_failed_connect_is_tried_again_and_does_not_fail_the_next_caller() -> None:
    port = free_port()
    pool = UpstreamPool(
        "flaky",
        f"http://127.0.0.1:{port}",
        connect_timeout=1,
        retry_after_seconds=5,
        connect_attempts=1,
        failure_threshold=3,
    )
    with pytest.raises(UpstreamUnavailable, match="cannot connect"):
        await pool.connection()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1)
        writer.close()

    # The address answers again (another replica behind it): the very next caller connects.
    server = await asyncio.start_server(serve, "127.0.0.1", port)
    try:
        conn = await pool.connection()
        assert not conn.closed
    finally:
        await pool.close()
        server.close()
        await server.wait_closed()


async def test_a_failed_connect_is_retried_with_a_backoff_within_one_request() -> None:
    port = free_port()
    pool = UpstreamPool(
        "late", f"http://127.0.0.1:{port}", connect_attempts=4, connect_backoff_seconds=0.1
    )
    servers: list[asyncio.Server] = []

    async def listen_soon() -> None:
        await asyncio.sleep(0.05)
        servers.append(await asyncio.start_server(lambda r, w: None, "127.0.0.1", port))

    opener = asyncio.create_task(listen_soon())
    try:
        conn = await pool.connection()
        assert not conn.closed
    finally:
        await opener
        await pool.close()
        for server in servers:
            server.close()


async def test_a_connection_is_not_reused_when_the_service_answered_before_the_whole_body() -> None:
    requests: list[bytes] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                head = await _read_request(reader)
            except asyncio.IncompleteReadError:
                return
            requests.append(head.split(b"\r\n", 1)[0])
            # Answers at once, without reading the announced body (like a 405 or 413).
            writer.write(b"HTTP/1.1 405 Method Not Allowed\r\ncontent-length: 0\r\n\r\n")
            await writer.drain()

    async with scripted(handler) as pool:
        conn = await pool.connection()
        conn.begin(
            b"POST /a HTTP/1.1\r\nhost: x\r\ncontent-length: 50000\r\n\r\n" + b"x" * 100,
            head_only=False,
            request_complete=False,
        )
        await conn.response_head(2)
        assert conn.status == 405
        assert await conn.read(2) == b""
        conn.finish()

        assert conn.closed
        assert await _exchange(pool) == (405, b"")
        assert len(pool.connections_made) == 2  # type: ignore[attr-defined]
        assert requests == [b"POST /a HTTP/1.1", b"GET / HTTP/1.1"]


async def test_bytes_after_a_complete_response_spoil_the_connection() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\na")
        await writer.drain()
        await asyncio.sleep(0.05)
        # A second, unasked-for response: it must never reach the next caller.
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\nforged")
        await writer.drain()
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            await _read_request(reader)
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\nb")
            await writer.drain()

    async with scripted(handler) as pool:
        assert await _exchange(pool) == (200, b"a")
        await asyncio.sleep(0.15)
        assert await _exchange(pool) == (200, b"a")
        assert len(pool.connections_made) == 2  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "response",
    [
        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 3\r\n\r\nabc",
        b"HTTP/1.1 200 OK\r\ncontent-length: -2\r\n\r\nab",
        b"HTTP/1.1 200 OK\r\ncontent-length: 0x2\r\n\r\nab",
    ],
    ids=["cl-and-te", "two-lengths", "negative-length", "hex-length"],
)
async def test_a_badly_framed_response_is_broken_and_never_reused(response: bytes) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(response)
        await writer.drain()
        await asyncio.sleep(0.5)

    async with scripted(handler) as pool:
        conn = await pool.connection()
        conn.begin(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n", head_only=False)
        with pytest.raises(UpstreamBroken, match="invalid response"):
            await conn.response_head(2)
        conn.finish()
        assert conn.closed
        assert pool.open_connections == 0


async def test_a_response_in_another_transfer_coding_is_read_to_the_close_and_not_reused() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: gzip\r\n\r\nabc")
        await writer.drain()

    async with scripted(handler) as pool:
        assert await _exchange(pool) == (200, b"abc")
        assert pool.open_connections == 0


async def test_the_connection_cap_queues_callers_first_come_first_served() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(5)

    async with scripted(handler) as pool:
        pool.max_connections, pool.queue_size, pool.queue_timeout = 1, 2, 2.0
        first = await pool.connection()
        order: list[str] = []

        async def wait(name: str) -> UpstreamConnection:
            conn = await pool.connection()
            order.append(name)
            return conn

        second = asyncio.create_task(wait("second"))
        await asyncio.sleep(0.01)
        third = asyncio.create_task(wait("third"))
        await asyncio.sleep(0.01)
        with pytest.raises(UpstreamBusy, match="queue is full"):
            await pool.connection()
        assert pool.waiting == 2

        # Given back: straight to the first in line. Closed: its slot to the next one.
        first.active, first.complete, first.request_complete = False, True, True
        pool.release(first)
        assert await second is first
        first.close()
        third_conn = await third
        assert order == ["second", "third"]
        assert third_conn is not first
        assert pool.open_connections == 1


async def test_a_caller_waiting_too_long_for_a_connection_is_busy() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(5)

    async with scripted(handler) as pool:
        pool.max_connections, pool.queue_size, pool.queue_timeout = 1, 5, 0.1
        await pool.connection()
        started = asyncio.get_running_loop().time()
        with pytest.raises(UpstreamBusy, match="in time"):
            await pool.connection()

        assert asyncio.get_running_loop().time() - started < 0.5
        assert pool.waiting == 0


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
