"""``GET /api/v1/events/stream`` over real sockets: resume from the stored timeline, the
heartbeat, the fan-out to another replica, slow clients dropped alone, and who sees what."""

from __future__ import annotations

import asyncio
import socket
import uuid
from typing import Any

import httpx
from sqlalchemy import text

from mpp_shared.contracts.application import v1 as application
from tracking.messaging.stream import StreamEvent

SUBMITTED = application.APPLICATION_SUBMITTED
CHANGED = application.APPLICATION_STATUS_CHANGED


async def test_last_event_id_resumes_with_the_stored_events_after_it_then_live_ones(
    cluster, sse, story, token, eventually
) -> None:
    owner = uuid.uuid4()
    mine, theirs = story(owner=owner), story()
    first = mine.event(SUBMITTED, "submitted", actor_kind="citizen")
    missed = [
        mine.event(CHANGED, "in_review"),
        theirs.event(SUBMITTED, "submitted", actor_kind="citizen"),  # another citizen's
        mine.event(CHANGED, "in_review", stage="verifikasi"),
    ]
    async with cluster.open_replica() as replica:
        await cluster.publish(first, *missed)
        async with replica.app.state.runtime.session_factory()() as session:

            async def stored() -> bool:
                found = await session.scalar(text("SELECT count(*) FROM timeline_entries"))
                return int(found or 0) >= 4

            assert await eventually(stored)
        headers = {**token(subject=owner), "Last-Event-ID": str(first.id)}
        async with sse(replica, headers) as reader:
            replayed = [await reader.next_event(), await reader.next_event()]
            live = mine.event(CHANGED, "approved")
            await cluster.publish(live)
            after = await reader.next_event()
            nothing_else = await reader.quiet(0.5)
        # An id the server does not know (or no id): live events only, nothing replayed.
        unknown = {**token(subject=owner), "Last-Event-ID": str(uuid.uuid4())}
        async with sse(replica, unknown) as fresh:
            assert await fresh.quiet(0.5) == []

    assert [m.id for m in replayed] == [str(missed[0].id), str(missed[2].id)]
    assert [m.event for m in replayed] == [CHANGED, CHANGED]
    assert replayed[0].data == {
        "application_id": str(mine.application_id),
        "registration_number": mine.registration_number,
        "status": "in_review",
        "stage": None,
        "sequence": 2,
        "at": replayed[0].data["at"],  # type: ignore[index]
    }
    assert replayed[1].data["stage"] == "verifikasi"  # type: ignore[index]
    assert after.id == str(live.id)
    assert after.data["status"] == "approved"  # type: ignore[index]
    assert nothing_else == []


async def test_a_heartbeat_comment_comes_at_the_configured_interval(cluster, sse, token) -> None:
    async with (
        cluster.open_replica(stream_heartbeat_seconds=0.3) as replica,
        sse(replica, token(subject=uuid.uuid4())) as reader,
    ):
        loop = asyncio.get_running_loop()
        started = loop.time()
        beats = [await reader.next_message(5) for _ in range(3)]
        elapsed = loop.time() - started
    assert [b.comment for b in beats] == ["heartbeat"] * 3
    assert 0.6 <= elapsed < 3


async def test_the_default_heartbeat_is_fifteen_seconds(tracking_settings) -> None:
    assert tracking_settings().stream_heartbeat_seconds == 15.0


async def test_a_client_on_a_second_replica_receives_an_event_the_first_handled(
    cluster, sse, story, token
) -> None:
    s = story()
    async with (
        cluster.open_replica() as first,
        cluster.open_replica(run_consumers=False) as second,
        sse(second, token(subject=s.owner_account_id)) as reader,
    ):
        submitted = s.event(SUBMITTED, "submitted", actor_kind="citizen")
        await cluster.publish(submitted)
        received = await reader.next_event()
        # Only the first replica consumes: the second one has no durable consumers at all.
        second_workers = second.app.state.runtime.workers
        first_workers = first.app.state.runtime.workers
    assert received.id == str(submitted.id)
    assert received.data["registration_number"] == s.registration_number  # type: ignore[index]
    consumers = {type(w).__name__ for w in first_workers}
    assert "EventConsumer" in consumers
    assert "EventConsumer" not in {type(w).__name__ for w in second_workers}


