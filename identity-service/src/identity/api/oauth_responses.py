"""What the OAuth2/OIDC endpoints answer besides JSON, for the OpenAPI document.

Their module reads forms by hand and answers HTML pages, redirects and OAuth errors (problem
bodies with RFC 6749's ``error``); FastAPI cannot see that from the signatures.
"""

from __future__ import annotations

from typing import Any

from mpp_shared.openapi import problem_response

_HTML = {"text/html": {"schema": {"type": "string"}}}


def _page(description: str) -> dict[str, Any]:
    return {"description": description, "content": _HTML}


_REDIRECT = {
    "description": "Back to the client's redirect_uri with `code` and `state`, or `error`.",
    "headers": {"Location": {"schema": {"type": "string", "format": "uri"}}},
}

OAUTH_RESPONSES: dict[str, dict[int | str, dict[str, Any]]] = {
    "GET /oauth2/jwks": {
        200: {
            "description": "The signing keys (RFC 7517 JWK Set).",
            "content": {"application/jwk-set+json": {"schema": {"type": "object"}}},
        }
    },
    "GET /oauth2/authorize": {
        200: _page("The login form."),
        303: _REDIRECT,
        400: _page("An authorization request that cannot go back to the client."),
    },
    "POST /oauth2/authorize": {
        200: _page("The login form again."),
        303: _REDIRECT,
        400: _page("The form expired or is not valid."),
        401: _page("The login form again: wrong credentials or OTP."),
        403: _page("A cross-site request, or an account that may not use this client."),
        429: _page("The login form again: too many attempts."),
    },
    "POST /oauth2/token": {
        400: problem_response(400, "An OAuth error (`error`, `error_description`)."),
        401: problem_response(401, "The client could not be authenticated (`invalid_client`)."),
        429: problem_response(429),
    },
    "POST /oauth2/revoke": {
        200: {"description": "Revoked, or the token was not valid anyway (RFC 7009)."},
        400: problem_response(400, "An OAuth error (`error`, `error_description`)."),
        401: problem_response(401, "The client could not be authenticated (`invalid_client`)."),
    },
}
