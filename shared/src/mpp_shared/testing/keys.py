"""Signing keys for tests and benchmarks: sign access tokens as identity-service would."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jose import jwk, jwt


@dataclass(frozen=True)
class SigningKey:
    kid: str
    alg: str
    private_pem: str
    public_pem: str
    public_jwk: dict[str, Any]

    def sign(self, claims: dict[str, Any], *, headers: dict[str, Any] | None = None) -> str:
        all_headers = {"kid": self.kid, **(headers or {})}
        return str(jwt.encode(claims, self.private_pem, algorithm=self.alg, headers=all_headers))

    @property
    def jwks(self) -> dict[str, Any]:
        """A JWKS document publishing this key alone."""
        return {"keys": [self.public_jwk]}


def new_signing_key(kid: str, alg: Literal["RS256", "ES256"] = "RS256") -> SigningKey:
    private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey = (
        rsa.generate_private_key(65537, 2048)
        if alg == "RS256"
        else ec.generate_private_key(ec.SECP256R1())
    )
    private_pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public_pem = (
        private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    public_jwk = jwk.construct(public_pem, alg).to_dict()
    public_jwk.update(kid=kid, use="sig", alg=alg)
    return SigningKey(kid, alg, private_pem, public_pem, public_jwk)
