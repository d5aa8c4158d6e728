"""A worker that deletes expired codes, refresh tokens, throttle counters and idempotency records.

Every replica may run it: each row is deleted once, whoever gets there first.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from identity.db.repositories import Housekeeping
from mpp_shared.tasks import cancel_and_wait

log = logging.getLogger(__name__)


class HousekeepingWorker:
    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], *, interval_seconds: float = 600
    ) -> None:
        self._sessionmaker = sessionmaker
        self._interval = interval_seconds
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="identity-housekeeping")

    async def stop(self) -> None:
        task, self._task = self._task, None
        await cancel_and_wait(task)

    async def run_once(self) -> int:
        async with self._sessionmaker() as session, session.begin():
            # Used codes are kept an hour past expiry: a code presented again within that
            # time still revokes the session it gave.
            return await Housekeeping(session).purge(
                now=datetime.now(UTC), keep_used_for=timedelta(hours=1)
            )

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                removed = await self.run_once()
            except Exception as exc:
                log.warning("housekeeping failed", extra={"error": type(exc).__name__})
                continue
            if removed:
                log.info("expired identity rows deleted", extra={"rows": removed})
