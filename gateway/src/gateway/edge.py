"""Response policy of the edge: CORS for the configured frontends and security headers."""

from __future__ import annotations

from collections.abc import Iterable

_EXPOSED = (
    b"X-Request-ID, Retry-After, ETag, Location, Content-Disposition, traceparent, "
    b"Idempotency-Replayed"
)
_ALLOWED_METHODS = b"GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"
_ALLOWED_HEADERS = (
    b"Authorization, Content-Type, Accept, Accept-Language, Idempotency-Key, If-None-Match, "
    b"If-Match, Last-Event-ID, X-Request-ID, traceparent, tracestate"
)


class CorsPolicy:
    """Which browser origins may call the API (``settings.cors_origins``; ``*`` for any)."""

    def __init__(self, origins: Iterable[str], *, max_age_seconds: int = 600) -> None:
        cleaned = [origin.strip().rstrip("/") for origin in origins if origin.strip()]
        self.any_origin = "*" in cleaned
        self.origins = frozenset(origin.encode("latin-1") for origin in cleaned if origin != "*")
        self.max_age = str(max_age_seconds).encode("ascii")

    def allows(self, origin: bytes) -> bool:
        return self.any_origin or origin in self.origins

    def response_headers(self, origin: bytes | None) -> list[tuple[bytes, bytes]]:
        """Headers for an actual (non-preflight) response to ``origin``."""
        if origin is None or not self.allows(origin):
            return []
        return [
            (b"access-control-allow-origin", origin),
            (b"access-control-expose-headers", _EXPOSED),
            (b"vary", b"Origin"),
        ]

    def preflight_headers(self, origin: bytes) -> list[tuple[bytes, bytes]]:
        return [
            (b"access-control-allow-origin", origin),
            (b"access-control-allow-methods", _ALLOWED_METHODS),
            (b"access-control-allow-headers", _ALLOWED_HEADERS),
            (b"access-control-max-age", self.max_age),
            (b"vary", b"Origin"),
        ]


def security_headers(*, hsts_seconds: int = 0) -> tuple[tuple[bytes, bytes], ...]:
    """Added to every response that does not set them itself.

    The content security policy only forbids framing: the identity service's login form and
    the /docs page need their own policies, and JSON needs none.
    """
    headers = [
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"no-referrer"),
        (b"content-security-policy", b"frame-ancestors 'none'"),
    ]
    if hsts_seconds > 0:
        headers.append(
            (b"strict-transport-security", f"max-age={hsts_seconds}; includeSubDomains".encode())
        )
    return tuple(headers)
