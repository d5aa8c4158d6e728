"""Counter bookings read locations from the read copy that catalog-service's location events
(and its snapshot) keep: slots, booking, check-in, call-next and the board go on while the
catalogue is stopped, and a late event does not undo a newer state."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import nats
import pytest

from mpp_shared.contracts.catalog import v1 as catalog
from mpp_shared.events.envelope import new_event
from mpp_shared.testing.events import publish_like_relay
from mpp_shared.testing.zones import zone_away_from_midnight

ALL_DAY = {d: [["00:00", "23:59"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


async def _eventually(check: Callable[[], Awaitable[bool]], *, within: float = 15.0) -> None:
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, "not within the time allowed"
        await asyncio.sleep(0.1)


def _location(
    agency_id: uuid.UUID, service_id: str, *, zone: str, as_of: datetime, hours: Any = None
) -> catalog.LocationUpdated:
    location_id = uuid.uuid4()
    return catalog.LocationUpdated(
        location_id=location_id,
        name="Mal Pelayanan Publik Kota Samarinda",
        region_code="64.72",
        timezone=zone,  # type: ignore[arg-type]
        opening_hours=ALL_DAY if hours is None else hours,
        counters=[
            catalog.LocationCounter(
                counter_id=uuid.uuid5(location_id, "loket-1"),
                label="Loket 1",
                agency_id=agency_id,
                agency_name="Disdukcapil Kota Samarinda",
                service_ids=[uuid.UUID(service_id)],
            )
        ],
        as_of=as_of,
    )


def _event(data: catalog.LocationUpdated) -> Any:
    return new_event(
        type=catalog.LOCATION_UPDATED,
        source=catalog.SOURCE,
        subject=str(data.location_id),
        data=data,
    )


@pytest.fixture
async def as_catalog(infrastructure: Any) -> AsyncIterator[Any]:
    """catalog-service's NATS user: publishes its events, answers no request (it is down)."""
    nc = await nats.connect(
        infrastructure.nats_url, **infrastructure.nats_connect_options("catalog")
    )
    try:
        yield nc.jetstream()
    finally:
        await nc.drain()


async def test_bookings_go_on_from_the_read_copy_while_the_catalogue_is_stopped(
    application_app_client: Callable[..., Any],
    application_token: Callable[..., dict[str, str]],
    new_service: Callable[..., dict[str, Any]],
    catalogue: Any,
    citizen: Callable[..., Any],
    as_catalog: Any,
) -> None:
    agency_id = uuid.uuid4()
    officer = application_token(roles=["officer"], agency_id=agency_id)
    zone = zone_away_from_midnight()
    async with application_app_client(booking_sweep_seconds=3600.0) as client:
        payload = new_service(agency_id=str(agency_id), channels=["online", "counter"])
        await catalogue.publish(client, payload)
        service_id = payload["service_id"]
        location = _location(agency_id, service_id, zone=zone, as_of=datetime.now(UTC))
        # Nothing answers rpc.catalog.locations.get: a location not in the copy is 503.
        today = datetime.now(UTC).astimezone(ZoneInfo(zone)).date()
        params = {"location_id": str(location.location_id), "service_id": service_id}

        async def slots() -> httpx.Response:
            return await client.get(
                "/api/v1/bookings/slots", params={**params, "day": today.isoformat()}
            )

        before = await slots()
        assert before.status_code == 503, before.text
        assert before.json()["code"] == "catalog_unavailable"

        # The catalogue announced the location (before it stopped): the copy learns it.
        await publish_like_relay(as_catalog, _event(location))

        async def copied() -> bool:
            return (await slots()).status_code == 200

        await _eventually(copied)
        now = datetime.now(UTC)
        current = next(
            s
            for s in (await slots()).json()["slots"]
            if datetime.fromisoformat(s["starts_at"]) <= now < datetime.fromisoformat(s["ends_at"])
        )
        who = citizen()
        booked = await client.post(
            "/api/v1/bookings",
            json={**params, "starts_at": current["starts_at"]},
            headers=who.headers,
        )
        assert booked.status_code == 201, booked.text
        assert booked.json()["counter_label"] == "Loket 1"
        booking_id = booked.json()["id"]
        checked = await client.post(f"/api/v1/bookings/{booking_id}/check-in", headers=who.headers)
        assert checked.status_code == 200, checked.text
        counter = location.counters[0].counter_id
        called = await client.post(
            f"/api/v1/agency/locations/{location.location_id}/counters/{counter}/call-next",
            headers=officer,
        )
        assert called.status_code == 200, called.text
        assert called.json()["id"] == booking_id
        board = await client.get(f"/api/v1/queues/{location.location_id}")
        assert board.status_code == 200, board.text
        assert board.json()["counters"][0]["now_serving"] == checked.json()["queue_number"]

        # A later state replaces the copy; an older one delivered late does not undo it.
        closed_sundays = {**ALL_DAY, "sun": []}
        newer = location.model_copy(
            update={"opening_hours": closed_sundays, "as_of": now + timedelta(seconds=5)}
        )
        older = location.model_copy(
            update={"opening_hours": {}, "as_of": now - timedelta(minutes=5)}
        )
        await publish_like_relay(as_catalog, _event(newer))
        await publish_like_relay(as_catalog, _event(older))
        sunday = today + timedelta(days=(6 - today.weekday()) % 7 or 7)

        async def sunday_closed() -> bool:
            answer = await client.get(
                "/api/v1/bookings/slots", params={**params, "day": sunday.isoformat()}
            )
            return answer.status_code == 422 and answer.json()["code"] == "location_closed"

        await _eventually(sunday_closed)
        await asyncio.sleep(0.5)  # the older event has had its turn too
        monday = sunday + timedelta(days=1)
        still_open = await client.get(
            "/api/v1/bookings/slots", params={**params, "day": monday.isoformat()}
        )
        assert still_open.status_code == 200, still_open.text
        assert still_open.json()["slots"]
