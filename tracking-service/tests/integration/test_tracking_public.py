"""Public tracking by registration number and code: one answer for every miss, a bound on
guesses per number, catalogue names, no personal data."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from mpp_shared.contracts.application import v1 as application

SUBMITTED = application.APPLICATION_SUBMITTED
CHANGED = application.APPLICATION_STATUS_CHANGED
REVISION = application.APPLICATION_REVISION_REQUESTED
OVERDUE = application.APPLICATION_OVERDUE


async def test_a_wrong_code_is_404_with_the_same_body_as_an_unknown_number(
    open_tracking, story
) -> None:
    s = story()
    async with open_tracking() as tracking:
        await tracking.publish(s.event(SUBMITTED, "submitted", actor_kind="citizen"))
        await tracking.handled(1)
        get = tracking.client.get
        number = s.registration_number
        wrong = await get(f"/api/v1/tracking/{number}", params={"code": "WRONG"})
        missing = await get(f"/api/v1/tracking/{number}")
        unknown = await get("/api/v1/tracking/64.09-2026-999999", params={"code": s.tracking_code})
        other_code = await get(
            f"/api/v1/tracking/{number}", params={"code": s.tracking_code.lower()}
        )
        too_long = await get("/api/v1/tracking/" + "9" * 300, params={"code": "x"})
    bodies = {response.content for response in (wrong, missing, unknown, other_code, too_long)}
    assert {r.status_code for r in (wrong, missing, unknown, other_code, too_long)} == {404}
    assert len(bodies) == 1
    assert wrong.headers["content-type"] == "application/problem+json"
    assert wrong.json()["code"] == "not_found"
    assert number not in wrong.text


async def test_the_right_code_shows_status_names_and_timeline_without_personal_data(
    open_tracking, story, agency_event
) -> None:
    s = story()
    s.started = datetime.now(UTC) - timedelta(days=1)
    events = [
        s.event(SUBMITTED, "submitted", actor_kind="citizen"),
        s.event(CHANGED, "in_review", stage="verifikasi", internal_note="rahasia petugas"),
        s.event(REVISION, "revision_requested", note="Foto KTP buram"),
    ]
    async with open_tracking() as tracking:
        await tracking.publish(agency_event(s.agency_id, "Dinas Dukcapil", 1))
        await tracking.publish(agency_event(s.agency_id, "Disdukcapil Kota Samarinda", 2))
        await tracking.publish(*events)
        await tracking.handled(3)
        await tracking.handled(2, consumer="tracking-catalog")
        answer = await tracking.client.get(
            f"/api/v1/tracking/{s.registration_number}", params={"code": s.tracking_code}
        )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["registration_number"] == s.registration_number
    assert body["service_name"] == "Akta Kelahiran"
    assert body["agency_name"] == "Disdukcapil Kota Samarinda"
    assert body["status"] == "revision_requested"
    assert body["overdue"] is False
    assert body["due_at"] is not None
    assert [(i["status"], i["stage"]) for i in body["timeline"]] == [
        ("submitted", None),
        ("in_review", "verifikasi"),
        ("revision_requested", None),
    ]
    text = answer.text
    for private in ("Foto KTP buram", "rahasia petugas", str(s.owner_account_id), "note"):
        assert private not in text


async def test_an_sla_breach_shows_as_overdue_even_if_it_arrives_after_a_later_change(
    open_tracking, story
) -> None:
    s = story()
    submitted = s.event(SUBMITTED, "submitted", actor_kind="citizen")
    review = s.event(CHANGED, "in_review")
    overdue = s.event(OVERDUE, "in_review", actor_kind="system")
    stage = s.event(CHANGED, "in_review", stage="verifikasi")
    async with open_tracking() as tracking:
        await tracking.publish(submitted, review, stage)
        await tracking.handled(3)
        await tracking.publish(overdue)
        await tracking.handled(4)
        answer = await tracking.client.get(
            f"/api/v1/tracking/{s.registration_number}", params={"code": s.tracking_code}
        )
    body = answer.json()
    assert body["overdue"] is True
    assert body["stage"] == "verifikasi"
    # The SLA notice is not a step of the history.
    assert [i["status"] for i in body["timeline"]] == ["submitted", "in_review", "in_review"]


async def test_wrong_codes_for_one_number_are_bounded_across_addresses(
    open_tracking, story
) -> None:
    s, other = story(), story()
    async with open_tracking(tracking_max_failures=3) as tracking:
        await tracking.publish(
            s.event(SUBMITTED, "submitted", actor_kind="citizen"),
            other.event(SUBMITTED, "submitted", actor_kind="citizen"),
        )
        await tracking.handled(2)
        path = f"/api/v1/tracking/{s.registration_number}"
        misses = [
            await tracking.client.get(
                path, params={"code": f"GUESS{n}"}, headers={"X-Forwarded-For": f"10.0.0.{n}"}
            )
            for n in range(3)
        ]
        blocked_right = await tracking.client.get(path, params={"code": s.tracking_code})
        blocked_wrong = await tracking.client.get(path, params={"code": "GUESS9"})
        unaffected = await tracking.client.get(
            f"/api/v1/tracking/{other.registration_number}", params={"code": other.tracking_code}
        )
        # An unknown number is limited the same way (no oracle in the 429 either).
        unknown = "64.09-2026-424242"
        for _ in range(3):
            await tracking.client.get(f"/api/v1/tracking/{unknown}", params={"code": "x"})
        unknown_blocked = await tracking.client.get(
            f"/api/v1/tracking/{unknown}", params={"code": "x"}
        )
    assert [m.status_code for m in misses] == [404, 404, 404]
    for blocked in (blocked_right, blocked_wrong, unknown_blocked):
        assert blocked.status_code == 429
        assert blocked.json()["code"] == "rate_limited"
        assert 1 <= int(blocked.headers["Retry-After"]) <= 3601
    assert unaffected.status_code == 200


async def test_concurrent_guesses_of_one_number_never_pass_the_limit(open_tracking, story) -> None:
    s = story()
    async with open_tracking(tracking_max_failures=3) as tracking:
        await tracking.publish(s.event(SUBMITTED, "submitted", actor_kind="citizen"))
        await tracking.handled(1)
        path = f"/api/v1/tracking/{s.registration_number}"
        # All at once: each is checked against the count of the ones before it (the number's
        # lock, then the read), never against a count read before a concurrent miss committed.
        guesses = await asyncio.gather(
            *(tracking.client.get(path, params={"code": f"GUESS{n}"}) for n in range(12))
        )
        right_after = await tracking.client.get(path, params={"code": s.tracking_code})
    statuses = sorted(g.status_code for g in guesses)
    assert statuses == [404] * 3 + [429] * 9
    assert right_after.status_code == 429


async def test_the_right_code_among_concurrent_guesses_is_answered_only_within_the_limit(
    open_tracking, story
) -> None:
    s = story()
    async with open_tracking(tracking_max_failures=3) as tracking:
        await tracking.publish(s.event(SUBMITTED, "submitted", actor_kind="citizen"))
        await tracking.handled(1)
        path = f"/api/v1/tracking/{s.registration_number}"
        codes = [f"GUESS{n}" for n in range(11)]
        codes.insert(6, s.tracking_code)
        answers = await asyncio.gather(
            *(tracking.client.get(path, params={"code": code}) for code in codes)
        )
    by_code = dict(zip(codes, (a.status_code for a in answers), strict=True))
    right = by_code.pop(s.tracking_code)
    # The right code is 200 only if it came before the third miss; 429 otherwise, never a
    # 404 that would tell it apart: the lock serialises it with the misses too.
    assert sorted(by_code.values()) == [404] * 3 + [429] * 8
    assert right in (200, 429)


async def test_a_missing_code_counts_as_a_wrong_one(open_tracking, story) -> None:
    s = story()
    async with open_tracking(tracking_max_failures=2) as tracking:
        await tracking.publish(s.event(SUBMITTED, "submitted", actor_kind="citizen"))
        await tracking.handled(1)
        path = f"/api/v1/tracking/{s.registration_number}"
        missing = [await tracking.client.get(path), await tracking.client.get(path + "?code=")]
        blocked = await tracking.client.get(path, params={"code": s.tracking_code})
    assert [m.status_code for m in missing] == [404, 404]
    assert blocked.status_code == 429


async def test_failures_older_than_the_window_no_longer_count(open_tracking, story) -> None:
    s = story()
    async with open_tracking(
        tracking_max_failures=2, tracking_failure_window_seconds=1
    ) as tracking:
        await tracking.publish(s.event(SUBMITTED, "submitted", actor_kind="citizen"))
        await tracking.handled(1)
        path = f"/api/v1/tracking/{s.registration_number}"
        for _ in range(2):
            await tracking.client.get(path, params={"code": "nope"})
        blocked = await tracking.client.get(path, params={"code": s.tracking_code})
        await asyncio.sleep(1.2)
        again = await tracking.client.get(path, params={"code": s.tracking_code})
    assert blocked.status_code == 429
    assert again.status_code == 200


async def test_an_agency_renamed_before_its_service_event_keeps_the_newer_name(
    open_tracking, story, agency_event
) -> None:
    from mpp_shared.contracts.catalog import v1 as catalog
    from mpp_shared.events import new_event

    s = story()
    published = new_event(
        type=catalog.SERVICE_PUBLISHED,
        source=catalog.SOURCE,
        subject=str(uuid.UUID(int=1)),
        data={
            "service_id": str(uuid.UUID(int=1)),
            "version": 1,
            "agency_id": str(s.agency_id),
            "agency_name": "Nama Lama",
            "agency_region_code": "64.09",
            "agency_timezone": "Asia/Makassar",
            "region_codes": [],
            "code": "akta-kelahiran",
            "name": "Akta Kelahiran",
            "description": "",
            "category": "kependudukan",
            "keywords": [],
            "requirements": [],
            "procedure": [],
            "stages": [],
            "sla_working_days": 5,
            "fee": {"amount_idr": 0},
            "output": "Akta",
            "legal_basis": [],
            "complaint_channel": "",
            "channels": ["online"],
            "min_assurance_level": 1,
            "form_schema": {},
            "prefill": {},
            "published_at": "2026-11-01T00:00:00Z",
        },
    )
    async with open_tracking() as tracking:
        await tracking.publish(agency_event(s.agency_id, "Nama Baru", 3), published)
        await tracking.publish(s.event(SUBMITTED, "submitted", actor_kind="citizen"))
        await tracking.handled(2, consumer="tracking-catalog")
        await tracking.handled(1)
        answer = await tracking.client.get(
            f"/api/v1/tracking/{s.registration_number}", params={"code": s.tracking_code}
        )
    assert answer.json()["agency_name"] == "Nama Baru"
