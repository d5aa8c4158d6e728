"""Fixtures of the live-stream tests: tracking replicas served over real sockets (an
in-process ASGI client would buffer a stream to its end), sharing one database and NATS, and
a small Server-Sent Events reader."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import nats
import pytest

from mpp_shared.events import CloudEvent
from mpp_shared.testing.events import publish_like_relay
from mpp_shared.testing.keys import SigningKey
from mpp_shared.testing.server import served
from tracking.config import TrackingSettings
from tracking.main import create_app
from tracking.messaging.stream import StreamHub
from tracking.runtime import TrackingRuntime


@dataclass
class Replica:
    """One running tracking-service replica: its URL and app."""

    url: str
    app: Any

    @property
    def hub(self) -> StreamHub:
        return self.app.state.runtime.state_as(TrackingRuntime).stream_hub

    async def clients(self, count: int, seconds: float = 10) -> None:
        """Wait until exactly ``count`` stream clients are connected here."""
        async with asyncio.timeout(seconds):
            while True:
                if self.hub.clients == count:
                    return
                await asyncio.sleep(0.02)


@dataclass
class Cluster:
    """The replicas of one test and the application-service bus they consume from."""

    open_replica: Callable[..., Any]
    publish: Callable[..., Any]


@pytest.fixture
async def cluster(
    tracking_settings: Callable[..., TrackingSettings], tracking_signing_key: SigningKey
) -> AsyncIterator[Cluster]:
    """``async with cluster.open_replica(**settings) as replica``; every replica of the test
    has the same database and NATS server. ``await cluster.publish(*events)`` publishes
    application events as application-service's relay would."""
    server = tracking_settings.server  # type: ignore[attr-defined]
    bus = await nats.connect(server.url, **server.connect_options("application"))
    jetstream = bus.jetstream()

    @asynccontextmanager
    async def open_replica(**overrides: Any) -> AsyncIterator[Replica]:
        settings = tracking_settings(**overrides)
        jwks = tracking_signing_key.jwks
        jwks_http = httpx.AsyncClient(
            transport=httpx.MockTransport(lambda request: httpx.Response(200, json=jwks))
        )
        app = create_app(settings, jwks_http=jwks_http)
        try:
            async with served(app) as url:
                await app.state.runtime.nats_connection().wait_connected(10)
                yield Replica(url=url, app=app)
        finally:
            await jwks_http.aclose()

    async def publish(*events: CloudEvent) -> None:
        for event in events:
            await publish_like_relay(jetstream, event)

    try:
        yield Cluster(open_replica=open_replica, publish=publish)
    finally:
        await bus.close()


@dataclass
class Received:
    """One Server-Sent Events message (or a comment line, as ``comment``)."""

    id: str | None = None
    event: str | None = None
    data: dict[str, Any] | None = None
    comment: str | None = None


@dataclass
class SseReader:
    """Reads a live stream into ``messages`` in the background; ``await next_event()``."""

    response: httpx.Response
    messages: asyncio.Queue[Received] = field(default_factory=asyncio.Queue)

    async def _read(self) -> None:
        current: dict[str, str] = {}
        async for line in self.response.aiter_lines():
            if line.startswith(":"):
                await self.messages.put(Received(comment=line[1:].strip()))
            elif line == "":
                if "data" in current:
                    await self.messages.put(
                        Received(
                            id=current.get("id"),
                            event=current.get("event"),
                            data=json.loads(current["data"]),
                        )
                    )
                current = {}
            else:
                name, _, value = line.partition(":")
                current[name] = value.removeprefix(" ")

    async def next_message(self, seconds: float = 10) -> Received:
        return await asyncio.wait_for(self.messages.get(), seconds)

    async def next_event(self, seconds: float = 10) -> Received:
        """The next message with data (heartbeats skipped)."""
        async with asyncio.timeout(seconds):
            while True:
                message = await self.messages.get()
                if message.data is not None:
                    return message

    async def quiet(self, seconds: float) -> list[Received]:
        """The events (not comments) that arrive within ``seconds``."""
        found: list[Received] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while (left := deadline - loop.time()) > 0:
            try:
                message = await asyncio.wait_for(self.messages.get(), left)
            except TimeoutError:
                break
            if message.data is not None:
                found.append(message)
        return found


@pytest.fixture
def sse() -> Callable[..., Any]:
    """``async with sse(replica, headers) as reader``: a live stream open on ``replica``."""

    @asynccontextmanager
    async def open_stream(replica: Replica, headers: dict[str, str]) -> AsyncIterator[SseReader]:
        async with (
            httpx.AsyncClient(base_url=replica.url, timeout=httpx.Timeout(30)) as http,
            http.stream("GET", "/api/v1/events/stream", headers=headers) as response,
        ):
            assert response.status_code == 200, await response.aread()
            assert response.headers["content-type"].startswith("text/event-stream")
            reader = SseReader(response)
            task = asyncio.create_task(reader._read())
            try:
                # The hub registered the client before the answer's head was sent.
                yield reader
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, httpx.HTTPError):
                    await task

    return open_stream
