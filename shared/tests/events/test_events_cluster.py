"""A three-node JetStream cluster keeps every event when the stream's leader dies.

Three real nats-server processes on loopback form one cluster; the project's streams get three
replicas (``MPP_NATS_STREAM_REPLICAS``). The outbox relay publishes and a durable consumer
handles while the leader of the events stream is killed with SIGKILL and later started again.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import nats
import pytest
from nats.aio.client import Client
from nats.js.api import StreamInfo
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from mpp_shared.config import BaseServiceSettings
from mpp_shared.embedded import EmbeddedNatsCluster
from mpp_shared.events import (
    DEAD_LETTER_STREAM,
    EVENTS_STREAM,
    CloudEvent,
    EventConsumer,
    NatsConnection,
    OutboxRelay,
    new_event,
    record_event,
)
from mpp_shared.testing.infrastructure import TEST_NATS_USER, nats_authorization_for_tests

pytestmark = pytest.mark.slow

Eventually = Callable[..., Awaitable[Any]]
SUBJECTS = ["mpp.clustertest.>"]


@pytest.fixture
def cluster(tmp_path: Any) -> Iterator[EmbeddedNatsCluster]:
    cluster = EmbeddedNatsCluster.on_free_ports(
        tmp_path / "cluster", size=3, authorization=nats_authorization_for_tests()
    )
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
async def handled_table(engine: AsyncEngine) -> None:
    # No unique key on purpose: an event handled twice would show as a second row.
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE handled (event_id uuid NOT NULL)"))


@pytest.fixture
async def observer(cluster: EmbeddedNatsCluster) -> AsyncIterator[Client]:
    """An operator's client, on every node, to look at the streams."""
    client = await nats.connect(
        cluster.url.split(","),
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.2,
        **cluster.connect_options(TEST_NATS_USER),
    )
    try:
        yield client
    finally:
        await client.close()


async def _handle(session: AsyncSession, event: CloudEvent) -> None:
    await session.execute(
        text("INSERT INTO handled (event_id) VALUES (:id)"), {"id": uuid.UUID(event.id)}
    )


async def _write_events(
    sessionmaker: async_sessionmaker[AsyncSession], count: int, *, pause: float = 0.02
) -> list[str]:
    """Record ``count`` events, each in its own transaction, as requests would."""
    ids = []
    for n in range(count):
        event = new_event(
            type="mpp.clustertest.thing.happened",
            source="/cluster-test",
            subject=str(uuid.uuid4()),
            data={"n": n},
        )
        async with sessionmaker() as session, session.begin():
            await record_event(session, event)
        ids.append(event.id)
        await asyncio.sleep(pause)
    return ids


async def _handled(sessionmaker: async_sessionmaker[AsyncSession]) -> list[str]:
    async with sessionmaker() as session:
        rows = await session.execute(text("SELECT event_id FROM handled"))
        return [str(row[0]) for row in rows]


async def _stream(observer: Client, name: str = EVENTS_STREAM) -> StreamInfo | None:
    try:
        return await observer.jetstream(timeout=2).stream_info(name)
    except Exception:  # no leader yet, or the observer's server just went away
        return None


async def _stream_message_ids(observer: Client) -> list[str]:
    js = observer.jetstream(timeout=5)
    state = (await js.stream_info(EVENTS_STREAM)).state
    ids = []
    for seq in range(state.first_seq, state.last_seq + 1) if state.messages else ():
        raw = await js.get_msg(EVENTS_STREAM, seq)
        assert (raw.headers or {})["Nats-Msg-Id"] == json.loads(raw.data or b"")["id"]
        ids.append((raw.headers or {})["Nats-Msg-Id"])
    return ids


