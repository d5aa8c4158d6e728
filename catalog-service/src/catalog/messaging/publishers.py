"""Writes the catalogue's events to the outbox, in the transaction of the change they report."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from catalog.domain.models import Agency
from mpp_shared.contracts import EventData
from mpp_shared.contracts.catalog import v1 as contract
from mpp_shared.events.envelope import new_event
from mpp_shared.events.outbox import record_event


class OutboxCatalogEvents:
    """Implements ``catalog.domain.ports.CatalogEvents``."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def agency_created(self, agency: Agency) -> None:
        await self._record(
            contract.AGENCY_CREATED, str(agency.id), contract.AgencyCreated(**_agency(agency))
        )

    async def agency_updated(self, agency: Agency) -> None:
        await self._record(
            contract.AGENCY_UPDATED, str(agency.id), contract.AgencyUpdated(**_agency(agency))
        )

    async def service_published(self, payload: contract.ServicePublished) -> None:
        await self._record(contract.SERVICE_PUBLISHED, str(payload.service_id), payload)

    async def service_retired(self, payload: contract.ServiceRetired) -> None:
        await self._record(contract.SERVICE_RETIRED, str(payload.service_id), payload)

    async def location_updated(self, payload: contract.LocationUpdated) -> None:
        await self._record(contract.LOCATION_UPDATED, str(payload.location_id), payload)

    async def _record(self, event_type: str, subject: str, data: EventData) -> None:
        event = new_event(type=event_type, source=contract.SOURCE, subject=subject, data=data)
        await record_event(self.session, event)


def _agency(agency: Agency) -> dict[str, object]:
    return {
        "agency_id": agency.id,
        "name": agency.name,
        "kind": agency.kind.value,
        "region_code": agency.region_code,
        "timezone": agency.timezone,
        "revision": agency.revision,
    }
