"""A real gateway (``python -m gateway``) between raw-socket attackers and recording upstreams.

``RecordingUpstream`` is a small HTTP/1.1 server on llhttp (httptools, as uvicorn parses) that
records the request line of every request it parses on any connection, so a request hidden
in a body or left over on a kept-alive connection shows up as a line nobody sent. It answers
like the services do: early (before reading the body) where a service refuses a request on
its head, never where a service hangs, with an internal ``Location`` where FastAPI redirects.

The attack side speaks raw bytes over asyncio streams (``RawClient``), never httpx: it sends
exactly what a test says, with pauses, and reads the answer itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any

import httptools
import pytest

from mpp_shared.embedded import free_port
from mpp_shared.testing.keys import SigningKey

# Short deadlines, so that each deadline test takes about a second.
HEAD_TIMEOUT = 1.0
BODY_TIMEOUT = 1.0
UPSTREAM_TIMEOUT = 1.5
QUEUE_TIMEOUT = 0.5
MAX_CONNECTIONS = 2
QUEUE_SIZE = 1
SEND_TIMEOUT = 1.0
BIG_RESPONSE = 32 << 20
# "Promptly": far below every deadline above.
PROMPT = 0.8


class _UpstreamConnection(asyncio.Protocol):
    def __init__(self, upstream: RecordingUpstream) -> None:
        self.upstream = upstream
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.url = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.body = 0
        self.answered = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.upstream.connections += 1

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.upstream.errors += 1
            self._write(400, b"{}")
            assert self.transport is not None
            self.transport.close()

    def on_message_begin(self) -> None:
        self.url, self.headers, self.body, self.answered = b"", [], 0, False

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.lower(), value))

    def on_headers_complete(self) -> None:
        method = self.parser.get_method().decode()
        path = self.url.decode("latin-1")
        agent = dict(self.headers).get(b"user-agent", b"")
        # The gateway's own calls (signing keys, OpenAPI documents, readiness) go apart.
        own = agent.startswith(b"python-httpx/")
        (self.upstream.own_calls if own else self.upstream.lines).append(f"{method} {path}")
        early = self.upstream.early.get((method, path.split("?")[0]))
        if early is not None:
            # Answers on the head, like a 405 or a 413 of the service: the body is unread.
            self._write(early, b'{"detail": "refused early"}')

    def on_body(self, body: bytes) -> None:
        self.body += len(body)

    def on_message_complete(self) -> None:
        if self.answered:
            return
        method = self.parser.get_method().decode()
        path = self.url.decode("latin-1").split("?")[0]
        asyncio.get_running_loop().create_task(self._answer(method, path))

    async def _answer(self, method: str, path: str) -> None:
        upstream = self.upstream
        if path == "/oauth2/jwks" and method == "GET":
            self._write(200, json.dumps(upstream.jwks).encode())
        elif path.endswith("/silent"):
            return  # never answers
        elif path.endswith("/cl-and-te"):
            self._raw(
                b"HTTP/1.1 200 OK\r\ncontent-length: 40\r\ntransfer-encoding: chunked\r\n\r\n"
                b"0\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\nforged"
            )
        elif path.endswith("/bad-length"):
            self._raw(b"HTTP/1.1 200 OK\r\ncontent-length: 0x6\r\n\r\nforged")
        elif path.endswith("/two-answers"):
            self._write(200, b'{"first": true}')
            self._raw(b'HTTP/1.1 200 OK\r\ncontent-length: 17\r\n\r\n{"forged": true}')
        elif path.endswith("/big"):
            self._write(200, b"b" * BIG_RESPONSE)
        elif path.endswith("/hold"):
            await asyncio.sleep(1.0)
            self._write(200, b'{"held": true}')
        elif path == "/api/v1/me/":
            own = f"http://{upstream.authority}"
            self._write(
                307,
                b"",
                [
                    (b"location", f"{own}/api/v1/me".encode()),
                    (b"content-location", f"{own}/api/v1/me/".encode()),
                    (b"link", f'<{own}/api/v1/me>; rel="canonical", </docs>; rel="help"'.encode()),
                ],
            )
        else:
            body = {"request": f"{method} {path}", "body_bytes": self.body}
            self._write(200, json.dumps(body).encode())

    def _raw(self, data: bytes) -> None:
        self.answered = True
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def _write(self, status: int, body: bytes, headers: Iterable[tuple[bytes, bytes]] = ()) -> None:
        self.answered = True
        if self.transport is None or self.transport.is_closing():
            return
        head = [f"HTTP/1.1 {status} X\r\n".encode(), b"content-type: application/json\r\n"]
        head.extend(name + b": " + value + b"\r\n" for name, value in headers)
        head.append(b"content-length: %d\r\n\r\n" % len(body))
        self.transport.write(b"".join(head) + body)


@dataclass
class RecordingUpstream:
    """Stands in for a service; ``lines`` holds every request line it ever parsed that did
    not come from the gateway's own HTTP client (``own_calls``)."""

    jwks: dict[str, Any]
    early: dict[tuple[str, str], int] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)
    own_calls: list[str] = field(default_factory=list)
    connections: int = 0
    errors: int = 0
    port: int = 0
    server: asyncio.Server | None = None

    @property
    def authority(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.authority}"

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(lambda: _UpstreamConnection(self), "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()


@dataclass
class Answer:
    status: int
    headers: dict[bytes, bytes]
    raw_headers: list[tuple[bytes, bytes]]
    body: bytes
    seconds: float

    def json(self) -> Any:
        return json.loads(self.body)


class RawClient:
    """Sends exact bytes to the gateway and reads one response, all by hand."""

    def __init__(self, port: int) -> None:
        self.port = port

    async def send(
        self,
        *parts: bytes | float,
        wait: float = 5.0,
    ) -> Answer:
        """Write the byte parts in order (a float part is a pause in seconds), then read one
        response. A connection the gateway closes while we still write is not an error: the
        answer it wrote first is read."""
        started = time.monotonic()
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        try:

            async def write_all() -> None:
                with contextlib.suppress(ConnectionError):
                    for part in parts:
                        if isinstance(part, float):
                            await asyncio.sleep(part)
                        else:
                            writer.write(part)
                            await writer.drain()

            writing = asyncio.create_task(write_all())
            try:
                return await asyncio.wait_for(_read_response(reader, started), wait)
            finally:
                writing.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await writing
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def get(self, path: str, *headers: str, wait: float = 5.0) -> Answer:
        lines = "".join(f"{header}\r\n" for header in headers)
        request = f"GET {path} HTTP/1.1\r\nHost: gateway.test\r\n{lines}\r\n"
        return await self.send(request.encode(), wait=wait)

    async def closed_within(self, seconds: float, *parts: bytes | float) -> tuple[bytes, float]:
        """Send ``parts`` and read until the gateway closes: what it wrote and when it closed."""
        started = time.monotonic()
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        try:
            for part in parts:
                if isinstance(part, float):
                    await asyncio.sleep(part)
                else:
                    writer.write(part)
            data = await asyncio.wait_for(reader.read(), seconds)
            return data, time.monotonic() - started
        finally:
            writer.close()


async def _read_response(reader: asyncio.StreamReader, started: float) -> Answer:
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *lines = head[:-4].split(b"\r\n")
    status = int(status_line.split(b" ")[1])
    raw = [tuple(line.split(b": ", 1)) for line in lines]
    raw_headers = [(name.lower(), value) for name, value in raw]
    headers = dict(raw_headers)
    if b"content-length" in headers:
        body = await reader.readexactly(int(headers[b"content-length"]))
    elif headers.get(b"transfer-encoding") == b"chunked":
        body = b""
        while True:
            size = int((await reader.readuntil(b"\r\n"))[:-2], 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                break
            body += chunk[:-2]
    else:
        body = await reader.read()
    return Answer(status, headers, raw_headers, body, time.monotonic() - started)


@dataclass
class Edge:
    """The running gateway, its upstreams and a raw client."""

    port: int
    metrics_port: int
    identity: RecordingUpstream
    tracking: RecordingUpstream
    raw: RawClient

    async def assert_served_promptly(self) -> None:
        """The next caller, on a fresh connection, gets a fast 200 from the same upstream."""
        answer = await self.raw.get("/.well-known/openid-configuration")
        assert answer.status == 200, answer.body
        assert answer.seconds < PROMPT, f"took {answer.seconds:.2f} s"


@pytest.fixture(scope="session")
async def edge(
    signing_key: SigningKey, tmp_path_factory: pytest.TempPathFactory, gateway_launcher: Any
) -> AsyncIterator[Edge]:
    jwks = {"keys": [signing_key.public_jwk]}
    identity = RecordingUpstream(
        jwks,
        early={
            ("POST", "/oauth2/jwks"): 405,
            ("POST", "/api/v1/me/face-verification"): 413,
        },
    )
    tracking = RecordingUpstream(jwks)
    await identity.start()
    await tracking.start()
    port, metrics_port = free_port(), free_port()
    env = gateway_launcher.environment(identity.url, port)
    env.update(
        {
            "MPP_GATEWAY_METRICS_PORT": str(metrics_port),
            "MPP_GATEWAY_TRACKING_URL": tracking.url,
            "MPP_GATEWAY_UPSTREAM_TIMEOUT_SECONDS": str(UPSTREAM_TIMEOUT),
            "MPP_GATEWAY_CLIENT_HEAD_TIMEOUT_SECONDS": str(HEAD_TIMEOUT),
            "MPP_GATEWAY_CLIENT_BODY_TIMEOUT_SECONDS": str(BODY_TIMEOUT),
            "MPP_GATEWAY_CLIENT_LINGER_SECONDS": "2",
            "MPP_GATEWAY_CLIENT_SEND_TIMEOUT_SECONDS": str(SEND_TIMEOUT),
            "MPP_GATEWAY_UPSTREAM_MAX_CONNECTIONS": str(MAX_CONNECTIONS),
            "MPP_GATEWAY_UPSTREAM_QUEUE_SIZE": str(QUEUE_SIZE),
            "MPP_GATEWAY_UPSTREAM_QUEUE_TIMEOUT_SECONDS": str(QUEUE_TIMEOUT),
            "MPP_GATEWAY_MAX_UPLOAD_BYTES": str(8 << 20),
            "MPP_GATEWAY_ACCESS_LOG": "false",
            "MPP_GATEWAY_RATE_LIMIT_ENABLED": "false",
            "MPP_GATEWAY_OPENAPI_REFRESH_SECONDS": "3600",
        }
    )
    log_path = tmp_path_factory.mktemp("adversarial") / "gateway.log"
    try:
        async with gateway_launcher.run(env, f"http://127.0.0.1:{port}", log_path):
            yield Edge(port, metrics_port, identity, tracking, RawClient(port))
    finally:
        await identity.stop()
        await tracking.stop()
