"""Sends the pending email/SMS copies of notifications from the outgoing-messages table.

Each round claims due messages with ``FOR UPDATE SKIP LOCKED`` (replicas share the work and
never send one twice), asks the contact directory for the account's address at send time
(events carry no contact data), and sends through the channel. A failed send is retried with
backoff; after ``delivery_max_attempts`` it is ``failed``; an account without an address for
the channel is ``no_contact``. Every outcome stays visible in the table.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mpp_shared.events import NatsConnection
from tracking.config import TrackingSettings
from tracking.db.notifications import NotificationRepository, PendingMessage, retry_delay
from tracking.domain.notifications import ContactDirectory, NotificationChannel, OutgoingMessage
from tracking.messaging.contacts import IdentityContacts
from tracking.messaging.notification_channels import LogChannel, SmtpEmailChannel

log = logging.getLogger(__name__)


class DeliveryWorker:
    def __init__(
        self,
        *,
        sessionmaker: async_sessionmaker[AsyncSession],
        contacts: ContactDirectory,
        channels: Mapping[str, NotificationChannel],
        interval: float,
        max_attempts: int,
        batch: int = 20,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._contacts = contacts
        self._channels = dict(channels)
        self._interval = interval
        self._max_attempts = max_attempts
        self._batch = batch
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="notification-delivery")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            try:
                sent = await self.deliver_due()
            except Exception:
                log.exception("notification delivery round failed")
                sent = 0
            if sent < self._batch:
                await asyncio.sleep(self._interval)

    async def deliver_due(self) -> int:
        """One round; how many messages it settled."""
        now = datetime.now(UTC)
        async with self._sessionmaker() as session, session.begin():
            repository = NotificationRepository(session)
            pending = await repository.claim_due(now=now, limit=self._batch)
            for message in pending:
                await self._deliver(repository, message, now=now)
            return len(pending)

    async def _deliver(
        self, repository: NotificationRepository, message: PendingMessage, *, now: datetime
    ) -> None:
        attempts = message.attempts + 1
        channel = self._channels.get(message.channel)
        try:
            contact = await self._contacts.contact_of(message.account_id)
        except Exception as exc:
            await self._retry(repository, message.id, attempts, f"contact lookup: {exc}", now)
            return
        address = contact.address(message.channel) if contact is not None else None
        if address is None or channel is None:
            await repository.settle(message.id, status="no_contact", attempts=attempts)
            return
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
            await self._retry(repository, message.id, attempts, f"{type(exc).__name__}: {exc}", now)
            return
        await repository.settle(message.id, status="sent", attempts=attempts, sent_at=now)

    async def _retry(
        self,
        repository: NotificationRepository,
        message_id: uuid.UUID,
        attempts: int,
        error: str,
        now: datetime,
    ) -> None:
        final = attempts >= self._max_attempts
        log.warning(
            "notification copy not sent",
            extra={"message_id": str(message_id), "attempts": attempts, "final": final},
        )
        await repository.settle(
            message_id,
            status="failed" if final else "pending",
            attempts=attempts,
            error=error[:500],
            retry_at=None if final else now + retry_delay(attempts),
        )


def delivery_worker(
    settings: TrackingSettings,
    sessionmaker: async_sessionmaker[AsyncSession],
    connection: NatsConnection,
) -> DeliveryWorker | None:
    """The worker for the configured SMTP server; None without one (copies stay pending)."""
    if settings.smtp_host is None:
        return None
    password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
    return DeliveryWorker(
        sessionmaker=sessionmaker,
        contacts=IdentityContacts(connection),
        channels={
            "email": SmtpEmailChannel(
                host=settings.smtp_host,
                port=settings.smtp_port,
                sender=settings.smtp_sender,
                username=settings.smtp_username,
                password=password,
                start_tls=settings.smtp_start_tls,
                timeout=settings.smtp_timeout_seconds,
            ),
            # No SMS gateway contract yet: the copy is logged (address masked) and marked sent.
            "sms": LogChannel("sms"),
        },
        interval=settings.delivery_interval_seconds,
        max_attempts=settings.delivery_max_attempts,
    )
