"""Fixtures for the event tests: a database with the outbox/inbox, a NATS of the test's own."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, cast

import nats
import pytest
from nats.aio.client import Client
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from mpp_shared.embedded import EmbeddedNats
from mpp_shared.events.connection import NatsConnection
from mpp_shared.events.tables import EVENTS_METADATA
from mpp_shared.testing.infrastructure import TEST_NATS_USER


async def _eventually(
    check: Callable[[], Awaitable[Any]], *, within: float = 10.0, interval: float = 0.05
) -> Any:
    """Wait until ``check()`` returns something truthy and return it; fail after ``within`` s."""
    deadline = time.monotonic() + within
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within} s (last: {result!r})")
        await asyncio.sleep(interval)


@pytest.fixture
def eventually() -> Callable[..., Awaitable[Any]]:
    """``await eventually(check, within=...)``: polls an async check until it is truthy."""
    return _eventually


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(database_url)
    async with engine.begin() as conn:
        await conn.run_sync(EVENTS_METADATA.create_all)
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@pytest.fixture
def nats_server(private_nats: Callable[[], object]) -> EmbeddedNats:
    """A NATS of this test's own: streams and consumers of other tests cannot interfere."""
    return cast(EmbeddedNats, private_nats())


@pytest.fixture
async def connection(nats_server: EmbeddedNats) -> AsyncIterator[NatsConnection]:
    """What a service holds: the connection the relay and the consumers share."""
    conn = NatsConnection(
        nats_server.url, name="events-test", options=nats_server.connect_options(TEST_NATS_USER)
    )
    await conn.start()
    await conn.wait_connected(10)
    try:
        yield conn
    finally:
        await conn.close()


@pytest.fixture
async def observer(nats_server: EmbeddedNats) -> AsyncIterator[Client]:
    """A separate client the test uses to look at the streams, as an operator would."""
    client = await nats.connect(
        nats_server.url,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.2,
        **nats_server.connect_options(TEST_NATS_USER),
    )
    try:
        yield client
    finally:
        await client.close()
