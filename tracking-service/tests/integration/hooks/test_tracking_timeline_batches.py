"""The timeline consumer's batches: several events of one application in one transaction take
their places, the highest sequence is the current state, the stream hears only what committed."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from mpp_shared.contracts.application import v1 as application
from mpp_shared.events import CloudEvent, new_event
from tracking.db.notifications import Notification
from tracking.db.timeline import TimelineEntryRow, TrackedApplicationRow
from tracking.messaging.consumers.applications import timeline_handler
from tracking.messaging.stream import CaseStepEvent, StreamEvent

A = application


class RecordingHub:
    """Stands in for the live stream: what would go out to the clients, in order."""

    def __init__(self) -> None:
        self.published: list[StreamEvent] = []

    def publish_all_soon(self, events: list[StreamEvent]) -> None:
        self.published.extend(events)


def again_under_another_id(event: CloudEvent) -> CloudEvent:
    return new_event(type=event.type, source=event.source, data=event.data_as(A.ApplicationEvent))


def lives(make_event: Callable[..., CloudEvent], agency: uuid.UUID) -> list[list[CloudEvent]]:
    """Two applications: one decided after an SLA breach, one still waiting."""
    stories = [
        [
            (A.APPLICATION_SUBMITTED, "draft", "submitted"),
            (A.APPLICATION_STATUS_CHANGED, "submitted", "in_review"),
            (A.APPLICATION_OVERDUE, "in_review", "in_review"),
            (A.APPLICATION_STATUS_CHANGED, "in_review", "approved"),
            (A.APPLICATION_COMPLETED, "approved", "completed"),
        ],
        [
            (A.APPLICATION_SUBMITTED, "draft", "submitted"),
            (A.APPLICATION_STATUS_CHANGED, "submitted", "in_review"),
        ],
    ]
    found = []
    for steps in stories:
        app_id, owner = uuid.uuid4(), uuid.uuid4()
        found.append(
            [
                make_event(
                    type_,
                    agency_id=agency,
                    application_id=app_id,
                    owner=owner,
                    sequence=sequence,
                    old_status=old,
                    status=new,
                )
                for sequence, (type_, old, new) in enumerate(steps, start=1)
            ]
        )
    return found


async def test_one_batch_of_shuffled_and_repeated_events_gives_the_timeline_in_order(
    hooks_app: Callable[..., Any], make_event: Callable[..., CloudEvent]
) -> None:
    decided, waiting = lives(make_event, uuid.uuid4())
    batch = [*decided, *waiting]
    random.Random(5).shuffle(batch)
    # The completion again under another id, in the same batch: its place is taken.
    batch.append(again_under_another_id(decided[-1]))
    hub = RecordingHub()
    handler = timeline_handler(hub)  # type: ignore[arg-type]
    async with hooks_app() as hooks:
        await hooks.handle_batch(handler, batch)
        async with hooks.sessionmaker()() as session:
            first_id = decided[0].data_as(A.ApplicationEvent).application_id
            second_id = waiting[0].data_as(A.ApplicationEvent).application_id
            first = await session.get(TrackedApplicationRow, first_id)
            second = await session.get(TrackedApplicationRow, second_id)
            entries = (
                await session.scalars(
                    select(TimelineEntryRow)
                    .where(TimelineEntryRow.application_id == first_id)
                    .order_by(TimelineEntryRow.sequence)
                )
            ).all()
            # This test's applications only: the app's own consumers may meanwhile handle
            # other tests' events left in the shared stream, into this database.
            notified = await session.scalar(
                select(func.count())
                .select_from(Notification)
                .where(Notification.application_id.in_([first_id, second_id]))
            )

    assert first is not None
    assert second is not None
    assert (first.status, first.sequence, first.overdue) == ("completed", 5, True)
    assert (second.status, second.sequence, second.overdue) == ("in_review", 2, False)
    assert [e.sequence for e in entries] == [1, 2, 3, 4, 5]
    assert {e.event_id for e in entries} == {e.event_id for e in decided}
    # Each stored event once on the stream, in the order of arrival (its position).
    assert len(hub.published) == len(decided) + len(waiting)
    positions = [p.position for p in hub.published]
    assert positions == sorted(positions)
    assert [p.event_id for p in hub.published] == [e.id for e in batch[:-1]]
    # Owner: submitted, in review, approved, completed for the first; two for the second;
    # the agency: the SLA breach.
    assert notified == 4 + 2 + 1


async def test_a_batch_rolled_back_publishes_nothing_on_the_stream(
    hooks_app: Callable[..., Any], make_event: Callable[..., CloudEvent]
) -> None:
    decided, _ = lives(make_event, uuid.uuid4())
    hub = RecordingHub()
    handler = timeline_handler(hub)  # type: ignore[arg-type]
    async with hooks_app() as hooks:
        async with hooks.sessionmaker()() as session:
            await session.begin()
            await handler(session, decided)
            # The consumer's commit failed (or it crashed): the stream must not have heard.
            await session.rollback()
        async with hooks.sessionmaker()() as session:
            stored = await session.get(
                TrackedApplicationRow, decided[0].data_as(A.ApplicationEvent).application_id
            )

    assert stored is None
    assert hub.published == []


def owner_linked(submitted: CloudEvent, *, owner: uuid.UUID, sequence: int) -> CloudEvent:
    """application-service's event when the resident of a counter filing registers."""
    facts = submitted.data_as(A.ApplicationEvent).model_dump()
    facts.update(owner_account_id=owner, sequence=sequence, old_status=facts["status"])
    return new_event(
        type=A.APPLICATION_OWNER_LINKED,
        source=submitted.source,
        data=A.ApplicationOwnerLinked(**facts),
    )


