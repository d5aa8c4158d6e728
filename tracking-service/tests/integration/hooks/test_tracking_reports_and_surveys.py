"""Service-level and satisfaction reports from application events, through the real tables."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from mpp_shared.calendar import default_calendar
from mpp_shared.contracts.application import v1 as application
from mpp_shared.events import CloudEvent
from tracking.domain.reports import LocalWorkingDays
from tracking.messaging.reports import report_projector

ZONE = ZoneInfo("Asia/Jakarta")


async def test_a_decided_and_surveyed_application_is_counted_in_both_reports(
    hooks_app: Callable[..., Any], make_event: Callable[..., CloudEvent]
) -> None:
    agency, service, owner, app_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    # Submitted Tuesday 3 March 2026, approved Thursday the 5th, completed Friday the 6th.
    submitted = datetime(2026, 3, 3, 2, tzinfo=UTC)
    steps = [
        (application.APPLICATION_SUBMITTED, "draft", "submitted", submitted),
        (application.APPLICATION_STATUS_CHANGED, "submitted", "approved", submitted + timedelta(2)),
        (application.APPLICATION_COMPLETED, "approved", "completed", submitted + timedelta(3)),
    ]
    async with hooks_app() as hooks:
        # The app's own projector: its commits drop the app's kept report answers.
        project = report_projector(
            LocalWorkingDays(default_calendar(), ZONE), ZONE, hooks.report_cache
        )
        for sequence, (type_, old, new, at) in enumerate(steps, start=1):
            event = make_event(
                type_,
                agency_id=agency,
                application_id=app_id,
                service_id=service,
                owner=owner,
                sequence=sequence,
                old_status=old,
                status=new,
                submitted_at=submitted,
                due_at=submitted + timedelta(days=7),
                occurred_at=at,
            )
            await hooks.handle(project, event)
            await hooks.handle(project, event)  # redelivered: changes nothing

        owner_headers = hooks.as_role("citizen", subject=str(owner))
        answers = {f"u{n}": 4 if n <= 3 else 3 for n in range(1, 10)}
        first = await hooks.client.post(
            f"/api/v1/applications/{app_id}/survey",
            json={"answers": answers},
            headers=owner_headers,
        )
        again = await hooks.client.post(
            f"/api/v1/applications/{app_id}/survey",
            json={"answers": answers},
            headers=owner_headers,
        )
        stranger = await hooks.client.post(
            f"/api/v1/applications/{app_id}/survey",
            json={"answers": answers},
            headers=hooks.as_role("citizen"),
        )
        admin = hooks.as_role("platform_admin")
        period = {"agency_id": str(agency), "from": "2026-01-01", "to": "2026-12-31"}
        levels = await hooks.client.get(
            "/api/v1/reports/service-levels", params=period, headers=admin
        )
        satisfaction = await hooks.client.get(
            "/api/v1/reports/satisfaction", params=period, headers=admin
        )

    assert first.status_code == 201, first.text
    assert again.status_code == 409
    assert stranger.status_code == 404
    assert levels.status_code == 200, levels.text
    report = levels.json()
    assert report["counts"] == {"completed": 1}
    assert report["finished"] == 1
    # Tuesday to Thursday: Wednesday and Thursday, two working days, within the SLA.
    assert report["median_working_days"] == 2
    assert report["within_sla_ratio"] == 1
    assert satisfaction.status_code == 200, satisfaction.text
    # Three elements averaging 4 and six averaging 3: (3 x 4 + 6 x 3) / 9 x 25 = 83.33, B.
    assert satisfaction.json()["responses"] == 1
    assert satisfaction.json()["ikm"] == 83.33
    assert satisfaction.json()["grade"] == "B"
