"""The OpenID Connect provider: discovery, JWKS, authorize (with its login form), token,
revoke and userinfo."""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, unquote_plus, urlencode, urlsplit, urlunsplit

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse

from identity.api.deps import (
    ClientIpDep,
    ComponentsDep,
    ReposDep,
    TokenServiceDep,
    keeping_counters,
)
from identity.api.login_page import error_page, login_form
from identity.components import Components
from identity.domain.accounts import authenticate
from identity.domain.clients import (
    RedirectableError,
    UnredirectableError,
    authenticate_client,
    validate_authorization_request,
)
from identity.domain.consents import record_access
from identity.domain.crypto import BadFormToken
from identity.domain.exceptions import (
    InvalidCredentials,
    InvalidOtp,
    MfaRequired,
    OAuthError,
    Throttled,
)
from identity.domain.models import OIDC_SCOPES, AuthorizationRequest, Client, GrantType
from identity.domain.signing import jwks
from mpp_shared.auth import CurrentPrincipal, InvalidToken, get_token_verifier
from mpp_shared.deps import SessionDep
from mpp_shared.problems import PROBLEM_CONTENT_TYPE, Problem

router = APIRouter(tags=["oauth2"])

AUTHORIZE_PATH = "/oauth2/authorize"
CSRF_COOKIE = "mpp_authz"
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
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


def _oauth_error(exc: OAuthError) -> JSONResponse:
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


# --- discovery and keys ---------------------------------------------------------------------


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


# --- authorize ------------------------------------------------------------------------------


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


# --- token and revoke -----------------------------------------------------------------------


def _client_credentials_of(request: Request, form: dict[str, str]) -> tuple[str | None, str | None]:
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


async def _form(request: Request) -> dict[str, str]:
    form = await request.form()
    return {name: value for name, value in form.items() if isinstance(value, str)}


@router.post("/oauth2/token", response_model=None)
async def token(
    request: Request,
    session: SessionDep,
    repos: ReposDep,
    tokens: TokenServiceDep,
) -> Response:
    """``authorization_code`` (with PKCE), ``refresh_token`` (rotating; a reused one ends the
    session) and ``client_credentials``."""
    form = await _form(request)
    now = datetime.now(UTC)
    try:
        async with keeping_counters(session):
            client_id, client_secret = _client_credentials_of(request, form)
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
        return _oauth_error(exc)
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


@router.post("/oauth2/revoke", response_model=None)
async def revoke(request: Request, repos: ReposDep, tokens: TokenServiceDep) -> Response:
    """RFC 7009: a refresh token (or an access token) ends its session; an access token is
    also refused by the gateways from now on (its ``jti``). Unknown tokens are answered 200
    too, so the endpoint tells nothing."""
    form = await _form(request)
    try:
        client_id, client_secret = _client_credentials_of(request, form)
        client = await authenticate_client(
            clients=repos.clients, client_id=client_id, client_secret=client_secret
        )
    except OAuthError as exc:
        return _oauth_error(exc)
    value = form.get("token", "")
    if not value:
        return _oauth_error(OAuthError("invalid_request", "token is required."))
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


# --- userinfo -------------------------------------------------------------------------------


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
