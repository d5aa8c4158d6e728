"""ASGI middleware: request id and trace context in, access log and metrics out."""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mpp_shared.observability.accesslog import LOGGER_NAME, AccessLog
from mpp_shared.observability.context import (
    TraceContext,
    accept_request_id,
    request_id_var,
    trace_var,
)
from mpp_shared.observability.metrics import HttpMetrics
from mpp_shared.problems import Problem, problem_response

log = logging.getLogger(LOGGER_NAME)

# Probes would drown the access log; they are still counted.
_QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


class CorrelationMiddleware:
    """Accepts or makes ``X-Request-ID`` and ``traceparent``, echoes both, logs and counts."""

    def __init__(self, app: ASGIApp, *, metrics: HttpMetrics, access_log: AccessLog) -> None:
        self.app = app
        self.metrics = metrics
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        incoming_id: str | None = None
        incoming_trace: str | None = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                incoming_id = value.decode("latin-1")
            elif name == b"traceparent":
                incoming_trace = value.decode("latin-1")
        request_id = accept_request_id(incoming_id)
        parent = TraceContext.parse(incoming_trace)
        trace = parent.child() if parent is not None else TraceContext.new()
        rid_token = request_id_var.set(request_id)
        trace_token = trace_var.set(trace)

        status = 500
        response_started = False
        started = time.perf_counter()

        async def send_with_ids(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                headers = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"
                ]
                headers.append((b"x-request-id", request_id.encode("latin-1")))
                headers.append((b"traceparent", trace.traceparent.encode("latin-1")))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_ids)
        except Exception:
            # Answered here, inside the correlation, so the 500 still carries X-Request-ID.
            log.exception("unhandled error", extra={"path": scope["path"]})
            if response_started:
                raise
            await _internal_error(scope, send_with_ids)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope["method"]
            self.metrics.observe(method, template, status, elapsed)
            if scope["path"] not in _QUIET_PATHS:
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


async def _internal_error(scope: Scope, send: Send) -> None:
    problem = Problem("An unexpected error occurred.", status=500, code="internal_error")
    response = problem_response(problem)

    async def no_body() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    await response(scope, no_body, send)
