"""``/api/v1/admin/signing-keys``: platform admins list and rotate the token-signing keys."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, status

from identity.api.deps import ComponentsDep, ReposDep
from identity.api.schemas import SigningKeyRead
from identity.domain.keys import StoredSigningKey
from identity.domain.signing import rotate_signing_key
from mpp_shared.auth import Principal, Role, require_roles

router = APIRouter(prefix="/api/v1/admin/signing-keys", tags=["admin"])

PlatformAdmin = Annotated[Principal, Depends(require_roles(Role.PLATFORM_ADMIN))]


def _read(key: StoredSigningKey) -> SigningKeyRead:
    return SigningKeyRead(
        kid=key.kid,
        algorithm=key.algorithm,
        status="active" if key.active else "retired",
        created_at=key.created_at,
        retired_at=key.retired_at,
    )


@router.get("", response_model=list[SigningKeyRead])
async def list_keys(_: PlatformAdmin, repos: ReposDep) -> list[SigningKeyRead]:
    return [_read(key) for key in await repos.keys.all()]


@router.post("/rotate", status_code=status.HTTP_201_CREATED, response_model=SigningKeyRead)
async def rotate(_: PlatformAdmin, repos: ReposDep, components: ComponentsDep) -> SigningKeyRead:
    """A new signing key from now on. The old one stays in the JWKS until every token it
    signed has expired, so nobody is logged out."""
    key = await rotate_signing_key(keys=repos.keys, box=components.key_box, now=datetime.now(UTC))
    return _read(key)
