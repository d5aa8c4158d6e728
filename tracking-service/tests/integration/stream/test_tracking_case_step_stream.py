"""Complaint case steps on ``GET /api/v1/events/stream``: ``event: case_step`` for the case's
citizen and the handling agency only (an anonymous case: the agency only), without a text of
the case or whose it is; ``Last-Event-ID`` of either kind resumes with what came after it of
both kinds, in order; a step handled by one replica reaches a client of another."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import text

from mpp_shared.contracts.application import v1 as application
from mpp_shared.events import CloudEvent
from tracking.messaging.consumers.applications import CONSUMER_NAME as TIMELINE_CONSUMER

SUBMITTED = application.APPLICATION_SUBMITTED
CHANGED = application.APPLICATION_STATUS_CHANGED


async def _publish_one_by_one(cluster: Any, replica: Any, eventually: Any, *events: Any) -> None:
    """Each event handled by the timeline's consumer before the next is published: their
    arrival order is the given one (the other consumers' inbox rows say nothing of it)."""
    async with replica.app.state.runtime.session_factory()() as session:
        for event in events:
            await cluster.publish(event)

            async def handled(event_id: uuid.UUID = event.id) -> bool:
                found = await session.scalar(
                    text("SELECT count(*) FROM event_inbox WHERE consumer = :c AND event_id = :e"),
                    {"c": TIMELINE_CONSUMER, "e": event_id},
                )
                await session.rollback()  # the next count in a fresh snapshot
                return bool(found)

            assert await eventually(handled), f"{event.type} was not handled"


def _officer(token: Any, agency: uuid.UUID) -> dict[str, str]:
    return token(subject=uuid.uuid4(), roles=["officer"], agency_id=agency)


async def test_a_case_step_reaches_its_citizen_and_its_agency_and_nobody_else(
    cluster, sse, story, case_story, token
) -> None:
    agency, elsewhere, citizen = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    applied = story(owner=citizen, agency_id=agency)
    about = case_story(applied)
    anonymous = case_story(agency_id=agency, anonymous=True)
    other_agencys = case_story(agency_id=elsewhere)  # another citizen's, at another agency
    submitted = applied.event(SUBMITTED, "submitted", actor_kind="citizen")
    opened = about.event("opened", "open", minutes=3, actor="citizen")
    # The complainant writing again is no step of the case: not on the stream either.
    written = about.event("message_added", "open", minutes=4, actor="citizen")
    anonymous_opened = anonymous.event("opened", "open", minutes=5, actor="anonymous")
    elsewhere_opened = other_agencys.event("opened", "open", minutes=6, actor="citizen")
    async with (
        cluster.open_replica() as replica,
        sse(replica, token(subject=citizen)) as owner,
        sse(replica, _officer(token, agency)) as staff,
        sse(replica, token(subject=uuid.uuid4())) as stranger,
        sse(replica, _officer(token, elsewhere)) as other_staff,
    ):
        await replica.clients(4)
        await cluster.publish(submitted, opened, written, anonymous_opened, elsewhere_opened)
        owners = [await owner.next_event(), await owner.next_event()]
        staffs = [await staff.next_event() for _ in range(3)]
        other_staffs = [await other_staff.next_event()]
        owners += await owner.quiet(0.5)
        staffs += await staff.quiet(0.2)
        other_staffs += await other_staff.quiet(0.2)
        strangers = await stranger.quiet(0.2)

    assert [(m.event, m.id) for m in owners] == [
        (SUBMITTED, submitted.id),
        ("case_step", opened.id),
    ]
    assert [m.id for m in staffs] == [submitted.id, opened.id, anonymous_opened.id]
    assert [m.id for m in other_staffs] == [elsewhere_opened.id]
    assert strangers == []
    # The case's number and step, the application it is about: no text, contact nor account.
    assert owners[1].data == {
        "kind": "complaint",
        "case_number": about.number,
        "status": "open",
        "sequence": 1,
        "event": application.COMPLAINT_OPENED,
        "at": "2026-11-30T02:03:00Z",
        "response_due_at": "2026-12-05T02:03:00Z",
        "application_id": str(applied.application_id),
        "registration_number": applied.registration_number,
    }
    assert staffs[1].data == owners[1].data
    assert staffs[2].data["application_id"] is None  # type: ignore[index]
    assert staffs[2].data["registration_number"] is None  # type: ignore[index]


async def test_last_event_id_of_a_case_step_replays_the_later_events_and_steps_in_order(
    cluster, sse, story, case_story, token, eventually
) -> None:
    agency, citizen = uuid.uuid4(), uuid.uuid4()
    applied = story(owner=citizen, agency_id=agency)
    about = case_story(applied)
    submitted = applied.event(SUBMITTED, "submitted", actor_kind="citizen")
    opened = about.event("opened", "open", minutes=3, actor="citizen")
    in_review = applied.event(CHANGED, "in_review")
    answered = about.event("answered", "answered", minutes=5)
    strangers = case_story(agency_id=uuid.uuid4()).event("opened", "open", minutes=6)
    anonymous = case_story(agency_id=agency, anonymous=True).event("opened", "open", minutes=7)
    approved = applied.event(CHANGED, "approved")
    arrived: list[CloudEvent] = [
        submitted,
        opened,
        in_review,
        answered,
        strangers,
        anonymous,
        approved,
    ]
    owner_resumes = {**token(subject=citizen), "Last-Event-ID": str(opened.id)}
    # An application event's id, as clients kept before the stream carried case steps.
    staff_resumes = {**_officer(token, agency), "Last-Event-ID": str(submitted.id)}
    async with cluster.open_replica() as first:
        await _publish_one_by_one(cluster, first, eventually, *arrived)
        async with (
            cluster.open_replica(run_consumers=False) as second,
            sse(second, owner_resumes) as owner,
            sse(second, staff_resumes) as staff,
        ):
            owners = [await owner.next_event() for _ in range(3)]
            staffs = [await staff.next_event() for _ in range(5)]
            # Then live, handled by the first replica.
            closed = about.event("closed", "closed", minutes=9)
            await cluster.publish(closed)
            owners += [await owner.next_event()]
            staffs += [await staff.next_event()]
            owners += await owner.quiet(0.5)
            staffs += await staff.quiet(0.2)

    assert [(m.event, m.id) for m in owners] == [
        (CHANGED, in_review.id),
        ("case_step", answered.id),
        (CHANGED, approved.id),
        ("case_step", closed.id),
    ]
    assert [m.id for m in staffs] == [
        opened.id,
        in_review.id,
        answered.id,
        anonymous.id,
        approved.id,
        closed.id,
    ]
    assert owners[1].data["status"] == "answered"  # type: ignore[index]
    assert owners[1].data["registration_number"] == applied.registration_number  # type: ignore[index]


async def test_a_client_on_a_second_replica_receives_a_case_step_the_first_handled(
    cluster, sse, case_story, token
) -> None:
    agency = uuid.uuid4()
    anonymous = case_story(agency_id=agency, anonymous=True)
    async with (
        cluster.open_replica(),
        cluster.open_replica(run_consumers=False) as second,
        sse(second, _officer(token, agency)) as staff,
    ):
        opened = anonymous.event("opened", "open", minutes=1, actor="anonymous")
        await cluster.publish(opened)
        received = await staff.next_event()
    assert (received.event, received.id) == ("case_step", opened.id)
    assert received.data["case_number"] == anonymous.number  # type: ignore[index]
