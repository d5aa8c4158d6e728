"""Every service does on NATS what the permission table grants it, and nothing else."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.errors import Error as NatsError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mpp_shared.config import BaseServiceSettings
from mpp_shared.contracts.identity import v1 as identity
from mpp_shared.embedded import EmbeddedNats
from mpp_shared.events import (
    CloudEvent,
    EventConsumer,
    NatsConnection,
    OutboxRelay,
    PermanentError,
    new_event,
    record_event,
)
from mpp_shared.events import permissions as table
from mpp_shared.events.stream import (
    DEAD_LETTER_STREAM,
    dead_letter_subject,
    ensure_event_streams,
)
from mpp_shared.testing.infrastructure import TEST_NATS_USER

Eventually = Callable[..., Awaitable[Any]]
CONSUMERS = [
    (a.user, name, subjects) for a in table.SERVICES for name, subjects in a.consumers.items()
]


def _concrete(subject: str) -> str:
    """A subject a filter matches: wildcards become tokens."""
    return ".".join({">": "thing.happened", "*": "thing"}.get(t, t) for t in subject.split("."))


def _event(subject: str) -> CloudEvent:
    return new_event(type=subject, source="/test", subject=str(uuid.uuid4()), data={"n": 1})


async def _connection(server: EmbeddedNats, user: str) -> NatsConnection:
    connection = NatsConnection.for_settings(
        BaseServiceSettings(service_name=user, **server.settings(user)), name=f"{user}-test"
    )
    await connection.start()
    await connection.wait_connected(10)
    return connection


async def test_an_anonymous_connection_is_refused(nats_server: EmbeddedNats) -> None:
    with pytest.raises(NatsError, match="Authorization Violation"):
        await nats.connect(nats_server.url, allow_reconnect=False, connect_timeout=2)
    with pytest.raises(NatsError, match="Authorization Violation"):
        await nats.connect(
            nats_server.url,
            user="catalog",
            password="not-the-password",
            allow_reconnect=False,
            connect_timeout=2,
        )


def test_every_service_may_read_only_its_own_inbox() -> None:
    users = [a.user for a in table.SERVICES]
    for access in table.SERVICES:
        rights = access.permissions(users=users)
        own = f"{table.inbox_prefix(access.user)}.>"
        assert own in rights.subscribe
        assert not [s for s in rights.subscribe if s.startswith("_INBOX") and s != own]
        assert ">" not in rights.subscribe
        assert {"_INBOX.>", *(f"_INBOX_{u}.>" for u in users if u != access.user)} == set(
            rights.subscribe_deny
        )


def test_only_application_service_requests_and_only_identity_answers() -> None:
    users = [a.user for a in table.SERVICES]
    rights = {a.user: a.permissions(users=users) for a in table.SERVICES}

    assert [u for u, r in rights.items() if table.RPC_IDENTITY in r.publish] == ["application"]
    assert [u for u, r in rights.items() if table.RPC_IDENTITY in r.subscribe] == ["identity"]
    assert [u for u, r in rights.items() if r.allow_responses] == ["identity", "catalog"]


def test_only_application_service_asks_for_the_catalogue_snapshot() -> None:
    users = [a.user for a in table.SERVICES]
    rights = {a.user: a.permissions(users=users) for a in table.SERVICES}

    assert [u for u, r in rights.items() if table.RPC_CATALOG in r.publish] == ["application"]
    assert [u for u, r in rights.items() if table.RPC_CATALOG in r.subscribe] == ["catalog"]


def test_the_deployed_config_is_rendered_from_the_table() -> None:
    text = table.render_authorization()

    assert "no_auth_user" not in text
    for access in table.SERVICES:
        assert f'user: "{access.user}"' in text
        assert f"password: ${table.password_variable(access.user)}" in text


@pytest.mark.parametrize(("user", "consumer", "subjects"), CONSUMERS, ids=lambda v: str(v))
async def test_each_consumer_of_the_table_works_with_its_services_own_user(
    user: str,
    consumer: str,
    subjects: tuple[str, ...],
    nats_server: EmbeddedNats,
    sessionmaker: async_sessionmaker[AsyncSession],
    eventually: Eventually,
) -> None:
    """The publisher's relay publishes; the consumer pulls, acks and dead-letters: own users."""
    subject = _concrete(subjects[0])
    publisher = subject.split(".")[1]
    handled: list[str] = []

    async def handler(session: AsyncSession, event: CloudEvent) -> None:
        handled.append(event.id)
        if event.data == {"n": 2}:
            raise PermanentError("a poison event")

    sending = await _connection(nats_server, publisher)
    receiving = await _connection(nats_server, user)
    relay = OutboxRelay(
        sessionmaker,
        sending,
        settings=BaseServiceSettings(service_name=publisher, **nats_server.settings(publisher)),
        poll_interval=0.1,
    )
    worker = EventConsumer(
        name=consumer,
        subjects=list(subjects),
        handler=handler,
        sessionmaker=sessionmaker,
        connection=receiving,
        fetch_timeout=0.5,
    )
    observer = await nats.connect(nats_server.url, **nats_server.connect_options(TEST_NATS_USER))
    good, poison = _event(subject), _event(subject)
    poison = poison.model_copy(update={"data": {"n": 2}})
    try:
        await relay.start()
        await worker.start()
        async with sessionmaker() as session, session.begin():
            await record_event(session, good)
            await record_event(session, poison)

        assert await eventually(lambda: _done(handled, 2), within=20)
        js = observer.jetstream()

        async def dead_letters() -> int:
            try:
                return (await js.stream_info(DEAD_LETTER_STREAM)).state.messages
            except Exception:
                return 0

        assert await eventually(dead_letters, within=10) == 1
        dead = await js.get_last_msg(DEAD_LETTER_STREAM, dead_letter_subject(consumer))
        assert (dead.headers or {})["Mpp-Dlq-Event-Id"] == poison.id
        info = await js.consumer_info("MPP", consumer)
        assert info.num_ack_pending == 0
        assert info.num_pending == 0
    finally:
        await worker.stop()
        await relay.stop()
        await observer.close()
        await sending.close()
        await receiving.close()
    assert handled == [good.id, poison.id]


