"""Revocation at the edge: identity's AccessRevoked events refuse tokens on every replica."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import httpx
import nats
import pytest
from nats.aio.client import Client

from gateway.main import GatewayRuntime, create_app
from mpp_shared.embedded import EmbeddedNats, free_port
from mpp_shared.events.stream import ensure_event_streams
from mpp_shared.testing.client import app_client
from mpp_shared.testing.events import access_revoked_event, publish_like_relay
from mpp_shared.testing.infrastructure import TEST_NATS_USER, nats_authorization_for_tests

FakeService = Any


@pytest.fixture
def nats_server(private_nats: Callable[[], object]) -> EmbeddedNats:
    return cast(EmbeddedNats, private_nats())


@pytest.fixture
async def broker(nats_server: EmbeddedNats) -> AsyncIterator[Client]:
    """The test's own client; the events stream exists, as the services' relays create it."""
    # The tests' own user stands in for identity's outbox relay.
    client = await nats.connect(
        nats_server.url,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.2,
        **nats_server.connect_options(TEST_NATS_USER),
    )
    await ensure_event_streams(client.jetstream())
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
def settings(
    fake_service: tuple[FakeService, str],
    gateway_settings: Callable[..., Any],
    nats_server: EmbeddedNats,
) -> Any:
    return gateway_settings(
        fake_service[1],
        revocations="nats",
        **nats_server.settings("gateway"),
        rate_limit_enabled=False,
    )


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _wait_ready(client: httpx.AsyncClient, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while (response := await client.get("/readyz")).status_code != 200:
        if time.monotonic() > deadline:
            raise AssertionError(f"not ready: {response.text}")
        await asyncio.sleep(0.02)


async def _refused_after(client: httpx.AsyncClient, token: str, seconds: float) -> float:
    """Seconds until ``token`` is refused as revoked; fails after ``seconds``."""
    started = time.monotonic()
    while True:
        response = await client.get("/api/v1/me", headers=_bearer(token))
        if response.status_code == 401:
            assert response.headers["content-type"] == "application/problem+json"
            assert response.json()["code"] == "token_revoked"
            return time.monotonic() - started
        assert response.status_code == 200, response.text
        if time.monotonic() - started > seconds:
            raise AssertionError(f"still accepted after {seconds} s")
        await asyncio.sleep(0.01)


async def test_a_revoked_session_is_refused_by_every_replica_within_a_second(
    settings: Any, broker: Client, make_token: Callable[..., str]
) -> None:
    revoked = make_token(sid="session-logged-out", sub="citizen-a")
    unrelated = make_token(sid="session-still-open", sub="citizen-b")
    async with app_client(create_app(settings)) as one, app_client(create_app(settings)) as two:
        await _wait_ready(one)
        await _wait_ready(two)
        for replica in (one, two):  # verified and in each replica's token cache
            assert (await replica.get("/api/v1/me", headers=_bearer(revoked))).status_code == 200

        await publish_like_relay(
            broker.jetstream(), access_revoked_event(kind="session", id="session-logged-out")
        )
        latencies = await asyncio.gather(
            _refused_after(one, revoked, 1.0), _refused_after(two, revoked, 1.0)
        )
        still_open = [
            await replica.get("/api/v1/me", headers=_bearer(unrelated)) for replica in (one, two)
        ]

    assert max(latencies) < 1.0, latencies
    assert [response.status_code for response in still_open] == [200, 200]


async def test_a_gateway_started_after_the_revocation_refuses_the_token(
    settings: Any, broker: Client, make_token: Callable[..., str]
) -> None:
    revoked = make_token(sub="disabled-account")
    unrelated = make_token(sub="active-account")
    await publish_like_relay(
        broker.jetstream(),
        access_revoked_event(kind="account", id="disabled-account", reason="account_disabled"),
    )

    async with app_client(create_app(settings)) as late:
        await _wait_ready(late)
        refused = await late.get("/api/v1/me", headers=_bearer(revoked))
        accepted = await late.get("/api/v1/me", headers=_bearer(unrelated))

    assert refused.status_code == 401
    assert refused.json()["code"] == "token_revoked"
    assert refused.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
    assert accepted.status_code == 200


async def test_a_token_issued_after_the_revocation_is_accepted(
    settings: Any, broker: Client, make_token: Callable[..., str]
) -> None:
    await publish_like_relay(
        broker.jetstream(),
        access_revoked_event(
            kind="account", id="re-enabled", revoked_at=datetime.now(UTC) - timedelta(seconds=5)
        ),
    )
    async with app_client(create_app(settings)) as gateway:
        await _wait_ready(gateway)
        response = await gateway.get("/api/v1/me", headers=_bearer(make_token(sub="re-enabled")))

    assert response.status_code == 200, response.text


async def test_an_entry_past_until_is_dropped(
    fake_service: tuple[FakeService, str],
    gateway_settings: Callable[..., Any],
    nats_server: EmbeddedNats,
    broker: Client,
    make_token: Callable[..., str],
) -> None:
    # No leeway, so that the entry ends exactly at ``until``.
    settings = gateway_settings(
        fake_service[1], revocations="nats", **nats_server.settings("gateway"), jwt_leeway_seconds=0
    )
    token = make_token(jti="short-lived")
    now = datetime.now(UTC)
    app = create_app(settings)
    runtime: GatewayRuntime = app.state.gateway
    async with app_client(app) as gateway:
        await _wait_ready(gateway)
        await publish_like_relay(
            broker.jetstream(),
            access_revoked_event(kind="token", id="short-lived", until=now + timedelta(seconds=1)),
        )
        await _refused_after(gateway, token, 1.0)
        assert runtime.revocations is not None
        assert len(runtime.revocations) == 1

        await asyncio.sleep(
            max(0.0, (now + timedelta(seconds=1.1) - datetime.now(UTC)).total_seconds())
        )
        response = await gateway.get("/api/v1/me", headers=_bearer(token))

    assert response.status_code == 200, response.text
    assert len(runtime.revocations) == 0


async def test_the_gateway_is_not_ready_before_the_replay_and_keeps_its_list_without_nats(
    fake_service: tuple[FakeService, str],
    gateway_settings: Callable[..., Any],
    make_token: Callable[..., str],
    tmp_path: Path,
) -> None:
    server = EmbeddedNats(
        tmp_path / "nats" / "store", port=free_port(), authorization=nats_authorization_for_tests()
    )
    settings = gateway_settings(
        fake_service[1], revocations="nats", **server.settings("gateway"), rate_limit_enabled=False
    )
    revoked = make_token(sid="before-the-outage")
    later = make_token(sid="during-the-outage")
    try:
        async with app_client(create_app(settings)) as gateway:
            # NATS is not there yet: everything else is ready, the revocations are not.
            await asyncio.sleep(0.5)
            waiting = await gateway.get("/readyz")

            server.start()
            client = await nats.connect(
                server.url, max_reconnect_attempts=-1, **server.connect_options(TEST_NATS_USER)
            )
            await publish_like_relay(
                client.jetstream(), access_revoked_event(kind="session", id="before-the-outage")
            )
            await _wait_ready(gateway)
            refused = await gateway.get("/api/v1/me", headers=_bearer(revoked))
            await client.close()

            server.stop()
            during = await gateway.get("/readyz")
            still_refused = await gateway.get("/api/v1/me", headers=_bearer(revoked))
            still_served = await gateway.get("/api/v1/me", headers=_bearer(later))

            server.start()  # same port, same store
            client = await nats.connect(
                server.url, max_reconnect_attempts=-1, **server.connect_options(TEST_NATS_USER)
            )
            await publish_like_relay(
                client.jetstream(), access_revoked_event(kind="session", id="during-the-outage")
            )
            await client.close()
            # The client reconnects and the ordered consumer resumes after its last event.
            after_restart = await _refused_after(gateway, later, 15.0)
    finally:
        server.stop()

    assert waiting.status_code == 503
    checks = waiting.json()["checks"]
    assert checks.pop("revocations") is False
    assert all(checks.values()), checks
    assert refused.status_code == 401
    assert during.status_code == 200
    assert still_refused.status_code == 401
    assert still_served.status_code == 200
    print(f"refused {after_restart:.1f} s after NATS returned")
