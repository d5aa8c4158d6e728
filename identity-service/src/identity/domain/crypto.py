"""Secrets at rest (AES-256-GCM under HKDF-derived keys) and signed, expiring form tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_FORMAT_VERSION = b"\x01"
_NONCE_BYTES = 12


class DecryptionFailed(Exception):
    """The sealed value was not made with this secret and context, or was altered."""


class BadFormToken(Exception):
    """A form token that is forged, altered or expired."""


def derive_key(secret: bytes, *, purpose: str, length: int = 32) -> bytes:
    """A key for one purpose, so that one use of the secret can never unlock another."""
    return HKDF(
        algorithm=hashes.SHA256(),
        length=length,
        salt=b"mpp-identity",
        info=purpose.encode(),
    ).derive(secret)


class SecretBox:
    """Seals small secrets (private keys, TOTP seeds) with AES-256-GCM.

    ``context`` is authenticated but not stored (e.g. the key id or the account id): a sealed
    value copied onto another row does not open there.
    """

    def __init__(self, secret: bytes, *, purpose: str) -> None:
        self._aead = AESGCM(derive_key(secret, purpose=purpose))

    def seal(self, plaintext: bytes, *, context: str) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        return _FORMAT_VERSION + nonce + self._aead.encrypt(nonce, plaintext, context.encode())

    def open(self, sealed: bytes, *, context: str) -> bytes:
        if len(sealed) < 1 + _NONCE_BYTES + 16 or sealed[:1] != _FORMAT_VERSION:
            raise DecryptionFailed("not a sealed value")
        nonce, ciphertext = sealed[1 : 1 + _NONCE_BYTES], sealed[1 + _NONCE_BYTES :]
        try:
            return self._aead.decrypt(nonce, ciphertext, context.encode())
        except InvalidTag:
            raise DecryptionFailed("wrong secret or context") from None


class FormSigner:
    """HMAC-SHA256 tokens carrying a small JSON payload and an expiry (the login form's)."""

    def __init__(self, secret: bytes, *, purpose: str) -> None:
        self._key = derive_key(secret, purpose=purpose)

    def sign(
        self, payload: Mapping[str, Any], *, ttl_seconds: int, now: float | None = None
    ) -> str:
        issued = time.time() if now is None else now
        body = json.dumps(
            {"p": dict(payload), "exp": int(issued + ttl_seconds)},
            separators=(",", ":"),
            sort_keys=True,
        ).encode()
        mac = hmac.new(self._key, body, hashlib.sha256).digest()
        return _b64(body) + "." + _b64(mac)

    def verify(self, token: str, *, now: float | None = None) -> dict[str, Any]:
        try:
            body_part, mac_part = token.split(".")
            body, mac = _unb64(body_part), _unb64(mac_part)
        except ValueError:
            raise BadFormToken("malformed") from None
        expected = hmac.new(self._key, body, hashlib.sha256).digest()
        if not hmac.compare_digest(mac, expected):
            raise BadFormToken("bad signature")
        document = json.loads(body)
        if (time.time() if now is None else now) > document["exp"]:
            raise BadFormToken("expired")
        payload: dict[str, Any] = document["p"]
        return payload


def sha256_hex(value: str) -> str:
    """How bearer secrets (refresh tokens, codes, client secrets) are stored: high-entropy
    random strings need no slow hash, only one that cannot be reversed."""
    return hashlib.sha256(value.encode()).hexdigest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
