"""One MPP location over NATS request-reply (``rpc.catalog.locations.get``): its hours and its
counters with the agency and the services each serves, for application-service's bookings."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import nats
import pytest
from nats.aio.client import Client
from nats.errors import NoRespondersError
from sqlalchemy import select

from catalog.db.repositories import SqlCatalogRepository, SqlLocationReader
from catalog.demo.loader import publish_location_if_changed
from catalog.messaging.publishers import OutboxCatalogEvents
from mpp_shared.contracts.catalog import v1 as contract
from mpp_shared.events.permissions import NatsAuthorization
from mpp_shared.events.tables import outbox
from mpp_shared.testing.infrastructure import TestInfrastructure as Infrastructure

SERVICE = {
    "name": "Penerbitan KTP-el",
    "description": "Penerbitan KTP elektronik.",
    "category": "kependudukan",
    "keywords": ["ktp"],
    "region_codes": ["64.72"],
    "requirements": [],
    "procedure": ["Datang ke loket."],
    "stages": [],
    "sla_working_days": 1,
    "fee": {"amount_idr": 0},
    "output": "KTP-el",
    "legal_basis": ["UU 24/2013"],
    "complaint_channel": "SP4N-LAPOR!",
    "channels": ["counter"],
    "min_assurance_level": 1,
    "form_schema": {"type": "object"},
    "prefill": {},
}
HOURS = {"mon": [["08:00", "15:00"]], "fri": [["08:00", "11:30"], ["13:30", "15:00"]], "sun": []}


class Seeded:
    location_id = uuid.uuid4()
    counter_a = uuid.uuid4()
    counter_b = uuid.uuid4()
    agency_id = ""
    service_id = ""


@pytest.fixture(scope="module")
async def seeded(
    catalog_app_client: Callable[..., Any], catalog_token: Callable[..., dict[str, str]]
) -> AsyncIterator[Seeded]:
    async with catalog_app_client() as client:
        admin = catalog_token(roles=["platform_admin"])
        agency = await client.post(
            "/api/v1/agencies",
            json={
                "name": "Disdukcapil Kota Samarinda (loket)",
                "kind": "opd",
                "region_code": "64.72",
            },
            headers=admin,
        )
        assert agency.status_code == 201, agency.text
        seeded = Seeded()
        seeded.agency_id = agency.json()["id"]
        agency_id = uuid.UUID(seeded.agency_id)
        editor = catalog_token(roles=["agency_admin"], agency_id=agency_id)
        draft = await client.post(
            "/api/v1/services",
            json={**SERVICE, "agency_id": seeded.agency_id, "code": "ktp-loket"},
            headers=editor,
        )
        assert draft.status_code == 201, draft.text
        seeded.service_id = draft.json()["id"]
        sessionmaker = client.app.state.runtime.session_factory()  # type: ignore[attr-defined]
        async with sessionmaker() as session, session.begin():
            repo = SqlCatalogRepository(session)
            await repo.ensure_location(
                location_id=seeded.location_id,
                name="Mal Pelayanan Publik Samarinda",
                region_code="64.72",
                address="Jl. Basuki Rahmat",
                opening_hours=HOURS,
            )
            # Position decides the order, not the label.
            await repo.ensure_counter(
                counter_id=seeded.counter_b,
                location_id=seeded.location_id,
                label="Loket 2",
                agency_id=agency_id,
                position=2,
                service_ids=[],
            )
            await repo.ensure_counter(
                counter_id=seeded.counter_a,
                location_id=seeded.location_id,
                label="Loket 9",
                agency_id=agency_id,
                position=1,
                service_ids=[uuid.UUID(seeded.service_id)],
            )
        yield seeded


@pytest.fixture
async def application(
    infrastructure: Infrastructure, nats_authorization: NatsAuthorization
) -> AsyncIterator[Client]:
    assert infrastructure.nats_authorization is not None
    client = await nats.connect(
        infrastructure.nats_url,
        **infrastructure.nats_authorization.credentials("application").connect_options(),
    )
    yield client
    await client.close()


async def _ask(client: Client, body: bytes) -> contract.LocationReply | contract.RpcError:
    deadline = time.monotonic() + 5
    while True:
        try:
            reply = await client.request(contract.LOCATION_SUBJECT, body, timeout=5)
            return contract.parse_location_reply(reply.data)
        except NoRespondersError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)


async def test_location_answer_has_hours_timezone_and_counters_in_order(
    seeded: Seeded, application: Client
) -> None:
    request = contract.LocationRequest(location_id=seeded.location_id)
    answer = await _ask(application, request.model_dump_json().encode())
    assert isinstance(answer, contract.LocationReply), answer
    assert answer.location_id == seeded.location_id
    assert answer.timezone == "Asia/Makassar"  # Kalimantan Timur is WITA
    assert answer.opening_hours == HOURS
    assert [c.counter_id for c in answer.counters] == [seeded.counter_a, seeded.counter_b]
    assert [c.label for c in answer.counters] == ["Loket 9", "Loket 2"]
    assert {str(c.agency_id) for c in answer.counters} == {seeded.agency_id}
    assert [[str(s) for s in c.service_ids] for c in answer.counters] == [[seeded.service_id], []]
    assert answer.counters[0].agency_name == "Disdukcapil Kota Samarinda (loket)"


async def test_unknown_location_and_malformed_request_are_error_replies(
    seeded: Seeded, application: Client
) -> None:
    unknown = contract.LocationRequest(location_id=uuid.uuid4()).model_dump_json().encode()
    answer = await _ask(application, unknown)
    assert isinstance(answer, contract.RpcError)
    assert answer.error == "not_found"
    malformed = await _ask(application, b'{"location_id": "not-a-uuid"}')
    assert isinstance(malformed, contract.RpcError)
    assert malformed.error == "invalid_request"


async def test_locations_snapshot_pages_through_every_location_by_id(
    seeded: Seeded, application: Client, catalog_app_client: Callable[..., Any]
) -> None:
    async def page(after: uuid.UUID | None, limit: int) -> contract.LocationsSnapshotPage:
        request = contract.LocationsSnapshotRequest(after=after, limit=limit)
        deadline = time.monotonic() + 5
        while True:
            try:
                reply = await application.request(
                    contract.LOCATIONS_SNAPSHOT_SUBJECT,
                    request.model_dump_json().encode(),
                    timeout=5,
                )
                break
            except NoRespondersError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.1)
        answer = contract.parse_locations_snapshot_reply(reply.data)
        assert isinstance(answer, contract.LocationsSnapshotPage), answer
        return answer

    seen: list[contract.LocationReply] = []
    after: uuid.UUID | None = None
    while True:
        found = await page(after, 1)
        seen += found.items
        if found.next is None:
            break
        after = found.next
    ours = [item for item in seen if item.location_id == seeded.location_id]
    assert len(ours) == 1
    assert [c.counter_id for c in ours[0].counters] == [seeded.counter_a, seeded.counter_b]
    assert ours[0].as_of is not None
    assert [item.location_id for item in seen] == sorted(item.location_id for item in seen)
    malformed = await application.request(
        contract.LOCATIONS_SNAPSHOT_SUBJECT, b'{"after": "x", "limit": 0}', timeout=5
    )
    error = contract.parse_locations_snapshot_reply(malformed.data)
    assert isinstance(error, contract.RpcError)
    assert error.error == "invalid_request"


async def test_a_location_is_announced_when_new_or_changed_and_not_when_unchanged(
    seeded: Seeded, catalog_app_client: Callable[..., Any]
) -> None:
    async with catalog_app_client() as client:
        sessionmaker = client.app.state.runtime.session_factory()  # type: ignore[attr-defined]
        location_id = uuid.uuid4()

        async def write(hours: dict[str, Any]) -> bool:
            async with sessionmaker() as session, session.begin():
                repo = SqlCatalogRepository(session)
                reader = SqlLocationReader(session)
                before = await reader.location(location_id)
                await repo.ensure_location(
                    location_id=location_id, name="MPP Uji", region_code="64.72",
                    address="Jl. Uji", opening_hours=hours,
                )  # fmt: skip
                after = await reader.location(location_id)
                assert after is not None
                events = OutboxCatalogEvents(session)
                return await publish_location_if_changed(events, before=before, after=after)

        assert await write(HOURS) is True
        assert await write(HOURS) is False
        assert await write({"mon": [["07:30", "12:00"]]}) is True
        async with sessionmaker() as session:
            rows = await session.scalars(
                select(outbox.c.envelope)
                .where(outbox.c.envelope["subject"].astext == str(location_id))
                .order_by(outbox.c.created_at, outbox.c.id)
            )
            announced = [contract.LocationUpdated.model_validate(r["data"]) for r in rows]
    assert [a.opening_hours for a in announced] == [HOURS, {"mon": [["07:30", "12:00"]]}]
    assert announced[0].as_of <= announced[1].as_of
