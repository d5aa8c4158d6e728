"""A citizen's drafts: who may create one, prefill only with consent, edits, lists, idempotency."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from application.db.tables import ApplicationRow


@pytest.fixture(scope="module")
async def client(application_app_client: Callable[..., Any]) -> AsyncIterator[httpx.AsyncClient]:
    async with application_app_client() as opened:
        yield opened


@pytest.fixture(scope="module")
async def service(client: httpx.AsyncClient, new_service: Any, catalogue: Any) -> dict[str, Any]:
    payload = new_service()
    await catalogue.publish(client, payload)
    return payload


async def _count(client: httpx.AsyncClient) -> int:
    sessionmaker = client.app.state.runtime.session_factory()  # type: ignore[attr-defined]
    async with sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(ApplicationRow)) or 0)


async def _create(
    client: httpx.AsyncClient, who: Any, service_id: str, **body: Any
) -> httpx.Response:
    return await client.post(
        "/api/v1/applications",
        json={"service_id": service_id, "prefill_consent": False, **body},
        headers=who.headers,
    )


async def test_citizen_creates_a_draft_against_the_latest_version(
    client: httpx.AsyncClient,
    service: dict[str, Any],
    citizen: Callable[..., Any],
    new_service: Any,
    catalogue: Any,
) -> None:
    newer = {**service, "version": 2, "name": "Penerbitan KTP-el (baru)"}
    await catalogue.publish(client, newer)
    response = await _create(client, citizen(), service["service_id"])
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "draft"
    assert body["service_id"] == service["service_id"]
    assert body["service_version"] == 2
    assert body["agency_id"] == service["agency_id"]
    assert body["form_data"] == {}
    assert body["documents"] == []
    assert body["registration_number"] is None
    assert response.headers["cache-control"] == "no-store"


@pytest.mark.parametrize("service_id", ["00000000-0000-4000-8000-000000000000"])
async def test_unknown_service_is_404(
    client: httpx.AsyncClient, citizen: Callable[..., Any], service_id: str
) -> None:
    response = await _create(client, citizen(), service_id)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "not_found"


async def test_malformed_service_id_is_422(
    client: httpx.AsyncClient, citizen: Callable[..., Any]
) -> None:
    response = await _create(client, citizen(), "not-a-uuid")
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "service_id"]


async def test_retired_service_takes_no_new_applications(
    client: httpx.AsyncClient, citizen: Callable[..., Any], new_service: Any, catalogue: Any
) -> None:
    payload = new_service()
    await catalogue.publish(client, payload)
    await catalogue.retire(client, payload["service_id"], 1)
    before = await _count(client)
    response = await _create(client, citizen(), payload["service_id"])
    assert response.status_code == 403
    problem = response.json()
    assert problem["code"] == "service_retired"
    assert "tidak menerima" in problem["detail"]
    assert await _count(client) == before
    # A version published after the retirement brings it back.
    await catalogue.publish(client, {**payload, "version": 2})
    assert (await _create(client, citizen(), payload["service_id"])).status_code == 201


async def test_assurance_level_below_the_services_minimum_is_403(
    client: httpx.AsyncClient, citizen: Callable[..., Any], new_service: Any, catalogue: Any
) -> None:
    payload = new_service(min_assurance_level=2)
    await catalogue.publish(client, payload)
    response = await _create(client, citizen(ial=1), payload["service_id"])
    assert response.status_code == 403
    problem = response.json()
    assert problem["code"] == "assurance_level_too_low"
    assert "tingkat verifikasi" in problem["detail"]
    assert (await _create(client, citizen(ial=2), payload["service_id"])).status_code == 201


async def test_staff_cannot_create_applications_as_citizens(
    client: httpx.AsyncClient,
    service: dict[str, Any],
    application_token: Callable[..., dict[str, str]],
) -> None:
    officer = application_token(roles=["officer"], agency_id=service["agency_id"])
    response = await client.post(
        "/api/v1/applications", json={"service_id": service["service_id"]}, headers=officer
    )
    assert response.status_code == 403


async def test_without_a_token_it_is_401(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/v1/applications")).status_code == 401


async def test_without_consent_nothing_is_prefilled_and_identity_is_not_asked(
    client: httpx.AsyncClient,
    service: dict[str, Any],
    citizen: Callable[..., Any],
    fake_identity: Any,
) -> None:
    who = citizen()
    fake_identity.profiles[str(who.id)] = {"nik": "6472011505900001", "full_name": "Budi"}
    response = await _create(client, who, service["service_id"], prefill_consent=False)
    assert response.status_code == 201
    assert response.json()["form_data"] == {}
    assert all(c["account_id"] != str(who.id) for c in fake_identity.consents)
    assert all(p["account_id"] != str(who.id) for p in fake_identity.prefills)


async def test_with_consent_exactly_the_services_prefill_fields_are_filled(
    client: httpx.AsyncClient,
    service: dict[str, Any],
    citizen: Callable[..., Any],
    fake_identity: Any,
) -> None:
    who = citizen()
    fake_identity.profiles[str(who.id)] = {
        "nik": "6472011505900001",
        "full_name": "Budi Santoso",
        "birth_date": "1990-05-15",
        "phone": "+6281234567890",
        "address": {"village": "Sungai Pinang Dalam", "street": "Jl. Merdeka 1", "rt": "003"},
    }
    response = await _create(client, who, service["service_id"], prefill_consent=True)
    assert response.status_code == 201, response.text
    assert response.json()["form_data"] == {
        "nik": "6472011505900001",
        "full_name": "Budi Santoso",
        "address": {"village": "Sungai Pinang Dalam"},
    }
    consent = next(c for c in fake_identity.consents if c["account_id"] == str(who.id))
    assert consent["service_id"] == service["service_id"]
    assert sorted(consent["fields"]) == ["address.village", "full_name", "nik"]
    prefill = next(p for p in fake_identity.prefills if p["account_id"] == str(who.id))
    assert sorted(prefill["fields"]) == ["address.village", "full_name", "nik"]


async def test_consent_and_prefill_are_one_request_to_identity(
    client: httpx.AsyncClient,
    service: dict[str, Any],
    citizen: Callable[..., Any],
    fake_identity: Any,
) -> None:
    who = citizen()
    fake_identity.profiles[str(who.id)] = {"nik": "6472011505900001", "full_name": "Budi"}
    response = await _create(client, who, service["service_id"], prefill_consent=True)
    assert response.status_code == 201, response.text
    asked = [c for c in fake_identity.consents if c["account_id"] == str(who.id)]
    assert len(asked) == 1
    assert "read_purpose" in asked[0]  # the one request, not the consent grant of old
    assert len([p for p in fake_identity.prefills if p["account_id"] == str(who.id)]) == 1


async def test_an_identity_without_the_one_request_subject_is_asked_twice_as_before(
    client: httpx.AsyncClient,
    service: dict[str, Any],
    citizen: Callable[..., Any],
    fake_identity: Any,
) -> None:
    who = citizen()
    fake_identity.profiles[str(who.id)] = {"nik": "6472011505900001", "full_name": "Budi"}
    await fake_identity.answer_consented_prefill(False)
    try:
        response = await _create(client, who, service["service_id"], prefill_consent=True)
    finally:
        await fake_identity.answer_consented_prefill(True)
    assert response.status_code == 201, response.text
    assert response.json()["form_data"] == {"nik": "6472011505900001", "full_name": "Budi"}
    consent = next(c for c in fake_identity.consents if c["account_id"] == str(who.id))
    assert "read_purpose" not in consent  # the consent grant of old, then the prefill
    assert any(p["account_id"] == str(who.id) for p in fake_identity.prefills)


async def test_identity_not_answering_is_503_and_nothing_is_created(
    client: httpx.AsyncClient,
    service: dict[str, Any],
    citizen: Callable[..., Any],
    fake_identity: Any,
) -> None:
    before = await _count(client)
    fake_identity.silent = True
    try:
        response = await _create(client, citizen(), service["service_id"], prefill_consent=True)
    finally:
        fake_identity.silent = False
    assert response.status_code == 503
    assert response.json()["code"] == "identity_unavailable"
    assert await _count(client) == before


async def test_identity_refusing_the_prefill_creates_nothing(
    client: httpx.AsyncClient,
    service: dict[str, Any],
    citizen: Callable[..., Any],
    fake_identity: Any,
) -> None:
    before = await _count(client)
    fake_identity.refuse = "unknown_account"
    try:
        response = await _create(client, citizen(), service["service_id"], prefill_consent=True)
    finally:
        fake_identity.refuse = None
    assert response.status_code == 502
    assert response.json()["code"] == "prefill_failed"
    assert await _count(client) == before


async def test_same_idempotency_key_and_body_replays_the_first_draft(
    client: httpx.AsyncClient, service: dict[str, Any], citizen: Callable[..., Any]
) -> None:
    who = citizen()
    headers = {**who.headers, "Idempotency-Key": "create-once"}
    body = {"service_id": service["service_id"], "prefill_consent": False}
    first = await client.post("/api/v1/applications", json=body, headers=headers)
    again = await client.post("/api/v1/applications", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["idempotency-replayed"] == "true"
    listed = (await client.get("/api/v1/applications", headers=who.headers)).json()
    assert [item["id"] for item in listed["items"]] == [first.json()["id"]]


async def test_same_idempotency_key_with_another_body_is_422(
    client: httpx.AsyncClient,
    service: dict[str, Any],
    citizen: Callable[..., Any],
    new_service: Any,
    catalogue: Any,
) -> None:
    other = new_service()
    await catalogue.publish(client, other)
    who = citizen()
    headers = {**who.headers, "Idempotency-Key": "create-twice"}
    first = await client.post(
        "/api/v1/applications", json={"service_id": service["service_id"]}, headers=headers
    )
    assert first.status_code == 201
    second = await client.post(
        "/api/v1/applications", json={"service_id": other["service_id"]}, headers=headers
    )
    assert second.status_code == 422
    assert second.json()["code"] == "idempotency_key_reused"


async def test_citizen_lists_own_applications_newest_first_in_pages(
    client: httpx.AsyncClient, service: dict[str, Any], citizen: Callable[..., Any]
) -> None:
    who, other = citizen(), citizen()
    created = [(await _create(client, who, service["service_id"])).json()["id"] for _ in range(3)]
    await _create(client, other, service["service_id"])
    first = (await client.get("/api/v1/applications?limit=2", headers=who.headers)).json()
    assert [item["id"] for item in first["items"]] == created[::-1][:2]
    assert first["next_cursor"]
    second = (
        await client.get(
            f"/api/v1/applications?limit=2&cursor={first['next_cursor']}", headers=who.headers
        )
    ).json()
    assert [item["id"] for item in second["items"]] == [created[0]]
    assert second["next_cursor"] is None


async def test_forged_cursor_is_422(client: httpx.AsyncClient, citizen: Callable[..., Any]) -> None:
    response = await client.get(
        "/api/v1/applications?cursor=eyJjIjoieCIsImkiOiJ5In0", headers=citizen().headers
    )
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_cursor"


async def test_citizen_replaces_the_form_of_a_draft(
    client: httpx.AsyncClient, service: dict[str, Any], citizen: Callable[..., Any]
) -> None:
    who = citizen()
    draft = (await _create(client, who, service["service_id"])).json()
    response = await client.patch(
        f"/api/v1/applications/{draft['id']}",
        json={"form_data": {"reason": "baru"}},
        headers=who.headers,
    )
    assert response.status_code == 200, response.text
    assert response.json()["form_data"] == {"reason": "baru"}
    replaced = await client.patch(
        f"/api/v1/applications/{draft['id']}",
        json={"form_data": {"full_name": "Budi"}},
        headers=who.headers,
    )
    assert replaced.json()["form_data"] == {"full_name": "Budi"}


async def test_oversized_form_is_422_and_not_kept(
    client: httpx.AsyncClient, service: dict[str, Any], citizen: Callable[..., Any]
) -> None:
    who = citizen()
    draft = (await _create(client, who, service["service_id"])).json()
    response = await client.patch(
        f"/api/v1/applications/{draft['id']}",
        json={"form_data": {"full_name": "x" * 70_000}},
        headers=who.headers,
    )
    assert response.status_code == 422
    read = await client.get(f"/api/v1/applications/{draft['id']}", headers=who.headers)
    assert read.json()["form_data"] == {}


@pytest.mark.parametrize("form_data", [[], "text", None])
async def test_form_data_that_is_not_an_object_is_422(
    client: httpx.AsyncClient,
    service: dict[str, Any],
    citizen: Callable[..., Any],
    form_data: Any,
) -> None:
    who = citizen()
    draft = (await _create(client, who, service["service_id"])).json()
    response = await client.patch(
        f"/api/v1/applications/{draft['id']}", json={"form_data": form_data}, headers=who.headers
    )
    assert response.status_code == 422


async def test_another_citizen_cannot_read_or_edit_a_draft(
    client: httpx.AsyncClient, service: dict[str, Any], citizen: Callable[..., Any]
) -> None:
    owner, stranger = citizen(), citizen()
    draft = (await _create(client, owner, service["service_id"])).json()
    path = f"/api/v1/applications/{draft['id']}"
    assert (await client.get(path, headers=stranger.headers)).status_code == 404
    patched = await client.patch(path, json={"form_data": {"a": 1}}, headers=stranger.headers)
    assert patched.status_code == 404
    assert (
        await client.get(f"/api/v1/applications/{uuid.uuid4()}", headers=owner.headers)
    ).status_code == 404


async def test_agency_staff_do_not_see_drafts(
    client: httpx.AsyncClient,
    service: dict[str, Any],
    citizen: Callable[..., Any],
    application_token: Callable[..., dict[str, str]],
) -> None:
    draft = (await _create(client, citizen(), service["service_id"])).json()
    officer = application_token(roles=["officer"], agency_id=service["agency_id"])
    assert (
        await client.get(f"/api/v1/applications/{draft['id']}", headers=officer)
    ).status_code == 404
    queue = (await client.get("/api/v1/agency/applications", headers=officer)).json()
    assert draft["id"] not in [item["id"] for item in queue["items"]]


async def test_a_version_held_in_memory_still_follows_retirement_and_newer_versions(
    client: httpx.AsyncClient, citizen: Callable[..., Any], new_service: Any, catalogue: Any
) -> None:
    payload = new_service()
    await catalogue.publish(client, payload)
    first = await _create(client, citizen(), payload["service_id"])
    assert first.status_code == 201  # version 1 is now held in memory
    versions = client.app.state.runtime.state.versions  # type: ignore[attr-defined]
    assert versions.get(uuid.UUID(payload["service_id"]), 1) is not None
    await catalogue.retire(client, payload["service_id"], 1)
    refused = await _create(client, citizen(), payload["service_id"])
    assert refused.status_code == 403
    assert refused.json()["code"] == "service_retired"
    await catalogue.publish(client, {**payload, "version": 2, "name": "Penerbitan KTP-el (2)"})
    newer = await _create(client, citizen(), payload["service_id"])
    assert newer.status_code == 201
    assert newer.json()["service_version"] == 2


async def test_a_version_announced_again_with_other_content_changes_nothing(
    client: httpx.AsyncClient, citizen: Callable[..., Any], new_service: Any, catalogue: Any
) -> None:
    payload = new_service()
    await catalogue.publish(client, payload)
    who = citizen()
    draft = (await _create(client, who, payload["service_id"])).json()
    # The same version number with another requirement: the first copy stays, in the
    # database and in memory alike, so the original requirement is still the one asked for.
    await catalogue.publish(
        client, {**payload, "requirements": [{**payload["requirements"][0], "code": "lain"}]}
    )
    application_id = draft["id"]
    for requirement, status in (("lain", 422), ("kk", 201)):
        response = await client.post(
            f"/api/v1/applications/{application_id}/documents",
            data={"requirement_code": requirement},
            files={"file": ("kk.pdf", b"%PDF-1.4\n%%EOF\n", "application/pdf")},
            headers=who.headers,
        )
        assert response.status_code == status, response.text
