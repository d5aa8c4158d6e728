"""Keeps the table of agencies the catalogue announced (``mpp.catalog.agency.*``)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from identity.db.repositories import AgencyRepository
from mpp_shared.contracts.catalog import v1 as catalog
from mpp_shared.events import CloudEvent, EventConsumer, NatsConnection, PermanentError

CONSUMER_NAME = "identity-agencies"


async def remember_agency(session: AsyncSession, event: CloudEvent) -> None:
    try:
        agency = event.data_as(catalog.Agency)
    except ValueError as exc:
        raise PermanentError(f"not an agency event: {exc}") from exc
    await AgencyRepository(session).remember(
        agency_id=agency.agency_id,
        name=agency.name,
        kind=agency.kind,
        region_code=agency.region_code,
        revision=agency.revision,
    )


def agency_consumer(
    sessionmaker: async_sessionmaker[AsyncSession], connection: NatsConnection
) -> EventConsumer:
    return EventConsumer(
        name=CONSUMER_NAME,
        subjects=[catalog.AGENCY_CREATED, catalog.AGENCY_UPDATED],
        handler=remember_agency,
        sessionmaker=sessionmaker,
        connection=connection,
    )
