"""A fresh application-service learns the catalogue from the snapshot, and is not ready before."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx
import nats
from nats.aio.msg import Msg

from mpp_shared.contracts.catalog import v1 as catalog


async def _readiness(client: httpx.AsyncClient) -> tuple[int, dict[str, Any]]:
    response = await client.get("/readyz")
    return response.status_code, response.json()


async def test_a_fresh_service_is_ready_only_once_the_catalogue_snapshot_is_loaded(
    infrastructure: Any,
    application_app_client: Callable[..., Any],
    new_service: Callable[..., dict[str, Any]],
    citizen: Callable[..., Any],
) -> None:
    published = catalog.ServicePublished.model_validate(new_service())
    asked: list[catalog.ServicesSnapshotRequest] = []

    async def answer(msg: Msg) -> None:
        asked.append(catalog.ServicesSnapshotRequest.model_validate_json(msg.data))
        page = catalog.ServicesSnapshotPage(items=[published], next=None)
        await msg.respond(page.model_dump_json().encode())

    async with application_app_client() as client:
        # No catalogue answers yet: the read copy is empty, so the service is not ready.
        await asyncio.sleep(1.0)
        status, body = await _readiness(client)
        assert status == 503
        assert body["checks"]["catalogue"] is False

        nc = await nats.connect(
            infrastructure.nats_url, **infrastructure.nats_connect_options("catalog")
        )
        try:
            await nc.subscribe(catalog.SNAPSHOT_SUBJECT, cb=answer)
            await nc.flush()
            deadline = time.monotonic() + 10.0
            while (await _readiness(client))[0] != 200:
                assert time.monotonic() < deadline, await _readiness(client)
                await asyncio.sleep(0.2)
        finally:
            await nc.drain()

        created = await client.post(
            "/api/v1/applications",
            json={"service_id": str(published.service_id), "prefill_consent": False},
            headers=citizen().headers,
        )

    assert asked
    assert asked[0].all_versions is True
    assert created.status_code == 201, created.text
    assert created.json()["service_version"] == published.version
