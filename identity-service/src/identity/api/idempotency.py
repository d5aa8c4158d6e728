"""``Idempotency-Key`` on create requests: the same key and body replays the first answer, the
same key with another body is 422 (API.md conventions)."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from identity.components import Components
from identity.db.repositories import IdempotencyRepository
from mpp_shared.problems import Problem

HEADER = "Idempotency-Key"
KEEP_FOR = timedelta(hours=24)
MAX_KEY_LENGTH = 200


class IdempotencyKeyReused(Problem):
    status = 422
    code = "idempotency_key_reused"


class IdempotencyConflict(Problem):
    status = 409
    code = "idempotency_conflict"


def _fingerprint(components: Components, payload: BaseModel) -> str:
    # Keyed: the body may hold a password, and a plain hash of it could be guessed offline.
    canonical = json.dumps(payload.model_dump(mode="json"), sort_keys=True).encode()
    return hmac.new(components.idempotency_key, canonical, hashlib.sha256).hexdigest()


async def idempotent(
    *,
    request: Request,
    session: AsyncSession,
    components: Components,
    scope: str,
    payload: BaseModel,
    status_code: int,
    create: Callable[[], Awaitable[BaseModel]],
) -> JSONResponse:
    """Run ``create`` once per ``(scope, Idempotency-Key)``; without the header, just run it."""
    key = request.headers.get(HEADER)
    if key is None:
        return JSONResponse((await create()).model_dump(mode="json"), status_code=status_code)
    if not key or len(key) > MAX_KEY_LENGTH:
        raise Problem(
            f"{HEADER} must be 1 to {MAX_KEY_LENGTH} characters.",
            status=422,
            code="validation_error",
            errors=[{"loc": ["header", HEADER], "msg": "invalid idempotency key"}],
        )
    repository = IdempotencyRepository(session)
    fingerprint = _fingerprint(components, payload)
    context = f"{scope}\n{key}"
    existing = await repository.get(scope, key)
    if existing is not None:
        if not hmac.compare_digest(existing.request_hash, fingerprint):
            raise IdempotencyKeyReused("This Idempotency-Key was used with another request.")
        body = json.loads(components.idempotency_box.open(existing.body_sealed, context=context))
        return JSONResponse(
            body, status_code=existing.status_code, headers={"Idempotent-Replayed": "true"}
        )
    body = (await create()).model_dump(mode="json")
    stored = await repository.add(
        scope=scope,
        key=key,
        request_hash=fingerprint,
        status_code=status_code,
        body_sealed=components.idempotency_box.seal(json.dumps(body).encode(), context=context),
        expires_at=datetime.now(UTC) + KEEP_FOR,
    )
    if not stored:
        # A concurrent request with this key won; this one's work is rolled back.
        raise IdempotencyConflict("A request with this Idempotency-Key is in progress.")
    return JSONResponse(body, status_code=status_code)
