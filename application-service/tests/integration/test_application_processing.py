"""The agency's side: the queue, the actions on the lifecycle, notes, the output document,
concurrent officers, tenants kept apart, the events and the SLA clock."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from application.db.tables import ApplicationRow
from application.sla import announce_overdue_applications
from mpp_shared.contracts.application import v1 as contract
from mpp_shared.events.tables import outbox

AGENCY_ACTIONS = [
    "start_review",
    "advance_stage",
    "request_revision",
    "approve",
    "reject",
    "complete",
]
# How to reach each status from a fresh submission, and the agency actions allowed there.
PATHS: dict[str, list[dict[str, Any]]] = {
    "submitted": [],
    "in_review": [{"action": "start_review"}],
    "revision_requested": [
        {"action": "start_review"},
        {"action": "request_revision", "note": "KK buram"},
    ],
    "approved": [{"action": "start_review"}, {"action": "approve"}],
    "rejected": [{"action": "start_review"}, {"action": "reject", "note": "Bukan warga"}],
    "completed": [{"action": "start_review"}, {"action": "approve"}, {"action": "complete"}],
    "withdrawn": [],
}
ALLOWED = {
    "submitted": {"start_review"},
    "in_review": {"advance_stage", "request_revision", "approve", "reject"},
    "approved": {"complete"},
}
ILLEGAL = [
    (status, action)
    for status in PATHS
    for action in AGENCY_ACTIONS
    if action not in ALLOWED.get(status, set())
]


class Who:
    def __init__(self, headers: dict[str, str]) -> None:
        self.headers = headers


@pytest.fixture(scope="module")
async def client(application_app_client: Callable[..., Any]) -> AsyncIterator[httpx.AsyncClient]:
    async with application_app_client() as opened:
        yield opened


@pytest.fixture(scope="module")
async def service(client: httpx.AsyncClient, new_service: Any, catalogue: Any) -> dict[str, Any]:
    payload = new_service()
    await catalogue.publish(client, payload)
    return payload


@pytest.fixture(scope="module")
def officer(
    service: dict[str, Any], application_token: Callable[..., dict[str, str]]
) -> dict[str, str]:
    return application_token(roles=["officer"], agency_id=service["agency_id"])


async def _submitted(
    client: httpx.AsyncClient, service: dict[str, Any], citizen: Any, samples: Any
) -> tuple[Any, str]:
    who = citizen()
    created = await client.post(
        "/api/v1/applications", json={"service_id": service["service_id"]}, headers=who.headers
    )
    application_id = created.json()["id"]
    await client.patch(
        f"/api/v1/applications/{application_id}",
        json={"form_data": samples.valid_form},
        headers=who.headers,
    )
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
    return who, application_id


async def _act(
    client: httpx.AsyncClient, headers: dict[str, str], application_id: str, **body: Any
) -> httpx.Response:
    return await client.post(
        f"/api/v1/agency/applications/{application_id}/actions", json=body, headers=headers
    )


async def _events(client: httpx.AsyncClient, application_id: str) -> list[dict[str, Any]]:
    sessionmaker = client.app.state.runtime.session_factory()  # type: ignore[attr-defined]
    async with sessionmaker() as session:
        rows = await session.execute(
            select(outbox.c.envelope)
            .where(outbox.c.envelope["subject"].astext == application_id)
            .order_by(outbox.c.created_at)
        )
        return [row[0] for row in rows]


@pytest.fixture(scope="module")
async def in_each_status(
    client: httpx.AsyncClient,
    service: dict[str, Any],
    citizen: Callable[..., Any],
    samples: Any,
    officer: dict[str, str],
) -> dict[str, tuple[Any, str]]:
    found: dict[str, tuple[Any, str]] = {}
    for status, steps in PATHS.items():
        who, application_id = await _submitted(client, service, citizen, samples)
        for step in steps:
            response = await _act(client, officer, application_id, **step)
            assert response.status_code == 200, response.text
        if status == "withdrawn":
            withdrawn = await client.post(
                f"/api/v1/applications/{application_id}/withdraw", headers=who.headers
            )
            assert withdrawn.status_code == 200
        found[status] = (who, application_id)
    return found


@pytest.mark.parametrize(("status", "action"), ILLEGAL)
async def test_an_action_not_allowed_from_the_status_is_409_and_changes_nothing(
    client: httpx.AsyncClient,
    in_each_status: dict[str, tuple[Any, str]],
    officer: dict[str, str],
    status: str,
    action: str,
) -> None:
    who, application_id = in_each_status[status]
    before = (
        await client.get(f"/api/v1/applications/{application_id}", headers=who.headers)
    ).json()
    events_before = await _events(client, application_id)
    response = await _act(client, officer, application_id, action=action, note="catatan")
    assert response.status_code == 409, response.text
    assert response.json()["code"] == "illegal_transition"
    after = (await client.get(f"/api/v1/applications/{application_id}", headers=who.headers)).json()
    assert after == before
    assert await _events(client, application_id) == events_before


async def test_an_unknown_action_is_422(
    client: httpx.AsyncClient, in_each_status: dict[str, tuple[Any, str]], officer: dict[str, str]
) -> None:
    _, application_id = in_each_status["submitted"]
    for body in ({"action": "submit"}, {"action": "explode"}, {}, {"action": "approve", "x": 1}):
        response = await _act(client, officer, application_id, **body)
        assert response.status_code == 422, body
    broken = await client.post(
        f"/api/v1/agency/applications/{application_id}/actions",
        content=b"{not json",
        headers={**officer, "content-type": "application/json"},
    )
    assert broken.status_code == 422


async def test_the_whole_way_with_stages_output_document_and_one_event_per_change(
    client: httpx.AsyncClient,
    service: dict[str, Any],
    citizen: Callable[..., Any],
    samples: Any,
    officer: dict[str, str],
) -> None:
    who, application_id = await _submitted(client, service, citizen, samples)
    started = await _act(client, officer, application_id, action="start_review")
    assert started.status_code == 200
    assert started.json()["status"] == "in_review"
    assert started.json()["stage"] == "verifikasi"
    skipped = await _act(client, officer, application_id, action="advance_stage", stage="selesai")
    assert skipped.status_code == 409
    advanced = await _act(client, officer, application_id, action="advance_stage", stage="cetak")
    assert advanced.status_code == 200
    assert advanced.json()["stage"] == "cetak"
    beyond = await _act(client, officer, application_id, action="advance_stage")
    assert beyond.status_code == 409
    assert beyond.json()["code"] == "illegal_transition"
    approved = await _act(
        client, officer, application_id, action="approve", internal_note="cek NIK manual ok"
    )
    assert approved.status_code == 200
    completed = await client.post(
        f"/api/v1/agency/applications/{application_id}/actions?note=Silakan%20ambil",
        data={"action": "complete"},
        files={"file": ("ktp.pdf", samples.pdf, "application/pdf")},
        headers=officer,
    )
    assert completed.status_code == 200, completed.text
    assert completed.json()["status"] == "completed"
    read = (await client.get(f"/api/v1/applications/{application_id}", headers=who.headers)).json()
    outputs = [d for d in read["documents"] if d["kind"] == "output"]
    assert len(outputs) == 1
    download = await client.get(
        f"/api/v1/applications/{application_id}/documents/{outputs[0]['id']}",
        headers=who.headers,
    )
    assert download.content == samples.pdf
    # The owner sees the public note, never the internal one; staff see both.
    assert [n["text"] for n in read["notes"]] == ["Silakan ambil"]
    staff_view = (
        await client.get(f"/api/v1/applications/{application_id}", headers=officer)
    ).json()
    assert {n["text"] for n in staff_view["notes"]} == {"Silakan ambil", "cek NIK manual ok"}
    assert staff_view["tracking_code"] is None

    events = await _events(client, application_id)
    assert [e["type"] for e in events] == [
        contract.APPLICATION_SUBMITTED,
        contract.APPLICATION_STATUS_CHANGED,
        contract.APPLICATION_STATUS_CHANGED,
        contract.APPLICATION_STATUS_CHANGED,
        contract.APPLICATION_COMPLETED,
    ]
    assert [e["data"]["sequence"] for e in events] == [1, 2, 3, 4, 5]
    payloads = [contract.ApplicationEvent.model_validate(e["data"]) for e in events]
    assert [p.status for p in payloads] == [
        "submitted", "in_review", "in_review", "approved", "completed"
    ]  # fmt: skip
    assert payloads[2].stage == "cetak"
    assert payloads[2].stage_name == "Pencetakan"
    assert events[-1]["data"]["output_document"] is True
    assert all(e["source"] == contract.SOURCE for e in events)
    assert payloads[0].tracking_code_hash == contract.tracking_code_hash(
        read["registration_number"], read["tracking_code"]
    )
    text = json.dumps(events)
    for personal in (
        samples.valid_form["nik"],
        samples.valid_form["full_name"],
        read["tracking_code"],
        "form_data",
    ):
        assert personal not in text


async def test_revision_round_trip_keeps_number_and_code_and_moves_due_at(
    client: httpx.AsyncClient,
    service: dict[str, Any],
    citizen: Callable[..., Any],
    samples: Any,
    officer: dict[str, str],
) -> None:
    who, application_id = await _submitted(client, service, citizen, samples)
    first = (await client.get(f"/api/v1/applications/{application_id}", headers=who.headers)).json()
    await _act(client, officer, application_id, action="start_review")
    no_note = await _act(client, officer, application_id, action="request_revision")
    assert no_note.status_code == 422
    asked = await _act(
        client,
        officer,
        application_id,
        action="request_revision",
        note="Unggah ulang KK yang terbaca",
        internal_note="foto KK blur",
    )
    assert asked.status_code == 200
    read = (await client.get(f"/api/v1/applications/{application_id}", headers=who.headers)).json()
    assert read["status"] == "revision_requested"
    assert [n["text"] for n in read["notes"]] == ["Unggah ulang KK yang terbaca"]
    # The pause: pretend the revision was asked for ten days ago.
    sessionmaker = client.app.state.runtime.session_factory()  # type: ignore[attr-defined]
    async with sessionmaker() as session, session.begin():
        await session.execute(
            update(ApplicationRow)
            .where(ApplicationRow.id == uuid.UUID(application_id))
            .values(revision_requested_at=datetime.now(UTC) - timedelta(days=10))
        )
    fixed = await client.patch(
        f"/api/v1/applications/{application_id}",
        json={"form_data": {**samples.valid_form, "reason": "rusak"}},
        headers=who.headers,
    )
    assert fixed.status_code == 200
    again = await client.post(f"/api/v1/applications/{application_id}/submit", headers=who.headers)
    assert again.status_code == 200, again.text
    body = again.json()
    assert body["registration_number"] == first["registration_number"]
    assert body["tracking_code"] == first["tracking_code"]
    assert datetime.fromisoformat(body["due_at"]) > datetime.fromisoformat(first["due_at"])
    events = await _events(client, application_id)
    assert [e["type"] for e in events][-2:] == [
        contract.APPLICATION_REVISION_REQUESTED,
        contract.APPLICATION_SUBMITTED,
    ]
    assert events[-1]["data"]["old_status"] == "revision_requested"
    assert [e["data"]["sequence"] for e in events] == list(range(1, len(events) + 1))


async def test_a_rejection_needs_a_reason_the_citizen_can_read(
    client: httpx.AsyncClient,
    service: dict[str, Any],
    citizen: Callable[..., Any],
    samples: Any,
    officer: dict[str, str],
) -> None:
    who, application_id = await _submitted(client, service, citizen, samples)
    await _act(client, officer, application_id, action="start_review")
    assert (
        await _act(client, officer, application_id, action="reject", note=" ")
    ).status_code == 422
    rejected = await _act(
        client, officer, application_id, action="reject", note="Data tidak sesuai"
    )
    assert rejected.status_code == 200
    read = (await client.get(f"/api/v1/applications/{application_id}", headers=who.headers)).json()
    assert read["status"] == "rejected"
    assert read["notes"][0]["text"] == "Data tidak sesuai"
    withdraw = await client.post(
        f"/api/v1/applications/{application_id}/withdraw", headers=who.headers
    )
    assert withdraw.status_code == 409


async def test_two_officers_acting_at_once_cannot_both_win(
    client: httpx.AsyncClient,
    service: dict[str, Any],
    citizen: Callable[..., Any],
    samples: Any,
    officer: dict[str, str],
    application_token: Callable[..., dict[str, str]],
) -> None:
    other_officer = application_token(roles=["officer"], agency_id=service["agency_id"])
    for _ in range(5):
        _, application_id = await _submitted(client, service, citizen, samples)
        read = (await client.get(f"/api/v1/applications/{application_id}", headers=officer)).json()
        await _act(client, officer, application_id, action="start_review")
        version = read["version"] + 1
        first, second = await asyncio.gather(
            _act(client, officer, application_id, action="approve", version=version),
            _act(client, other_officer, application_id, action="reject", note="x", version=version),
        )
        statuses = sorted([first.status_code, second.status_code])
        assert statuses == [200, 409], (first.text, second.text)
        loser = first if first.status_code == 409 else second
        assert loser.json()["code"] == "conflict"
        events = await _events(client, application_id)
        assert len(events) == 3  # submitted, in_review, and one decision


async def test_concurrent_actions_without_a_version_still_have_one_winner(
    client: httpx.AsyncClient,
    service: dict[str, Any],
    citizen: Callable[..., Any],
    samples: Any,
    officer: dict[str, str],
) -> None:
    _, application_id = await _submitted(client, service, citizen, samples)
    responses = await asyncio.gather(
        *(_act(client, officer, application_id, action="start_review") for _ in range(4))
    )
    codes = sorted(r.status_code for r in responses)
    assert codes == [200, 409, 409, 409]
    assert {r.json()["code"] for r in responses if r.status_code == 409} <= {
        "conflict",
        "illegal_transition",
    }
    assert len(await _events(client, application_id)) == 2


async def test_other_agencies_and_roles_are_kept_out(
    client: httpx.AsyncClient,
    service: dict[str, Any],
    citizen: Callable[..., Any],
    samples: Any,
    application_token: Callable[..., dict[str, str]],
) -> None:
    who, application_id = await _submitted(client, service, citizen, samples)
    stranger_officer = application_token(roles=["officer"], agency_id=str(uuid.uuid4()))
    queue = (await client.get("/api/v1/agency/applications", headers=stranger_officer)).json()
    assert application_id not in [item["id"] for item in queue["items"]]
    assert (
        await _act(client, stranger_officer, application_id, action="start_review")
    ).status_code == 404
    path = f"/api/v1/applications/{application_id}"
    assert (await client.get(path, headers=stranger_officer)).status_code == 404
    admin = application_token(roles=["agency_admin"], agency_id=service["agency_id"])
    assert (await client.get(path, headers=admin)).status_code == 200
    assert (await _act(client, admin, application_id, action="start_review")).status_code == 403
    reader = application_token(
        roles=[], agency_id=service["agency_id"], scope="applications:read", client_id="sys"
    )
    assert (await client.get("/api/v1/agency/applications", headers=reader)).status_code == 200
    assert (await _act(client, reader, application_id, action="start_review")).status_code == 403
    no_scope = application_token(roles=[], agency_id=service["agency_id"], client_id="sys")
    assert (await client.get("/api/v1/agency/applications", headers=no_scope)).status_code == 403
    assert (await client.get(path, headers=no_scope)).status_code == 404
    processor = application_token(
        roles=[], agency_id=service["agency_id"], scope="applications:process", client_id="sys"
    )
    started = await _act(client, processor, application_id, action="start_review")
    assert started.status_code == 200
    events = await _events(client, application_id)
    assert events[-1]["data"]["actor_kind"] == "client"
    assert events[-1]["data"]["actor_id"] == "sys"
    assert (await client.get("/api/v1/agency/applications", headers=who.headers)).status_code == 403
    # Staff may not use the citizen's endpoints to edit.
    officer = Who(application_token(roles=["officer"], agency_id=service["agency_id"]))
    assert (
        await client.patch(path, json={"form_data": {}}, headers=officer.headers)
    ).status_code == 403
    assert (await client.post(f"{path}/withdraw", headers=officer.headers)).status_code == 403


async def test_queue_filters_and_oldest_due_first(
    client: httpx.AsyncClient,
    new_service: Any,
    catalogue: Any,
    citizen: Callable[..., Any],
    samples: Any,
    application_token: Callable[..., dict[str, str]],
) -> None:
    own = new_service()
    await catalogue.publish(client, own)
    staff = application_token(roles=["officer"], agency_id=own["agency_id"])
    ids = [(await _submitted(client, own, citizen, samples))[1] for _ in range(3)]
    sessionmaker = client.app.state.runtime.session_factory()  # type: ignore[attr-defined]
    now = datetime.now(UTC)
    async with sessionmaker() as session, session.begin():
        for days, application_id in zip((3, 1, 2), ids, strict=True):
            await session.execute(
                update(ApplicationRow)
                .where(ApplicationRow.id == uuid.UUID(application_id))
                .values(due_at=now + timedelta(days=days))
            )
    await _act(client, staff, ids[0], action="start_review")
    listed = (await client.get("/api/v1/agency/applications", headers=staff)).json()
    assert [item["id"] for item in listed["items"]] == [ids[1], ids[2], ids[0]]
    page = (await client.get("/api/v1/agency/applications?limit=2", headers=staff)).json()
    rest = (
        await client.get(
            f"/api/v1/agency/applications?limit=2&cursor={page['next_cursor']}", headers=staff
        )
    ).json()
    assert [i["id"] for i in page["items"] + rest["items"]] == [ids[1], ids[2], ids[0]]
    in_review = (
        await client.get("/api/v1/agency/applications?status=in_review", headers=staff)
    ).json()
    assert [i["id"] for i in in_review["items"]] == [ids[0]]
    staged = (
        await client.get("/api/v1/agency/applications?stage=verifikasi", headers=staff)
    ).json()
    assert [i["id"] for i in staged["items"]] == [ids[0]]
    by_service = (
        await client.get(f"/api/v1/agency/applications?service_id={uuid.uuid4()}", headers=staff)
    ).json()
    assert by_service["items"] == []
    since = (now - timedelta(minutes=5)).isoformat().replace("+00:00", "Z")
    window = await client.get(
        "/api/v1/agency/applications", params={"submitted_from": since}, headers=staff
    )
    assert len(window.json()["items"]) == 3
    future = (now + timedelta(days=1)).isoformat()
    none = await client.get(
        "/api/v1/agency/applications", params={"submitted_from": future}, headers=staff
    )
    assert none.json()["items"] == []
    naive = await client.get(
        "/api/v1/agency/applications",
        params={"submitted_from": "2026-01-01T00:00:00"},
        headers=staff,
    )
    assert naive.status_code == 422
    bad_status = await client.get("/api/v1/agency/applications?status=lost", headers=staff)
    assert bad_status.status_code == 422


async def test_overdue_is_announced_once_and_queryable(
    client: httpx.AsyncClient,
    new_service: Any,
    catalogue: Any,
    citizen: Callable[..., Any],
    samples: Any,
    application_token: Callable[..., dict[str, str]],
) -> None:
    own = new_service()
    await catalogue.publish(client, own)
    staff = application_token(roles=["officer"], agency_id=own["agency_id"])
    who, late = await _submitted(client, own, citizen, samples)
    _, on_time = await _submitted(client, own, citizen, samples)
    _, decided = await _submitted(client, own, citizen, samples)
    await _act(client, staff, decided, action="start_review")
    await _act(client, staff, decided, action="approve")
    sessionmaker = client.app.state.runtime.session_factory()  # type: ignore[attr-defined]
    past = datetime.now(UTC) - timedelta(hours=1)
    async with sessionmaker() as session, session.begin():
        await session.execute(
            update(ApplicationRow)
            .where(ApplicationRow.id.in_([uuid.UUID(late), uuid.UUID(decided)]))
            .values(due_at=past)
        )

    # Two passes at once (two replicas) and one more later: one event in all.
    async def one_pass() -> int:
        async with sessionmaker() as session, session.begin():
            return await announce_overdue_applications(session)

    await asyncio.gather(one_pass(), one_pass())
    await one_pass()
    events = await _events(client, late)
    overdue = [e for e in events if e["type"] == contract.APPLICATION_OVERDUE]
    assert len(overdue) == 1
    assert overdue[0]["data"]["actor_kind"] == "system"
    assert overdue[0]["data"]["status"] == overdue[0]["data"]["old_status"] == "submitted"
    assert overdue[0]["data"]["sequence"] == len(events)
    assert not [
        e for e in await _events(client, decided) if e["type"] == contract.APPLICATION_OVERDUE
    ]
    assert not [
        e for e in await _events(client, on_time) if e["type"] == contract.APPLICATION_OVERDUE
    ]
    listed = (await client.get("/api/v1/agency/applications?overdue=true", headers=staff)).json()
    assert [i["id"] for i in listed["items"]] == [late]
    assert all(i["overdue"] for i in listed["items"])
    not_overdue = (
        await client.get("/api/v1/agency/applications?overdue=false", headers=staff)
    ).json()
    assert late not in [i["id"] for i in not_overdue["items"]]
    read = (await client.get(f"/api/v1/applications/{late}", headers=who.headers)).json()
    assert read["overdue"] is True
