"""What the OAuth endpoints share: RFC 6749 error bodies, client credentials, form bodies."""

from __future__ import annotations

import base64
import binascii
from urllib.parse import unquote_plus

from fastapi import Request
from fastapi.responses import JSONResponse

from identity.domain.exceptions import OAuthError
from mpp_shared.problems import PROBLEM_CONTENT_TYPE, Problem

AUTHORIZE_PATH = "/oauth2/authorize"
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def oauth_error(exc: OAuthError) -> JSONResponse:
    """RFC 6749 §5.2 ``error``/``error_description`` inside a problem+json body: OAuth
    clients and this API's conventions both read it."""
    problem = Problem(exc.detail, status=exc.status, code=exc.error)
    body = problem.to_body(instance=None)
    body.update(error=exc.error, error_description=exc.detail)
    headers = dict(NO_STORE)
    if exc.error == "invalid_client":
        headers["WWW-Authenticate"] = 'Basic realm="mpp"'
    return JSONResponse(
        body, status_code=exc.status, headers=headers, media_type=PROBLEM_CONTENT_TYPE
    )


def client_credentials_of(request: Request, form: dict[str, str]) -> tuple[str | None, str | None]:
    """client_secret_basic or client_secret_post (or a public client's bare client_id)."""
    header = request.headers.get("authorization", "")
    if header[:6].lower() == "basic ":
        if form.get("client_secret"):
            raise OAuthError("invalid_request", "Use one client authentication method.")
        try:
            decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
            raw_id, _, raw_secret = decoded.partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise OAuthError("invalid_client", "Malformed Basic credentials.", status=401) from None
        # RFC 6749 §2.3.1: both parts are form-urlencoded inside Basic.
        return unquote_plus(raw_id), unquote_plus(raw_secret)
    return form.get("client_id") or None, form.get("client_secret") or None


async def read_form(request: Request) -> dict[str, str]:
    form = await request.form()
    return {name: value for name, value in form.items() if isinstance(value, str)}
