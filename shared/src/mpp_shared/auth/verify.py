"""Access-token verification: signature against the JWKS, then issuer, audience and times."""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeGuard

from jose import jwk, jws
from jose.exceptions import JOSEError

from mpp_shared.auth.jwks import JwksClient, UnknownKey
from mpp_shared.auth.principal import Principal
from mpp_shared.problems import Problem

log = logging.getLogger(__name__)

# Asymmetric only: with HS* a verifier holding the public key could be fooled into using it as
# an HMAC secret (key confusion). python-jose implements no PS* or EdDSA signatures.
ASYMMETRIC_ALGORITHMS: tuple[str, ...] = ("RS256", "RS384", "RS512", "ES256", "ES384", "ES512")
_CURVE_OF_ALGORITHM: Mapping[str, str] = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}
_KTY_OF_PREFIX: Mapping[str, str] = {"RS": "RSA", "ES": "EC"}
# Far above any access token identity-service issues; refuses junk before decoding it.
MAX_TOKEN_LENGTH = 8192


class InvalidToken(Problem):
    """401: the bearer token is malformed, forged, expired or not meant for us."""

    status = 401
    code = "invalid_token"

    def __init__(self, reason: str) -> None:
        super().__init__(reason, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})


class TokenVerifier:
    """Verifies access tokens and turns them into ``Principal`` objects.

    Verified tokens are cached by hash (bounded, never past the token's ``exp`` nor past
    ``cache_seconds``) because the gateway and every service verify each request.
    """

    def __init__(
        self,
        jwks: JwksClient,
        *,
        issuer: str,
        audience: str,
        leeway_seconds: float = 30,
        algorithms: Iterable[str] = ASYMMETRIC_ALGORITHMS,
        cache_size: int = 1024,
        cache_seconds: float = 60,
        clock: Callable[[], float] = time.time,
    ) -> None:
        allowed = tuple(algorithms)
        refused = [alg for alg in allowed if alg not in ASYMMETRIC_ALGORITHMS]
        if refused or not allowed:
            raise ValueError(f"only asymmetric algorithms may be allowed, not {refused or 'none'}")
        if not issuer or not audience:
            raise ValueError("issuer and audience are required")
        self.jwks = jwks
        self.issuer = issuer
        self.audience = audience
        self.leeway = leeway_seconds
        self.algorithms = frozenset(allowed)
        self.cache_size = cache_size
        self.cache_seconds = cache_seconds
        self._clock = clock
        self._cache: dict[bytes, tuple[float, Principal]] = {}

    async def verify(self, token: str) -> Principal:
        """The principal of a valid token; raises ``InvalidToken`` (401) otherwise.

        Raises ``KeySetUnavailable`` (503) when no signing keys could be fetched at all.
        """
        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
            raise InvalidToken("malformed token")
        digest = hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()
        now = self._clock()
        cached = self._cache.get(digest)
        if cached is not None:
            if cached[0] > now:
                return cached[1]
            del self._cache[digest]

        alg, kid = self._check_header(token)
        key = await self._signing_key(kid, alg)
        try:
            payload = jws.verify(token, key, algorithms=[alg])
        except (JOSEError, ValueError, TypeError):
            raise InvalidToken("bad signature") from None
        claims = _json_object(payload)
        expires_at = self._check_claims(claims, now)
        try:
            principal = Principal.from_claims(claims)
        except ValueError as exc:
            raise InvalidToken(str(exc)) from None
        self._remember(digest, principal, min(expires_at, now + self.cache_seconds), now)
        return principal

    def _check_header(self, token: str) -> tuple[str, str]:
        try:
            header = jws.get_unverified_header(token)
        except (JOSEError, ValueError, TypeError):
            raise InvalidToken("malformed token") from None
        if not isinstance(header, dict):
            raise InvalidToken("malformed token")
        alg = header.get("alg")
        if not isinstance(alg, str) or not alg:
            raise InvalidToken("token names no algorithm")
        if alg.lower() == "none":
            raise InvalidToken("unsigned tokens are not accepted")
        if alg.upper().startswith("HS"):
            raise InvalidToken("symmetric algorithms are not accepted")
        if alg not in self.algorithms:
            raise InvalidToken("algorithm not allowed")
        if "crit" in header:
            # RFC 7515 4.1.11: extensions we do not understand make the token unusable.
            raise InvalidToken("unsupported critical header")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise InvalidToken("token has no key id")
        return alg, kid

    async def _signing_key(self, kid: str, alg: str) -> Any:
        try:
            key = await self.jwks.get_key(kid)
        except UnknownKey:
            raise InvalidToken("unknown signing key") from None
        if "alg" in key and key["alg"] != alg:
            raise InvalidToken("algorithm does not match the signing key")
        if key["kty"] != _KTY_OF_PREFIX.get(alg[:2]):
            raise InvalidToken("algorithm does not match the signing key")
        if key["kty"] == "EC" and key["crv"] != _CURVE_OF_ALGORITHM.get(alg):
            raise InvalidToken("algorithm does not match the signing key")
        try:
            return jwk.construct(key, alg)
        except Exception:
            log.warning("unusable key in the JWKS", extra={"kid": kid, "alg": alg})
            raise InvalidToken("unusable signing key") from None

    def _check_claims(self, claims: Mapping[str, Any], now: float) -> float:
        """Registered claims; returns ``exp``."""
        if claims.get("iss") != self.issuer:
            raise InvalidToken("wrong issuer")
        audience = claims.get("aud")
        if isinstance(audience, str):
            audience = [audience]
        if not isinstance(audience, list) or self.audience not in audience:
            raise InvalidToken("wrong audience")
        exp = claims.get("exp")
        if not _is_time(exp):
            raise InvalidToken("token has no expiry")
        if now >= exp + self.leeway:
            raise InvalidToken("token has expired")
        nbf = claims.get("nbf")
        if nbf is not None:
            if not _is_time(nbf):
                raise InvalidToken("malformed nbf claim")
            if now + self.leeway < nbf:
                raise InvalidToken("token is not valid yet")
        iat = claims.get("iat")
        if iat is not None:
            if not _is_time(iat):
                raise InvalidToken("malformed iat claim")
            if now + self.leeway < iat:
                raise InvalidToken("token is issued in the future")
        return float(exp)

    def _remember(self, digest: bytes, principal: Principal, until: float, now: float) -> None:
        if self.cache_size <= 0 or until <= now:
            return
        if len(self._cache) >= self.cache_size:
            for stale in [d for d, (expiry, _) in self._cache.items() if expiry <= now]:
                del self._cache[stale]
        while len(self._cache) >= self.cache_size:
            # Oldest first: dicts keep insertion order.
            del self._cache[next(iter(self._cache))]
        self._cache[digest] = (until, principal)

    def forget_cached(self) -> None:
        """Drop every cached verification (e.g. after a signing key was withdrawn)."""
        self._cache.clear()


def _is_time(value: Any) -> TypeGuard[int | float]:
    """A NumericDate: a finite number, not a bool (Python's JSON parser accepts NaN)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _json_object(payload: Any) -> dict[str, Any]:
    try:
        claims = json.loads(payload)
    except (TypeError, ValueError):
        raise InvalidToken("malformed token") from None
    if not isinstance(claims, dict):
        raise InvalidToken("malformed token")
    return claims
