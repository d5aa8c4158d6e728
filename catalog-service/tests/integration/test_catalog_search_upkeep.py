"""Search follows the catalogue as it changes, and migration 0003 can be undone and redone."""

from __future__ import annotations

import copy
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from alembic import command
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from catalog.main import MIGRATIONS_DIR
from catalog.runtime import CatalogRuntime
from mpp_shared.db.migrations import alembic_config

FORM = {"type": "object", "properties": {"nik": {"type": "string"}}}

SERVICE = {
    "description": "Layanan uji pencarian.",
    "category": "perizinan",
    "keywords": ["uji"],
    "region_codes": ["64.72"],
    "procedure": ["Ajukan."],
    "stages": [{"code": "proses", "name": "Proses"}],
    "sla_working_days": 2,
    "output": "Surat",
    "complaint_channel": "SP4N-LAPOR!",
    "channels": ["online"],
    "form_schema": FORM,
}


@pytest.fixture(scope="module")
async def client(catalog_app_client: Callable[..., Any]) -> AsyncIterator[httpx.AsyncClient]:
    async with catalog_app_client() as opened:
        yield opened


@pytest.fixture(scope="module")
async def admin(
    client: httpx.AsyncClient, catalog_token: Callable[..., dict[str, str]]
) -> dict[str, str]:
    return catalog_token(roles=["platform_admin"])


@pytest.fixture(scope="module")
async def agency_id(client: httpx.AsyncClient, admin: dict[str, str]) -> str:
    response = await client.post(
        "/api/v1/agencies",
        json={"name": "Dinas Uji Pencarian", "kind": "opd", "region_code": "64.72"},
        headers=admin,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _publish(
    client: httpx.AsyncClient, admin: dict[str, str], agency_id: str, name: str
) -> str:
    body = {
        **copy.deepcopy(SERVICE),
        "agency_id": agency_id,
        "code": f"svc-{uuid.uuid4().hex[:8]}",
        "name": name,
    }
    created = await client.post("/api/v1/services", json=body, headers=admin)
    assert created.status_code == 201, created.text
    service_id = str(created.json()["id"])
    published = await client.post(f"/api/v1/services/{service_id}/publish", headers=admin)
    assert published.status_code == 200, published.text
    return service_id


async def _found(client: httpx.AsyncClient, q: str, **params: str) -> list[str]:
    response = await client.get("/api/v1/services", params={"q": q, **params})
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


async def test_new_service_is_found_by_its_words_and_by_a_typo(
    client: httpx.AsyncClient, admin: dict[str, str], agency_id: str
) -> None:
    service_id = await _publish(client, admin, agency_id, "Izin Usaha Kuliner Malam")
    assert await _found(client, "kuliner") == [service_id]
    assert await _found(client, "kulinr malam") == [service_id]
    assert await _found(client, "kulinr malam", region_code="64.72.01") == [service_id]
    assert await _found(client, "kulinr malam", region_code="11.74") == []


async def test_new_version_is_found_by_its_new_name_and_no_longer_by_the_old(
    client: httpx.AsyncClient, admin: dict[str, str], agency_id: str
) -> None:
    service_id = await _publish(client, admin, agency_id, "Izin Penyelenggaraan Pasar Kaget")
    edit = await client.patch(
        f"/api/v1/services/{service_id}/draft",
        json={"name": "Izin Penyelenggaraan Bazar Ramadan"},
        headers=admin,
    )
    assert edit.status_code == 200, edit.text
    # The draft is not what search shows: the published version still is.
    assert await _found(client, "pasar kaget") == [service_id]
    assert await _found(client, "bazar ramadan") == []

    published = await client.post(f"/api/v1/services/{service_id}/publish", headers=admin)
    assert published.status_code == 200, published.text
    assert await _found(client, "bazar ramadan") == [service_id]
    assert await _found(client, "pasar kaget") == []
    assert await _found(client, "pasr kagett") == []  # the old text's typo neither


async def test_retired_service_leaves_the_typo_search_too(
    client: httpx.AsyncClient, admin: dict[str, str], agency_id: str
) -> None:
    name = "Rekomendasi Teknis Menara Telekomunikasi"
    service_id = await _publish(client, admin, agency_id, name)
    assert await _found(client, "menra telekomunkasi") == [service_id]
    retired = await client.post(f"/api/v1/services/{service_id}/retire", headers=admin)
    assert retired.status_code == 200, retired.text
    assert await _found(client, "menara") == []
    assert await _found(client, "menra telekomunkasi") == []


QUERIES = ["ktp", "akta lahir", "pasp", "pasport", "izin", "kartu keluarga"]


async def test_migration_0003_can_be_undone_and_redone_with_the_same_answers(
    catalog_app_client: Callable[..., Any],
) -> None:
    async with catalog_app_client(seed_demo_data=True) as client:
        before = {q: await _found(client, q, limit="100") for q in QUERIES}
        assert all(before.values())
        runtime = client.app.state.runtime  # type: ignore[attr-defined]
        await _migrate(runtime.engine, "downgrade", "0002")
        pool = runtime.state_as(CatalogRuntime).open_read_pool().pool
        assert await pool.fetchval("SELECT to_regclass('service_search')") is None
        await _migrate(runtime.engine, "upgrade", "head")
        # The pool's prepared statements named the tables that were dropped.
        await pool.expire_connections()
        assert {q: await _found(client, q, limit="100") for q in QUERIES} == before


async def _migrate(engine: AsyncEngine, direction: str, revision: str) -> None:
    def run(connection: Connection) -> None:
        config = alembic_config(MIGRATIONS_DIR)
        config.attributes["connection"] = connection
        getattr(command, direction)(config, revision)

    async with engine.connect() as connection:
        await connection.run_sync(run)
        await connection.commit()
