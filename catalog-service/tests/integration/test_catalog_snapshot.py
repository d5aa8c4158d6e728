"""The catalogue snapshot over NATS request-reply: a service that starts after the events expired
learns every published service, page by page, as the ServicePublished payloads the events carried;
only application-service may ask."""

from __future__ import annotations

import asyncio
import copy
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import nats
import pytest
from nats.aio.client import Client
from nats.errors import NoRespondersError
from sqlalchemy import select

from catalog.db.repositories import SqlSnapshotReader
from catalog.domain.snapshot import services_snapshot
from mpp_shared.contracts.catalog import v1 as contract
from mpp_shared.events.permissions import NatsAuthorization
from mpp_shared.events.tables import outbox
from mpp_shared.testing.infrastructure import TestInfrastructure as Infrastructure

SERVICE = {
    "name": "Penerbitan Akta Kelahiran",
    "description": "Penerbitan akta kelahiran bagi penduduk.",
    "category": "kependudukan",
    "keywords": ["akta", "lahir"],
    "region_codes": ["64.72"],
    "requirements": [
        {
            "code": "kk",
            "name": "Kartu Keluarga",
            "mandatory": True,
            "accepted_types": ["application/pdf"],
            "max_size_mb": 2,
        }
    ],
    "procedure": ["Isi formulir.", "Verifikasi.", "Cetak akta."],
    "stages": [{"code": "verifikasi", "name": "Verifikasi"}],
    "sla_working_days": 3,
    "fee": {"amount_idr": 0, "note": "Gratis"},
    "output": "Akta kelahiran",
    "legal_basis": ["UU 24/2013"],
    "complaint_channel": "SP4N-LAPOR!",
    "channels": ["online"],
    "min_assurance_level": 1,
    "form_schema": {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {"full_name": {"type": "string"}},
    },
    "prefill": {"full_name": "full_name"},
}


