"""Every request is bounded: head size and count, URL length, deadlines, connections per service."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

Edge = Any  # the fixtures' types live in the conftest, which tests do not import
WELL_KNOWN = b"GET /.well-known/openid-configuration HTTP/1.1\r\nHost: gateway.test\r\n"
# The edge fixture's settings (adversarial/conftest.py).
HEAD_TIMEOUT = BODY_TIMEOUT = 1.0
UPSTREAM_TIMEOUT = 1.5
SLACK = 0.7


def _assert_problem(answer: Any, status: int, code: str) -> None:
    assert answer.status == status, answer.body
    assert answer.headers[b"content-type"] == b"application/problem+json"
    assert answer.json()["code"] == code


@pytest.mark.parametrize(
    ("extra", "status", "code"),
    [
        (b"X-Big: " + b"a" * (17 * 1024) + b"\r\n", 431, "headers_too_large"),
        (
            b"".join(b"X-H%d: %b\r\n" % (i, b"a" * 1000) for i in range(70)),
            431,
            "headers_too_large",
        ),
        (b"".join(b"X-H%d: a\r\n" % i for i in range(101)), 431, "headers_too_large"),
    ],
    ids=["one-header-line-over-16k", "head-over-64k", "over-100-headers"],
)
async def test_oversized_heads_are_431(edge: Edge, extra: bytes, status: int, code: str) -> None:
    before = len(edge.identity.lines)
    answer = await edge.raw.send(WELL_KNOWN + extra + b"\r\n")

    _assert_problem(answer, status, code)
    assert edge.identity.lines[before:] == []
    await edge.assert_served_promptly()


async def test_a_huge_header_value_is_cut_off_while_it_arrives(edge: Edge) -> None:
    # 8 MiB in one header value: refused after the first ~64 KiB, not buffered whole.
    answer = await edge.raw.send(WELL_KNOWN + b"X-Huge: ", *([b"a" * 65536] * 128))

    _assert_problem(answer, 431, "headers_too_large")
    await edge.assert_served_promptly()


async def test_twenty_thousand_headers_are_refused(edge: Edge) -> None:
    headers = b"".join(b"X-%d: a\r\n" % i for i in range(20000))
    answer = await edge.raw.send(WELL_KNOWN + headers + b"\r\n")

    _assert_problem(answer, 431, "headers_too_large")
    await edge.assert_served_promptly()


async def test_a_long_url_is_414(edge: Edge) -> None:
    before = len(edge.identity.lines)
    path = b"/api/v1/tracking/" + b"a" * 9000
    answer = await edge.raw.send(b"GET " + path + b" HTTP/1.1\r\nHost: gateway.test\r\n\r\n")

    _assert_problem(answer, 414, "uri_too_long")
    assert edge.tracking.lines[before:] == []
    await edge.assert_served_promptly()


async def test_a_slow_loris_head_is_408_within_the_deadline(edge: Edge) -> None:
    drip: list[bytes | float] = []
    for i in range(20):
        drip += [b"X-Drip-%d: a\r\n" % i, 0.2]
    answer = await edge.raw.send(WELL_KNOWN, *drip)

    _assert_problem(answer, 408, "request_timeout")
    assert answer.seconds < HEAD_TIMEOUT + SLACK
    await edge.assert_served_promptly()


async def test_a_connection_that_sends_nothing_is_closed_within_the_deadline(edge: Edge) -> None:
    data, seconds = await edge.raw.closed_within(HEAD_TIMEOUT + 3)

    assert seconds < HEAD_TIMEOUT + SLACK
    assert data.startswith(b"HTTP/1.1 408 ")
    await edge.assert_served_promptly()


async def test_a_slow_body_is_408_within_the_deadline(edge: Edge) -> None:
    before = len(edge.identity.lines)
    answer = await edge.raw.send(
        b"POST /api/v1/auth/login HTTP/1.1\r\nHost: gateway.test\r\nContent-Length: 100\r\n\r\n",
        b"x" * 10,
    )

    _assert_problem(answer, 408, "request_timeout")
    assert answer.seconds < BODY_TIMEOUT + SLACK
    assert answer.headers[b"connection"] == b"close"
    # The service saw the head and part of the body; that connection is not reused.
    assert edge.identity.lines[before:] == ["POST /api/v1/auth/login"]
    await edge.assert_served_promptly()


async def test_a_service_that_never_answers_is_504_within_the_deadline(edge: Edge) -> None:
    answer = await edge.raw.get("/api/v1/tracking/silent")

    _assert_problem(answer, 504, "gateway_timeout")
    assert UPSTREAM_TIMEOUT - 0.1 < answer.seconds < UPSTREAM_TIMEOUT + SLACK
    await edge.assert_served_promptly()


async def test_connections_per_service_are_capped_with_a_queue_then_503(edge: Edge) -> None:
    # Two connections to tracking at most, one caller may wait 0.5 s; each answer takes 1 s.
    started = time.monotonic()
    calls = [asyncio.create_task(edge.raw.get("/api/v1/tracking/hold")) for _ in range(4)]
    answers = await asyncio.gather(*calls)

    statuses = sorted(answer.status for answer in answers)
    assert statuses == [200, 200, 503, 503]
    for answer in answers:
        if answer.status == 503:
            _assert_problem(answer, 503, "service_busy")
            assert answer.headers[b"retry-after"] == b"1"
            assert answer.seconds < 0.9  # the full queue at once, the waiter after 0.5 s
    assert time.monotonic() - started < 2.0
    # identity, another service, never waited; tracking serves again once free.
    await edge.assert_served_promptly()
    again = await edge.raw.get("/api/v1/tracking/x1")
    assert again.status == 200
    assert again.seconds < 0.8


async def test_a_caller_that_stops_reading_a_response_is_cut_off(edge: Edge) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", edge.port)
    writer.write(b"GET /api/v1/tracking/big HTTP/1.1\r\nHost: gateway.test\r\n\r\n")
    await reader.readuntil(b"\r\n\r\n")
    # Not reading: the gateway's writes stall, and after its send deadline it lets go.
    await asyncio.sleep(1.0 + 2.0)
    received = 0
    async with asyncio.timeout(5):
        while chunk := await reader.read(1 << 20):
            received += len(chunk)
    writer.close()

    assert received < 32 << 20
    await edge.assert_served_promptly()
    again = await edge.raw.get("/api/v1/tracking/x2")
    assert again.status == 200
