"""Pure rules of bookings and complaints: slot arithmetic, counter letters, the complaint
transitions and when a case is overdue."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from application.domain.bookings import counter_letter, slots_of_day
from application.domain.complaints import (
    TRANSITIONS,
    Complaint,
    ComplaintAction,
    ComplaintStatus,
    Contact,
    _transition,
)
from application.domain.exceptions import ComplaintStateConflict, CounterNotFound
from mpp_shared.contracts.catalog.v1 import LocationCounter, LocationReply

WEDNESDAY = date(2026, 12, 2)


def _location(hours: dict[str, list[list[str]]], counters: int = 1) -> LocationReply:
    return LocationReply(
        location_id=uuid.uuid4(),
        name="MPP",
        region_code="91.71",
        timezone="Asia/Jayapura",
        opening_hours=hours,
        counters=[
            LocationCounter(
                counter_id=uuid.uuid4(),
                label=f"Loket {i}",
                agency_id=uuid.uuid4(),
                agency_name="Dinas",
                service_ids=[],
            )
            for i in range(counters)
        ],
    )


def test_slots_are_whole_steps_inside_each_interval_in_local_time() -> None:
    location = _location({"wed": [["13:30", "15:00"], ["08:00", "09:10"]], "thu": []})
    slots = slots_of_day(location, WEDNESDAY, minutes=30)
    # WIT is UTC+9: 08:00 local is 23:00 UTC of the day before; intervals sorted.
    assert slots[0].starts_at == datetime(2026, 12, 1, 23, 0, tzinfo=UTC)
    assert [s.starts_at.hour for s in slots] == [23, 23, 4, 5, 5]
    assert all(s.ends_at - s.starts_at == timedelta(minutes=30) for s in slots)
    assert slots_of_day(location, WEDNESDAY + timedelta(days=1), minutes=30) == []


def test_malformed_or_empty_hours_open_nothing() -> None:
    location = _location({"wed": [["15:00", "08:00"], ["nine", "ten"], ["08:00"]]})
    assert slots_of_day(location, WEDNESDAY, minutes=30) == []


def test_counter_letters_follow_the_locations_order() -> None:
    location = _location({}, counters=3)
    ids = [c.counter_id for c in location.counters]
    assert [counter_letter(location, i) for i in ids] == ["A", "B", "C"]
    with pytest.raises(CounterNotFound):
        counter_letter(location, uuid.uuid4())


def test_a_closed_case_allows_no_action_and_forwarded_only_closing() -> None:
    for action in ComplaintAction:
        with pytest.raises(ComplaintStateConflict):
            _transition(ComplaintStatus.CLOSED, action)
    allowed = {a for (s, a) in TRANSITIONS if s is ComplaintStatus.FORWARDED_TO_LAPOR}
    assert allowed == {ComplaintAction.CLOSE}
    for status, action in itertools.product(ComplaintStatus, ComplaintAction):
        if (status, action) in TRANSITIONS:
            assert _transition(status, action) is TRANSITIONS[(status, action)]


def _case(**overrides: object) -> Complaint:
    now = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)
    values: dict[str, object] = {
        "id": uuid.uuid4(),
        "tracking_number": "ADU-64.72-2026-000001",
        "code_hash": "0" * 64,
        "kind": "complaint",
        "account_id": None,
        "contact": Contact(email="a@example.id"),
        "service_id": uuid.uuid4(),
        "service_name": "KTP-el",
        "agency_id": uuid.uuid4(),
        "timezone": "Asia/Makassar",
        "application_id": None,
        "subject": "s",
        "status": ComplaintStatus.OPEN,
        "response_due_at": now + timedelta(days=7),
        "created_at": now,
        "updated_at": now,
    }
    values.update(overrides)
    return Complaint(**values)  # type: ignore[arg-type]


def test_overdue_while_unanswered_past_due_and_for_good_when_answered_late() -> None:
    case = _case()
    due = case.response_due_at
    assert not case.is_overdue(due - timedelta(seconds=1))
    assert case.is_overdue(due + timedelta(seconds=1))
    late = _case(answered_at=due + timedelta(hours=1), status=ComplaintStatus.ANSWERED)
    assert late.is_overdue(due - timedelta(days=30))  # whatever "now" is
    timely = _case(answered_at=due - timedelta(hours=1), status=ComplaintStatus.ANSWERED)
    assert not timely.is_overdue(due + timedelta(days=30))
    closed_unanswered = _case(status=ComplaintStatus.CLOSED)
    assert not closed_unanswered.is_overdue(due + timedelta(days=1))
