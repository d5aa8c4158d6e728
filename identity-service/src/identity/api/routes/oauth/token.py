"""``/oauth2/token``: authorization code (with PKCE), refresh token and client credentials."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from identity.api.deps import ReposDep, TokenServiceDep, keeping_counters
from identity.api.routes.oauth.common import (
    NO_STORE,
    client_credentials_of,
    oauth_error,
    read_form,
)
from identity.domain.clients import authenticate_client
from identity.domain.exceptions import OAuthError
from identity.domain.models import GrantType
from mpp_shared.deps import SessionDep

router = APIRouter()


@router.post("/oauth2/token", response_model=None)
async def token(
    request: Request,
    session: SessionDep,
    repos: ReposDep,
    tokens: TokenServiceDep,
) -> Response:
    """``authorization_code`` (with PKCE), ``refresh_token`` (rotating; a reused one ends the
    session) and ``client_credentials``."""
    form = await read_form(request)
    now = datetime.now(UTC)
    try:
        async with keeping_counters(session):
            client_id, client_secret = client_credentials_of(request, form)
            client = await authenticate_client(
                clients=repos.clients, client_id=client_id, client_secret=client_secret
            )
            grant = form.get("grant_type", "")
            if grant == GrantType.AUTHORIZATION_CODE:
                issued = await tokens.exchange_code(
                    code=form.get("code", ""),
                    client=client,
                    redirect_uri=form.get("redirect_uri"),
                    code_verifier=form.get("code_verifier"),
                    now=now,
                )
            elif grant == GrantType.REFRESH_TOKEN:
                if not form.get("refresh_token"):
                    raise OAuthError("invalid_request", "refresh_token is required.")
                issued = await tokens.refresh(
                    refresh_token=form["refresh_token"], client=client, now=now
                )
            elif grant == GrantType.CLIENT_CREDENTIALS:
                if client.is_public:
                    raise OAuthError("unauthorized_client", "Public clients have no credentials.")
                requested = form.get("scope", "").split() or None
                issued = await tokens.client_credentials(
                    client=client, requested=requested, now=now
                )
            else:
                raise OAuthError("unsupported_grant_type", "Unsupported grant_type.")
    except OAuthError as exc:
        return oauth_error(exc)
    body: dict[str, Any] = {
        "access_token": issued.access_token,
        "token_type": issued.token_type,
        "expires_in": issued.expires_in,
        "scope": issued.scope,
    }
    if issued.refresh_token:
        body["refresh_token"] = issued.refresh_token
    if issued.id_token:
        body["id_token"] = issued.id_token
    return JSONResponse(body, headers=NO_STORE)
