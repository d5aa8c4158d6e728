"""Revoked access tokens: an in-memory list fed by identity's ``AccessRevoked`` events.

identity-service publishes ``mpp.identity.access.revoked`` on logout, refresh-token reuse,
client revocation and account disabling. Every process that checks tokens itself keeps its own
``RevocationList``, filled by a ``RevocationFeed``: an ordered JetStream consumer of its own
(no durable state, nothing shared between replicas) that starts far enough back in the stream
to replay every revocation still in force, then follows the stream live.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeGuard

from nats.js.api import ConsumerConfig, DeliverPolicy
from pydantic import ValidationError

from mpp_shared.auth.verify import InvalidToken
from mpp_shared.contracts.identity.v1 import ACCESS_REVOKED, AccessRevoked, RevokedKind
from mpp_shared.events.connection import NatsConnection
from mpp_shared.events.envelope import CloudEvent
from mpp_shared.events.stream import EVENTS_STREAM
from mpp_shared.tasks import cancel_and_wait

log = logging.getLogger(__name__)

# The claim each kind of revocation matches (the contract's docstring).
CLAIM_OF_KIND: Mapping[RevokedKind, str] = {
    "session": "sid",
    "account": "sub",
    "client": "client_id",
    "token": "jti",
}


class TokenRevoked(InvalidToken):
    """401: the token was valid, but its session, account, client or itself was revoked."""

    code = "token_revoked"

    def __init__(self) -> None:
        super().__init__("The access token has been revoked; sign in again.")


@dataclass(slots=True)
class _Entry:
    revoked_at: float
    until: float


class RevocationList:
    """Revocations in force, by the claim they match; ``refuses(claims)`` is a few dict lookups.

    A token is refused when one of its ``sid``, ``sub``, ``client_id`` or ``jti`` has an entry
    and it was issued (``iat``) at or before that entry's ``revoked_at``; a token without a
    usable ``iat`` is refused too. An entry lasts until its ``until`` (the expiry of the last
    token it concerns) plus ``leeway_seconds``, the verifier's tolerance for expired tokens.

    ``revision`` grows with every entry added, so a cache of tokens checked before only needs
    to check them again when it differs.
    """

    def __init__(
        self, *, leeway_seconds: float = 30.0, clock: Callable[[], float] = time.time
    ) -> None:
        self.leeway = leeway_seconds
        self._clock = clock
        self._by_claim: dict[str, dict[str, _Entry]] = {c: {} for c in CLAIM_OF_KIND.values()}
        self._tables = tuple(self._by_claim.items())
        self.revision = 0

    def __len__(self) -> int:
        return sum(len(table) for table in self._by_claim.values())

    def add(self, *, kind: RevokedKind, id: str, revoked_at: float, until: float) -> bool:
        """Record one revocation; False when it is over already (nothing recorded)."""
        ends = until + self.leeway
        if ends <= self._clock():
            return False
        table = self._by_claim[CLAIM_OF_KIND[kind]]
        entry = table.get(id)
        if entry is None:
            table[id] = _Entry(revoked_at, ends)
        else:
            # A later logout of the same session, say: the widest reading of both holds.
            entry.revoked_at = max(entry.revoked_at, revoked_at)
            entry.until = max(entry.until, ends)
        self.revision += 1
        return True

    def add_event(self, revoked: AccessRevoked) -> bool:
        return self.add(
            kind=revoked.kind,
            id=revoked.id,
            revoked_at=_epoch(revoked.revoked_at),
            until=_epoch(revoked.until),
        )

    def refuses(self, claims: Mapping[str, Any]) -> bool:
        """Whether a token with these (verified) claims is revoked."""
        for claim, table in self._tables:
            if not table:
                continue
            value = claims.get(claim)
            if not isinstance(value, str):
                continue
            entry = table.get(value)
            if entry is None:
                continue
            if entry.until <= self._clock():
                del table[value]
                continue
            issued = claims.get("iat")
            if not _is_time(issued) or issued <= entry.revoked_at:
                return True
        return False

    def purge(self) -> int:
        """Drop the entries that are over; returns how many."""
        now = self._clock()
        dropped = 0
        for table in self._by_claim.values():
            for key in [k for k, entry in table.items() if entry.until <= now]:
                del table[key]
                dropped += 1
        return dropped


class RevocationFeed:
    """A worker (start/stop) that fills a ``RevocationList`` from the events stream.

    The connection is the caller's, started after this feed (which follows the stream from
    each connection on) and closed after it stops.

    Each replica subscribes with an ordered consumer of its own, filtered to
    ``mpp.identity.access.revoked`` and delivering from ``replay_seconds`` ago (longer than any
    access token lives), so a replica that starts late knows every revocation still in force.
    ``caught_up`` turns true once that replay is done and stays true: when NATS goes away the
    list keeps what it knows, and after each reconnection the feed subscribes anew from the
    same point back (entries added twice change nothing). Until the stream exists or NATS
    answers, subscribing is retried with a backoff from ``retry_initial`` up to ``retry_max``.
    """

    def __init__(
        self,
        revocations: RevocationList,
        connection: NatsConnection,
        *,
        stream: str = EVENTS_STREAM,
        replay_seconds: float = 1200.0,
        retry_initial: float = 0.2,
        retry_max: float = 1.0,
        idle_heartbeat_seconds: float = 2.0,
        purge_interval: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.revocations = revocations
        self.connection = connection
        self.stream = stream
        self.replay_seconds = replay_seconds
        self.retry_initial = retry_initial
        self.retry_max = retry_max
        self.idle_heartbeat = idle_heartbeat_seconds
        self.purge_interval = purge_interval
        self._clock = clock
        self._caught_up = False
        self._subscription: Any = None
        self._task: asyncio.Task[None] | None = None
        self._wanted = asyncio.Event()
        self._registered = False

    @property
    def caught_up(self) -> bool:
        """Whether the revocations in the stream at start have all been read."""
        return self._caught_up

    async def start(self) -> None:
        if not self._registered:
            self.connection.on_connect(self._connected)
            self._registered = True
        self._task = asyncio.create_task(self._run(), name="revocation-feed")

    async def stop(self) -> None:
        task, self._task = self._task, None
        await cancel_and_wait(task)
        await self._unsubscribe()

    async def _connected(self, connection: NatsConnection) -> None:
        # After a reconnection the server may have lost the consumer (a restart forgets
        # ephemeral consumers): subscribe anew rather than wait for heartbeats to be missed.
        self._wanted.set()

    async def _run(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._wanted.wait(), self.purge_interval)
            except TimeoutError:
                self.revocations.purge()
                continue
            self._wanted.clear()
            await self._follow()

    async def _follow(self) -> None:
        """(Re)subscribe from ``replay_seconds`` ago: replaying twice changes nothing."""
        delay = self.retry_initial
        while True:
            await self._unsubscribe()
            try:
                await self._subscribe()
                return
            except Exception as exc:  # stream not created yet, broker away, no permission
                log.warning(
                    "cannot follow revocations yet, retrying",
                    extra={"error": f"{type(exc).__name__}: {exc}", "retry_in_seconds": delay},
                )
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.retry_max)

    async def _subscribe(self) -> None:
        js = self.connection.jetstream
        start = datetime.fromtimestamp(self._clock() - self.replay_seconds, UTC)
        self._subscription = await js.subscribe(
            ACCESS_REVOKED,
            stream=self.stream,
            cb=self._received,
            ordered_consumer=True,
            idle_heartbeat=self.idle_heartbeat,
            config=ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_TIME, opt_start_time=start),
        )
        info = await self._subscription.consumer_info()
        delivered = info.delivered.consumer_seq if info.delivered is not None else 0
        if not info.num_pending and not delivered:
            self._mark_caught_up()  # nothing to replay; otherwise the last replayed event says

    async def _unsubscribe(self) -> None:
        subscription, self._subscription = self._subscription, None
        if subscription is not None:
            try:
                await subscription.unsubscribe()
            except Exception as exc:
                log.debug("revocation subscription not closed", extra={"error": str(exc)})

    async def _received(self, message: Any) -> None:
        try:
            event = CloudEvent.from_json(message.data)
            if event.type == ACCESS_REVOKED:
                self.revocations.add_event(event.data_as(AccessRevoked))
        except (ValidationError, ValueError) as exc:
            # Ordered consumers do not redeliver: a malformed event is skipped, loudly.
            log.error("malformed revocation event skipped", extra={"error": str(exc)[:300]})
        if not self._caught_up:
            try:
                pending = message.metadata.num_pending
            except Exception:
                return
            if pending == 0:
                self._mark_caught_up()

    def _mark_caught_up(self) -> None:
        if not self._caught_up:
            self._caught_up = True
            log.info("revocations replayed", extra={"in_force": len(self.revocations)})


def _epoch(moment: datetime) -> float:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _is_time(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
