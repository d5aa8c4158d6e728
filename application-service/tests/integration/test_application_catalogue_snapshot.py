"""A fresh application-service learns the catalogue from the snapshot, and is not ready before."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import nats
from nats.aio.msg import Msg

from mpp_shared.contracts.catalog import v1 as catalog

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


async def _readiness(client: httpx.AsyncClient) -> tuple[int, dict[str, Any]]:
    response = await client.get("/readyz")
    return response.status_code, response.json()


async def test_a_fresh_service_is_ready_only_once_the_catalogue_snapshot_is_loaded(
    infrastructure: Any,
    application_app_client: Callable[..., Any],
    new_service: Callable[..., dict[str, Any]],
    citizen: Callable[..., Any],
) -> None:
    published = catalog.ServicePublished.model_validate(new_service(channels=["online", "counter"]))
    asked: list[catalog.ServicesSnapshotRequest] = []

    async def answer(msg: Msg) -> None:
        asked.append(catalog.ServicesSnapshotRequest.model_validate_json(msg.data))
        page = catalog.ServicesSnapshotPage(items=[published], next=None)
        await msg.respond(page.model_dump_json().encode())

    location = catalog.LocationReply(
        location_id=uuid.uuid4(),
        name="Mal Pelayanan Publik Kota Samarinda",
        region_code="64.72",
        timezone="Asia/Makassar",
        opening_hours={d: [["00:00", "23:59"]] for d in WEEKDAYS},
        counters=[
            catalog.LocationCounter(
                counter_id=uuid.uuid4(),
                label="Loket 1",
                agency_id=published.agency_id,
                agency_name=published.agency_name,
                service_ids=[published.service_id],
            )
        ],
        as_of=datetime.now(UTC),
    )
    asked_locations: list[catalog.LocationsSnapshotRequest] = []

    async def answer_locations(msg: Msg) -> None:
        request = catalog.LocationsSnapshotRequest.model_validate_json(msg.data)
        asked_locations.append(request)
        # Two pages: the location, then an empty last page.
        page = catalog.LocationsSnapshotPage(
            items=[location] if request.after is None else [],
            next=location.location_id if request.after is None else None,
        )
        await msg.respond(page.model_dump_json().encode())

    async with application_app_client() as client:
        # No catalogue answers yet: the read copy is empty, so the service is not ready.
        await asyncio.sleep(1.0)
        status, body = await _readiness(client)
        assert status == 503
        assert body["checks"]["catalogue"] is False

        nc = await nats.connect(
            infrastructure.nats_url, **infrastructure.nats_connect_options("catalog")
        )
        try:
            await nc.subscribe(catalog.SNAPSHOT_SUBJECT, cb=answer)
            await nc.flush()
            await asyncio.sleep(1.0)
            # The services' snapshot alone does not make it ready: the locations' is needed.
            status, body = await _readiness(client)
            assert status == 503
            assert body["checks"]["catalogue"] is False
            await nc.subscribe(catalog.LOCATIONS_SNAPSHOT_SUBJECT, cb=answer_locations)
            await nc.flush()
            deadline = time.monotonic() + 10.0
            while (await _readiness(client))[0] != 200:
                assert time.monotonic() < deadline, await _readiness(client)
                await asyncio.sleep(0.2)
        finally:
            await nc.drain()

        created = await client.post(
            "/api/v1/applications",
            json={"service_id": str(published.service_id), "prefill_consent": False},
            headers=citizen().headers,
        )
        # The location came with the snapshot: its slots are read with the catalogue gone.
        day = datetime.now(UTC).date() + timedelta(days=1)
        slots = await client.get(
            "/api/v1/bookings/slots",
            params={
                "location_id": str(location.location_id),
                "service_id": str(published.service_id),
                "day": day.isoformat(),
            },
        )

    assert asked
    assert asked[0].all_versions is True
    assert created.status_code == 201, created.text
    assert created.json()["service_version"] == published.version
    assert [r.after for r in asked_locations[-2:]] == [None, location.location_id]
    assert slots.status_code == 200, slots.text
    assert slots.json()["slots"]
