"""A lean HTTP/1.1 client for the gateway's upstreams: keep-alive pools, streaming, flow control.

General clients (httpx, aiohttp) cost more CPU per request than the whole rest of the gateway
(docs/benchmarks.md); the gateway only ever forwards one request on one connection at a time,
so it speaks HTTP/1.1 itself over an asyncio protocol, with httptools (llhttp, as used by
uvicorn) parsing the responses. Bodies stream both ways with back-pressure: a slow client
pauses reading from the service, a slow service pauses writing from the client.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from typing import Any, cast
from urllib.parse import urlsplit

import httptools

log = logging.getLogger(__name__)

# Pause reading from a service once this much of its response waits for a slow client.
READ_HIGH_WATER = 256 * 1024
READ_LOW_WATER = 64 * 1024


class UpstreamError(Exception):
    """The exchange with the service failed; the subclass says how."""


class UpstreamUnavailable(UpstreamError):
    """No connection to the service could be opened."""


class UpstreamTimeout(UpstreamError):
    """The service did not answer (or went silent) in time."""


class UpstreamBroken(UpstreamError):
    """The connection broke or the service sent something that is not HTTP."""

    def __init__(self, message: str, *, before_response: bool) -> None:
        super().__init__(message)
        # Nothing of the response arrived: a request without a body may be sent again.
        self.before_response = before_response


class UpstreamConnection(asyncio.Protocol):
    """One keep-alive connection to a service, carrying one exchange at a time."""

    def __init__(self, pool: UpstreamPool) -> None:
        self.pool = pool
        self.loop = pool.loop
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.exchanges = 0
        self.idle_since = 0.0
        self.closed = False
        self._reset()
        self._write_paused = False
        self._drain_waiter: asyncio.Future[None] | None = None

    def _reset(self) -> None:
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.head_done = False
        self.complete = False
        self.keep_alive = True
        self.head_only = False
        self.received_any = False
        self._delimited_by_close = False
        self._informational = False
        self._body: deque[bytes] = deque()
        self._buffered = 0
        self._reading_paused = False
        self._waiter: asyncio.Future[None] | None = None
        self._error: UpstreamError | None = None

    # ---- asyncio.Protocol ----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.received_any = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(
                UpstreamBroken(f"invalid response: {exc}", before_response=not self.head_done)
            )
            self.close()

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.pool.forget(self)
        if self.head_done and not self.complete and self._delimited_by_close and exc is None:
            self.complete = True
            self.keep_alive = False
            self._wake()
        if not self.complete:
            self._fail(
                UpstreamBroken(
                    "connection closed by the service", before_response=not self.received_any
                )
            )
        waiter = self._drain_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        waiter = self._drain_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # ---- httptools callbacks -------------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.lower(), value))

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code()
        if 100 <= status < 200:
            # 100 Continue, 103 Early Hints: the real response follows.
            self._informational = True
            self.headers = []
            return
        self.status = status
        self.head_done = True
        names = {name for name, _ in self.headers}
        # No length and not chunked: the body ends when the service closes (RFC 9112 6.3).
        self._delimited_by_close = (
            b"content-length" not in names
            and b"transfer-encoding" not in names
            and status not in (204, 304)
        )
        if self.head_only:
            # A HEAD response announces a body it does not send; llhttp cannot be told, so
            # the exchange ends here and the connection is not reused.
            self.complete = True
            self.keep_alive = False
        self._wake()

    def on_body(self, body: bytes) -> None:
        if self.head_only:
            return
        self._body.append(body)
        self._buffered += len(body)
        if self._buffered > READ_HIGH_WATER and not self._reading_paused and self.transport:
            self._reading_paused = True
            self.transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        if self._informational:
            self._informational = False
            return
        if self.complete:
            return
        self.complete = True
        self.keep_alive = self.keep_alive and self.parser.should_keep_alive()
        self._wake()

    # ---- the exchange --------------------------------------------------------------------

    def begin(self, data: bytes, *, head_only: bool) -> None:
        """Send the request head (and a body already at hand) of a new exchange."""
        self._reset()
        self.head_only = head_only
        self.write(data)

    def write(self, data: bytes) -> None:
        if self.transport is None or self.closed:
            raise UpstreamBroken("connection closed by the service", before_response=True)
        self.transport.write(data)

    @property
    def write_paused(self) -> bool:
        return self._write_paused

    async def drain(self) -> None:
        """Wait until the service has taken what was written (back-pressure on uploads)."""
        if not self._write_paused or self.closed:
            return
        self._drain_waiter = self.loop.create_future()
        try:
            await self._drain_waiter
        finally:
            self._drain_waiter = None

    @property
    def responded(self) -> bool:
        """The service has answered (e.g. refused an upload before it was all sent)."""
        return self.head_done or self._error is not None

    async def response_head(self, limit_seconds: float | None) -> None:
        """Wait for the status and headers of the response."""
        while not self.head_done:
            if self._error is not None:
                raise self._error
            await self._wait(limit_seconds)

    async def read(self, limit_seconds: float | None) -> bytes:
        """The next piece of the body, b"" at its end."""
        while True:
            if self._body:
                chunk = self._body.popleft()
                self._buffered -= len(chunk)
                if self._reading_paused and self._buffered < READ_LOW_WATER and self.transport:
                    self._reading_paused = False
                    self.transport.resume_reading()
                return chunk
            if self.complete:
                return b""
            if self._error is not None:
                raise self._error
            await self._wait(limit_seconds)

    def read_all_buffered(self) -> bytes | None:
        """The whole body when it has already arrived (small responses), else None."""
        if not self.complete:
            return None
        if len(self._body) == 1:
            body = self._body.popleft()
        else:
            body = b"".join(self._body)
            self._body.clear()
        self._buffered = 0
        return body

    def finish(self) -> None:
        """Give the connection back to the pool when the exchange ended cleanly, else close."""
        if self.complete and self.keep_alive and not self.closed and self._error is None:
            self.exchanges += 1
            self.pool.release(self)
        else:
            self.close()

    def close(self) -> None:
        if self.transport is not None and not self.closed:
            self.transport.close()
        self.closed = True

    def usable(self, now: float) -> bool:
        return not self.closed and now - self.idle_since < self.pool.idle_seconds

    # ---- waiting -------------------------------------------------------------------------

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _fail(self, error: UpstreamError) -> None:
        if self._error is None:
            self._error = error
        self._wake()

    async def _wait(self, limit_seconds: float | None) -> None:
        waiter = self._waiter = self.loop.create_future()
        timer = None
        if limit_seconds is not None:
            timer = self.loop.call_later(limit_seconds, _expire, waiter)
        try:
            await waiter
        finally:
            self._waiter = None
            if timer is not None:
                timer.cancel()


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(UpstreamTimeout("the service did not answer in time"))


class UpstreamPool:
    """Keep-alive connections to one service (``http://host:port``), reused newest first."""

    def __init__(
        self,
        name: str,
        base_url: str,
        *,
        connect_timeout: float = 2.0,
        idle_seconds: float = 4.0,
        max_idle: int = 256,
        retry_after_seconds: float = 1.0,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"upstream {name}: only http://host:port URLs, got {base_url!r}")
        self.name = name
        self.host = parts.hostname
        self.port = parts.port or 80
        self.authority = f"{self.host}:{self.port}".encode("ascii")
        self.connect_timeout = connect_timeout
        self.idle_seconds = idle_seconds
        self.max_idle = max_idle
        self.retry_after_seconds = retry_after_seconds
        self._loop = loop
        self._idle: list[UpstreamConnection] = []
        self._all: set[UpstreamConnection] = set()
        self._down_until = 0.0
        self._closed = False

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        return self._loop

    def idle_connection(self) -> UpstreamConnection | None:
        """A kept-alive connection ready for a request, if there is one (no waiting)."""
        if not self._idle:
            return None
        now = self.loop.time()
        while self._idle:
            conn = self._idle.pop()
            if conn.usable(now):
                return conn
            conn.close()
        return None

    async def connection(self, *, fresh: bool = False) -> UpstreamConnection:
        """An idle connection, or a new one; raises ``UpstreamUnavailable``."""
        loop = self.loop
        now = loop.time()
        if not fresh:
            idle = self.idle_connection()
            if idle is not None:
                return idle
        if now < self._down_until:
            raise UpstreamUnavailable(f"{self.name} was unreachable a moment ago")
        if self._closed:
            raise UpstreamUnavailable("the gateway is stopping")
        factory: Callable[[], UpstreamConnection] = lambda: UpstreamConnection(self)  # noqa: E731
        try:
            _, conn = await asyncio.wait_for(
                loop.create_connection(factory, self.host, self.port), self.connect_timeout
            )
        except (OSError, TimeoutError) as exc:
            self._down_until = loop.time() + self.retry_after_seconds
            raise UpstreamUnavailable(f"cannot connect to {self.name}: {exc}") from exc
        self._down_until = 0.0
        self._all.add(conn)
        return conn

    def release(self, conn: UpstreamConnection) -> None:
        if self._closed or len(self._idle) >= self.max_idle:
            conn.close()
            return
        conn.idle_since = self.loop.time()
        self._idle.append(conn)

    def forget(self, conn: UpstreamConnection) -> None:
        self._all.discard(conn)
        if conn in self._idle:
            self._idle.remove(conn)

    @property
    def open_connections(self) -> int:
        return len(self._all)

    async def close(self) -> None:
        self._closed = True
        for conn in list(self._all):
            conn.close()
        self._idle.clear()
        # Let the transports run their connection_lost callbacks.
        await asyncio.sleep(0)


def describe(error: BaseException) -> dict[str, Any]:
    return {"error": type(error).__name__, "detail": str(error)}
