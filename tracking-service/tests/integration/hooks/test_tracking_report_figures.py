"""The report figures against hand-computed expectations: median and p90 working days with the
shared calendar, the share within the SLA, the overdue list, per service and per period, the
ministry's CSV, and the IKM and grades per service and agency."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from mpp_shared.calendar import default_calendar
from mpp_shared.contracts.application import v1 as application
from mpp_shared.events import CloudEvent
from tracking.domain.reports import LocalWorkingDays
from tracking.messaging.reports import report_projector

ZONE = ZoneInfo("Asia/Jakarta")
A = application


def local(month: int, day: int, hour: int = 9) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=ZONE).astimezone(UTC)


def end_of(month: int, day: int) -> datetime:
    return datetime(2026, month, day, 23, 59, 59, tzinfo=ZONE).astimezone(UTC)


async def play(
    hooks: Any,
    make_event: Callable[..., CloudEvent],
    *,
    agency: uuid.UUID,
    service: uuid.UUID,
    name: str,
    submitted: datetime,
    due: datetime,
    then: list[tuple[str, str, datetime]],
    owner: uuid.UUID | None = None,
) -> uuid.UUID:
    """Submit, then each (event type, new status, when) in order."""
    project = report_projector(LocalWorkingDays(default_calendar(), ZONE), ZONE, hooks.report_cache)
    app_id, status = uuid.uuid4(), "draft"
    steps = [(A.APPLICATION_SUBMITTED, "submitted", submitted), *then]
    for sequence, (type_, new, at) in enumerate(steps, start=1):
        event = make_event(
            type_,
            agency_id=agency,
            application_id=app_id,
            service_id=service,
            service_name=name,
            owner=owner,
            sequence=sequence,
            old_status=status,
            status=new,
            submitted_at=submitted,
            due_at=due,
            occurred_at=at,
        )
        await hooks.handle(project, event)
        status = new
    return app_id


def approved(at: datetime) -> list[tuple[str, str, datetime]]:
    return [(A.APPLICATION_STATUS_CHANGED, "approved", at)]


async def test_service_levels_per_service_and_period_and_the_yearly_csv(
    hooks_app: Callable[..., Any], make_event: Callable[..., CloudEvent]
) -> None:
    agency, akta, ktp = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    async with hooks_app() as hooks:
        # Akta Kelahiran: five submitted Monday 5 January 2026, due at the end of Friday the
        # 9th; approved Tuesday 6 (1 working day), Wednesday 7 (2), Thursday 8 (3), Friday 9
        # (4) and Tuesday 20 January (6, 7, 8, 9, 12, 13, 14, 15, 19, 20: the 16th is Isra
        # Mi'raj: 10 days, late).
        for day in (6, 7, 8, 9, 20):
            await play(
                hooks,
                make_event,
                agency=agency,
                service=akta,
                name="Akta Kelahiran",
                submitted=local(1, 5),
                due=end_of(1, 9),
                then=approved(local(1, day, 10)),
            )
        # KTP Elektronik: submitted Monday 12 January; one rejected Wednesday the 14th (13, 14:
        # 2 days, due the 19th), one in review and due at the end of the 14th: overdue now;
        # one submitted Monday 2 February and approved Wednesday the 4th (2 days).
        await play(
            hooks,
            make_event,
            agency=agency,
            service=ktp,
            name="KTP Elektronik",
            submitted=local(1, 12),
            due=end_of(1, 19),
            then=[(A.APPLICATION_STATUS_CHANGED, "rejected", local(1, 14))],
        )
        late = await play(
            hooks,
            make_event,
            agency=agency,
            service=ktp,
            name="KTP Elektronik",
            submitted=local(1, 12),
            due=end_of(1, 14),
            then=[(A.APPLICATION_STATUS_CHANGED, "in_review", local(1, 13))],
        )
        await play(
            hooks,
            make_event,
            agency=agency,
            service=ktp,
            name="KTP Elektronik",
            submitted=local(2, 2),
            due=end_of(2, 9),
            then=approved(local(2, 4)),
        )
        other = await play(
            hooks,
            make_event,
            agency=uuid.uuid4(),
            service=uuid.uuid4(),
            name="Izin Usaha",
            submitted=local(1, 12),
            due=end_of(1, 13),
            then=[],
        )

        own = hooks.as_agency_admin(agency)

        async def get(start: str, end: str, **extra: str) -> Any:
            return await hooks.client.get(
                "/api/v1/reports/service-levels",
                params={"from": start, "to": end, **extra},
                headers=own,
            )

        january = (await get("2026-01-01", "2026-01-31")).json()
        two_months = (await get("2026-01-01", "2026-02-28")).json()
        february = (await get("2026-02-01", "2026-02-28")).json()
        only_ktp = (await get("2026-01-01", "2026-12-31", service_id=str(ktp))).json()
        table = await get("2026-01-01", "2026-01-31", format="csv")
        elsewhere = await hooks.client.get(
            "/api/v1/reports/service-levels",
            params={"agency_id": str(uuid.uuid4())},
            headers=own,
        )

    by_name = {line["service_name"]: line for line in january["services"]}
    assert list(by_name) == ["Akta Kelahiran", "KTP Elektronik"]
    first = by_name["Akta Kelahiran"]
    assert (first["applications"], first["counts"], first["finished"]) == (5, {"approved": 5}, 5)
    # [1, 2, 3, 4, 10]: the middle one is 3; the 90th percentile at rank 0.9 x 4 = 3.6 lies
    # between 4 and 10: 4 + 0.6 x 6 = 7.6. Four of five by the due time.
    assert (first["median_working_days"], first["p90_working_days"]) == (3, 7.6)
    assert first["within_sla_ratio"] == 0.8
    second = by_name["KTP Elektronik"]
    assert second["counts"] == {"in_review": 1, "rejected": 1}
    assert (second["finished"], second["median_working_days"], second["within_sla_ratio"]) == (
        1,
        2,
        1,
    )
    # The agency: [1, 2, 2, 3, 4, 10]: median (2 + 3) / 2 = 2.5; rank 4.5: 4 + 0.5 x 6 = 7;
    # five of six within the SLA.
    assert (january["applications"], january["finished"]) == (7, 6)
    assert (january["median_working_days"], january["p90_working_days"]) == (2.5, 7)
    assert january["within_sla_ratio"] == round(5 / 6, 4)
    assert january["period"] == {"from": "2026-01-01", "to": "2026-01-31"}
    # Overdue now, whatever the period; never another agency's.
    assert [o["application_id"] for o in january["overdue"]] == [str(late)]
    assert str(other) not in {o["application_id"] for o in february["overdue"]}
    assert [o["application_id"] for o in february["overdue"]] == [str(late)]

    assert [line["service_name"] for line in february["services"]] == ["KTP Elektronik"]
    assert (february["applications"], february["counts"]) == (1, {"approved": 1})
    ktp_two = {line["service_name"]: line for line in two_months["services"]}["KTP Elektronik"]
    assert (ktp_two["applications"], ktp_two["finished"], ktp_two["median_working_days"]) == (
        3,
        2,
        2,
    )
    assert two_months["applications"] == 8
    assert [line["service_name"] for line in only_ktp["services"]] == ["KTP Elektronik"]
    assert only_ktp["applications"] == 3
    assert elsewhere.status_code == 403

    assert table.status_code == 200, table.text
    assert table.headers["content-type"].startswith("text/csv")
    assert table.text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(table.text.removeprefix("\ufeff"))))
    assert rows[0] == [
        "ID Layanan",
        "Nama Layanan",
        "Jumlah Permohonan",
        "Diajukan",
        "Diproses",
        "Perlu Perbaikan",
        "Disetujui",
        "Ditolak",
        "Selesai",
        "Dicabut",
        "Jumlah Diputus",
        "Median Hari Kerja",
        "Persentil 90 Hari Kerja",
        "Persentase Tepat Waktu",
    ]
    assert rows[1:] == [
        [
            str(akta),
            "Akta Kelahiran",
            "5",
            "0",
            "0",
            "0",
            "5",
            "0",
            "0",
            "0",
            "5",
            "3",
            "7.6",
            "80.00",
        ],
        [
            str(ktp),
            "KTP Elektronik",
            "2",
            "0",
            "1",
            "0",
            "0",
            "1",
            "0",
            "0",
            "1",
            "2",
            "2",
            "100.00",
        ],
    ]


async def test_ikm_and_grades_per_service_agency_and_period(
    hooks_app: Callable[..., Any], make_event: Callable[..., CloudEvent]
) -> None:
    agency, paspor, sim = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    async with hooks_app() as hooks:
        answered: list[tuple[uuid.UUID, uuid.UUID, int]] = []
        for service, name, score in (
            (paspor, "Paspor", 4),
            (paspor, "Paspor", 3),
            (sim, "SIM", 2),
        ):
            owner = uuid.uuid4()
            app_id = await play(
                hooks,
                make_event,
                agency=agency,
                service=service,
                name=name,
                submitted=local(1, 5),
                due=end_of(1, 9),
                then=[
                    (A.APPLICATION_STATUS_CHANGED, "approved", local(1, 6)),
                    (A.APPLICATION_COMPLETED, "completed", local(1, 7)),
                ],
                owner=owner,
            )
            answered.append((app_id, owner, score))
        for app_id, owner, score in answered:
            response = await hooks.client.post(
                f"/api/v1/applications/{app_id}/survey",
                json={"answers": {f"u{n}": score for n in range(1, 10)}},
                headers=hooks.as_role("citizen", subject=str(owner)),
            )
            assert response.status_code == 201, response.text
        admin = hooks.as_role("platform_admin")
        today = datetime.now(ZONE).date()
        now_period = {"agency_id": str(agency), "from": str(today.replace(day=1)), "to": str(today)}
        current = await hooks.client.get(
            "/api/v1/reports/satisfaction", params=now_period, headers=admin
        )
        before = await hooks.client.get(
            "/api/v1/reports/satisfaction",
            params={"agency_id": str(agency), "from": "2020-01-01", "to": "2020-12-31"},
            headers=admin,
        )
        stranger = await hooks.client.get(
            "/api/v1/reports/satisfaction",
            params={"agency_id": str(uuid.uuid4()), **{k: now_period[k] for k in ("from", "to")}},
            headers=admin,
        )

    assert current.status_code == 200, current.text
    body = current.json()
    services = {line["service_name"]: line for line in body["services"]}
    # Paspor: every element averages (4 + 3) / 2 = 3.5: IKM 3.5 x 25 = 87.50, just under A.
    assert services["Paspor"]["responses"] == 2
    assert services["Paspor"]["elements"]["u1"] == 3.5
    assert (services["Paspor"]["ikm"], services["Paspor"]["grade"]) == (87.5, "B")
    # SIM: every element 2: IKM 50.00, D.
    assert (services["SIM"]["ikm"], services["SIM"]["grade"]) == (50.0, "D")
    # The agency: (4 + 3 + 2) / 3 = 3 per element: IKM 75.00, C (below 76.61).
    assert (body["responses"], body["ikm"], body["grade"]) == (3, 75.0, "C")
    assert before.json()["responses"] == 0
    assert (before.json()["ikm"], before.json()["grade"], before.json()["services"]) == (
        None,
        None,
        [],
    )
    assert stranger.json()["responses"] == 0
