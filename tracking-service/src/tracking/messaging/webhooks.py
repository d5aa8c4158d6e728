"""Webhook deliveries: the ``tracking-webhooks`` consumer that queues them, and the claiming
worker that sends them through a transport which connects only to vetted addresses."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import random
import socket
import ssl
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpcore
import httpx
from sqlalchemy import event as orm_event
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mpp_shared.events import CloudEvent, EventConsumer, NatsConnection, new_event, record_event
from mpp_shared.scheduler import PeriodicSweep
from tracking.config import TrackingSettings
from tracking.db.notifications import NotificationRepository
from tracking.db.webhooks import ClaimedDelivery, NewDelivery, WebhookRepository
from tracking.domain.notifications import AGENCY_ADMIN_ROLE, webhook_disabled_notification
from tracking.domain.webhooks import (
    DELIVERY_ID_HEADER,
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    DisablePolicy,
    ForbiddenAddress,
    IPAddress,
    Resolver,
    RetryPolicy,
    SecretBox,
    UnresolvableHost,
    WebhookError,
    resolve_and_vet,
    signature,
    wants,
)

log = logging.getLogger(__name__)

CONSUMER_NAME = "tracking-webhooks"
# Events fetched and handled in one transaction (what the stream has at once, up to this).
CONSUMER_BATCH = 256
SWEEP_NAME = "webhook-deliveries"
APPLICATION_EVENTS = "mpp.application.>"
WEBHOOK_DISABLED = "mpp.tracking.webhook.disabled"
TRACKING_SOURCE = "/tracking"
USER_AGENT = "MPP-Digital-Webhooks/1"
CLOUDEVENTS_JSON = "application/cloudevents+json; charset=utf-8"

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


# -- where a receiver may be ----------------------------------------------------------------


class SystemResolver:
    """The host's resolver (getaddrinfo), every address it answers."""

    async def resolve(self, host: str) -> list[IPAddress]:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, None, type=socket.SOCK_STREAM
            )
        except socket.gaierror:
            return []
        found: dict[IPAddress, None] = {}
        for *_, sockaddr in infos:
            # A scoped IPv6 address ("fe80::1%eth0") is link-local either way.
            found[ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])] = None
        return list(found)


class VettingNetworkBackend(httpcore.AsyncNetworkBackend):
    """Resolves each new connection's host itself, vets every answer, and connects to the
    vetted address: a name that resolves to a public address when checked and a private one
    a moment later (DNS rebinding) never reaches the private one. TLS still verifies and
    sends SNI for the URL's host, and the Host header stays the URL's, as httpcore does."""

    def __init__(self, resolver: Resolver, *, allow_private: bool) -> None:
        self._resolver = resolver
        self._allow_private = allow_private
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        address = await resolve_and_vet(self._resolver, host, allow_private=self._allow_private)
        return await self._inner.connect_tcp(
            str(address),
            port,
            timeout=timeout,
            local_address=local_address,
            socket_options=socket_options,
        )

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise ForbiddenAddress(path, "unix socket")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class VettingTransport(httpx.AsyncHTTPTransport):
    """httpx's transport over :class:`VettingNetworkBackend`; no proxy from the environment."""

    def __init__(self, backend: VettingNetworkBackend, *, limits: httpx.Limits) -> None:
        super().__init__(trust_env=False, limits=limits)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl.create_default_context(),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=backend,
        )


def webhook_http_client(settings: TrackingSettings, resolver: Resolver) -> httpx.AsyncClient:
    backend = VettingNetworkBackend(resolver, allow_private=settings.webhook_allow_private)
    limits = httpx.Limits(
        max_connections=settings.webhook_concurrency,
        max_keepalive_connections=settings.webhook_concurrency,
    )
    return httpx.AsyncClient(
        transport=VettingTransport(backend, limits=limits),
        follow_redirects=False,
        timeout=httpx.Timeout(
            settings.webhook_timeout_seconds, connect=settings.webhook_connect_timeout_seconds
        ),
        trust_env=False,
    )


# -- the consumer: one delivery row per matching subscription -------------------------------


async def queue_deliveries(session: AsyncSession, events: Sequence[CloudEvent]) -> None:
    """In the consumer's transaction: a pending delivery for each enabled subscription of an
    event's agency that wants its type (the inbox makes a redelivered event add nothing);
    the subscriptions of the batch's agencies read in one query, the deliveries written in
    one insert."""
    about: list[tuple[CloudEvent, uuid.UUID]] = []
    for event in events:
        try:
            about.append((event, uuid.UUID(str(event.data.get("agency_id")))))
        except ValueError:
            continue  # not about an agency: no subscription can want it
    if not about:
        return
    repository = WebhookRepository(session)
    subscriptions = await repository.enabled_for_agencies({agency for _, agency in about})
    now = utc_now()
    deliveries: list[NewDelivery] = []
    for event, agency_id in about:
        wanting = [s for s in subscriptions.get(agency_id, []) if wants(s.events, event.type)]
        if not wanting:
            continue
        body = json.dumps(event.to_json_dict(), separators=(",", ":"), ensure_ascii=False)
        deliveries += [
            NewDelivery(
                subscription_id=subscription.id,
                event_id=event.event_id,
                event_type=event.type,
                body=body,
            )
            for subscription in wanting
        ]
    await repository.add_deliveries(deliveries, now=now)


