"""``/oauth2/userinfo``: the OpenID Connect claims a token's scopes allow."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter

from identity.api.deps import ReposDep
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
    claims: dict[str, Any] = {
        "sub": str(account.id),
        "roles": account.roles,
        "ial": account.assurance_level,
    }
    if account.agency_id is not None:
        claims["agency_id"] = str(account.agency_id)
    read: list[str] = []
    profile = account.profile
    if principal.has_scope("profile"):
        claims["name"] = account.full_name
        read.append("full_name")
        if profile is not None:
            claims["birthdate"] = profile.birth_date.isoformat()
            claims["gender"] = "female" if profile.gender == "P" else "male"
            read += ["birth_date", "gender"]
    if principal.has_scope("email"):
        claims["email"] = account.email
        claims["email_verified"] = False
    if principal.has_scope("phone") and account.phone:
        claims["phone_number"] = account.phone
        claims["phone_number_verified"] = False
    if principal.has_scope("address") and profile is not None:
        address = profile.address
        claims["address"] = {
            "street_address": f"{address.street} RT {address.rt}/RW {address.rw}",
            "locality": f"{address.village}, {address.district}",
            "region": f"{address.regency}, {address.province}",
            "country": "ID",
            "region_code": address.region_code,
        }
        read.append("address")
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
    return claims


@router.get("/oauth2/userinfo")
async def userinfo(principal: CurrentPrincipal, repos: ReposDep) -> dict[str, Any]:
    """OIDC userinfo: the claims the token's scopes allow."""
    return await _userinfo(principal, repos)


@router.post("/oauth2/userinfo")
async def userinfo_post(principal: CurrentPrincipal, repos: ReposDep) -> dict[str, Any]:
    return await _userinfo(principal, repos)
