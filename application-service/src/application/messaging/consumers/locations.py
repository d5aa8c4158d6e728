"""Keeps the read copy of the MPP locations (``mpp.catalog.location.updated``), so that counter
bookings go on while catalog-service is down."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from application.db.locations import SqlLocationCopies
from mpp_shared.contracts.catalog import v1 as catalog
from mpp_shared.events import CloudEvent, EventConsumer, NatsConnection, PermanentError

CONSUMER_NAME = "application-locations"


async def remember_location(session: AsyncSession, event: CloudEvent) -> None:
    if event.type != catalog.LOCATION_UPDATED:
        raise PermanentError(f"not a location event: {event.type}")
    try:
        updated = event.data_as(catalog.LocationUpdated)
    except ValueError as exc:
        raise PermanentError(f"malformed {event.type}: {exc}") from exc
    await SqlLocationCopies(session).remember(
        updated.as_reply(), as_of=updated.as_of, now=datetime.now(UTC)
    )


def locations_consumer(
    sessionmaker: async_sessionmaker[AsyncSession], connection: NatsConnection
) -> EventConsumer:
    return EventConsumer(
        name=CONSUMER_NAME,
        subjects=[catalog.LOCATION_UPDATED],
        handler=remember_location,
        sessionmaker=sessionmaker,
        connection=connection,
    )
