"""Request smuggling and desync at the edge: every framing trick is refused or framed once.

Each test sends raw bytes, asserts the exact status, that no request line reached a service
that the test did not mean to reach it, and that the next caller is served promptly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

Edge = Any  # the fixtures' types live in the conftest, which tests do not import
HIDDEN = b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"


def _post(path: str, *headers: str) -> bytes:
    lines = "".join(f"{header}\r\n" for header in headers)
    return f"POST {path} HTTP/1.1\r\nHost: gateway.test\r\n{lines}\r\n".encode()


def _assert_problem(answer: Any, status: int) -> None:
    assert answer.status == status, answer.body
    assert answer.headers[b"content-type"] == b"application/problem+json"
    assert answer.json()["status"] == status


def _never_reached(edge: Edge, *fragments: str) -> None:
    for line in edge.identity.lines + edge.tracking.lines:
        for fragment in fragments:
            assert fragment not in line, f"a service parsed {line!r}"


async def test_an_early_answer_with_the_body_unsent_does_not_desync_the_next_caller(
    edge: Edge,
) -> None:
    # The attack of the report: 50 000 bytes announced, 200 sent with a pause, the rest
    # never. identity answers 405 on the head; the rest of the body holds a request.
    before = len(edge.identity.lines)
    answer = await edge.raw.send(
        _post("/oauth2/jwks", "Content-Length: 50000"),
        b"x" * 100,
        0.6,
        HIDDEN + b"y" * (100 - len(HIDDEN)),
    )

    assert answer.status == 405
    assert answer.seconds < 0.5  # passed on at once, not after the caller's pause
    await edge.assert_served_promptly()
    assert edge.identity.lines[before:] == [
        "POST /oauth2/jwks",
        "GET /.well-known/openid-configuration",
    ]


async def test_a_refused_upload_does_not_desync_the_next_caller(
    edge: Edge, make_token: Callable[..., str]
) -> None:
    token = make_token()
    before = len(edge.identity.lines)
    answer = await edge.raw.send(
        _post(
            "/api/v1/me/face-verification",
            f"Authorization: Bearer {token}",
            f"Content-Length: {6 << 20}",
        ),
        b"\xff" * (256 << 10),
        0.3,
        b"\xff" * (256 << 10),
    )

    assert answer.status == 413
    me = await edge.raw.get("/api/v1/me", f"Authorization: Bearer {token}")
    assert me.status == 200
    assert me.seconds < 0.8
    assert edge.identity.lines[before:] == ["POST /api/v1/me/face-verification", "GET /api/v1/me"]
    await edge.assert_served_promptly()


async def test_an_upload_over_the_limit_is_413_before_the_service_sees_it(
    edge: Edge, make_token: Callable[..., str]
) -> None:
    before = len(edge.identity.lines)
    answer = await edge.raw.send(
        _post("/api/v1/auth/login", "Content-Length: 2097152", "Content-Type: application/json"),
        b"{" * 65536,
    )

    _assert_problem(answer, 413)
    assert answer.json()["max_bytes"] == 1 << 20
    assert edge.identity.lines[before:] == []
    await edge.assert_served_promptly()


@pytest.mark.parametrize(
    "headers",
    [
        ("Content-Length: 4", "Transfer-Encoding: chunked"),  # CL.TE
        ("Transfer-Encoding: chunked", "Content-Length: 4"),  # TE.CL
        ("Transfer-Encoding: xchunked",),
        ("Transfer-Encoding : chunked",),
        ("Transfer-Encoding: chunked", "Transfer-Encoding: identity"),
        ("Transfer-Encoding: chunked, identity",),
        ("Transfer-Encoding: identity, chunked",),
        ("Transfer-Encoding: gzip",),
        ("Content-Length: 5", "Content-Length: 6"),
        ("Content-Length: 5", "Content-Length: 5"),
        ("Content-Length: +5",),
        ("Content-Length: -5",),
        ("Content-Length: 0x5",),
        ("Content-Length: 5 5",),
        ("Content-Length: 5,5",),
    ],
    ids=[
        "cl-te",
        "te-cl",
        "te-xchunked",
        "te-space-before-colon",
        "te-te-identity",
        "te-chunked-identity",
        "te-identity-chunked",
        "te-gzip",
        "cl-conflicting",
        "cl-duplicate",
        "cl-plus",
        "cl-minus",
        "cl-hex",
        "cl-inner-space",
        "cl-list",
    ],
)
async def test_ambiguous_framing_is_400_and_never_reaches_a_service(
    edge: Edge, headers: tuple[str, ...]
) -> None:
    before = len(edge.identity.lines)
    answer = await edge.raw.send(_post("/api/v1/auth/login", *headers), b"0\r\n\r\n" + HIDDEN, 0.2)

    _assert_problem(answer, 400)
    assert edge.identity.lines[before:] == []
    _never_reached(edge, "/metrics")
    await edge.assert_served_promptly()


@pytest.mark.parametrize(
    "headers",
    [("Transfer-Encoding:\tchunked",), ("Transfer-Encoding: CHUNKED",)],
    ids=["te-tab", "te-upper"],
)
async def test_valid_but_unusual_chunked_framing_is_framed_once(
    edge: Edge, headers: tuple[str, ...]
) -> None:
    # The body (a smuggled request in one chunk) is a body: forwarded, never executed.
    chunk = b"%x\r\n%b\r\n0\r\n\r\n" % (len(HIDDEN), HIDDEN)
    before = len(edge.identity.lines)
    answer = await edge.raw.send(_post("/api/v1/auth/login", *headers), chunk)

    assert answer.status == 200
    assert answer.json() == {"request": "POST /api/v1/auth/login", "body_bytes": len(HIDDEN)}
    assert edge.identity.lines[before:] == ["POST /api/v1/auth/login"]
    await edge.assert_served_promptly()


async def test_a_content_length_with_surrounding_whitespace_frames_the_body_once(
    edge: Edge,
) -> None:
    answer = await edge.raw.send(_post("/api/v1/auth/login", "Content-Length:  5 "), b"abcde")

    assert answer.status == 200
    assert answer.json()["body_bytes"] == 5
    await edge.assert_served_promptly()


async def test_a_request_hidden_in_a_body_is_never_executed(edge: Edge) -> None:
    body = HIDDEN * 3
    before = len(edge.identity.lines)
    answer = await edge.raw.send(_post("/api/v1/auth/login", f"Content-Length: {len(body)}"), body)

    assert answer.status == 200
    assert answer.json()["body_bytes"] == len(body)
    assert edge.identity.lines[before:] == ["POST /api/v1/auth/login"]
    _never_reached(edge, "/metrics")
    await edge.assert_served_promptly()


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET /.well-known/openid-configuration HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n 2\r\n\r\n",
        b"GET /.well-known/openid-configuration HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n\t2\r\n\r\n",
        b"GET /.well-known/openid-configuration HTTP/1.1\r\nHost: a\rX-A: 1\r\n\r\n",
        b"GET /.well-known/openid-configuration HTTP/1.1\nHost: a\nX-A: 1\n\n",
        b"GET /.well-known/openid-configuration HTTP/1.1\r\nHost: a\nX-A: 1\r\n\r\n",
        b"GET /.well-known/openid-configuration HTTP/1.1\r\nHost: a\r\nX-A: 1\x002\r\n\r\n",
        b"GET /.well-known/openid-configuration HTTP/1.1\r\nHost: a\r\nX-\x00A: 1\r\n\r\n",
        b"GET /.well-known/openid\x00-configuration HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET /.well-known/openid-configuration\r HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET /.well-known/openid configuration HTTP/1.1\r\nHost: a\r\n\r\n",
    ],
    ids=[
        "obs-fold-space",
        "obs-fold-tab",
        "bare-cr",
        "bare-lf",
        "bare-lf-once",
        "nul-in-value",
        "nul-in-name",
        "nul-in-target",
        "cr-in-target",
        "space-in-target",
    ],
)
async def test_malformed_heads_are_400_problems(edge: Edge, request_bytes: bytes) -> None:
    before = len(edge.identity.lines)
    answer = await edge.raw.send(request_bytes)

    _assert_problem(answer, 400)
    assert answer.headers[b"connection"] == b"close"
    assert edge.identity.lines[before:] == []
    await edge.assert_served_promptly()


async def _tracking_served_promptly(edge: Edge) -> None:
    answer = await edge.raw.get("/api/v1/tracking/next")
    assert answer.status == 200
    assert answer.json() == {"request": "GET /api/v1/tracking/next", "body_bytes": 0}
    assert answer.seconds < 0.8


async def test_a_service_answering_with_length_and_chunked_is_502_and_not_reused(
    edge: Edge,
) -> None:
    for path in ("/api/v1/tracking/cl-and-te", "/api/v1/tracking/bad-length"):
        answer = await edge.raw.get(path)
        assert answer.status == 502, path
        assert b"forged" not in answer.body
        await _tracking_served_promptly(edge)


async def test_a_second_answer_to_one_request_never_reaches_the_next_caller(edge: Edge) -> None:
    first = await edge.raw.get("/api/v1/tracking/two-answers")

    assert first.status == 200
    assert first.json() == {"first": True}
    for _ in range(3):
        await _tracking_served_promptly(edge)


@pytest.mark.parametrize(
    ("upgrade", "status", "forwarded"),
    [
        ("h2c", 200, ["GET /.well-known/openid-configuration"]),
        # The gateway serves no websocket: its own app refuses the handshake.
        ("websocket", 403, []),
    ],
)
async def test_an_upgrade_request_is_forwarded_as_a_plain_request_and_nothing_after_it(
    edge: Edge, upgrade: str, status: int, forwarded: list[str]
) -> None:
    before = len(edge.identity.lines)
    answer = await edge.raw.send(
        b"GET /.well-known/openid-configuration HTTP/1.1\r\nHost: gateway.test\r\n"
        b"Connection: Upgrade\r\nUpgrade: " + upgrade.encode() + b"\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        + HIDDEN,
        wait=3.0,
    )

    assert answer.status == status
    assert edge.identity.lines[before:] == forwarded
    _never_reached(edge, "/metrics")
    await edge.assert_served_promptly()


async def test_an_absolute_form_target_naming_an_internal_address_reaches_nothing_internal(
    edge: Edge,
) -> None:
    before = len(edge.identity.lines)
    answer = await edge.raw.get(f"http://{edge.identity.authority}/metrics")

    assert answer.status == 404
    assert edge.identity.lines[before:] == []
    await edge.assert_served_promptly()
