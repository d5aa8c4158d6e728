"""Late and repeated events in the service-level report: the same figures whatever the order
of arrival, nothing counted twice on redelivery."""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from mpp_shared.calendar import default_calendar
from mpp_shared.contracts.application import v1 as application
from mpp_shared.events import CloudEvent, new_event
from tracking.domain.reports import LocalWorkingDays
from tracking.messaging.reports import report_projector

ZONE = ZoneInfo("Asia/Jakarta")
A = application


def local(day: int, hour: int = 9, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=ZONE).astimezone(UTC)


# Submitted Monday 2 March 2026; revision asked Wednesday the 4th, resubmitted Monday the 9th
# (Thursday, Friday and Monday paused: 3 working days); approved Wednesday the 11th; completed
# Friday the 13th. Working days after the 2nd up to the 11th: 3, 4, 5, 6, 9, 10, 11 = 7; less
# the pause, 4. Due first Monday the 9th at the end of the day, moved by the resubmission to
# Thursday the 12th: the decision on the 11th is within the SLA.
FIRST_DUE, MOVED_DUE = local(9, 23), local(12, 23)
STEPS = [
    (A.APPLICATION_SUBMITTED, "draft", "submitted", local(2), FIRST_DUE),
    (A.APPLICATION_STATUS_CHANGED, "submitted", "in_review", local(3), FIRST_DUE),
    (A.APPLICATION_REVISION_REQUESTED, "in_review", "revision_requested", local(4), FIRST_DUE),
    (A.APPLICATION_SUBMITTED, "revision_requested", "submitted", local(9), MOVED_DUE),
    (A.APPLICATION_STATUS_CHANGED, "submitted", "approved", local(11), MOVED_DUE),
    (A.APPLICATION_COMPLETED, "approved", "completed", local(13), MOVED_DUE),
]


def story(
    make_event: Callable[..., CloudEvent],
    steps: list[tuple[str, str, str, datetime, datetime]],
    *,
    agency: uuid.UUID,
    service: uuid.UUID,
) -> list[CloudEvent]:
    app_id = uuid.uuid4()
    return [
        make_event(
            type_,
            agency_id=agency,
            application_id=app_id,
            service_id=service,
            owner=uuid.uuid4(),
            sequence=sequence,
            old_status=old,
            status=new,
            submitted_at=steps[0][3],
            due_at=due,
            occurred_at=at,
        )
        for sequence, (type_, old, new, at, due) in enumerate(steps, start=1)
    ]


def again_under_another_id(event: CloudEvent) -> CloudEvent:
    """The same change published twice (not the same message): only the sequence tells."""
    return new_event(type=event.type, source=event.source, data=event.data_as(A.ApplicationEvent))


