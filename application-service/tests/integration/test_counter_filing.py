"""Assisted filing at a counter: an officer files for a resident looked up in the registry,
completes and submits the application, prints the receipt; the application waits for a
resident without an account and becomes theirs when they register."""

from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import nats
import pytest
from nats.aio.msg import Msg
from pypdf import PdfReader
from sqlalchemy import select, text

from application.messaging.consumers.identity import link_handler
from mpp_shared.contracts.identity import v1 as identity
from mpp_shared.events import new_event
from mpp_shared.events.tables import outbox
from mpp_shared.testing.infrastructure import TestInfrastructure as Infrastructure

NIK_WITH_ACCOUNT = "6472011505900001"
NIK_WITHOUT_ACCOUNT = "6472014401020003"
UNKNOWN_NIK = "6472019999990009"
OFFICER_NAME = "Rina Wulandari"
# The form of this service does not ask for the NIK, so it must appear nowhere in the database.
FORM = {
    "type": "object",
    "required": ["full_name", "reason"],
    "properties": {
        "full_name": {"type": "string", "minLength": 1},
        "reason": {"type": "string", "enum": ["baru", "rusak", "hilang"]},
        "address": {"type": "object", "properties": {"village": {"type": "string"}}},
    },
}


@dataclass
class FakeResidents:
    """identity-service's ``rpc.identity.resident.lookup`` over a small registry."""

    accounts: dict[str, uuid.UUID] = field(default_factory=dict)
    staff: dict[str, str] = field(default_factory=dict)  # officer id -> agency id
    asked: list[dict[str, Any]] = field(default_factory=list)

    async def on_lookup(self, msg: Msg) -> None:
        request = json.loads(msg.data)
        self.asked.append(request)
        if self.staff.get(request["officer_account_id"]) != request["agency_id"]:
            answer: Any = identity.RpcError(error="not_staff")
        elif request["nik"] == UNKNOWN_NIK:
            answer = identity.RpcError(error="unknown_resident")
        else:
            registry = {
                "full_name": "SITI AMINAH",
                "address.village": "SUNGAI PINANG DALAM",
                "nik": request["nik"],
            }
            account = self.accounts.get(request["nik"])
            answer = identity.ResidentLookupResponse(
                nik_masked=request["nik"][:4] + "*" * 10 + request["nik"][-2:],
                fields={name: registry.get(name) for name in request["fields"]},
                account_id=account,
                assurance_level=1 if account else None,
                officer_name=OFFICER_NAME,
            )
        await msg.respond(answer.model_dump_json().encode())


@pytest.fixture(scope="module")
async def residents(infrastructure: Infrastructure) -> AsyncIterator[FakeResidents]:
    fake = FakeResidents()
    nc = await nats.connect(
        infrastructure.nats_url, **infrastructure.nats_connect_options("identity")
    )
    sub = await nc.subscribe(identity.RESIDENT_LOOKUP_SUBJECT, cb=fake.on_lookup)
    await nc.flush()
    try:
        yield fake
    finally:
        await sub.unsubscribe()
        await nc.drain()


@pytest.fixture(scope="module")
async def client(application_app_client: Callable[..., Any]) -> AsyncIterator[httpx.AsyncClient]:
    async with application_app_client() as opened:
        yield opened


@pytest.fixture(scope="module")
async def service(client: httpx.AsyncClient, new_service: Any, catalogue: Any) -> dict[str, Any]:
    payload = new_service(
        form_schema=FORM,
        prefill={"full_name": "full_name", "address.village": "address.village"},
    )
    await catalogue.publish(client, payload)
    return payload


@dataclass
class Staff:
    id: str
    headers: dict[str, str]


@pytest.fixture
def officer(
    application_token: Callable[..., dict[str, str]], residents: FakeResidents
) -> Callable[..., Staff]:
    def make(agency_id: str, role: str = "officer") -> Staff:
        subject = str(uuid.uuid4())
        residents.staff[subject] = agency_id
        return Staff(subject, application_token(roles=[role], subject=subject, agency_id=agency_id))

    return make


async def _file(
    client: httpx.AsyncClient, who: Staff, service: dict[str, Any], nik: str, **extra: Any
) -> httpx.Response:
    body = {
        "service_id": service["service_id"],
        "nik": nik,
        "form_data": {"reason": "baru"},
        "prefill_from_registry": True,
        **extra,
    }
    return await client.post("/api/v1/agency/applications", json=body, headers=who.headers)


async def _complete_and_submit(
    client: httpx.AsyncClient, who: Staff, application_id: str, samples: Any
) -> dict[str, Any]:
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
    return dict(submitted.json())


async def _events(client: httpx.AsyncClient, application_id: str) -> list[dict[str, Any]]:
    sessionmaker = client.app.state.runtime.session_factory()  # type: ignore[attr-defined]
    async with sessionmaker() as session:
        rows = await session.scalars(
            select(outbox.c.envelope)
            .where(outbox.c.envelope["subject"].astext == application_id)
            .order_by(outbox.c.envelope["time"].astext)
        )
        return [dict(row) for row in rows.all()]


