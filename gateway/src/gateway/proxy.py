"""The edge's fast path: a raw ASGI app that checks a public request and streams it through.

For every request, in order: CORS preflight, route (404 for anything not public), token
(401/403), rate limit (429), body size (413), then the exchange with the service, whose
answer streams back as it arrives. Caller-supplied ``X-MPP-*`` and forwarding headers are
dropped; the gateway sets its own. Everything the gateway itself answers is problem+json.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import random
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.auth import EdgeAuthenticator, VerifiedCaller, bearer_token
from gateway.config import GatewaySettings
from gateway.edge import CorsPolicy, security_headers
from gateway.ratelimit import RateLimiter
from gateway.rewrite import InternalAddresses
from gateway.routes import Auth, Body, Route, RoutingTable
from gateway.upstream import (
    UpstreamBroken,
    UpstreamBusy,
    UpstreamConnection,
    UpstreamError,
    UpstreamPool,
    UpstreamReplicas,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from mpp_shared.auth.deps import Forbidden, MfaEnrolmentRequired, Unauthorized
from mpp_shared.auth.verify import InvalidToken
from mpp_shared.observability.accesslog import AccessLog
from mpp_shared.observability.context import (
    TraceContext,
    accept_request_id,
    request_id_var,
    trace_var,
)
from mpp_shared.observability.metrics import HttpMetrics
from mpp_shared.problems import PROBLEM_CONTENT_TYPE, Problem

log = logging.getLogger(__name__)

# Request headers the gateway handles itself: never forwarded as the caller sent them.
# RFC 9110 7.6.1 hop-by-hop headers, framing, forwarding and correlation headers.
_H_DROP, _H_AUTH, _H_LENGTH, _H_CHUNKED, _H_RID, _H_TRACE, _H_ORIGIN, _H_XFF, _H_HOST, _H_ACRM = (
    range(10)
)
_REQUEST_SPECIAL: dict[bytes, int] = {
    b"connection": _H_DROP,
    b"keep-alive": _H_DROP,
    b"proxy-authenticate": _H_DROP,
    b"proxy-authorization": _H_DROP,
    b"proxy-connection": _H_DROP,
    b"te": _H_DROP,
    b"trailer": _H_DROP,
    b"upgrade": _H_DROP,
    b"expect": _H_DROP,
    b"forwarded": _H_DROP,
    b"x-forwarded-proto": _H_DROP,
    b"x-forwarded-host": _H_DROP,
    b"x-forwarded-port": _H_DROP,
    b"x-real-ip": _H_DROP,
    b"authorization": _H_AUTH,
    b"content-length": _H_LENGTH,
    b"transfer-encoding": _H_CHUNKED,
    b"x-request-id": _H_RID,
    b"traceparent": _H_TRACE,
    b"origin": _H_ORIGIN,
    b"x-forwarded-for": _H_XFF,
    b"host": _H_HOST,
    b"access-control-request-method": _H_ACRM,
}
_INTERNAL_PREFIX = b"x-mpp-"
# Response headers of a service that the gateway does not pass on (its own server sets them).
_RESPONSE_DROP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"transfer-encoding",
        b"upgrade",
        b"proxy-authenticate",
        b"trailer",
        b"te",
        b"date",
        b"server",
        b"x-request-id",
        b"traceparent",
    }
)
_BODY_METHODS = frozenset({b"POST", b"PUT", b"PATCH"})
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
_PROBLEM_CT = (b"content-type", PROBLEM_CONTENT_TYPE.encode("ascii"))
# Response headers that may carry a URL: one naming an internal address is rewritten.
_RESPONSE_URLS = frozenset({b"location", b"content-location", b"link", b"refresh"})
# Encoded "/", "\" and NUL in the raw path: refused rather than passed on for a service's
# router to decode differently from the routing table.
_ENCODED_SEPARATOR = re.compile(rb"%(?:2f|5c|00)", re.IGNORECASE)
_METRIC_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Request and trace ids need to be unique, not secret: a seeded PRNG costs no system call per
# request, where uuid4() and secrets read the kernel's random source every time.
_ids = random.Random()  # noqa: S311


def _new_request_id() -> str:
    """A random version-4 UUID, formatted directly (uuid.UUID costs several times more)."""
    h = f"{_ids.getrandbits(128):032x}"
    variant = "89ab"[int(h[16], 16) & 3]
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{variant}{h[17:20]}-{h[20:]}"


def _new_span_id() -> str:
    return f"{_ids.getrandbits(64) or 1:016x}"


def _trace_of(traceparent: str | None) -> TraceContext:
    """The gateway's span: a child of the caller's trace, or the root of a new one."""
    parent = TraceContext.parse(traceparent)
    if parent is not None:
        return TraceContext(parent.trace_id, _new_span_id(), parent.flags)
    return TraceContext(f"{_ids.getrandbits(128) or 1:032x}", _new_span_id())


@dataclass(slots=True)
class _Request:
    """What the edge learnt from a request's headers in one pass."""

    forward: list[bytes]
    authorization: bytes | None = None
    content_length: int | None = None
    chunked: bool = False
    request_id: str | None = None
    traceparent: str | None = None
    origin: bytes | None = None
    forwarded_for: bytes | None = None
    host: bytes | None = None
    preflight: bool = False
    bad_length: bool = False
    bad_transfer_encoding: bool = False


