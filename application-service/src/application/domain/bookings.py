"""Counter bookings (antrean): slots from a location's opening hours, holding a place, the queue.

A slot is a stretch of ``slot_minutes`` inside an opening interval of the location's day; each
counter that serves the service takes ``capacity_per_counter`` visits per slot. A booking holds
one place at one counter (the first counter, in the location's order, with room); the place is
taken by a conditional upsert of the counter's slot row, so two bookings of the last place
cannot both win. On arrival the citizen checks in and gets a number (``A-017``: the counter's
letter and the day's serial); an officer at the counter calls the next number, then marks it
served or no-show. The day's measured service times (called → served) give the expected wait.

Each function takes its collaborators by keyword and changes nothing but through them; the
caller commits.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from application.domain.exceptions import (
    BookingNotFound,
    BookingStateConflict,
    BookingSuspended,
    CheckInClosed,
    CounterBusy,
    CounterNotFound,
    Holiday,
    InvalidInput,
    LocationClosed,
    NotPermitted,
    QueueEmpty,
    ServiceNotAtCounter,
    ServiceNotFound,
    ServiceRetired,
    SlotFull,
)
from application.domain.models import Actor, ServiceVersionCopy
from mpp_shared.auth.principal import Principal, Role
from mpp_shared.contracts.application import v1 as contract
from mpp_shared.contracts.catalog.v1 import LocationCounter, LocationReply

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


class BookingStatus(StrEnum):
    BOOKED = "booked"
    CHECKED_IN = "checked_in"
    CALLED = "called"
    SERVED = "served"
    NO_SHOW = "no_show"
    CANCELLED = "cancelled"


# A citizen has at most one of these per service and day (a partial unique index).
ACTIVE = frozenset({BookingStatus.BOOKED, BookingStatus.CHECKED_IN, BookingStatus.CALLED})


@dataclass(frozen=True)
class BookingPolicy:
    slot_minutes: int = 30
    capacity_per_counter: int = 2
    horizon_days: int = 30
    check_in_early_minutes: int = 60
    # A booking nobody checked in for is a no-show this long after its slot ended.
    no_show_grace_minutes: int = 30
    # This many no-shows within ``no_show_window_days`` suspend online booking.
    no_show_limit: int = 3
    no_show_window_days: int = 30
    # The reminder goes out from this local time on the day before the visit.
    reminder_time: time = time(8, 0)


@dataclass(frozen=True)
class Slot:
    starts_at: datetime  # UTC
    ends_at: datetime


@dataclass(frozen=True)
class SlotAvailability:
    slot: Slot
    capacity: int
    booked: int

    @property
    def available(self) -> int:
        return max(self.capacity - self.booked, 0)


@dataclass
class Booking:
    id: uuid.UUID
    account_id: uuid.UUID
    service_id: uuid.UUID
    service_name: str
    agency_id: uuid.UUID
    location_id: uuid.UUID
    location_name: str
    counter_id: uuid.UUID
    counter_label: str
    counter_letter: str
    day: date
    slot_start: datetime
    slot_end: datetime
    timezone: str
    status: BookingStatus
    created_at: datetime
    updated_at: datetime
    remind_at: datetime | None = None
    reminded_at: datetime | None = None
    queue_number: str | None = None
    checked_in_at: datetime | None = None
    called_at: datetime | None = None
    served_at: datetime | None = None
    no_show_at: datetime | None = None
    cancelled_at: datetime | None = None
    event_sequence: int = 0


@dataclass(frozen=True)
class CounterQueue:
    """One counter's queue of a day, as the public board shows it."""

    counter: LocationCounter
    letter: str
    now_serving: str | None
    waiting: int
    served: int
    average_service_seconds: float | None  # measured today at this counter
    expected_wait_seconds: float


@dataclass(frozen=True)
class CounterStats:
    """What the database counted for one counter and day."""

    now_serving: str | None = None
    waiting: int = 0
    served: int = 0
    service_seconds_total: float = 0.0