async def _database_text(client: httpx.AsyncClient) -> str:
    """Every row of every table of the service, as text."""
    sessionmaker = client.app.state.runtime.session_factory()  # type: ignore[attr-defined]
    async with sessionmaker() as session:
        tables = (
            await session.scalars(
                text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            )
        ).all()
        dumped = []
        for table in tables:
            rows = await session.execute(text(f'SELECT t::text FROM "{table}" AS t'))  # noqa: S608
            dumped += [str(row[0]) for row in rows]
    return "\n".join(dumped)


async def test_officer_files_for_a_registered_resident_and_prints_the_receipt(
    client: httpx.AsyncClient,
    service: dict[str, Any],
    officer: Callable[..., Staff],
    residents: FakeResidents,
    citizen: Callable[..., Any],
    samples: Any,
) -> None:
    resident = citizen()
    residents.accounts[NIK_WITH_ACCOUNT] = resident.id
    desk = officer(service["agency_id"])
    filed = await _file(client, desk, service, NIK_WITH_ACCOUNT)
    assert filed.status_code == 201, filed.text
    body = filed.json()
    assert body["status"] == "draft"
    assert body["channel"] == "counter"
    assert body["filed_by"] == desk.id
    assert body["owner_linked"] is True
    assert body["nik_masked"] == "6472**********01"
    # Prefilled from the registry; the officer's own value is kept.
    assert body["form_data"] == {
        "reason": "baru",
        "full_name": "SITI AMINAH",
        "address": {"village": "SUNGAI PINANG DALAM"},
    }
    asked = residents.asked[-1]
    assert asked["officer_account_id"] == desk.id
    assert asked["agency_id"] == service["agency_id"]
    assert sorted(asked["fields"]) == ["address.village", "full_name"]

    application_id = body["id"]
    submitted = await _complete_and_submit(client, desk, application_id, samples)
    number, code = submitted["registration_number"], submitted["tracking_code"]

    events = await _events(client, application_id)
    assert [e["type"] for e in events] == ["mpp.application.application.submitted"]
    data = events[0]["data"]
    assert data["channel"] == "counter"
    assert data["actor_kind"] == "staff"
    assert data["actor_id"] == desk.id
    assert data["owner_account_id"] == str(resident.id)

    # The resident sees it among their own applications, with the tracking code.
    own = await client.get("/api/v1/applications", headers=resident.headers)
    assert application_id in [item["id"] for item in own.json()["items"]]
    read = await client.get(f"/api/v1/applications/{application_id}", headers=resident.headers)
    assert read.json()["tracking_code"] == code

    receipt = await client.get(
        f"/api/v1/agency/applications/{application_id}/receipt", headers=desk.headers
    )
    assert receipt.status_code == 200, receipt.text
    assert receipt.headers["content-type"] == "application/pdf"
    assert receipt.headers["cache-control"] == "no-store"
    pdf = PdfReader(io.BytesIO(receipt.content))
    words = " ".join(page.extract_text() for page in pdf.pages)
    for expected in (number, code, service["name"], OFFICER_NAME, "pelacakan"):
        assert expected in words


async def test_officer_of_another_agency_and_citizens_may_not_file(
    client: httpx.AsyncClient,
    service: dict[str, Any],
    officer: Callable[..., Staff],
    citizen: Callable[..., Any],
) -> None:
    stranger = officer(str(uuid.uuid4()))
    refused = await _file(client, stranger, service, NIK_WITH_ACCOUNT)
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/problem+json")
    resident = citizen()
    as_citizen = await client.post(
        "/api/v1/agency/applications",
        json={"service_id": service["service_id"], "nik": NIK_WITH_ACCOUNT},
        headers=resident.headers,
    )
    assert as_citizen.status_code == 403
    # Nothing was created for either.
    assert NIK_WITH_ACCOUNT not in await _database_text(client)


async def test_unknown_nik_is_422_and_creates_nothing(
    client: httpx.AsyncClient, service: dict[str, Any], officer: Callable[..., Staff]
) -> None:
    desk = officer(service["agency_id"])
    before = await client.get("/api/v1/agency/applications", headers=desk.headers)
    response = await _file(client, desk, service, UNKNOWN_NIK)
    assert response.status_code == 422
    assert response.json()["code"] == "unknown_resident"
    assert response.json()["errors"][0]["loc"] == ["body", "nik"]
    malformed = await _file(client, desk, service, "12345")
    assert malformed.status_code == 422
    after = await client.get("/api/v1/agency/applications", headers=desk.headers)
    assert after.json()["items"] == before.json()["items"]


