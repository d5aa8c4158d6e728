"""Complaint cases about an application on its timeline: the owner and the handling agency see
each step of the case (its number, no text) among the application's own steps, in the order
they happened; the public tracking page shows none of them; duplicate and reordered case
events give the same timeline."""

from __future__ import annotations

import random
import uuid
from typing import Any

from mpp_shared.contracts.application import v1 as application
from mpp_shared.events.envelope import CloudEvent

SUBMITTED = application.APPLICATION_SUBMITTED
CHANGED = application.APPLICATION_STATUS_CHANGED
CASE_NUMBER = "ADU-64.09-2026-000042"


def _application_events(story: Any) -> list[CloudEvent]:
    # One minute apart from the story's start: 1, 2, 3, 4.
    return [
        story.event(SUBMITTED, "submitted", actor_kind="citizen"),
        story.event(CHANGED, "in_review", stage="verifikasi"),
        story.event(CHANGED, "rejected", note="Berkas tidak lengkap"),
        story.event(CHANGED, "in_review", stage="verifikasi"),
    ]


def _case_events(case: Any) -> list[CloudEvent]:
    return [
        case.event("opened", "open", minutes=3.5, actor="citizen"),
        case.event("message_added", "open", minutes=3.6, actor="citizen"),
        case.event("overdue", "open", minutes=3.7, actor="system"),
        case.event("answered", "answered", minutes=3.8),
        case.event("escalated", "escalated", minutes=5, actor="citizen"),
        case.event("forwarded_to_lapor", "forwarded_to_lapor", minutes=6),
        case.event("closed", "closed", minutes=7),
    ]


def _steps(timeline: dict[str, Any]) -> tuple[list[str], list[tuple[str, str]]]:
    return (
        [item["status"] for item in timeline["items"]],
        [(item["case_number"], item["status"]) for item in timeline["case_steps"]],
    )


# The application's own steps alone (the last is its status), the case's beside them.
EXPECTED = (
    ["submitted", "in_review", "rejected", "in_review"],
    [
        (CASE_NUMBER, "open"),
        (CASE_NUMBER, "answered"),
        (CASE_NUMBER, "escalated"),
        (CASE_NUMBER, "forwarded_to_lapor"),
        (CASE_NUMBER, "closed"),
    ],
)


async def test_owner_and_staff_see_the_case_beside_the_applications_steps(
    open_tracking, story, case_story, token
) -> None:
    agency = uuid.uuid4()
    s = story(agency_id=agency)
    other = story(agency_id=agency)
    events = [*_application_events(s), *_case_events(case_story(s, number=CASE_NUMBER))]
    elsewhere = [
        other.event(SUBMITTED, "submitted"),
        case_story(other, number=CASE_NUMBER).event("opened", "open", minutes=2),
        # The agency's case about no application is on no timeline.
        case_story(agency_id=agency, anonymous=True).event("opened", "open", minutes=2),
    ]
    async with open_tracking() as tracking:
        await tracking.publish(*events, *elsewhere)
        await tracking.handled(len(events) + len(elsewhere))
        path = f"/api/v1/applications/{s.application_id}/timeline"
        owner = await tracking.client.get(path, headers=token(subject=s.owner_account_id))
        staff = await tracking.client.get(
            path, headers=token(subject=uuid.uuid4(), roles=["officer"], agency_id=agency)
        )
        stranger = await tracking.client.get(
            path, headers=token(subject=uuid.uuid4(), roles=["officer"], agency_id=uuid.uuid4())
        )
    assert owner.status_code == 200, owner.text
    assert staff.status_code == 200, staff.text
    assert stranger.status_code == 404
    assert _steps(owner.json()) == EXPECTED
    assert _steps(staff.json()) == EXPECTED
    case_items = owner.json()["case_steps"]
    assert [item["at"] for item in case_items] == sorted(item["at"] for item in case_items)
    assert [item["event"].rsplit(".", 1)[1] for item in case_items] == [
        "opened",
        "answered",
        "escalated",
        "forwarded_to_lapor",
        "closed",
    ]
    assert [item["sequence"] for item in case_items] == [1, 4, 5, 6, 7]
    # A case step carries no text of the case, nor a note.
    assert all(
        set(item) == {"kind", "case_number", "status", "sequence", "event", "at"}
        for item in case_items
    )


async def test_the_public_tracking_page_shows_no_case(open_tracking, story, case_story) -> None:
    s = story()
    events = [*_application_events(s), *_case_events(case_story(s, number=CASE_NUMBER))]
    async with open_tracking() as tracking:
        await tracking.publish(*events)
        await tracking.handled(len(events))
        answer = await tracking.client.get(
            f"/api/v1/tracking/{s.registration_number}", params={"code": s.tracking_code}
        )
    assert answer.status_code == 200, answer.text
    statuses = [item["status"] for item in answer.json()["timeline"]]
    assert statuses == ["submitted", "in_review", "rejected", "in_review"]
    assert CASE_NUMBER not in answer.text
    assert "complaint" not in answer.text


async def test_duplicate_and_reordered_case_events_give_the_same_timeline(
    open_tracking, story, case_story, token
) -> None:
    owner = uuid.uuid4()
    in_order, shuffled = story(owner=owner), story(owner=owner)
    first_case = _case_events(case_story(in_order, number=CASE_NUMBER))
    second_case = _case_events(case_story(shuffled, number=CASE_NUMBER))
    mixed = [*_application_events(shuffled), *second_case]
    random.Random(11).shuffle(mixed)
    # The same case step published again under a new event id: same case and sequence.
    republished = second_case[3].model_copy(update={"id": str(uuid.uuid4())})
    ordered = [*_application_events(in_order), *first_case]
    async with open_tracking() as tracking:
        await tracking.publish(*ordered)
        await tracking.publish(*mixed, republished)
        await tracking.redeliver(*second_case[:4])
        await tracking.handled(len(ordered) + len(mixed) + 1)
        headers = token(subject=owner)
        first = await tracking.client.get(
            f"/api/v1/applications/{in_order.application_id}/timeline", headers=headers
        )
        second = await tracking.client.get(
            f"/api/v1/applications/{shuffled.application_id}/timeline", headers=headers
        )
    assert first.status_code == 200, first.text
    assert second.status_code == 200, second.text
    assert _steps(first.json()) == EXPECTED
    assert _steps(second.json()) == EXPECTED
    strip = {"application_id"}
    assert {k: v for k, v in first.json().items() if k not in strip} == {
        k: v for k, v in second.json().items() if k not in strip
    }
