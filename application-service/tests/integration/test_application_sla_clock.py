"""The SLA clock through the service on a fixed calendar: due dates across a weekend, national
holidays and cuti bersama, the revision pause (no overdue while it lasts, the due time moved on
resubmission), and the overdue event fired once by two replicas sweeping one database."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import func, select, update

from application import sla
from application.api.routes import agency as agency_routes
from application.api.routes import applications as application_routes
from application.db.tables import ApplicationRow
from application.sla import announce_overdue_applications
from mpp_shared.contracts.application import v1 as contract
from mpp_shared.events.tables import outbox
from mpp_shared.scheduler import PeriodicSweep

WITA = ZoneInfo("Asia/Makassar")  # Samarinda, the agency of the sample service


def wita(day: int, hour: int, minute: int = 0) -> datetime:
    """A moment of May 2026 in the agency's local time."""
    return datetime(2026, 5, day, hour, minute, tzinfo=WITA)


def end_of_day(day: int) -> datetime:
    return datetime(2026, 5, day, 23, 59, 59, tzinfo=WITA).astimezone(UTC)


class Clock:
    """The routes' "now", moved by the test."""

    def __init__(self) -> None:
        self.at = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture(scope="module")
async def client(application_app_client: Callable[..., Any]) -> AsyncIterator[httpx.AsyncClient]:
    async with application_app_client() as opened:
        yield opened


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fixed = Clock()
    monkeypatch.setattr(application_routes, "_now", fixed)
    monkeypatch.setattr(agency_routes, "_now", fixed)
    return fixed


@pytest.fixture(scope="module")
async def service(client: httpx.AsyncClient, new_service: Any, catalogue: Any) -> dict[str, Any]:
    payload = new_service(sla_working_days=3)  # agency in Samarinda: WITA
    await catalogue.publish(client, payload)
    return payload


@pytest.fixture(scope="module")
def officer(
    service: dict[str, Any], application_token: Callable[..., dict[str, str]]
) -> dict[str, str]:
    return application_token(roles=["officer"], agency_id=service["agency_id"])


async def _submit(
    client: httpx.AsyncClient, service: dict[str, Any], who: Any, samples: Any
) -> dict[str, Any]:
    created = await client.post(
        "/api/v1/applications", json={"service_id": service["service_id"]}, headers=who.headers
    )
    assert created.status_code == 201, created.text
    application_id = created.json()["id"]
    patched = await client.patch(
        f"/api/v1/applications/{application_id}",
        json={"form_data": samples.valid_form},
        headers=who.headers,
    )
    assert patched.status_code == 200, patched.text
    upload = await client.post(
        f"/api/v1/applications/{application_id}/documents",
        data={"requirement_code": "kk"},
        files={"file": ("kk.pdf", samples.pdf, "application/pdf")},
        headers=who.headers,
    )
    assert upload.status_code == 201, upload.text
    submitted = await client.post(
        f"/api/v1/applications/{application_id}/submit", headers=who.headers
    )
    assert submitted.status_code == 200, submitted.text
    body: dict[str, Any] = submitted.json()
    return body


async def _act(
    client: httpx.AsyncClient, headers: dict[str, str], application_id: str, **body: Any
) -> None:
    response = await client.post(
        f"/api/v1/agency/applications/{application_id}/actions", json=body, headers=headers
    )
    assert response.status_code == 200, response.text


async def _overdue_events(client: httpx.AsyncClient, application_id: str) -> list[dict[str, Any]]:
    sessionmaker = client.app.state.runtime.session_factory()  # type: ignore[attr-defined]
    async with sessionmaker() as session:
        rows = await session.execute(
            select(outbox.c.envelope).where(
                outbox.c.envelope["subject"].astext == application_id,
                outbox.c.envelope["type"].astext == contract.APPLICATION_OVERDUE,
            )
        )
        return [row[0] for row in rows]


async def _sweep(client: httpx.AsyncClient, now: datetime) -> int:
    sessionmaker = client.app.state.runtime.session_factory()  # type: ignore[attr-defined]
    async with sessionmaker() as session, session.begin():
        return await announce_overdue_applications(session, now=now)


async def _overdue_in_queue(client: httpx.AsyncClient, headers: dict[str, str]) -> list[str]:
    response = await client.get("/api/v1/agency/applications?overdue=true", headers=headers)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


