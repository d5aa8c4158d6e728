"""Counter bookings: ``/api/v1/bookings`` (citizens), ``/api/v1/agency/...`` (officers at the
counter) and ``/api/v1/queues/{location_id}`` (the public queue board)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from application.api.deps import AppRuntime, Pagination
from application.db.bookings import SqlBookingRepository
from application.db.locations import SqlLocationCopies
from application.domain import bookings
from application.messaging.locations import CopiedLocationDirectory
from application.messaging.publishers import OutboxBookingEvents
from mpp_shared.auth import CurrentPrincipal, Principal
from mpp_shared.deps import SessionDep
from mpp_shared.idempotency import IdempotencyKey, idempotent, request_fingerprint
from mpp_shared.openapi import problems
from mpp_shared.pagination import Page, encode_cursor

router = APIRouter(prefix="/api/v1/bookings", tags=["bookings"])
agency_router = APIRouter(prefix="/api/v1/agency", tags=["bookings"])
queue_router = APIRouter(prefix="/api/v1/queues", tags=["bookings"])

NO_STORE = {"Cache-Control": "no-store"}


async def get_booking_repository(session: SessionDep) -> SqlBookingRepository:
    return SqlBookingRepository(session)


async def get_booking_events(session: SessionDep) -> OutboxBookingEvents:
    return OutboxBookingEvents(session)


async def get_location_directory(
    session: SessionDep, runtime: AppRuntime
) -> CopiedLocationDirectory:
    return CopiedLocationDirectory(SqlLocationCopies(session), runtime.locations)


Bookings = Annotated[SqlBookingRepository, Depends(get_booking_repository)]
Locations = Annotated[CopiedLocationDirectory, Depends(get_location_directory)]
BookingEventsDep = Annotated[OutboxBookingEvents, Depends(get_booking_events)]


def _now() -> datetime:
    return datetime.now(UTC)


# ---- bodies -------------------------------------------------------------------------------------


class BookingCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    location_id: uuid.UUID
    service_id: uuid.UUID
    starts_at: datetime = Field(
        description="The slot's start, one of `GET /api/v1/bookings/slots`."
    )


class SlotRead(BaseModel):
    starts_at: datetime
    ends_at: datetime
    capacity: int
    available: int


class SlotsRead(BaseModel):
    location_id: uuid.UUID
    service_id: uuid.UUID
    day: date
    timezone: str
    slots: list[SlotRead]


class BookingRead(BaseModel):
    id: uuid.UUID
    status: bookings.BookingStatus
    service_id: uuid.UUID
    service_name: str
    agency_id: uuid.UUID
    location_id: uuid.UUID
    location_name: str
    counter_id: uuid.UUID
    counter_label: str
    day: date
    starts_at: datetime
    ends_at: datetime
    timezone: str
    queue_number: str | None
    checked_in_at: datetime | None
    called_at: datetime | None
    served_at: datetime | None
    no_show_at: datetime | None
    cancelled_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, booking: bookings.Booking) -> BookingRead:
        return cls(
            id=booking.id,
            status=booking.status,
            service_id=booking.service_id,
            service_name=booking.service_name,
            agency_id=booking.agency_id,
            location_id=booking.location_id,
            location_name=booking.location_name,
            counter_id=booking.counter_id,
            counter_label=booking.counter_label,
            day=booking.day,
            starts_at=booking.slot_start,
            ends_at=booking.slot_end,
            timezone=booking.timezone,
            queue_number=booking.queue_number,
            checked_in_at=booking.checked_in_at,
            called_at=booking.called_at,
            served_at=booking.served_at,
            no_show_at=booking.no_show_at,
            cancelled_at=booking.cancelled_at,
            created_at=booking.created_at,
        )


class CounterQueueRead(BaseModel):
    counter_id: uuid.UUID
    label: str
    letter: str
    agency_id: uuid.UUID
    agency_name: str
    now_serving: str | None = Field(description="The number last called at this counter today.")
    waiting: int = Field(description="Checked in and not yet called.")
    served: int
    average_service_minutes: float | None = Field(
        description="Measured today at this counter (called to served); null before the first."
    )
    expected_wait_minutes: int


class QueueBoardRead(BaseModel):
    location_id: uuid.UUID
    location_name: str
    day: date
    timezone: str
    counters: list[CounterQueueRead]


def _booking(booking: bookings.Booking) -> JSONResponse:
    return JSONResponse(BookingRead.of(booking).model_dump(mode="json"), headers=NO_STORE)


# ---- the citizen's ------------------------------------------------------------------------------


@router.get("/slots", response_model=SlotsRead, responses=problems(403, 404, 422, 503))
async def list_slots(
    repo: Bookings,
    runtime: AppRuntime,
    locations: Locations,
    location_id: uuid.UUID,
    service_id: uuid.UUID,
    day: date,
) -> SlotsRead:
    """The day's slots of a service at a location, with the places still free (public).
    A holiday is 422 `holiday`, a closed day 422 `location_closed`."""
    now = _now()
    location, found = await bookings.available_slots(
        repo=repo,
        locations=locations,
        calendar=runtime.calendar,
        policy=runtime.booking_policy,
        location_id=location_id,
        service_id=service_id,
        day=day,
        now=now,
    )
    return SlotsRead(
        location_id=location_id,
        service_id=service_id,
        day=day,
        timezone=location.timezone,
        slots=[
            SlotRead(
                starts_at=s.slot.starts_at,
                ends_at=s.slot.ends_at,
                capacity=s.capacity,
                available=s.available,
            )
            for s in found
        ],
    )


@router.post(
    "", status_code=201, response_model=BookingRead, responses=problems(403, 404, 409, 422, 503)
)
async def create_booking(
    request: Request,
    body: BookingCreate,
    principal: CurrentPrincipal,
    repo: Bookings,
    events: BookingEventsDep,
    runtime: AppRuntime,
    locations: Locations,
    session: SessionDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Hold a place in a slot: 409 `slot_full` when none is left, 409 `booking_exists` for a
    second active booking of the service that day, 422 `holiday` on a holiday, 403
    `booking_suspended` after repeated no-shows."""

    async def create() -> tuple[int, Any]:
        booking = await bookings.book(
            repo=repo,
            events=events,
            locations=locations,
            calendar=runtime.calendar,
            policy=runtime.booking_policy,
            principal=principal,
            location_id=body.location_id,
            service_id=body.service_id,
            starts_at=body.starts_at,
            now=_now(),
        )
        return 201, BookingRead.of(booking).model_dump(mode="json")

    response = await idempotent(
        session=session,
        scope=f"POST {request.url.path} {principal.subject}",
        key=idempotency_key,
        fingerprint=request_fingerprint(body.model_dump(mode="json")),
        create=create,
    )
    response.headers.update(NO_STORE)
    return response


