"""A service's life through the API: draft, publish, new versions, retire; who may do what."""

from __future__ import annotations

import copy
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from mpp_shared.events.tables import outbox

FORM = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["nik", "full_name"],
    "properties": {
        "nik": {"type": "string", "pattern": "^[0-9]{16}$"},
        "full_name": {"type": "string"},
        "reason": {"type": "string", "enum": ["baru", "rusak", "hilang"]},
    },
}

SERVICE = {
    "code": "ktp-el",
    "name": "Penerbitan KTP-el",
    "description": "Penerbitan KTP elektronik bagi penduduk berusia 17 tahun.",
    "category": "kependudukan",
    "keywords": ["ktp", "e-ktp"],
    "region_codes": ["64.72"],
    "requirements": [
        {
            "code": "kk",
            "name": "Kartu Keluarga",
            "mandatory": True,
            "accepted_types": ["application/pdf", "image/jpeg"],
            "max_size_mb": 2,
        }
    ],
    "procedure": ["Isi formulir.", "Verifikasi.", "Cetak KTP-el."],
    "stages": [{"code": "verifikasi", "name": "Verifikasi"}, {"code": "cetak", "name": "Cetak"}],
    "sla_working_days": 1,
    "fee": {"amount_idr": 0, "note": "Gratis"},
    "output": "KTP-el",
    "legal_basis": ["UU 24/2013"],
    "complaint_channel": "SP4N-LAPOR!",
    "channels": ["online", "counter"],
    "min_assurance_level": 1,
    "form_schema": FORM,
    "prefill": {"nik": "nik", "full_name": "full_name"},
}


@pytest.fixture(scope="module")
async def client(catalog_app_client: Callable[..., Any]) -> AsyncIterator[httpx.AsyncClient]:
    async with catalog_app_client() as opened:
        yield opened


@pytest.fixture(scope="module")
def admin(catalog_token: Callable[..., dict[str, str]]) -> dict[str, str]:
    return catalog_token(roles=["platform_admin"])


async def _agency(client: httpx.AsyncClient, admin: dict[str, str], name: str) -> uuid.UUID:
    response = await client.post(
        "/api/v1/agencies",
        json={"name": name, "kind": "opd", "region_code": "64.72"},
        headers=admin,
    )
    assert response.status_code == 201, response.text
    return uuid.UUID(response.json()["id"])


@pytest.fixture(scope="module")
async def dukcapil(client: httpx.AsyncClient, admin: dict[str, str]) -> uuid.UUID:
    return await _agency(client, admin, "Dinas Dukcapil Kota Samarinda (uji)")


@pytest.fixture(scope="module")
async def other_agency(client: httpx.AsyncClient, admin: dict[str, str]) -> uuid.UUID:
    return await _agency(client, admin, "Dinas Perhubungan Kota Samarinda (uji)")


@pytest.fixture(scope="module")
def dukcapil_admin(
    catalog_token: Callable[..., dict[str, str]], dukcapil: uuid.UUID
) -> dict[str, str]:
    return catalog_token(roles=["agency_admin"], agency_id=dukcapil)


@pytest.fixture(scope="module")
def other_admin(
    catalog_token: Callable[..., dict[str, str]], other_agency: uuid.UUID
) -> dict[str, str]:
    return catalog_token(roles=["agency_admin"], agency_id=other_agency)