@dataclass(frozen=True)
class QueueBoard:
    location: LocationReply
    day: date
    counters: list[CounterQueue]


# ---- ports --------------------------------------------------------------------------------------


class LocationDirectory(Protocol):
    """catalog-service's answer about one location (``rpc.catalog.locations.get``)."""

    async def location(self, location_id: uuid.UUID) -> LocationReply:
        """The location; ``LocationNotFound`` or ``CatalogUnavailable`` otherwise."""
        ...


class SlotCalendar(Protocol):
    def holiday_name(self, day: date) -> str | None: ...


class BookingRepository(Protocol):
    async def service_version(self, service_id: uuid.UUID) -> ServiceVersionCopy | None: ...

    async def booked_places(
        self, counter_ids: list[uuid.UUID], *, start: datetime, end: datetime
    ) -> dict[tuple[uuid.UUID, datetime], int]:
        """Places held per (counter, slot start) for slots starting in ``[start, end)``."""
        ...

    async def take_place(
        self, *, counter_id: uuid.UUID, slot_start: datetime, capacity: int
    ) -> bool:
        """Hold one place at the counter in the slot if one is free (atomically)."""
        ...

    async def release_place(self, *, counter_id: uuid.UUID, slot_start: datetime) -> None: ...

    async def add(self, booking: Booking) -> None:
        """``BookingExists`` when the citizen has an active booking of the service that day."""
        ...

    async def get(self, booking_id: uuid.UUID, *, lock: bool = False) -> Booking | None: ...

    async def save(self, booking: Booking) -> None: ...

    async def list_owned(
        self, account_id: uuid.UUID, *, limit: int, after: Mapping[str, Any] | None
    ) -> tuple[list[Booking], dict[str, Any] | None]:
        """Newest slot first; the position after the page, if there is more."""
        ...

    async def count_no_shows(self, account_id: uuid.UUID, *, since: datetime) -> int: ...

    async def next_queue_serial(self, *, location_id: uuid.UUID, day: date, letter: str) -> int: ...

    async def called_at_counter(self, counter_id: uuid.UUID, day: date) -> Booking | None: ...

    async def next_waiting(self, counter_id: uuid.UUID, day: date) -> Booking | None:
        """The earliest checked-in booking at the counter, locked (others' locks skipped)."""
        ...

    async def counter_stats(
        self, location_id: uuid.UUID, day: date
    ) -> dict[uuid.UUID, CounterStats]: ...


class BookingEvents(Protocol):
    async def record(self, event_type: str, payload: contract.BookingEvent) -> None: ...


# ---- slots --------------------------------------------------------------------------------------


def counter_letter(location: LocationReply, counter_id: uuid.UUID) -> str:
    for index, counter in enumerate(location.counters):
        if counter.counter_id == counter_id:
            return LETTERS[index] if index < len(LETTERS) else f"L{index + 1}"
    raise CounterNotFound()


def serving_counters(location: LocationReply, service_id: uuid.UUID) -> list[LocationCounter]:
    return [c for c in location.counters if service_id in c.service_ids]


def slots_of_day(location: LocationReply, day: date, *, minutes: int) -> list[Slot]:
    """The slots of ``day`` (local to the location): whole ``minutes`` inside each interval."""
    zone = ZoneInfo(location.timezone)
    slots: list[Slot] = []
    for opens, closes in _intervals(location, day):
        start = datetime.combine(day, opens, tzinfo=zone)
        end = datetime.combine(day, closes, tzinfo=zone)
        step = timedelta(minutes=minutes)
        while start + step <= end:
            slots.append(
                Slot(starts_at=start.astimezone(UTC), ends_at=(start + step).astimezone(UTC))
            )
            start += step
    return slots


def _intervals(location: LocationReply, day: date) -> list[tuple[time, time]]:
    intervals: list[tuple[time, time]] = []
    for pair in location.opening_hours.get(WEEKDAYS[day.weekday()], []):
        try:
            opens, closes = (time.fromisoformat(pair[0]), time.fromisoformat(pair[1]))
        except (IndexError, ValueError):
            continue  # the catalogue validates hours; a malformed pair opens nothing
        if opens < closes:
            intervals.append((opens, closes))
    return sorted(intervals)