class Catalogue:
    """The app, and what the test published in it."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.latest: dict[str, int] = {}  # service id -> latest published version
        self.retired: set[str] = set()
        self.draft_only: str = ""


@pytest.fixture(scope="module")
async def catalogue(
    catalog_app_client: Callable[..., Any], catalog_token: Callable[..., dict[str, str]]
) -> AsyncIterator[Catalogue]:
    async with catalog_app_client() as client:
        admin = catalog_token(roles=["platform_admin"])
        agency = await client.post(
            "/api/v1/agencies",
            json={
                "name": "Disdukcapil Kota Samarinda (snapshot)",
                "kind": "opd",
                "region_code": "64.72",
            },
            headers=admin,
        )
        assert agency.status_code == 201, agency.text
        agency_id = agency.json()["id"]
        editor = catalog_token(roles=["agency_admin"], agency_id=uuid.UUID(agency_id))
        found = Catalogue(client)

        async def draft() -> str:
            body = {
                **copy.deepcopy(SERVICE),
                "agency_id": agency_id,
                "code": f"svc-{uuid.uuid4().hex[:8]}",
            }
            response = await client.post("/api/v1/services", json=body, headers=editor)
            assert response.status_code == 201, response.text
            return str(response.json()["id"])

        async def publish(service_id: str) -> None:
            response = await client.post(f"/api/v1/services/{service_id}/publish", headers=editor)
            assert response.status_code == 200, response.text
            found.latest[service_id] = response.json()["version"]

        for _ in range(5):
            await publish(await draft())
        ids = sorted(found.latest)
        # One service with a second version, one retired, one never published.
        edit = await client.patch(
            f"/api/v1/services/{ids[0]}/draft", json={"sla_working_days": 5}, headers=editor
        )
        assert edit.status_code == 200, edit.text
        await publish(ids[0])
        retire = await client.post(f"/api/v1/services/{ids[1]}/retire", headers=editor)
        assert retire.status_code == 200, retire.text
        found.retired.add(ids[1])
        found.draft_only = await draft()
        yield found


async def _connect(infrastructure: Infrastructure, user: str, errors: list[str]) -> Client:
    assert infrastructure.nats_authorization is not None

    async def on_error(exc: Exception) -> None:
        errors.append(str(exc))

    return await nats.connect(
        infrastructure.nats_url,
        error_cb=on_error,
        **infrastructure.nats_authorization.credentials(user).connect_options(),
    )


@pytest.fixture
async def application(
    infrastructure: Infrastructure, nats_authorization: NatsAuthorization
) -> AsyncIterator[Client]:
    """A connection as application-service, the one service allowed to ask."""
    client = await _connect(infrastructure, "application", [])
    yield client
    await client.close()


async def _request(client: Client, body: bytes) -> bytes:
    deadline = time.monotonic() + 5
    while True:
        try:
            reply = await client.request(contract.SNAPSHOT_SUBJECT, body, timeout=5)
            return bytes(reply.data)
        except NoRespondersError:
            # The responder subscribes right after the app connects; give it a moment.
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)


async def _pages(client: Client, **request: Any) -> list[contract.ServicesSnapshotPage]:
    pages: list[contract.ServicesSnapshotPage] = []
    after: str | None = None
    while True:
        body = contract.ServicesSnapshotRequest(after=after, **request).model_dump_json()
        page = contract.parse_snapshot_reply(await _request(client, body.encode()))
        assert isinstance(page, contract.ServicesSnapshotPage), page
        pages.append(page)
        if page.next is None:
            return pages
        after = page.next
        assert len(pages) < 100, "the cursor does not advance"


async def _published_events(catalogue: Catalogue) -> dict[tuple[str, int], dict[str, Any]]:
    runtime = catalogue.client.app.state.runtime  # type: ignore[attr-defined]
    async with runtime.session_factory()() as session:
        rows = await session.execute(
            select(outbox.c.envelope).where(outbox.c.subject == contract.SERVICE_PUBLISHED)
        )
        events = [row.envelope["data"] for row in rows]
    return {(e["service_id"], e["version"]): e for e in events}


async def test_application_gets_every_latest_published_version_across_pages(
    catalogue: Catalogue, application: Client
) -> None:
    pages = await _pages(application, limit=2)
    assert [len(p.items) for p in pages] == [2, 2, 1]
    items = [item for page in pages for item in page.items]
    assert {str(i.service_id): i.version for i in items} == catalogue.latest
    assert str(catalogue.draft_only) not in {str(i.service_id) for i in items}
    # Ordered by service id, so pages never overlap.
    assert [str(i.service_id) for i in items] == sorted(catalogue.latest)
    # Each item is the payload its mpp.catalog.service.published event carried.
    events = await _published_events(catalogue)
    for item in items:
        event = contract.ServicePublished.model_validate(
            events[(str(item.service_id), item.version)]
        )
        assert item == event
    assert items[0].sla_working_days == 5  # the second version of the first service


async def test_retired_services_come_with_their_retirement(
    catalogue: Catalogue, application: Client
) -> None:
    pages = await _pages(application, limit=2)
    retired = [r for page in pages for r in page.retired]
    assert {str(r.service_id) for r in retired} == catalogue.retired
    for page in pages:
        # In the page of the version it retired.
        page_ids = {(i.service_id, i.version) for i in page.items}
        assert all((r.service_id, r.version) in page_ids for r in page.retired)


async def test_all_versions_gives_earlier_versions_too(
    catalogue: Catalogue, application: Client
) -> None:
    pages = await _pages(application, limit=4, all_versions=True)
    items = [(str(i.service_id), i.version) for page in pages for i in page.items]
    expected = sorted(
        (service_id, version)
        for service_id, latest in catalogue.latest.items()
        for version in range(1, latest + 1)
    )
    assert items == expected
    assert len(items) == 6
    # The retirement only once, with the latest version.
    assert sum(len(p.retired) for p in pages) == 1


async def test_default_request_is_one_page_of_up_to_fifty(
    catalogue: Catalogue, application: Client
) -> None:
    page = contract.parse_snapshot_reply(await _request(application, b"{}"))
    assert isinstance(page, contract.ServicesSnapshotPage)
    assert len(page.items) == 5
    assert page.next is None


async def test_a_page_stops_before_its_byte_budget(catalogue: Catalogue) -> None:
    runtime = catalogue.client.app.state.runtime  # type: ignore[attr-defined]
    seen: list[uuid.UUID] = []
    after: str | None = None
    async with runtime.session_factory()() as session:
        while True:
            page = await services_snapshot(
                reader=SqlSnapshotReader(session),
                request=contract.ServicesSnapshotRequest(after=after, limit=50),
                max_bytes=1,
            )
            # Too small for any item: each page still carries one, so the snapshot advances.
            assert len(page.items) == 1
            seen.append(page.items[0].service_id)
            if page.next is None:
                break
            after = page.next
    assert sorted(map(str, seen)) == sorted(catalogue.latest)


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (b'{"limit": 0}', "limit"),
        (b'{"limit": 101}', "limit"),
        (b'{"after": "v1:not-a-uuid:1"}', "after"),
        (b'{"after": "somebody else\'s cursor"}', "after"),
        (b"not json", ""),
    ],
)
async def test_malformed_requests_get_invalid_request(
    catalogue: Catalogue, application: Client, body: bytes, detail: str
) -> None:
    answer = contract.parse_snapshot_reply(await _request(application, body))
    assert isinstance(answer, contract.RpcError)
    assert answer.error == "invalid_request"
    assert detail in (answer.detail or "")


@pytest.mark.parametrize("user", ["tracking", "identity", "gateway"])
async def test_other_services_may_not_ask(
    catalogue: Catalogue,
    application: Client,
    infrastructure: Infrastructure,
    nats_authorization: NatsAuthorization,
    user: str,
) -> None:
    await _request(application, b"{}")  # the responder is there
    errors: list[str] = []
    other = await _connect(infrastructure, user, errors)
    try:
        with pytest.raises((TimeoutError, NoRespondersError)):
            await other.request(contract.SNAPSHOT_SUBJECT, b"{}", timeout=1)
        deadline = time.monotonic() + 5
        while not errors and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        assert any("permissions violation" in e.lower() for e in errors), errors
    finally:
        await other.close()
