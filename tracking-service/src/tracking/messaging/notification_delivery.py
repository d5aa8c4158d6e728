"""Sends the pending email/SMS copies of notifications from the outgoing-messages table.

A sweep of the shared scheduler (:class:`~mpp_shared.scheduler.PeriodicSweep`, as the webhook
sender): each pass leases due messages (``FOR UPDATE SKIP LOCKED``, the attempt counted and
the message not due again for ``delivery_lease_seconds``) and commits; only then is each
message sent, outside any transaction (no row lock is held during SMTP), and its outcome
recorded in a short transaction of its own. Replicas share the work and never send one lease
twice; a replica that dies mid-send leaves the message due again when its lease ends. The
contact directory gives the account's address at send time (events carry no contact data). A
failed send is retried with backoff; after ``delivery_max_attempts`` it is ``failed``; an
account without an address for the channel is ``no_contact``. A channel without a transport
(email without an SMTP server) is not leased: its copies stay ``pending`` in the table, where
operators see them. Every outcome stays visible in the table.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import timedelta

from sqlalchemy import event as orm_event
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mpp_shared.events import NatsConnection
from mpp_shared.scheduler import PeriodicSweep
from mpp_shared.tasks import cancel_and_wait
from tracking.config import TrackingSettings
from tracking.db.notifications import NotificationRepository, PendingMessage, retry_delay
from tracking.domain.notifications import ContactDirectory, NotificationChannel, OutgoingMessage
from tracking.messaging.contacts import IdentityContacts
from tracking.messaging.notification_channels import LogChannel, SmtpEmailChannel

log = logging.getLogger(__name__)

SWEEP_NAME = "notification-delivery"


class DeliveryWorker:
    def __init__(
        self,
        *,
        sessionmaker: async_sessionmaker[AsyncSession],
        contacts: ContactDirectory,
        channels: Mapping[str, NotificationChannel],
        interval: float,
        max_attempts: int,
        lease: timedelta = timedelta(minutes=2),
        concurrency: int = 8,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._contacts = contacts
        self._channels = dict(channels)
        self._max_attempts = max_attempts
        self._lease = lease
        self._concurrency = concurrency
        self._tasks: set[asyncio.Task[None]] = set()
        self._sweep = PeriodicSweep(SWEEP_NAME, sessionmaker, self._lease_due, interval=interval)

    async def start(self) -> None:
        await self._sweep.start()

    async def stop(self) -> None:
        await self._sweep.stop()
        # Sends in flight end within the SMTP timeout; a lease covers any cut short.
        try:
            await asyncio.wait_for(self.drain(), timeout=30)
        except TimeoutError:
            for task in list(self._tasks):
                await cancel_and_wait(task)

    async def drain(self) -> None:
        """Wait for the sends in flight to be recorded."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def deliver_due(self) -> int:
        """One pass and its sends recorded; how many messages it leased."""
        leased = await self._sweep.run_once()
        await self.drain()
        return leased

    async def _lease_due(self, session: AsyncSession) -> int:
        """The sweep's pass, in its transaction: lease due messages, send them once committed."""
        free = self._concurrency - len(self._tasks)
        if free <= 0:
            return 0  # a finishing send wakes the sweep
        leased = await NotificationRepository(session).lease_due(
            channels=self._channels.keys(), limit=free, lease=self._lease
        )
        if leased:
            # Sent only once the lease is committed: a pass rolled back sends nothing, and
            # its messages stay due for any replica.
            orm_event.listen(
                session.sync_session, "after_commit", lambda _: self._send_all(leased), once=True
            )
        return len(leased)

    def _send_all(self, leased: list[PendingMessage]) -> None:
        loop = asyncio.get_running_loop()
        for message in leased:
            task = loop.create_task(self._attempt(message), name=f"notification:{message.id}")
            self._tasks.add(task)
            task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._sweep.wake()  # a slot is free

    async def _attempt(self, message: PendingMessage) -> None:
        status, error = await self._send(message)
        try:
            await self._record(message, status, error)
        except Exception:
            # Unrecorded, the lease runs out and the message is tried again: at least once.
            log.exception(
                "notification copy outcome not recorded", extra={"message_id": str(message.id)}
            )

    async def _send(self, message: PendingMessage) -> tuple[str, str | None]:
        """Outside any transaction: the outcome (status, error) of this attempt."""
        channel = self._channels[message.channel]
        try:
            contact = await self._contacts.contact_of(message.account_id)
        except Exception as exc:
            return "retry", f"contact lookup: {exc}"
        address = contact.address(message.channel) if contact is not None else None
        if address is None:
            return "no_contact", None
        try:
            await channel.send(
                OutgoingMessage(
                    id=message.id,
                    channel=message.channel,
                    account_id=message.account_id,
                    recipient=address,
                    subject=message.subject,
                    body=message.body,
                )
            )
        except Exception as exc:
            return "retry", f"{type(exc).__name__}: {exc}"
        return "sent", None

    async def _record(self, message: PendingMessage, status: str, error: str | None) -> None:
        retry_after = None
        if status == "retry":
            final = message.attempt >= self._max_attempts
            log.warning(
                "notification copy not sent",
                extra={"message_id": str(message.id), "attempts": message.attempt, "final": final},
            )
            status = "failed" if final else "pending"
            retry_after = None if final else retry_delay(message.attempt)
        async with self._sessionmaker() as session, session.begin():
            recorded = await NotificationRepository(session).settle(
                message,
                status=status,
                error=error[:500] if error else None,
                retry_after=retry_after,
            )
        if not recorded:
            log.warning(
                "notification copy's lease ran out before its outcome was recorded",
                extra={"message_id": str(message.id), "attempts": message.attempt},
            )


def delivery_worker(
    settings: TrackingSettings,
    sessionmaker: async_sessionmaker[AsyncSession],
    connection: NatsConnection,
) -> DeliveryWorker:
    """The sender, whether or not an SMTP server is configured: without one, no channel has a
    transport and every copy stays pending in the table for operators to see."""
    channels: dict[str, NotificationChannel] = {}
    if settings.smtp_host is not None:
        password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
        channels["email"] = SmtpEmailChannel(
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=settings.smtp_sender,
            username=settings.smtp_username,
            password=password,
            start_tls=settings.smtp_start_tls,
            timeout=settings.smtp_timeout_seconds,
        )
        # No SMS gateway contract yet: the copy is logged (address masked) and marked sent.
        channels["sms"] = LogChannel("sms")
    return DeliveryWorker(
        sessionmaker=sessionmaker,
        contacts=IdentityContacts(connection),
        channels=channels,
        interval=settings.delivery_interval_seconds,
        max_attempts=settings.delivery_max_attempts,
        lease=timedelta(seconds=settings.delivery_lease_seconds),
        concurrency=settings.delivery_concurrency,
    )