def local_day(moment: datetime, timezone: str) -> date:
    return moment.astimezone(ZoneInfo(timezone)).date()


def _check_day_open(
    location: LocationReply,
    day: date,
    *,
    calendar: SlotCalendar,
    policy: BookingPolicy,
    now: datetime,
) -> list[Slot]:
    holiday = calendar.holiday_name(day)
    if holiday is not None:
        raise Holiday(holiday)
    today = local_day(now, location.timezone)
    if day < today or day > today + timedelta(days=policy.horizon_days):
        raise InvalidInput(
            f"Pemesanan hanya untuk hari ini sampai {policy.horizon_days} hari ke depan.",
            errors=[{"loc": ["body", "starts_at"], "msg": "outside the booking horizon"}],
        )
    slots = slots_of_day(location, day, minutes=policy.slot_minutes)
    if not slots:
        raise LocationClosed(
            "Lokasi ini tutup pada hari tersebut.",
            errors=[{"loc": ["body", "starts_at"], "msg": "closed"}],
        )
    return slots


async def _bookable_service(repo: BookingRepository, service_id: uuid.UUID) -> ServiceVersionCopy:
    version = await repo.service_version(service_id)
    if version is None:
        raise ServiceNotFound()
    if version.retired:
        raise ServiceRetired()
    if "counter" not in version.published.channels:
        raise ServiceNotAtCounter()
    return version


async def available_slots(
    *,
    repo: BookingRepository,
    locations: LocationDirectory,
    calendar: SlotCalendar,
    policy: BookingPolicy,
    location_id: uuid.UUID,
    service_id: uuid.UUID,
    day: date,
    now: datetime,
) -> tuple[LocationReply, list[SlotAvailability]]:
    """The location and the day's slots for the service there, with the places still free."""
    await _bookable_service(repo, service_id)
    location = await locations.location(location_id)
    counters = serving_counters(location, service_id)
    if not counters:
        raise ServiceNotAtCounter()
    slots = _check_day_open(location, day, calendar=calendar, policy=policy, now=now)
    held = await repo.booked_places(
        [c.counter_id for c in counters], start=slots[0].starts_at, end=slots[-1].ends_at
    )
    return location, [
        SlotAvailability(
            slot=slot,
            capacity=policy.capacity_per_counter * len(counters),
            booked=sum(held.get((c.counter_id, slot.starts_at), 0) for c in counters),
        )
        for slot in slots
        if slot.ends_at > now
    ]


# ---- the citizen's side -------------------------------------------------------------------------


