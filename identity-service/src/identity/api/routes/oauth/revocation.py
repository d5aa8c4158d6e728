"""``/oauth2/revoke`` (RFC 7009): ending sessions and revoking tokens."""

from __future__ import annotations

import contextlib
import uuid
from datetime import UTC, datetime

from fastapi import APIRouter, Request, Response

from identity.api.deps import ReposDep, TokenServiceDep
from identity.api.routes.oauth.common import (
    NO_STORE,
    client_credentials_of,
    oauth_error,
    read_form,
)
from identity.domain.clients import authenticate_client
from identity.domain.exceptions import OAuthError
from mpp_shared.auth import InvalidToken, get_token_verifier

router = APIRouter()


@router.post("/oauth2/revoke", response_model=None)
async def revoke(request: Request, repos: ReposDep, tokens: TokenServiceDep) -> Response:
    """RFC 7009: a refresh token (or an access token) ends its session; an access token is
    also refused by the gateways from now on (its ``jti``). Unknown tokens are answered 200
    too, so the endpoint tells nothing."""
    form = await read_form(request)
    try:
        client_id, client_secret = client_credentials_of(request, form)
        client = await authenticate_client(
            clients=repos.clients, client_id=client_id, client_secret=client_secret
        )
    except OAuthError as exc:
        return oauth_error(exc)
    value = form.get("token", "")
    if not value:
        return oauth_error(OAuthError("invalid_request", "token is required."))
    now = datetime.now(UTC)
    if value.count(".") == 2:
        try:
            principal = await get_token_verifier(request).verify(value)
        except InvalidToken:
            principal = None
        if principal is not None and principal.client_id == client.client_id:
            jti, sid = principal.claims.get("jti"), principal.claims.get("sid")
            if isinstance(jti, str) and jti:
                await tokens.revoke_access_token(jti=jti, now=now)
            if isinstance(sid, str):
                with contextlib.suppress(ValueError):
                    await tokens.end_session(
                        family_id=uuid.UUID(sid),
                        account_id=uuid.UUID(principal.subject),
                        now=now,
                        reason="revoked",
                    )
    else:
        await tokens.revoke_refresh_token(token=value, client=client, now=now)
    return Response(status_code=200, headers=NO_STORE)