def webhook_consumer(
    sessionmaker: async_sessionmaker[AsyncSession],
    connection: NatsConnection,
    *,
    linger: float = 0.0,
) -> EventConsumer:
    return EventConsumer(
        name=CONSUMER_NAME,
        subjects=[APPLICATION_EVENTS],
        batch_handler=queue_deliveries,
        sessionmaker=sessionmaker,
        connection=connection,
        batch=CONSUMER_BATCH,
        linger=linger,
    )


# -- the claiming worker --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Outcome:
    started_at: datetime
    latency_ms: int
    status_code: int | None
    error: str | None

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class WebhookDispatcher:
    """Sends due deliveries; every replica runs one, and each delivery goes to one of them.

    The loop is the shared scheduler's :class:`~mpp_shared.scheduler.PeriodicSweep`. Each
    pass leases due rows (``claim_due``: SKIP LOCKED, a lease in ``next_attempt_at``) up to
    the free slots of a global pool (``webhook_concurrency``) and of each receiver
    (``webhook_per_receiver_concurrency``); once the pass committed, each claimed delivery is
    sent in its own task, outside any transaction: a receiver that hangs holds at most its own
    slots until the timeout, never the others' nor the rows' locks. A retry is the same row
    due again later, not a sleeping task, so a restart loses nothing. "Now" is the database's
    unless a ``clock`` is given (the tests move time on).
    """

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: TrackingSettings,
        *,
        resolver: Resolver,
        clock: Clock | None = None,
        draw: Callable[[], float] = random.random,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._settings = settings
        self._resolver = resolver
        self._clock = clock
        self._draw = draw
        self._box = SecretBox(settings.webhook_secret_key_value)
        self.retry = RetryPolicy(
            base=timedelta(seconds=settings.webhook_backoff_base_seconds),
            cap=timedelta(seconds=settings.webhook_backoff_cap_seconds),
            max_attempts=settings.webhook_max_attempts,
        )
        self.disable = DisablePolicy(
            failures=settings.webhook_disable_after_failures,
            span=timedelta(seconds=settings.webhook_disable_after_seconds),
        )
        self._client: httpx.AsyncClient | None = None
        self._in_flight: dict[uuid.UUID, int] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._sweep = PeriodicSweep(
            SWEEP_NAME, sessionmaker, self._claim, interval=settings.webhook_poll_seconds
        )

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = webhook_http_client(self._settings, self._resolver)
        return self._client

    async def start(self) -> None:
        await self._sweep.start()

    async def stop(self) -> None:
        await self._sweep.stop()
        # Attempts in flight end within the delivery timeout; a lease covers any cut short.
        await self.drain()
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def wake(self) -> None:
        self._sweep.wake()

    async def drain(self) -> None:
        """Wait for the attempts in flight (the tests' way of settling a pass)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def run_once(self) -> int:
        """One pass: lease what is due and start sending it; how many deliveries started."""
        return await self._sweep.run_once()

    async def _now(self, session: AsyncSession) -> datetime:
        if self._clock is not None:
            return self._clock()
        now = await session.scalar(select(func.now()))
        assert isinstance(now, datetime)
        return now

    async def _claim(self, session: AsyncSession) -> int:
        """The sweep's pass, in its transaction: lease due rows, send them once committed."""
        settings = self._settings
        free = settings.webhook_concurrency - len(self._tasks)
        if free <= 0:
            return 0  # a finishing attempt wakes the sweep
        per_receiver = settings.webhook_per_receiver_concurrency
        now = await self._now(session)
        claimed = await WebhookRepository(session).claim_due(
            now=now,
            lease_until=now + timedelta(seconds=settings.webhook_lease_seconds),
            per_subscription={s: per_receiver - n for s, n in self._in_flight.items()},
            default_per_subscription=per_receiver,
            limit=free,
        )
        if claimed:
            # Sent only once the lease is committed: a pass rolled back sends nothing, and
            # its rows stay due for any replica.
            orm_event.listen(
                session.sync_session, "after_commit", lambda _: self._send_all(claimed), once=True
            )
        return len(claimed)

    def _send_all(self, claimed: list[ClaimedDelivery]) -> None:
        for delivery in claimed:
            self._in_flight[delivery.subscription_id] = (
                self._in_flight.get(delivery.subscription_id, 0) + 1
            )
            task = asyncio.get_running_loop().create_task(
                self._attempt(delivery), name=f"webhook:{delivery.id}"
            )
            self._tasks.add(task)
            task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._sweep.wake()  # a slot is free

    async def _attempt(self, delivery: ClaimedDelivery) -> None:
        try:
            outcome = await self._send(delivery)
        finally:
            left = self._in_flight.get(delivery.subscription_id, 1) - 1
            if left <= 0:
                self._in_flight.pop(delivery.subscription_id, None)
            else:
                self._in_flight[delivery.subscription_id] = left
        try:
            await self._record(delivery, outcome)
        except Exception:
            # Unrecorded, the lease runs out and the delivery is tried again: at least once.
            log.exception(
                "webhook attempt could not be recorded", extra={"delivery": str(delivery.id)}
            )

    async def _send(self, delivery: ClaimedDelivery) -> Outcome:
        started_at = self._clock() if self._clock is not None else utc_now()
        start = time.monotonic()
        status_code: int | None = None
        error: str | None = None
        try:
            secret = self._box.open(delivery.secret_encrypted)
            body = delivery.body.encode()
            headers = {
                "Content-Type": CLOUDEVENTS_JSON,
                "User-Agent": USER_AGENT,
                SIGNATURE_HEADER: signature(secret, int(time.time()), body),
                EVENT_ID_HEADER: str(delivery.event_id),
                DELIVERY_ID_HEADER: str(delivery.id),
            }
            async with asyncio.timeout(self._settings.webhook_timeout_seconds):
                async with self.client.stream(
                    "POST", delivery.url, content=body, headers=headers
                ) as response:
                    status_code = response.status_code
                    # Read a little of the answer and no more: a receiver cannot make us
                    # download a large body.
                    read = 0
                    async for chunk in response.aiter_raw():
                        read += len(chunk)
                        if read >= self._settings.webhook_response_bytes:
                            break
            if 300 <= status_code < 400:
                error = f"redirect ({status_code}) not followed"
            elif not 200 <= status_code < 300:
                error = f"receiver answered {status_code}"
        except ForbiddenAddress as exc:
            error = f"forbidden address: {exc}"
        except UnresolvableHost as exc:
            error = f"unresolvable host: {exc.host}"
        except TimeoutError:
            error = "timed out"
        except WebhookError as exc:
            error = str(exc)
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:300] or type(exc).__name__
        latency_ms = int((time.monotonic() - start) * 1000)
        return Outcome(started_at, latency_ms, status_code, error)

    async def _record(self, delivery: ClaimedDelivery, outcome: Outcome) -> None:
        async with self._sessionmaker() as session, session.begin():
            now = await self._now(session)
            repository = WebhookRepository(session)
            await repository.record_attempt(
                delivery_id=delivery.id,
                started_at=outcome.started_at,
                status_code=outcome.status_code,
                latency_ms=outcome.latency_ms,
                error=outcome.error,
            )
            if outcome.delivered and outcome.status_code is not None:
                await repository.mark_delivered(delivery, status_code=outcome.status_code, now=now)
                return
            delay = self.retry.delay_after(delivery.attempts + 1, self._draw())
            failures, failing_since = await repository.mark_failed(
                delivery,
                status_code=outcome.status_code,
                error=outcome.error or "failed",
                next_attempt_at=None if delay is None else now + delay,
                now=now,
            )
            if delay is None:
                log.warning(
                    "webhook delivery dead-lettered",
                    extra={
                        "delivery": str(delivery.id),
                        "subscription": str(delivery.subscription_id),
                    },
                )
            if self.disable.should_disable(
                consecutive_failures=failures, failing_since=failing_since, now=now
            ):
                reason = (
                    f"{failures} failed attempts in a row since {failing_since:%Y-%m-%d %H:%M} UTC"
                )
                agency_id = await repository.disable(
                    delivery.subscription_id, reason=reason, now=now
                )
                if agency_id is not None:
                    log.warning(
                        "webhook subscription disabled",
                        extra={"subscription": str(delivery.subscription_id)},
                    )
                    disabled = new_event(
                        type=WEBHOOK_DISABLED,
                        source=TRACKING_SOURCE,
                        subject=str(delivery.subscription_id),
                        data={
                            "subscription_id": str(delivery.subscription_id),
                            "agency_id": str(agency_id),
                            "reason": reason,
                            "disabled_at": now.isoformat(),
                        },
                    )
                    await record_event(session, disabled)
                    # The agency's admins manage its webhooks: they hear of it in-app.
                    await NotificationRepository(session).add(
                        webhook_disabled_notification(
                            agency_id=agency_id,
                            host=httpx.URL(delivery.url).host,
                            failures=failures,
                            failing_since=failing_since or now,
                        ),
                        event_id=disabled.event_id,
                        application_id=None,
                        registration_number=None,
                        at=now,
                        staff_role=AGENCY_ADMIN_ROLE,
                    )
