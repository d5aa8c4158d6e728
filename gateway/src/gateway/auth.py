"""Edge authentication: verified access tokens, cached, turned into signed principal headers."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from mpp_shared.auth.internal import (
    PRINCIPAL_HEADER,
    SIGNATURE_HEADER,
    principal_payload,
    sign_principal_payload,
)
from mpp_shared.auth.principal import Principal
from mpp_shared.auth.revocation import RevocationList, TokenRevoked
from mpp_shared.auth.verify import InvalidToken, TokenVerifier

_PRINCIPAL_NAME = PRINCIPAL_HEADER.lower().encode("ascii")
_SIGNATURE_NAME = SIGNATURE_HEADER.lower().encode("ascii")


@dataclass(slots=True)
class VerifiedCaller:
    """A verified token's principal and its internal headers, cached for the token's life."""

    principal: Principal
    payload: bytes
    valid_until: float
    signed_at: int = -1
    signature: bytes = b""
    # The revocation list's revision this caller was last checked against.
    checked_revision: int = -1


class EdgeAuthenticator:
    """Verifies bearer tokens with the shared ``TokenVerifier`` and caches the outcome.

    The cache is keyed by the token itself (a dict lookup of a string whose hash Python keeps)
    and holds the encoded ``X-MPP-Principal`` too, so a repeated token costs neither a
    signature check nor JSON encoding. An entry lives until the token's ``exp`` and at most
    ``cache_seconds``; the signature header is re-made once per second.

    Every answer is checked against ``revocations`` (a revoked token is ``TokenRevoked``,
    401), a cached one again only after the list has changed: on the hot path that costs one
    integer comparison.
    """

    def __init__(
        self,
        verifier: TokenVerifier,
        secret: str,
        *,
        cache_size: int = 16384,
        cache_seconds: float = 300.0,
        revocations: RevocationList | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.verifier = verifier
        self.revocations = revocations if revocations is not None else RevocationList()
        self._secret = secret.encode("utf-8")
        self.cache_size = cache_size
        self.cache_seconds = cache_seconds
        self._clock = clock
        self._cache: dict[str, VerifiedCaller] = {}

    def cached(self, token: str) -> VerifiedCaller | None:
        """The caller of a token verified before and still valid, without awaiting anything.

        Raises ``TokenRevoked`` when the token has been revoked since.
        """
        caller = self._cache.get(token)
        if caller is not None and caller.valid_until > self._clock():
            if caller.checked_revision != self.revocations.revision:
                self._check_revocation(token, caller)
            return caller
        return None

    async def authenticate(self, token: str) -> VerifiedCaller:
        """The caller of a valid token; raises ``InvalidToken`` (401) or a 503 problem."""
        now = self._clock()
        caller = self._cache.get(token)
        if caller is not None:
            if caller.valid_until > now:
                if caller.checked_revision != self.revocations.revision:
                    self._check_revocation(token, caller)
                return caller
            del self._cache[token]
        principal = await self.verifier.verify(token)
        expires = principal.claims.get("exp")
        if not isinstance(expires, int | float) or isinstance(expires, bool):
            raise InvalidToken("token has no expiry")
        caller = VerifiedCaller(
            principal=principal,
            payload=principal_payload(principal).encode("ascii"),
            valid_until=min(float(expires), now + self.cache_seconds),
        )
        self._check_revocation(token, caller)
        self._remember(token, caller, now)
        return caller

    def headers(self, caller: VerifiedCaller) -> tuple[tuple[bytes, bytes], tuple[bytes, bytes]]:
        """The signed internal headers for ``caller``, as raw header pairs."""
        now = int(self._clock())
        if caller.signed_at != now:
            caller.signature = sign_principal_payload(
                caller.payload.decode("ascii"), self._secret, now
            ).encode("ascii")
            caller.signed_at = now
        return (_PRINCIPAL_NAME, caller.payload), (_SIGNATURE_NAME, caller.signature)

    def _check_revocation(self, token: str, caller: VerifiedCaller) -> None:
        revision = self.revocations.revision
        if self.revocations.refuses(caller.principal.claims):
            self._cache.pop(token, None)
            raise TokenRevoked()
        caller.checked_revision = revision

    def forget_cached(self) -> None:
        self._cache.clear()
        self.verifier.forget_cached()

    def _remember(self, token: str, caller: VerifiedCaller, now: float) -> None:
        if self.cache_size <= 0 or caller.valid_until <= now:
            return
        if len(self._cache) >= self.cache_size:
            for stale in [t for t, c in self._cache.items() if c.valid_until <= now]:
                del self._cache[stale]
        while len(self._cache) >= self.cache_size:
            del self._cache[next(iter(self._cache))]
        self._cache[token] = caller


def bearer_token(authorization: bytes) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header; None for other schemes."""
    scheme, _, token = authorization.partition(b" ")
    if scheme.lower() != b"bearer":
        return None
    token = token.strip()
    if not token:
        return ""
    try:
        return token.decode("ascii")
    except UnicodeDecodeError:
        return ""
