"""Assisted filing at a counter: the resident lookup application-service asks over NATS, the
officer's in-person verification raising the assurance level, and the keyed NIK hash that
registration announces for linking."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import nats
import pytest
from nats.aio.client import Client
from nats.errors import NoRespondersError

from mpp_shared.contracts.identity import v1 as contracts
from mpp_shared.testing import infrastructure as infra

from .conftest import Service, bearer

STAFF_PASSWORD = "Petugas#Kuat2026"
# What the officer reads when the resident has no account yet: what to do next.
NO_ACCOUNT_DETAIL = (
    "Penduduk ini belum memiliki akun MPP Digital. Minta warga mendaftar terlebih dahulu, "
    "di perangkat loket atau di ponselnya, lalu ulangi verifikasi tatap muka ini."
)
UNKNOWN_NIK = "3573019999990009"


@pytest.fixture(scope="module")
async def bus(service: Service, infrastructure: infra.TestInfrastructure) -> AsyncIterator[Client]:
    await service.app.state.runtime.nats_connection().wait_connected(10)
    client = await nats.connect(
        service.app.state.runtime.settings.nats_url,
        **infrastructure.nats_connect_options("application"),
    )
    yield client
    await client.close()


async def _lookup(bus: Client, request: contracts.ResidentLookupRequest) -> Any:
    deadline = time.monotonic() + 5
    while True:
        try:
            reply = await bus.request(
                contracts.RESIDENT_LOOKUP_SUBJECT, request.model_dump_json().encode(), timeout=5
            )
            break
        except NoRespondersError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)
    return contracts.parse_resident_lookup_reply(reply.data)


async def _officer(
    service: Service, agency_id: uuid.UUID, role: str = "officer"
) -> tuple[str, str]:
    """A member of staff of ``agency_id``: (account id, access token)."""
    email = f"loket-{uuid.uuid4().hex[:8]}@dinas.test"
    created = await service.client.post(
        "/api/v1/staff",
        json={
            "email": email,
            "full_name": "Rina Wulandari",
            "password": STAFF_PASSWORD,
            "role": role,
            "agency_id": str(agency_id),
        },
        headers=bearer(await service.admin_token()),
    )
    assert created.status_code == 201, created.text
    return created.json()["id"], await service.staff_token(email, STAFF_PASSWORD)


def _request(nik: str, officer: str, agency: uuid.UUID, **extra: Any) -> Any:
    values: dict[str, Any] = {
        "nik": nik,
        "officer_account_id": officer,
        "agency_id": agency,
        "service_id": uuid.uuid4(),
        "fields": ["full_name", "address.village"],
        "purpose": "Pengajuan permohonan dibantu petugas di loket",
    }
    values.update(extra)
    return contracts.ResidentLookupRequest(**values)


async def test_lookup_answers_the_registry_fields_and_logs_the_officer_in_the_access_log(
    service: Service, bus: Client
) -> None:
    person = service.residents[0]
    token, _ = await service.citizen(person)
    me = (await service.client.get("/api/v1/me", headers=bearer(token))).json()
    agency = await service.known_agency()
    officer, _ = await _officer(service, agency)

    answer = await _lookup(bus, _request(person.nik, officer, agency))

    assert isinstance(answer, contracts.ResidentLookupResponse), answer
    assert answer.account_id == uuid.UUID(me["id"])
    assert answer.assurance_level == 1
    assert answer.nik_masked == person.nik[:4] + "*" * 10 + person.nik[-2:]
    assert answer.fields == {
        "full_name": me["full_name"],
        "address.village": me["address"]["village"],
    }
    assert answer.officer_name == "Rina Wulandari"
    log = (await service.client.get("/api/v1/me/access-log", headers=bearer(token))).json()
    entry = log["items"][0]
    assert entry["accessor"] == officer
    assert entry["accessor_kind"] == "staff"
    assert entry["purpose"] == "Pengajuan permohonan dibantu petugas di loket"
    assert entry["fields"] == ["full_name", "address.village"]


async def test_lookup_of_a_resident_without_account_and_of_an_unknown_nik(
    service: Service, bus: Client
) -> None:
    agency = await service.known_agency()
    officer, _ = await _officer(service, agency)
    unregistered = await _lookup(bus, _request(service.residents[1].nik, officer, agency))
    assert isinstance(unregistered, contracts.ResidentLookupResponse), unregistered
    assert unregistered.account_id is None
    assert unregistered.assurance_level is None
    assert unregistered.fields["full_name"] == service.residents[1].full_name.upper()

    unknown = await _lookup(bus, _request(UNKNOWN_NIK, officer, agency))
    assert unknown == contracts.RpcError(error="unknown_resident", detail=unknown.detail)


async def test_lookup_is_refused_for_staff_of_another_agency_and_for_citizens(
    service: Service, bus: Client
) -> None:
    agency = await service.known_agency()
    officer, _ = await _officer(service, agency)
    elsewhere = await _lookup(bus, _request(service.residents[0].nik, officer, uuid.uuid4()))
    assert isinstance(elsewhere, contracts.RpcError)
    assert elsewhere.error == "not_staff"
    token, _ = await service.citizen(service.residents[2])
    me = (await service.client.get("/api/v1/me", headers=bearer(token))).json()
    as_citizen = await _lookup(bus, _request(service.residents[0].nik, me["id"], agency))
    assert isinstance(as_citizen, contracts.RpcError)
    assert as_citizen.error == "not_staff"
    contact = await _lookup(
        bus, _request(service.residents[0].nik, officer, agency, fields=["phone"])
    )
    assert isinstance(contact, contracts.RpcError)
    assert contact.error == "unknown_field"


async def test_registration_announces_the_keyed_nik_hash_and_never_the_nik(
    service: Service,
) -> None:
    person = service.residents[3]
    registered = await service.register(person)
    assert registered.status_code == 201, registered.text
    account_id = registered.json()["id"]
    events = [
        e
        for e in await service.outbox(contracts.CITIZEN_REGISTERED)
        if e["data"]["account_id"] == account_id
    ]
    assert len(events) == 1
    expected = contracts.resident_key(person.nik, contracts.DEVELOPMENT_RESIDENT_LINK_KEY)
    assert events[0]["data"]["resident_key"] == expected
    assert person.nik not in json.dumps(events)


async def test_an_officer_raises_the_assurance_level_after_an_in_person_check(
    service: Service,
) -> None:
    person = service.residents[4]
    token, _ = await service.citizen(person)
    agency = await service.known_agency()
    officer, officer_token = await _officer(service, agency)

    verified = await service.client.post(
        "/api/v1/counter/verifications",
        json={"nik": person.nik, "method": "ktp_el_reader"},
        headers=bearer(officer_token),
    )

    assert verified.status_code == 200, verified.text
    body = verified.json()
    assert body["assurance_level"] == 2
    assert body["method"] == "ktp_el_reader"
    assert body["verified_by"] == officer
    assert person.nik not in verified.text
    me = (await service.client.get("/api/v1/me", headers=bearer(token))).json()
    assert me["assurance_level"] == 2
    stored = await service.scalar(
        "SELECT method || ' ' || officer_account_id || ' ' || agency_id FROM counter_verifications"
        " WHERE account_id = :a",
        a=uuid.UUID(me["id"]),
    )
    assert stored == f"ktp_el_reader {officer} {agency}"
    events = [
        e
        for e in await service.outbox(contracts.CITIZEN_VERIFIED)
        if e["data"]["account_id"] == me["id"]
    ]
    assert len(events) == 1
    assert events[0]["data"]["method"] == "ktp_el_reader"
    assert events[0]["data"]["verified_by"] == officer
    assert person.nik not in json.dumps(events)
    log = (await service.client.get("/api/v1/me/access-log", headers=bearer(token))).json()
    assert log["items"][0]["accessor"] == officer
    assert "ktp_el_reader" in log["items"][0]["purpose"]

    # A second check is kept too, but the level is already there: no second event.
    again = await service.client.post(
        "/api/v1/counter/verifications",
        json={"nik": person.nik, "method": "document_check"},
        headers=bearer(officer_token),
    )
    assert again.status_code == 200
    events = [
        e
        for e in await service.outbox(contracts.CITIZEN_VERIFIED)
        if e["data"]["account_id"] == me["id"]
    ]
    assert len(events) == 1


async def test_counter_verification_refuses_citizens_unknown_niks_and_residents_without_account(
    service: Service,
) -> None:
    agency = await service.known_agency()
    _, officer_token = await _officer(service, agency)
    token, _ = await service.citizen(service.residents[5])
    as_citizen = await service.client.post(
        "/api/v1/counter/verifications",
        json={"nik": service.residents[5].nik, "method": "document_check"},
        headers=bearer(token),
    )
    assert as_citizen.status_code == 403
    me = (await service.client.get("/api/v1/me", headers=bearer(token))).json()
    assert me["assurance_level"] == 1
    unknown = await service.client.post(
        "/api/v1/counter/verifications",
        json={"nik": UNKNOWN_NIK, "method": "document_check"},
        headers=bearer(officer_token),
    )
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "unknown_resident"
    unregistered = await service.client.post(
        "/api/v1/counter/verifications",
        json={"nik": service.residents[6].nik, "method": "document_check"},
        headers=bearer(officer_token),
    )
    assert unregistered.status_code == 404
    assert unregistered.json()["code"] == "no_account"
    assert unregistered.json()["detail"] == NO_ACCOUNT_DETAIL
    bad_method = await service.client.post(
        "/api/v1/counter/verifications",
        json={"nik": service.residents[5].nik, "method": "face"},
        headers=bearer(officer_token),
    )
    assert bad_method.status_code == 422


async def test_a_check_without_an_account_is_not_kept_for_whoever_registers_the_nik_later(
    service: Service,
) -> None:
    person = service.residents[7]
    agency = await service.known_agency()
    officer, officer_token = await _officer(service, agency)
    check = {"nik": person.nik, "method": "ktp_el_reader"}

    refused = await service.client.post(
        "/api/v1/counter/verifications", json=check, headers=bearer(officer_token)
    )
    # The resident registers afterwards (at the counter's device or on their phone).
    token, _ = await service.citizen(person)
    me = (await service.client.get("/api/v1/me", headers=bearer(token))).json()
    log_before = (await service.client.get("/api/v1/me/access-log", headers=bearer(token))).json()
    kept = await service.scalar(
        "SELECT count(*) FROM counter_verifications WHERE account_id = :a", a=uuid.UUID(me["id"])
    )
    # Then the officer verifies again, as the answer told them to.
    again = await service.client.post(
        "/api/v1/counter/verifications", json=check, headers=bearer(officer_token)
    )
    me_after = (await service.client.get("/api/v1/me", headers=bearer(token))).json()
    log_after = (await service.client.get("/api/v1/me/access-log", headers=bearer(token))).json()

    assert refused.status_code == 404
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert (refused.json()["code"], refused.json()["detail"]) == ("no_account", NO_ACCOUNT_DETAIL)
    assert person.nik not in refused.text
    assert me["assurance_level"] == 1
    assert kept == 0
    assert all(item["accessor"] != officer for item in log_before["items"])
    assert again.status_code == 200, again.text
    assert me_after["assurance_level"] == 2
    counter_entries = [item for item in log_after["items"] if item["accessor"] == officer]
    assert len(counter_entries) == 1
    assert "ktp_el_reader" in counter_entries[0]["purpose"]


async def test_a_disabled_account_is_not_verified_and_the_officer_is_not_told_to_register(
    service: Service,
) -> None:
    person = service.residents[8]
    token, _ = await service.citizen(person)
    me = (await service.client.get("/api/v1/me", headers=bearer(token))).json()
    disabled = await service.client.post(
        f"/api/v1/admin/accounts/{me['id']}/disable", headers=bearer(await service.admin_token())
    )
    assert disabled.status_code == 204
    _, officer_token = await _officer(service, await service.known_agency())

    refused = await service.client.post(
        "/api/v1/counter/verifications",
        json={"nik": person.nik, "method": "document_check"},
        headers=bearer(officer_token),
    )

    assert refused.status_code == 404
    assert refused.json()["code"] == "no_account"
    assert "dinonaktifkan" in refused.json()["detail"]
    assert refused.json()["detail"] != NO_ACCOUNT_DETAIL
    kept = await service.scalar(
        "SELECT count(*) FROM counter_verifications WHERE account_id = :a", a=uuid.UUID(me["id"])
    )
    level = await service.scalar(
        "SELECT assurance_level FROM accounts WHERE id = :a", a=uuid.UUID(me["id"])
    )
    assert (kept, level) == (0, 1)
