"""Two replicas of every service and of the gateway (``MPP_REPLICAS=2``): nothing breaks or
doubles. Every event is published once although both outbox relays run, each is consumed once
although both replicas' consumers run, the overdue timer fires once, a webhook retry is sent
once, a live stream on either tracking replica sees every event, and the rate limits are
counted across the gateways."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections import Counter, defaultdict
from pathlib import Path

import httpx
import pytest

from mpp_shared.testing.platform import Submitted, WebhookReceiver, eventually
from tests.faults.conftest import KTP_EL, KTP_EL_DOCUMENT, KTP_EL_FORM, Platform

pytestmark = pytest.mark.slow

SUBMITTED = "mpp.application.application.submitted"
OVERDUE = "mpp.application.application.overdue"
APPLICATIONS = 6
STREAMS = 4


async def _follow(base_url: str, token: str, seen: list[tuple[str, str, str]]) -> None:
    """Read the caller's live stream, recording (event id, type, registration number)."""
    async with (
        httpx.AsyncClient(base_url=base_url, timeout=httpx.Timeout(10, read=None)) as http,
        http.stream(
            "GET", "/api/v1/events/stream", headers={"Authorization": f"Bearer {token}"}
        ) as response,
    ):
        assert response.status_code == 200, await response.aread()
        event: dict[str, str] = {}
        async for line in response.aiter_lines():
            if not line:
                if "data" in event:
                    data = json.loads(event["data"])
                    seen.append((event["id"], event["event"], data["registration_number"]))
                event = {}
            elif not line.startswith(":"):
                name, _, value = line.partition(":")
                event[name] = value.strip()


def _served_by(stack_root: Path, name: str, path: str) -> int:
    log_file = stack_root / ".run" / "logs" / f"{name}.log"
    return sum(1 for line in log_file.read_text(errors="replace").splitlines() if path in line)


