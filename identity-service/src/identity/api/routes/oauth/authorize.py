"""``/oauth2/authorize``: the authorization code flow (PKCE S256) and its login form."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from identity.api.deps import ClientIpDep, ComponentsDep, ReposDep, TokenServiceDep
from identity.api.login_page import error_page, login_form
from identity.api.routes.oauth.common import AUTHORIZE_PATH, NO_STORE
from identity.components import Components
from identity.domain.accounts import authenticate
from identity.domain.clients import (
    RedirectableError,
    UnredirectableError,
    validate_authorization_request,
)
from identity.domain.crypto import BadFormToken
from identity.domain.exceptions import InvalidCredentials, InvalidOtp, MfaRequired, Throttled
from identity.domain.models import AuthorizationRequest, Client

router = APIRouter()

CSRF_COOKIE = "mpp_authz"
_AUTHORIZE_PARAMS = (
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
)


def _redirect(uri: str, params: dict[str, str]) -> RedirectResponse:
    parts = urlsplit(uri)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    target = urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))
    return RedirectResponse(target, status_code=303, headers=NO_STORE)


def _error_redirect(exc: RedirectableError, issuer: str) -> RedirectResponse:
    params = {"error": exc.error, "error_description": exc.description, "iss": issuer}
    if exc.state:
        params["state"] = exc.state
    return _redirect(exc.redirect_uri, params)


def _csrf_hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _render_form(
    components: Components,
    request_params: dict[str, str],
    client: Client,
    scopes: tuple[str, ...],
    *,
    csrf: str | None = None,
    username: str = "",
    error: str | None = None,
    ask_otp: bool = False,
    status_code: int = 200,
) -> Response:
    fresh = csrf is None
    csrf_value = csrf or secrets.token_urlsafe(24)
    form_token = components.form_signer.sign(
        {"q": request_params, "c": _csrf_hash(csrf_value)},
        ttl_seconds=components.settings.login_form_ttl_seconds,
    )
    response = login_form(
        action=AUTHORIZE_PATH,
        form_token=form_token,
        client_name=client.name,
        scopes=scopes,
        username=username,
        error=error,
        ask_otp=ask_otp,
        status_code=status_code,
    )
    if fresh:
        response.set_cookie(
            CSRF_COOKIE,
            csrf_value,
            max_age=components.settings.login_form_ttl_seconds,
            path=AUTHORIZE_PATH,
            httponly=True,
            samesite="lax",
            secure=components.issuer.issuer.startswith("https://"),
        )
    return response


@router.get(AUTHORIZE_PATH, response_model=None)
async def authorize(request: Request, repos: ReposDep, components: ComponentsDep) -> Response:
    """Start the authorization code flow (PKCE S256 required): show the login form."""
    params = {name: request.query_params.get(name, "") for name in _AUTHORIZE_PARAMS}
    try:
        authz, client = await validate_authorization_request(params=params, clients=repos.clients)
    except UnredirectableError as exc:
        return error_page(str(exc))
    except RedirectableError as exc:
        return _error_redirect(exc, components.issuer.issuer)
    if request.query_params.get("prompt") == "none":
        # There is no browser session to reuse: every authorization needs the form.
        return _error_redirect(
            RedirectableError(
                "login_required",
                "The user must log in.",
                redirect_uri=authz.redirect_uri,
                state=authz.state,
            ),
            components.issuer.issuer,
        )
    return _render_form(components, _request_params(authz), client, authz.scope)


def _request_params(authz: AuthorizationRequest) -> dict[str, str]:
    return {
        "response_type": "code",
        "client_id": authz.client_id,
        "redirect_uri": authz.redirect_uri,
        "scope": " ".join(authz.scope),
        "state": authz.state,
        "nonce": authz.nonce or "",
        "code_challenge": authz.code_challenge,
        "code_challenge_method": "S256",
    }


@router.post(AUTHORIZE_PATH, response_model=None)
async def authorize_login(
    request: Request,
    repos: ReposDep,
    components: ComponentsDep,
    tokens: TokenServiceDep,
    ip: ClientIpDep,
) -> Response:
    """The login form's submission: on success, back to the client with a code."""
    form = await request.form()
    field = {name: form.get(name) for name in ("form_token", "username", "password", "otp")}
    text = {name: value if isinstance(value, str) else "" for name, value in field.items()}
    try:
        signed = components.form_signer.verify(text["form_token"])
    except (BadFormToken, ValueError, KeyError):
        return error_page("Formulir kedaluwarsa atau tidak sah. Ulangi dari aplikasi Anda.")
    csrf = request.cookies.get(CSRF_COOKIE, "")
    if not csrf or not secrets.compare_digest(_csrf_hash(csrf), str(signed.get("c", ""))):
        return error_page(
            "Permintaan tidak sah (CSRF). Ulangi dari aplikasi Anda.", status_code=403
        )
    params = {name: str(value) for name, value in dict(signed.get("q", {})).items()}
    try:
        authz, client = await validate_authorization_request(params=params, clients=repos.clients)
    except UnredirectableError as exc:
        return error_page(str(exc))
    except RedirectableError as exc:
        return _error_redirect(exc, components.issuer.issuer)

    def again(message: str, *, status_code: int, ask_otp: bool = False) -> Response:
        return _render_form(
            components,
            params,
            client,
            authz.scope,
            csrf=csrf,
            username=text["username"][:254],
            error=message,
            ask_otp=ask_otp,
            status_code=status_code,
        )

    now = datetime.now(UTC)
    try:
        result = await authenticate(
            username=text["username"][:254],
            password=text["password"][:256],
            otp=text["otp"] or None,
            client_ip=ip,
            policies=components.login_policies,
            accounts=repos.accounts,
            throttle=repos.throttle,
            hasher=components.hasher,
            totp_box=components.totp_box,
            now=now,
        )
    except InvalidCredentials:
        return again("NIK/email atau kata sandi salah.", status_code=401)
    except MfaRequired:
        return again(
            "Masukkan kode OTP dari aplikasi autentikator Anda.", status_code=401, ask_otp=True
        )
    except InvalidOtp:
        return again("Kode OTP salah atau sudah dipakai.", status_code=401, ask_otp=True)
    except Throttled as exc:
        message = (
            "Akun dikunci sementara karena terlalu banyak percobaan gagal."
            if exc.locked
            else "Terlalu banyak percobaan gagal; tunggu sebentar lalu coba lagi."
        )
        response = again(message, status_code=429)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    if result.enrolment_only:
        return error_page(
            "Petugas wajib mengaktifkan OTP melalui aplikasi MPP Digital sebelum masuk di sini.",
            status_code=403,
        )
    code = await tokens.create_code(request=authz, account=result.account, auth_time=now, now=now)
    response = _redirect(
        authz.redirect_uri,
        {"code": code, "state": authz.state, "iss": components.issuer.issuer},
    )
    response.delete_cookie(CSRF_COOKIE, path=AUTHORIZE_PATH)
    return response
