"""``Idempotency-Key`` on create requests (API.md): the same key and body replay the first
answer, the same key with another body is 422 ``idempotency_key_reused``.

Each service keeps the keys in its own database (table ``idempotent_requests``, created by a
migration with :func:`create_idempotency_table`). A key is claimed in the request's
transaction, so a concurrent request with the same key waits for the first to commit and then
replays its answer; if the first rolls back, the key is free again.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Annotated, Any, Protocol

from fastapi import Header
from fastapi.responses import JSONResponse
from sqlalchemy import (
    Column,
    DateTime,
    Index,
    Integer,
    Interval,
    LargeBinary,
    MetaData,
    String,
    Table,
    bindparam,
    delete,
    func,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from mpp_shared.db.migrations import migration_bind
from mpp_shared.db.naming import NAMING_CONVENTION
from mpp_shared.problems import Problem

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotency-Replayed"
MAX_KEY_LENGTH = 200
# How long a key is remembered; after that the same key starts afresh.
DEFAULT_LIFETIME = timedelta(hours=24)

IDEMPOTENCY_METADATA = MetaData(naming_convention=NAMING_CONVENTION)

idempotent_requests = Table(
    "idempotent_requests",
    IDEMPOTENCY_METADATA,
    # Who and what: e.g. "POST /api/v1/services <subject>", so keys of callers never meet.
    Column("scope", String(255), primary_key=True),
    Column("key", String(MAX_KEY_LENGTH), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    # Null while the first request runs (only its own transaction can see that).
    Column("status_code", Integer),
    # The answer as stored: JSON, or sealed by the service when it may hold a secret.
    Column("response", LargeBinary),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Index("ix_idempotent_requests_expires_at", "expires_at"),
)

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias=HEADER,
        min_length=1,
        max_length=MAX_KEY_LENGTH,
        description="Repeat a create safely: the same key and body return the first result.",
    ),
]


class IdempotencyKeyReused(Problem):
    status = 422
    code = "idempotency_key_reused"


class ResponseSealer(Protocol):
    """Encrypts stored answers that hold a secret shown once (a client secret)."""

    def seal(self, plaintext: bytes, *, context: str) -> bytes: ...

    def open(self, sealed: bytes, *, context: str) -> bytes: ...


def create_idempotency_table() -> None:
    """Called from a service's migration."""
    IDEMPOTENCY_METADATA.create_all(bind=migration_bind(), tables=[idempotent_requests])


def drop_idempotency_table() -> None:
    IDEMPOTENCY_METADATA.drop_all(bind=migration_bind(), tables=[idempotent_requests])


def request_fingerprint(payload: Any, *, secret: bytes | None = None) -> str:
    """A hash of the request body; keyed when the body may hold a password (guessable offline)."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str).encode()
    if secret is not None:
        return hmac.new(secret, canonical, hashlib.sha256).hexdigest()
    return hashlib.sha256(canonical).hexdigest()


# Built once: the statements of every keyed request (only the values change).
_claim = pg_insert(idempotent_requests).values(
    scope=bindparam("scope"),
    key=bindparam("key"),
    request_hash=bindparam("request_hash"),
    expires_at=func.now() + bindparam("lifetime", type_=Interval),
)
_CLAIM = _claim.on_conflict_do_update(
    index_elements=[idempotent_requests.c.scope, idempotent_requests.c.key],
    set_={
        "request_hash": _claim.excluded.request_hash,
        "status_code": None,
        "response": None,
        "created_at": func.now(),
        "expires_at": _claim.excluded.expires_at,
    },
    # Only an expired key may be taken again.
    where=idempotent_requests.c.expires_at <= func.now(),
).returning(idempotent_requests.c.key)
_ANSWER = (
    update(idempotent_requests)
    .where(
        idempotent_requests.c.scope == bindparam("key_scope"),
        idempotent_requests.c.key == bindparam("key_key"),
    )
    .values(status_code=bindparam("answer_status"), response=bindparam("answer_response"))
)
_STORED = select(
    idempotent_requests.c.request_hash,
    idempotent_requests.c.status_code,
    idempotent_requests.c.response,
).where(
    idempotent_requests.c.scope == bindparam("scope"),
    idempotent_requests.c.key == bindparam("key"),
)


class _RenderedJSON(JSONResponse):
    """A JSON answer whose body is already rendered (bytes): not rendered a second time."""

    def render(self, content: Any) -> bytes:
        if isinstance(content, bytes):
            return content
        return super().render(content)


async def idempotent(
    *,
    session: AsyncSession,
    scope: str,
    key: str | None,
    fingerprint: str,
    create: Callable[[], Awaitable[tuple[int, Any]]],
    sealer: ResponseSealer | None = None,
    lifetime: timedelta = DEFAULT_LIFETIME,
) -> JSONResponse:
    """Run ``create`` (→ status, JSON body) once per ``(scope, key)``; without a key, just run it.

    Only answers of requests that commit are kept: a failed request rolls back with its key.
    """
    if key is None:
        status, content = await create()
        return JSONResponse(content, status_code=status)
    context = f"{scope}\n{key}"
    claimed = await session.scalar(
        _CLAIM,
        {"scope": scope, "key": key, "request_hash": fingerprint, "lifetime": lifetime},
    )
    if claimed is not None:
        status, content = await create()
        # As JSONResponse renders it: the bytes stored are the bytes answered, encoded once.
        stored = json.dumps(
            content, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
        ).encode()
        await session.execute(
            _ANSWER,
            {
                "key_scope": scope,
                "key_key": key,
                "answer_status": status,
                "answer_response": sealer.seal(stored, context=context) if sealer else stored,
            },
        )
        return _RenderedJSON(stored, status_code=status)

    row = (await session.execute(_STORED, {"scope": scope, "key": key})).one()
    if row.status_code is None or not hmac.compare_digest(row.request_hash, fingerprint):
        raise IdempotencyKeyReused(
            f"This {HEADER} was used for a different request.",
            errors=[{"loc": ["header", HEADER], "msg": "used for another request"}],
        )
    stored = sealer.open(row.response, context=context) if sealer else row.response
    return JSONResponse(
        json.loads(stored), status_code=row.status_code, headers={REPLAYED_HEADER: "true"}
    )


async def purge_expired(session: AsyncSession, *, now: datetime) -> int:
    """Forget expired keys; harmless when replicas do it at the same time."""
    result = await session.execute(
        delete(idempotent_requests).where(idempotent_requests.c.expires_at < now)
    )
    return int(getattr(result, "rowcount", 0) or 0)
