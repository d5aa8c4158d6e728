"""``/oauth2/userinfo``: the OpenID Connect claims a token's scopes allow."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter

from identity.api.deps import ReposDep
from identity.domain.claims import userinfo_claims
from identity.domain.consents import record_access
from mpp_shared.auth import CurrentPrincipal, InvalidToken
from mpp_shared.problems import Problem

router = APIRouter()


async def _userinfo(principal: CurrentPrincipal, repos: ReposDep) -> dict[str, Any]:
    try:
        account_id = uuid.UUID(principal.subject)
    except ValueError:
        raise Problem("Client tokens have no user.", status=403, code="forbidden") from None
    account = await repos.accounts.get(account_id)
    if account is None or account.disabled:
        raise InvalidToken("the account no longer exists")
    released = userinfo_claims(account, principal.scopes)
    read = released.registry_fields
    client = await repos.clients.get(principal.client_id) if principal.client_id else None
    if read and account.is_citizen and (client is None or not client.first_party):
        # Registry data handed to another organisation's system: the citizen sees it.
        await record_access(
            repos.access_log,
            account_id=account.id,
            accessor=client.name if client is not None else str(principal.client_id),
            accessor_kind="client",
            purpose="OpenID Connect userinfo",
            fields=read,
            now=datetime.now(UTC),
        )
    return released.claims


@router.get("/oauth2/userinfo")
async def userinfo(principal: CurrentPrincipal, repos: ReposDep) -> dict[str, Any]:
    """OIDC userinfo: the claims the token's scopes allow."""
    return await _userinfo(principal, repos)


@router.post("/oauth2/userinfo")
async def userinfo_post(principal: CurrentPrincipal, repos: ReposDep) -> dict[str, Any]:
    return await _userinfo(principal, repos)
