"""Booking and complaint events in the inboxes: the citizen hears of the booking, the reminder,
the call and a no-show; complaints reach the agency's inbox and the complainant with an
account; anonymous cases notify no account; a redelivered event adds nothing. Each notice
names its subject (the booking, the case); the application columns hold an application's
only."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from mpp_shared.contracts.application import v1 as application
from mpp_shared.events.envelope import CloudEvent, new_event

SLOT = datetime(2026, 12, 3, 1, 30, tzinfo=UTC)  # 09:30 WITA


def _booking_event(
    event_type: str,
    status: str,
    *,
    booking_id: uuid.UUID,
    account_id: uuid.UUID,
    sequence: int,
    queue_number: str | None = None,
    actor_kind: str = "citizen",
) -> CloudEvent:
    data = application.BookingEvent(
        booking_id=booking_id,
        sequence=sequence,
        account_id=account_id,
        service_id=uuid.UUID(int=1),
        service_name="Penerbitan KTP-el",
        agency_id=uuid.UUID(int=2),
        location_id=uuid.UUID(int=3),
        location_name="MPP Kota Samarinda",
        counter_id=uuid.UUID(int=4),
        counter_label="Loket 2",
        day=date(2026, 12, 3),
        slot_start=SLOT,
        slot_end=SLOT + timedelta(minutes=30),
        timezone="Asia/Makassar",
        old_status=None,
        status=status,  # type: ignore[arg-type]
        queue_number=queue_number,
        actor_kind=actor_kind,  # type: ignore[arg-type]
        occurred_at=datetime.now(UTC),
    )
    return new_event(type=event_type, source=application.SOURCE, subject=str(booking_id), data=data)


def _complaint_event(
    event_type: str,
    status: str,
    *,
    complaint_id: uuid.UUID,
    agency_id: uuid.UUID,
    account_id: uuid.UUID | None,
    sequence: int,
    actor_kind: str,
    application_id: uuid.UUID | None = None,
) -> CloudEvent:
    data = application.ComplaintEvent(
        complaint_id=complaint_id,
        sequence=sequence,
        tracking_number="ADU-64.72-2026-000007",
        kind="complaint",
        service_id=uuid.UUID(int=1),
        service_name="Penerbitan KTP-el",
        agency_id=agency_id,
        application_id=application_id,
        account_id=account_id,
        old_status=None,
        status=status,  # type: ignore[arg-type]
        response_due_at=datetime.now(UTC) + timedelta(days=7),
        overdue=False,
        actor_kind=actor_kind,  # type: ignore[arg-type]
        occurred_at=datetime.now(UTC),
    )
    return new_event(
        type=event_type, source=application.SOURCE, subject=str(complaint_id), data=data
    )


async def _inbox(tracking: Any, headers: dict[str, str]) -> list[dict[str, Any]]:
    answer = await tracking.client.get("/api/v1/notifications", headers=headers)
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


async def test_booking_events_notify_the_citizen_once(open_tracking, token) -> None:
    booking_id, account = uuid.uuid4(), uuid.uuid4()
    events = [
        _booking_event(
            application.BOOKING_BOOKED, "booked", booking_id=booking_id, account_id=account,
            sequence=1,
        ),
        _booking_event(
            application.BOOKING_REMINDER, "booked", booking_id=booking_id, account_id=account,
            sequence=2, actor_kind="system",
        ),
        _booking_event(
            application.BOOKING_CHECKED_IN, "checked_in", booking_id=booking_id,
            account_id=account, sequence=3, queue_number="B-017",
        ),
        _booking_event(
            application.BOOKING_CALLED, "called", booking_id=booking_id, account_id=account,
            sequence=4, queue_number="B-017", actor_kind="staff",
        ),
        _booking_event(
            application.BOOKING_SERVED, "served", booking_id=booking_id, account_id=account,
            sequence=5, queue_number="B-017", actor_kind="staff",
        ),
    ]  # fmt: skip
    async with open_tracking() as tracking:
        await tracking.publish(*events)
        await tracking.redeliver(*events)
        await tracking.handled(5)
        sentinel = _booking_event(
            application.BOOKING_CANCELLED, "cancelled", booking_id=uuid.uuid4(),
            account_id=uuid.uuid4(), sequence=2,
        )  # fmt: skip
        await tracking.publish(sentinel)
        await tracking.handled(6)
        items = await _inbox(tracking, token(subject=account))
    kinds = [item["kind"] for item in reversed(items)]
    # Served says nothing; each of the others once, redelivered or not.
    assert kinds == ["booking_booked", "booking_reminder", "booking_checked_in", "booking_called"]
    called = items[0]
    assert called["body"] == ("Nomor antrean B-017 dipanggil ke Loket 2. Silakan menuju loket.")
    assert called["subject_type"] == "booking"
    assert called["subject_id"] == str(booking_id)
    assert called["subject_number"] == "B-017"
    # A booking is about no application.
    assert called["application_id"] is None
    assert called["registration_number"] is None
    reminder = next(i for i in items if i["kind"] == "booking_reminder")
    # No queue number before check-in.
    assert (reminder["subject_id"], reminder["subject_number"]) == (str(booking_id), None)
    assert "03-12-2026 pukul 09:30 WITA" in reminder["body"]


async def test_complaint_events_reach_the_agency_and_only_a_known_complainant(
    open_tracking, token
) -> None:
    agency = uuid.uuid4()
    citizen = uuid.uuid4()
    known, anonymous = uuid.uuid4(), uuid.uuid4()
    events = [
        _complaint_event(
            application.COMPLAINT_OPENED, "open", complaint_id=known, agency_id=agency,
            account_id=citizen, sequence=1, actor_kind="citizen",
        ),
        _complaint_event(
            application.COMPLAINT_ANSWERED, "answered", complaint_id=known, agency_id=agency,
            account_id=citizen, sequence=2, actor_kind="staff",
        ),
        _complaint_event(
            application.COMPLAINT_OPENED, "open", complaint_id=anonymous, agency_id=agency,
            account_id=None, sequence=1, actor_kind="anonymous",
        ),
        _complaint_event(
            application.COMPLAINT_ANSWERED, "answered", complaint_id=anonymous,
            agency_id=agency, account_id=None, sequence=2, actor_kind="staff",
        ),
    ]  # fmt: skip
    async with open_tracking() as tracking:
        await tracking.publish(*events)
        await tracking.handled(4)
        mine = await _inbox(tracking, token(subject=citizen))
        staff = await _inbox(
            tracking, token(subject=uuid.uuid4(), roles=["officer"], agency_id=agency)
        )
    assert [i["kind"] for i in reversed(mine)] == ["complaint_opened_owner", "complaint_answered"]
    assert {(i["subject_type"], i["subject_id"], i["subject_number"]) for i in mine} == {
        ("complaint", str(known), "ADU-64.72-2026-000007")
    }
    assert {(i["application_id"], i["registration_number"]) for i in mine} == {(None, None)}
    # Two new cases in the agency's inbox; answers are the agency's own doing.
    assert [i["kind"] for i in staff] == ["complaint_opened", "complaint_opened"]
    assert {i["subject_id"] for i in staff} == {str(known), str(anonymous)}
    assert {i["application_id"] for i in staff} == {None}


async def test_a_case_about_an_application_names_it_beside_the_case(
    open_tracking, story, token
) -> None:
    citizen = uuid.uuid4()
    s = story(owner=citizen)
    case_id = uuid.uuid4()
    async with open_tracking() as tracking:
        await tracking.publish(s.event(application.APPLICATION_SUBMITTED, "submitted"))
        await tracking.handled(1)
        await tracking.publish(
            _complaint_event(
                application.COMPLAINT_OPENED, "open", complaint_id=case_id,
                agency_id=s.agency_id, account_id=citizen, sequence=1, actor_kind="citizen",
                application_id=s.application_id,
            )
        )  # fmt: skip
        await tracking.handled(2)
        mine = await _inbox(tracking, token(subject=citizen))
    opened = next(i for i in mine if i["kind"] == "complaint_opened_owner")
    submitted = next(i for i in mine if i["kind"] == "status_changed")
    assert (opened["subject_type"], opened["subject_id"]) == ("complaint", str(case_id))
    assert opened["subject_number"] == "ADU-64.72-2026-000007"
    assert opened["application_id"] == str(s.application_id)
    assert opened["registration_number"] == s.registration_number
    assert (submitted["subject_type"], submitted["subject_id"]) == (
        "application",
        str(s.application_id),
    )
    assert submitted["subject_number"] == submitted["registration_number"]
    assert submitted["subject_number"] == s.registration_number
