"""Webhook retries as due rows of the shared scheduler, against real receivers: the backoff's
span before the dead letter, redelivery, disabling a receiver that keeps failing (its agency
admins told), slow and chatty receivers, one delivery per subscription and replica."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI
from fastapi.responses import StreamingResponse

from mpp_shared.events import CloudEvent
from mpp_shared.testing.server import served
from tracking.messaging.webhooks import WebhookDispatcher, queue_deliveries


async def _settle(dispatcher: WebhookDispatcher) -> int:
    started = await dispatcher.run_once()
    await dispatcher.drain()
    return started


async def test_a_dead_receiver_is_retried_for_over_a_day_then_dead_lettered_with_every_attempt(
    hooks_app: Callable[..., Any],
    receiver: Callable[..., Any],
    make_event: Callable[..., CloudEvent],
    clock: Any,
) -> None:
    agency = uuid.uuid4()
    async with receiver(script=[503]) as rx, hooks_app() as hooks:
        webhook = await hooks.create_webhook(agency, hooks.on_receiver_host(rx.url))
        await hooks.handle(queue_deliveries, make_event(agency_id=agency))
        clock.now = datetime.now(UTC)
        # Every jitter draw the lowest: the shortest the retries can span.
        dispatcher = WebhookDispatcher(
            hooks.sessionmaker(),
            hooks.settings,
            resolver=hooks.resolver,
            clock=clock,
            draw=lambda: 0.0,
        )
        first_attempt = clock.now
        early = []
        try:
            for _ in range(50):
                assert await _settle(dispatcher) == 1
                [delivery] = await hooks.deliveries(webhook, agency)
                if delivery["status"] != "pending":
                    break
                due = datetime.fromisoformat(delivery["next_attempt_at"])
                clock.now = due - timedelta(seconds=1)
                early.append(await dispatcher.run_once())  # one second early: not due
                clock.now = due
            clock.advance(timedelta(days=30))
            after_dead = await dispatcher.run_once()
        finally:
            await dispatcher.stop()
        [dead] = await hooks.deliveries(webhook, agency)

    attempts = dead["attempts"]
    assert dead["status"] == "dead"
    assert dead["dead_at"] is not None
    assert dead["next_attempt_at"] is None
    assert len(attempts) == hooks.settings.webhook_max_attempts == len(rx.requests)
    assert set(early) == {0}
    assert after_dead == 0
    last = datetime.fromisoformat(attempts[-1]["started_at"])
    assert last - first_attempt >= timedelta(hours=24)
    assert all(a["status_code"] == 503 for a in attempts)
    assert all(a["error"] == "receiver answered 503" for a in attempts)
    assert all(isinstance(a["latency_ms"], int) and a["latency_ms"] >= 0 for a in attempts)
    # The waits grow: each gap at least the one before.
    starts = [datetime.fromisoformat(a["started_at"]) for a in attempts]
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert gaps == sorted(gaps)


async def test_redeliver_sends_a_dead_lettered_event_again_with_a_fresh_budget(
    hooks_app: Callable[..., Any],
    receiver: Callable[..., Any],
    make_event: Callable[..., CloudEvent],
    clock: Any,
) -> None:
    agency = uuid.uuid4()
    async with receiver(script=[500, 200]) as rx, hooks_app(webhook_max_attempts=1) as hooks:
        webhook = await hooks.create_webhook(agency, hooks.on_receiver_host(rx.url))
        event = make_event(agency_id=agency)
        await hooks.handle(queue_deliveries, event)
        clock.now = datetime.now(UTC)
        dispatcher = hooks.dispatcher(clock)
        base = f"/api/v1/webhooks/{webhook['id']}/deliveries"
        admin = hooks.as_agency_admin(agency)
        try:
            await _settle(dispatcher)  # the one attempt fails: dead at once
            [dead] = await hooks.deliveries(webhook, agency)
            again = await hooks.client.post(f"{base}/{dead['id']}/redeliver", headers=admin)
            twice = await hooks.client.post(f"{base}/{dead['id']}/redeliver", headers=admin)
            stranger = await hooks.client.post(
                f"{base}/{dead['id']}/redeliver", headers=hooks.as_agency_admin(uuid.uuid4())
            )
            unknown = await hooks.client.post(f"{base}/{uuid.uuid4()}/redeliver", headers=admin)
            clock.now = datetime.now(UTC)
            assert await _settle(dispatcher) == 1
            [delivered] = await hooks.deliveries(webhook, agency)
            resend = await hooks.client.post(f"{base}/{dead['id']}/redeliver", headers=admin)
            clock.now = datetime.now(UTC)
            assert await _settle(dispatcher) == 1
        finally:
            await dispatcher.stop()

    assert dead["status"] == "dead"
    assert again.status_code == 202, again.text
    assert again.json()["status"] == "pending"
    assert twice.status_code == 409
    assert twice.json()["code"] == "delivery_pending"
    assert stranger.status_code == 404
    assert unknown.status_code == 404
    assert delivered["status"] == "delivered"
    assert [a["status_code"] for a in delivered["attempts"]] == [500, 200]
    assert resend.status_code == 202  # a delivered one may be sent again too
    # The same event id every time: the receiver can tell a redelivery from a new event.
    assert [h["x-mpp-event-id"] for h, _ in rx.requests] == [str(event.id)] * 3


async def test_a_subscription_that_keeps_failing_is_disabled_and_its_agency_admins_told(
    hooks_app: Callable[..., Any],
    receiver: Callable[..., Any],
    make_event: Callable[..., CloudEvent],
    clock: Any,
) -> None:
    agency = uuid.uuid4()
    settings = {"webhook_disable_after_failures": 3, "webhook_disable_after_seconds": 3600}
    async with receiver(script=[500]) as rx, hooks_app(**settings) as hooks:
        webhook = await hooks.create_webhook(agency, hooks.on_receiver_host(rx.url))
        for _ in range(4):
            await hooks.handle(queue_deliveries, make_event(agency_id=agency))
        clock.now = datetime.now(UTC)
        dispatcher = hooks.dispatcher(clock, webhook_per_receiver_concurrency=1)
        try:
            # Three failures in a row, but within the hour: not disabled yet.
            for _ in range(3):
                assert await _settle(dispatcher) == 1
            still = (
                await hooks.client.get(
                    f"/api/v1/webhooks/{webhook['id']}", headers=hooks.as_agency_admin(agency)
                )
            ).json()
            clock.advance(timedelta(hours=2))
            assert await _settle(dispatcher) == 1  # the fourth, two hours on: disabled
            clock.advance(timedelta(days=2))
            after = await dispatcher.run_once()
        finally:
            await dispatcher.stop()
        admin = hooks.as_agency_admin(agency)
        shown = (await hooks.client.get(f"/api/v1/webhooks/{webhook['id']}", headers=admin)).json()
        deliveries = await hooks.deliveries(webhook, agency)
        refused = await hooks.client.post(
            f"/api/v1/webhooks/{webhook['id']}/deliveries/{deliveries[0]['id']}/redeliver",
            headers=admin,
        )
        inbox = (await hooks.client.get("/api/v1/notifications", headers=admin)).json()
        officer = hooks.as_role("officer", agency_id=agency)
        officer_inbox = (await hooks.client.get("/api/v1/notifications", headers=officer)).json()
        other = hooks.as_agency_admin(uuid.uuid4())
        other_inbox = (await hooks.client.get("/api/v1/notifications", headers=other)).json()

    assert still["enabled"] is True
    assert shown["enabled"] is False
    assert shown["disabled_reason"].startswith("4 failed attempts in a row")
    assert after == 0
    assert len(rx.requests) == 4
    assert {d["status"] for d in deliveries} == {"dead"}
    assert refused.status_code == 409
    assert refused.json()["code"] == "webhook_disabled"
    [note] = inbox["items"]
    assert note["kind"] == "webhook_disabled"
    assert note["audience"] == "agency"
    assert note["application_id"] is None
    assert note["title"] == "Webhook dinonaktifkan"
    assert hooks.receiver_host in note["body"]
    assert "4 kali gagal berturut-turut" in note["body"]
    assert "daftarkan kembali" in note["body"]
    assert officer_inbox["items"] == []
    assert other_inbox["items"] == []


async def test_a_slow_receiver_does_not_delay_deliveries_to_another(
    hooks_app: Callable[..., Any],
    receiver: Callable[..., Any],
    make_event: Callable[..., CloudEvent],
    clock: Any,
) -> None:
    slow_agency, fast_agency = uuid.uuid4(), uuid.uuid4()
    async with (
        # Well past the 2 s timeout, short enough that its server stops soon after the test.
        receiver(delay=6) as slow,
        receiver() as fast,
        hooks_app(webhook_timeout_seconds=2.0) as hooks,
    ):
        slow_hook = await hooks.create_webhook(slow_agency, hooks.on_receiver_host(slow.url))
        fast_hook = await hooks.create_webhook(fast_agency, hooks.on_receiver_host(fast.url))
        # The slow receiver's event is the older one: claimed and sent first.
        await hooks.handle(queue_deliveries, make_event(agency_id=slow_agency))
        await hooks.handle(queue_deliveries, make_event(agency_id=fast_agency))
        clock.now = datetime.now(UTC)
        dispatcher = hooks.dispatcher(clock)
        loop = asyncio.get_running_loop()
        try:
            started = loop.time()
            assert await dispatcher.run_once() == 2
            while True:
                if (await hooks.deliveries(fast_hook, fast_agency))[0]["attempts"]:
                    break
                await asyncio.sleep(0.02)
            fast_done = loop.time() - started
            await dispatcher.drain()
            slow_done = loop.time() - started
        finally:
            await dispatcher.stop()
        [slow_delivery] = await hooks.deliveries(slow_hook, slow_agency)
        [fast_delivery] = await hooks.deliveries(fast_hook, fast_agency)

    assert fast_delivery["status"] == "delivered"
    assert fast_done < 1.5  # well before the slow receiver's timeout
    assert slow_delivery["status"] == "pending"
    assert slow_delivery["attempts"][0]["error"] == "timed out"
    assert slow_delivery["attempts"][0]["status_code"] is None
    assert 1900 <= slow_delivery["attempts"][0]["latency_ms"] < 10_000
    assert 1.9 <= slow_done < 10


@asynccontextmanager
async def _endless_receiver() -> AsyncIterator[tuple[str, list[int]]]:
    app = FastAPI()
    sent: list[int] = []

    @app.post("/hook")
    async def hook() -> StreamingResponse:
        async def forever() -> AsyncIterator[bytes]:
            while True:
                sent.append(1)
                yield b"x" * 1024
                await asyncio.sleep(0)

        return StreamingResponse(forever(), status_code=200)

    async with served(app) as base:
        yield f"{base}/hook", sent


async def test_only_a_few_kilobytes_of_a_receivers_answer_are_read(
    hooks_app: Callable[..., Any],
    make_event: Callable[..., CloudEvent],
    clock: Any,
) -> None:
    agency = uuid.uuid4()
    async with (
        _endless_receiver() as (url, _),
        hooks_app(webhook_timeout_seconds=5.0) as hooks,
    ):
        webhook = await hooks.create_webhook(agency, hooks.on_receiver_host(url))
        await hooks.handle(queue_deliveries, make_event(agency_id=agency))
        clock.now = datetime.now(UTC)
        dispatcher = hooks.dispatcher(clock)
        try:
            await _settle(dispatcher)
        finally:
            await dispatcher.stop()
        [delivery] = await hooks.deliveries(webhook, agency)

    # An endless answer: reading it all would end in the timeout, not in a delivery.
    assert delivery["status"] == "delivered"
    assert delivery["attempts"][0]["error"] is None
    assert delivery["attempts"][0]["latency_ms"] < 4000


async def test_each_subscription_gets_an_event_once_even_when_it_is_queued_twice(
    hooks_app: Callable[..., Any],
    receiver: Callable[..., Any],
    make_event: Callable[..., CloudEvent],
    clock: Any,
) -> None:
    agency = uuid.uuid4()
    async with receiver() as first, receiver() as second, hooks_app() as hooks:
        await hooks.create_webhook(agency, hooks.on_receiver_host(first.url))
        await hooks.create_webhook(
            agency, hooks.on_receiver_host(second.url), events=["mpp.application.*"]
        )
        # Wants another type: gets nothing.
        await hooks.create_webhook(
            agency,
            hooks.on_receiver_host(second.url),
            events=["mpp.application.application.completed"],
        )
        event = make_event(agency_id=agency)
        await hooks.handle(queue_deliveries, event)
        await hooks.handle(queue_deliveries, event)  # a redelivered event
        clock.now = datetime.now(UTC)
        dispatcher = hooks.dispatcher(clock)
        try:
            assert await _settle(dispatcher) == 2
            clock.advance(timedelta(days=3))
            assert await _settle(dispatcher) == 0
        finally:
            await dispatcher.stop()

    assert [h["x-mpp-event-id"] for h, _ in first.requests] == [str(event.id)]
    assert [h["x-mpp-event-id"] for h, _ in second.requests] == [str(event.id)]


async def test_replicas_claiming_at_once_send_each_delivery_once(
    hooks_app: Callable[..., Any],
    receiver: Callable[..., Any],
    make_event: Callable[..., CloudEvent],
    clock: Any,
) -> None:
    agency = uuid.uuid4()
    async with receiver() as rx, hooks_app() as hooks:
        await hooks.create_webhook(agency, hooks.on_receiver_host(rx.url))
        events = [make_event(agency_id=agency) for _ in range(24)]
        for event in events:
            await hooks.handle(queue_deliveries, event)
        clock.now = datetime.now(UTC)
        replicas = [hooks.dispatcher(clock, webhook_per_receiver_concurrency=4) for _ in range(3)]
        try:
            for _ in range(40):
                started = await asyncio.gather(*(r.run_once() for r in replicas))
                await asyncio.gather(*(r.drain() for r in replicas))
                if len(rx.requests) >= len(events) and sum(started) == 0:
                    break
        finally:
            for replica in replicas:
                await replica.stop()

    delivery_ids = [h["x-mpp-delivery-id"] for h, _ in rx.requests]
    assert len(delivery_ids) == len(set(delivery_ids)) == len(events)
    assert sorted(h["x-mpp-event-id"] for h, _ in rx.requests) == sorted(str(e.id) for e in events)
