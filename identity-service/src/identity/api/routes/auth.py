"""``/api/v1/auth``: direct login for first-party apps, and logout."""

from __future__ import annotations

import contextlib
import uuid
from datetime import UTC, datetime

from fastapi import APIRouter, Response, status

from identity.api.deps import (
    ClientIpDep,
    ComponentsDep,
    ReposDep,
    TokenServiceDep,
    keeping_counters,
)
from identity.api.schemas import LoginRequest, LogoutRequest, TokenResponse
from identity.domain.accounts import authenticate
from identity.domain.models import FIRST_PARTY_CLIENT_ID, FIRST_PARTY_SCOPES
from mpp_shared.auth import EnrolmentPrincipal
from mpp_shared.deps import SessionDep
from mpp_shared.openapi import problems

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


@router.post("/login", response_model=TokenResponse, responses=problems(401, 429))
async def login(
    body: LoginRequest,
    response: Response,
    session: SessionDep,
    repos: ReposDep,
    components: ComponentsDep,
    tokens: TokenServiceDep,
    ip: ClientIpDep,
) -> TokenResponse:
    """Log in with an email or a NIK; staff add ``otp``. Tokens of the ``mpp-app`` client.

    401 ``invalid_credentials`` / ``mfa_required`` / ``invalid_otp``; 429 ``too_many_attempts``
    or ``account_locked`` with ``Retry-After``. A member of staff without TOTP gets tokens
    whose scope is only ``mfa:enroll``.
    """
    now = datetime.now(UTC)
    async with keeping_counters(session):
        result = await authenticate(
            username=body.username,
            password=body.password,
            otp=body.otp,
            client_ip=ip,
            policies=components.login_policies,
            accounts=repos.accounts,
            throttle=repos.throttle,
            hasher=components.hasher,
            totp_box=components.totp_box,
            now=now,
        )
    client = await repos.clients.get(FIRST_PARTY_CLIENT_ID)
    assert client is not None, "the mpp-app client is created by migration 0003"
    issued, _ = await tokens.issue_for_account(
        account=result.account,
        client=client,
        scope=result.scope_override or FIRST_PARTY_SCOPES,
        auth_time=now,
        now=now,
    )
    response.headers.update(NO_STORE)
    return TokenResponse(
        access_token=issued.access_token,
        refresh_token=issued.refresh_token,
        expires_in=issued.expires_in,
        scope=issued.scope,
        id_token=issued.id_token,
    )


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(
    principal: EnrolmentPrincipal,
    tokens: TokenServiceDep,
    repos: ReposDep,
    body: LogoutRequest | None = None,
) -> Response:
    """End the session of this access token: its refresh-token family is revoked, and the
    gateways refuse its access tokens from now on."""
    now = datetime.now(UTC)
    sid = principal.claims.get("sid")
    if isinstance(sid, str):
        with contextlib.suppress(ValueError):
            await tokens.end_session(
                family_id=uuid.UUID(sid), account_id=uuid.UUID(principal.subject), now=now
            )
    if body is not None and body.refresh_token and principal.client_id:
        client = await repos.clients.get(principal.client_id)
        if client is not None:
            await tokens.revoke_refresh_token(token=body.refresh_token, client=client, now=now)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
