"""Events into the transactional outbox."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from mpp_shared.events import CloudEvent, record_event


class OutboxEventRecorder:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def record(self, event: CloudEvent) -> None:
        await record_event(self._session, event)
