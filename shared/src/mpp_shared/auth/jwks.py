"""A cached JWKS fetched from identity-service, refreshed on kid rotation, rate limited."""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import httpx

from mpp_shared.problems import Problem

log = logging.getLogger(__name__)

# Public members only: a JWKS that leaks private parts ("d", "p", ...) must not make us use them.
_PUBLIC_MEMBERS: Mapping[str, tuple[str, ...]] = {
    "RSA": ("n", "e"),
    "EC": ("crv", "x", "y"),
}
_CURVES = frozenset({"P-256", "P-384", "P-521"})
_MIN_RSA_BITS = 2048


class UnknownKey(LookupError):
    """The key set has no usable signing key with this kid, even after a refresh."""


class KeySetUnavailable(Problem):
    """No key set could be fetched and none is cached: tokens cannot be checked right now."""

    status = 503
    code = "auth_unavailable"

    def __init__(self) -> None:
        super().__init__(
            "Token signing keys are unavailable; try again later.",
            headers={"Retry-After": "1"},
        )


# Returns a JWKS document ({"keys": [...]}); raises on failure.
KeySetSource = Callable[[], Awaitable[Any]]


class JwksClient:
    """Fetches and caches a JSON Web Key Set; ``get_key(kid)`` returns a public signing JWK.

    An unknown kid triggers one refresh (keys rotate), but once keys are known refreshes happen
    at most once per ``min_refresh_interval`` seconds so tokens with made-up kids cannot hammer
    the issuer. While no key is known (the issuer was not up yet), a fetch may be tried again
    after a short backoff (``retry_initial`` doubling up to ``retry_max``): every request is
    refused meanwhile, so waiting the full interval would only prolong the outage.
    Concurrent refreshes share one fetch. A failed fetch keeps the cached set in use.

    The set is fetched over HTTP from ``url``, unless a ``source`` is given: the issuer itself
    (identity-service) reads its own key store that way, with the same caching and rotation.
    """

    def __init__(
        self,
        url: str,
        *,
        http: httpx.AsyncClient | None = None,
        source: KeySetSource | None = None,
        cache_seconds: float = 300,
        min_refresh_interval: float = 10,
        retry_initial: float = 0.2,
        retry_max: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self._source = source if source is not None else self._fetch_over_http
        self._owns_http = http is None and source is None
        self._http = http
        if self._owns_http:
            self._http = httpx.AsyncClient(timeout=5.0)
        self.cache_seconds = cache_seconds
        self.min_refresh_interval = min_refresh_interval
        self.retry_initial = retry_initial
        self.retry_max = retry_max
        self._failures = 0  # fetches in a row that brought no key
        self._clock = clock
        self._keys: dict[str, dict[str, Any]] = {}
        self._fetched_at: float | None = None
        self._attempted_at: float | None = None
        self._lock = asyncio.Lock()

    async def aclose(self) -> None:
        """Close the HTTP client if this object created it."""
        if self._owns_http and self._http is not None:
            await self._http.aclose()

    @property
    def kids(self) -> frozenset[str]:
        return frozenset(self._keys)

    @property
    def ready(self) -> bool:
        """Whether at least one signing key is known, so tokens can be checked."""
        return bool(self._keys)

    async def get_key(self, kid: str) -> dict[str, Any]:
        """The public JWK for ``kid``; raises ``UnknownKey`` or ``KeySetUnavailable``."""
        if self._fresh() and kid in self._keys:
            return dict(self._keys[kid])
        await self._refresh_if_allowed(kid)
        if kid in self._keys:
            return dict(self._keys[kid])
        if not self._keys:
            raise KeySetUnavailable()
        raise UnknownKey(kid)

    async def refresh(self) -> bool:
        """Fetch the key set now, regardless of the cache; False when that failed (logged)."""
        async with self._lock:
            return await self._fetch()

    async def fetch_until_ready(self) -> None:
        """Fetch until at least one key is known, with the short backoff between attempts.

        For a process's start: the issuer may come up after it.
        """
        while not self.ready:
            if await self.refresh() and self.ready:
                return
            await asyncio.sleep(self._retry_delay)

    def _fresh(self) -> bool:
        return (
            self._fetched_at is not None and self._clock() - self._fetched_at < self.cache_seconds
        )

    def _may_fetch(self) -> bool:
        # The long guard protects the issuer from made-up kids; without any key there is
        # nothing to protect yet, only requests to serve.
        interval = self.min_refresh_interval if self._keys else self._retry_delay
        return self._attempted_at is None or self._clock() - self._attempted_at >= interval

    async def _refresh_if_allowed(self, kid: str) -> None:
        # A fetch in flight is waited for even when we may not start one: it may bring the kid.
        if not self._may_fetch() and not self._lock.locked():
            return
        async with self._lock:
            # Whoever held the lock before us may have fetched already: look again.
            if self._fresh() and kid in self._keys:
                return
            if not self._may_fetch():
                return
            await self._fetch()

    async def _fetch(self) -> bool:
        self._attempted_at = self._clock()
        try:
            keys = parse_jwks(await self._source())
        except Exception as exc:  # whatever the source, a failure keeps the cached set
            log.warning(
                "could not fetch the JWKS",
                extra={"url": self.url, "error": type(exc).__name__, "cached": len(self._keys)},
            )
            self._back_off()
            return False
        self._keys = keys
        self._fetched_at = self._attempted_at
        if keys:
            self._failures = 0
        else:
            self._back_off()
        return True

    def _back_off(self) -> None:
        if not self._keys:
            self._failures += 1

    @property
    def _retry_delay(self) -> float:
        return min(self.retry_initial * 2.0 ** max(self._failures - 1, 0), self.retry_max)

    async def _fetch_over_http(self) -> Any:
        assert self._http is not None  # made in __init__ whenever there is no source
        response = await self._http.get(self.url, headers={"Accept": "application/json"})
        response.raise_for_status()
        return response.json()


def parse_jwks(document: Any) -> dict[str, dict[str, Any]]:
    """The usable signing keys of a JWKS document by kid; raises ValueError if it is no JWKS.

    Skipped: keys without a kid, keys for encryption, symmetric keys and key types or curves
    this project does not sign with.
    """
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("not a JSON Web Key Set")
    keys: dict[str, dict[str, Any]] = {}
    for raw in document["keys"]:
        key = _usable_key(raw)
        if key is not None:
            keys[key["kid"]] = key
    return keys


def _usable_key(raw: Any) -> dict[str, Any] | None:
    if not isinstance(raw, dict):
        return None
    kid, kty = raw.get("kid"), raw.get("kty")
    if not isinstance(kid, str) or not kid or not isinstance(kty, str):
        return None
    if raw.get("use", "sig") != "sig":
        return None
    key_ops = raw.get("key_ops")
    if key_ops is not None and (not isinstance(key_ops, list) or "verify" not in key_ops):
        return None
    members = _PUBLIC_MEMBERS.get(kty)  # "oct" (symmetric) and unknown types end here
    if members is None:
        return None
    if not all(isinstance(raw.get(name), str) and raw[name] for name in members):
        return None
    if kty == "EC" and raw["crv"] not in _CURVES:
        return None
    if kty == "RSA" and _rsa_bits(raw["n"]) < _MIN_RSA_BITS:
        return None
    key: dict[str, Any] = {"kid": kid, "kty": kty}
    key.update({name: raw[name] for name in members})
    if isinstance(raw.get("alg"), str):
        key["alg"] = raw["alg"]
    return key


def _rsa_bits(n: str) -> int:
    try:
        modulus = base64.urlsafe_b64decode(n + "=" * (-len(n) % 4))
    except ValueError:
        return 0
    return int.from_bytes(modulus, "big").bit_length()
