"""Agency webhooks against a real receiver: retries until it recovers, signatures, SSRF."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from mpp_shared.events import CloudEvent
from tracking.domain.webhooks import verify_signature
from tracking.messaging.webhooks import queue_deliveries


async def test_a_receiver_that_fails_then_recovers_gets_the_event_once_and_signed(
    hooks_app: Callable[..., Any],
    receiver: Callable[..., Any],
    make_event: Callable[..., CloudEvent],
    clock: Any,
) -> None:
    agency = uuid.uuid4()
    async with receiver(script=[500, 200]) as rx, hooks_app() as hooks:
        webhook = await hooks.create_webhook(agency, hooks.on_receiver_host(rx.url))
        event = make_event(agency_id=agency)
        await hooks.handle(queue_deliveries, event)
        clock.now = datetime.now(UTC)  # the dispatcher's time starts once the event is queued
        dispatcher = hooks.dispatcher(clock)
        try:
            assert await dispatcher.run_once() == 1
            await dispatcher.drain()
            # Not due again yet: the retry waits for its backoff.
            assert await dispatcher.run_once() == 0
            clock.advance(timedelta(hours=1))
            assert await dispatcher.run_once() == 1
            await dispatcher.drain()
            clock.advance(timedelta(days=2))
            assert await dispatcher.run_once() == 0
        finally:
            await dispatcher.stop()
        deliveries = await hooks.deliveries(webhook, agency)

    assert len(rx.requests) == 2
    headers, body = rx.requests[-1]
    assert verify_signature(hooks.secret, headers["x-mpp-signature"], body)
    assert not verify_signature("another-secret-of-length", headers["x-mpp-signature"], body)
    assert headers["x-mpp-event-id"] == str(event.id)
    assert [h["x-mpp-event-id"] for h, _ in rx.requests] == [str(event.id)] * 2
    assert len(deliveries) == 1
    assert deliveries[0]["status"] == "delivered"
    assert [a["status_code"] for a in deliveries[0]["attempts"]] == [500, 200]


async def test_a_redirect_from_the_receiver_is_not_followed(
    hooks_app: Callable[..., Any],
    receiver: Callable[..., Any],
    make_event: Callable[..., CloudEvent],
    clock: Any,
) -> None:
    agency = uuid.uuid4()
    async with receiver(script=[302]) as rx, hooks_app() as hooks:
        webhook = await hooks.create_webhook(agency, hooks.on_receiver_host(rx.url))
        await hooks.handle(queue_deliveries, make_event(agency_id=agency))
        clock.now = datetime.now(UTC)  # the dispatcher's time starts once the event is queued
        dispatcher = hooks.dispatcher(clock)
        try:
            await dispatcher.run_once()
            await dispatcher.drain()
        finally:
            await dispatcher.stop()
        deliveries = await hooks.deliveries(webhook, agency)

    assert len(rx.requests) == 1
    assert "redirected" not in rx.requests[0][0]
    assert deliveries[0]["status"] == "pending"
    assert deliveries[0]["attempts"][0]["status_code"] == 302


async def test_private_addresses_are_refused_at_registration(
    hooks_app: Callable[..., Any],
) -> None:
    agency = uuid.uuid4()
    async with hooks_app(webhook_allow_private=False) as hooks:
        hooks.resolver.answers.update(
            {
                "intranet.example": ["10.1.2.3"],
                "metadata.example": ["169.254.169.254"],
                "mapped.example": ["::ffff:127.0.0.1"],
                "mixed.example": ["93.184.216.34", "192.168.1.10"],
            }
        )
        answers = {}
        for url in [
            "http://intranet.example/in",
            "http://metadata.example/latest/meta-data",
            "http://mapped.example/in",
            "http://mixed.example/in",
            "http://127.0.0.1:8080/in",
        ]:
            response = await hooks.client.post(
                "/api/v1/webhooks",
                json={"url": url, "events": ["mpp.application.*"], "secret": hooks.secret},
                headers=hooks.as_agency_admin(agency),
            )
            answers[url] = (response.status_code, response.json().get("code"))

    assert set(answers.values()) == {(422, "forbidden_webhook_address")}, answers


async def test_a_host_that_rebinds_to_a_private_address_is_refused_at_delivery(
    hooks_app: Callable[..., Any],
    receiver: Callable[..., Any],
    make_event: Callable[..., CloudEvent],
    clock: Any,
) -> None:
    agency = uuid.uuid4()
    async with receiver() as rx, hooks_app(webhook_allow_private=False) as hooks:
        # Public when registered …
        hooks.resolver.answers[hooks.receiver_host] = ["93.184.216.34"]
        webhook = await hooks.create_webhook(agency, hooks.on_receiver_host(rx.url))
        # … loopback when delivered.
        hooks.resolver.answers[hooks.receiver_host] = ["127.0.0.1"]
        await hooks.handle(queue_deliveries, make_event(agency_id=agency))
        clock.now = datetime.now(UTC)
        dispatcher = hooks.dispatcher(clock, webhook_allow_private=False)
        try:
            assert await dispatcher.run_once() == 1
            await dispatcher.drain()
        finally:
            await dispatcher.stop()
        deliveries = await hooks.deliveries(webhook, agency)

    assert rx.requests == []
    assert deliveries[0]["status"] == "pending"
    assert deliveries[0]["attempts"][0]["status_code"] is None
    assert deliveries[0]["attempts"][0]["error"]