async def book(
    *,
    repo: BookingRepository,
    events: BookingEvents,
    locations: LocationDirectory,
    calendar: SlotCalendar,
    policy: BookingPolicy,
    principal: Principal,
    location_id: uuid.UUID,
    service_id: uuid.UUID,
    starts_at: datetime,
    now: datetime,
) -> Booking:
    account = _citizen(principal)
    version = await _bookable_service(repo, service_id)
    location = await locations.location(location_id)
    counters = serving_counters(location, service_id)
    if not counters:
        raise ServiceNotAtCounter()
    day = local_day(starts_at, location.timezone)
    slots = _check_day_open(location, day, calendar=calendar, policy=policy, now=now)
    slot = next((s for s in slots if s.starts_at == starts_at), None)
    if slot is None:
        raise InvalidInput(
            "Waktu mulai bukan salah satu slot lokasi ini pada hari tersebut.",
            errors=[{"loc": ["body", "starts_at"], "msg": "not a slot"}],
        )
    if slot.ends_at <= now:
        raise InvalidInput(
            "Slot waktu ini sudah lewat.", errors=[{"loc": ["body", "starts_at"], "msg": "past"}]
        )
    since = now - timedelta(days=policy.no_show_window_days)
    no_shows = await repo.count_no_shows(account, since=since)
    if no_shows >= policy.no_show_limit:
        raise BookingSuspended(no_shows=no_shows, days=policy.no_show_window_days)
    chosen: LocationCounter | None = None
    for counter in counters:
        if await repo.take_place(
            counter_id=counter.counter_id,
            slot_start=slot.starts_at,
            capacity=policy.capacity_per_counter,
        ):
            chosen = counter
            break
    if chosen is None:
        raise SlotFull()
    zone = ZoneInfo(location.timezone)
    remind_at: datetime | None = datetime.combine(
        day - timedelta(days=1), policy.reminder_time, tzinfo=zone
    ).astimezone(UTC)
    if remind_at is not None and remind_at <= now:
        remind_at = None  # booked too late for a reminder the day before
    booking = Booking(
        id=uuid.uuid4(),
        account_id=account,
        service_id=service_id,
        service_name=version.published.name,
        agency_id=chosen.agency_id,
        location_id=location.location_id,
        location_name=location.name,
        counter_id=chosen.counter_id,
        counter_label=chosen.label,
        counter_letter=counter_letter(location, chosen.counter_id),
        day=day,
        slot_start=slot.starts_at,
        slot_end=slot.ends_at,
        timezone=location.timezone,
        status=BookingStatus.BOOKED,
        created_at=now,
        updated_at=now,
        remind_at=remind_at,
    )
    await _publish(
        events, booking, contract.BOOKING_BOOKED, old=None, actor=_actor(principal), now=now
    )
    await repo.add(booking)
    return booking


async def read_booking(
    *, repo: BookingRepository, principal: Principal, booking_id: uuid.UUID
) -> Booking:
    booking = await repo.get(booking_id)
    if booking is None or not _may_read(principal, booking):
        raise BookingNotFound()
    return booking


async def list_own_bookings(
    *, repo: BookingRepository, principal: Principal, limit: int, after: Mapping[str, Any] | None
) -> tuple[list[Booking], dict[str, Any] | None]:
    return await repo.list_owned(_citizen(principal), limit=limit, after=after)


async def cancel(
    *,
    repo: BookingRepository,
    events: BookingEvents,
    principal: Principal,
    booking_id: uuid.UUID,
    now: datetime,
) -> Booking:
    """The owner gives the place back before arriving."""
    booking = await _owned(repo, principal, booking_id)
    _require(booking, {BookingStatus.BOOKED}, "cancel")
    await repo.release_place(counter_id=booking.counter_id, slot_start=booking.slot_start)
    booking.cancelled_at = now
    return await _move(
        repo, events, booking, BookingStatus.CANCELLED, contract.BOOKING_CANCELLED,
        actor=_actor(principal), now=now,
    )  # fmt: skip


async def check_in(
    *,
    repo: BookingRepository,
    events: BookingEvents,
    policy: BookingPolicy,
    principal: Principal,
    booking_id: uuid.UUID,
    now: datetime,
) -> Booking:
    """On arrival (the owner, or an officer of the counter's agency): the queue number."""
    booking = await repo.get(booking_id, lock=True)
    if booking is None or not (
        _is_owner(principal, booking) or _officer_agency(principal) == booking.agency_id
    ):
        raise BookingNotFound()
    _require(booking, {BookingStatus.BOOKED}, "check_in")
    opens = booking.slot_start - timedelta(minutes=policy.check_in_early_minutes)
    if now < opens:
        raise CheckInClosed(
            f"Lapor kedatangan paling cepat {policy.check_in_early_minutes} menit sebelum slot."
        )
    if now > booking.slot_end:
        raise CheckInClosed("Slot waktu pemesanan ini sudah berakhir; pesan slot lain.")
    serial = await repo.next_queue_serial(
        location_id=booking.location_id, day=booking.day, letter=booking.counter_letter
    )
    booking.queue_number = f"{booking.counter_letter}-{serial:03d}"
    booking.checked_in_at = now
    return await _move(
        repo, events, booking, BookingStatus.CHECKED_IN, contract.BOOKING_CHECKED_IN,
        actor=_actor(principal), now=now,
    )  # fmt: skip


