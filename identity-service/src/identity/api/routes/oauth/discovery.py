"""OpenID Connect discovery and the public signing keys (JWKS)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from identity.api.deps import ComponentsDep, ReposDep
from identity.api.routes.oauth.common import AUTHORIZE_PATH
from identity.domain.models import OIDC_SCOPES, GrantType
from identity.domain.signing import jwks

router = APIRouter()


@router.get("/.well-known/openid-configuration")
async def discovery(components: ComponentsDep, response: Response) -> dict[str, Any]:
    issuer = components.issuer.issuer
    # Public and the same for everyone: the one identity document that may be cached.
    response.headers["Cache-Control"] = "public, max-age=300"
    return {
        "issuer": issuer,
        "authorization_endpoint": issuer + AUTHORIZE_PATH,
        "token_endpoint": issuer + "/oauth2/token",
        "userinfo_endpoint": issuer + "/oauth2/userinfo",
        "jwks_uri": issuer + "/oauth2/jwks",
        "revocation_endpoint": issuer + "/oauth2/revoke",
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": [g.value for g in GrantType],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "token_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post",
            "none",
        ],
        "revocation_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post",
            "none",
        ],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": sorted(OIDC_SCOPES),
        "claims_supported": [
            "sub",
            "iss",
            "aud",
            "exp",
            "iat",
            "auth_time",
            "nonce",
            "name",
            "email",
            "phone_number",
            "birthdate",
            "gender",
            "address",
            "roles",
            "ial",
            "agency_id",
        ],
        "authorization_response_iss_parameter_supported": True,
        "ui_locales_supported": ["id"],
    }


@router.get("/oauth2/jwks")
async def public_keys(repos: ReposDep, components: ComponentsDep) -> JSONResponse:
    """The active signing key and the retired ones whose tokens may still be in use."""
    document = await jwks(
        keys=repos.keys,
        publish_retired_for=timedelta(seconds=components.settings.retired_key_publish_seconds),
        now=datetime.now(UTC),
    )
    return JSONResponse(
        document,
        media_type="application/jwk-set+json",
        headers={"Cache-Control": "public, max-age=60"},
    )
