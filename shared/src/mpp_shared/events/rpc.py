"""NATS request-reply responders: a worker answering one subject in a queue group.

Request subjects live outside ``mpp.>`` (the events stream would answer them itself).
Replicas of a service share the requests through one queue group, and the worker subscribes
on every connection, so a service started before NATS answers once NATS comes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from pydantic import BaseModel

from mpp_shared.events.connection import NatsConnection

log = logging.getLogger(__name__)

# The reply to one request's body; it answers errors with a reply of its own, never raises.
Reply = Callable[[bytes], Awaitable[BaseModel]]


class RpcResponder:
    """Answers ``subject`` in the queue group ``queue`` with what ``reply`` returns."""

    def __init__(
        self, *, subject: str, queue: str, reply: Reply, connection: NatsConnection
    ) -> None:
        self.subject = subject
        self._queue = queue
        self._reply = reply
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
        task = asyncio.create_task(self._answer(msg))
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)

    async def _answer(self, msg: Msg) -> None:
        reply = await self._reply(msg.data)
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


__all__ = ["Reply", "RpcResponder"]