async def report(hooks: Any, agency: uuid.UUID, start: str, end: str) -> dict[str, Any]:
    response = await hooks.client.get(
        "/api/v1/reports/service-levels",
        params={"agency_id": str(agency), "from": start, "to": end},
        headers=hooks.as_role("platform_admin"),
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def figures(body: dict[str, Any]) -> tuple[Any, ...]:
    return (
        body["applications"],
        body["counts"],
        body["finished"],
        body["median_working_days"],
        body["p90_working_days"],
        body["within_sla_ratio"],
    )


async def test_late_resubmission_and_decision_after_the_completion_still_count(
    hooks_app: Callable[..., Any], make_event: Callable[..., CloudEvent]
) -> None:
    in_order, late = uuid.uuid4(), uuid.uuid4()
    service = uuid.uuid4()
    async with hooks_app() as hooks:
        # The app's own projector: its commits drop the app's kept report answers.
        project = report_projector(
            LocalWorkingDays(default_calendar(), ZONE), ZONE, hooks.report_cache
        )
        for event in story(make_event, STEPS, agency=in_order, service=service):
            await hooks.handle(project, event)

        events = story(make_event, STEPS, agency=late, service=service)
        # Arrival: submitted, in review, revision requested, then the completion before the
        # approval, and the resubmission last of all.
        for index in (0, 1, 2, 5):
            await hooks.handle(project, events[index])
        # Completed Friday the 13th, no decision seen, no resubmission seen: 9 working days,
        # after the due time the completion carries (the 12th).
        early = await report(hooks, late, "2026-03-01", "2026-03-31")
        await hooks.handle(project, events[4])
        # The approval stops the clock on the 11th: 7 working days, by the due time.
        decided = await report(hooks, late, "2026-03-01", "2026-03-31")
        await hooks.handle(project, events[3])
        # Every event again, the same messages and the same changes under other ids.
        for event in [*events, *map(again_under_another_id, reversed(events))]:
            await hooks.handle(project, event)
        expected = await report(hooks, in_order, "2026-03-01", "2026-03-31")
        got = await report(hooks, late, "2026-03-01", "2026-03-31")

    assert figures(early) == (1, {"completed": 1}, 1, 9.0, 9.0, 0.0)
    assert figures(decided) == (1, {"completed": 1}, 1, 7.0, 7.0, 1.0)
    assert figures(expected) == (1, {"completed": 1}, 1, 4.0, 4.0, 1.0)
    assert figures(got) == figures(expected)


async def test_a_late_decision_moves_the_application_to_the_month_of_the_decision(
    hooks_app: Callable[..., Any], make_event: Callable[..., CloudEvent]
) -> None:
    agency, service = uuid.uuid4(), uuid.uuid4()
    # Submitted Monday 26 January, approved Friday the 30th (4 working days), completed
    # Monday 2 February; the completion arrives first.
    due = local(6, 23, month=2)
    steps = [
        (A.APPLICATION_SUBMITTED, "draft", "submitted", local(26, month=1), due),
        (A.APPLICATION_STATUS_CHANGED, "submitted", "approved", local(30, month=1), due),
        (A.APPLICATION_COMPLETED, "approved", "completed", local(2, month=2), due),
    ]
    events = story(make_event, steps, agency=agency, service=service)
    async with hooks_app() as hooks:
        # The app's own projector: its commits drop the app's kept report answers.
        project = report_projector(
            LocalWorkingDays(default_calendar(), ZONE), ZONE, hooks.report_cache
        )
        await hooks.handle(project, events[2])
        before = (
            await report(hooks, agency, "2026-01-01", "2026-01-31"),
            await report(hooks, agency, "2026-02-01", "2026-02-28"),
        )
        await hooks.handle(project, events[1])
        await hooks.handle(project, events[0])
        await hooks.handle(project, events[1])  # redelivered
        after = (
            await report(hooks, agency, "2026-01-01", "2026-01-31"),
            await report(hooks, agency, "2026-02-01", "2026-02-28"),
        )

    january, february = before
    # Counted by the month of submission (January) from the first event seen, whichever it is.
    assert january["counts"] == {"completed": 1}
    assert (january["finished"], february["finished"]) == (0, 1)
    assert february["median_working_days"] == 5  # 27, 28, 29, 30 January, 2 February
    january, february = after
    assert january["counts"] == {"completed": 1}
    assert (january["finished"], january["median_working_days"]) == (1, 4)
    assert (february["finished"], february["median_working_days"]) == (0, None)
    assert february["within_sla_ratio"] is None


async def test_a_late_overdue_event_still_lists_the_application_as_overdue(
    hooks_app: Callable[..., Any], make_event: Callable[..., CloudEvent]
) -> None:
    agency, service, app_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    submitted = datetime(2026, 3, 2, 2, tzinfo=UTC)
    due = datetime(2099, 1, 1, tzinfo=UTC)  # far ahead: only the flag can make it overdue
    events = [
        make_event(
            type_,
            agency_id=agency,
            application_id=app_id,
            service_id=service,
            sequence=sequence,
            old_status=old,
            status=new,
            submitted_at=submitted,
            due_at=due,
        )
        for sequence, (type_, old, new) in enumerate(
            [
                (A.APPLICATION_SUBMITTED, "draft", "submitted"),
                (A.APPLICATION_OVERDUE, "submitted", "submitted"),
                (A.APPLICATION_STATUS_CHANGED, "submitted", "in_review"),
            ],
            start=1,
        )
    ]
    async with hooks_app() as hooks:
        # The app's own projector: its commits drop the app's kept report answers.
        project = report_projector(
            LocalWorkingDays(default_calendar(), ZONE), ZONE, hooks.report_cache
        )
        for index in (0, 2, 1, 1):
            await hooks.handle(project, events[index])
        body = await report(hooks, agency, "2026-03-01", "2026-03-31")

    assert body["counts"] == {"in_review": 1}
    assert [(o["application_id"], o["status"]) for o in body["overdue"]] == [
        (str(app_id), "in_review")
    ]


async def test_batches_give_the_figures_of_one_event_at_a_time(
    hooks_app: Callable[..., Any], make_event: Callable[..., CloudEvent]
) -> None:
    one_by_one, batched, service = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    rejected = [
        *STEPS[:2],
        (A.APPLICATION_STATUS_CHANGED, "in_review", "rejected", local(5), FIRST_DUE),
    ]
    overdue = [
        *STEPS[:2],
        (A.APPLICATION_OVERDUE, "in_review", "in_review", local(10), FIRST_DUE),
        (A.APPLICATION_STATUS_CHANGED, "in_review", "approved", local(16), FIRST_DUE),
    ]
    plans = [STEPS, STEPS, rejected, overdue, STEPS[:3]]

    def arrivals(agency: uuid.UUID) -> list[CloudEvent]:
        events = [
            e for steps in plans for e in story(make_event, steps, agency=agency, service=service)
        ]
        # Late and repeated: shuffled, then some again under other ids and some redelivered.
        random.Random(3).shuffle(events)
        return [*events, *map(again_under_another_id, events[::3]), *events[1::4]]

    async with hooks_app() as hooks:
        # The app's own projector: its commits drop the app's kept report answers.
        project = report_projector(
            LocalWorkingDays(default_calendar(), ZONE), ZONE, hooks.report_cache
        )
        for event in arrivals(one_by_one):
            await hooks.handle(project, event)
        events = arrivals(batched)
        for start in range(0, len(events), 7):
            await hooks.handle_batch(project, events[start : start + 7])
        expected = await report(hooks, one_by_one, "2026-03-01", "2026-03-31")
        got = await report(hooks, batched, "2026-03-01", "2026-03-31")

    assert figures(expected)[:3] == (
        5,
        {"approved": 1, "completed": 2, "rejected": 1, "revision_requested": 1},
        4,
    )
    assert figures(got) == figures(expected)
    assert [(o["status"], o["due_at"]) for o in got["overdue"]] == [
        (o["status"], o["due_at"]) for o in expected["overdue"]
    ]
