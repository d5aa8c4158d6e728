"""Counter bookings: slots from opening hours and capacity, the last place under concurrency,
one active booking per citizen, holidays, check-in numbers, the officer's calls, no-shows, the
public board's expected wait, the day-before reminder and the events."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select, update

from application import bookings_clock
from application.bookings_clock import booking_sweep, run_booking_clock
from application.db.tables import BookingRow
from application.runtime import ApplicationRuntime
from mpp_shared.contracts.application import v1 as contract
from mpp_shared.db import create_engine, create_sessionmaker
from mpp_shared.events.tables import outbox
from mpp_shared.testing.zones import zone_away_from_midnight

ALL_DAY = {d: [["00:00", "23:59"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


class DaysOff:
    """The holidays a test names, and no others (the real calendar would make tests depend on
    the day they run)."""

    def __init__(self) -> None:
        self.days: dict[date, str] = {}

    def holiday_name(self, day: date) -> str | None:
        return self.days.get(day)


class World:
    def __init__(self, client: httpx.AsyncClient, fake_catalog: Any, days_off: DaysOff) -> None:
        self.client = client
        self.catalog = fake_catalog
        self.days_off = days_off
        self.agency_id = uuid.uuid4()
        self.service_id = ""

    @property
    def runtime(self) -> ApplicationRuntime:
        return self.client.app.state.runtime.state  # type: ignore[attr-defined, no-any-return]


@pytest.fixture(scope="module")
async def world(
    application_app_client: Callable[..., Any],
    fake_catalog: Any,
    new_service: Callable[..., dict[str, Any]],
    catalogue: Any,
) -> AsyncIterator[World]:
    async with application_app_client(
        booking_capacity_per_counter=1, booking_sweep_seconds=3600.0
    ) as client:
        days_off = DaysOff()
        found = World(client, fake_catalog, days_off)
        found.runtime.calendar = days_off
        payload = new_service(agency_id=str(found.agency_id), channels=["online", "counter"])
        found.service_id = payload["service_id"]
        await catalogue.publish(client, payload)
        yield found


def _location(world: World, *, counters: int = 1, **kwargs: Any) -> str:
    location_id: str = world.catalog.add_location(
        counters=[
            {"agency_id": world.agency_id, "service_ids": [world.service_id]}
            for _ in range(counters)
        ],
        **kwargs,
    )
    return location_id


def _future_day(days: int = 3) -> date:
    return datetime.now(UTC).date() + timedelta(days=days)


async def _slots(world: World, location_id: str, day: date, **params: Any) -> httpx.Response:
    return await world.client.get(
        "/api/v1/bookings/slots",
        params={
            "location_id": location_id,
            "service_id": world.service_id,
            "day": day.isoformat(),
            **params,
        },
    )


async def _book(world: World, who: Any, location_id: str, starts_at: str) -> httpx.Response:
    return await world.client.post(
        "/api/v1/bookings",
        json={"location_id": location_id, "service_id": world.service_id, "starts_at": starts_at},
        headers=who.headers,
    )


async def _current_slot(world: World, location_id: str, zone: str) -> str:
    today = datetime.now(UTC).astimezone(ZoneInfo(zone)).date()
    response = await _slots(world, location_id, today)
    assert response.status_code == 200, response.text
    now = datetime.now(UTC)
    for slot in response.json()["slots"]:
        if (
            datetime.fromisoformat(slot["starts_at"])
            <= now
            < datetime.fromisoformat(slot["ends_at"])
        ):
            return str(slot["starts_at"])
    raise AssertionError("no slot holds now")


async def _events(world: World, booking_id: str) -> list[dict[str, Any]]:
    sessionmaker = world.client.app.state.runtime.session_factory()  # type: ignore[attr-defined]
    async with sessionmaker() as session:
        rows = await session.execute(
            select(outbox.c.envelope)
            .where(outbox.c.envelope["subject"].astext == booking_id)
            .order_by(outbox.c.created_at, outbox.c.id)
        )
        return [row.envelope for row in rows]


def _officer(
    application_token: Callable[..., dict[str, str]], agency_id: uuid.UUID
) -> dict[str, str]:
    return application_token(roles=["officer"], agency_id=agency_id)


# ---- slots ---------------------------------------------------------------------------------------


async def test_slots_follow_opening_hours_and_counter_capacity(world: World) -> None:
    hours = {
        d: [["08:00", "10:00"], ["13:00", "14:15"]]
        for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    }
    location_id = _location(world, counters=3, opening_hours=hours, timezone="Asia/Makassar")
    day = _future_day()
    response = await _slots(world, location_id, day)
    assert response.status_code == 200, response.text
    body = response.json()
    zone = ZoneInfo("Asia/Makassar")
    starts = [
        datetime.fromisoformat(s["starts_at"]).astimezone(zone).strftime("%H:%M")
        for s in body["slots"]
    ]
    # Whole 30-minute slots inside each interval: 13:00-14:15 has two, not three.
    assert starts == ["08:00", "08:30", "09:00", "09:30", "13:00", "13:30"]
    assert {s["capacity"] for s in body["slots"]} == {3}  # three counters, one visit each
    assert {s["available"] for s in body["slots"]} == {3}
    assert body["timezone"] == "Asia/Makassar"


async def test_booking_on_a_holiday_is_422(world: World, citizen: Callable[..., Any]) -> None:
    location_id = _location(world, opening_hours=ALL_DAY)
    day = _future_day(5)
    world.days_off.days[day] = "Hari Raya Test"
    try:
        listed = await _slots(world, location_id, day)
        assert listed.status_code == 422
        assert listed.json()["code"] == "holiday"
        starts_at = datetime.combine(day, datetime.min.time(), tzinfo=ZoneInfo("Asia/Makassar"))
        booked = await _book(world, citizen(), location_id, starts_at.astimezone(UTC).isoformat())
        assert booked.status_code == 422, booked.text
        assert booked.json()["code"] == "holiday"
        assert booked.headers["content-type"].startswith("application/problem+json")
    finally:
        del world.days_off.days[day]


async def test_closed_day_unknown_location_and_not_a_slot_are_refused(
    world: World, citizen: Callable[..., Any]
) -> None:
    closed = _location(world, opening_hours={"mon": [["08:00", "12:00"]]})
    day = _future_day()
    while day.weekday() == 0:
        day += timedelta(days=1)
    response = await _slots(world, closed, day)
    assert response.status_code == 422
    assert response.json()["code"] == "location_closed"
    unknown = await _slots(world, str(uuid.uuid4()), _future_day())
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "location_not_found"
    open_location = _location(world, opening_hours=ALL_DAY, timezone="Asia/Jakarta")
    odd = datetime.combine(_future_day(), datetime.min.time(), tzinfo=ZoneInfo("Asia/Jakarta"))
    odd += timedelta(minutes=7)
    refused = await _book(world, citizen(), open_location, odd.astimezone(UTC).isoformat())
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["msg"] == "not a slot"


# ---- holding a place -----------------------------------------------------------------------------


async def test_concurrent_bookings_of_the_last_place_exactly_one_wins(
    world: World, citizen: Callable[..., Any]
) -> None:
    location_id = _location(world, counters=2, opening_hours=ALL_DAY)
    day = _future_day(4)
    slot = (await _slots(world, location_id, day)).json()["slots"][10]["starts_at"]
    first = await _book(world, citizen(), location_id, slot)
    assert first.status_code == 201, first.text
    # One place left (two counters, one visit each); eight citizens race for it.
    racers = [citizen() for _ in range(8)]
    answers = await asyncio.gather(*(_book(world, who, location_id, slot) for who in racers))
    codes = sorted(a.status_code for a in answers)
    assert codes == [201] + [409] * 7, [a.text for a in answers]
    assert {a.json()["code"] for a in answers if a.status_code == 409} == {"slot_full"}
    winner = next(a.json() for a in answers if a.status_code == 201)
    # The two bookings hold the two counters, one each.
    assert winner["counter_id"] != first.json()["counter_id"]
    listed = (await _slots(world, location_id, day)).json()["slots"][10]
    assert listed["available"] == 0
    assert listed["capacity"] == 2


async def test_one_active_booking_per_citizen_service_and_day(
    world: World, citizen: Callable[..., Any]
) -> None:
    location_id = _location(world, counters=2, opening_hours=ALL_DAY)
    day = _future_day(6)
    slots = (await _slots(world, location_id, day)).json()["slots"]
    who = citizen()
    # Two at once for two different slots: the partial unique index lets one through.
    answers = await asyncio.gather(
        _book(world, who, location_id, slots[2]["starts_at"]),
        _book(world, who, location_id, slots[3]["starts_at"]),
    )
    assert sorted(a.status_code for a in answers) == [201, 409]
    refused = next(a for a in answers if a.status_code == 409)
    assert refused.json()["code"] == "booking_exists"
    kept = next(a.json() for a in answers if a.status_code == 201)
    # The refused booking left its place free.
    after = {
        s["starts_at"]: s["available"]
        for s in (await _slots(world, location_id, day)).json()["slots"]
    }
    assert sorted([after[slots[2]["starts_at"]], after[slots[3]["starts_at"]]]) == [1, 2]
    # Cancelled, the citizen may book the day again.
    cancelled = await world.client.post(
        f"/api/v1/bookings/{kept['id']}/cancel", headers=who.headers
    )
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    again = await _book(world, who, location_id, slots[4]["starts_at"])
    assert again.status_code == 201, again.text
    after = {
        s["starts_at"]: s["available"]
        for s in (await _slots(world, location_id, day)).json()["slots"]
    }
    assert after[kept["starts_at"]] == 2  # the cancelled place is free again
    # Another day is another booking.
    other_day = (await _slots(world, location_id, _future_day(7))).json()["slots"][0]["starts_at"]
    assert (await _book(world, who, location_id, other_day)).status_code == 201


async def test_bookings_are_the_owners_and_the_agencys(
    world: World, citizen: Callable[..., Any], application_token: Callable[..., dict[str, str]]
) -> None:
    location_id = _location(world, opening_hours=ALL_DAY)
    slot = (await _slots(world, location_id, _future_day(8))).json()["slots"][0]["starts_at"]
    owner = citizen()
    booking = (await _book(world, owner, location_id, slot)).json()
    path = f"/api/v1/bookings/{booking['id']}"
    assert (await world.client.get(path, headers=owner.headers)).status_code == 200
    assert (await world.client.get(path, headers=citizen().headers)).status_code == 404
    other_agency = _officer(application_token, uuid.uuid4())
    assert (await world.client.get(path, headers=other_agency)).status_code == 404
    own_agency = _officer(application_token, world.agency_id)
    assert (await world.client.get(path, headers=own_agency)).status_code == 200
    mine = await world.client.get("/api/v1/bookings", headers=owner.headers)
    assert [b["id"] for b in mine.json()["items"]] == [booking["id"]]
    staff_booking = await world.client.post(
        "/api/v1/bookings",
        json={"location_id": location_id, "service_id": world.service_id, "starts_at": slot},
        headers=own_agency,
    )
    assert staff_booking.status_code == 403


# ---- at the counter ------------------------------------------------------------------------------


async def test_check_in_call_serve_and_the_board(
    world: World, citizen: Callable[..., Any], application_token: Callable[..., dict[str, str]]
) -> None:
    zone = zone_away_from_midnight()
    location_id = _location(world, counters=2, opening_hours=ALL_DAY, timezone=zone)
    location = world.catalog.locations[location_id]
    officer = _officer(application_token, world.agency_id)
    slot = await _current_slot(world, location_id, zone)
    people = [citizen(), citizen()]
    booked = [(await _book(world, who, location_id, slot)).json() for who in people]
    assert {b["counter_id"] for b in booked} == {c["counter_id"] for c in location["counters"]}
    first = next(b for b in booked if b["counter_id"] == location["counters"][0]["counter_id"])
    owner = people[booked.index(first)]
    checked = await world.client.post(
        f"/api/v1/bookings/{first['id']}/check-in", headers=owner.headers
    )
    assert checked.status_code == 200, checked.text
    assert checked.json()["queue_number"] == "A-001"  # the location's first counter is A
    again = await world.client.post(
        f"/api/v1/bookings/{first['id']}/check-in", headers=owner.headers
    )
    assert again.status_code == 409
    second = next(b for b in booked if b is not first)
    # The officer checks in the other resident at the desk: counter B's first number.
    desk = await world.client.post(f"/api/v1/bookings/{second['id']}/check-in", headers=officer)
    assert desk.json()["queue_number"] == "B-001"

    board = (await world.client.get(f"/api/v1/queues/{location_id}")).json()
    by_letter = {c["letter"]: c for c in board["counters"]}
    assert by_letter["A"]["waiting"] == 1
    assert by_letter["A"]["now_serving"] is None
    # Nothing measured yet: the policy's 30 minutes per visit (slot / capacity 1).
    assert by_letter["A"]["expected_wait_minutes"] == 30

    counter_a = location["counters"][0]["counter_id"]
    call = f"/api/v1/agency/locations/{location_id}/counters/{counter_a}/call-next"
    other = _officer(application_token, uuid.uuid4())
    assert (await world.client.post(call, headers=other)).status_code == 403
    called = await world.client.post(call, headers=officer)
    assert called.status_code == 200, called.text
    assert called.json()["id"] == first["id"]
    assert called.json()["status"] == "called"
    busy = await world.client.post(call, headers=officer)
    assert busy.status_code == 409
    assert busy.json()["code"] == "counter_busy"
    served = await world.client.post(
        f"/api/v1/agency/bookings/{first['id']}/served", headers=officer
    )
    assert served.status_code == 200
    assert served.json()["status"] == "served"
    empty = await world.client.post(call, headers=officer)
    assert empty.status_code == 409
    assert empty.json()["code"] == "queue_empty"

    board = (await world.client.get(f"/api/v1/queues/{location_id}")).json()
    by_letter = {c["letter"]: c for c in board["counters"]}
    assert by_letter["A"]["now_serving"] == "A-001"
    assert by_letter["A"]["waiting"] == 0
    assert by_letter["A"]["served"] == 1
    assert by_letter["A"]["average_service_minutes"] is not None
    assert by_letter["B"]["waiting"] == 1
    # B has measured nothing: the location's measured time stands in (a few ms here, so
    # at most a minute), no longer the policy's 30 minutes.
    assert by_letter["B"]["expected_wait_minutes"] <= 1
    text = str(board)
    for who in people:
        assert str(who.id) not in text  # the board names no citizen

    types = [e["type"] for e in await _events(world, first["id"])]
    assert types == [
        contract.BOOKING_BOOKED,
        contract.BOOKING_CHECKED_IN,
        contract.BOOKING_CALLED,
        contract.BOOKING_SERVED,
    ]
    last = contract.BookingEvent.model_validate((await _events(world, first["id"]))[-1]["data"])
    assert last.sequence == 4
    assert last.queue_number == "A-001"
    assert last.actor_kind == "staff"


async def test_called_and_absent_is_a_no_show_and_repeated_no_shows_suspend_booking(
    world: World, citizen: Callable[..., Any], application_token: Callable[..., dict[str, str]]
) -> None:
    zone = zone_away_from_midnight()
    officer = _officer(application_token, world.agency_id)
    who = citizen()
    for _ in range(3):
        # A fresh location each time: one active booking per service and day.
        location_id = _location(world, opening_hours=ALL_DAY, timezone=zone)
        counter = world.catalog.locations[location_id]["counters"][0]["counter_id"]
        booking = (
            await _book(world, who, location_id, await _current_slot(world, location_id, zone))
        ).json()
        assert "id" in booking, booking
        await world.client.post(f"/api/v1/bookings/{booking['id']}/check-in", headers=who.headers)
        call = f"/api/v1/agency/locations/{location_id}/counters/{counter}/call-next"
        assert (await world.client.post(call, headers=officer)).status_code == 200
        absent = await world.client.post(
            f"/api/v1/agency/bookings/{booking['id']}/no-show", headers=officer
        )
        assert absent.status_code == 200
        assert absent.json()["status"] == "no_show"
        # Not served twice, not absent twice.
        late = await world.client.post(
            f"/api/v1/agency/bookings/{booking['id']}/served", headers=officer
        )
        assert late.status_code == 409
    location_id = _location(world, opening_hours=ALL_DAY)
    slot = (await _slots(world, location_id, _future_day(9))).json()["slots"][0]["starts_at"]
    refused = await _book(world, who, location_id, slot)
    assert refused.status_code == 403
    assert refused.json()["code"] == "booking_suspended"
    assert (await _book(world, citizen(), location_id, slot)).status_code == 201


async def test_check_in_outside_the_window_is_refused(
    world: World, citizen: Callable[..., Any]
) -> None:
    location_id = _location(world, opening_hours=ALL_DAY)
    slot = (await _slots(world, location_id, _future_day(10))).json()["slots"][0]["starts_at"]
    who = citizen()
    booking = (await _book(world, who, location_id, slot)).json()
    early = await world.client.post(
        f"/api/v1/bookings/{booking['id']}/check-in", headers=who.headers
    )
    assert early.status_code == 409
    assert early.json()["code"] == "check_in_closed"


# ---- the clock -----------------------------------------------------------------------------------


async def test_reminder_the_day_before_once_and_unattended_bookings_become_no_shows(
    world: World, citizen: Callable[..., Any]
) -> None:
    location_id = _location(world, opening_hours=ALL_DAY, timezone="Asia/Jakarta")
    day = _future_day(12)
    slots = (await _slots(world, location_id, day)).json()["slots"]
    who = citizen()
    booking = (await _book(world, who, location_id, slots[20]["starts_at"])).json()
    changed_mind = citizen()
    cancelled = (await _book(world, changed_mind, location_id, slots[21]["starts_at"])).json()
    await world.client.post(
        f"/api/v1/bookings/{cancelled['id']}/cancel", headers=changed_mind.headers
    )
    sessionmaker = world.client.app.state.runtime.session_factory()  # type: ignore[attr-defined]
    policy = world.runtime.booking_policy
    eve = datetime.combine(
        day - timedelta(days=1), policy.reminder_time, tzinfo=ZoneInfo("Asia/Jakarta")
    )

    async def clock(now: datetime) -> int:
        async with sessionmaker() as session, session.begin():
            return await run_booking_clock(session, policy=policy, now=now)

    await clock(eve - timedelta(minutes=1))
    assert [e["type"] for e in await _events(world, booking["id"])] == [contract.BOOKING_BOOKED]
    await clock(eve + timedelta(minutes=1))
    await clock(eve + timedelta(minutes=2))  # once only
    types = [e["type"] for e in await _events(world, booking["id"])]
    assert types == [contract.BOOKING_BOOKED, contract.BOOKING_REMINDER]
    reminder = contract.BookingEvent.model_validate(
        (await _events(world, booking["id"]))[-1]["data"]
    )
    assert reminder.status == "booked"
    assert reminder.actor_kind == "system"
    assert reminder.account_id == who.id

    slot_end = datetime.fromisoformat(booking["ends_at"])
    grace = timedelta(minutes=policy.no_show_grace_minutes)
    await clock(slot_end + grace - timedelta(seconds=1))
    assert (
        await world.client.get(f"/api/v1/bookings/{booking['id']}", headers=who.headers)
    ).json()["status"] == "booked"
    await clock(slot_end + grace + timedelta(seconds=1))
    after = (
        await world.client.get(f"/api/v1/bookings/{booking['id']}", headers=who.headers)
    ).json()
    assert after["status"] == "no_show"
    types = [e["type"] for e in await _events(world, booking["id"])]
    assert types[-1] == contract.BOOKING_NO_SHOW
    # A cancelled booking is neither reminded nor a no-show.
    assert [e["type"] for e in await _events(world, cancelled["id"])] == [
        contract.BOOKING_BOOKED,
        contract.BOOKING_CANCELLED,
    ]


async def test_two_replicas_sweeping_one_database_remind_once_and_mark_a_no_show_once(
    world: World, citizen: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two replicas, each with its own engine and booking sweep, run their passes at the same
    time over the same due bookings: each reminder is published once, each no-show marked
    once, and both replicas do part of the work (one booking per pass, so they interleave)."""
    monkeypatch.setattr(bookings_clock, "BATCH", 1)
    location_id = _location(world, counters=2, opening_hours=ALL_DAY)
    slots = (await _slots(world, location_id, _future_day(14))).json()["slots"]
    bookings = [
        (await _book(world, citizen(), location_id, slot["starts_at"])).json() for slot in slots[:8]
    ]
    to_remind = [uuid.UUID(b["id"]) for b in bookings[:4]]
    unattended = [uuid.UUID(b["id"]) for b in bookings[4:]]
    now = datetime.now(UTC)
    sessionmaker = world.client.app.state.runtime.session_factory()  # type: ignore[attr-defined]
    async with sessionmaker() as session, session.begin():
        # Due now: the reminders' evening has come; the others' slot ended hours ago.
        await session.execute(
            update(BookingRow)
            .where(BookingRow.id.in_(to_remind))
            .values(remind_at=now - timedelta(minutes=1))
        )
        await session.execute(
            update(BookingRow)
            .where(BookingRow.id.in_(unattended))
            .values(
                slot_start=now - timedelta(hours=3),
                slot_end=now - timedelta(hours=2, minutes=30),
                remind_at=None,
            )
        )
    settings = world.client.app.state.runtime.settings  # type: ignore[attr-defined]
    engines = [create_engine(settings) for _ in range(2)]
    policy = world.runtime.booking_policy
    replicas = [
        booking_sweep(create_sessionmaker(engine), policy=policy, interval=3600.0)
        for engine in engines
    ]
    handled = [0, 0]
    try:
        for _ in range(20):
            passes = await asyncio.gather(*(replica.run_once() for replica in replicas))
            handled = [total + done for total, done in zip(handled, passes, strict=True)]
            if not any(passes):
                break
    finally:
        for engine in engines:
            await engine.dispose()
    assert all(handled), handled  # both replicas did part of the work
    for booking_id in to_remind:
        types = [e["type"] for e in await _events(world, str(booking_id))]
        assert types == [contract.BOOKING_BOOKED, contract.BOOKING_REMINDER]
    for booking_id in unattended:
        types = [e["type"] for e in await _events(world, str(booking_id))]
        assert types == [contract.BOOKING_BOOKED, contract.BOOKING_NO_SHOW]
    async with sessionmaker() as session:
        rows = (
            await session.execute(
                select(BookingRow.id, BookingRow.status, BookingRow.reminded_at).where(
                    BookingRow.id.in_(to_remind + unattended)
                )
            )
        ).all()
    by_id = {row.id: row for row in rows}
    assert {by_id[i].status for i in to_remind} == {"booked"}
    assert all(by_id[i].reminded_at is not None for i in to_remind)
    assert {by_id[i].status for i in unattended} == {"no_show"}


async def test_booking_events_carry_no_personal_data(
    world: World, citizen: Callable[..., Any]
) -> None:
    location_id = _location(world, opening_hours=ALL_DAY)
    slot = (await _slots(world, location_id, _future_day(13))).json()["slots"][0]["starts_at"]
    booking = (await _book(world, citizen(), location_id, slot)).json()
    [event] = await _events(world, booking["id"])
    # Exactly the contract's fields: ids, times and the service, no name, NIK or contact.
    assert set(event["data"]) == set(contract.BookingEvent.model_fields)
    assert event["subject"] == booking["id"]
