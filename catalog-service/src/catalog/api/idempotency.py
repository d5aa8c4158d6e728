"""``Idempotency-Key`` on creating requests: the same key and body answer as the first time."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Header, Request
from fastapi.responses import JSONResponse

from catalog.api.errors import IdempotencyKeyReused
from catalog.db.idempotency import IdempotencyStore
from mpp_shared.auth.principal import Principal

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        description="Repeat a create safely: the same key and body return the first result.",
    ),
]


def request_fingerprint(request: Request, body: Any) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{request.method} {request.url.path}\n{canonical}".encode()).hexdigest()


async def idempotent(
    *,
    store: IdempotencyStore,
    request: Request,
    principal: Principal,
    key: str | None,
    body: Any,
    create: Callable[[], Awaitable[tuple[int, Any]]],
) -> JSONResponse:
    """Run ``create`` once per caller and key; only successful answers are kept.

    A failed request rolls back with the key, so the caller may retry it with the same key.
    """
    if key is None:
        status, content = await create()
        return JSONResponse(content, status_code=status)
    fingerprint = request_fingerprint(request, body)
    stored = await store.claim(caller=principal.subject, key=key, request_hash=fingerprint)
    if stored is not None:
        if stored.request_hash != fingerprint or stored.status_code is None:
            raise IdempotencyKeyReused(
                "This Idempotency-Key was used for a different request.",
                errors=[{"loc": ["header", "Idempotency-Key"], "msg": "used for another body"}],
            )
        return JSONResponse(
            stored.response,
            status_code=stored.status_code,
            headers={"Idempotency-Replayed": "true"},
        )
    status, content = await create()
    await store.complete(caller=principal.subject, key=key, status_code=status, response=content)
    return JSONResponse(content, status_code=status)
