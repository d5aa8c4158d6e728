"""Rate limits per client IP and per account: sliding-window counters shared by the replicas.

Every replica counts in memory, so the check on a request's path is a dictionary update and
never waits for the network. Each replica publishes the hits it counted to the others over
NATS every ``sync_interval`` (core NATS, nothing stored) and adds theirs to its own windows,
so all replicas enforce one limit together. While NATS is unreachable a replica counts alone
(the local fallback) and catches up with nobody: windows are short.

The cost of never waiting: replicas may together let through up to
``(replicas - 1) x rate x sync_interval`` more than the limit during a burst, which at 0.1 s
is a request or two for the strict limits (login, registration) and noise for the others.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gateway.config import RateLimit
from mpp_shared.events.connection import NatsConnection
from mpp_shared.tasks import cancel_and_wait

log = logging.getLogger(__name__)

# Outside ``mpp.>``, which the event stream captures: these messages are never stored.
SYNC_SUBJECT = "_gateway.ratelimit.v1"
MAX_HITS_PER_MESSAGE = 5000

Key = tuple[str, str, str]  # (limit class, "ip" | "account", client)


@dataclass(slots=True)
class _Window:
    seconds: int
    index: int
    current: int
    previous: int


class SlidingWindowCounter:
    """Approximate sliding windows: this window's count plus the previous one's, weighted.

    Windows are aligned to the wall clock (``time.time() // window``) so that replicas agree
    on which window a hit belongs to.
    """

    def __init__(self, *, max_keys: int = 200_000, clock: Callable[[], float] = time.time) -> None:
        self.max_keys = max_keys
        self._clock = clock
        self._windows: dict[Key, _Window] = {}
        # Hits counted here and not yet published: key -> (window index, count).
        self._unsent: dict[Key, list[int]] = {}
        self._next_prune = 0.0

    def __len__(self) -> int:
        return len(self._windows)

    def hit(self, key: Key, limit: int, window_seconds: int) -> float | None:
        """Count one request; None if it is allowed, else the seconds to wait (not counted)."""
        now = self._clock()
        index = int(now // window_seconds)
        window = self._window(key, window_seconds, index)
        elapsed = now - index * window_seconds
        weight = 1.0 - elapsed / window_seconds
        if window.current + window.previous * weight + 1 > limit:
            return _retry_after(window, limit, elapsed)
        window.current += 1
        unsent = self._unsent.get(key)
        if unsent is None or unsent[0] != index:
            self._unsent[key] = [index, 1]
        else:
            unsent[1] += 1
        if now >= self._next_prune:
            self._prune(now)
        return None

    def add(self, key: Key, window_seconds: int, index: int, count: int) -> None:
        """Hits another replica counted in window ``index``."""
        window = self._windows.get(key)
        if window is None:
            if len(self._windows) >= self.max_keys or window_seconds < 1:
                return
            self._windows[key] = _Window(window_seconds, index, count, 0)
        elif index == window.index:
            window.current += count
        elif index == window.index - 1:
            window.previous += count
        elif index > window.index:
            previous = window.current if index == window.index + 1 else 0
            window.index, window.current, window.previous = index, count, previous

    def take_unsent(self) -> list[tuple[Key, int, int, int]]:
        """The hits counted here since the last call: (key, window seconds, index, count)."""
        unsent, self._unsent = self._unsent, {}
        return [
            (key, self._windows[key].seconds, index, count)
            for key, (index, count) in unsent.items()
            if key in self._windows
        ]

    def _window(self, key: Key, seconds: int, index: int) -> _Window:
        window = self._windows.get(key)
        if window is None:
            if len(self._windows) >= self.max_keys:
                self._prune(self._clock(), force=True)
            window = self._windows[key] = _Window(seconds, index, 0, 0)
        elif window.index != index:
            window.previous = window.current if index == window.index + 1 else 0
            window.current = 0
            window.index = index
        return window

    def _prune(self, now: float, *, force: bool = False) -> None:
        """Forget clients idle for two windows (their counts no longer matter)."""
        self._next_prune = now + 10.0
        if not force and len(self._windows) < 1024:
            return
        stale = [
            key
            for key, window in self._windows.items()
            if window.index < int(now // window.seconds) - 1
        ]
        for key in stale:
            del self._windows[key]
        while force and len(self._windows) >= self.max_keys:
            # Still full of active clients: forget the oldest entries, never refuse to count.
            del self._windows[next(iter(self._windows))]


def _retry_after(window: _Window, limit: int, elapsed: float) -> float:
    """Seconds until one more request fits, if no other arrives meanwhile (at least 1)."""
    seconds = window.seconds
    if window.current + 1 <= limit and window.previous > 0:
        # Still in this window, once the previous window's weight has decayed enough:
        # previous * (1 - (elapsed + t) / seconds) + current + 1 <= limit
        room = (limit - 1 - window.current) / window.previous
        return max(1.0, seconds * (1.0 - room) - elapsed)
    # In the next window this one is "previous": current * (1 - e / seconds) + 1 <= limit
    decay = seconds * (1.0 - (limit - 1) / window.current) if window.current else 0.0
    return max(1.0, seconds - elapsed + decay)


class RateLimiter:
    """Checks a request against its route's limit class, per client IP and per account."""

    def __init__(
        self,
        limits: dict[str, RateLimit],
        *,
        max_keys: int = 200_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.limits = limits
        self.counter = SlidingWindowCounter(max_keys=max_keys, clock=clock)

    def check(self, limit_class: str, client_ip: str, account: str | None) -> int | None:
        """None when the request may pass, else the whole seconds for ``Retry-After``."""
        limit = self.limits.get(limit_class) or self.limits["default"]
        if limit.per_ip is not None:
            wait = self.counter.hit(
                (limit_class, "ip", client_ip), limit.per_ip, limit.window_seconds
            )
            if wait is not None:
                return math.ceil(wait)
        if account is not None and limit.per_account is not None:
            wait = self.counter.hit(
                (limit_class, "account", account), limit.per_account, limit.window_seconds
            )
            if wait is not None:
                return math.ceil(wait)
        return None


class NatsCounterSync:
    """Publishes this replica's hits and counts the other replicas' hits, over core NATS.

    The connection is the caller's (the gateway shares one with its revocation feed): create
    this before starting it, so the subscription is made on the first connection.
    """

    def __init__(
        self,
        counter: SlidingWindowCounter,
        connection: NatsConnection,
        *,
        interval: float = 0.1,
        subject: str = SYNC_SUBJECT,
    ) -> None:
        self.counter = counter
        self.connection = connection
        self.interval = interval
        self.subject = subject
        self.replica = uuid.uuid4().hex
        self._task: asyncio.Task[None] | None = None
        self._subscription: Any = None
        connection.on_connect(self._subscribe)

    @property
    def shared(self) -> bool:
        """True while the counters are shared; False means the local fallback is in force."""
        return self.connection.connected

    async def start(self) -> None:
        self._task = asyncio.create_task(self._publish_forever(), name="ratelimit-sync")

    async def stop(self) -> None:
        task, self._task = self._task, None
        await cancel_and_wait(task)

    async def _subscribe(self, connection: NatsConnection) -> None:
        if self._subscription is not None:
            return  # nats-py re-subscribes by itself after a reconnection
        self._subscription = await connection.client.subscribe(self.subject, cb=self._received)

    async def _received(self, message: Any) -> None:
        try:
            document = json.loads(message.data)
            if document.get("replica") == self.replica:
                return
            for limit_class, dimension, client, seconds, index, count in document["hits"]:
                key = (str(limit_class), str(dimension), str(client))
                self.counter.add(key, int(seconds), int(index), int(count))
        except (ValueError, KeyError, TypeError):
            log.warning("malformed rate-limit sync message")

    async def _publish_forever(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            hits = self.counter.take_unsent()
            if not hits or not self.connection.connected:
                continue  # counted locally all the same: that is the fallback
            # Several messages when many clients were seen, well below NATS' 1 MB payload limit.
            for start in range(0, len(hits), MAX_HITS_PER_MESSAGE):
                document = {
                    "replica": self.replica,
                    "hits": [
                        [*key, seconds, index, count]
                        for key, seconds, index, count in hits[start : start + MAX_HITS_PER_MESSAGE]
                    ],
                }
                try:
                    await self.connection.client.publish(
                        self.subject, json.dumps(document).encode()
                    )
                except Exception as exc:
                    log.warning("could not share rate-limit counts", extra={"error": str(exc)})
                    break
