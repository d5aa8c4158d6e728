"""The catalogue answers a write only after it is committed."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from mpp_shared.testing.asgi import COMMIT, asgi_events


@pytest.fixture(scope="module")
async def client(catalog_app_client: Callable[..., Any]) -> AsyncIterator[httpx.AsyncClient]:
    async with catalog_app_client() as opened:
        yield opened


async def test_a_created_agency_is_committed_before_the_201_starts(
    client: httpx.AsyncClient, catalog_token: Callable[..., dict[str, str]]
) -> None:
    app = client.app  # type: ignore[attr-defined]
    events, status = await asgi_events(
        app,
        "POST",
        "/api/v1/agencies",
        engine=app.state.runtime.engine,
        json={
            "name": "Dinas Perpustakaan Kota Samarinda (uji)",
            "kind": "opd",
            "region_code": "64.72",
        },
        headers=catalog_token(roles=["platform_admin"]),
    )
    assert status == 201
    start = events.index("http.response.start")
    assert COMMIT in events[:start], events
    assert COMMIT not in events[start:], events
