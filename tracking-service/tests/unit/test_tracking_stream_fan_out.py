"""The live stream's NATS fan-out: a batch's events in one message, in their order, each to the
clients that may see it; one-event messages of replicas of before still read; kinds this
replica does not know and unreadable messages skipped."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import pytest

from tracking.domain.timeline import Reader
from tracking.messaging.stream import (
    BATCH_MOST,
    BATCH_SUBJECT,
    STREAM_SUBJECT,
    LiveEvent,
    StreamEvent,
    StreamHub,
)

OWNER, STRANGER, AGENCY = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()


def event(position: int, owner: uuid.UUID = OWNER) -> StreamEvent:
    return StreamEvent(
        event_id=str(uuid.uuid4()),
        event_type="mpp.application.application.status_changed",
        position=position,
        application_id=str(uuid.uuid4()),
        registration_number=f"64.09-2026-{position:06d}",
        status="in_review",
        stage=None,
        sequence=position,
        at="2026-03-02T01:00:00Z",
        owner_account_id=str(owner),
        agency_id=str(AGENCY),
    )


@dataclass
class Msg:
    subject: str
    data: bytes


class Client:
    def __init__(self) -> None:
        self.published: list[Msg] = []

    async def publish(self, subject: str, payload: bytes) -> None:
        self.published.append(Msg(subject, payload))


class Connection:
    connected = True

    def __init__(self) -> None:
        self.client = Client()


def received(hub: StreamHub, reader: Reader) -> Any:
    client = hub.connect(reader)

    def events() -> list[LiveEvent]:
        found = []
        while not client.queue.empty():
            item = client.queue.get_nowait()
            assert item is not None
            found.append(item)
        return found

    return events


async def test_a_batch_goes_out_as_one_message_and_reaches_whoever_may_see_each_event() -> None:
    connection = Connection()
    publisher = StreamHub(connection, queue_size=1000)  # type: ignore[arg-type]
    batch = [event(1), event(2, owner=STRANGER), event(3)]
    await publisher._publish_all(batch)
    assert [m.subject for m in connection.client.published] == [BATCH_SUBJECT]

    replica = StreamHub(None, queue_size=1000)
    owner = received(replica, Reader(account_id=OWNER, agency_id=None, is_staff=False))
    staff = received(replica, Reader(account_id=uuid.uuid4(), agency_id=AGENCY, is_staff=True))
    await replica._on_message(connection.client.published[0])  # type: ignore[arg-type]
    assert owner() == [batch[0], batch[2]]
    assert staff() == batch


async def test_a_long_batch_is_split_under_the_payload_limit_in_its_order() -> None:
    connection = Connection()
    publisher = StreamHub(connection, queue_size=10_000)  # type: ignore[arg-type]
    batch = [event(n) for n in range(BATCH_MOST * 2 + 1)]
    await publisher._publish_all(batch)
    assert len(connection.client.published) == 3
    assert max(len(m.data) for m in connection.client.published) < 1024 * 1024
    replica = StreamHub(None, queue_size=10_000)
    owner = received(replica, Reader(account_id=OWNER, agency_id=None, is_staff=False))
    for message in connection.client.published:
        await replica._on_message(message)  # type: ignore[arg-type]
    assert owner() == batch


async def test_a_one_event_message_of_a_replica_of_before_is_still_read() -> None:
    replica = StreamHub(None, queue_size=10)
    owner = received(replica, Reader(account_id=OWNER, agency_id=None, is_staff=False))
    old = event(7)
    await replica._on_message(Msg(STREAM_SUBJECT, json.dumps(old.wire()).encode()))  # type: ignore[arg-type]
    assert owner() == [old]


@pytest.mark.parametrize(
    "body",
    [b"not json", b'{"an": "object"}', b'[["_tracking.stream.v1.events", {"unknown": 1}]]'],
)
async def test_an_unreadable_batch_delivers_nothing(body: bytes) -> None:
    replica = StreamHub(None, queue_size=10)
    owner = received(replica, Reader(account_id=OWNER, agency_id=None, is_staff=False))
    await replica._on_message(Msg(BATCH_SUBJECT, body))  # type: ignore[arg-type]
    assert owner() == []


async def test_a_newer_replicas_kind_in_a_batch_is_skipped_and_the_rest_delivered() -> None:
    replica = StreamHub(None, queue_size=10)
    owner = received(replica, Reader(account_id=OWNER, agency_id=None, is_staff=False))
    known = event(4)
    body = json.dumps(
        [["_tracking.stream.v1.appointments", {"id": "x"}], [STREAM_SUBJECT, known.wire()]]
    ).encode()
    await replica._on_message(Msg(BATCH_SUBJECT, body))  # type: ignore[arg-type]
    assert owner() == [known]


async def test_without_nats_this_replicas_clients_still_hear_of_the_batch() -> None:
    hub = StreamHub(None, queue_size=10)
    owner = received(hub, Reader(account_id=OWNER, agency_id=None, is_staff=False))
    batch = [event(1), event(2)]
    await hub._publish_all(batch)
    assert owner() == batch
