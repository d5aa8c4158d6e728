"""A short-lived cache of public catalogue reads, emptied by every catalogue change.

The catalogue is read far more than it changes, and identical reads (the same search, the
same service) repeat. Answers are kept for at most ``ttl`` seconds — never longer than the
``Cache-Control: max-age`` they carry, so no reader sees more than an HTTP cache could show it —
and every change empties the cache at once: a write through this process when it completes,
a write through another replica when its ``mpp.catalog.*`` event arrives over NATS.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from catalog.api.http_cache import etag_matches

log = logging.getLogger(__name__)

CACHED_PREFIXES = ("/api/v1/services", "/api/v1/regions", "/api/v1/agencies", "/api/v1/locations")
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True, slots=True)
class CachedAnswer:
    headers: list[tuple[bytes, bytes]]
    body: bytes
    etag: bytes
    route: Any  # the route that made it, for the metrics of cached answers
    expires: float
    generation: int

    def fresh(self, now: float) -> bool:
        return now < self.expires


class ResponseCache:
    def __init__(self, *, ttl: float, max_entries: int, max_body_bytes: int = 512 * 1024) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self.max_body_bytes = max_body_bytes
        self.generation = 0
        self._entries: OrderedDict[bytes, CachedAnswer] = OrderedDict()
        # Cacheable reads answered from the cache, and those that went on to the app.
        self.hits = 0
        self.misses = 0

    @property
    def enabled(self) -> bool:
        return self.ttl > 0 and self.max_entries > 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: bytes, *, stale_for: float = 0.0) -> CachedAnswer | None:
        """The answer for ``key`` of the current generation, up to ``stale_for`` s past expiry."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.generation != self.generation or entry.expires + stale_for <= time.monotonic():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry

    def put(self, key: bytes, entry: CachedAnswer) -> None:
        # An answer computed before the latest change may be stale: not kept.
        if entry.generation != self.generation or len(entry.body) > self.max_body_bytes:
            return
        self._entries[key] = entry
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def invalidate(self) -> None:
        self.generation += 1
        self._entries.clear()

    def collect(self) -> Iterator[Metric]:
        """Prometheus: hits and misses, for operators to watch the hit ratio."""
        requests = CounterMetricFamily(
            "catalog_response_cache_requests",
            "Cacheable catalogue reads, by whether the response cache answered them",
            labels=["outcome"],
        )
        requests.add_metric(["hit"], self.hits)
        requests.add_metric(["miss"], self.misses)
        yield requests
        yield GaugeMetricFamily(
            "catalog_response_cache_entries", "Answers held by the response cache", len(self)
        )


class ResponseCacheMiddleware:
    """Answers repeated public GETs from the cache; empties it after every write.

    No stampede: concurrent misses of one key wait for the first one's answer, and when an
    answer expires (nothing changed, its time is just up) one request renews it while the
    others are still served the expired answer — for at most another ``ttl``.
    """

    def __init__(self, app: ASGIApp, *, cache: ResponseCache) -> None:
        self.app = app
        self.cache = cache
        self._pending: dict[bytes, asyncio.Future[CachedAnswer | None]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.cache.enabled:
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        if method in WRITE_METHODS:
            try:
                await self.app(scope, receive, send)
            finally:
                # The request's transaction has ended (committed or not) when the app returns.
                self.cache.invalidate()
            return
        path: str = scope["path"]
        if method != "GET" or not path.startswith(CACHED_PREFIXES) or path.endswith("/draft"):
            await self.app(scope, receive, send)
            return
        key = path.encode() + b"?" + scope.get("query_string", b"")
        entry = self.cache.get(key, stale_for=self.cache.ttl)
        pending = self._pending.get(key)
        if entry is not None and (pending is not None or entry.fresh(time.monotonic())):
            self.cache.hits += 1
            await self._answer(scope, send, entry)
            return
        if entry is None and pending is not None:
            shared = await asyncio.shield(pending)
            if shared is not None and shared.generation == self.cache.generation:
                self.cache.hits += 1
                await self._answer(scope, send, shared)
                return
            self.cache.misses += 1
            await self.app(scope, receive, send)
            return
        self.cache.misses += 1
        future: asyncio.Future[CachedAnswer | None] = asyncio.get_running_loop().create_future()
        self._pending[key] = future
        made: CachedAnswer | None = None
        try:
            made = await self._fill(scope, receive, send, key)
        finally:
            del self._pending[key]
            future.set_result(made)

    async def _answer(self, scope: Scope, send: Send, entry: CachedAnswer) -> None:
        scope["route"] = entry.route
        if_none_match = next((v for k, v in scope["headers"] if k == b"if-none-match"), None)
        if if_none_match is not None and etag_matches(
            if_none_match.decode("latin-1"), entry.etag.decode()
        ):
            headers = [(k, v) for k, v in entry.headers if k in (b"etag", b"cache-control")]
            await send({"type": "http.response.start", "status": 304, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        await send({"type": "http.response.start", "status": 200, "headers": entry.headers})
        await send({"type": "http.response.body", "body": entry.body})

    async def _fill(
        self, scope: Scope, receive: Receive, send: Send, key: bytes
    ) -> CachedAnswer | None:
        generation = self.cache.generation
        expires = time.monotonic() + self.cache.ttl
        status = 0
        headers: list[tuple[bytes, bytes]] = []
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal status, headers
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        await self.app(scope, receive, capture)
        if status != 200:
            return None
        found = dict(headers)
        etag = found.get(b"etag")
        if etag is None or not found.get(b"cache-control", b"").startswith(b"public"):
            return None
        stored = [(k, v) for k, v in headers if k not in (b"x-request-id", b"traceparent")]
        entry = CachedAnswer(
            headers=stored,
            body=b"".join(chunks),
            etag=etag,
            route=scope.get("route"),
            expires=expires,
            generation=generation,
        )
        self.cache.put(key, entry)
        return entry
