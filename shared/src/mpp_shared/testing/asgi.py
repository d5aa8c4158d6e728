"""One request through an app's ASGI interface, recording what happened in which order: the
response's messages and the commits of the app's database (commit before the response)."""

from __future__ import annotations

import json as jsonlib
from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any

from fastapi import FastAPI
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

COMMIT = "commit"

# Set while the request runs: commits of the app's background workers (the outbox relay)
# on the same engine run in other contexts and are not the request's.
_in_request: ContextVar[bool] = ContextVar("mpp_asgi_events_in_request", default=False)


async def asgi_events(
    app: FastAPI,
    method: str,
    path: str,
    *,
    engine: AsyncEngine,
    json: Any = None,
    headers: Mapping[str, str] | None = None,
) -> tuple[list[str], int]:
    """Send one request to ``app`` (whose lifespan runs) and return the ordered event names —
    ``http.response.start``, ``http.response.body`` and ``commit`` for every commit the
    request made on ``engine`` — and the response status."""
    events: list[str] = []
    status = 0
    body = b"" if json is None else jsonlib.dumps(json).encode()
    raw_headers = [(b"host", b"testserver")]
    if json is not None:
        raw_headers.append((b"content-type", b"application/json"))
    for name, value in (headers or {}).items():
        raw_headers.append((name.lower().encode("latin-1"), value.encode("latin-1")))
    path_only, _, query = path.partition("?")
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method.upper(),
        "scheme": "http",
        "path": path_only,
        "raw_path": path_only.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": raw_headers,
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "state": {},
    }
    sent_request = False

    async def receive() -> dict[str, Any]:
        nonlocal sent_request
        if not sent_request:
            sent_request = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    async def send(message: Mapping[str, Any]) -> None:
        nonlocal status
        kind = str(message["type"])
        if kind == "http.response.start":
            status = int(message["status"])
        if kind == "http.response.body" and events and events[-1] == kind:
            return  # one entry for a body sent in parts
        events.append(kind)

    def on_commit(connection: Any) -> None:
        if _in_request.get():
            events.append(COMMIT)

    sync_engine = engine.sync_engine
    event.listen(sync_engine, "commit", on_commit)
    token = _in_request.set(True)
    try:
        await app(scope, receive, send)
    finally:
        _in_request.reset(token)
        event.remove(sync_engine, "commit", on_commit)
    return events, status