async def test_two_replicas_of_everything_do_each_thing_once(platform: Platform) -> None:
    api, stack = platform.api, platform.stack
    receiver = WebhookReceiver("replica-secret-0123456789", refuse_first=True)
    await receiver.start()
    webhook = await api.expect(
        201,
        "POST",
        "/api/v1/webhooks",
        token=platform.agency_system,
        json={
            "url": receiver.url,
            "events": ["mpp.application.*"],
            "secret": receiver.secret.decode(),
        },
    )
    # Four live streams through the balancer: two per gateway, and each gateway sends its
    # second to the other tracking replica (the first is busy with the first).
    seen: list[list[tuple[str, str, str]]] = [[] for _ in range(STREAMS)]
    followers = []
    for index in range(STREAMS):
        followers.append(
            asyncio.create_task(_follow(stack.gateway_url, platform.citizen, seen[index]))
        )
        await asyncio.sleep(0.3)
    try:
        submitted: list[Submitted] = []
        for _ in range(APPLICATIONS):
            submitted.append(
                await api.submit_application(
                    platform.citizen,
                    service_id=KTP_EL,
                    form=KTP_EL_FORM,
                    requirement=KTP_EL_DOCUMENT,
                )
            )
        numbers = {s.registration_number for s in submitted}
        ids = {s.application_id for s in submitted}

        # The overdue timer: one application's due time is moved into the past; both
        # replicas' sweeps look every second.
        late = submitted[0]
        platform.sql(
            "mpp_application",
            f"UPDATE applications SET due_at = now() - interval '1 minute' "  # noqa: S608
            f"WHERE id = '{uuid.UUID(late.application_id)}'",
        )

        def submitted_on(stream: list[tuple[str, str, str]]) -> set[str]:
            return {number for _, kind, number in stream if kind == SUBMITTED and number in numbers}

        async def streams_complete() -> bool:
            return all(submitted_on(stream) == numbers for stream in seen)

        async def webhooks_settled() -> bool:
            accepted = {
                d.application_id
                for d in receiver.deliveries
                if d.event_type == SUBMITTED and d.answered == 200
            }
            overdue = [
                d for d in receiver.deliveries if d.event_type == OVERDUE and d.answered == 200
            ]
            return accepted >= ids and bool(overdue)

        assert await eventually(streams_complete, timeout=30), [len(s) for s in seen]
        assert await eventually(webhooks_settled, timeout=60), receiver.deliveries
        # Time for a second firing of the timer, or a second delivery, if there were one.
        await asyncio.sleep(4)

        # Each stream saw each event once, whichever tracking replica consumed it.
        for stream in seen:
            ours = [event_id for event_id, _, number in stream if number in numbers]
            assert len(ours) == len(set(ours)), stream
        # On the timelines: each application submitted once.
        for application in submitted:
            items = await api.timeline(platform.citizen, application.application_id)
            assert [i["status"] for i in items].count("submitted") == 1, items

        # Webhooks: per event one delivery id, refused once and sent again once, signed.
        attempts: dict[str, list[str]] = defaultdict(list)
        for delivery in receiver.deliveries:
            assert delivery.signed
            if delivery.application_id in ids:
                attempts[delivery.event_id].append(delivery.delivery_id)
        for event_id, delivery_ids in attempts.items():
            assert len(delivery_ids) == 2, (event_id, delivery_ids)
            assert len(set(delivery_ids)) == 1, (event_id, delivery_ids)
        kinds = Counter(
            d.event_type
            for d in receiver.deliveries
            if d.application_id in ids and d.answered == 200
        )
        assert kinds[SUBMITTED] == APPLICATIONS
        # The overdue timer fired once: one event recorded, one delivered.
        assert kinds[OVERDUE] == 1
        overdue_rows = platform.sql(
            "mpp_application",
            f"SELECT count(*) FROM event_outbox WHERE subject = '{OVERDUE}' "  # noqa: S608
            f"AND envelope->'data'->>'application_id' = '{uuid.UUID(late.application_id)}'",
        )
        assert overdue_rows == "1"

        # Every event recorded by any replica is in the stream once: both relays ran, the
        # stream holds exactly the outbox's rows.
        async def all_published() -> bool:
            return platform.outbox_rows()[1] == 0

        assert await eventually(all_published, timeout=20)
        recorded, _ = platform.outbox_rows()
        assert platform.stream_messages() == recorded
    finally:
        for follower in followers:
            follower.cancel()
        for follower in followers:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await follower
        await api.call("DELETE", f"/api/v1/webhooks/{webhook['id']}", token=platform.agency_system)
        await receiver.stop()

    # Both tracking replicas served live streams, through both gateways (a stream is logged
    # when it ends).
    async def every_replica_streamed() -> bool:
        names = ("tracking", "tracking-2", "gateway", "gateway-2")
        return all(_served_by(stack.root, n, "/api/v1/events/stream") > 0 for n in names)

    assert await eventually(every_replica_streamed, timeout=10)


async def test_rate_limits_are_counted_across_the_gateways(platform: Platform) -> None:
    """Registration allows 10 attempts a minute per address: 10 in all, not 10 per gateway."""
    stack = platform.stack
    gateways = ("gateway", "gateway-2")
    before = {name: _served_by(stack.root, name, "/api/v1/citizens") for name in gateways}
    statuses = []
    for attempt in range(16):
        # Each gateway in turn, as a balancer spreading the callers would send them.
        url = stack.instances[gateways[attempt % 2]].url
        async with httpx.AsyncClient(base_url=url, timeout=10) as http:
            response = await http.post("/api/v1/citizens", json={})
        statuses.append(response.status_code)
        await asyncio.sleep(0.25)  # longer than the replicas' counter exchange (0.1 s)

    for name, count in before.items():
        assert _served_by(stack.root, name, "/api/v1/citizens") > count, name
    passed = [s for s in statuses if s != 429]
    assert all(s == 422 for s in passed), statuses
    # Counted apart, the two gateways would have let 16 through (8 each, under 10).
    assert len(passed) <= 11, statuses
    assert statuses[-1] == 429
