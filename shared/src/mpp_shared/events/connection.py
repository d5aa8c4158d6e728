"""One NATS connection per process that survives a broker that is down at start or restarts."""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext

from mpp_shared.events.permissions import NatsCredentials
from mpp_shared.tasks import cancel_and_wait

if TYPE_CHECKING:
    from mpp_shared.config import BaseServiceSettings

log = logging.getLogger(__name__)

OnConnect = Callable[["NatsConnection"], Awaitable[None]]


def connect_options(settings: BaseServiceSettings) -> dict[str, Any]:
    """``nats.connect`` keyword arguments for the service's own user, inbox prefix and TLS."""
    options: dict[str, Any] = {}
    if settings.nats_user is not None and settings.nats_password is not None:
        credentials = NatsCredentials(settings.nats_user, settings.nats_password.get_secret_value())
        options.update(credentials.connect_options())
    if settings.nats_tls:
        context = ssl.create_default_context(
            cafile=str(settings.nats_tls_ca_file) if settings.nats_tls_ca_file else None
        )
        if settings.nats_tls_cert_file is not None and settings.nats_tls_key_file is not None:
            context.load_cert_chain(settings.nats_tls_cert_file, settings.nats_tls_key_file)
        options["tls"] = context
    return options


class NatsConnection:
    """Connects in the background and keeps reconnecting; callers ask ``connected`` first.

    A service must start (and keep its outbox filling) while NATS is away, so nothing here
    blocks start-up on the broker.
    """

    def __init__(
        self,
        url: str,
        *,
        name: str,
        options: Mapping[str, Any] | None = None,
        stream_replicas: int = 1,
    ) -> None:
        """``options``: more ``nats.connect`` arguments (user, password, inbox prefix, TLS).

        ``stream_replicas``: how many servers keep the streams this process creates or updates
        (the relay and the consumers ask here, so that every stream of a cluster gets the same).
        """
        if stream_replicas < 1:
            raise ValueError("stream_replicas must be at least 1")
        self.url = url
        self.name = name
        self.stream_replicas = stream_replicas
        self._options = dict(options or {})
        self._client: Client | None = None
        self._task: asyncio.Task[None] | None = None
        self._on_connect: list[OnConnect] = []
        self._ready = asyncio.Event()

    @classmethod
    def for_settings(
        cls, settings: BaseServiceSettings, *, name: str | None = None
    ) -> NatsConnection:
        """The service's connection as its own NATS user (``name`` defaults to the service)."""
        return cls(
            settings.nats_url,
            name=name or settings.service_name,
            options=connect_options(settings),
            stream_replicas=settings.nats_stream_replicas,
        )

    @property
    def servers(self) -> list[str]:
        """The servers of ``url``, which may list several (a cluster), comma-separated.

        nats-py takes a single string as one server, so a list must be passed as a list.
        """
        return [server.strip() for server in self.url.split(",") if server.strip()]

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
                    self.servers,
                    name=self.name,
                    connect_timeout=2,
                    reconnect_time_wait=1,
                    max_reconnect_attempts=-1,
                    allow_reconnect=True,
                    reconnected_cb=self._reconnected,
                    disconnected_cb=self._disconnected,
                    error_cb=self._error,
                    **self._options,
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
        # A refused right is a bug in the permission table or in the caller: say so loudly.
        level = logging.ERROR if "permissions violation" in str(exc).lower() else logging.DEBUG
        log.log(level, "NATS error", extra={"error": str(exc)})

    async def close(self) -> None:
        await cancel_and_wait(self._task)
        if self._client is not None and not self._client.is_closed:
            try:
                await asyncio.wait_for(self._client.drain(), timeout=5)
            except Exception:
                await self._client.close()
        self._client = None