async def test_killing_the_stream_leader_loses_and_doubles_no_event(
    cluster: EmbeddedNatsCluster,
    sessionmaker: async_sessionmaker[AsyncSession],
    handled_table: None,
    observer: Client,
    eventually: Eventually,
) -> None:
    settings = BaseServiceSettings(service_name="cluster-test", **cluster.settings(TEST_NATS_USER))
    assert settings.nats_stream_replicas == 3
    connection = NatsConnection.for_settings(settings)
    relay = OutboxRelay(
        sessionmaker, connection, settings=settings, poll_interval=0.2, max_backoff=1.0
    )
    consumer = EventConsumer(
        name="cluster-timeline",
        subjects=SUBJECTS,
        handler=_handle,
        sessionmaker=sessionmaker,
        connection=connection,
        ack_wait=3.0,
        nak_delay=lambda deliveries: 0.2,
        fetch_timeout=1.0,
    )
    await connection.start()
    await connection.wait_connected(20)
    await relay.start()
    await consumer.start()
    try:
        written = await _write_events(sessionmaker, 40)

        async def all_handled() -> bool:
            return len(await _handled(sessionmaker)) >= len(written)

        await eventually(all_handled, within=30.0)

        # Both streams are kept by all three servers, and one of them leads the events stream.
        for name in (EVENTS_STREAM, DEAD_LETTER_STREAM):
            info = await _stream(observer, name)
            assert info is not None
            assert info.config.num_replicas == 3
            assert info.cluster is not None
            assert len(info.cluster.replicas or []) == 2, name
        before = await _stream(observer)
        assert before is not None
        assert before.cluster is not None
        old_leader = before.cluster.leader
        assert old_leader is not None

        # SIGKILL the leader while requests keep recording events.
        writing = asyncio.create_task(_write_events(sessionmaker, 60))
        await asyncio.sleep(0.3)
        cluster.node_named(old_leader).kill()

        async def new_leader() -> str | None:
            info = await _stream(observer)
            leader = info.cluster.leader if info and info.cluster else None
            return leader if leader not in (None, old_leader) else None

        moved_to = await eventually(new_leader, within=30.0)
        written += await writing
        await eventually(all_handled, within=60.0)

        # The killed server comes back, catches up and is a current replica again.
        cluster.node_named(old_leader).start()

        async def caught_up() -> bool:
            info = await _stream(observer)
            if info is None or info.cluster is None:
                return False
            peers = {p.name: p for p in info.cluster.replicas or []}
            back = peers.get(old_leader)
            return back is not None and bool(back.current) and not back.offline

        await eventually(caught_up, within=60.0)
        written += await _write_events(sessionmaker, 20)
        await eventually(all_handled, within=30.0)
        await asyncio.sleep(1.0)  # time for a late redelivery to show up as a second row

        handled = await _handled(sessionmaker)
        assert sorted(handled) == sorted(written), "an event was lost or handled twice"
        in_stream = await _stream_message_ids(observer)
        assert sorted(in_stream) == sorted(written), "the stream lost or doubled an event"
        after = await _stream(observer)
        assert after is not None
        assert after.cluster is not None
        assert moved_to != old_leader
        assert after.state.messages == len(written) == 120
    finally:
        await consumer.stop()
        await relay.stop()
        await connection.close()


def test_cluster_settings_name_every_node_and_three_replicas(tmp_path: Any) -> None:
    cluster = EmbeddedNatsCluster(
        tmp_path,
        ports=[4301, 4302, 4303],
        cluster_ports=[6301, 6302, 6303],
        monitor_ports=[8301, 8302, 8303],
    )

    settings = BaseServiceSettings(**cluster.settings("catalog"))

    assert settings.nats_url == (
        "nats://127.0.0.1:4301,nats://127.0.0.1:4302,nats://127.0.0.1:4303"
    )
    assert settings.nats_stream_replicas == 3
    assert NatsConnection.for_settings(settings).servers == settings.nats_url.split(",")
    routes = [node.cluster.routes for node in cluster.nodes if node.cluster]
    assert routes[0] == ("nats://127.0.0.1:6302", "nats://127.0.0.1:6303")
    assert [node.cluster.server_name for node in cluster.nodes if node.cluster] == [
        "n0",
        "n1",
        "n2",
    ]


def test_stream_replicas_come_from_one_unprefixed_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class CatalogLike(BaseServiceSettings):
        model_config = BaseServiceSettings.model_config | {"env_prefix": "MPP_CATALOG_"}

    assert CatalogLike().nats_stream_replicas == 1
    monkeypatch.setenv("MPP_NATS_STREAM_REPLICAS", "3")
    assert CatalogLike().nats_stream_replicas == 3
    monkeypatch.setenv("MPP_NATS_STREAM_REPLICAS", "0")
    with pytest.raises(ValueError, match="greater than or equal to 1"):
        CatalogLike()
