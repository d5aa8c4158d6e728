"""A small TCP balancer for ``make run`` with replicas: one public port, several gateways.

Each accepted connection goes to the backend with the fewest connections open through the
balancer, ties taken in turn; a backend that refuses the connection is skipped for the next
one, so a gateway that was stopped or killed costs its callers nothing but a reconnect. Bytes
are copied both ways with back-pressure, and a half-close on one side is passed on.

Run as ``python -m mpp_shared.embedded.balancer --listen 127.0.0.1:8080 --backend
127.0.0.1:8180 --backend 127.0.0.1:8280``. It works at the TCP level: the gateways see the
balancer's address as the caller's (on one machine, 127.0.0.1 either way).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
from collections.abc import Sequence
from dataclasses import dataclass

log = logging.getLogger(__name__)

CHUNK = 64 * 1024


@dataclass
class Backend:
    host: str
    port: int
    active: int = 0
    connections: int = 0  # accepted so far, for the logs and the tests

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


def parse_address(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"not host:port: {value!r}")
    return host, int(port)


class TcpBalancer:
    def __init__(
        self,
        listen: tuple[str, int],
        backends: Sequence[tuple[str, int]],
        *,
        connect_timeout: float = 2.0,
    ) -> None:
        if not backends:
            raise ValueError("a balancer needs at least one backend")
        self.listen = listen
        self.backends = [Backend(host, port) for host, port in backends]
        self.connect_timeout = connect_timeout
        self._turn = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int:
        """The port listened on (useful when started on port 0)."""
        if self._server is None:
            return self.listen[1]
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        host, port = self.listen
        self._server = await asyncio.start_server(self._accept, host, port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def order(self) -> list[Backend]:
        """Backends in the order the next connection tries them."""
        start = self._turn % len(self.backends)
        self._turn += 1
        rotated = self.backends[start:] + self.backends[:start]
        return sorted(rotated, key=lambda backend: backend.active)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            await self._serve(reader, writer)
        finally:
            if task is not None:
                self._tasks.discard(task)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        chosen: Backend | None = None
        for backend in self.order():
            try:
                upstream = await asyncio.wait_for(
                    asyncio.open_connection(backend.host, backend.port), self.connect_timeout
                )
            except (OSError, TimeoutError):
                log.info("backend refused a connection", extra={"backend": backend.address})
                continue
            chosen = backend
            break
        if upstream is None or chosen is None:
            # No gateway at all: the caller sees its connection closed, as with none listening.
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
            return
        chosen.active += 1
        chosen.connections += 1
        up_reader, up_writer = upstream
        try:
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        finally:
            chosen.active -= 1
            for side in (writer, up_writer):
                side.close()
                with contextlib.suppress(ConnectionError, asyncio.CancelledError):
                    await side.wait_closed()


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    try:
        while data := await source.read(CHUNK):
            sink.write(data)
            await sink.drain()
        # The other side finished sending: pass the half-close on, keep reading the answer.
        if sink.can_write_eof():
            sink.write_eof()
    except ConnectionError:
        sink.close()


async def _run(listen: tuple[str, int], backends: Sequence[tuple[str, int]]) -> None:
    balancer = TcpBalancer(listen, backends)
    await balancer.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(
        f"balancing {listen[0]}:{listen[1]} over "
        + ", ".join(backend.address for backend in balancer.backends),
        flush=True,
    )
    await stop.wait()
    await balancer.stop()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", required=True, help="host:port to accept connections on")
    parser.add_argument("--backend", action="append", required=True, help="host:port (repeat)")
    args = parser.parse_args(argv)
    asyncio.run(_run(parse_address(args.listen), [parse_address(b) for b in args.backend]))


if __name__ == "__main__":
    main()