# ---- the officer's side -------------------------------------------------------------------------


async def call_next(
    *,
    repo: BookingRepository,
    events: BookingEvents,
    locations: LocationDirectory,
    principal: Principal,
    location_id: uuid.UUID,
    counter_id: uuid.UUID,
    now: datetime,
) -> Booking:
    agency = _require_officer(principal)
    location = await locations.location(location_id)
    counter = next((c for c in location.counters if c.counter_id == counter_id), None)
    if counter is None:
        raise CounterNotFound()
    if counter.agency_id != agency:
        raise NotPermitted("Loket ini milik instansi lain.")
    today = local_day(now, location.timezone)
    current = await repo.called_at_counter(counter_id, today)
    if current is not None:
        raise CounterBusy(current.queue_number or "-")
    booking = await repo.next_waiting(counter_id, today)
    if booking is None:
        raise QueueEmpty()
    booking.called_at = now
    return await _move(
        repo, events, booking, BookingStatus.CALLED, contract.BOOKING_CALLED,
        actor=_actor(principal), now=now,
    )  # fmt: skip


async def finish(
    *,
    repo: BookingRepository,
    events: BookingEvents,
    principal: Principal,
    booking_id: uuid.UUID,
    served: bool,
    now: datetime,
) -> Booking:
    """The called number was served, or did not come to the counter (no-show)."""
    agency = _require_officer(principal)
    booking = await repo.get(booking_id, lock=True)
    if booking is None or booking.agency_id != agency:
        raise BookingNotFound()
    _require(booking, {BookingStatus.CALLED}, "serve" if served else "no_show")
    if served:
        booking.served_at = now
        status, event = BookingStatus.SERVED, contract.BOOKING_SERVED
    else:
        booking.no_show_at = now
        status, event = BookingStatus.NO_SHOW, contract.BOOKING_NO_SHOW
    return await _move(repo, events, booking, status, event, actor=_actor(principal), now=now)


# ---- the board and the clock --------------------------------------------------------------------


async def queue_board(
    *,
    repo: BookingRepository,
    locations: LocationDirectory,
    policy: BookingPolicy,
    location_id: uuid.UUID,
    day: date | None,
    now: datetime,
) -> QueueBoard:
    """Per counter: the number now served, how many wait, and the expected wait from the
    day's measured service times (this counter's, else the location's, else the policy's)."""
    location = await locations.location(location_id)
    day = day or local_day(now, location.timezone)
    stats = await repo.counter_stats(location.location_id, day)
    served_total = sum(s.served for s in stats.values())
    seconds_total = sum(s.service_seconds_total for s in stats.values())
    fallback = (
        seconds_total / served_total
        if served_total
        else policy.slot_minutes * 60 / max(policy.capacity_per_counter, 1)
    )
    board: list[CounterQueue] = []
    for index, counter in enumerate(location.counters):
        found = stats.get(counter.counter_id, CounterStats())
        average = found.service_seconds_total / found.served if found.served else None
        per_visit = average if average is not None else fallback
        board.append(
            CounterQueue(
                counter=counter,
                letter=LETTERS[index] if index < len(LETTERS) else f"L{index + 1}",
                now_serving=found.now_serving,
                waiting=found.waiting,
                served=found.served,
                average_service_seconds=average,
                expected_wait_seconds=float(math.ceil(found.waiting * per_visit)),
            )
        )
    return QueueBoard(location=location, day=day, counters=board)


async def send_reminder(
    *, events: BookingEvents, repo: BookingRepository, booking: Booking, now: datetime
) -> None:
    """The day-before reminder, once (the caller claimed the row)."""
    if booking.status is not BookingStatus.BOOKED or booking.reminded_at is not None:
        return
    booking.reminded_at = now
    await _publish(
        events, booking, contract.BOOKING_REMINDER, old=booking.status,
        actor=Actor(kind="system", id=None), now=now,
    )  # fmt: skip
    await repo.save(booking)