@router.get("", response_model=Page[BookingRead], responses=problems(403))
async def list_bookings(
    principal: CurrentPrincipal, repo: Bookings, page: Pagination
) -> JSONResponse:
    """The caller's own bookings, latest slot first."""
    items, position = await bookings.list_own_bookings(
        repo=repo, principal=principal, limit=page.limit, after=page.cursor
    )
    return JSONResponse(
        {
            "items": [BookingRead.of(b).model_dump(mode="json") for b in items],
            "next_cursor": encode_cursor(position) if position else None,
        },
        headers=NO_STORE,
    )


@router.get("/{booking_id}", response_model=BookingRead, responses=problems(404))
async def get_booking(
    booking_id: uuid.UUID, principal: CurrentPrincipal, repo: Bookings
) -> JSONResponse:
    """The owner's, or the staff's of the counter's agency."""
    return _booking(
        await bookings.read_booking(repo=repo, principal=principal, booking_id=booking_id)
    )


@router.post("/{booking_id}/cancel", response_model=BookingRead, responses=problems(403, 404, 409))
async def cancel_booking(
    booking_id: uuid.UUID, principal: CurrentPrincipal, repo: Bookings, events: BookingEventsDep
) -> JSONResponse:
    """The owner gives the place back (only while `booked`)."""
    booking = await bookings.cancel(
        repo=repo, events=events, principal=principal, booking_id=booking_id, now=_now()
    )
    return _booking(booking)


