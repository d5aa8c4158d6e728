"""Trusted internal principal headers: the gateway vouches for a verified caller to the services.

The gateway verifies the access token at the edge and forwards the principal in two headers:

``X-MPP-Principal``
    base64url (unpadded) of the compact JSON of the principal's claims.
``X-MPP-Principal-Signature``
    ``t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<X-MPP-Principal>")>``, the same shape
    as the webhook signatures of API.md.

The secret is shared by the gateway and the services only; the timestamp bounds a replay of
captured headers to ``max_age`` seconds. The gateway drops every caller-supplied ``X-MPP-*``
header, so a caller can neither forge these headers nor smuggle others in.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from mpp_shared.auth.principal import Principal

PRINCIPAL_HEADER = "X-MPP-Principal"
SIGNATURE_HEADER = "X-MPP-Principal-Signature"
# Every header below this prefix is the gateway's to set; a caller's copy never reaches a service.
INTERNAL_HEADER_PREFIX = "x-mpp-"

# Development and test only: production settings must refuse it (see ``check_internal_secret``).
DEVELOPMENT_INTERNAL_SECRET = "mpp-development-internal-secret-not-for-production"  # noqa: S105
MIN_SECRET_LENGTH = 32
DEFAULT_MAX_AGE_SECONDS = 30.0
# A principal header larger than this is refused unread (tokens are at most 8 KiB).
MAX_PAYLOAD_LENGTH = 16384

_PRINCIPAL_KEY = PRINCIPAL_HEADER.lower()
_SIGNATURE_KEY = SIGNATURE_HEADER.lower()
_PRINCIPAL_RAW = _PRINCIPAL_KEY.encode("ascii")
_SIGNATURE_RAW = _SIGNATURE_KEY.encode("ascii")


def check_internal_secret(secret: str | None, *, environment: str) -> str:
    """The secret to use; raises ``ValueError`` for a missing, default or short production secret.

    Meant for a settings validator: ``check_internal_secret(value, environment=...)``.
    """
    if environment == "production":
        if not secret or secret == DEVELOPMENT_INTERNAL_SECRET:
            raise ValueError("production needs its own internal secret (MPP_INTERNAL_SECRET)")
        if len(secret) < MIN_SECRET_LENGTH:
            raise ValueError(f"the internal secret needs at least {MIN_SECRET_LENGTH} characters")
        return secret
    return secret or DEVELOPMENT_INTERNAL_SECRET


def principal_payload(principal: Principal) -> str:
    """The ``X-MPP-Principal`` value: the principal's claims, with its fields authoritative.

    The claims ride along (expiry, token id, session) so that a service sees what the token
    said; the principal's own fields override them, so decoding gives back an equal principal.
    """
    claims: dict[str, Any] = dict(principal.claims)
    claims["sub"] = principal.subject
    claims["roles"] = sorted(principal.roles)
    claims["scope"] = " ".join(sorted(principal.scopes))
    claims["ial"] = principal.assurance_level
    if principal.agency_id is not None:
        claims["agency_id"] = str(principal.agency_id)
    else:
        claims.pop("agency_id", None)
    if principal.client_id is not None:
        claims["client_id"] = principal.client_id
    else:
        claims.pop("client_id", None)
        claims.pop("azp", None)
    document = json.dumps(claims, separators=(",", ":"), sort_keys=True, ensure_ascii=True)
    return base64.urlsafe_b64encode(document.encode("ascii")).rstrip(b"=").decode("ascii")


def sign_principal_payload(payload: str, secret: str | bytes, timestamp: int) -> str:
    """The ``X-MPP-Principal-Signature`` value for ``payload`` at ``timestamp``."""
    key = secret.encode("utf-8") if isinstance(secret, str) else secret
    mac = hmac.new(key, f"{timestamp}.{payload}".encode("ascii"), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def encode_principal_headers(
    principal: Principal, secret: str | bytes, *, now: float | None = None
) -> dict[str, str]:
    """The two headers that carry ``principal`` from the gateway to a service."""
    payload = principal_payload(principal)
    timestamp = int(time.time() if now is None else now)
    return {
        PRINCIPAL_HEADER: payload,
        SIGNATURE_HEADER: sign_principal_payload(payload, secret, timestamp),
    }


def decode_principal_headers(
    headers: Mapping[str, str] | Iterable[tuple[str, str]],
    secret: str | bytes,
    max_age: float = DEFAULT_MAX_AGE_SECONDS,
    *,
    now: float | None = None,
) -> Principal | None:
    """The principal the gateway vouched for, or None when the headers are absent or not genuine.

    Not genuine: a missing or malformed signature, a signature made with another secret or over
    another payload, or a timestamp further than ``max_age`` seconds from now (either way, so
    that clock skew between hosts cannot stretch a replay window).
    """
    items = headers.items() if isinstance(headers, Mapping) else headers
    payload: str | None = None
    signature: str | None = None
    for name, value in items:
        lowered = name.lower()
        if lowered == _PRINCIPAL_KEY:
            payload = value
        elif lowered == _SIGNATURE_KEY:
            signature = value
    if not payload or not signature or len(payload) > MAX_PAYLOAD_LENGTH:
        return None
    timestamp = _timestamp_of(signature)
    if timestamp is None:
        return None
    current = time.time() if now is None else now
    if abs(current - timestamp) > max_age:
        return None
    try:
        expected = sign_principal_payload(payload, secret, timestamp)
    except UnicodeEncodeError:
        return None
    if not hmac.compare_digest(expected.encode("ascii"), signature.strip().encode("utf-8")):
        return None
    try:
        document = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        claims = json.loads(document)
    except (binascii.Error, ValueError):
        return None
    if not isinstance(claims, dict):
        return None
    try:
        return Principal.from_claims(claims)
    except ValueError:
        return None


def is_internal_header(name: str | bytes) -> bool:
    """True for header names only the gateway may set (``X-MPP-*``), in any case."""
    text = name.decode("latin-1") if isinstance(name, bytes) else name
    return text.lower().startswith(INTERNAL_HEADER_PREFIX)


def _timestamp_of(signature: str) -> int | None:
    parts = dict(part.split("=", 1) for part in signature.strip().split(",") if "=" in part)
    raw = parts.get("t", "")
    if not raw.isascii() or not raw.isdigit() or len(raw) > 12 or "v1" not in parts:
        return None
    return int(raw)


class VouchedPrincipals:
    """``decode_principal_headers`` for every request of a service, remembering genuine values.

    The gateway signs a caller's principal again once a second, so most requests carry a pair
    of header values already checked: each genuine pair is remembered (bounded) and taken as
    the same principal while its timestamp is within ``max_age`` of now, exactly as checking
    it again would answer. Pairs that are not genuine are not remembered (a caller could
    fill the memory with them), and the headers are read from the ASGI scope's raw pairs,
    not through a decoded copy of every header.
    """

    def __init__(
        self,
        secret: str | bytes,
        max_age: float = DEFAULT_MAX_AGE_SECONDS,
        *,
        cache_size: int = 1024,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.secret = secret
        self.max_age = max_age
        self.cache_size = cache_size
        self._clock = clock
        self._cache: dict[tuple[bytes, bytes], tuple[int, Principal]] = {}

    def verify(self, raw_headers: Iterable[tuple[bytes, bytes]]) -> Principal | None:
        """The principal of a request's raw (ASGI) header pairs, or None as
        ``decode_principal_headers`` would answer."""
        payload: bytes | None = None
        signature: bytes | None = None
        for name, value in raw_headers:
            lowered = name.lower()
            if lowered == _PRINCIPAL_RAW:
                payload = value
            elif lowered == _SIGNATURE_RAW:
                signature = value
        if not payload or not signature:
            return None
        now = self._clock()
        key = (payload, signature)
        cached = self._cache.get(key)
        if cached is not None:
            if abs(now - cached[0]) <= self.max_age:
                return cached[1]
            del self._cache[key]
            return None
        text = signature.decode("latin-1")
        principal = decode_principal_headers(
            ((PRINCIPAL_HEADER, payload.decode("latin-1")), (SIGNATURE_HEADER, text)),
            self.secret,
            self.max_age,
            now=now,
        )
        timestamp = _timestamp_of(text)
        if principal is not None and timestamp is not None and self.cache_size > 0:
            self._remember(key, timestamp, principal, now)
        return principal

    def _remember(
        self, key: tuple[bytes, bytes], timestamp: int, principal: Principal, now: float
    ) -> None:
        if len(self._cache) >= self.cache_size:
            for stale in [k for k, (t, _) in self._cache.items() if abs(now - t) > self.max_age]:
                del self._cache[stale]
        while len(self._cache) >= self.cache_size:
            del self._cache[next(iter(self._cache))]  # the oldest
        self._cache[key] = (timestamp, principal)