async def test_due_dates_skip_weekend_holidays_and_cuti_bersama_and_the_revision_pause(
    client: httpx.AsyncClient,
    service: dict[str, Any],
    officer: dict[str, str],
    citizen: Callable[..., Any],
    samples: Any,
    clock: Clock,
) -> None:
    who = citizen()
    # Wednesday 13 May 2026: Thu 14 is Ascension Day, Fri 15 its cuti bersama, then the
    # weekend. Three working days are Mon 18, Tue 19 and Wed 20.
    clock.at = wita(13, 10)
    submitted = await _submit(client, service, who, samples)
    application_id = submitted["id"]
    assert datetime.fromisoformat(submitted["due_at"]) == end_of_day(20)

    clock.at = wita(18, 9)
    await _act(client, officer, application_id, action="start_review")
    # Asked to revise on Tuesday 19: Wed 20 is the one working day left.
    clock.at = wita(19, 10)
    await _act(client, officer, application_id, action="request_revision", note="KK buram")

    # Friday 22: the old due time has passed, but the clock is paused, so nothing is late.
    clock.at = wita(22, 12)
    read = (await client.get(f"/api/v1/applications/{application_id}", headers=who.headers)).json()
    assert read["status"] == "revision_requested"
    assert read["overdue"] is False
    assert application_id not in await _overdue_in_queue(client, officer)
    assert await _sweep(client, clock.at) == 0
    await _sweep(client, datetime.now(UTC))  # nor with the real clock, months later
    assert await _overdue_events(client, application_id) == []

    # Resubmitted Tuesday 26: the day left counts from there. Wed 27 is Idul Adha and Thu 28
    # its cuti bersama, so the application is due at the end of Friday 29.
    clock.at = wita(26, 9)
    again = await client.post(f"/api/v1/applications/{application_id}/submit", headers=who.headers)
    assert again.status_code == 200, again.text
    assert datetime.fromisoformat(again.json()["due_at"]) == end_of_day(29)

    clock.at = wita(29, 20)
    assert await _sweep(client, clock.at) == 0
    assert application_id not in await _overdue_in_queue(client, officer)
    clock.at = wita(30, 1)
    assert application_id in await _overdue_in_queue(client, officer)
    assert await _sweep(client, clock.at) == 1
    assert await _sweep(client, clock.at) == 0
    [event] = await _overdue_events(client, application_id)
    assert datetime.fromisoformat(event["data"]["due_at"]) == end_of_day(29)
    assert event["data"]["status"] == "submitted"


async def test_an_application_announced_late_before_a_revision_is_not_announced_twice(
    client: httpx.AsyncClient,
    service: dict[str, Any],
    officer: dict[str, str],
    citizen: Callable[..., Any],
    samples: Any,
    clock: Clock,
) -> None:
    who = citizen()
    clock.at = wita(13, 11)
    application_id = (await _submit(client, service, who, samples))["id"]  # due end of Wed 20
    clock.at = wita(21, 10)
    assert application_id in await _overdue_in_queue(client, officer)
    await _sweep(client, clock.at)
    assert len(await _overdue_events(client, application_id)) == 1

    await _act(client, officer, application_id, action="start_review")
    clock.at = wita(21, 10, 30)
    await _act(client, officer, application_id, action="request_revision", note="KK buram")
    # Resubmitted the next day: the pause took Friday 22, so the due time moves one working
    # day, to the end of Thursday 21, still in the past. Late still, and announced already.
    clock.at = wita(22, 9)
    again = await client.post(f"/api/v1/applications/{application_id}/submit", headers=who.headers)
    assert again.status_code == 200, again.text
    assert datetime.fromisoformat(again.json()["due_at"]) == end_of_day(21)
    assert application_id in await _overdue_in_queue(client, officer)
    await _sweep(client, clock.at)
    await _sweep(client, datetime.now(UTC))
    assert len(await _overdue_events(client, application_id)) == 1


async def test_two_replicas_sweeping_one_database_announce_each_application_once(
    client: httpx.AsyncClient,
    application_app_client: Callable[..., Any],
    service: dict[str, Any],
    citizen: Callable[..., Any],
    samples: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    late = [(await _submit(client, service, citizen(), samples))["id"] for _ in range(12)]
    sessionmaker = client.app.state.runtime.session_factory()  # type: ignore[attr-defined]
    async with sessionmaker() as session, session.begin():
        await session.execute(
            update(ApplicationRow)
            .where(ApplicationRow.id.in_([uuid.UUID(i) for i in late]))
            .values(due_at=datetime.now(UTC) - timedelta(hours=1))
        )
    # Small batches, so the two replicas' passes interleave over the rows.
    monkeypatch.setattr(sla, "BATCH", 2)
    database_url = client.app.state.settings.database_url  # type: ignore[attr-defined]
    async with application_app_client(database_url=database_url) as second:
        sweeps = [
            worker
            for app_client in (client, second)
            for worker in app_client.app.state.runtime.workers  # type: ignore[attr-defined]
            if isinstance(worker, PeriodicSweep) and worker.name == sla.SWEEP_NAME
        ]
        assert len(sweeps) == 2
        for sweep in sweeps:
            sweep.wake()
        deadline = time.monotonic() + 15
        while True:
            async with sessionmaker() as session:
                left = await session.scalar(
                    select(func.count())
                    .select_from(ApplicationRow)
                    .where(
                        ApplicationRow.id.in_([uuid.UUID(i) for i in late]),
                        ApplicationRow.overdue_notified_at.is_(None),
                    )
                )
            if left == 0:
                break
            assert time.monotonic() < deadline, f"{left} applications not announced"
            await asyncio.sleep(0.1)
        # Both keep sweeping a little longer: nothing is announced again.
        for sweep in sweeps:
            sweep.wake()
        await asyncio.sleep(0.5)
    for application_id in late:
        assert len(await _overdue_events(client, application_id)) == 1, application_id
