"""Delivery channels of notification copies: email over SMTP, and a log-only channel."""

from __future__ import annotations

import logging
from email.message import EmailMessage

import aiosmtplib

from mpp_shared.observability.masking import mask_phone
from tracking.domain.notifications import OutgoingMessage

log = logging.getLogger(__name__)


def mask_address(address: str) -> str:
    """An email or phone number fit for a log line: ``b***@example.id``, ``0812******89``."""
    local, at, domain = address.partition("@")
    if at:
        return f"{local[:1]}***@{domain}"
    return mask_phone(address)


class SmtpEmailChannel:
    """Sends a notification copy as a plain-text email through an SMTP server."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        sender: str,
        username: str | None = None,
        password: str | None = None,
        start_tls: bool = True,
        timeout: float = 10.0,
    ) -> None:
        self._host = host
        self._port = port
        self._sender = sender
        self._username = username
        self._password = password
        self._start_tls = start_tls
        self._timeout = timeout

    async def send(self, message: OutgoingMessage) -> None:
        email = EmailMessage()
        email["From"] = self._sender
        email["To"] = message.recipient
        email["Subject"] = message.subject
        email["X-MPP-Message-Id"] = str(message.id)
        email.set_content(message.body)
        await aiosmtplib.send(
            email,
            hostname=self._host,
            port=self._port,
            username=self._username,
            password=self._password,
            start_tls=self._start_tls,
            timeout=self._timeout,
        )


class LogChannel:
    """Writes the message to the log with the address masked (development, SMS without a
    gateway contract yet)."""

    def __init__(self, channel: str) -> None:
        self._channel = channel

    async def send(self, message: OutgoingMessage) -> None:
        log.info(
            "notification copy (log channel)",
            extra={
                "channel": self._channel,
                "message_id": str(message.id),
                "recipient": mask_address(message.recipient),
            },
        )
