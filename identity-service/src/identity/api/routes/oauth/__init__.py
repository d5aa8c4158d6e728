"""The OpenID Connect provider: discovery, JWKS, authorize (with its login form), token,
revoke and userinfo, one module per endpoint group."""

from __future__ import annotations

from fastapi import APIRouter

from identity.api.routes.oauth import authorize, discovery, revocation, token, userinfo

router = APIRouter(tags=["oauth2"])
for _group in (discovery, authorize, token, revocation, userinfo):
    router.include_router(_group.router)