async def _done(handled: list[str], count: int) -> bool:
    return len(handled) >= count


@pytest.mark.parametrize("access", table.SERVICES, ids=lambda a: a.user)
async def test_a_service_publishes_no_event_in_anothers_name(
    access: table.ServiceAccess, nats_server: EmbeddedNats
) -> None:
    victim = "catalog" if access.user != "catalog" else "identity"
    owner = await _connection(nats_server, victim)
    errors: list[str] = []

    async def on_error(exc: Exception) -> None:
        errors.append(str(exc))

    client = await nats.connect(
        nats_server.url, error_cb=on_error, **nats_server.connect_options(access.user)
    )
    try:
        await ensure_event_streams(owner.jetstream)
        with pytest.raises(Exception):  # noqa: B017, PT011 - refused: no ack comes back
            await client.jetstream().publish(f"mpp.{victim}.thing.happened", b"{}", timeout=1)
        assert any("permissions violation" in e.lower() for e in errors)
        assert (await owner.jetstream.stream_info("MPP")).state.messages == 0
    finally:
        await client.close()
        await owner.close()


async def test_the_gateway_follows_revocations_with_an_ordered_consumer_of_its_own(
    nats_server: EmbeddedNats, tmp_path: Path
) -> None:
    publisher = await _connection(nats_server, "identity")
    gateway = await nats.connect(nats_server.url, **nats_server.connect_options("gateway"))
    received: list[str] = []
    try:
        await ensure_event_streams(publisher.jetstream)
        await publisher.jetstream.publish("mpp.identity.citizen.registered", b"{}")
        await publisher.jetstream.publish(identity.ACCESS_REVOKED, b'{"n": 1}')

        async def on_message(msg: Any) -> None:
            received.append(msg.subject)

        js = gateway.jetstream()
        await js.stream_info("MPP")
        await js.subscribe(identity.ACCESS_REVOKED, cb=on_message, ordered_consumer=True)
        await publisher.jetstream.publish(identity.ACCESS_REVOKED, b'{"n": 2}')
        async with asyncio.timeout(10):
            while len(received) < 2:  # noqa: ASYNC110 - waiting for deliveries
                await asyncio.sleep(0.05)
        # A consumer of anything else on the stream is refused.
        with pytest.raises(Exception):  # noqa: B017, PT011
            await js.pull_subscribe("mpp.identity.>", durable="gateway-everything", stream="MPP")
    finally:
        await gateway.close()
        await publisher.close()
    assert received == [identity.ACCESS_REVOKED, identity.ACCESS_REVOKED]


@pytest.mark.parametrize(
    "access", [a for a in table.SERVICES if a.publishes_events], ids=lambda a: a.user
)
async def test_each_services_relay_publishes_its_own_events_as_its_own_user(
    access: table.ServiceAccess,
    nats_server: EmbeddedNats,
    sessionmaker: async_sessionmaker[AsyncSession],
    eventually: Eventually,
) -> None:
    connection = NatsConnection.for_settings(
        BaseServiceSettings(service_name=access.user, **nats_server.settings(access.user))
    )
    await connection.start()
    await connection.wait_connected(10)
    relay = OutboxRelay(
        sessionmaker,
        connection,
        settings=BaseServiceSettings(service_name=access.user, **nats_server.settings(access.user)),
        poll_interval=0.1,
    )
    observer = await nats.connect(nats_server.url, **nats_server.connect_options(TEST_NATS_USER))
    js = observer.jetstream()

    async def stored() -> int:
        try:
            return (await js.stream_info("MPP")).state.messages
        except Exception:
            return 0  # not created yet

    try:
        await relay.start()
        async with sessionmaker() as session, session.begin():
            await record_event(session, _event(f"mpp.{access.user}.thing.happened"))
        assert await eventually(stored, within=10) == 1
        assert (await js.stream_info(DEAD_LETTER_STREAM)).config.subjects == ["dlq.mpp.>"]
    finally:
        await relay.stop()
        await observer.close()
        await connection.close()