@pytest.mark.parametrize("tail", ["link", "link, change", "change, link"])
async def test_a_counter_application_takes_its_resident_as_owner_without_a_timeline_step(
    hooks_app: Callable[..., Any], make_event: Callable[..., CloudEvent], tail: str
) -> None:
    agency, application_id, resident = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    submitted = make_event(agency_id=agency, application_id=application_id, owner=None)
    linked = owner_linked(submitted, owner=resident, sequence=2)
    review = make_event(
        A.APPLICATION_STATUS_CHANGED,
        agency_id=agency,
        application_id=application_id,
        owner=resident,
        sequence=3,
        old_status="submitted",
        status="in_review",
    )
    # The link alone, or with a later change in one batch in either order (the change stays).
    batch = [{"link": linked, "change": review}[name] for name in tail.split(", ")]
    handler = timeline_handler(RecordingHub())  # type: ignore[arg-type]
    async with hooks_app() as hooks:
        await hooks.handle_batch(handler, [submitted])
        async with hooks.sessionmaker()() as session:
            waiting = await session.get(TrackedApplicationRow, application_id)
            assert waiting is not None
            assert waiting.owner_account_id is None
        await hooks.handle_batch(handler, batch)
        async with hooks.sessionmaker()() as session:
            current = await session.get(TrackedApplicationRow, application_id)
            steps = (
                await session.scalars(
                    select(TimelineEntryRow.sequence)
                    .where(TimelineEntryRow.application_id == application_id)
                    .order_by(TimelineEntryRow.sequence)
                )
            ).all()
            owners_messages = await session.scalar(
                select(func.count())
                .select_from(Notification)
                .where(Notification.account_id == resident)
            )

    changed = review in batch
    assert current is not None
    assert (current.owner_account_id, current.status, current.sequence) == (
        resident,
        "in_review" if changed else "submitted",
        3 if changed else 2,
    )
    assert steps == ([1, 3] if changed else [1])  # the link is no step of the application
    # "sedang diperiksa" for the change; nothing for the link itself.
    assert owners_messages == (1 if changed else 0)


async def test_a_batchs_case_steps_go_on_the_stream_once_after_its_application_events(
    hooks_app: Callable[..., Any], story: Callable[..., Any], case_story: Callable[..., Any]
) -> None:
    applied = story()
    case = case_story(applied)
    opened = case.event("opened", "open", minutes=2, actor="citizen")
    written = case.event("message_added", "open", minutes=3, actor="citizen")
    answered = case.event("answered", "answered", minutes=4)
    anonymous = case_story(anonymous=True).event("opened", "open", minutes=5, actor="anonymous")
    # The case's first step before the application itself, then again under another id.
    batch = [
        opened,
        applied.event(A.APPLICATION_SUBMITTED, "submitted", actor_kind="citizen"),
        written,
        answered,
        anonymous,
        opened.model_copy(update={"id": str(uuid.uuid4())}),
    ]
    hub = RecordingHub()
    handler = timeline_handler(hub)  # type: ignore[arg-type]
    async with hooks_app() as hooks:
        await hooks.handle_batch(handler, batch)
        await hooks.handle_batch(handler, [answered])  # delivered again: nothing new

    published: list[Any] = hub.published
    positions = [p.position for p in published]
    assert positions == sorted(positions)
    stored = (batch[1], opened, answered, anonymous)
    assert [p.event_id for p in published] == [e.id for e in stored]
    assert [type(p) for p in published] == [StreamEvent, *[CaseStepEvent] * 3]
    # The application known from the same batch names the case's application.
    assert published[1].registration_number == applied.registration_number
    assert published[1].owner_account_id == str(applied.owner_account_id)
    assert published[3].owner_account_id is None
    assert published[3].application_id is None


async def test_a_batch_that_draws_later_positions_commits_after_the_one_before_it(
    hooks_app: Callable[..., Any], make_event: Callable[..., CloudEvent]
) -> None:
    """Two replicas' batches at once: the second waits for the first's commit before it
    draws its positions, so positions are in commit order and a stream cursor never passes
    an event that commits later."""
    agency = uuid.uuid4()
    first, second = (make_event(agency_id=agency, application_id=uuid.uuid4()) for _ in "ab")
    async with hooks_app() as hooks:
        handler = timeline_handler(RecordingHub())  # type: ignore[arg-type]
        sessionmaker = hooks.sessionmaker()
        async with sessionmaker() as one, one.begin():
            await handler(one, [first])  # its positions drawn, not committed yet

            async def other_replica() -> None:
                async with sessionmaker() as two, two.begin():
                    await handler(two, [second])

            later = asyncio.create_task(other_replica())
            await asyncio.sleep(0.5)
            assert not later.done(), "the second batch stored its events before the first ended"
        await asyncio.wait_for(later, 10)
        async with sessionmaker() as session:
            positions = dict(
                (
                    await session.execute(
                        select(TimelineEntryRow.event_id, TimelineEntryRow.position)
                    )
                ).all()
            )
    assert positions[first.event_id] < positions[second.event_id]
