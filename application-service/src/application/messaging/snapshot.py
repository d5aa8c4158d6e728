"""Fills the catalogue's read copies from ``rpc.catalog.services.snapshot`` and
``rpc.catalog.locations.snapshot``: a fresh service (or one whose stream retention dropped old
events) learns every service published and every MPP location announced before it."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from nats.errors import Error as NatsError
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from application.db.locations import SqlLocationCopies
from application.db.repositories import CatalogCopyRepository
from application.messaging.locations import UNDATED
from mpp_shared.contracts.catalog import v1 as catalog
from mpp_shared.events import NatsConnection
from mpp_shared.tasks import cancel_and_wait

log = logging.getLogger(__name__)


class SnapshotUnavailable(Exception):
    pass


async def load_snapshot(
    sessionmaker: async_sessionmaker[AsyncSession],
    connection: NatsConnection,
    *,
    timeout: float,  # noqa: ASYNC109 - a budget per page, not a cancel scope
    page_size: int = catalog.SNAPSHOT_DEFAULT_LIMIT,
) -> int:
    """Every published version the catalogue has, page by page (one transaction each);
    versions already held are left as they are. Returns how many versions were read."""
    after: str | None = None
    seen = 0
    while True:
        request = catalog.ServicesSnapshotRequest(after=after, limit=page_size, all_versions=True)
        try:
            reply = await connection.client.request(
                catalog.SNAPSHOT_SUBJECT, request.model_dump_json().encode(), timeout=timeout
            )
            page = catalog.parse_snapshot_reply(reply.data)
        except (TimeoutError, NatsError, ConnectionError, ValidationError, ValueError) as exc:
            raise SnapshotUnavailable(type(exc).__name__) from exc
        if isinstance(page, catalog.RpcError):
            raise SnapshotUnavailable(page.error)
        now = datetime.now(UTC)
        async with sessionmaker() as session, session.begin():
            copies = CatalogCopyRepository(session)
            for published in page.items:
                await copies.remember_published(published, now=now)
            for retired in page.retired:
                await copies.remember_retired(retired.service_id, retired.version, now=now)
        seen += len(page.items)
        if page.next is None:
            return seen
        after = page.next


async def load_locations_snapshot(
    sessionmaker: async_sessionmaker[AsyncSession],
    connection: NatsConnection,
    *,
    timeout: float,  # noqa: ASYNC109 - a budget per page, not a cancel scope
    page_size: int = catalog.SNAPSHOT_DEFAULT_LIMIT,
) -> int:
    """Every MPP location, page by page (one transaction each); a location the copy holds in
    a later state (an event read meanwhile) is left as it is. Returns how many were read."""
    after = None
    seen = 0
    while True:
        request = catalog.LocationsSnapshotRequest(after=after, limit=page_size)
        try:
            reply = await connection.client.request(
                catalog.LOCATIONS_SNAPSHOT_SUBJECT,
                request.model_dump_json().encode(),
                timeout=timeout,
            )
            page = catalog.parse_locations_snapshot_reply(reply.data)
        except (TimeoutError, NatsError, ConnectionError, ValidationError, ValueError) as exc:
            raise SnapshotUnavailable(type(exc).__name__) from exc
        if isinstance(page, catalog.RpcError):
            raise SnapshotUnavailable(page.error)
        now = datetime.now(UTC)
        async with sessionmaker() as session, session.begin():
            copies = SqlLocationCopies(session)
            for location in page.items:
                await copies.remember(location, as_of=location.as_of or UNDATED, now=now)
        seen += len(page.items)
        if page.next is None:
            return seen
        after = page.next


class SnapshotLoader:
    """A worker: once NATS is connected, loads the snapshots (services, then locations),
    retrying until both succeed.

    Cheap enough to run at every start (a page per 50 versions, each kept once), so it does,
    even when the read copy is not empty: events that the stream no longer holds are filled in.
    The service is not ready (``ready``) until it has succeeded once; retries back off to
    ``max_backoff`` at most, so readiness follows soon after the catalogue comes up.
    """

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        connection: NatsConnection,
        *,
        timeout: float = 5.0,
        max_backoff: float = 5.0,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._connection = connection
        self._timeout = timeout
        self._max_backoff = max_backoff
        self._task: asyncio.Task[None] | None = None
        self.loaded = asyncio.Event()

    async def ready(self) -> bool:
        """A readiness check: the snapshot has been loaded once since the start."""
        return self.loaded.is_set()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="catalog-snapshot")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None

    async def _run(self) -> None:
        delay = 0.5
        while True:
            if self._connection.connected:
                try:
                    count = await load_snapshot(
                        self._sessionmaker, self._connection, timeout=self._timeout
                    )
                    locations = await load_locations_snapshot(
                        self._sessionmaker, self._connection, timeout=self._timeout
                    )
                except Exception as exc:
                    log.warning(
                        "catalogue snapshot not loaded yet; will retry",
                        extra={"error": f"{type(exc).__name__}: {exc}"[:300]},
                    )
                else:
                    log.info(
                        "catalogue snapshot loaded",
                        extra={"versions": count, "locations": locations},
                    )
                    self.loaded.set()
                    return
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._max_backoff)
