"""NATS request-reply: the catalogue snapshot for services that start after the events expired.

``rpc.catalog.services.snapshot`` (contract in ``mpp_shared.contracts.catalog.v1``); only
application-service may ask (``mpp_shared.events.permissions``). Replicas share the requests
through one queue group; each request is read in a transaction of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog.db.repositories import SqlSnapshotReader
from catalog.domain.snapshot import InvalidCursor, services_snapshot
from mpp_shared.contracts.catalog import v1 as contract
from mpp_shared.events import NatsConnection

log = logging.getLogger(__name__)

QUEUE = "catalog"


async def answer_snapshot(body: bytes, sessionmaker: async_sessionmaker[AsyncSession]) -> BaseModel:
    """One page of the snapshot, or an ``RpcError`` reply (never an exception)."""
    try:
        request = contract.ServicesSnapshotRequest.model_validate_json(body or b"{}")
        async with sessionmaker() as session, session.begin():
            return await services_snapshot(reader=SqlSnapshotReader(session), request=request)
    except ValidationError as exc:
        return contract.RpcError(
            error="invalid_request",
            detail="; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in exc.errors()[:3]
            ),
        )
    except InvalidCursor as exc:
        return contract.RpcError(error="invalid_request", detail=f"after: {exc}")
    except Exception:
        log.exception("catalogue snapshot request failed")
        return contract.RpcError(error="internal_error")


class SnapshotResponder:
    """A worker answering ``SNAPSHOT_SUBJECT`` in the queue group, subscribed on each connect."""

    def __init__(
        self,
        *,
        sessionmaker: async_sessionmaker[AsyncSession],
        connection: NatsConnection,
        subject: str = contract.SNAPSHOT_SUBJECT,
        queue: str = QUEUE,
    ) -> None:
        self.subject = subject
        self._queue = queue
        self._sessionmaker = sessionmaker
        self._connection = connection
        self._subscription: Subscription | None = None
        self._lock = asyncio.Lock()
        self._inflight: set[asyncio.Task[None]] = set()
        self._registered = False
        self._stopping = False

    async def start(self) -> None:
        self._stopping = False
        if not self._registered:
            self._connection.on_connect(self._on_connect)
            self._registered = True
        if self._connection.connected:
            await self._subscribe()

    async def _on_connect(self, _: NatsConnection) -> None:
        await self._subscribe()

    async def _subscribe(self) -> None:
        async with self._lock:
            if self._stopping:
                return
            # The client subscribes again by itself after a reconnect; only the first connect
            # (or a new client) needs us.
            if self._subscription is not None and self._connection.connected:
                return
            self._subscription = await self._connection.client.subscribe(
                self.subject, queue=self._queue, cb=self._on_message
            )
            log.info("answering requests", extra={"subject": self.subject})

    async def _on_message(self, msg: Msg) -> None:
        # In a task of its own: a slow database must not hold up the next request.
        task = asyncio.create_task(self._reply(msg))
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)

    async def _reply(self, msg: Msg) -> None:
        reply = await answer_snapshot(msg.data, self._sessionmaker)
        if msg.reply:
            with contextlib.suppress(Exception):
                await msg.respond(reply.model_dump_json().encode())

    async def stop(self) -> None:
        self._stopping = True
        subscription, self._subscription = self._subscription, None
        if subscription is not None:
            with contextlib.suppress(Exception):
                await subscription.unsubscribe()
        if self._inflight:
            await asyncio.wait(self._inflight, timeout=5)
