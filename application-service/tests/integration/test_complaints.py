"""Complaints and consultations: anonymous cases with a contact and a public view without
personal data, the agency's thread within its response time, a late answer that stays
overdue, escalation, SP4N-LAPOR! forwarding, closing, reports and the events."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from application.complaints_clock import announce_overdue_complaints
from application.db.tables import ComplaintRow
from mpp_shared.calendar import default_calendar
from mpp_shared.contracts.application import v1 as contract
from mpp_shared.events.tables import outbox

CONTACT = {"name": "Siti Aminah", "email": "siti.aminah@example.id", "phone": "+6281234567890"}


class World:
    def __init__(self, client: httpx.AsyncClient, token: Callable[..., dict[str, str]]) -> None:
        self.client = client
        self.agency_id = uuid.uuid4()
        self.service_id = ""
        self.officer = token(roles=["officer"], agency_id=self.agency_id)
        self.admin = token(roles=["agency_admin"], agency_id=self.agency_id)
        self.stranger = token(roles=["officer"], agency_id=uuid.uuid4())

    def sessionmaker(self) -> Any:
        return self.client.app.state.runtime.session_factory()  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
async def world(
    application_app_client: Callable[..., Any],
    application_token: Callable[..., dict[str, str]],
    new_service: Callable[..., dict[str, Any]],
    catalogue: Any,
) -> AsyncIterator[World]:
    async with application_app_client() as client:
        found = World(client, application_token)
        payload = new_service(agency_id=str(found.agency_id), name="Penerbitan KTP-el")
        found.service_id = payload["service_id"]
        await catalogue.publish(client, payload)
        yield found


async def _open(world: World, headers: dict[str, str] | None = None, **body: Any) -> httpx.Response:
    values = {"service_id": world.service_id, "subject": "Antrean lama", "message": "Tiga jam."}
    return await world.client.post(
        "/api/v1/complaints", json={**values, **body}, headers=headers or {}
    )


async def _act(world: World, complaint_id: str, **body: Any) -> httpx.Response:
    return await world.client.post(
        f"/api/v1/agency/complaints/{complaint_id}/actions", json=body, headers=world.officer
    )


async def _events(world: World, complaint_id: str) -> list[dict[str, Any]]:
    async with world.sessionmaker()() as session:
        rows = await session.execute(
            select(outbox.c.envelope)
            .where(outbox.c.envelope["subject"].astext == complaint_id)
            .order_by(outbox.c.created_at, outbox.c.id)
        )
        return [row.envelope for row in rows]


async def test_anonymous_case_needs_a_contact_and_its_public_view_has_no_personal_data(
    world: World,
) -> None:
    refused = await _open(world)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["loc"] == ["body", "contact"]
    opened = await _open(world, contact=CONTACT, message="Petugas meminta biaya tambahan.")
    assert opened.status_code == 201, opened.text
    case = opened.json()
    number, code = case["tracking_number"], case["tracking_code"]
    assert number.startswith("ADU-64.72-")
    assert case["contact"] is None  # not even echoed to the complainant

    public = await world.client.get(f"/api/v1/complaints/track/{number}", params={"code": code})
    assert public.status_code == 200, public.text
    body = public.json()
    assert body["status"] == "open"
    assert body["messages"] == []  # the complainant's own text is not shown
    assert body["service_name"] == "Penerbitan KTP-el"
    assert body["agency_id"] == str(world.agency_id)
    text = public.text
    for value in CONTACT.values():
        assert value not in text
    assert "contact" not in body
    assert "account_id" not in body
    assert public.headers["cache-control"] == "no-store"
    # A wrong code, a missing code and an unknown number are the same 404.
    wrong = await world.client.get(f"/api/v1/complaints/track/{number}", params={"code": "X" * 10})
    missing = await world.client.get(f"/api/v1/complaints/track/{number}")
    unknown = await world.client.get(
        "/api/v1/complaints/track/ADU-00-0000-000000", params={"code": code}
    )
    assert wrong.status_code == missing.status_code == unknown.status_code == 404
    assert wrong.json()["detail"] == unknown.json()["detail"]

    # The agency's staff see the contact to answer; another agency does not see the case.
    staff = await world.client.get(f"/api/v1/complaints/{case['id']}", headers=world.officer)
    assert staff.json()["contact"]["email"] == CONTACT["email"]
    other = await world.client.get(f"/api/v1/complaints/{case['id']}", headers=world.stranger)
    assert other.status_code == 404
    assert (await _act(world, case["id"], action="close")).status_code == 200
    # The event names no person.
    [event, _closed] = await _events(world, case["id"])
    assert event["type"] == contract.COMPLAINT_OPENED
    assert event["data"]["account_id"] is None
    assert event["data"]["actor_kind"] == "anonymous"
    for value in CONTACT.values():
        assert value not in str(event)
    assert "Petugas meminta" not in str(event)


async def test_the_anonymous_complainant_replies_and_reads_the_answer_by_code(world: World) -> None:
    case = (await _open(world, contact={"phone": "+6281200000001"})).json()
    number, code = case["tracking_number"], case["tracking_code"]
    answered = await _act(world, case["id"], action="answer", text="Mohon maaf, kami perbaiki.")
    assert answered.status_code == 200
    assert answered.json()["status"] == "answered"
    public = await _answer_marked_public(world, case["id"])
    reply = await world.client.post(
        f"/api/v1/complaints/track/{number}/messages",
        params={"code": code.lower()},  # codes are read out: case does not matter
        json={"text": "Belum ada perubahan.", "escalate": True},
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["status"] == "escalated"
    # The public view: the answer marked public only; not the first answer, not the replies.
    assert [(m["author_kind"], m["text"]) for m in reply.json()["messages"]] == [("staff", public)]
    # The agency sees the whole thread, with what is public marked.
    staff = await world.client.get(f"/api/v1/complaints/{case['id']}", headers=world.officer)
    assert [(m["author_kind"], m["public"]) for m in staff.json()["messages"]] == [
        ("anonymous", False),
        ("staff", False),
        ("staff", True),
        ("anonymous", False),
    ]
    types = [e["type"] for e in await _events(world, case["id"])]
    assert types == [
        contract.COMPLAINT_OPENED,
        contract.COMPLAINT_ANSWERED,
        contract.COMPLAINT_ANSWERED,
        contract.COMPLAINT_ESCALATED,
    ]


async def _answer_marked_public(world: World, complaint_id: str) -> str:
    text = "Loket tambahan dibuka mulai Senin."
    answered = await _act(world, complaint_id, action="answer", text=text, public=True)
    assert answered.status_code == 200, answered.text
    return text


async def test_the_public_view_shows_nothing_the_complainant_wrote_about_themselves(
    world: World,
) -> None:
    """An anonymous case whose subject and text name the person and give a phone: the public
    view by number and code shows the state of the case and none of it."""
    name, phone, nik = "Rahmat Hidayat", "081355512345", "6472011203850007"
    opened = await _open(
        world,
        contact={"phone": "+6281355512345"},
        subject=f"Keluhan {name}",
        message=f"Saya {name}, NIK {nik}, hubungi {phone}. Berkas saya hilang di loket.",
    )
    assert opened.status_code == 201, opened.text
    case = opened.json()
    number, code = case["tracking_number"], case["tracking_code"]
    # The agency answers privately (it may address the person), then once for the public.
    private = f"Bapak {name}, berkas Anda ditemukan."
    assert (await _act(world, case["id"], action="answer", text=private)).status_code == 200
    public_text = await _answer_marked_public(world, case["id"])
    replied = await world.client.post(
        f"/api/v1/complaints/track/{number}/messages",
        params={"code": code},
        json={"text": f"Terima kasih, {name} ({phone})."},
    )
    assert replied.status_code == 200, replied.text
    for shown in (
        replied,
        await world.client.get(f"/api/v1/complaints/track/{number}", params={"code": code}),
    ):
        body = shown.json()
        for personal in (name, phone, nik, "6281355512345", "Berkas saya", "Bapak"):
            assert personal not in shown.text
        assert "subject" not in body
        assert "contact" not in body
        assert body["status"] == "answered"
        assert body["agency_id"] == str(world.agency_id)
        assert body["service_name"] == "Penerbitan KTP-el"
        assert all(body[key] for key in ("response_due_at", "created_at", "updated_at"))
        assert [m["text"] for m in body["messages"]] == [public_text]
    # The owner's and the staff's views keep the whole thread.
    staff = await world.client.get(f"/api/v1/complaints/{case['id']}", headers=world.officer)
    assert staff.json()["subject"] == f"Keluhan {name}"
    assert len(staff.json()["messages"]) == 4


async def test_a_public_answer_repeating_a_nik_phone_or_email_shows_them_masked(
    world: World, citizen: Callable[..., Any]
) -> None:
    """An anonymous case whose message gives a NIK, a phone and an e-mail address, and an
    agency answer marked public that repeats them: the public view masks them; the staff's
    view (and a signed-in complainant's, for a case of theirs) keeps the texts whole."""
    nik, phone, email = "6472011203850007", "0813-5551-2345", "rahmat.h@example.id"
    message = f"NIK saya {nik}, telepon {phone}, surel {email}. Berkas hilang."
    answer = f"Kami sudah menghubungi {phone} dan {email}; berkas atas NIK {nik} ditemukan."
    masked = (
        "Kami sudah menghubungi 0813******45 dan r***@e***.id; "
        "berkas atas NIK 6472**********07 ditemukan."
    )
    anonymous = (await _open(world, contact={"email": email}, message=message)).json()
    who = citizen()
    signed_in = (await _open(world, who.headers, message=message)).json()
    for case in (anonymous, signed_in):
        answered = await _act(world, case["id"], action="answer", text=answer, public=True)
        assert answered.status_code == 200, answered.text
        public = await world.client.get(
            f"/api/v1/complaints/track/{case['tracking_number']}",
            params={"code": case["tracking_code"]},
        )
        assert public.status_code == 200, public.text
        assert [m["text"] for m in public.json()["messages"]] == [masked]
        for personal in (nik, phone, email, "08135551", "rahmat.h", "Berkas hilang"):
            assert personal not in public.text
        assert "contact" not in public.json()
        staff = await world.client.get(f"/api/v1/complaints/{case['id']}", headers=world.officer)
        assert [m["text"] for m in staff.json()["messages"]] == [message, answer]
    staff_view = await world.client.get(
        f"/api/v1/complaints/{anonymous['id']}", headers=world.officer
    )
    assert staff_view.json()["contact"]["email"] == email
    mine = await world.client.get(f"/api/v1/complaints/{signed_in['id']}", headers=who.headers)
    assert [m["text"] for m in mine.json()["messages"]] == [message, answer]


async def test_a_public_mark_on_a_complainant_text_or_without_text_shows_nothing(
    world: World,
) -> None:
    case = (await _open(world, contact={"email": "a@example.id"})).json()
    escalated = await _act(world, case["id"], action="escalate", public=True)
    assert escalated.status_code == 200, escalated.text
    refused = await _act(world, case["id"], action="answer", public=True)
    assert refused.status_code == 422
    public = await world.client.get(
        f"/api/v1/complaints/track/{case['tracking_number']}",
        params={"code": case["tracking_code"]},
    )
    assert public.json()["messages"] == []


async def test_default_response_time_is_five_working_days_and_the_agency_sets_its_own(
    world: World, citizen: Callable[..., Any]
) -> None:
    before = await world.client.get("/api/v1/agency/complaint-settings", headers=world.officer)
    assert before.json() == {"response_working_days": 5}
    case = (await _open(world, citizen().headers)).json()
    created = datetime.fromisoformat(case["created_at"])
    expected = default_calendar().due_at(created, 5, "Asia/Makassar")
    assert datetime.fromisoformat(case["response_due_at"]) == expected
    not_admin = await world.client.put(
        "/api/v1/agency/complaint-settings",
        json={"response_working_days": 2},
        headers=world.officer,
    )
    assert not_admin.status_code == 403
    changed = await world.client.put(
        "/api/v1/agency/complaint-settings", json={"response_working_days": 2}, headers=world.admin
    )
    assert changed.status_code == 200
    later = (await _open(world, citizen().headers)).json()
    created = datetime.fromisoformat(later["created_at"])
    assert datetime.fromisoformat(later["response_due_at"]) == default_calendar().due_at(
        created, 2, "Asia/Makassar"
    )
    await world.client.put(
        "/api/v1/agency/complaint-settings", json={"response_working_days": 5}, headers=world.admin
    )


async def test_a_late_answer_shows_overdue_and_is_announced_once(
    world: World, citizen: Callable[..., Any]
) -> None:
    who = citizen()
    case = (await _open(world, who.headers, kind="consultation")).json()
    # The response time ran out (the clock moved on): due an hour ago.
    async with world.sessionmaker()() as session, session.begin():
        await session.execute(
            update(ComplaintRow)
            .where(ComplaintRow.id == uuid.UUID(case["id"]))
            .values(response_due_at=datetime.now(UTC) - timedelta(hours=1))
        )
    mine = await world.client.get(f"/api/v1/complaints/{case['id']}", headers=who.headers)
    assert mine.json()["overdue"] is True
    for _ in range(2):
        async with world.sessionmaker()() as session, session.begin():
            await announce_overdue_complaints(session)
    answered = await _act(world, case["id"], action="answer", text="Jawaban terlambat.")
    assert answered.json()["overdue"] is True  # answered, and late all the same
    types = [e["type"] for e in await _events(world, case["id"])]
    assert types == [
        contract.COMPLAINT_OPENED,
        contract.COMPLAINT_OVERDUE,
        contract.COMPLAINT_ANSWERED,
    ]
    answered_event = contract.ComplaintEvent.model_validate(
        (await _events(world, case["id"]))[-1]["data"]
    )
    assert answered_event.overdue is True
    assert answered_event.account_id == who.id
    # An answer in time is not overdue.
    timely = (await _open(world, citizen().headers)).json()
    assert (await _act(world, timely["id"], action="answer", text="Segera.")).json()[
        "overdue"
    ] is False


async def test_case_about_an_own_application_lapor_forwarding_closing_and_the_report(
    world: World, citizen: Callable[..., Any]
) -> None:
    who = citizen()
    draft = await world.client.post(
        "/api/v1/applications", json={"service_id": world.service_id}, headers=who.headers
    )
    application_id = draft.json()["id"]
    other = await _open(world, citizen().headers, application_id=application_id)
    assert other.status_code == 404  # somebody else's application
    anonymous = await _open(world, contact=CONTACT, application_id=application_id)
    assert anonymous.status_code == 404
    case = (await _open(world, who.headers, application_id=application_id)).json()
    assert case["application_id"] == application_id
    no_reference = await _act(world, case["id"], action="forward_to_lapor")
    assert no_reference.status_code == 422
    forwarded = await _act(
        world, case["id"], action="forward_to_lapor", lapor_reference="LAPOR-8812"
    )
    assert forwarded.json()["status"] == "forwarded_to_lapor"
    assert forwarded.json()["lapor_reference"] == "LAPOR-8812"
    assert (await _act(world, case["id"], action="answer", text="x")).status_code == 409
    assert (await _act(world, case["id"], action="close")).json()["status"] == "closed"
    closed_again = await _act(world, case["id"], action="escalate")
    assert closed_again.status_code == 409
    assert closed_again.json()["code"] == "illegal_transition"
    foreign = await world.client.post(
        f"/api/v1/agency/complaints/{case['id']}/actions",
        json={"action": "close"},
        headers=world.stranger,
    )
    assert foreign.status_code == 404
    listed = await world.client.get("/api/v1/complaints", headers=who.headers)
    assert [c["id"] for c in listed.json()["items"]] == [case["id"]]

    today = datetime.now(UTC).date()
    report = await world.client.get(
        "/api/v1/agency/complaints/report",
        params={"from": (today - timedelta(days=1)).isoformat(), "to": today.isoformat()},
        headers=world.admin,
    )
    assert report.status_code == 200, report.text
    body = report.json()
    assert body["total"] == sum(body["by_status"].values())
    assert body["by_status"].get("forwarded_to_lapor", 0) == 0
    assert body["by_status"]["closed"] >= 2
    assert body["by_service"] == [
        {
            "service_id": world.service_id,
            "service_name": "Penerbitan KTP-el",
            "count": body["total"],
        }
    ]
    assert body["overdue"] >= 1  # the late answer of the test before
    assert body["answered"] >= 3
    assert body["average_response_working_days"] is not None
    assert body["average_response_working_days"] >= 0
    stranger = await world.client.get(
        "/api/v1/agency/complaints/report",
        params={"from": today.isoformat(), "to": today.isoformat()},
        headers=world.stranger,
    )
    assert stranger.json()["total"] == 0  # another agency counts only its own
