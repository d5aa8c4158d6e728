"""Loads the demo catalogue on start (``seed_demo_data``), through the same rules as the API.

Idempotent: what exists is kept; a demo service whose definition changed in this file gets a
new published version. Services are published through the domain, so their events reach
application-service and tracking-service like any other publication.
"""

from __future__ import annotations

import logging
import zlib

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog.db.repositories import SqlCatalogRepository, SqlLocationReader
from catalog.demo.data import (
    DEMO_AGENCIES,
    DEMO_REGIONS,
    DemoAgency,
    DemoRegion,
    demo_agency_id,
    demo_counter_id,
    demo_location_id,
    demo_service_id,
)
from catalog.domain import services
from catalog.domain.models import AgencyFields, ServiceFields, ServiceFieldsPatch
from catalog.messaging.publishers import OutboxCatalogEvents
from mpp_shared.auth.principal import Principal, Role
from mpp_shared.contracts.catalog import v1 as contract

log = logging.getLogger(__name__)

SEED_PRINCIPAL = Principal(
    subject="system:catalog-demo-seed", roles=frozenset({Role.PLATFORM_ADMIN})
)
_LOCK_KEY = zlib.crc32(b"mpp-catalog:demo-seed")

SERVICE_PLEDGE = (
    "Dengan ini kami menyatakan sanggup menyelenggarakan pelayanan sesuai standar pelayanan "
    "yang telah ditetapkan, memberikan pelayanan sesuai kewajiban, dan melakukan perbaikan "
    "secara terus-menerus. Apabila tidak menepati janji ini, kami siap menerima sanksi sesuai "
    "peraturan perundang-undangan yang berlaku."
)
WEEKDAYS_0800_1500 = {
    "mon": [["08:00", "15:00"]],
    "tue": [["08:00", "15:00"]],
    "wed": [["08:00", "15:00"]],
    "thu": [["08:00", "15:00"]],
    "fri": [["08:00", "11:30"], ["13:30", "15:00"]],
    "sat": [],
    "sun": [],
}


async def load_demo_data(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    async with sessionmaker() as session, session.begin():
        # Replicas starting together: one seeds, the others then find everything in place.
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
        repo = SqlCatalogRepository(session)
        events = OutboxCatalogEvents(session)
        changed = 0
        for region in DEMO_REGIONS:
            for agency in DEMO_AGENCIES:
                changed += await _seed_agency(repo, events, region, agency)
            await _seed_location(repo, events, region)
    log.info("demo catalogue in place", extra={"published": changed})


async def _seed_agency(
    repo: SqlCatalogRepository,
    events: OutboxCatalogEvents,
    region: DemoRegion,
    agency: DemoAgency,
) -> int:
    agency_id = demo_agency_id(region.code, agency.key)
    if await repo.get_agency(agency_id) is None:
        await services.create_agency(
            repo=repo,
            events=events,
            principal=SEED_PRINCIPAL,
            agency_id=agency_id,
            fields=AgencyFields.model_validate(
                {
                    "name": agency.name(region),
                    "kind": agency.kind,
                    "region_code": region.code,
                    "address": region.address,
                    "service_pledge": SERVICE_PLEDGE,
                }
            ),
        )
    published = 0
    for demo in agency.services:
        service_id = demo_service_id(region.code, agency.key, demo.code)
        fields = ServiceFields.model_validate(demo.build(region))
        header = await repo.get_service(service_id)
        if header is None:
            await services.create_service(
                repo=repo,
                principal=SEED_PRINCIPAL,
                agency_id=agency_id,
                code=demo.code,
                fields=fields,
                service_id=service_id,
            )
        elif header.published_version is not None and header.draft_version is None:
            latest = await repo.get_version(service_id, header.published_version)
            if latest is not None and latest.fields == fields:
                continue
            await services.edit_draft(
                repo=repo,
                principal=SEED_PRINCIPAL,
                service_id=service_id,
                patch=ServiceFieldsPatch.model_validate(fields.model_dump()),
            )
        elif header.draft_version is None:
            continue
        else:
            # A draft someone (or an earlier, interrupted seed) left: the seed's definition wins.
            await services.edit_draft(
                repo=repo,
                principal=SEED_PRINCIPAL,
                service_id=service_id,
                patch=ServiceFieldsPatch.model_validate(fields.model_dump()),
            )
        await services.publish_service(
            repo=repo, events=events, principal=SEED_PRINCIPAL, service_id=service_id
        )
        published += 1
    return published


async def _seed_location(
    repo: SqlCatalogRepository, events: OutboxCatalogEvents, region: DemoRegion
) -> None:
    """The region's MPP building and its counters; ``mpp.catalog.location.updated`` when it is
    new or anything of it changed (a start that changes nothing publishes nothing)."""
    location_id = demo_location_id(region.code)
    reader = SqlLocationReader(repo.session)
    before = await reader.location(location_id)
    await repo.ensure_location(
        location_id=location_id,
        name=f"Mal Pelayanan Publik {region.place}",
        region_code=region.code,
        address=region.address,
        opening_hours=WEEKDAYS_0800_1500,
    )
    for position, agency in enumerate(DEMO_AGENCIES, start=1):
        await repo.ensure_counter(
            counter_id=demo_counter_id(region.code, agency.key),
            location_id=location_id,
            label=f"Loket {position}",
            agency_id=demo_agency_id(region.code, agency.key),
            position=position,
            service_ids=[
                demo_service_id(region.code, agency.key, demo.code) for demo in agency.services
            ],
        )
    after = await reader.location(location_id)
    assert after is not None
    await publish_location_if_changed(events, before=before, after=after)


async def publish_location_if_changed(
    events: OutboxCatalogEvents,
    *,
    before: contract.LocationReply | None,
    after: contract.LocationReply,
) -> bool:
    if before is not None and before.model_dump(exclude={"as_of"}) == after.model_dump(
        exclude={"as_of"}
    ):
        return False
    await events.location_updated(contract.LocationUpdated.model_validate(after.model_dump()))
    return True
