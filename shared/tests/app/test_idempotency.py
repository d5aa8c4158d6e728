"""Idempotency-Key: replay, reuse with another body, concurrency, rollback, expiry, sealing."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from mpp_shared.idempotency import (
    IDEMPOTENCY_METADATA,
    REPLAYED_HEADER,
    IdempotencyKeyReused,
    idempotent,
    purge_expired,
    request_fingerprint,
)


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine: AsyncEngine = create_async_engine(database_url)
    async with engine.begin() as conn:
        await conn.run_sync(IDEMPOTENCY_METADATA.create_all)
    try:
        yield async_sessionmaker(engine, expire_on_commit=False)
    finally:
        await engine.dispose()


class Creations:
    def __init__(self) -> None:
        self.count = 0

    async def __call__(self) -> tuple[int, Any]:
        self.count += 1
        return 201, {"id": self.count}


async def _call(
    sessions: async_sessionmaker[AsyncSession],
    create: Any,
    *,
    key: str | None = "k-1",
    body: dict[str, Any] | None = None,
    **options: Any,
) -> tuple[int, Any, dict[str, str]]:
    async with sessions() as session, session.begin():
        response = await idempotent(
            session=session,
            scope="POST /things alice",
            key=key,
            fingerprint=request_fingerprint(body or {"name": "a"}),
            create=create,
            **options,
        )
    return response.status_code, json.loads(bytes(response.body)), dict(response.headers)


async def test_the_same_key_and_body_replay_the_first_answer(sessions):
    create = Creations()
    first = await _call(sessions, create)
    again = await _call(sessions, create)
    assert first[:2] == (201, {"id": 1})
    assert again[:2] == (201, {"id": 1})
    assert again[2][REPLAYED_HEADER.lower()] == "true"
    assert create.count == 1


async def test_no_key_runs_every_time(sessions):
    create = Creations()
    await _call(sessions, create, key=None)
    await _call(sessions, create, key=None)
    assert create.count == 2


async def test_the_same_key_with_another_body_is_refused(sessions):
    create = Creations()
    await _call(sessions, create)
    with pytest.raises(IdempotencyKeyReused):
        await _call(sessions, create, body={"name": "b"})
    assert create.count == 1


async def test_concurrent_requests_with_one_key_create_once(sessions):
    create = Creations()

    async def slow() -> tuple[int, Any]:
        await asyncio.sleep(0.3)
        return await create()

    results = await asyncio.gather(_call(sessions, slow), _call(sessions, slow))
    assert [r[1] for r in results] == [{"id": 1}, {"id": 1}]
    assert create.count == 1


async def test_a_request_that_fails_frees_its_key(sessions):
    async def fail() -> tuple[int, Any]:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await _call(sessions, fail)
    create = Creations()
    assert (await _call(sessions, create))[1] == {"id": 1}


async def test_an_expired_key_starts_afresh_and_is_purged(sessions):
    create = Creations()
    await _call(sessions, create, lifetime=timedelta(seconds=-1))
    assert (await _call(sessions, create, body={"name": "other"}))[1] == {"id": 2}
    async with sessions() as session, session.begin():
        await session.execute(
            text("UPDATE idempotent_requests SET expires_at = now() - '1 s'::interval")
        )
        assert await purge_expired(session, now=datetime.now(UTC)) == 1


class Reversing:
    """A stand-in sealer: whatever it stores is not the plain answer."""

    def seal(self, plaintext: bytes, *, context: str) -> bytes:
        return plaintext[::-1]

    def open(self, sealed: bytes, *, context: str) -> bytes:
        return sealed[::-1]


async def test_a_sealed_answer_is_stored_sealed_and_replayed_plain(sessions):
    create = Creations()
    await _call(sessions, create, sealer=Reversing())
    async with sessions() as session:
        stored = await session.scalar(text("SELECT response FROM idempotent_requests"))
    assert b'"id"' not in stored
    assert (await _call(sessions, create, sealer=Reversing()))[1] == {"id": 1}


def test_a_keyed_fingerprint_differs_from_the_plain_one():
    body = {"password": "Rahasia#2026"}
    assert request_fingerprint(body, secret=b"k") != request_fingerprint(body)
    assert request_fingerprint({"a": 1, "b": 2}) == request_fingerprint({"b": 2, "a": 1})
