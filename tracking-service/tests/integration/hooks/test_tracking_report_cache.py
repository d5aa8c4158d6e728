"""Kept report answers through the routes: this replica's commits show at once, another
replica's within ``report_cache_seconds``, and the caller's rights are checked every time."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from mpp_shared.calendar import default_calendar
from mpp_shared.contracts.application import v1 as A
from mpp_shared.events import CloudEvent
from tracking.domain.reports import LocalWorkingDays
from tracking.messaging.reports import report_projector

ZONE = ZoneInfo("Asia/Jakarta")


async def _levels(hooks: Any, agency: uuid.UUID, headers: dict[str, str]) -> Any:
    today = datetime.now(ZONE).date()
    return await hooks.client.get(
        "/api/v1/reports/service-levels",
        params={"agency_id": str(agency), "from": str(today.replace(day=1)), "to": str(today)},
        headers=headers,
    )


async def test_this_replicas_commit_shows_at_once_another_replicas_within_the_ttl(
    hooks_app: Callable[..., Any], make_event: Callable[..., CloudEvent]
) -> None:
    agency = uuid.uuid4()
    calendar = LocalWorkingDays(default_calendar(), ZONE)
    now = datetime.now(UTC)
    async with hooks_app(report_cache_seconds=1.0) as hooks:
        admin = hooks.as_role("platform_admin")
        own = report_projector(calendar, ZONE, hooks.report_cache)
        # Another replica's consumer: its commits do not reach this replica's kept answers.
        elsewhere = report_projector(calendar, ZONE)
        await hooks.handle(own, make_event(agency_id=agency, submitted_at=now))
        first = (await _levels(hooks, agency, admin)).json()
        await hooks.handle(own, make_event(agency_id=agency, submitted_at=now))
        second = (await _levels(hooks, agency, admin)).json()
        await hooks.handle(elsewhere, make_event(agency_id=agency, submitted_at=now))
        kept = (await _levels(hooks, agency, admin)).json()
        await asyncio.sleep(1.1)
        later = (await _levels(hooks, agency, admin)).json()

    assert (first["applications"], second["applications"]) == (1, 2)
    # Kept (the same reading), then read again once the second passed.
    assert (kept["applications"], kept["as_of"]) == (2, second["as_of"])
    assert later["applications"] == 3
    assert datetime.fromisoformat(later["as_of"]) > datetime.fromisoformat(second["as_of"])


async def test_a_kept_answer_is_not_given_to_another_agencys_admin(
    hooks_app: Callable[..., Any], make_event: Callable[..., CloudEvent]
) -> None:
    agency = uuid.uuid4()
    async with hooks_app(report_cache_seconds=60.0) as hooks:
        calendar = LocalWorkingDays(default_calendar(), ZONE)
        project = report_projector(calendar, ZONE, hooks.report_cache)
        await hooks.handle(project, make_event(agency_id=agency, submitted_at=datetime.now(UTC)))
        own = await _levels(hooks, agency, hooks.as_agency_admin(agency))
        stranger = await _levels(hooks, agency, hooks.as_agency_admin(uuid.uuid4()))
        citizen = await _levels(hooks, agency, hooks.as_role("citizen"))

    assert own.status_code == 200
    assert own.json()["applications"] == 1
    assert (stranger.status_code, citizen.status_code) == (403, 403)


async def test_a_survey_answer_drops_the_kept_satisfaction_report(
    hooks_app: Callable[..., Any], make_event: Callable[..., CloudEvent]
) -> None:
    agency, owner, app_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    now = datetime.now(UTC)
    steps = [
        (A.APPLICATION_SUBMITTED, "submitted", "draft"),
        (A.APPLICATION_STATUS_CHANGED, "approved", "submitted"),
        (A.APPLICATION_COMPLETED, "completed", "approved"),
    ]
    async with hooks_app(report_cache_seconds=60.0) as hooks:
        project = report_projector(
            LocalWorkingDays(default_calendar(), ZONE), ZONE, hooks.report_cache
        )
        for sequence, (type_, status, old) in enumerate(steps, start=1):
            await hooks.handle(
                project,
                make_event(
                    type_,
                    agency_id=agency,
                    application_id=app_id,
                    owner=owner,
                    sequence=sequence,
                    old_status=old,
                    status=status,
                    submitted_at=now - timedelta(minutes=5),
                    occurred_at=now - timedelta(minutes=5 - sequence),
                ),
            )
        admin = hooks.as_role("platform_admin")
        today = datetime.now(ZONE).date()
        period = {"agency_id": str(agency), "from": str(today.replace(day=1)), "to": str(today)}
        before = await hooks.client.get(
            "/api/v1/reports/satisfaction", params=period, headers=admin
        )
        answered = await hooks.client.post(
            f"/api/v1/applications/{app_id}/survey",
            json={"answers": {f"u{n}": 4 for n in range(1, 10)}},
            headers=hooks.as_role("citizen", subject=str(owner)),
        )
        after = await hooks.client.get("/api/v1/reports/satisfaction", params=period, headers=admin)

    assert answered.status_code == 201, answered.text
    assert (before.json()["responses"], after.json()["responses"]) == (0, 1)
