"""Conditional GETs: an ETag from the body, Cache-Control, and 304 for a matching If-None-Match."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from fastapi import Request, Response

# Lists and the latest version change when something is published; an explicit version only
# changes its status (superseded, retired), so caches may keep it longer.
LIST_MAX_AGE = 30
LATEST_MAX_AGE = 30
VERSION_MAX_AGE = 300


def page_body(items: Sequence[str], next_cursor: str | None) -> bytes:
    """``{"items": [...], "next_cursor": ...}`` from items that are JSON already."""
    cursor = json.dumps(next_cursor)
    return ('{"items":[' + ",".join(items) + '],"next_cursor":' + cursor + "}").encode()


def etag_of(body: bytes) -> str:
    return '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    # Weak comparison (RFC 9110 §13.1.2): W/"x" matches "x".
    return any(
        candidate.strip().removeprefix("W/") == etag for candidate in if_none_match.split(",")
    )


def cacheable_json(
    request: Request, body: bytes, *, max_age: int, headers: dict[str, Any] | None = None
) -> Response:
    etag = etag_of(body)
    all_headers = {"ETag": etag, "Cache-Control": f"public, max-age={max_age}", **(headers or {})}
    if etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=all_headers)
    return Response(body, media_type="application/json", headers=all_headers)


def private_json(body: bytes) -> Response:
    """For what only its owner may read (a draft): never stored by shared caches."""
    return Response(
        body, media_type="application/json", headers={"Cache-Control": "private, no-store"}
    )
