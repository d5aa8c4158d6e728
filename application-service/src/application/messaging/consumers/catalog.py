"""Keeps the read copy of the catalogue (``mpp.catalog.service.published|retired``), so that
intake and processing go on while catalog-service is down."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from application.db.repositories import CatalogCopyRepository
from mpp_shared.contracts.catalog import v1 as catalog
from mpp_shared.events import CloudEvent, EventConsumer, NatsConnection, PermanentError

CONSUMER_NAME = "application-catalog"


async def remember_service(session: AsyncSession, event: CloudEvent) -> None:
    copies = CatalogCopyRepository(session)
    now = datetime.now(UTC)
    try:
        if event.type == catalog.SERVICE_PUBLISHED:
            await copies.remember_published(event.data_as(catalog.ServicePublished), now=now)
        elif event.type == catalog.SERVICE_RETIRED:
            retired = event.data_as(catalog.ServiceRetired)
            await copies.remember_retired(retired.service_id, retired.version, now=now)
        else:
            raise PermanentError(f"not a service event: {event.type}")
    except ValueError as exc:
        raise PermanentError(f"malformed {event.type}: {exc}") from exc


def catalog_consumer(
    sessionmaker: async_sessionmaker[AsyncSession], connection: NatsConnection
) -> EventConsumer:
    return EventConsumer(
        name=CONSUMER_NAME,
        subjects=[catalog.SERVICE_PUBLISHED, catalog.SERVICE_RETIRED],
        handler=remember_service,
        sessionmaker=sessionmaker,
        connection=connection,
    )
