"""Sliding-window rate limits: trigger, recover, tell when to retry, and count across replicas."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import nats

from gateway.config import RateLimit
from gateway.ratelimit import SYNC_SUBJECT, NatsCounterSync, RateLimiter, SlidingWindowCounter
from mpp_shared.events import permissions
from mpp_shared.events.connection import NatsConnection


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _limiter(clock: Clock, **limits: RateLimit) -> RateLimiter:
    return RateLimiter({"default": RateLimit(per_ip=1000), **limits}, clock=clock)


def test_a_limit_triggers_then_recovers_as_the_window_slides() -> None:
    clock = Clock()
    limiter = _limiter(clock, login=RateLimit(per_ip=5, window_seconds=60))

    allowed = [limiter.check("login", "10.0.0.1", None) for _ in range(5)]
    refused = limiter.check("login", "10.0.0.1", None)

    assert allowed == [None] * 5
    assert refused is not None
    assert 1 <= refused <= 120
    clock.now += 60  # the burst is now the previous window, at full weight
    assert limiter.check("login", "10.0.0.1", None) is not None
    clock.now += 30  # half of it has slid out
    assert limiter.check("login", "10.0.0.1", None) is None
    clock.now += 120
    assert [limiter.check("login", "10.0.0.1", None) for _ in range(5)] == [None] * 5


def test_retry_after_is_when_a_request_would_pass_again() -> None:
    clock = Clock(1_800_000_000.0)  # a multiple of 60: the start of a window
    limiter = _limiter(clock, login=RateLimit(per_ip=2, window_seconds=60))
    limiter.check("login", "ip", None)
    limiter.check("login", "ip", None)

    retry_after = limiter.check("login", "ip", None)

    assert retry_after is not None
    clock.now += retry_after
    assert limiter.check("login", "ip", None) is None


def test_clients_and_classes_are_counted_apart() -> None:
    clock = Clock()
    limiter = _limiter(clock, login=RateLimit(per_ip=1))

    assert limiter.check("login", "10.0.0.1", None) is None
    assert limiter.check("login", "10.0.0.1", None) is not None
    assert limiter.check("login", "10.0.0.2", None) is None
    assert limiter.check("default", "10.0.0.1", None) is None


def test_an_account_is_limited_across_addresses() -> None:
    clock = Clock()
    limiter = RateLimiter({"default": RateLimit(per_ip=100, per_account=3)}, clock=clock)

    answers = [limiter.check("default", f"10.0.0.{n}", "account-1") for n in range(4)]

    assert answers[:3] == [None, None, None]
    assert answers[3] is not None
    assert limiter.check("default", "10.0.0.9", "account-2") is None
    assert limiter.check("default", "10.0.0.9", None) is None


def test_an_unknown_class_uses_the_default_limits() -> None:
    clock = Clock()
    limiter = RateLimiter({"default": RateLimit(per_ip=1)}, clock=clock)

    assert limiter.check("whatever", "ip", None) is None
    assert limiter.check("whatever", "ip", None) is not None


def test_hits_counted_by_another_replica_count_here() -> None:
    clock = Clock()
    one = SlidingWindowCounter(clock=clock)
    two = SlidingWindowCounter(clock=clock)
    key = ("login", "ip", "10.0.0.1")

    assert [one.hit(key, 4, 60) for _ in range(3)] == [None] * 3
    for shared_key, seconds, index, count in one.take_unsent():
        two.add(shared_key, seconds, index, count)

    assert two.hit(key, 4, 60) is None
    assert two.hit(key, 4, 60) is not None
    assert one.take_unsent() == []


def test_idle_clients_are_forgotten() -> None:
    clock = Clock()
    counter = SlidingWindowCounter(max_keys=2000, clock=clock)
    for n in range(1500):
        counter.hit(("default", "ip", str(n)), 10, 60)
    clock.now += 300
    counter.hit(("default", "ip", "new"), 10, 60)

    assert len(counter) == 1


def test_the_counter_never_holds_more_than_max_keys() -> None:
    clock = Clock()
    counter = SlidingWindowCounter(max_keys=100, clock=clock)
    for n in range(500):
        assert counter.hit(("default", "ip", str(n)), 10, 60) is None

    assert len(counter) <= 100


async def _wait_for(condition: Callable[[], bool], within: float = 10.0) -> None:
    async with asyncio.timeout(within):
        while not condition():  # noqa: ASYNC110 - polling a connection state
            await asyncio.sleep(0.05)


async def test_replicas_share_counts_over_nats_and_fall_back_to_local_counting(
    private_nats: Callable[[], Any],
) -> None:
    server = private_nats()
    limits = {"default": RateLimit(per_ip=1000), "login": RateLimit(per_ip=6)}
    replicas = [RateLimiter(limits) for _ in range(2)]
    connections = [
        NatsConnection(server.url, name=f"gw{n}", options=server.connect_options("gateway"))
        for n in range(len(replicas))
    ]
    syncs = [
        NatsCounterSync(r.counter, c, interval=0.05)
        for r, c in zip(replicas, connections, strict=True)
    ]
    for sync, connection in zip(syncs, connections, strict=True):
        await sync.start()
        await connection.start()
    try:
        await _wait_for(lambda: all(sync.shared for sync in syncs))
        await asyncio.sleep(0.2)  # subscriptions are registered on the server
        first, second = replicas

        assert [first.check("login", "10.1.1.1", None) for _ in range(4)] == [None] * 4
        # The other replica learns of the four within a sync interval and allows two more.
        await asyncio.sleep(0.3)
        assert second.check("login", "10.1.1.1", None) is None
        assert second.check("login", "10.1.1.1", None) is None
        assert second.check("login", "10.1.1.1", None) is not None

        server.stop()
        await _wait_for(lambda: not any(sync.shared for sync in syncs))
        # NATS is gone: each replica still enforces the limit on what it sees.
        assert [first.check("login", "10.2.2.2", None) for _ in range(6)] == [None] * 6
        assert first.check("login", "10.2.2.2", None) is not None
        await asyncio.sleep(0.2)
        assert second.check("login", "10.2.2.2", None) is None
    finally:
        for sync, connection in zip(syncs, connections, strict=True):
            await sync.stop()
            await connection.close()


def test_the_permission_table_reserves_the_counters_subject_for_gateways() -> None:
    assert permissions.GATEWAY_RATE_LIMIT == SYNC_SUBJECT
    for access in permissions.SERVICES:
        rights = access.permissions(users=[a.user for a in permissions.SERVICES])
        may = SYNC_SUBJECT in rights.publish and SYNC_SUBJECT in rights.subscribe
        assert may == (access.user == "gateway"), access.user


async def test_another_service_cannot_feed_counts_to_the_gateways(
    private_nats: Callable[[], Any],
) -> None:
    server = private_nats()
    limiter = RateLimiter({"default": RateLimit(per_ip=1000), "login": RateLimit(per_ip=6)})
    connection = NatsConnection(server.url, name="gw", options=server.connect_options("gateway"))
    sync = NatsCounterSync(limiter.counter, connection, interval=0.05)
    errors: list[str] = []

    async def on_error(exc: Exception) -> None:
        errors.append(str(exc))

    intruder = await nats.connect(
        server.url, error_cb=on_error, **server.connect_options("catalog")
    )
    await sync.start()
    await connection.start()
    try:
        await _wait_for(lambda: sync.shared)
        await asyncio.sleep(0.2)
        window = int(time.time() // 60)
        forged = {"replica": "forged", "hits": [["login", "ip", "10.3.3.3", 60, window, 10**6]]}
        await intruder.publish(SYNC_SUBJECT, json.dumps(forged).encode())
        await intruder.flush()
        await _wait_for(lambda: bool(errors))
        await asyncio.sleep(0.2)

        assert "permissions violation" in errors[0].lower()
        # Had the forged count arrived, this client would be locked out.
        assert limiter.check("login", "10.3.3.3", None) is None
    finally:
        await intruder.close()
        await sync.stop()
        await connection.close()
