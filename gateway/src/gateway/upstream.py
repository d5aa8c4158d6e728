"""A lean HTTP/1.1 client for the gateway's upstreams: keep-alive pools, streaming, flow control.

General clients (httpx, aiohttp) cost more CPU per request than the whole rest of the gateway
(docs/benchmarks.md); the gateway only ever forwards one request on one connection at a time,
so it speaks HTTP/1.1 itself over an asyncio protocol, with httptools (llhttp, as used by
uvicorn) parsing the responses. Bodies stream both ways with back-pressure: a slow client
pauses reading from the service, a slow service pauses writing from the client.

A connection goes back to its pool only after a clean exchange: the whole request sent, the
whole response read, keep-alive on both sides (``UpstreamConnection.finish``); otherwise the
service and the gateway could disagree on where the next request starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import deque
from collections.abc import Callable, Sequence
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


class UpstreamBusy(UpstreamError):
    """Every connection the service may have is in use and the wait queue is full or too slow."""


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
        # An exchange is under way (begin() .. finish()); bytes outside one are not HTTP.
        self.active = False
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
        # The whole request (head and body) went out: only then may the connection be reused.
        self.request_complete = False
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
        if not self.active or self.complete:
            # Bytes nobody asked for (on an idle connection, or after the response ended)
            # would be read as the next caller's response: the connection is spoilt.
            self.keep_alive = False
            self.close()
            return
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
        self.active = False
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

    def on_message_begin(self) -> None:
        if self.complete:
            # A second response to one request: whatever it is, it must not reach a caller.
            # Raising stops the parser (data_received then closes the connection); the
            # response already read stays good.
            self.keep_alive = False
            raise UpstreamBroken("a response nobody asked for", before_response=False)

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
        # No length and not chunked, or a transfer coding other than chunked last: the body
        # ends when the service closes (RFC 9112 6.3), and the connection is not reused.
        if b"transfer-encoding" in names:
            self._delimited_by_close = any(
                name == b"transfer-encoding" and value.strip().lower() != b"chunked"
                for name, value in self.headers
            )
        else:
            self._delimited_by_close = b"content-length" not in names and status not in (204, 304)
        if self._delimited_by_close:
            self.keep_alive = False
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

    def begin(self, data: bytes, *, head_only: bool, request_complete: bool = True) -> None:
        """Send the request head (and a body already at hand) of a new exchange.

        ``request_complete`` False: more of the body follows; call ``request_sent`` once the
        last of it is written, or the connection is closed at the end of the exchange.
        """
        self._reset()
        self.active = True
        self.head_only = head_only
        self.write(data)
        self.request_complete = request_complete

    def request_sent(self) -> None:
        self.request_complete = True

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

    def answer_waiter(self) -> asyncio.Future[None]:
        """A future done once the service answers or the exchange fails (to race against
        the caller's next piece of body); give it back with ``drop_answer_waiter``."""
        waiter = self._waiter = self.loop.create_future()
        if self.responded:
            waiter.set_result(None)
        return waiter

    def drop_answer_waiter(self, waiter: asyncio.Future[None]) -> None:
        if self._waiter is waiter:
            self._waiter = None

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
        """Give the connection back to the pool when the exchange ended cleanly, else close.

        Cleanly means: the whole request was sent, the whole response was read, and both
        sides allow keep-alive. Anything else (a service that answered before the body was
        all sent, a refused upload, a broken or odd response) leaves the two ends out of
        step, and the next caller's request would be read as the rest of this one.
        """
        self.active = False
        if (
            self.complete
            and self.request_complete
            and self.keep_alive
            and not self.closed
            and self._error is None
        ):
            self.exchanges += 1
            self.pool.release(self)
        else:
            self.close()

    def close(self) -> None:
        if self.transport is not None and not self.closed:
            self.transport.close()
        self.closed = True
        self.active = False
        # The slot is free now, not only when the transport reports the close later.
        self.pool.forget(self)

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
    """Connections to one service (``http://host:port``): at most ``max_connections`` open,
    idle ones reused newest first, callers beyond the cap served first come, first served.

    A caller that finds no idle connection and no free slot waits in a FIFO queue (at most
    ``queue_size`` callers, each at most ``queue_timeout`` seconds): a connection given back
    goes straight to the first waiter, a closed one frees a slot for it. ``UpstreamBusy``
    when the queue is full or the wait too long.

    A failed connect is tried again after a short backoff (nothing was sent, so any request
    may be retried); only after ``failure_threshold`` requests in a row found the service
    unreachable does the pool answer at once for ``retry_after_seconds``. Behind one address
    that balances over replicas (a Kubernetes Service), one dead replica does not fail them all.
    """

    def __init__(
        self,
        name: str,
        base_url: str,
        *,
        connect_timeout: float = 2.0,
        idle_seconds: float = 4.0,
        max_idle: int = 256,
        retry_after_seconds: float = 1.0,
        max_connections: int = 512,
        queue_size: int = 1024,
        queue_timeout: float = 5.0,
        connect_attempts: int = 3,
        connect_backoff_seconds: float = 0.05,
        failure_threshold: int = 5,
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
        self.max_connections = max(1, max_connections)
        self.queue_size = queue_size
        self.queue_timeout = queue_timeout
        self.connect_attempts = max(1, connect_attempts)
        self.connect_backoff_seconds = connect_backoff_seconds
        self.failure_threshold = max(1, failure_threshold)
        self._loop = loop
        self._idle: list[UpstreamConnection] = []
        self._all: set[UpstreamConnection] = set()
        # Slots taken by connects under way (counted against max_connections).
        self._connecting = 0
        # Callers waiting for a connection (result: a connection) or a slot (result: None).
        self._waiters: deque[asyncio.Future[UpstreamConnection | None]] = deque()
        self._failures = 0
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

    @property
    def resting(self) -> bool:
        """Found unreachable by the last requests: answering at once instead of connecting."""
        return self.loop.time() < self._down_until

    @property
    def in_use(self) -> int:
        """Connections open or being opened and not idle: exchanges under way."""
        return len(self._all) + self._connecting - len(self._idle)

    async def connection(
        self, *, fresh: bool = False, connect_attempts: int | None = None
    ) -> UpstreamConnection:
        """An idle connection, or a new one, or the first one free; raises
        ``UpstreamUnavailable`` (cannot connect) or ``UpstreamBusy`` (cap and queue full).

        ``connect_attempts`` overrides the pool's own (1: fail at once, another replica
        is there to try)."""
        if not fresh:
            idle = self.idle_connection()
            if idle is not None:
                return idle
        if self._closed:
            raise UpstreamUnavailable("the gateway is stopping")
        if self.loop.time() < self._down_until:
            raise UpstreamUnavailable(f"{self.name} was unreachable a moment ago")
        if len(self._all) + self._connecting < self.max_connections:
            self._connecting += 1
        else:
            handed = await self._wait_in_line()
            if handed is not None:
                return handed
            # A slot was reserved for this caller (_connecting counts it).
        return await self._connect(connect_attempts or self.connect_attempts)

    async def _wait_in_line(self) -> UpstreamConnection | None:
        if len(self._waiters) >= self.queue_size:
            raise UpstreamBusy(f"{self.name}: every connection is busy and the queue is full")
        loop = self.loop
        waiter: asyncio.Future[UpstreamConnection | None] = loop.create_future()
        self._waiters.append(waiter)
        timer = loop.call_later(self.queue_timeout, _expire_wait, waiter, self.name)
        try:
            return await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                # Handed something just as the caller gave up: pass it on.
                given = waiter.result()
                if given is None:
                    self._connecting -= 1
                    self._grant_slot()
                else:
                    self.release(given)
            with contextlib.suppress(ValueError):
                self._waiters.remove(waiter)
            raise
        finally:
            timer.cancel()

    async def _connect(self, attempts: int) -> UpstreamConnection:
        """Open a connection in the slot already reserved; a few tries with a short backoff."""
        loop = self.loop
        factory: Callable[[], UpstreamConnection] = lambda: UpstreamConnection(self)  # noqa: E731
        error: BaseException | None = None
        try:
            for attempt in range(max(1, attempts)):
                if attempt:
                    delay = self.connect_backoff_seconds * (2 ** (attempt - 1))
                    await asyncio.sleep(delay * (0.5 + random.random()))  # noqa: S311
                try:
                    _, conn = await asyncio.wait_for(
                        loop.create_connection(factory, self.host, self.port),
                        self.connect_timeout,
                    )
                except (OSError, TimeoutError) as exc:
                    error = exc
                    continue
                self._failures = 0
                self._down_until = 0.0
                self._connecting -= 1
                self._all.add(conn)
                return conn
        except BaseException:
            self._connecting -= 1
            self._grant_slot()
            raise
        self._connecting -= 1
        self._grant_slot()
        self._failures += 1
        if self._failures >= self.failure_threshold:
            self._down_until = loop.time() + self.retry_after_seconds
        raise UpstreamUnavailable(f"cannot connect to {self.name}: {error}") from error

    def _next_waiter(self) -> asyncio.Future[UpstreamConnection | None] | None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                return waiter
        return None

    def _grant_slot(self) -> None:
        """A slot came free: the first waiter may open a connection in it."""
        if self._closed or len(self._all) + self._connecting >= self.max_connections:
            return
        waiter = self._next_waiter()
        if waiter is not None:
            self._connecting += 1
            waiter.set_result(None)

    def release(self, conn: UpstreamConnection) -> None:
        if self._closed or conn.closed:
            conn.close()
            return
        waiter = self._next_waiter()
        if waiter is not None:
            waiter.set_result(conn)
            return
        if len(self._idle) >= self.max_idle:
            conn.close()
            return
        conn.idle_since = self.loop.time()
        self._idle.append(conn)

    def forget(self, conn: UpstreamConnection) -> None:
        if conn not in self._all:
            return
        self._all.discard(conn)
        if conn in self._idle:
            self._idle.remove(conn)
        self._grant_slot()

    @property
    def open_connections(self) -> int:
        return len(self._all)

    @property
    def waiting(self) -> int:
        return sum(1 for waiter in self._waiters if not waiter.done())

    async def close(self) -> None:
        self._closed = True
        while (waiter := self._next_waiter()) is not None:
            waiter.set_exception(UpstreamUnavailable("the gateway is stopping"))
        for conn in list(self._all):
            conn.close()
        self._idle.clear()
        # Let the transports run their connection_lost callbacks.
        await asyncio.sleep(0)


class UpstreamReplicas:
    """The pools of every replica of one service, and which of them takes the next request.

    The replica with the fewest exchanges under way goes first, ties taken in turn (round
    robin); replicas found unreachable a moment ago (``UpstreamPool.resting``) go last. A
    caller tries the replicas in that order until one connects: nothing has been sent to a
    replica it could not connect to, so any request may go on to the next.
    """

    def __init__(self, name: str, base_urls: Sequence[str], **pool_options: Any) -> None:
        if not base_urls:
            raise ValueError(f"upstream {name}: no replica")
        self.name = name
        self.pools = [UpstreamPool(name, url, **pool_options) for url in base_urls]
        self._turn = 0

    def __len__(self) -> int:
        return len(self.pools)

    def candidates(self) -> list[UpstreamPool]:
        """Every replica, in the order to try them for the next request."""
        pools = self.pools
        if len(pools) == 1:
            return pools
        start = self._turn % len(pools)
        self._turn += 1
        rotated = pools[start:] + pools[:start]
        # sorted() is stable: among equally loaded replicas the rotation decides.
        return sorted(rotated, key=lambda pool: (pool.resting, pool.in_use))

    @property
    def open_connections(self) -> int:
        return sum(pool.open_connections for pool in self.pools)

    async def close(self) -> None:
        for pool in self.pools:
            await pool.close()


def _expire_wait(waiter: asyncio.Future[UpstreamConnection | None], name: str) -> None:
    if not waiter.done():
        waiter.set_exception(UpstreamBusy(f"{name}: no connection came free in time"))


def describe(error: BaseException) -> dict[str, Any]:
    return {"error": type(error).__name__, "detail": str(error)}
