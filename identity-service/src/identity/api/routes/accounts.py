"""``/api/v1/admin/accounts``: platform admins disable accounts."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from identity.api.deps import ComponentsDep, ReposDep, actor_of
from identity.domain.accounts import disable_account
from mpp_shared.auth import Principal, Role, require_roles

router = APIRouter(prefix="/api/v1/admin/accounts", tags=["admin"])

PlatformAdmin = Annotated[Principal, Depends(require_roles(Role.PLATFORM_ADMIN))]


@router.post("/{account_id}/disable", status_code=status.HTTP_204_NO_CONTENT)
async def disable(
    account_id: uuid.UUID, principal: PlatformAdmin, repos: ReposDep, components: ComponentsDep
) -> Response:
    """Disable a citizen's or a member of staff's account: no more logins or refreshes, and
    the gateways refuse its access tokens (``mpp.identity.access.revoked``). 404 for an
    unknown account; an admin cannot disable their own."""
    await disable_account(
        actor=actor_of(principal),
        account_id=account_id,
        accounts=repos.accounts,
        events=repos.events,
        access_lifetime=components.issuer.lifetimes.access,
        now=datetime.now(UTC),
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
