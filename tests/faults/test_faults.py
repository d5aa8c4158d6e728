"""Faults while citizens submit through the gateway: NATS stopped and started again, every
tracking-service replica killed with SIGKILL and started again, PostgreSQL restarted.

Afterwards every accepted application is on its timeline exactly once, no event is lost or
doubled, no webhook is delivered twice under different delivery ids, and the system answers
again without anybody stepping in. The test prints what it injected and what it counted.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Callable

import pytest

from mpp_shared.testing.platform import GaveUp, Submitted, WebhookReceiver, eventually
from tests.faults.conftest import KTP_EL, KTP_EL_DOCUMENT, KTP_EL_FORM, Platform

pytestmark = pytest.mark.slow

SUBMITTED = "mpp.application.application.submitted"
SUBMITTERS = 2


async def test_accepted_applications_survive_broker_service_and_database_faults(
    platform: Platform,
) -> None:
    api, stack = platform.api, platform.stack
    receiver = WebhookReceiver("fault-secret-0123456789ab")
    await receiver.start()
    webhook = await api.expect(
        201,
        "POST",
        "/api/v1/webhooks",
        token=platform.agency_system,
        json={"url": receiver.url, "events": [SUBMITTED], "secret": receiver.secret.decode()},
    )
    accepted: list[Submitted] = []
    gave_up: list[str] = []
    stop = asyncio.Event()

    async def submit_until_stopped() -> None:
        while not stop.is_set():
            try:
                accepted.append(
                    await api.submit_application(
                        platform.citizen,
                        service_id=KTP_EL,
                        form=KTP_EL_FORM,
                        requirement=KTP_EL_DOCUMENT,
                    )
                )
            except GaveUp as exc:
                gave_up.append(str(exc))

    injected: list[str] = []
    started = time.monotonic()

    async def inject(what: str, action: Callable[[], None]) -> None:
        injected.append(f"{time.monotonic() - started:5.1f} s  {what}")
        await asyncio.to_thread(action)

    def kill_tracking() -> None:
        for name in ("tracking", "tracking-2"):
            stack.kill_instance(name)

    def start_tracking() -> None:
        for name in ("tracking", "tracking-2"):
            stack.start_instance(name)

    submitters = [asyncio.create_task(submit_until_stopped()) for _ in range(SUBMITTERS)]
    try:
        await asyncio.sleep(3)
        await inject("NATS stopped", stack.stop_nats)
        await asyncio.sleep(4)
        await inject("NATS started", stack.start_nats)
        await asyncio.sleep(4)
        await inject("tracking and tracking-2 killed (SIGKILL)", kill_tracking)
        await asyncio.sleep(3)
        await inject("tracking and tracking-2 started", start_tracking)
        await asyncio.sleep(4)
        await inject("PostgreSQL stopped", stack.stop_postgres)
        await asyncio.sleep(3)
        await inject("PostgreSQL started", stack.start_postgres)
        await asyncio.sleep(4)
    finally:
        stop.set()
        await asyncio.gather(*submitters, return_exceptions=True)

    try:
        # Without anybody stepping in, the system answers again: ready, and a new application
        # goes all the way through.
        async def ready() -> bool:
            return (await api.http.get("/readyz")).status_code == 200

        assert await eventually(ready, timeout=60), "not ready after the faults"
        accepted.append(
            await api.submit_application(
                platform.citizen, service_id=KTP_EL, form=KTP_EL_FORM, requirement=KTP_EL_DOCUMENT
            )
        )
        ids = {a.application_id for a in accepted}
        submitted_entries: dict[str, int] = {}

        async def timelines_complete() -> bool:
            for application in accepted:
                if submitted_entries.get(application.application_id, 0) >= 1:
                    continue
                response = await api.call(
                    "GET",
                    f"/api/v1/applications/{application.application_id}/timeline",
                    token=platform.citizen,
                )
                if response.status_code == 404:
                    continue  # tracking has not heard of it yet
                assert response.status_code == 200, response.text
                submitted_entries[application.application_id] = [
                    item["status"] for item in response.json()["items"]
                ].count("submitted")
            return all(submitted_entries.get(i, 0) >= 1 for i in ids)

        async def webhooks_complete() -> bool:
            return {d.application_id for d in receiver.deliveries} >= ids

        converged = await eventually(timelines_complete, timeout=60) and await eventually(
            webhooks_complete, timeout=60
        )
        await asyncio.sleep(3)  # a doubled event would arrive by now
        for application in accepted:  # the final count, duplicates included
            items = await api.timeline(platform.citizen, application.application_id)
            submitted_entries[application.application_id] = [i["status"] for i in items].count(
                "submitted"
            )

        delivery_ids: dict[str, set[str]] = defaultdict(set)
        events_per_application: dict[str, set[str]] = defaultdict(set)
        for delivery in receiver.deliveries:
            if delivery.application_id in ids:
                delivery_ids[delivery.event_id].add(delivery.delivery_id)
                events_per_application[delivery.application_id].add(delivery.event_id)

        async def all_published() -> bool:
            return platform.outbox_rows()[1] == 0

        await eventually(all_published, timeout=30)
        recorded, unpublished = platform.outbox_rows()
        stream = platform.stream_messages()

        on_timelines = sum(1 for i in ids if submitted_entries.get(i) == 1)
        duplicates = sum(1 for i in ids if submitted_entries.get(i, 0) > 1)
        lost = sum(1 for i in ids if submitted_entries.get(i, 0) == 0)
        webhook_lost = sum(1 for i in ids if not events_per_application.get(i))
        webhook_doubled = sum(1 for ds in delivery_ids.values() if len(ds) > 1) + sum(
            1 for events in events_per_application.values() if len(events) > 1
        )
        print("\nfaults injected while submitting:")
        for line in injected:
            print(f"  {line}")
        print(f"faults the callers met and retried: {dict(sorted(api.faults_seen.items()))}")
        print(
            f"accepted {len(accepted)}, on timelines exactly once {on_timelines}, "
            f"duplicates {duplicates}, lost {lost}; gave up {len(gave_up)}"
        )
        print(
            f"webhooks: {len(receiver.deliveries)} deliveries of {len(delivery_ids)} events, "
            f"lost {webhook_lost}, doubled under another id {webhook_doubled}"
        )
        print(
            f"events: {recorded} recorded in the outboxes, {unpublished} unpublished, "
            f"{stream} in the stream"
        )

        assert converged, (submitted_entries, len(receiver.deliveries))
        assert len(accepted) > SUBMITTERS, "hardly anything was accepted"
        assert (on_timelines, duplicates, lost) == (len(accepted), 0, 0)
        assert (webhook_lost, webhook_doubled) == (0, 0)
        assert all(d.signed for d in receiver.deliveries)
        assert unpublished == 0
        assert stream == recorded, "an event was published twice or not at all"
        assert not gave_up, gave_up
    finally:
        await api.call("DELETE", f"/api/v1/webhooks/{webhook['id']}", token=platform.agency_system)
        await receiver.stop()
