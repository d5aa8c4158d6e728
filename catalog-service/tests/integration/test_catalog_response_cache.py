"""Cached reads: repeats come from memory; every change empties every replica's cache."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

from mpp_shared.testing.infrastructure import TestInfrastructure as Infrastructure

FORM = {"type": "object", "properties": {"nik": {"type": "string"}}}


def _service(agency_id: str, name: str) -> dict[str, Any]:
    return {
        "agency_id": agency_id,
        "code": f"svc-{uuid.uuid4().hex[:8]}",
        "name": name,
        "description": "Layanan uji untuk cache.",
        "category": "lainnya",
        "procedure": ["Ajukan."],
        "stages": [{"code": "proses", "name": "Proses"}],
        "sla_working_days": 2,
        "output": "Surat",
        "complaint_channel": "SP4N-LAPOR!",
        "form_schema": FORM,
    }


async def _wait_for(condition: Callable[[], bool]) -> None:
    for _ in range(200):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("not within 10 s")


async def test_a_change_on_one_replica_empties_the_other_replicas_cache(
    catalog_app_client: Callable[..., Any],
    catalog_token: Callable[..., dict[str, str]],
    infrastructure: Infrastructure,
) -> None:
    database_url = infrastructure.create_database("catalog_replicas")
    admin = catalog_token(roles=["platform_admin"])
    async with (
        catalog_app_client(database_url=database_url) as writer,
        catalog_app_client(database_url=database_url) as reader,
    ):
        cache = reader.app.state.response_cache  # type: ignore[attr-defined]
        before_agency = cache.generation
        agency = await writer.post(
            "/api/v1/agencies",
            json={"name": "Dinas Uji Cache", "kind": "opd", "region_code": "35.74"},
            headers=admin,
        )
        agency_id = agency.json()["id"]
        # The agency's own event reaches the reader first; from then on nothing is in flight.
        await _wait_for(lambda: cache.generation > before_agency)
        query = {"q": "kuliner"}
        assert (await reader.get("/api/v1/services", params=query)).json()["items"] == []
        assert len(cache) == 1
        generation = cache.generation

        created = await writer.post(
            "/api/v1/services", json=_service(agency_id, "Izin Usaha Kuliner"), headers=admin
        )
        published = await writer.post(
            f"/api/v1/services/{created.json()['id']}/publish", headers=admin
        )
        assert published.status_code == 200
        # The reader learns of the change from the writer's event, through NATS.
        await _wait_for(lambda: cache.generation > generation)
        items = (await reader.get("/api/v1/services", params=query)).json()["items"]
        assert [item["name"] for item in items] == ["Izin Usaha Kuliner"]


async def test_repeated_read_is_served_from_the_cache_with_its_etag(
    catalog_app_client: Callable[..., Any],
) -> None:
    async with catalog_app_client() as client:
        first = await client.get("/api/v1/regions/35.74")
        cache = client.app.state.response_cache  # type: ignore[attr-defined]
        assert len(cache) == 1
        again = await client.get("/api/v1/regions/35.74")
        assert again.content == first.content
        assert again.headers["etag"] == first.headers["etag"]
        assert again.headers["x-request-id"] != first.headers["x-request-id"]
        cached_304 = await client.get(
            "/api/v1/regions/35.74", headers={"If-None-Match": first.headers["etag"]}
        )
        assert cached_304.status_code == 304


async def test_metrics_count_hits_and_misses(catalog_app_client: Callable[..., Any]) -> None:
    async with catalog_app_client() as client:
        for _ in range(3):
            assert (await client.get("/api/v1/regions/35.74")).status_code == 200
        await client.get("/api/v1/regions/64.09")
        metrics = (await client.get("/metrics")).text

    assert 'catalog_response_cache_requests_total{outcome="hit"} 2.0' in metrics
    assert 'catalog_response_cache_requests_total{outcome="miss"} 2.0' in metrics
    assert "catalog_response_cache_entries 2.0" in metrics


async def test_errors_are_not_cached(catalog_app_client: Callable[..., Any]) -> None:
    async with catalog_app_client() as client:
        missing = await client.get(f"/api/v1/services/{uuid.uuid4()}")
        assert missing.status_code == 404
        assert len(client.app.state.response_cache) == 0  # type: ignore[attr-defined]


async def test_cache_can_be_turned_off(catalog_app_client: Callable[..., Any]) -> None:
    async with catalog_app_client(response_cache_seconds=0) as client:
        assert (await client.get("/api/v1/regions/35.74")).status_code == 200
        assert len(client.app.state.response_cache) == 0  # type: ignore[attr-defined]