@router.post("/{booking_id}/check-in", response_model=BookingRead, responses=problems(404, 409))
async def check_in(
    booking_id: uuid.UUID,
    principal: CurrentPrincipal,
    repo: Bookings,
    events: BookingEventsDep,
    runtime: AppRuntime,
) -> JSONResponse:
    """On arrival, by the owner or an officer of the counter's agency: gives `queue_number`.
    From `check_in_early` minutes before the slot to its end (else 409 `check_in_closed`)."""
    booking = await bookings.check_in(
        repo=repo,
        events=events,
        policy=runtime.booking_policy,
        principal=principal,
        booking_id=booking_id,
        now=_now(),
    )
    return _booking(booking)


# ---- the officer's ------------------------------------------------------------------------------


@agency_router.post(
    "/locations/{location_id}/counters/{counter_id}/call-next",
    response_model=BookingRead,
    responses=problems(403, 404, 409, 503),
)
async def call_next(
    location_id: uuid.UUID,
    counter_id: uuid.UUID,
    principal: CurrentPrincipal,
    repo: Bookings,
    events: BookingEventsDep,
    runtime: AppRuntime,
    locations: Locations,
) -> JSONResponse:
    """An officer of the counter's agency calls the next checked-in number (earliest slot
    first): 409 `queue_empty` when nobody waits, 409 `counter_busy` while one is called."""
    booking = await bookings.call_next(
        repo=repo,
        events=events,
        locations=locations,
        principal=principal,
        location_id=location_id,
        counter_id=counter_id,
        now=_now(),
    )
    return _booking(booking)


@agency_router.post(
    "/bookings/{booking_id}/served", response_model=BookingRead, responses=problems(403, 404, 409)
)
async def mark_served(
    booking_id: uuid.UUID, principal: CurrentPrincipal, repo: Bookings, events: BookingEventsDep
) -> JSONResponse:
    """The called number was served at the counter."""
    return await _finish(booking_id, principal, repo, events, served=True)


@agency_router.post(
    "/bookings/{booking_id}/no-show", response_model=BookingRead, responses=problems(403, 404, 409)
)
async def mark_no_show(
    booking_id: uuid.UUID, principal: CurrentPrincipal, repo: Bookings, events: BookingEventsDep
) -> JSONResponse:
    """The called number did not come to the counter."""
    return await _finish(booking_id, principal, repo, events, served=False)


async def _finish(
    booking_id: uuid.UUID,
    principal: Principal,
    repo: SqlBookingRepository,
    events: OutboxBookingEvents,
    *,
    served: bool,
) -> JSONResponse:
    booking = await bookings.finish(
        repo=repo,
        events=events,
        principal=principal,
        booking_id=booking_id,
        served=served,
        now=_now(),
    )
    return _booking(booking)


# ---- the public board ---------------------------------------------------------------------------


@queue_router.get("/{location_id}", response_model=QueueBoardRead, responses=problems(404, 503))
async def queue_board(
    location_id: uuid.UUID,
    repo: Bookings,
    runtime: AppRuntime,
    locations: Locations,
    day: Annotated[date | None, Query(description="default: today at the location")] = None,
) -> QueueBoardRead:
    """Per counter: the number now served, the waiting count and the expected wait (from the
    day's measured service times). No personal data."""
    board = await bookings.queue_board(
        repo=repo,
        locations=locations,
        policy=runtime.booking_policy,
        location_id=location_id,
        day=day,
        now=_now(),
    )
    return QueueBoardRead(
        location_id=board.location.location_id,
        location_name=board.location.name,
        day=board.day,
        timezone=board.location.timezone,
        counters=[
            CounterQueueRead(
                counter_id=q.counter.counter_id,
                label=q.counter.label,
                letter=q.letter,
                agency_id=q.counter.agency_id,
                agency_name=q.counter.agency_name,
                now_serving=q.now_serving,
                waiting=q.waiting,
                served=q.served,
                average_service_minutes=(
                    round(q.average_service_seconds / 60, 1)
                    if q.average_service_seconds is not None
                    else None
                ),
                expected_wait_minutes=int(-(-q.expected_wait_seconds // 60)),
            )
            for q in board.counters
        ],
    )
