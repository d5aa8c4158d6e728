"""Email and SMS copies of notifications: sent through a real SMTP server (aiosmtpd) to the
address identity-service gives over ``rpc.identity.contact``, retried, marked sent once; sent
outside the transaction that leased them, taken over after a crash, once across replicas."""

from __future__ import annotations

import asyncio
import email
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any

import nats
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import text

from mpp_shared.contracts.application import v1 as application
from mpp_shared.contracts.identity import v1 as identity
from mpp_shared.embedded.process import free_port
from tracking.domain.notifications import NotificationChannel, OutgoingMessage
from tracking.messaging.contacts import IdentityContacts
from tracking.messaging.notification_channels import LogChannel, SmtpEmailChannel
from tracking.messaging.notification_delivery import DeliveryWorker

SUBMITTED = application.APPLICATION_SUBMITTED
REVISION = application.APPLICATION_REVISION_REQUESTED


@dataclass
class MailHandler:
    """aiosmtpd's handler: keeps what it accepted; refuses the first ``refuse`` messages."""

    refuse: int = 0
    received: list[EmailMessage] = field(default_factory=list)
    recipients: list[list[str]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refuse > 0:
            self.refuse -= 1
            return "451 4.3.0 Try again later"
        message = email.message_from_bytes(envelope.content, policy=default_policy)
        assert isinstance(message, EmailMessage)
        self.received.append(message)
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 OK"


@pytest.fixture
def smtp_server() -> Any:
    """``with smtp_server(refuse=n) as (port, handler)``: a real SMTP server on loopback."""

    @asynccontextmanager
    async def start(refuse: int = 0) -> AsyncIterator[tuple[int, MailHandler]]:
        handler = MailHandler(refuse=refuse)
        port = free_port()
        controller = Controller(handler, hostname="127.0.0.1", port=port)
        await asyncio.to_thread(controller.start)
        try:
            yield port, handler
        finally:
            await asyncio.to_thread(controller.stop)

    return start


@pytest.fixture
def identity_directory(tracking_settings: Any) -> Callable[..., Any]:
    """``async with identity_directory({account: (email, phone)}) as asked``: answers
    ``rpc.identity.contact`` as identity-service does (its own NATS user)."""
    server = tracking_settings.server

    @asynccontextmanager
    async def answer(contacts: dict[uuid.UUID, tuple[str | None, str | None]]) -> Any:
        connection = await nats.connect(server.url, **server.connect_options("identity"))
        asked: list[identity.ContactRequest] = []

        async def respond(msg: Any) -> None:
            request = identity.ContactRequest.model_validate_json(msg.data)
            asked.append(request)
            found = contacts.get(request.account_id)
            reply: Any = (
                identity.RpcError(error="unknown_account")
                if found is None
                else identity.ContactResponse(email=found[0], phone=found[1])
            )
            await msg.respond(reply.model_dump_json().encode())

        await connection.subscribe(identity.CONTACT_SUBJECT, cb=respond)
        await connection.flush()
        try:
            yield asked
        finally:
            await connection.close()

    return answer


async def _outgoing(tracking: Any) -> list[Any]:
    async with tracking.app.state.runtime.session_factory()() as session:
        rows = await session.execute(
            text(
                "SELECT channel, status, attempts, last_error, account_id FROM outgoing_messages"
                " ORDER BY created_at, channel"
            )
        )
        return list(rows)


async def _all_due_now(tracking: Any) -> None:
    async with tracking.app.state.runtime.session_factory()() as session, session.begin():
        await session.execute(
            text("UPDATE outgoing_messages SET next_attempt_at = now() WHERE status = 'pending'")
        )


def _smtp(port: int) -> SmtpEmailChannel:
    return SmtpEmailChannel(
        host="127.0.0.1",
        port=port,
        sender="MPP Digital <noreply@mpp.go.id>",
        start_tls=False,
        timeout=5,
    )


def _worker(
    tracking: Any,
    port: int,
    *,
    max_attempts: int = 3,
    email: NotificationChannel | None = None,
    lease: timedelta = timedelta(minutes=2),
    concurrency: int = 8,
) -> DeliveryWorker:
    runtime = tracking.app.state.runtime
    return DeliveryWorker(
        sessionmaker=runtime.session_factory(),
        contacts=IdentityContacts(runtime.nats_connection(), timeout=0.5),
        channels={"email": email or _smtp(port), "sms": LogChannel("sms")},
        interval=3600,
        max_attempts=max_attempts,
        lease=lease,
        concurrency=concurrency,
    )


class HeldChannel:
    """A channel whose send waits until the test lets it go on (a slow SMTP server), or
    forever (a replica that dies mid-send)."""

    def __init__(self, then: NotificationChannel | None = None) -> None:
        self.started = asyncio.Event()
        self.release = asyncio.Event()
        self._then = then

    async def send(self, message: OutgoingMessage) -> None:
        self.started.set()
        await self.release.wait()
        if self._then is not None:
            await self._then.send(message)


async def test_copies_go_out_over_smtp_to_the_address_identity_gives_once(
    open_tracking, story, smtp_server, identity_directory, eventually
) -> None:
    s = story()
    address = "budi.santoso@example.id"
    async with (
        smtp_server() as (port, mail),
        identity_directory({s.owner_account_id: (address, "+6281234567001")}) as asked,
        open_tracking(
            smtp_host="127.0.0.1",
            smtp_port=port,
            smtp_start_tls=False,
            delivery_interval_seconds=0.1,
        ) as tracking,
    ):
        await tracking.publish(
            s.event(SUBMITTED, "submitted", actor_kind="citizen"),
            s.event(REVISION, "revision_requested", note="Foto KTP buram"),
        )
        await tracking.handled(2)

        async def all_settled() -> bool:
            rows = await _outgoing(tracking)
            return len(rows) == 3 and all(r.status != "pending" for r in rows)

        assert await eventually(all_settled)
        await asyncio.sleep(0.5)  # several more rounds of the worker: nothing sent again
        rows = await _outgoing(tracking)

    assert [(r.channel, r.status, r.attempts) for r in rows] == [
        ("email", "sent", 1),
        ("email", "sent", 1),
        ("sms", "sent", 1),
    ]
    assert len(mail.received) == 2
    assert mail.recipients == [[address], [address]]
    assert {request.account_id for request in asked} == {s.owner_account_id}
    by_subject = {m["Subject"]: m for m in mail.received}
    received = by_subject["Permohonan diterima"].get_content().strip()
    assert received == (
        f"Permohonan Akta Kelahiran nomor {s.registration_number} telah diterima. "
        "Pantau prosesnya di aplikasi MPP Digital."
    )
    revision = by_subject["Permohonan perlu diperbaiki"]
    assert revision["To"] == address
    assert revision["From"] == "MPP Digital <noreply@mpp.go.id>"
    assert revision["X-MPP-Message-Id"]
    assert revision.get_content().strip() == (
        f"Permohonan Akta Kelahiran nomor {s.registration_number} memerlukan perbaikan: "
        "Foto KTP buram. Silakan perbaiki dan ajukan kembali."
    )


async def test_a_refused_send_is_retried_and_sent_once_then_a_failing_one_gives_up(
    open_tracking, story, smtp_server, identity_directory
) -> None:
    s = story()
    async with (
        smtp_server(refuse=1) as (port, mail),
        identity_directory({s.owner_account_id: ("siti@example.id", None)}),
        open_tracking() as tracking,
    ):
        await tracking.publish(s.event(SUBMITTED, "submitted", actor_kind="citizen"))
        await tracking.handled(1)
        worker = _worker(tracking, port)
        assert await worker.deliver_due() == 1
        [refused] = await _outgoing(tracking)
        assert await worker.deliver_due() == 0  # not due again yet: backoff
        await _all_due_now(tracking)
        assert await worker.deliver_due() == 1
        [sent] = await _outgoing(tracking)
        await _all_due_now(tracking)
        assert await worker.deliver_due() == 0
    assert (refused.status, refused.attempts) == ("pending", 1)
    assert "451" in refused.last_error
    assert (sent.status, sent.attempts, sent.last_error) == ("sent", 2, None)
    assert len(mail.received) == 1


async def test_a_server_that_keeps_refusing_marks_the_copy_failed_after_the_last_attempt(
    open_tracking, story, smtp_server, identity_directory
) -> None:
    s = story()
    async with (
        smtp_server(refuse=100) as (port, mail),
        identity_directory({s.owner_account_id: ("siti@example.id", None)}),
        open_tracking() as tracking,
    ):
        await tracking.publish(s.event(SUBMITTED, "submitted", actor_kind="citizen"))
        await tracking.handled(1)
        worker = _worker(tracking, port, max_attempts=3)
        for _ in range(5):
            await _all_due_now(tracking)
            await worker.deliver_due()
        [row] = await _outgoing(tracking)
    assert (row.status, row.attempts) == ("failed", 3)
    assert mail.received == []


async def test_no_contact_for_unknown_accounts_and_missing_addresses_and_silent_identity_retried(
    open_tracking, story, smtp_server, identity_directory
) -> None:
    unknown, no_phone = story(), story()
    async with smtp_server() as (port, mail), open_tracking() as tracking:
        await tracking.publish(
            unknown.event(SUBMITTED, "submitted", actor_kind="citizen"),
            no_phone.event(REVISION, "revision_requested", note="Lengkapi KK"),
        )
        await tracking.handled(2)
        worker = _worker(tracking, port)
        # Nobody answers rpc.identity.contact: tried again later, nothing lost.
        assert await worker.deliver_due() == 3
        silent = await _outgoing(tracking)
        async with identity_directory({no_phone.owner_account_id: ("ani@example.id", None)}):
            await _all_due_now(tracking)
            assert await worker.deliver_due() == 3
            settled = await _outgoing(tracking)
    assert {(r.status, r.attempts) for r in silent} == {("pending", 1)}
    assert all(r.last_error.startswith("contact lookup") for r in silent)
    outcome = {(str(r.account_id), r.channel): r.status for r in settled}
    assert outcome == {
        (str(unknown.owner_account_id), "email"): "no_contact",
        (str(no_phone.owner_account_id), "email"): "sent",
        (str(no_phone.owner_account_id), "sms"): "no_contact",
    }
    assert [m["To"] for m in mail.received] == ["ani@example.id"]


async def test_a_slow_send_holds_no_lock_on_its_row(
    open_tracking, story, smtp_server, identity_directory
) -> None:
    s = story()
    async with (
        smtp_server() as (port, mail),
        identity_directory({s.owner_account_id: ("siti@example.id", None)}),
        open_tracking() as tracking,
    ):
        await tracking.publish(s.event(SUBMITTED, "submitted", actor_kind="citizen"))
        await tracking.handled(1)
        held = HeldChannel(then=_smtp(port))
        sending = asyncio.create_task(_worker(tracking, port, email=held).deliver_due())
        await asyncio.wait_for(held.started.wait(), 10)
        # While SMTP is under way another transaction takes the row's lock without waiting.
        async with tracking.app.state.runtime.session_factory()() as session, session.begin():
            locked = await session.execute(
                text("SELECT status, attempts FROM outgoing_messages FOR UPDATE NOWAIT")
            )
            during = locked.one()
        held.release.set()
        assert await asyncio.wait_for(sending, 10) == 1
        [after] = await _outgoing(tracking)
    assert (during.status, during.attempts) == ("pending", 1)  # leased: its attempt counted
    assert (after.status, after.attempts) == ("sent", 1)
    assert len(mail.received) == 1


async def test_a_send_cut_short_by_a_crash_is_taken_over_when_its_lease_ends(
    open_tracking, story, smtp_server, identity_directory
) -> None:
    s = story()
    async with (
        smtp_server() as (port, mail),
        identity_directory({s.owner_account_id: ("siti@example.id", None)}),
        open_tracking() as tracking,
    ):
        await tracking.publish(s.event(SUBMITTED, "submitted", actor_kind="citizen"))
        await tracking.handled(1)
        hung = HeldChannel()
        crashed = _worker(tracking, port, email=hung, lease=timedelta(seconds=1))
        pass_of_crashed = asyncio.create_task(crashed.deliver_due())
        await asyncio.wait_for(hung.started.wait(), 10)
        # The replica dies mid-send: nothing of its attempt is recorded.
        sends = [t for t in asyncio.all_tasks() if t.get_name().startswith("notification:")]
        for task in [pass_of_crashed, *sends]:
            task.cancel()
        await asyncio.gather(pass_of_crashed, *sends, return_exceptions=True)
        other = _worker(tracking, port)
        while_leased = await other.deliver_due()
        await asyncio.sleep(1.2)
        after_lease = await other.deliver_due()
        [row] = await _outgoing(tracking)
    assert while_leased == 0
    assert after_lease == 1
    assert (row.status, row.attempts) == ("sent", 2)
    assert len(mail.received) == 1


async def test_two_senders_at_once_send_each_copy_exactly_once(
    open_tracking, story, smtp_server, identity_directory
) -> None:
    stories = [story() for _ in range(12)]
    contacts = {s.owner_account_id: (f"warga{i}@example.id", None) for i, s in enumerate(stories)}
    async with (
        smtp_server() as (port, mail),
        identity_directory(contacts),
        open_tracking() as tracking,
    ):
        await tracking.publish(
            *(s.event(SUBMITTED, "submitted", actor_kind="citizen") for s in stories)
        )
        await tracking.handled(len(stories))
        first, second = (_worker(tracking, port, concurrency=3) for _ in range(2))
        leased = []
        for _ in range(20):
            passes = await asyncio.gather(first.deliver_due(), second.deliver_due())
            leased.append(passes)
            if passes == [0, 0]:
                break
        rows = await _outgoing(tracking)
    assert sum(a + b for a, b in leased) == len(stories)
    assert any(a and b for a, b in leased)  # both took part
    assert {(r.status, r.attempts) for r in rows} == {("sent", 1)}
    assert len(rows) == len(stories)
    assert sorted(r[0] for r in mail.recipients) == sorted(e for e, _ in contacts.values())