async def expire_unattended(
    *, events: BookingEvents, repo: BookingRepository, booking: Booking, now: datetime
) -> None:
    """Nobody checked in by the end of the slot and the grace: a no-show (caller holds the row)."""
    if booking.status is not BookingStatus.BOOKED:
        return
    booking.no_show_at = now
    await _move(
        repo, events, booking, BookingStatus.NO_SHOW, contract.BOOKING_NO_SHOW,
        actor=Actor(kind="system", id=None), now=now,
    )  # fmt: skip


# ---- internals ----------------------------------------------------------------------------------


def _citizen(principal: Principal) -> uuid.UUID:
    if not principal.is_citizen:
        raise NotPermitted("Hanya warga yang dapat memesan antrean untuk dirinya.")
    try:
        return uuid.UUID(principal.subject)
    except ValueError:
        raise NotPermitted("Akun ini tidak dikenal sebagai akun warga.") from None


def _officer_agency(principal: Principal) -> uuid.UUID | None:
    if principal.agency_id is not None and principal.has_role(Role.OFFICER):
        return principal.agency_id
    return None


def _require_officer(principal: Principal) -> uuid.UUID:
    agency = _officer_agency(principal)
    if agency is None:
        raise NotPermitted("Hanya petugas loket instansi yang dapat melakukan ini.")
    return agency


def _is_owner(principal: Principal, booking: Booking) -> bool:
    return principal.is_citizen and principal.subject == str(booking.account_id)


def _may_read(principal: Principal, booking: Booking) -> bool:
    if _is_owner(principal, booking):
        return True
    return principal.agency_id == booking.agency_id and principal.has_role(
        Role.OFFICER, Role.AGENCY_ADMIN
    )


async def _owned(repo: BookingRepository, principal: Principal, booking_id: uuid.UUID) -> Booking:
    _citizen(principal)
    booking = await repo.get(booking_id, lock=True)
    if booking is None or not _is_owner(principal, booking):
        raise BookingNotFound()
    return booking


def _require(booking: Booking, allowed: set[BookingStatus], action: str) -> None:
    if booking.status not in allowed:
        raise BookingStateConflict(
            f"Tindakan '{action}' tidak dapat dilakukan pada pemesanan berstatus "
            f"'{booking.status.value}'."
        )


def _actor(principal: Principal) -> Actor:
    if principal.is_citizen:
        return Actor(kind="citizen", id=principal.subject)
    return Actor(kind="staff", id=principal.subject)


async def _move(
    repo: BookingRepository,
    events: BookingEvents,
    booking: Booking,
    status: BookingStatus,
    event_type: str,
    *,
    actor: Actor,
    now: datetime,
) -> Booking:
    """The booking moves on to ``status`` (the caller set the time of that step): its event,
    then the row saved."""
    old, booking.status = booking.status, status
    booking.updated_at = now
    await _publish(events, booking, event_type, old=old, actor=actor, now=now)
    await repo.save(booking)
    return booking


async def _publish(
    events: BookingEvents,
    booking: Booking,
    event_type: str,
    *,
    old: BookingStatus | None,
    actor: Actor,
    now: datetime,
) -> None:
    booking.event_sequence += 1
    await events.record(
        event_type,
        contract.BookingEvent(
            booking_id=booking.id,
            sequence=booking.event_sequence,
            account_id=booking.account_id,
            service_id=booking.service_id,
            service_name=booking.service_name,
            agency_id=booking.agency_id,
            location_id=booking.location_id,
            location_name=booking.location_name,
            counter_id=booking.counter_id,
            counter_label=booking.counter_label,
            day=booking.day,
            slot_start=booking.slot_start,
            slot_end=booking.slot_end,
            timezone=booking.timezone,
            old_status=old.value if old is not None else None,
            status=booking.status.value,
            queue_number=booking.queue_number,
            actor_kind=actor.kind,
            actor_id=actor.id,
            occurred_at=now,
        ),
    )
