"""The response cache's own rules: expiry, generations, size bound."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from catalog.api.http_cache import etag_of
from catalog.api.response_cache import CachedAnswer, ResponseCache, ResponseCacheMiddleware


def _answer(
    cache: ResponseCache, *, expires_in: float = 10.0, generation: int | None = None
) -> CachedAnswer:
    return CachedAnswer(
        headers=[],
        body=b"{}",
        etag=b'"x"',
        route=None,
        expires=time.monotonic() + expires_in,
        generation=cache.generation if generation is None else generation,
    )


def test_invalidate_empties_and_refuses_answers_computed_before_it() -> None:
    cache = ResponseCache(ttl=10, max_entries=10)
    started_at = cache.generation
    cache.put(b"a", _answer(cache))
    cache.invalidate()
    assert cache.get(b"a") is None
    cache.put(b"b", _answer(cache, generation=started_at))  # computed before the change
    assert cache.get(b"b") is None


def test_expired_answer_is_not_served() -> None:
    cache = ResponseCache(ttl=10, max_entries=10)
    cache.put(b"a", _answer(cache, expires_in=-1))
    assert cache.get(b"a") is None


def test_least_recently_used_answer_goes_first() -> None:
    cache = ResponseCache(ttl=10, max_entries=2)
    cache.put(b"a", _answer(cache))
    cache.put(b"b", _answer(cache))
    assert cache.get(b"a") is not None
    cache.put(b"c", _answer(cache))
    assert cache.get(b"b") is None
    assert cache.get(b"a") is not None
    assert len(cache) == 2


class _CountingApp:
    """A read endpoint that takes a while and counts how often it really ran."""

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.calls += 1
        await asyncio.sleep(0.05)
        body = b'{"items": []}'
        headers = [(b"etag", etag_of(body).encode()), (b"cache-control", b"public, max-age=30")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})


async def _get(middleware: ResponseCacheMiddleware, path: str = "/api/v1/services") -> int:
    status = 0

    async def send(message: Any) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    async def receive() -> Any:
        return {"type": "http.request", "body": b""}

    scope = {"type": "http", "method": "GET", "path": path, "query_string": b"q=ktp", "headers": []}
    await middleware(scope, receive, send)
    return status


async def test_concurrent_misses_of_one_request_run_it_once() -> None:
    app = _CountingApp()
    middleware = ResponseCacheMiddleware(app, cache=ResponseCache(ttl=10, max_entries=10))
    statuses = await asyncio.gather(*(_get(middleware) for _ in range(20)))
    assert statuses == [200] * 20
    assert app.calls == 1


async def test_expired_answer_is_renewed_by_one_request_while_others_get_it() -> None:
    app = _CountingApp()
    cache = ResponseCache(ttl=0.05, max_entries=10)
    middleware = ResponseCacheMiddleware(app, cache=cache)
    await _get(middleware)
    await asyncio.sleep(0.06)  # expired, nothing changed
    statuses = await asyncio.gather(*(_get(middleware) for _ in range(10)))
    assert statuses == [200] * 10
    assert app.calls == 2


async def test_write_empties_the_cache_when_it_completes() -> None:
    app = _CountingApp()
    cache = ResponseCache(ttl=10, max_entries=10)
    middleware = ResponseCacheMiddleware(app, cache=cache)
    await _get(middleware)
    assert len(cache) == 1

    async def send(message: Any) -> None:
        return None

    async def receive() -> Any:
        return {"type": "http.request", "body": b""}

    post = {"type": "http", "method": "POST", "path": "/api/v1/services", "headers": []}
    await middleware(post, receive, send)
    assert len(cache) == 0
