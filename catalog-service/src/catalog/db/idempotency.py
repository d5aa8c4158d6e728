"""Stored first answers of create requests that carried an ``Idempotency-Key``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

# How long a key is remembered; after that the same key starts afresh.
KEY_LIFETIME = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    request_hash: str
    status_code: int | None
    response: Any


class IdempotencyStore:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def claim(self, *, caller: str, key: str, request_hash: str) -> StoredAnswer | None:
        """Take the key for this request (None), or return what an earlier request stored.

        A concurrent request with the same key waits here, on the primary key, until the
        first one's transaction ends; then it sees the stored answer (or, after a rollback,
        takes the key itself).
        """
        claimed = await self.session.scalar(
            text(
                "INSERT INTO idempotency_keys (caller, key, request_hash) "
                "VALUES (:caller, :key, :hash) ON CONFLICT (caller, key) DO UPDATE "
                "SET request_hash = EXCLUDED.request_hash, status_code = NULL, response = NULL, "
                "completed = false, created_at = now() "
                "WHERE idempotency_keys.created_at < now() - CAST(:lifetime AS interval) "
                "RETURNING true"
            ),
            {"caller": caller, "key": key, "hash": request_hash, "lifetime": KEY_LIFETIME},
        )
        if claimed:
            return None
        row = (
            await self.session.execute(
                text(
                    "SELECT request_hash, status_code, response FROM idempotency_keys "
                    "WHERE caller = :caller AND key = :key"
                ),
                {"caller": caller, "key": key},
            )
        ).one()
        return StoredAnswer(row.request_hash, row.status_code, row.response)

    async def complete(self, *, caller: str, key: str, status_code: int, response: Any) -> None:
        await self.session.execute(
            text(
                "UPDATE idempotency_keys SET status_code = :status, "
                "response = CAST(:response AS jsonb), completed = true "
                "WHERE caller = :caller AND key = :key"
            ),
            {
                "caller": caller,
                "key": key,
                "status": status_code,
                "response": _json(response),
            },
        )


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))
