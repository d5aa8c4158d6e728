"""The timeline read model: duplicates and late events, and who may read which notes."""

from __future__ import annotations

import random
import uuid
from typing import Any

from mpp_shared.contracts.application import v1 as application

SUBMITTED = application.APPLICATION_SUBMITTED
CHANGED = application.APPLICATION_STATUS_CHANGED
REVISION = application.APPLICATION_REVISION_REQUESTED
COMPLETED = application.APPLICATION_COMPLETED


def _events(story: Any) -> list[Any]:
    return [
        story.event(SUBMITTED, "submitted", actor_kind="citizen"),
        story.event(CHANGED, "in_review", stage="verifikasi", internal_note="cek KK di loket"),
        story.event(REVISION, "revision_requested", note="Foto KTP buram"),
        story.event(SUBMITTED, "submitted", actor_kind="citizen"),
        story.event(CHANGED, "in_review", stage="verifikasi"),
        story.event(CHANGED, "in_review", stage="penandatanganan"),
        story.event(CHANGED, "approved"),
        story.event(COMPLETED, "completed"),
    ]


async def test_duplicate_and_reordered_events_give_the_same_timeline(
    open_tracking, story, token
) -> None:
    owner = uuid.uuid4()
    in_order, shuffled = story(owner=owner), story(owner=owner)
    ordered_events, shuffled_events = _events(in_order), _events(shuffled)
    mixed = list(shuffled_events)
    random.Random(7).shuffle(mixed)
    # The same change published again under a new event id: same application and sequence.
    republished = shuffled_events[3].model_copy(update={"id": str(uuid.uuid4())})
    async with open_tracking() as tracking:
        await tracking.publish(*ordered_events)
        await tracking.publish(*mixed, republished)
        await tracking.redeliver(*shuffled_events[2:5])
        await tracking.handled(len(ordered_events) + len(shuffled_events) + 1)
        headers = token(subject=owner)
        first = await tracking.client.get(
            f"/api/v1/applications/{in_order.application_id}/timeline", headers=headers
        )
        second = await tracking.client.get(
            f"/api/v1/applications/{shuffled.application_id}/timeline", headers=headers
        )
    assert first.status_code == 200, first.text
    assert second.status_code == 200, second.text
    items = first.json()["items"]
    assert items == second.json()["items"]
    assert [item["status"] for item in items] == [
        "submitted",
        "in_review",
        "revision_requested",
        "submitted",
        "in_review",
        "in_review",
        "approved",
        "completed",
    ]
    assert [item["at"] for item in items] == sorted(item["at"] for item in items)
    assert items[2]["note"] == "Foto KTP buram"
    assert items[5]["stage"] == "penandatanganan"


async def test_a_late_older_event_never_moves_the_status_back(open_tracking, story) -> None:
    s = story()
    submitted, review, approved = (
        s.event(SUBMITTED, "submitted", actor_kind="citizen"),
        s.event(CHANGED, "in_review"),
        s.event(CHANGED, "approved"),
    )
    async with open_tracking() as tracking:
        await tracking.publish(submitted, approved)
        await tracking.handled(2)
        await tracking.publish(review)
        await tracking.handled(3)
        answer = await tracking.client.get(
            f"/api/v1/tracking/{s.registration_number}", params={"code": s.tracking_code}
        )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["status"] == "approved"
    assert [item["status"] for item in body["timeline"]] == ["submitted", "in_review", "approved"]


async def test_the_owner_sees_notes_and_the_agency_also_internal_notes(
    open_tracking, story, token
) -> None:
    agency = uuid.uuid4()
    s = story(agency_id=agency)
    events = _events(s)[:3]
    async with open_tracking() as tracking:
        await tracking.publish(*events)
        await tracking.handled(3)
        path = f"/api/v1/applications/{s.application_id}/timeline"
        owner_view = await tracking.client.get(path, headers=token(subject=s.owner_account_id))
        officer = token(subject=uuid.uuid4(), roles=["officer"], agency_id=agency)
        staff_view = await tracking.client.get(path, headers=officer)
        agency_system = token(subject="agency-system-client", roles=[], agency_id=agency)
        system_view = await tracking.client.get(path, headers=agency_system)
    assert owner_view.status_code == 200
    owner_items = owner_view.json()["items"]
    assert all("internal_note" not in item for item in owner_items)
    assert owner_items[2]["note"] == "Foto KTP buram"
    staff_items = staff_view.json()["items"]
    assert staff_items[1]["internal_note"] == "cek KK di loket"
    assert staff_items[2]["note"] == "Foto KTP buram"
    assert system_view.status_code == 200
    assert system_view.json()["items"][1]["internal_note"] == "cek KK di loket"


async def test_another_citizens_or_agencys_timeline_is_404_like_an_unknown_one(
    open_tracking, story, token
) -> None:
    s = story()
    async with open_tracking() as tracking:
        await tracking.publish(s.event(SUBMITTED, "submitted", actor_kind="citizen"))
        await tracking.handled(1)
        path = f"/api/v1/applications/{s.application_id}/timeline"
        stranger = await tracking.client.get(path, headers=token(subject=uuid.uuid4()))
        other_agency = await tracking.client.get(
            path, headers=token(subject=uuid.uuid4(), roles=["officer"], agency_id=uuid.uuid4())
        )
        unknown = await tracking.client.get(
            f"/api/v1/applications/{uuid.uuid4()}/timeline", headers=token(subject=uuid.uuid4())
        )
        anonymous = await tracking.client.get(path)
        not_an_id = await tracking.client.get(
            "/api/v1/applications/not-a-uuid/timeline", headers=token(subject=uuid.uuid4())
        )
    for answer in (stranger, other_agency, unknown):
        assert answer.status_code == 404
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["code"] == "not_found"
    assert anonymous.status_code == 401
    assert not_an_id.status_code == 422


async def test_an_event_that_is_not_an_application_event_is_dead_lettered_not_fatal(
    open_tracking, story, token
) -> None:
    from mpp_shared.events import new_event

    s = story()
    broken = new_event(
        type=SUBMITTED, source="/application", subject="x", data={"application_id": "nope"}
    )
    async with open_tracking() as tracking:
        await tracking.publish(broken, s.event(SUBMITTED, "submitted", actor_kind="citizen"))
        await tracking.handled(1)
        answer = await tracking.client.get(
            f"/api/v1/applications/{s.application_id}/timeline",
            headers=token(subject=s.owner_account_id),
        )
    assert answer.status_code == 200
    assert [item["status"] for item in answer.json()["items"]] == ["submitted"]