class Proxy:
    """The raw ASGI app for every public path; ``start``/``stop`` run in the app's lifespan."""

    def __init__(
        self,
        settings: GatewaySettings,
        *,
        table: RoutingTable,
        metrics: HttpMetrics,
        cors: CorsPolicy,
        access_log: AccessLog | None = None,
    ) -> None:
        self.settings = settings
        self.table = table
        self.metrics = metrics
        self._series: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self.cors = cors
        self.access_log = access_log
        # Each service's replicas (one pool each) by service name.
        self.pools: dict[str, UpstreamReplicas] = {}
        self.authenticator: EdgeAuthenticator | None = None
        self.limiter: RateLimiter | None = None
        self.security = security_headers(hsts_seconds=settings.hsts_seconds)
        self._security_names = frozenset(name for name, _ in self.security)
        self.timeout = settings.upstream_timeout_seconds
        self.body_timeout = settings.client_body_timeout_seconds
        self.send_timeout = settings.client_send_timeout_seconds
        self.internal = InternalAddresses(
            (url for urls in settings.upstream_replicas().values() for url in urls),
            settings.public_url,
        )
        self.max_body = {
            Body.JSON: settings.max_body_bytes,
            Body.UPLOAD: settings.max_upload_bytes,
        }
        self._trusted = [
            ipaddress.ip_network(net, strict=False) for net in settings.trusted_proxies
        ]
        self._trusted_cache: dict[str, bool] = {}

    def start(self, authenticator: EdgeAuthenticator, limiter: RateLimiter | None) -> None:
        self.authenticator = authenticator
        self.limiter = limiter
        self.pools = {
            name: UpstreamReplicas(
                name,
                urls,
                connect_timeout=self.settings.upstream_connect_timeout_seconds,
                idle_seconds=self.settings.upstream_idle_seconds,
                max_idle=self.settings.upstream_max_idle_connections,
                retry_after_seconds=self.settings.upstream_retry_after_seconds,
                max_connections=self.settings.upstream_max_connections,
                queue_size=self.settings.upstream_queue_size,
                queue_timeout=self.settings.upstream_queue_timeout_seconds,
                connect_attempts=self.settings.upstream_connect_attempts,
                connect_backoff_seconds=self.settings.upstream_connect_backoff_seconds,
                failure_threshold=self.settings.upstream_failure_threshold,
            )
            for name, urls in self.settings.upstream_replicas().items()
        }

    async def stop(self) -> None:
        for pool in self.pools.values():
            await pool.close()

    # ---- the request ---------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        request = _read_headers(scope["headers"])
        request_id = (
            accept_request_id(request.request_id) if request.request_id else _new_request_id()
        )
        trace = _trace_of(request.traceparent)
        rid_token = request_id_var.set(request_id)
        trace_token = trace_var.set(trace)
        extra = [
            (b"x-request-id", request_id.encode("latin-1")),
            (b"traceparent", trace.traceparent.encode("latin-1")),
            *self.cors.response_headers(request.origin),
        ]
        status = 500
        route: Route | None = None
        try:
            route, status = await self._handle(scope, receive, send, request, trace, extra)
        except Problem as problem:
            status = problem.status
            await self._problem(send, scope, problem, extra)
        except UpstreamError:
            raise  # broke off mid-response (logged): the server drops the client's connection
        except Exception as exc:
            # This app runs outside FastAPI's error handling: a bug still answers problem+json.
            log.exception("unhandled error in the gateway", extra={"path": scope["path"]})
            status = 500
            internal = Problem("An unexpected error occurred.", status=500, code="internal_error")
            try:
                await self._problem(send, scope, internal, extra)
            except RuntimeError:
                raise exc from None  # the response had started: nothing left but to break off
        finally:
            elapsed = time.perf_counter() - started
            method = scope["method"]
            self._observe(method, route.pattern if route else "unmatched", status, elapsed)
            if self.access_log is not None:
                self.access_log.record(
                    method,
                    scope["path"],
                    status,
                    round(elapsed * 1000, 2),
                    request_id,
                    trace.trace_id,
                )
            request_id_var.reset(rid_token)
            trace_var.reset(trace_token)

    async def _handle(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        request: _Request,
        trace: TraceContext,
        extra: list[tuple[bytes, bytes]],
    ) -> tuple[Route | None, int]:
        method: str = scope["method"]
        path: str = scope["path"]
        if request.preflight and method == "OPTIONS":
            return None, await self._preflight(send, request, extra)
        if "/." in path and _has_dot_segment(path):
            raise Problem("The path is not valid.", status=400, code="invalid_path")
        raw_path: bytes | None = scope.get("raw_path")
        if raw_path is not None and b"%" in raw_path and _ENCODED_SEPARATOR.search(raw_path):
            raise Problem("The path is not valid.", status=400, code="invalid_path")
        route = self.table.match(method, path)
        if route is None:
            raise Problem("No such endpoint.", status=404, code="not_found")

        caller: VerifiedCaller | None = None
        if route.auth is not Auth.SERVICE:
            token = bearer_token(request.authorization) if request.authorization else None
            if token is not None:
                if not token:
                    raise InvalidToken("malformed token")
                assert self.authenticator is not None
                caller = self.authenticator.cached(token)
                if caller is None:
                    caller = await self.authenticator.authenticate(token)
                principal = caller.principal
                if principal.needs_mfa_enrolment and not route.mfa_enrolment:
                    raise MfaEnrolmentRequired()
                if route.auth is Auth.TOKEN and not route.admits(principal):
                    raise Forbidden("Your roles do not allow this endpoint.")
            elif route.auth is Auth.TOKEN:
                raise Unauthorized()

        client_ip = self._client_ip(scope, request)
        if self.limiter is not None:
            wait = self.limiter.check(
                route.limit, client_ip, caller.principal.subject if caller else None
            )
            if wait is not None:
                raise Problem(
                    "Too many requests; slow down.",
                    status=429,
                    code="rate_limited",
                    headers={"Retry-After": str(wait)},
                )

        if request.bad_length:
            raise Problem(
                "Content-Length is not valid.",
                status=400,
                code="bad_request",
                headers={"Connection": "close"},
            )
        if request.bad_transfer_encoding:
            raise Problem(
                "Transfer-Encoding other than chunked is not accepted.",
                status=400,
                code="bad_request",
                headers={"Connection": "close"},
            )
        limit = self.max_body[route.body]
        if request.content_length is not None and request.content_length > limit:
            # Decided on the declared length, before reading any of it (the server protocol
            # throws the body away after the answer, within client_linger_seconds).
            raise _too_large(limit)

        forward = request.forward
        forward.append(b"x-forwarded-for: " + client_ip.encode("latin-1") + b"\r\n")
        forward.append(b"x-forwarded-proto: " + scope.get("scheme", "http").encode() + b"\r\n")
        if request.host:
            forward.append(b"x-forwarded-host: " + request.host + b"\r\n")
        forward.append(b"x-request-id: " + extra[0][1] + b"\r\n")
        child = f"00-{trace.trace_id}-{_new_span_id()}-{trace.flags}"
        forward.append(b"traceparent: " + child.encode() + b"\r\n")
        if caller is not None:
            assert self.authenticator is not None
            for name, value in self.authenticator.headers(caller):
                forward.append(name + b": " + value + b"\r\n")
        status = await self._exchange(scope, receive, send, route, request, limit, extra)
        return route, status

    async def _exchange(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        route: Route,
        request: _Request,
        limit: int,
        extra: list[tuple[bytes, bytes]],
    ) -> int:
        replicas = self.pools[route.service]
        method: str = scope["method"]
        raw_path = scope.get("raw_path") or quote(scope["path"]).encode("ascii")
        query = scope.get("query_string")
        target = raw_path + b"?" + query if query else raw_path
        method_bytes = method.encode("ascii")
        has_body = bool(request.content_length) or request.chunked

        # The host line names the replica, chosen once the body's first piece is at hand.
        request_line = b"".join((method_bytes, b" ", target, b" HTTP/1.1\r\nhost: "))
        lines = [b"\r\n"]
        lines.extend(request.forward)
        first_body = b""
        complete_body = True
        if has_body:
            if request.chunked:
                lines.append(b"transfer-encoding: chunked\r\n")
            else:
                lines.append(b"content-length: %d\r\n" % (request.content_length or 0))
            message = await self._receive_body(receive)
            if message["type"] == "http.disconnect":
                return 499
            first_body = message.get("body", b"")
            complete_body = not message.get("more_body", False)
            if len(first_body) > limit:
                raise _too_large(limit)
            if request.chunked:
                first_body = _chunk(first_body) + (b"0\r\n\r\n" if complete_body else b"")
        elif method_bytes in _BODY_METHODS:
            lines.append(b"content-length: 0\r\n")
        lines.append(b"\r\n")
        lines.append(first_body)
        rest = b"".join(lines)

        retryable = complete_body and method in _IDEMPOTENT
        try:
            candidates = replicas.candidates()
            for index, pool in enumerate(candidates):
                last = index == len(candidates) - 1
                try:
                    conn = await self._send_request(
                        pool,
                        b"".join((request_line, pool.authority, rest)),
                        method,
                        receive,
                        request,
                        limit,
                        sent=len(first_body),
                        complete_body=complete_body,
                        retryable=retryable,
                        # Another replica waits: fail over at once rather than back off.
                        connect_attempts=None if last else 1,
                    )
                except UpstreamUnavailable:
                    if last:
                        raise
                    # Nothing reached this replica: the next one gets the same request.
                    continue
                break
        except UpstreamBusy as exc:
            log.warning("service busy", extra={"upstream": route.service, "error": str(exc)})
            raise Problem(
                f"The {route.service} service is busy. Try again shortly.",
                status=503,
                code="service_busy",
                headers={"Retry-After": str(self.settings.upstream_busy_retry_after_seconds)},
            ) from None
        except UpstreamUnavailable as exc:
            log.warning("service unavailable", extra={"upstream": route.service, "error": str(exc)})
            raise Problem(
                f"The {route.service} service is not available. Try again shortly.",
                status=503,
                code="service_unavailable",
                headers={"Retry-After": "5"},
            ) from None
        except UpstreamTimeout:
            raise Problem(
                f"The {route.service} service did not answer in time.",
                status=504,
                code="gateway_timeout",
            ) from None
        except UpstreamBroken as exc:
            log.warning(
                "service broke the exchange", extra={"upstream": route.service, "error": str(exc)}
            )
            raise Problem(
                f"The {route.service} service did not answer properly.",
                status=502,
                code="bad_gateway",
            ) from None
        if conn is None:
            return 499
        # A service that answered before the caller's body was all read: the server protocol
        # reads the rest and throws it away (for a while at most) after the response.
        return await self._respond(conn, route, receive, send, extra)

    async def _send_request(
        self,
        pool: UpstreamPool,
        head: bytes,
        method: str,
        receive: Receive,
        request: _Request,
        limit: int,
        *,
        sent: int,
        complete_body: bool,
        retryable: bool,
        connect_attempts: int | None = None,
    ) -> UpstreamConnection | None:
        """Send the request and wait for the response head; None if the caller went away.

        Only a request sent whole in one write (no body to stream) is ever sent a second
        time, and only when it is idempotent and a kept-alive connection turned out closed
        before any answer.
        """
        attempts = 2 if retryable else 1
        for attempt in range(attempts):
            idle = pool.idle_connection() if attempt == 0 else None
            conn = (
                idle
                if idle is not None
                else await pool.connection(fresh=attempt > 0, connect_attempts=connect_attempts)
            )
            try:
                conn.begin(head, head_only=method == "HEAD", request_complete=complete_body)
                if not complete_body:
                    streamed = await self._stream_request(
                        conn, receive, sent, limit, chunked=request.chunked
                    )
                    if streamed is None:
                        conn.close()
                        return None
                await conn.response_head(self.timeout)
                return conn
            except UpstreamBroken as exc:
                conn.close()
                # A kept-alive connection the service had closed meanwhile: try a new one.
                if attempt + 1 < attempts and exc.before_response and conn.exchanges > 0:
                    continue
                raise
            except BaseException:
                conn.close()
                raise
        raise AssertionError("unreachable")

    async def _stream_request(
        self, conn: UpstreamConnection, receive: Receive, sent: int, limit: int, *, chunked: bool
    ) -> int | None:
        """Forward the rest of the request body as it arrives; None if the caller went away.

        Marks the connection's request complete once the last of the body is written; a
        service that answers first (e.g. refuses the upload) stops the forwarding, and the
        connection, out of step with the service, is closed after the response.
        """
        while True:
            if conn.responded:
                return sent
            message = await self._body_or_answer(conn, receive)
            if message is None:
                return sent
            if message["type"] == "http.disconnect":
                return None
            body: bytes = message.get("body", b"")
            more = message.get("more_body", False)
            sent += len(body)
            if sent > limit:
                conn.close()
                raise _too_large(limit)
            if chunked:
                data = (_chunk(body) if body else b"") + (b"" if more else b"0\r\n\r\n")
            else:
                data = body
            if data:
                conn.write(data)
                if conn.write_paused:
                    await conn.drain()
            if not more:
                conn.request_sent()
                return sent

    async def _body_or_answer(self, conn: UpstreamConnection, receive: Receive) -> Message | None:
        """The caller's next piece of body, or None as soon as the service answers: its
        answer (e.g. a refusal of the upload) is passed on at once, not after the caller's
        next piece. 408 when neither comes within the body deadline."""
        receiving = asyncio.ensure_future(receive())
        answered = conn.answer_waiter()
        try:
            done, _ = await asyncio.wait(
                (receiving, answered),
                timeout=self.body_timeout,
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            conn.drop_answer_waiter(answered)
            if not receiving.done():
                receiving.cancel()
        if receiving in done:
            message: Message = receiving.result()
            return message
        if answered in done:
            return None
        raise _body_timeout()

    async def _receive_body(self, receive: Receive) -> Message:
        """The next piece of the caller's body, within the body deadline (else 408)."""
        try:
            async with asyncio.timeout(self.body_timeout):
                return await receive()
        except TimeoutError:
            raise _body_timeout() from None

    async def _respond(
        self,
        conn: UpstreamConnection,
        route: Route,
        receive: Receive,
        send: Send,
        extra: list[tuple[bytes, bytes]],
    ) -> int:
        status = conn.status
        present = set()
        headers: list[tuple[bytes, bytes]] = []
        for name, value in conn.headers:
            present.add(name)
            if name in _RESPONSE_URLS:
                rewritten = self.internal.rewrite(name, value)
                if rewritten is not None:
                    headers.append((name, rewritten))
            elif name not in _RESPONSE_DROP:
                headers.append((name, value))
        headers.extend(extra)
        if present.isdisjoint(self._security_names):
            headers.extend(self.security)
        else:
            headers.extend(item for item in self.security if item[0] not in present)

        body = conn.read_all_buffered()
        if body is not None:
            # The whole (small) response is here already: one write, no waiting.
            conn.finish()
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return status

        await send({"type": "http.response.start", "status": status, "headers": headers})
        streaming = True

        def client_gone(task: asyncio.Task[None]) -> None:
            if streaming and not task.cancelled():
                conn.close()

        watcher = asyncio.ensure_future(_wait_for_disconnect(receive))
        watcher.add_done_callback(client_gone)
        read_timeout = None if route.stream else self.timeout
        try:
            while True:
                chunk = await conn.read(read_timeout)
                if not chunk:
                    break
                try:
                    # A caller that stops reading holds a service connection: not forever.
                    async with asyncio.timeout(self.send_timeout):
                        await send({"type": "http.response.body", "body": chunk, "more_body": True})
                except TimeoutError:
                    raise UpstreamTimeout("the caller did not take the response in time") from None
            await send({"type": "http.response.body", "body": b""})
        except UpstreamError as exc:
            conn.close()
            if watcher.done():
                return 499  # the caller left; closing the service's stream was our doing
            log.warning(
                "service broke off a response", extra={"upstream": route.service, "error": str(exc)}
            )
            raise
        finally:
            streaming = False
            watcher.cancel()
        conn.finish()
        return status

    # ---- answers of the gateway's own ----------------------------------------------------

    async def _preflight(
        self, send: Send, request: _Request, extra: list[tuple[bytes, bytes]]
    ) -> int:
        origin = request.origin
        if origin is None or not self.cors.allows(origin):
            raise Problem("This origin may not call the API.", status=403, code="cors_forbidden")
        headers = [*extra[:2], *self.cors.preflight_headers(origin), *self.security]
        await send({"type": "http.response.start", "status": 204, "headers": headers})
        await send({"type": "http.response.body", "body": b""})
        return 204

    async def _problem(
        self, send: Send, scope: Scope, problem: Problem, extra: list[tuple[bytes, bytes]]
    ) -> None:
        body = json.dumps(problem.to_body(instance=scope["path"])).encode("utf-8")
        headers = [
            _PROBLEM_CT,
            (b"content-length", str(len(body)).encode("ascii")),
            *(
                (name.lower().encode("latin-1"), value.encode("latin-1"))
                for name, value in problem.headers.items()
            ),
            *extra,
            *self.security,
        ]
        await send({"type": "http.response.start", "status": problem.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    # ---- helpers -------------------------------------------------------------------------

    def _observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """The shared request metrics, with the labelled series cached (labels() is slow)."""
        if method not in _METRIC_METHODS:
            method = "OTHER"
        key = (method, route, status)
        series = self._series.get(key)
        if series is None:
            metrics = self.metrics
            series = (
                metrics.requests.labels(metrics.service, method, route, str(status)),
                metrics.latency.labels(metrics.service, method, route),
            )
            if len(self._series) < 4096:
                self._series[key] = series
        series[0].inc()
        series[1].observe(seconds)

    def _client_ip(self, scope: Scope, request: _Request) -> str:
        client = scope.get("client")
        peer: str = client[0] if client else "unknown"
        if not self._trusted or request.forwarded_for is None or not self._is_trusted(peer):
            return peer
        # The rightmost address that is not one of our proxies is the client's.
        hops = [hop.strip() for hop in request.forwarded_for.decode("latin-1").split(",")]
        for hop in reversed(hops):
            if hop and not self._is_trusted(hop):
                return hop
        return peer

    def _is_trusted(self, address: str) -> bool:
        known = self._trusted_cache.get(address)
        if known is None:
            try:
                ip = ipaddress.ip_address(address)
                known = any(ip in net for net in self._trusted)
            except ValueError:
                known = False
            if len(self._trusted_cache) > 4096:
                self._trusted_cache.clear()
            self._trusted_cache[address] = known
        return known


def _read_headers(raw: Iterable[tuple[bytes, bytes]]) -> _Request:
    forward: list[bytes] = []
    request = _Request(forward)
    special = _REQUEST_SPECIAL
    nominated: list[bytes] = []
    for name, value in raw:
        kind = special.get(name)
        if kind is None:
            if not name.startswith(_INTERNAL_PREFIX):
                forward.append(name + b": " + value + b"\r\n")
        elif kind == _H_DROP:
            if name == b"connection":
                nominated.extend(token.strip().lower() for token in value.split(b","))
        elif kind == _H_AUTH:
            request.authorization = value
            forward.append(b"authorization: " + value + b"\r\n")
        elif kind == _H_LENGTH:
            value = value.strip()
            if not value.isdigit() or (
                request.content_length is not None and request.content_length != int(value)
            ):
                request.bad_length = True
            else:
                request.content_length = int(value)
        elif kind == _H_CHUNKED:
            # The server's parser framed the body by it; anything but plain "chunked" (after
            # the parser accepted it) is refused rather than re-interpreted.
            request.chunked = True
            if value.strip().lower() != b"chunked":
                request.bad_transfer_encoding = True
        elif kind == _H_RID:
            request.request_id = value.decode("latin-1")
        elif kind == _H_TRACE:
            request.traceparent = value.decode("latin-1")
        elif kind == _H_ORIGIN:
            request.origin = value
            forward.append(b"origin: " + value + b"\r\n")
        elif kind == _H_XFF:
            request.forwarded_for = value
        elif kind == _H_HOST:
            request.host = value
        elif kind == _H_ACRM:
            request.preflight = True
    if request.chunked:
        request.content_length = None
    # RFC 9110 7.6.1: headers the Connection header names are for this hop only.
    extra_hop = {token for token in nominated if token not in (b"keep-alive", b"close", b"")}
    if extra_hop:
        request.forward = [line for line in forward if line.split(b":", 1)[0] not in extra_hop]
        if b"authorization" in extra_hop:
            request.authorization = None
    return request


def _has_dot_segment(path: str) -> bool:
    return any(segment in (".", "..") for segment in path.split("/"))


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%b\r\n" % (len(data), data)


def _body_timeout() -> Problem:
    return Problem(
        "The request body did not arrive in time.",
        status=408,
        code="request_timeout",
        headers={"Connection": "close"},
    )


def _too_large(limit: int) -> Problem:
    return Problem(
        f"The request body is larger than {limit} bytes.",
        status=413,
        code="payload_too_large",
        extra={"max_bytes": limit},
    )


async def _wait_for_disconnect(receive: Receive) -> None:
    while True:
        message: Message = await receive()
        if message["type"] == "http.disconnect":
            return


class GatewayEdge:
    """Public paths go to the proxy, the gateway's own paths (and lifespan) to its FastAPI app.

    Installed twice: as the app's outermost middleware, where it also adds the edge's security
    and CORS headers to the gateway's own endpoints, and in front of the FastAPI app as the
    server's entry point (``entry_point``), so public requests skip FastAPI's per-request work.
    """

    OWN_PATHS = frozenset(
        {
            "/healthz",
            "/readyz",
            "/openapi.json",
            "/docs",
            "/docs/oauth2-redirect",
            "/redoc",
        }
    )

    def __init__(self, app: ASGIApp, *, proxy: Proxy, own_headers: bool = True) -> None:
        self.app = app
        self.proxy = proxy
        self.own_headers = own_headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] not in self.OWN_PATHS:
            await self.proxy(scope, receive, send)
            return
        if scope["type"] != "http" or not self.own_headers:
            await self.app(scope, receive, send)
            return
        origin = next((value for name, value in scope["headers"] if name == b"origin"), None)
        added = [*self.proxy.cors.response_headers(origin), *self.proxy.security]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *added]
            await send(message)

        await self.app(scope, receive, send_with_headers)
