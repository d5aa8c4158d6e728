"""The gateway's HTTP/1.1 server protocol: uvicorn's httptools protocol with bounded heads.

uvicorn's httptools protocol reads a request head of any size, any number of headers and at
any pace. At the public edge that is a way to exhaust memory or connections, so the gateway's
protocol refuses, before the app sees the request and with problem+json:

- a request line (URL) over ``max_request_line_bytes``: 414;
- one header line over ``max_header_line_bytes``, more than ``max_headers`` headers, or a head
  over ``max_head_bytes``: 431 (checked while the head arrives, so memory stays bounded);
- a head not complete ``client_head_timeout_seconds`` after its first byte (or after the
  connection opened): 408 (slow-loris);
- anything the parser (llhttp, strict) rejects: 400.

Each refusal ends the connection (what follows on it cannot be framed any more): the answer,
then a half-close, then whatever still arrives is thrown away until the caller closes, for two
seconds at most.

An answer that goes out before the request's body was all received (413 on a declared
length, a service refusing an upload early) leaves the rest of the body on the way: it is
read and thrown away so the caller, still sending, reads the answer instead of a reset, but
for ``client_linger_seconds`` at most, then the connection closes.
"""

from __future__ import annotations

import asyncio
import json
from asyncio import TimerHandle
from typing import Any, ClassVar

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

from gateway.config import GatewaySettings
from mpp_shared.problems import PROBLEM_CONTENT_TYPE, Problem

# Set in the scope of every request this protocol read: the app served by import path
# (``create_app_from_environment``) refuses requests read by any other server protocol.
BOUNDED_SCOPE_KEY = "gateway.bounded_head"

_REFUSALS = {
    400: ("bad_request", "The request is not valid HTTP/1.1."),
    408: ("request_timeout", "The request head did not arrive in time."),
    414: ("uri_too_long", "The request line is too long."),
    431: ("headers_too_large", "The request headers are too large or too many."),
}


