"""Token-signing keys: generated here, sealed at rest, published as JWKs, used to sign JWTs."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jose import jwk, jws
from jose.backends.base import Key

from identity.domain.crypto import SecretBox

SIGNING_ALGORITHM = "ES256"


@dataclass(frozen=True, slots=True)
class StoredSigningKey:
    """A signing key as stored: the private half sealed, the public half as a JWK."""

    kid: str
    algorithm: str
    public_jwk: dict[str, Any]
    sealed_private_key: bytes
    active: bool
    created_at: datetime
    retired_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class SigningKey:
    """An unsealed signing key, ready to sign."""

    kid: str
    algorithm: str
    private_pem: str
    # The PEM parsed once: given the PEM, jose parses it again for every token it signs
    # (a refresh signs two: about 3 ms of CPU each time).
    key: Key = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", jwk.construct(self.private_pem, self.algorithm))

    def sign(self, claims: dict[str, Any], *, typ: str = "JWT") -> str:
        headers = {"kid": self.kid, "typ": typ}
        token: str = jws.sign(claims, self.key, headers=headers, algorithm=self.algorithm)
        return token


def generate_signing_key(box: SecretBox) -> tuple[str, dict[str, Any], bytes]:
    """A new P-256 key: its kid (RFC 7638 thumbprint), public JWK and sealed private PEM."""
    private_key = ec.generate_private_key(ec.SECP256R1())
    numbers = private_key.public_key().public_numbers()
    jwk = {
        "crv": "P-256",
        "kty": "EC",
        "x": _b64(numbers.x.to_bytes(32, "big")),
        "y": _b64(numbers.y.to_bytes(32, "big")),
    }
    kid = _thumbprint(jwk)
    public_jwk = {**jwk, "kid": kid, "use": "sig", "alg": SIGNING_ALGORITHM}
    pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return kid, public_jwk, box.seal(pem, context=kid)


def unseal_signing_key(box: SecretBox, stored: StoredSigningKey) -> SigningKey:
    pem = box.open(stored.sealed_private_key, context=stored.kid)
    return SigningKey(kid=stored.kid, algorithm=stored.algorithm, private_pem=pem.decode())


class KeyCache:
    """Unsealed keys by kid. A kid's material never changes, so this cache needs no
    invalidation; which key is active is always read from the database."""

    def __init__(self, box: SecretBox) -> None:
        self._box = box
        self._keys: dict[str, SigningKey] = {}

    def unseal(self, stored: StoredSigningKey) -> SigningKey:
        key = self._keys.get(stored.kid)
        if key is None:
            key = unseal_signing_key(self._box, stored)
            self._keys[stored.kid] = key
        return key


def _thumbprint(jwk: dict[str, str]) -> str:
    canonical = json.dumps(
        {name: jwk[name] for name in ("crv", "kty", "x", "y")}, separators=(",", ":")
    )
    return _b64(hashlib.sha256(canonical.encode()).digest())


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")
