"""Request correlation: X-Request-ID and W3C trace context carried in context variables."""

from __future__ import annotations

import re
import secrets
import uuid
from contextvars import ContextVar
from dataclasses import dataclass

from mpp_shared.observability.masking import mask_personal_data

REQUEST_ID_HEADER = "x-request-id"
TRACEPARENT_HEADER = "traceparent"

_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
# A request id is a short opaque token. Anything else (a NIK, an email, a phone number, header
# garbage) is replaced: the id is logged as is, on every line of the request.
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


@dataclass(frozen=True, slots=True)
class TraceContext:
    trace_id: str
    span_id: str
    flags: str = "01"

    @property
    def traceparent(self) -> str:
        return f"00-{self.trace_id}-{self.span_id}-{self.flags}"

    def child(self) -> TraceContext:
        """A new span in the same trace, for a call this service makes."""
        return TraceContext(self.trace_id, secrets.token_hex(8), self.flags)

    @classmethod
    def new(cls) -> TraceContext:
        return cls(secrets.token_hex(16), secrets.token_hex(8))

    @classmethod
    def parse(cls, header: str | None) -> TraceContext | None:
        if not header:
            return None
        match = _TRACEPARENT.match(header.strip().lower())
        if match is None or match.group(1) == "0" * 32 or match.group(2) == "0" * 16:
            return None
        return cls(match.group(1), match.group(2), match.group(3))


request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
trace_var: ContextVar[TraceContext | None] = ContextVar("trace", default=None)


def accept_request_id(value: str | None) -> str:
    """The caller's request id when it is a short token without personal numbers in it,
    otherwise a fresh one."""
    if value and _REQUEST_ID.fullmatch(value) and mask_personal_data(value) == value:
        return value
    return str(uuid.uuid4())


def current_request_id() -> str | None:
    return request_id_var.get()


def outgoing_headers() -> dict[str, str]:
    """Headers that carry the current request's correlation to another service."""
    headers: dict[str, str] = {}
    request_id = request_id_var.get()
    if request_id:
        headers["X-Request-ID"] = request_id
    trace = trace_var.get()
    if trace is not None:
        headers["traceparent"] = trace.child().traceparent
    return headers
