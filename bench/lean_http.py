"""A small HTTP/1.1 client for the benchmarks' load: one keep-alive connection per caller on
asyncio streams, a request written as its bytes (a body built once is sent as it is), an
answer read by its ``Content-Length``.

A general client (httpx) costs the benchmark's own process 15 to 20 ms of CPU per submission,
on the cores the measured system runs on; this one costs a fraction of that, so that a figure
says what the system costs. It is not a general client: no chunked answers, no redirects, no
TLS; an answer it cannot read is a transport fault.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

# Answers a benchmark retries (the system shedding load), as the platform's test client does.
RETRY_STATUSES = frozenset({502, 503, 504})


class TransportFault(Exception):
    """The connection broke or the answer could not be read."""


class GaveUp(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Connection:
    """One keep-alive connection to ``base_url``; requests on it go one at a time."""

    base_url: str
    patience: float = 60.0
    timeout: float = 15.0
    # Faults met and retried, by kind ("503", "TransportFault"): what the caller saw.
    faults_seen: dict[str, int] = field(default_factory=dict)
    _reader: asyncio.StreamReader | None = field(default=None, init=False, repr=False)
    _writer: asyncio.StreamWriter | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        parts = urlsplit(self.base_url)
        if parts.scheme != "http" or parts.hostname is None:
            raise ValueError(f"{self.base_url}: only http://host:port")
        self._host, self._port = parts.hostname, parts.port or 80
        self._host_header = f"Host: {parts.netloc}\r\n".encode()

    async def close(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def request(
        self,
        method: str,
        path: str,
        *,
        headers: Sequence[bytes] = (),
        body: bytes = b"",
    ) -> Answer:
        """One request, retried through faults until ``patience`` runs out; any other answer
        is returned as it is. ``headers``: whole lines (``b"Name: value\\r\\n"``)."""
        head = b"".join(
            [
                f"{method} {path} HTTP/1.1\r\n".encode(),
                self._host_header,
                f"Content-Length: {len(body)}\r\n".encode(),
                *headers,
                b"\r\n",
            ]
        )
        deadline = time.monotonic() + self.patience
        while True:
            try:
                answer = await asyncio.wait_for(self._exchange(head, body), self.timeout)
            except (OSError, TransportFault, asyncio.IncompleteReadError, TimeoutError) as exc:
                await self.close()
                kind = type(exc).__name__
            else:
                if answer.status not in RETRY_STATUSES:
                    return answer
                kind = str(answer.status)
            self.faults_seen[kind] = self.faults_seen.get(kind, 0) + 1
            if time.monotonic() > deadline:
                raise GaveUp(f"{method} {path}: still {kind} after {self.patience:.0f} s")
            await asyncio.sleep(0.3)

    async def _exchange(self, head: bytes, body: bytes) -> Answer:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self._host, self._port)
        reader, writer = self._reader, self._writer
        assert reader is not None
        writer.writelines([head, body] if body else [head])
        await writer.drain()
        status_line, _, header_block = (await reader.readuntil(b"\r\n\r\n")).partition(b"\r\n")
        try:
            status = int(status_line.split(b" ", 2)[1])
        except (IndexError, ValueError) as exc:
            raise TransportFault(f"not an HTTP status line: {status_line[:80]!r}") from exc
        length, close = None, False
        for line in header_block.split(b"\r\n"):
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                raise TransportFault("a chunked answer: not read by this client")
            elif name == b"connection" and value.strip().lower() == b"close":
                close = True
        if length is None:
            raise TransportFault("an answer without Content-Length")
        content = await reader.readexactly(length) if length else b""
        if close:
            await self.close()
        return Answer(status, content)


def multipart(
    fields: dict[str, str],
    file_field: str,
    filename: str,
    media_type: str,
    data: bytes,
    boundary: str = "mpp-bench-boundary-7f3a9c",
) -> tuple[bytes, bytes]:
    """A ``multipart/form-data`` body and its ``Content-Type`` header line."""
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{file_field}"; '
        f'filename="{filename}"\r\nContent-Type: {media_type}\r\n\r\n'.encode()
    )
    body = b"".join([*parts, data, f"\r\n--{boundary}--\r\n".encode()])
    return body, f"Content-Type: multipart/form-data; boundary={boundary}\r\n".encode()
