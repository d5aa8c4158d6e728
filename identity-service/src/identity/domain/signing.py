"""Signing-key lifecycle: the first key, rotation, and the published key set."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from identity.domain.crypto import SecretBox
from identity.domain.keys import SIGNING_ALGORITHM, StoredSigningKey, generate_signing_key
from identity.domain.ports import SigningKeyRepository


def _new_key(box: SecretBox, now: datetime) -> StoredSigningKey:
    kid, public_jwk, sealed = generate_signing_key(box)
    return StoredSigningKey(
        kid=kid,
        algorithm=SIGNING_ALGORITHM,
        public_jwk=public_jwk,
        sealed_private_key=sealed,
        active=True,
        created_at=now,
    )


async def ensure_signing_key(
    *, keys: SigningKeyRepository, box: SecretBox, now: datetime
) -> StoredSigningKey:
    active = await keys.active()
    if active is not None:
        return active
    await keys.add_active(_new_key(box, now))
    created = await keys.active()
    assert created is not None
    return created


async def rotate_signing_key(
    *, keys: SigningKeyRepository, box: SecretBox, now: datetime
) -> StoredSigningKey:
    """A new active key; the old one signs no more but stays published (see ``jwks``), so
    tokens it signed keep working until they expire and nobody is logged out."""
    current = await keys.lock_active()
    if current is not None:
        await keys.retire(current.kid, at=now)
    new = _new_key(box, now)
    await keys.add_active(new)
    return new


async def jwks(
    *, keys: SigningKeyRepository, publish_retired_for: timedelta, now: datetime
) -> dict[str, Any]:
    published = await keys.published(retired_since=now - publish_retired_for)
    return {"keys": [key.public_jwk for key in published]}