class _Refused(Exception):
    """Raised from a parser callback to stop parsing; ``status`` is the answer."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


def refusal(status: int) -> bytes:
    """The whole problem+json response of a refusal by the server protocol."""
    code, detail = _REFUSALS[status]
    body = json.dumps(Problem(detail, status=status, code=code).to_body()).encode("utf-8")
    return b"".join(
        [
            STATUS_LINE[status],
            b"content-type: ",
            PROBLEM_CONTENT_TYPE.encode("ascii"),
            b"\r\ncontent-length: ",
            str(len(body)).encode("ascii"),
            b"\r\nconnection: close\r\n\r\n",
            body,
        ]
    )


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """``HttpToolsProtocol`` with the head limits and deadline of ``GatewaySettings``."""

    max_request_line: ClassVar[int] = 8 * 1024
    max_header_line: ClassVar[int] = 16 * 1024
    max_head: ClassVar[int] = 64 * 1024
    max_headers: ClassVar[int] = 100
    head_timeout: ClassVar[float] = 10.0
    linger: ClassVar[float] = 10.0

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        # Between requests or inside a head (not inside a body).
        self._in_head = True
        # When the head under way started (loop time; its first byte, or the connection).
        self._head_started = self.loop.time()
        # Bytes received while in a head (may include the start of a body: an upper bound).
        self._head_received = 0
        # Bytes of the head the parser reported (names and values of headers).
        self._head_size = 0
        # One timer per connection, not one per request: when it fires it checks the head
        # under way and sets itself again for that head's deadline.
        self._head_timer: TimerHandle | None = None
        self._linger_timer: TimerHandle | None = None
        self._refused = False
        # The status a parser callback refused the request with (it raised to stop parsing).
        self._pending = 0

    # ---- asyncio.Protocol ----------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        # A connection that never sends a whole head is closed too, not only a slow one.
        self._head_started = self.loop.time()
        self._head_timer = self.loop.call_at(
            self._head_started + self.head_timeout, self._check_head
        )

    def connection_lost(self, exc: Exception | None) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        self._cancel_linger()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        if self._in_head:
            if not self._head_received:
                self._head_started = self.loop.time()
                if self._head_timer is None:
                    self._head_timer = self.loop.call_at(
                        self._head_started + self.head_timeout, self._check_head
                    )
            self._head_received += len(data)
        super().data_received(data)
        if self._refused:
            return
        if self._in_head and self._head_received > self.max_head + self.max_request_line:
            # The parser holds an incomplete header it has not reported yet: stop it growing.
            self._refuse(431 if self.headers or self.url else 414)

    def send_400_response(self, msg: str) -> None:
        # The parser stopped on an error: our own refusal from a callback, or bad HTTP.
        self._refuse(self._pending or 400)

    # ---- parser callbacks (uvicorn's, with the limits; kept lean: once per request) -------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.scope[BOUNDED_SCOPE_KEY] = True  # type: ignore[literal-required]
        self._head_size = 0

    def on_url(self, url: bytes) -> None:
        self.url += url
        if len(self.url) > self.max_request_line:
            self._pending = 414
            raise _Refused(414)

    def on_header(self, name: bytes, value: bytes) -> None:
        line = len(name) + len(value) + 4
        self._head_size += line
        if (
            line > self.max_header_line
            or self._head_size > self.max_head
            or len(self.headers) >= self.max_headers
        ):
            self._pending = 431
            raise _Refused(431)
        # As uvicorn's on_header.
        name = name.lower()
        if name == b"expect" and value.lower() == b"100-continue":
            self.expect_100_continue = True
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._head_received = 0
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        if self._linger_timer is not None:
            self._cancel_linger()
        super().on_message_complete()
        # What follows is the next request's head; its clock starts with its first byte.
        self._in_head = True

    def on_response_complete(self) -> None:
        cycle = self.cycle
        super().on_response_complete()
        if cycle.more_body and not self.transport.is_closing():
            self._cancel_linger()
            self._linger_timer = self.loop.call_later(self.linger, self._linger_over)

    # ---- refusing ------------------------------------------------------------------------

    def _linger_over(self) -> None:
        self._linger_timer = None
        if not self.transport.is_closing():
            self.transport.close()

    def _cancel_linger(self) -> None:
        if self._linger_timer is not None:
            self._linger_timer.cancel()
            self._linger_timer = None

    def _refuse(self, status: int) -> None:
        self._refused = True
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        cycle = self.cycle
        if cycle is not None and cycle.response_started and not cycle.response_complete:
            # A response to an earlier request is under way: no room for ours. It ends the
            # connection when done, and nothing more is read.
            cycle.keep_alive = False
            return
        if cycle is not None and not cycle.response_complete:
            # The parser found the fault after the head (e.g. a transfer coding it cannot
            # frame) and the app was started: it answers nobody.
            cycle.disconnected = True
            cycle.message_event.set()
        transport.write(refusal(status))
        # Half-close and throw away what still arrives, for a moment: closing outright with
        # unread bytes would reset the connection, and the caller, still sending, would
        # lose the answer.
        if transport.can_write_eof():
            transport.write_eof()
            self._cancel_linger()
            self._linger_timer = self.loop.call_later(min(self.linger, 2.0), self._linger_over)
        else:
            transport.close()

    def _check_head(self) -> None:
        self._head_timer = None
        if self._refused or not self._in_head:
            return  # between requests: uvicorn's keep-alive timeout applies
        if self._head_received == 0 and self.cycle is not None:
            return  # idle after a request: the same
        due = self._head_started + self.head_timeout
        if self.loop.time() < due:
            self._head_timer = self.loop.call_at(due, self._check_head)
            return
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            # Still answering the previous request: its own deadlines apply.
            self._head_timer = self.loop.call_at(
                self.loop.time() + self.head_timeout, self._check_head
            )
            return
        self._refuse(408)


def protocol_for(settings: GatewaySettings) -> type[BoundedHttpToolsProtocol]:
    """The server protocol class with the limits of ``settings`` (uvicorn builds one per
    connection from the class, so the limits travel as class attributes)."""
    return type(
        "GatewayHttpProtocol",
        (BoundedHttpToolsProtocol,),
        {
            "max_request_line": settings.max_request_line_bytes,
            "max_header_line": settings.max_header_line_bytes,
            "max_head": settings.max_head_bytes,
            "max_headers": settings.max_headers,
            "head_timeout": settings.client_head_timeout_seconds,
            "linger": settings.client_linger_seconds,
        },
    )