async def test_staff_of_another_agency_cannot_complete_or_print_a_counter_application(
    client: httpx.AsyncClient,
    service: dict[str, Any],
    officer: Callable[..., Staff],
    samples: Any,
) -> None:
    desk = officer(service["agency_id"])
    filed = await _file(client, desk, service, NIK_WITH_ACCOUNT)
    application_id = filed.json()["id"]
    stranger = officer(str(uuid.uuid4()))
    upload = await client.post(
        f"/api/v1/applications/{application_id}/documents",
        data={"requirement_code": "kk"},
        files={"file": ("kk.pdf", samples.pdf, "application/pdf")},
        headers=stranger.headers,
    )
    assert upload.status_code == 403
    submit = await client.post(
        f"/api/v1/applications/{application_id}/submit", headers=stranger.headers
    )
    assert submit.status_code == 403
    early = await client.get(
        f"/api/v1/agency/applications/{application_id}/receipt", headers=desk.headers
    )
    assert early.status_code == 409
    assert early.json()["code"] == "not_submitted"
    await _complete_and_submit(client, desk, application_id, samples)
    other = await client.get(
        f"/api/v1/agency/applications/{application_id}/receipt", headers=stranger.headers
    )
    assert other.status_code == 404
    # Once submitted, the officer no longer edits it in the resident's place.
    again = await client.post(f"/api/v1/applications/{application_id}/submit", headers=desk.headers)
    assert again.status_code == 403


async def test_application_waits_for_a_resident_without_account_and_is_linked_on_registration(
    client: httpx.AsyncClient,
    service: dict[str, Any],
    officer: Callable[..., Staff],
    citizen: Callable[..., Any],
    samples: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    desk = officer(service["agency_id"])
    filed = await _file(client, desk, service, NIK_WITHOUT_ACCOUNT)
    assert filed.status_code == 201, filed.text
    assert filed.json()["owner_linked"] is False
    application_id = filed.json()["id"]
    submitted = await _complete_and_submit(client, desk, application_id, samples)

    # The NIK is nowhere in the database, only its keyed hash; nor in any event.
    key = identity.resident_key(NIK_WITHOUT_ACCOUNT, identity.DEVELOPMENT_RESIDENT_LINK_KEY)
    stored = await _database_text(client)
    assert NIK_WITHOUT_ACCOUNT not in stored
    assert key in stored
    events = await _events(client, application_id)
    assert events[0]["data"]["owner_account_id"] is None
    assert events[0]["data"]["channel"] == "counter"
    assert NIK_WITHOUT_ACCOUNT not in json.dumps(events)

    # The resident registers: identity-service announces the account with the same key.
    resident = citizen()
    registered = new_event(
        type=identity.CITIZEN_REGISTERED,
        source=identity.SOURCE,
        subject=str(resident.id),
        data=identity.CitizenRegistered(
            account_id=resident.id,
            assurance_level=1,
            registered_at=datetime.now(UTC),
            resident_key=key,
        ),
    )
    handler = link_handler()
    sessionmaker = client.app.state.runtime.session_factory()  # type: ignore[attr-defined]
    for _ in range(2):  # a redelivery changes nothing
        async with sessionmaker() as session, session.begin():
            await handler(session, registered)

    own = await client.get("/api/v1/applications", headers=resident.headers)
    assert [item["id"] for item in own.json()["items"]] == [application_id]
    read = await client.get(f"/api/v1/applications/{application_id}", headers=resident.headers)
    assert read.json()["tracking_code"] == submitted["tracking_code"]

    events = await _events(client, application_id)
    assert [e["type"] for e in events] == [
        "mpp.application.application.submitted",
        "mpp.application.application.owner_linked",
    ]
    linked = events[1]["data"]
    assert linked["owner_account_id"] == str(resident.id)
    assert linked["sequence"] == 2
    assert linked["status"] == linked["old_status"] == "submitted"
    # The key went with the link.
    assert key not in await _database_text(client)
    # Nor did the NIK reach a log line, message or extra field.
    logged = "\n".join(str(record.__dict__) for record in caplog.records)
    assert caplog.records
    assert NIK_WITHOUT_ACCOUNT not in logged


async def test_registration_without_a_waiting_application_links_nothing(
    client: httpx.AsyncClient, citizen: Callable[..., Any]
) -> None:
    resident = citizen()
    event = new_event(
        type=identity.CITIZEN_REGISTERED,
        source=identity.SOURCE,
        subject=str(resident.id),
        data=identity.CitizenRegistered(
            account_id=resident.id,
            assurance_level=1,
            registered_at=datetime.now(UTC),
            resident_key=identity.resident_key("6472010101010001", "another-secret-altogether"),
        ),
    )
    sessionmaker = client.app.state.runtime.session_factory()  # type: ignore[attr-defined]
    async with sessionmaker() as session, session.begin():
        await link_handler()(session, event)
    own = await client.get("/api/v1/applications", headers=resident.headers)
    assert own.json()["items"] == []