async def _draft(
    client: httpx.AsyncClient, headers: dict[str, str], agency_id: uuid.UUID, **changes: Any
) -> dict[str, Any]:
    body = {**copy.deepcopy(SERVICE), "agency_id": str(agency_id), **changes}
    body.setdefault("code", f"svc-{uuid.uuid4().hex[:8]}")
    response = await client.post("/api/v1/services", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def _published(
    client: httpx.AsyncClient, headers: dict[str, str], agency_id: uuid.UUID, **changes: Any
) -> dict[str, Any]:
    draft = await _draft(client, headers, agency_id, code=f"svc-{uuid.uuid4().hex[:8]}", **changes)
    response = await client.post(f"/api/v1/services/{draft['id']}/publish", headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def _outbox(client: httpx.AsyncClient, subject: str, entity_id: str) -> list[dict[str, Any]]:
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    async with runtime.session_factory()() as session:
        rows = await session.scalars(
            select(outbox.c.envelope)
            .where(outbox.c.subject == subject, outbox.c.envelope["subject"].astext == entity_id)
            .order_by(outbox.c.created_at)
        )
        return list(rows)


# --- creating drafts --------------------------------------------------------------------------


async def test_agency_admin_creates_a_draft_that_is_not_public_yet(
    client: httpx.AsyncClient, dukcapil: uuid.UUID, dukcapil_admin: dict[str, str]
) -> None:
    draft = await _draft(client, dukcapil_admin, dukcapil)
    assert draft["version"] == 1
    assert draft["status"] == "draft"
    assert draft["agency_id"] == str(dukcapil)
    assert (await client.get(f"/api/v1/services/{draft['id']}")).status_code == 404
    own = await client.get(f"/api/v1/services/{draft['id']}/draft", headers=dukcapil_admin)
    assert own.status_code == 200
    assert own.json()["name"] == SERVICE["name"]
    assert own.headers["cache-control"] == "private, no-store"


async def test_agency_admin_cannot_create_a_service_for_another_agency(
    client: httpx.AsyncClient, other_agency: uuid.UUID, dukcapil_admin: dict[str, str]
) -> None:
    body = {**SERVICE, "agency_id": str(other_agency)}
    response = await client.post("/api/v1/services", json=body, headers=dukcapil_admin)
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"


@pytest.mark.parametrize("role", ["citizen", "officer"])
async def test_citizens_and_officers_cannot_create_services(
    client: httpx.AsyncClient,
    dukcapil: uuid.UUID,
    catalog_token: Callable[..., dict[str, str]],
    role: str,
) -> None:
    headers = catalog_token(roles=[role], agency_id=dukcapil if role == "officer" else None)
    body = {**SERVICE, "agency_id": str(dukcapil)}
    response = await client.post("/api/v1/services", json=body, headers=headers)
    assert response.status_code == 403


async def test_creating_without_a_token_is_401(
    client: httpx.AsyncClient, dukcapil: uuid.UUID
) -> None:
    response = await client.post("/api/v1/services", json={**SERVICE, "agency_id": str(dukcapil)})
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"


async def test_invalid_form_schema_is_refused(
    client: httpx.AsyncClient, dukcapil: uuid.UUID, dukcapil_admin: dict[str, str]
) -> None:
    body = {
        **SERVICE,
        "agency_id": str(dukcapil),
        "form_schema": {"type": "object", "properties": {"nik": {"type": "nomor"}}},
        "prefill": {},
    }
    response = await client.post("/api/v1/services", json=body, headers=dukcapil_admin)
    assert response.status_code == 422
    problem = response.json()
    assert problem["code"] == "invalid_form_schema"
    assert problem["errors"][0]["loc"][:4] == ["form_schema", "properties", "nik", "type"]


async def test_prefill_of_a_field_the_form_lacks_is_refused(
    client: httpx.AsyncClient, dukcapil: uuid.UUID, dukcapil_admin: dict[str, str]
) -> None:
    body = {**SERVICE, "agency_id": str(dukcapil), "prefill": {"birth_date": "birth_date"}}
    response = await client.post("/api/v1/services", json=body, headers=dukcapil_admin)
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {
            "loc": ["prefill", "birth_date"],
            "msg": "The form schema has no property 'birth_date' to prefill.",
        }
    ]


async def test_unknown_region_code_is_refused(
    client: httpx.AsyncClient, dukcapil: uuid.UUID, dukcapil_admin: dict[str, str]
) -> None:
    body = {**SERVICE, "agency_id": str(dukcapil), "region_codes": ["64.99"]}
    response = await client.post("/api/v1/services", json=body, headers=dukcapil_admin)
    assert response.status_code == 422
    assert response.json()["code"] == "unknown_region"


async def test_same_code_twice_in_one_agency_is_409(
    client: httpx.AsyncClient, dukcapil: uuid.UUID, dukcapil_admin: dict[str, str]
) -> None:
    await _draft(client, dukcapil_admin, dukcapil, code="akta-unik")
    body = {**SERVICE, "agency_id": str(dukcapil), "code": "akta-unik"}
    response = await client.post("/api/v1/services", json=body, headers=dukcapil_admin)
    assert response.status_code == 409
    assert response.json()["code"] == "duplicate_service_code"


async def test_idempotency_key_returns_the_first_result_and_refuses_another_body(
    client: httpx.AsyncClient, dukcapil: uuid.UUID, dukcapil_admin: dict[str, str]
) -> None:
    headers = {**dukcapil_admin, "Idempotency-Key": f"create-{uuid.uuid4()}"}
    body = {**SERVICE, "agency_id": str(dukcapil), "code": f"idem-{uuid.uuid4().hex[:6]}"}
    first = await client.post("/api/v1/services", json=body, headers=headers)
    again = await client.post("/api/v1/services", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["idempotency-replayed"] == "true"
    other = await client.post(
        "/api/v1/services", json={**body, "name": "Nama lain"}, headers=headers
    )
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused"


async def test_failed_request_does_not_use_up_its_idempotency_key(
    client: httpx.AsyncClient, dukcapil: uuid.UUID, dukcapil_admin: dict[str, str]
) -> None:
    headers = {**dukcapil_admin, "Idempotency-Key": f"create-{uuid.uuid4()}"}
    body = {**SERVICE, "agency_id": str(dukcapil), "code": f"retry-{uuid.uuid4().hex[:6]}"}
    bad = await client.post(
        "/api/v1/services", json={**body, "region_codes": ["99.99"]}, headers=headers
    )
    assert bad.status_code == 422
    # The key was not stored with the failure: a corrected request is a different body and
    # still goes through.
    good = await client.post("/api/v1/services", json=body, headers=headers)
    assert good.status_code == 201


# --- publishing and versions ------------------------------------------------------------------


async def test_publishing_freezes_the_draft_as_version_1_and_records_the_event(
    client: httpx.AsyncClient, dukcapil: uuid.UUID, dukcapil_admin: dict[str, str]
) -> None:
    published = await _published(client, dukcapil_admin, dukcapil)
    assert published["version"] == 1
    assert published["status"] == "published"
    public = (await client.get(f"/api/v1/services/{published['id']}")).json()
    assert public["status"] == "published"
    assert public["latest_version"] == 1
    assert public["form_schema"] == FORM
    assert public["requirements"][0]["accepted_types"] == ["application/pdf", "image/jpeg"]
    [event] = await _outbox(client, "mpp.catalog.service.published", published["id"])
    assert event["type"] == "mpp.catalog.service.published"
    assert event["data"]["version"] == 1
    assert event["data"]["form_schema"] == FORM
    assert event["data"]["prefill"] == SERVICE["prefill"]
    assert event["data"]["agency_timezone"] == "Asia/Makassar"
    assert event["data"]["agency_name"] == "Dinas Dukcapil Kota Samarinda (uji)"


async def test_publishing_twice_is_409_no_draft(
    client: httpx.AsyncClient, dukcapil: uuid.UUID, dukcapil_admin: dict[str, str]
) -> None:
    published = await _published(client, dukcapil_admin, dukcapil)
    again = await client.post(f"/api/v1/services/{published['id']}/publish", headers=dukcapil_admin)
    assert again.status_code == 409
    assert again.json()["code"] == "no_draft"


async def test_incomplete_draft_cannot_be_published(
    client: httpx.AsyncClient, dukcapil: uuid.UUID, dukcapil_admin: dict[str, str]
) -> None:
    body = {"agency_id": str(dukcapil), "code": f"min-{uuid.uuid4().hex[:6]}", "name": "Baru"}
    draft = await client.post("/api/v1/services", json=body, headers=dukcapil_admin)
    assert draft.status_code == 201
    response = await client.post(
        f"/api/v1/services/{draft.json()['id']}/publish", headers=dukcapil_admin
    )
    assert response.status_code == 422
    assert response.json()["code"] == "incomplete_service"
    missing = {error["loc"][0] for error in response.json()["errors"]}
    assert {"description", "sla_working_days", "output", "stages"} <= missing


async def test_editing_a_published_service_makes_a_new_draft_and_leaves_the_version_alone(
    client: httpx.AsyncClient, dukcapil: uuid.UUID, dukcapil_admin: dict[str, str]
) -> None:
    published = await _published(client, dukcapil_admin, dukcapil)
    service_id = published["id"]
    edit = await client.patch(
        f"/api/v1/services/{service_id}/draft",
        json={"sla_working_days": 3, "fee": {"amount_idr": 10000}},
        headers=dukcapil_admin,
    )
    assert edit.status_code == 200
    assert edit.json()["version"] == 2
    assert edit.json()["status"] == "draft"
    assert edit.json()["name"] == SERVICE["name"]  # copied from version 1
    latest = (await client.get(f"/api/v1/services/{service_id}")).json()
    assert latest["version"] == 1
    assert latest["sla_working_days"] == 1

    second = await client.patch(
        f"/api/v1/services/{service_id}/draft",
        json={"output": "KTP-el baru"},
        headers=dukcapil_admin,
    )
    assert second.json()["version"] == 2  # the same draft, edited again
    assert second.json()["sla_working_days"] == 3

    publish = await client.post(f"/api/v1/services/{service_id}/publish", headers=dukcapil_admin)
    assert publish.json()["version"] == 2
    latest = (await client.get(f"/api/v1/services/{service_id}")).json()
    assert (latest["version"], latest["sla_working_days"], latest["output"]) == (
        2,
        3,
        "KTP-el baru",
    )
    old = (await client.get(f"/api/v1/services/{service_id}", params={"version": 1})).json()
    assert (old["version"], old["status"], old["sla_working_days"]) == (1, "superseded", 1)
    assert (await client.get(f"/api/v1/services/{service_id}?version=3")).status_code == 404


async def test_database_refuses_to_change_a_published_version(
    client: httpx.AsyncClient, dukcapil: uuid.UUID, dukcapil_admin: dict[str, str]
) -> None:
    published = await _published(client, dukcapil_admin, dukcapil)
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    async with runtime.session_factory()() as session:
        with pytest.raises(DBAPIError, match="published and cannot change"):
            await session.execute(
                text(
                    "UPDATE service_versions SET fields = '{}' WHERE service_id = :id "
                    "AND version = 1"
                ),
                {"id": published["id"]},
            )
        await session.rollback()


async def test_agency_admin_cannot_touch_another_agencys_service(
    client: httpx.AsyncClient,
    dukcapil: uuid.UUID,
    dukcapil_admin: dict[str, str],
    other_admin: dict[str, str],
) -> None:
    published = await _published(client, dukcapil_admin, dukcapil)
    service = f"/api/v1/services/{published['id']}"
    attempts = [
        await client.patch(f"{service}/draft", json={"name": "Dibajak"}, headers=other_admin),
        await client.get(f"{service}/draft", headers=other_admin),
        await client.post(f"{service}/publish", headers=other_admin),
        await client.post(f"{service}/retire", headers=other_admin),
    ]
    assert [a.status_code for a in attempts] == [404, 404, 404, 404]
    latest = (await client.get(service)).json()
    assert (latest["name"], latest["status"]) == (SERVICE["name"], "published")


async def test_platform_admin_may_change_any_agencys_service(
    client: httpx.AsyncClient,
    dukcapil: uuid.UUID,
    dukcapil_admin: dict[str, str],
    admin: dict[str, str],
) -> None:
    published = await _published(client, dukcapil_admin, dukcapil)
    edit = await client.patch(
        f"/api/v1/services/{published['id']}/draft",
        json={"name": "KTP-el (revisi)"},
        headers=admin,
    )
    assert edit.status_code == 200


async def test_retired_service_stays_readable_but_leaves_search(
    client: httpx.AsyncClient, dukcapil: uuid.UUID, dukcapil_admin: dict[str, str]
) -> None:
    published = await _published(
        client, dukcapil_admin, dukcapil, name="Legalisir Dokumen Kependudukan Lama"
    )
    found = await client.get("/api/v1/services", params={"q": "legalisir"})
    assert [item["id"] for item in found.json()["items"]] == [published["id"]]
    retire = await client.post(f"/api/v1/services/{published['id']}/retire", headers=dukcapil_admin)
    assert retire.status_code == 200
    assert retire.json()["status"] == "retired"
    latest = (await client.get(f"/api/v1/services/{published['id']}")).json()
    assert latest["status"] == "retired"
    assert (await client.get("/api/v1/services", params={"q": "legalisir"})).json()["items"] == []
    again = await client.post(f"/api/v1/services/{published['id']}/retire", headers=dukcapil_admin)
    assert again.status_code == 409
    [event] = await _outbox(client, "mpp.catalog.service.retired", published["id"])
    assert event["data"]["version"] == 1


async def test_service_read_answers_304_until_a_new_version_is_published(
    client: httpx.AsyncClient, dukcapil: uuid.UUID, dukcapil_admin: dict[str, str]
) -> None:
    published = await _published(client, dukcapil_admin, dukcapil)
    url = f"/api/v1/services/{published['id']}"
    first = await client.get(url)
    etag = first.headers["etag"]
    assert first.headers["cache-control"].startswith("public, max-age=")
    cached = await client.get(url, headers={"If-None-Match": etag})
    assert cached.status_code == 304
    assert cached.content == b""
    await client.patch(f"{url}/draft", json={"sla_working_days": 2}, headers=dukcapil_admin)
    await client.post(f"{url}/publish", headers=dukcapil_admin)
    fresh = await client.get(url, headers={"If-None-Match": etag})
    assert fresh.status_code == 200
    assert fresh.json()["version"] == 2


# --- agencies ---------------------------------------------------------------------------------


async def test_only_platform_admin_creates_agencies(
    client: httpx.AsyncClient, dukcapil_admin: dict[str, str]
) -> None:
    body = {"name": "Dinas Baru", "kind": "opd", "region_code": "64.72"}
    response = await client.post("/api/v1/agencies", json=body, headers=dukcapil_admin)
    assert response.status_code == 403


async def test_agency_needs_an_existing_region_and_a_known_kind(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    unknown_region = await client.post(
        "/api/v1/agencies",
        json={"name": "Dinas Fiktif", "kind": "opd", "region_code": "99.99"},
        headers=admin,
    )
    assert unknown_region.status_code == 422
    assert unknown_region.json()["code"] == "unknown_region"
    bad_kind = await client.post(
        "/api/v1/agencies",
        json={"name": "Dinas Fiktif", "kind": "swasta", "region_code": "64.72"},
        headers=admin,
    )
    assert bad_kind.status_code == 422
    assert bad_kind.json()["code"] == "validation_error"


async def test_agency_creation_is_idempotent_and_announced(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    headers = {**admin, "Idempotency-Key": str(uuid.uuid4())}
    body = {"name": "Kantor Imigrasi Samarinda (uji)", "kind": "vertical", "region_code": "64.72"}
    first = await client.post("/api/v1/agencies", json=body, headers=headers)
    again = await client.post("/api/v1/agencies", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    assert first.json()["region_name"] == "Kota Samarinda"
    assert first.json()["timezone"] == "Asia/Makassar"
    events = await _outbox(client, "mpp.catalog.agency.created", first.json()["id"])
    assert len(events) == 1
    duplicate = await client.post("/api/v1/agencies", json=body, headers=admin)
    assert duplicate.status_code == 409


async def test_agency_admin_edits_own_agency_only_and_updates_are_announced(
    client: httpx.AsyncClient,
    dukcapil: uuid.UUID,
    other_agency: uuid.UUID,
    dukcapil_admin: dict[str, str],
) -> None:
    pledge = {"service_pledge": "Kami siap melayani dengan sepenuh hati."}
    own = await client.patch(f"/api/v1/agencies/{dukcapil}", json=pledge, headers=dukcapil_admin)
    assert own.status_code == 200
    assert own.json()["service_pledge"] == pledge["service_pledge"]
    assert own.json()["revision"] >= 2
    other = await client.patch(
        f"/api/v1/agencies/{other_agency}", json=pledge, headers=dukcapil_admin
    )
    assert other.status_code == 404
    events = await _outbox(client, "mpp.catalog.agency.updated", str(dukcapil))
    assert events[-1]["data"]["revision"] == own.json()["revision"]
