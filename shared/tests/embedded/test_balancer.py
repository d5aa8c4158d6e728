"""The TCP balancer of ``make run`` with replicas: spreads connections, skips a dead backend."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator

import pytest

from mpp_shared.embedded import free_port
from mpp_shared.embedded.balancer import TcpBalancer


class NamedEcho:
    """Answers every line with its name and the line; closes after the caller's half-close."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while line := await reader.readline():
            writer.write(self.name.encode() + b":" + line)
            await writer.drain()
        writer.write(b"bye from " + self.name.encode() + b"\n")
        writer.close()

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()


@pytest.fixture
async def backends() -> AsyncIterator[list[tuple[NamedEcho, int]]]:
    started = []
    for name in ("a", "b"):
        echo = NamedEcho(name)
        started.append((echo, await echo.start()))
    yield started
    for echo, _ in started:
        await echo.stop()


async def _talk(port: int, line: bytes) -> list[bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(line)
    await writer.drain()
    first = await reader.readline()
    writer.write_eof()  # the half-close must reach the backend, and its last words come back
    rest = await reader.read()
    writer.close()
    return [first, rest]


async def test_connections_are_spread_and_half_closes_passed_on(
    backends: list[tuple[NamedEcho, int]],
) -> None:
    balancer = TcpBalancer(("127.0.0.1", 0), [("127.0.0.1", port) for _, port in backends])
    await balancer.start()
    try:
        answers = [await _talk(balancer.port, b"hello\n") for _ in range(6)]
    finally:
        await balancer.stop()

    names = Counter(first.split(b":")[0] for first, _ in answers)
    assert names == {b"a": 3, b"b": 3}
    for first, rest in answers:
        name = first.split(b":")[0]
        assert first == name + b":hello\n"
        assert rest == b"bye from " + name + b"\n"


async def test_a_dead_backend_is_skipped(backends: list[tuple[NamedEcho, int]]) -> None:
    alive = backends[0][1]
    balancer = TcpBalancer(("127.0.0.1", 0), [("127.0.0.1", free_port()), ("127.0.0.1", alive)])
    await balancer.start()
    try:
        answers = [await _talk(balancer.port, b"x\n") for _ in range(4)]
    finally:
        await balancer.stop()

    assert [first for first, _ in answers] == [b"a:x\n"] * 4
    assert balancer.backends[0].connections == 0
    assert balancer.backends[1].connections == 4


async def test_with_no_backend_left_the_connection_is_closed() -> None:
    balancer = TcpBalancer(("127.0.0.1", 0), [("127.0.0.1", free_port())])
    await balancer.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", balancer.port)
        assert await asyncio.wait_for(reader.read(), 5) == b""
        writer.close()
    finally:
        await balancer.stop()
