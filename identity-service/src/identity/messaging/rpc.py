"""NATS request-reply responders: prefill and consent grants for application-service, and
the contact addresses tracking-service sends notification copies to.

Subjects live outside ``mpp.>`` (the events stream would answer them); replicas share
requests through one queue group.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from identity.db.repositories import AccessLogRepository, AccountRepository, ConsentRepository
from identity.domain.consents import (
    NoConsent,
    PrefillQuery,
    grant_consent,
    notification_contact,
    prefill,
)
from identity.domain.exceptions import InvalidInput, NotFound
from mpp_shared.contracts.identity import v1 as contracts
from mpp_shared.events import NatsConnection

log = logging.getLogger(__name__)

Answer = Callable[[AsyncSession, bytes], Awaitable[BaseModel]]


async def answer_prefill(session: AsyncSession, body: bytes) -> BaseModel:
    request = contracts.PrefillRequest.model_validate_json(body)
    fields = await prefill(
        query=PrefillQuery(
            account_id=request.account_id,
            service_id=request.service_id,
            fields=request.fields,
            requested_by=request.requested_by,
            purpose=request.purpose,
        ),
        accounts=AccountRepository(session),
        consents=ConsentRepository(session),
        access_log=AccessLogRepository(session),
        now=datetime.now(UTC),
    )
    return contracts.PrefillResponse(fields=fields)


async def answer_consent_grant(session: AsyncSession, body: bytes) -> BaseModel:
    request = contracts.ConsentGrantRequest.model_validate_json(body)
    consent = await grant_consent(
        account_id=request.account_id,
        service_id=request.service_id,
        fields=request.fields,
        purpose=request.purpose,
        granted_via=request.requested_by,
        accounts=AccountRepository(session),
        consents=ConsentRepository(session),
        now=datetime.now(UTC),
    )
    return contracts.ConsentGrantResponse(
        consent_id=consent.id, granted_at=consent.granted_at, fields=list(consent.fields)
    )


async def answer_contact(session: AsyncSession, body: bytes) -> BaseModel:
    request = contracts.ContactRequest.model_validate_json(body)
    email, phone = await notification_contact(
        account_id=request.account_id,
        requested_by=request.requested_by,
        purpose=request.purpose,
        accounts=AccountRepository(session),
        access_log=AccessLogRepository(session),
        now=datetime.now(UTC),
    )
    return contracts.ContactResponse(email=email, phone=phone)


async def handle(
    answer: Answer, body: bytes, sessionmaker: async_sessionmaker[AsyncSession]
) -> BaseModel:
    """One request in one transaction; domain refusals become ``RpcError`` replies."""
    try:
        async with sessionmaker() as session, session.begin():
            return await answer(session, body)
    except ValidationError as exc:
        return contracts.RpcError(error="invalid_request", detail=str(exc.errors()[:3]))
    except NoConsent:
        return contracts.RpcError(error="no_consent", detail="no consent covers these fields")
    except NotFound:
        return contracts.RpcError(error="unknown_account", detail="no such citizen account")
    except InvalidInput as exc:
        return contracts.RpcError(error="unknown_field", detail=exc.detail)
    except Exception:
        log.exception("request-reply handler failed")
        return contracts.RpcError(error="internal_error")


class RpcResponder:
    """A worker answering one subject in a queue group, subscribed whenever NATS connects."""

    def __init__(
        self,
        *,
        subject: str,
        answer: Answer,
        queue: str,
        sessionmaker: async_sessionmaker[AsyncSession],
        connection: NatsConnection,
    ) -> None:
        self.subject = subject
        self._answer = answer
        self._queue = queue
        self._sessionmaker = sessionmaker
        self._connection = connection
        self._subscription: Subscription | None = None
        self._lock = asyncio.Lock()
        self._inflight: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._connection.on_connect(self._on_connect)
        if self._connection.connected:
            await self._subscribe()

    async def _on_connect(self, _: NatsConnection) -> None:
        await self._subscribe()

    async def _subscribe(self) -> None:
        async with self._lock:
            # The client re-subscribes by itself after a reconnect; only the first connect
            # (or a new client) needs us.
            if self._subscription is not None and self._connection.connected:
                return
            self._subscription = await self._connection.client.subscribe(
                self.subject, queue=self._queue, cb=self._on_message
            )
            log.info("answering requests", extra={"subject": self.subject})

    async def _on_message(self, msg: Msg) -> None:
        # Answered in a task of its own: a slow database must not hold up the next request.
        task = asyncio.create_task(self._reply(msg))
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)

    async def _reply(self, msg: Msg) -> None:
        reply = await handle(self._answer, msg.data, self._sessionmaker)
        if msg.reply:
            with contextlib.suppress(Exception):
                await msg.respond(reply.model_dump_json().encode())

    async def stop(self) -> None:
        subscription, self._subscription = self._subscription, None
        if subscription is not None:
            with contextlib.suppress(Exception):
                await subscription.unsubscribe()
        if self._inflight:
            await asyncio.wait(self._inflight, timeout=5)


def rpc_responders(
    sessionmaker: async_sessionmaker[AsyncSession], connection: NatsConnection, *, queue: str
) -> list[RpcResponder]:
    return [
        RpcResponder(
            subject=contracts.PREFILL_SUBJECT,
            answer=answer_prefill,
            queue=queue,
            sessionmaker=sessionmaker,
            connection=connection,
        ),
        RpcResponder(
            subject=contracts.CONSENT_GRANT_SUBJECT,
            answer=answer_consent_grant,
            queue=queue,
            sessionmaker=sessionmaker,
            connection=connection,
        ),
        RpcResponder(
            subject=contracts.CONTACT_SUBJECT,
            answer=answer_contact,
            queue=queue,
            sessionmaker=sessionmaker,
            connection=connection,
        ),
    ]
