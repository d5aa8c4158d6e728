"""The catalogue's read copy: kept from catalog-service's events, and filled from its snapshot
when the events stream no longer holds what was published before this service existed."""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, cast

import httpx
import nats
import pytest
from nats.aio.msg import Msg

from mpp_shared.contracts.catalog import v1 as catalog
from mpp_shared.embedded import EmbeddedNats
from mpp_shared.events.envelope import new_event
from mpp_shared.events.stream import EVENTS_STREAM, ensure_event_streams
from mpp_shared.testing.events import publish_like_relay


async def _eventually(check: Callable[[], Awaitable[bool]], *, within: float = 15.0) -> None:
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, "not within the time allowed"
        await asyncio.sleep(0.1)


async def _create(client: httpx.AsyncClient, who: Any, service_id: Any) -> httpx.Response:
    return await client.post(
        "/api/v1/applications",
        json={"service_id": str(service_id), "prefill_consent": False},
        headers=who.headers,
    )


def _published(payload: dict[str, Any]) -> Any:
    return new_event(
        type=catalog.SERVICE_PUBLISHED,
        source=catalog.SOURCE,
        data=catalog.ServicePublished.model_validate(payload),
    )


def _retired(payload: dict[str, Any]) -> Any:
    data = catalog.ServiceRetired(
        service_id=payload["service_id"],
        agency_id=payload["agency_id"],
        version=payload["version"],
        retired_at=datetime.now(UTC),
    )
    return new_event(type=catalog.SERVICE_RETIRED, source=catalog.SOURCE, data=data)


@pytest.fixture
async def as_catalog(infrastructure: Any) -> AsyncIterator[Any]:
    """catalog-service's NATS user on the session's server: its JetStream context."""
    nc = await nats.connect(
        infrastructure.nats_url, **infrastructure.nats_connect_options("catalog")
    )
    try:
        yield nc.jetstream()
    finally:
        await nc.drain()


async def test_published_and_retired_events_keep_the_copy_and_applications_keep_their_version(
    application_app_client: Callable[..., Any],
    new_service: Callable[..., dict[str, Any]],
    citizen: Callable[..., Any],
    samples: Any,
    as_catalog: Any,
) -> None:
    who = citizen()
    v1 = new_service()
    # Version 2 asks for one more field: what version 1's applications never had to give.
    form_v2 = copy.deepcopy(v1["form_schema"])
    form_v2["required"].append("phone")
    v2 = {**v1, "version": 2, "name": "Penerbitan KTP-el (baru)", "form_schema": form_v2}

    async with application_app_client() as client:
        await publish_like_relay(as_catalog, _published(v1))

        async def known() -> bool:
            return (await _create(client, who, v1["service_id"])).status_code == 201

        await _eventually(known)
        first = (await _create(client, who, v1["service_id"])).json()
        assert first["service_version"] == 1

        await publish_like_relay(as_catalog, _published(v2))

        async def at_version_2() -> bool:
            created = await _create(client, who, v1["service_id"])
            return bool(created.json()["service_version"] == 2)

        await _eventually(at_version_2)
        second = (await _create(client, who, v1["service_id"])).json()
        # A late repeat of version 1 does not move the service back.
        await publish_like_relay(as_catalog, _published(v1))
        await asyncio.sleep(1.0)
        assert (await _create(client, who, v1["service_id"])).json()["service_version"] == 2

        # Each application is checked against the version it was made with.
        for application in (first, second):
            path = f"/api/v1/applications/{application['id']}"
            await client.patch(path, json={"form_data": samples.valid_form}, headers=who.headers)
            upload = await client.post(
                f"{path}/documents",
                data={"requirement_code": "kk"},
                files={"file": ("kk.pdf", samples.pdf, "application/pdf")},
                headers=who.headers,
            )
            assert upload.status_code == 201, upload.text
        assert (await client.post(f"/api/v1/applications/{first['id']}/submit",
                                  headers=who.headers)).status_code == 200  # fmt: skip
        refused = await client.post(
            f"/api/v1/applications/{second['id']}/submit", headers=who.headers
        )
        assert refused.status_code == 422
        assert any("phone" in str(e) for e in refused.json()["errors"])

        await publish_like_relay(as_catalog, _retired(v2))

        async def retired() -> bool:
            created = await _create(client, who, v1["service_id"])
            return created.status_code == 403 and created.json()["code"] == "service_retired"

        await _eventually(retired)
        # Existing applications carry on with their own version.
        read = await client.get(f"/api/v1/applications/{first['id']}", headers=who.headers)
        assert read.json()["service_version"] == 1
        assert read.json()["status"] == "submitted"


async def test_a_fresh_service_learns_what_a_retention_limited_stream_no_longer_holds(
    private_nats: Callable[[], object],
    application_app_client: Callable[..., Any],
    new_service: Callable[..., dict[str, Any]],
    citizen: Callable[..., Any],
) -> None:
    server = cast(EmbeddedNats, private_nats())
    old, recent = new_service(), new_service()
    operator = await nats.connect(server.url, **server.connect_options("tester"))
    catalogue = await nats.connect(server.url, **server.connect_options("catalog"))
    try:
        js = operator.jetstream()
        await ensure_event_streams(js)
        info = await js.stream_info(EVENTS_STREAM)
        # The operator's retention: the stream keeps the last event only (the oldest goes).
        await js.update_stream(dataclasses.replace(info.config, max_msgs=1))
        await publish_like_relay(catalogue.jetstream(), _published(old))
        await publish_like_relay(catalogue.jetstream(), _published(recent))
        state = (await js.stream_info(EVENTS_STREAM)).state
        assert (state.messages, state.first_seq) == (1, 2)  # "old" is gone from the stream

        # catalog-service answers the snapshot with everything it has published.
        async def answer(msg: Msg) -> None:
            page = catalog.ServicesSnapshotPage(
                items=[catalog.ServicePublished.model_validate(p) for p in (old, recent)],
                next=None,
            )
            await msg.respond(page.model_dump_json().encode())

        async def no_locations(msg: Msg) -> None:
            page = catalog.LocationsSnapshotPage(items=[], next=None)
            await msg.respond(page.model_dump_json().encode())

        await catalogue.subscribe(catalog.SNAPSHOT_SUBJECT, cb=answer)
        await catalogue.subscribe(catalog.LOCATIONS_SNAPSHOT_SUBJECT, cb=no_locations)
        await catalogue.flush()

        who = citizen()
        async with application_app_client(**server.settings("application")) as client:

            async def ready() -> bool:
                return (await client.get("/readyz")).status_code == 200

            await _eventually(ready)
            for payload in (old, recent):
                created = await _create(client, who, payload["service_id"])
                assert created.status_code == 201, created.text
                assert created.json()["service_version"] == 1
            unknown = await _create(client, who, uuid.uuid4())
            assert unknown.status_code == 404
        # The service's own start did not lift the operator's limit.
        assert (await js.stream_info(EVENTS_STREAM)).config.max_msgs == 1
    finally:
        await catalogue.drain()
        await operator.drain()
