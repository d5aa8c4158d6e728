"""One NATS connection per process that survives a broker that is down at start or restarts."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext

from mpp_shared.tasks import cancel_and_wait

log = logging.getLogger(__name__)

OnConnect = Callable[["NatsConnection"], Awaitable[None]]


class NatsConnection:
    """Connects in the background and keeps reconnecting; callers ask ``connected`` first.

    A service must start (and keep its outbox filling) while NATS is away, so nothing here
    blocks start-up on the broker.
    """

    def __init__(self, url: str, *, name: str) -> None:
        self.url = url
        self.name = name
        self._client: Client | None = None
        self._task: asyncio.Task[None] | None = None
        self._on_connect: list[OnConnect] = []
        self._ready = asyncio.Event()

    def on_connect(self, callback: OnConnect) -> None:
        """Run ``callback`` after the first connection and after each reconnection."""
        self._on_connect.append(callback)

    @property
    def connected(self) -> bool:
        return self._client is not None and self._client.is_connected

    @property
    def client(self) -> Client:
        if self._client is None:
            raise ConnectionError("NATS is not connected")
        return self._client

    @property
    def jetstream(self) -> JetStreamContext:
        return self.client.jetstream()

    async def wait_connected(self, timeout: float | None = None) -> None:  # noqa: ASYNC109
        await asyncio.wait_for(self._ready.wait(), timeout)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._connect_forever(), name=f"nats-connect:{self.name}")

    async def _connect_forever(self) -> None:
        delay = 0.2
        while True:
            try:
                self._client = await nats.connect(
                    self.url,
                    name=self.name,
                    connect_timeout=2,
                    reconnect_time_wait=1,
                    max_reconnect_attempts=-1,
                    allow_reconnect=True,
                    reconnected_cb=self._reconnected,
                    disconnected_cb=self._disconnected,
                    error_cb=self._error,
                )
            except Exception as exc:
                log.warning(
                    "NATS not reachable, retrying", extra={"error": str(exc), "url": self.url}
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            log.info("NATS connected", extra={"url": self.url})
            await self._run_callbacks()
            self._ready.set()
            return

    async def _run_callbacks(self) -> None:
        for callback in self._on_connect:
            try:
                await callback(self)
            except Exception:
                log.exception("NATS on-connect callback failed")

    async def _reconnected(self) -> None:
        log.info("NATS reconnected")
        await self._run_callbacks()

    async def _disconnected(self) -> None:
        log.warning("NATS disconnected")

    async def _error(self, exc: Exception) -> None:
        log.debug("NATS error", extra={"error": str(exc)})

    async def close(self) -> None:
        await cancel_and_wait(self._task)
        if self._client is not None and not self._client.is_closed:
            try:
                await asyncio.wait_for(self._client.drain(), timeout=5)
            except Exception:
                await self._client.close()
        self._client = None
