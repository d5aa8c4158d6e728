"""Agency names for public tracking from the catalogue's events (``mpp.catalog.>``)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mpp_shared.contracts.catalog import v1 as catalog
from mpp_shared.events import CloudEvent, EventConsumer, NatsConnection, PermanentError
from tracking.db.timeline import TimelineRepository

CONSUMER_NAME = "tracking-catalog"
SUBJECTS = (catalog.AGENCY_CREATED, catalog.AGENCY_UPDATED, catalog.SERVICE_PUBLISHED)


async def remember_agency_name(session: AsyncSession, event: CloudEvent) -> None:
    timeline = TimelineRepository(session)
    try:
        if event.type == catalog.SERVICE_PUBLISHED:
            service = event.data_as(catalog.ServicePublished)
            # A name without a revision: kept only until the agency's own event tells better.
            await timeline.remember_agency(
                agency_id=service.agency_id,
                name=service.agency_name,
                timezone=service.agency_timezone,
                revision=0,
            )
            return
        agency = event.data_as(catalog.Agency)
    except ValueError as exc:
        raise PermanentError(f"not a catalogue event this consumer reads: {exc}") from exc
    await timeline.remember_agency(
        agency_id=agency.agency_id,
        name=agency.name,
        timezone=agency.timezone,
        revision=agency.revision,
    )


def catalog_consumer(
    sessionmaker: async_sessionmaker[AsyncSession], connection: NatsConnection
) -> EventConsumer:
    return EventConsumer(
        name=CONSUMER_NAME,
        subjects=list(SUBJECTS),
        handler=remember_agency_name,
        sessionmaker=sessionmaker,
        connection=connection,
    )
