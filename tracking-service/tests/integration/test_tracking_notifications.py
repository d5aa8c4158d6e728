"""The in-app inboxes: created once per event, per-account read marks, the agency inbox."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import text

from mpp_shared.contracts.application import v1 as application

SUBMITTED = application.APPLICATION_SUBMITTED
CHANGED = application.APPLICATION_STATUS_CHANGED
REVISION = application.APPLICATION_REVISION_REQUESTED
OVERDUE = application.APPLICATION_OVERDUE
WITHDRAWN = application.APPLICATION_WITHDRAWN


async def _outgoing(tracking: Any) -> list[tuple[str, str]]:
    async with tracking.app.state.runtime.session_factory()() as session:
        rows = await session.execute(
            text("SELECT channel, status FROM outgoing_messages ORDER BY channel")
        )
        return [(row.channel, row.status) for row in rows]


async def test_notifications_are_created_once_per_event_even_when_redelivered(
    open_tracking, story, token
) -> None:
    s = story()
    events = [
        s.event(SUBMITTED, "submitted", actor_kind="citizen"),
        s.event(CHANGED, "in_review"),
        s.event(CHANGED, "in_review", stage="verifikasi"),  # a stage advance: no message
        s.event(REVISION, "revision_requested", note="Foto KTP buram"),
    ]
    async with open_tracking() as tracking:
        await tracking.publish(*events)
        await tracking.redeliver(*events)
        await tracking.handled(4)
        # The redeliveries are behind the first deliveries on one consumer: once the last of
        # them is acked, all were seen.
        sentinel = story()
        await tracking.publish(sentinel.event(SUBMITTED, "submitted", actor_kind="citizen"))
        await tracking.handled(5)
        answer = await tracking.client.get(
            "/api/v1/notifications", headers=token(subject=s.owner_account_id)
        )
        outgoing = await _outgoing(tracking)
    assert answer.status_code == 200, answer.text
    items = answer.json()["items"]
    assert [item["kind"] for item in items] == [
        "revision_requested",
        "status_changed",
        "status_changed",
    ]
    assert items[0]["body"] == (
        f"Permohonan Akta Kelahiran nomor {s.registration_number} memerlukan perbaikan: "
        "Foto KTP buram. Silakan perbaiki dan ajukan kembali."
    )
    assert all(item["read"] is False and item["audience"] == "account" for item in items)
    assert answer.json()["next_cursor"] is None
    # Email for each (and the sentinel's), SMS too for the revision request; all waiting
    # (no SMTP configured).
    assert outgoing == [("email", "pending")] * 4 + [("sms", "pending")]


async def test_read_marks_unread_filter_and_cursor_pages(open_tracking, story, token) -> None:
    s = story()
    events = [
        s.event(SUBMITTED, "submitted", actor_kind="citizen"),
        s.event(CHANGED, "in_review"),
        s.event(CHANGED, "approved"),
    ]
    headers = token(subject=s.owner_account_id)
    async with open_tracking() as tracking:
        await tracking.publish(*events)
        await tracking.handled(3)
        get, post = tracking.client.get, tracking.client.post
        first = (await get("/api/v1/notifications", params={"limit": 2}, headers=headers)).json()
        second = (
            await get(
                "/api/v1/notifications",
                params={"limit": 2, "cursor": first["next_cursor"]},
                headers=headers,
            )
        ).json()
        newest = first["items"][0]["id"]
        read = await post(f"/api/v1/notifications/{newest}/read", headers=headers)
        again = await post(f"/api/v1/notifications/{newest}/read", headers=headers)
        unread = (
            await get("/api/v1/notifications", params={"unread": "true"}, headers=headers)
        ).json()
        stranger = await post(
            f"/api/v1/notifications/{newest}/read", headers=token(subject=uuid.uuid4())
        )
        unknown = await post(f"/api/v1/notifications/{uuid.uuid4()}/read", headers=headers)
        all_read = await post("/api/v1/notifications/read-all", headers=headers)
        after = (
            await get("/api/v1/notifications", params={"unread": "true"}, headers=headers)
        ).json()
        bad_cursor = await get("/api/v1/notifications", params={"cursor": "xx"}, headers=headers)
        too_many = await get("/api/v1/notifications", params={"limit": 101}, headers=headers)
    assert len(first["items"]) == 2
    assert first["next_cursor"]
    assert len(second["items"]) == 1
    assert second["next_cursor"] is None
    ids = [i["id"] for i in first["items"] + second["items"]]
    assert len(set(ids)) == 3
    assert read.status_code == 204
    assert again.status_code == 204
    assert newest not in [i["id"] for i in unread["items"]]
    assert len(unread["items"]) == 2
    assert stranger.status_code == 404
    assert unknown.status_code == 404
    assert all_read.json() == {"marked_read": 2}
    assert after["items"] == []
    assert bad_cursor.status_code == 422
    assert bad_cursor.json()["code"] == "invalid_cursor"
    assert too_many.status_code == 422


async def test_an_sla_breach_reaches_every_staff_member_of_the_agency_with_own_read_marks(
    open_tracking, story, token
) -> None:
    agency = uuid.uuid4()
    s = story(agency_id=agency)
    officer_a = token(subject=uuid.uuid4(), roles=["officer"], agency_id=agency)
    officer_b = token(subject=uuid.uuid4(), roles=["agency_admin"], agency_id=agency)
    elsewhere = token(subject=uuid.uuid4(), roles=["officer"], agency_id=uuid.uuid4())
    async with open_tracking() as tracking:
        await tracking.publish(
            s.event(SUBMITTED, "submitted", actor_kind="citizen"),
            s.event(OVERDUE, "submitted", actor_kind="system"),
        )
        await tracking.handled(2)
        get, post = tracking.client.get, tracking.client.post
        a_items = (await get("/api/v1/notifications", headers=officer_a)).json()["items"]
        await post(f"/api/v1/notifications/{a_items[0]['id']}/read", headers=officer_a)
        a_after = (await get("/api/v1/notifications", headers=officer_a)).json()["items"]
        b_items = (await get("/api/v1/notifications", headers=officer_b)).json()["items"]
        other = (await get("/api/v1/notifications", headers=elsewhere)).json()["items"]
        owner = (
            await get("/api/v1/notifications", headers=token(subject=s.owner_account_id))
        ).json()["items"]
    assert [(i["kind"], i["audience"]) for i in a_items] == [("sla_overdue", "agency")]
    assert "melewati batas waktu" in a_items[0]["body"]
    assert a_after[0]["read"] is True
    assert b_items[0]["id"] == a_items[0]["id"]
    assert b_items[0]["read"] is False
    assert other == []
    # The owner hears of the submission only, not of the agency's SLA breach.
    assert [i["kind"] for i in owner] == ["status_changed"]


async def test_a_citizen_withdrawing_gets_no_message_but_a_counter_filing_has_no_owner(
    open_tracking, story, token
) -> None:
    s = story()
    counter = story()
    counter.owner_account_id = None
    async with open_tracking() as tracking:
        await tracking.publish(
            s.event(SUBMITTED, "submitted", actor_kind="citizen"),
            s.event(WITHDRAWN, "withdrawn", actor_kind="citizen"),
            counter.event(SUBMITTED, "submitted", actor_kind="staff"),
        )
        await tracking.handled(3)
        items = (
            await tracking.client.get(
                "/api/v1/notifications", headers=token(subject=s.owner_account_id)
            )
        ).json()["items"]
        outgoing = await _outgoing(tracking)
    assert [i["title"] for i in items] == ["Permohonan diterima"]
    assert outgoing == [("email", "pending")]


async def test_operators_see_outgoing_messages_without_addresses(
    open_tracking, story, token
) -> None:
    s = story()
    async with open_tracking() as tracking:
        await tracking.publish(s.event(SUBMITTED, "submitted", actor_kind="citizen"))
        await tracking.handled(1)
        admin = token(subject=uuid.uuid4(), roles=["platform_admin"])
        listed = await tracking.client.get("/api/v1/notifications/outgoing", headers=admin)
        citizen = await tracking.client.get(
            "/api/v1/notifications/outgoing", headers=token(subject=s.owner_account_id)
        )
    assert listed.status_code == 200
    [item] = listed.json()["items"]
    assert item["channel"] == "email"
    assert item["status"] == "pending"
    assert item["account_id"] == str(s.owner_account_id)
    assert citizen.status_code == 403