def _stalled_client(url: str, headers: dict[str, str]) -> socket.socket:
    """A client that asks for the stream and then never reads a byte (a tiny receive buffer,
    so the server's writes back up quickly)."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((host, int(port)))
    lines = ["GET /api/v1/events/stream HTTP/1.1", f"Host: {host}:{port}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    return sock


def _bulky(agency: uuid.UUID, owner: uuid.UUID, n: int) -> StreamEvent:
    """A live event with a large stage name, so that few of them fill the socket buffers."""
    return StreamEvent(
        event_id=str(uuid.uuid4()),
        event_type=CHANGED,
        position=n,
        application_id=str(uuid.uuid4()),
        registration_number=f"64.09-2026-{n:06d}",
        status="in_review",
        stage="x" * 4000,
        sequence=n,
        at="2026-12-01T00:00:00Z",
        owner_account_id=str(owner),
        agency_id=str(agency),
    )


async def test_a_client_that_stops_reading_is_dropped_without_slowing_the_others(
    cluster, sse, token
) -> None:
    agency, owner = uuid.uuid4(), uuid.uuid4()
    batch, most = 32, 3000  # 4 KB events: at most ~12 MB, far more than the buffers hold
    sent: list[StreamEvent] = []
    got: list[Any] = []
    slowest = 0.0
    async with cluster.open_replica(
        stream_queue_size=64, stream_send_timeout_seconds=5.0
    ) as replica:
        stalled = _stalled_client(replica.url, token(subject=owner))  # owns every event
        try:
            await replica.clients(1)
            officer = token(subject=uuid.uuid4(), roles=["officer"], agency_id=agency)
            async with sse(replica, officer) as reader:
                await replica.clients(2)
                loop = asyncio.get_running_loop()
                # In rounds, each read by the officer before the next: the stalled client's
                # writes back up, its queue fills, and it is dropped.
                while replica.hub.clients == 2 and len(sent) < most:
                    started = loop.time()
                    round_ = [_bulky(agency, owner, len(sent) + n) for n in range(batch)]
                    sent += round_
                    for event in round_:
                        await replica.hub.publish(event)
                    got += [await reader.next_event() for _ in round_]
                    slowest = max(slowest, loop.time() - started)
                dropped_after = len(sent)
                # The officer is still connected and still served.
                last = _bulky(agency, owner, len(sent))
                await replica.hub.publish(last)
                got.append(await reader.next_event())
                sent.append(last)
                await replica.clients(1)
        finally:
            stalled.close()
    assert dropped_after < most, "the stalled client was never dropped"
    assert [m.id for m in got] == [e.event_id for e in sent]
    # A hub that waited on the stalled client would take the send timeout (5 s) per round.
    assert slowest < 2.5


async def test_staff_see_their_agencys_events_only(cluster, sse, story, token) -> None:
    agency = uuid.uuid4()
    ours, other_agency = story(agency_id=agency), story()
    officer = token(subject=uuid.uuid4(), roles=["officer"], agency_id=agency)
    async with cluster.open_replica() as replica, sse(replica, officer) as reader:
        foreign = other_agency.event(SUBMITTED, "submitted", actor_kind="citizen")
        own = ours.event(SUBMITTED, "submitted", actor_kind="citizen")
        await cluster.publish(foreign, own)
        first = await reader.next_event()
        rest = await reader.quiet(0.5)
    assert first.id == str(own.id)
    assert rest == []


async def test_another_citizens_events_are_never_sent(cluster, sse, story, token) -> None:
    me = uuid.uuid4()
    mine, theirs = story(owner=me), story()
    async with cluster.open_replica() as replica, sse(replica, token(subject=me)) as reader:
        theirs_events = [
            theirs.event(SUBMITTED, "submitted", actor_kind="citizen"),
            theirs.event(CHANGED, "in_review"),
        ]
        own = mine.event(SUBMITTED, "submitted", actor_kind="citizen")
        # Theirs first: had they been sent, they would be ahead of mine in the stream.
        await cluster.publish(*theirs_events, own)
        first = await reader.next_event()
        rest = await reader.quiet(0.5)
        # Resuming from their event id replays my events only, never theirs.
    resume = {**token(subject=me), "Last-Event-ID": str(theirs_events[0].id)}
    async with cluster.open_replica(run_consumers=False) as again, sse(again, resume) as resumed:
        replayed = await resumed.next_event()
        more = await resumed.quiet(0.5)
    assert first.id == str(own.id)
    assert rest == []
    assert replayed.id == str(own.id)
    assert more == []


async def test_the_stream_needs_a_token(cluster) -> None:
    async with cluster.open_replica() as replica, httpx.AsyncClient(base_url=replica.url) as http:
        response = await http.get("/api/v1/events/stream")
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
