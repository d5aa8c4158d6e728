"""ASGI middleware: a request whose text is not acceptable (``mpp_shared.text``) is a 422.

One check for every service, before routing: the percent-decoded path and query string, every
header, and JSON and form-urlencoded bodies (which it reads whole, as the framework would,
then hands on). A JSON body nested deeper than 64 is refused here too, before any parser or
validator recurses through it. Other bodies (multipart uploads, files) pass untouched: their
bytes are not text, and upload routes bound their size before reading them.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote_to_bytes

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mpp_shared.problems import Problem, problem_response
from mpp_shared.text import (
    MAX_JSON_DEPTH,
    NUL_MESSAGE,
    invalid_bytes_reason,
    invalid_text_reason,
    json_depth_exceeds,
    json_text_reason,
)

INVALID_TEXT = "invalid_text"
TOO_DEEPLY_NESTED = "too_deeply_nested"


class InputGuardMiddleware:
    def __init__(self, app: ASGIApp, *, max_json_depth: int = MAX_JSON_DEPTH) -> None:
        self.app = app
        self.max_json_depth = max_json_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        problem = _path_problem(scope) or _query_problem(scope["query_string"])
        content_type: bytes | None = None
        has_body = False
        for name, value in scope["headers"]:
            if b"\x00" in value and problem is None:
                problem = _invalid_text(["header", name.decode("latin-1")], NUL_MESSAGE)
            if name == b"content-type":
                content_type = value
            elif name == b"content-length":
                has_body = value.strip() != b"0"
            elif name == b"transfer-encoding":
                has_body = True
        if problem is None and has_body:
            kind = _body_kind(content_type)
            if kind is not None:
                body = await _read_body(receive)
                problem = self._body_problem(kind, body)
                receive = _replay(body, receive)
        if problem is not None:
            await problem_response(problem, Request(scope))(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _body_problem(self, kind: str, body: bytes) -> Problem | None:
        if kind == "form":
            return _pairs_problem(body, "body")
        reason = json_text_reason(body)
        if reason is not None:
            return Problem(
                "The request body holds text that is not accepted.",
                status=422,
                code=INVALID_TEXT,
                errors=[{"loc": ["body"], "msg": reason}],
            )
        if json_depth_exceeds(body, self.max_json_depth):
            return Problem(
                f"The request body nests arrays and objects more than {self.max_json_depth} deep.",
                status=422,
                code=TOO_DEEPLY_NESTED,
                errors=[{"loc": ["body"], "msg": f"Nested deeper than {self.max_json_depth}."}],
            )
        return None


def _invalid_text(loc: list[Any], reason: str) -> Problem:
    return Problem(
        "The request holds text that is not accepted.",
        status=422,
        code=INVALID_TEXT,
        errors=[{"loc": loc, "msg": reason}],
    )


def _path_problem(scope: Scope) -> Problem | None:
    raw: bytes | None = scope.get("raw_path")
    if raw is None:
        reason = invalid_text_reason(scope["path"])
    else:
        # Some clients put the query string into raw_path too; it is checked on its own.
        raw = raw.split(b"?", 1)[0]
        reason = invalid_bytes_reason(unquote_to_bytes(raw) if b"%" in raw else raw)
    return None if reason is None else _invalid_text(["path"], reason)


def _query_problem(query: bytes) -> Problem | None:
    if not query or (b"%" not in query and b"\x00" not in query and query.isascii()):
        return None
    return _pairs_problem(query, "query")


def _pairs_problem(encoded: bytes, where: str) -> Problem | None:
    """Percent-decodes each ``name=value`` of a query string or urlencoded form and checks it."""
    for pair in encoded.split(b"&"):
        name, _, value = pair.partition(b"=")
        raw_name = unquote_to_bytes(name.replace(b"+", b" "))
        for raw in (raw_name, unquote_to_bytes(value.replace(b"+", b" "))):
            reason = invalid_bytes_reason(raw)
            if reason is not None:
                return _invalid_text([where, raw_name.decode("utf-8", "replace")], reason)
    return None


def _body_kind(content_type: bytes | None) -> str | None:
    """``json`` for what FastAPI would parse as JSON (also no content type), ``form``, or None."""
    if content_type is None:
        return "json"
    media = content_type.split(b";", 1)[0].strip().lower()
    if media == b"application/json" or (
        media.startswith(b"application/") and media.endswith(b"+json")
    ):
        return "json"
    if media == b"application/x-www-form-urlencoded":
        return "form"
    return None


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay
