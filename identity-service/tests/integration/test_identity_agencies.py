"""The local table of agencies follows ``mpp.catalog.agency.*`` events, once per event."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from typing import Any

import nats
from sqlalchemy import text

from identity.main import create_app
from mpp_shared.contracts.catalog import v1 as catalog
from mpp_shared.events import new_event
from mpp_shared.testing import infrastructure as infra
from mpp_shared.testing.client import app_client

from .conftest import ISSUER, make_settings


def _agency_event(event_type: str, agency_id: uuid.UUID, name: str, revision: int) -> Any:
    model = catalog.AgencyCreated if event_type == catalog.AGENCY_CREATED else catalog.AgencyUpdated
    return new_event(
        type=event_type,
        source=catalog.SOURCE,
        subject=str(agency_id),
        data=model(
            agency_id=agency_id,
            name=name,
            kind="opd",
            region_code="35.73",
            timezone="Asia/Jakarta",
            revision=revision,
        ),
    )


async def test_announced_agencies_become_known_once_and_never_go_back_in_time(
    infrastructure: infra.TestInfrastructure, dataset: Path, private_nats
):
    server = private_nats()
    settings = make_settings(infrastructure, dataset, **server.settings("identity"))
    app = create_app(settings)
    agency_id = uuid.uuid4()
    created = _agency_event(catalog.AGENCY_CREATED, agency_id, "Dinas Kesehatan", 1)
    renamed = _agency_event(catalog.AGENCY_UPDATED, agency_id, "Dinas Kesehatan Kota", 3)
    stale = _agency_event(catalog.AGENCY_UPDATED, agency_id, "Nama Lama", 2)

    async with app_client(app, base_url=ISSUER):
        sessionmaker = app.state.runtime.session_factory()

        async def row() -> Any:
            async with sessionmaker() as session:
                result = await session.execute(
                    text("SELECT name, revision FROM known_agencies WHERE agency_id = :a"),
                    {"a": agency_id},
                )
                return result.first()

        async def eventually(check: Any, expected: Any) -> Any:
            deadline = time.monotonic() + 15
            value = await check()
            while value != expected and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
                value = await check()
            return value

        # The catalogue's own user announces the agencies, as in a deployment.
        bus = await nats.connect(server.url, **server.connect_options("catalog"))
        js = bus.jetstream()
        await app.state.runtime.nats_connection().wait_connected(10)
        for event, message_id in ((created, created.id), (created, "again"), (renamed, renamed.id)):
            # The second publish is a redelivery in effect: same event, another message.
            await _publish(js, event, message_id)
        assert await eventually(row, ("Dinas Kesehatan Kota", 3)) == ("Dinas Kesehatan Kota", 3)

        await _publish(js, stale, stale.id)
        handled = await eventually(lambda: _inbox_count(sessionmaker), 3)
        await bus.close()

        assert handled == 3
        assert await row() == ("Dinas Kesehatan Kota", 3)


async def _publish(js: Any, event: Any, message_id: str) -> None:
    deadline = time.monotonic() + 10
    while True:
        try:
            await js.publish(event.type, event.to_json(), headers={"Nats-Msg-Id": message_id})
            return
        except Exception:
            # The stream appears once the service's relay or consumer has made it.
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


async def _inbox_count(sessionmaker: Any) -> int:
    async with sessionmaker() as session:
        count = await session.scalar(
            text("SELECT count(*) FROM event_inbox WHERE consumer = 'identity-agencies'")
        )
        return int(count or 0)
