"""FastAPI dependencies for the caller's principal, roles and scopes, and the verifier's setup."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import httpx
from fastapi import Depends, Request
from starlette.types import Scope

from mpp_shared.app import ServiceRuntime
from mpp_shared.auth.internal import VouchedPrincipals
from mpp_shared.auth.jwks import JwksClient
from mpp_shared.auth.principal import ALL_ROLES, MFA_ENROLL_SCOPE, Principal
from mpp_shared.auth.verify import TokenVerifier
from mpp_shared.config import BaseServiceSettings
from mpp_shared.deps import runtime_of
from mpp_shared.problems import Problem


class Unauthorized(Problem):
    """401: the request carries no bearer token."""

    status = 401
    code = "unauthorized"

    def __init__(self, detail: str = "A bearer token is required.") -> None:
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(Problem):
    """403: the token is valid but lacks the role or scope."""

    status = 403
    code = "forbidden"


class MfaEnrolmentRequired(Problem):
    """403: a staff token that is only good for TOTP enrolment."""

    status = 403
    code = "mfa_enrolment_required"

    def __init__(self) -> None:
        super().__init__("Enrol a second factor (TOTP) before using this endpoint.")


def install_token_verifier(
    runtime: ServiceRuntime,
    settings: BaseServiceSettings | None = None,
    *,
    http: httpx.AsyncClient | None = None,
) -> TokenVerifier:
    """Put a ``TokenVerifier`` for the settings' JWKS, issuer and audience into the runtime
    (``runtime.token_verifier``).

    Without ``http`` the verifier's JWKS client makes its own, closed by
    ``stop_token_verifier``.
    """
    settings = settings if settings is not None else runtime.settings
    verifier = TokenVerifier(
        JwksClient(settings.jwks_url, http=http),
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
    )
    runtime.token_verifier = verifier
    return verifier


async def start_token_verifier(runtime: ServiceRuntime) -> None:
    """Startup hook for ``create_service_app(on_startup=[...])``; fetches nothing yet."""
    install_token_verifier(runtime)


async def stop_token_verifier(runtime: ServiceRuntime) -> None:
    """Shutdown hook for ``create_service_app(on_shutdown=[...])``."""
    verifier, runtime.token_verifier = runtime.token_verifier, None
    if verifier is not None:
        await verifier.jwks.aclose()


def get_token_verifier(request: Request) -> TokenVerifier:
    verifier = runtime_of(request).token_verifier
    if verifier is None:
        raise RuntimeError("no token verifier: add start_token_verifier to the app's on_startup")
    return verifier


# Where the principal a request resolved is kept for the other dependencies of that request.
_PRINCIPAL_KEY = "mpp.principal"


def bearer_token(scope: Scope) -> str | None:
    """The token of an ``Authorization: Bearer …`` header, as FastAPI's ``HTTPBearer`` reads it
    (the first such header, the scheme in any case); None when absent or of another scheme."""
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            token = token.strip()
            return token if token and scheme.lower() == "bearer" else None
    return None


def vouched_principal(request: Request) -> Principal | None:
    """The principal the gateway verified and signed for (``X-MPP-Principal``), if genuine.

    The gateway already checked the token's signature, expiry and audience; its HMAC over the
    principal spares the service a second verification. Headers that are absent, stale or not
    signed with the shared secret count as absent, and the bearer token is verified instead.
    """
    runtime = runtime_of(request)
    vouched = runtime.vouched_principals
    if vouched is None:
        settings = runtime.settings
        vouched = runtime.vouched_principals = VouchedPrincipals(
            settings.principal_secret, settings.internal_principal_max_age_seconds
        )
    return vouched.verify(request.scope["headers"])


async def _resolved_principal(request: Request) -> Principal | None:
    """The gateway's vouched principal or the verified bearer token's, resolved once per
    request; None without either (a bad token is 401)."""
    scope = request.scope
    principal: Principal | None = scope.get(_PRINCIPAL_KEY)
    if principal is None:
        principal = vouched_principal(request)
        if principal is None:
            token = bearer_token(scope)
            if token is None:
                return None
            principal = await get_token_verifier(request).verify(token)
        scope[_PRINCIPAL_KEY] = principal
    return principal


async def enrolment_principal_of(request: Request) -> Principal:
    """The caller's principal, a token restricted to MFA enrolment included; 401 without one."""
    principal = await _resolved_principal(request)
    if principal is None:
        raise Unauthorized()
    return principal


async def principal_of(request: Request) -> Principal:
    """What ``CurrentPrincipal`` gives, as a plain call: for a dependency of its own (one
    dependency for FastAPI to solve instead of two) marked with ``requires_principal``. The
    principal is resolved once per request however many dependencies ask for it."""
    principal = await enrolment_principal_of(request)
    if principal.needs_mfa_enrolment:
        raise MfaEnrolmentRequired()
    return principal


# Dependencies that resolve the principal with ``principal_of``: the OpenAPI document marks
# their routes as needing the bearer token. The dependencies here take the request alone, so
# FastAPI solves one dependency for the caller, not a chain of them: each costs every request.
PRINCIPAL_DEPENDENCIES: set[Callable[..., object]] = set()
DependencyT = TypeVar("DependencyT", bound=Callable[..., object])


def requires_principal(dependency: DependencyT) -> DependencyT:
    """Marks a dependency that calls ``principal_of`` (see ``PRINCIPAL_DEPENDENCIES``)."""
    PRINCIPAL_DEPENDENCIES.add(dependency)
    return dependency


async def get_enrolment_principal(request: Request) -> Principal:
    """Any valid token, including one restricted to MFA enrolment."""
    return await enrolment_principal_of(request)


@requires_principal
async def get_principal(request: Request) -> Principal:
    return await principal_of(request)


async def get_optional_principal(request: Request) -> Principal | None:
    """None for an anonymous request; a bad token is still 401, never anonymous."""
    principal = await _resolved_principal(request)
    if principal is not None and principal.needs_mfa_enrolment:
        raise MfaEnrolmentRequired()
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]
OptionalPrincipal = Annotated[Principal | None, Depends(get_optional_principal)]
# Only the two TOTP enrolment endpoints of identity-service should use this one.
EnrolmentPrincipal = Annotated[Principal, Depends(get_enrolment_principal)]

PrincipalDependency = Callable[[Request], Awaitable[Principal]]


def require_roles(*roles: str) -> PrincipalDependency:
    """A dependency passing principals holding any of ``roles``; 403 ``forbidden`` otherwise.

    ``Annotated[Principal, Depends(require_roles(Role.OFFICER, Role.AGENCY_ADMIN))]``.
    """
    unknown = sorted(set(roles) - ALL_ROLES)
    if not roles or unknown:
        raise ValueError(f"require_roles needs known role names, got {unknown or 'none'}")
    wanted = frozenset(roles)

    @requires_principal
    async def principal_with_role(request: Request) -> Principal:
        principal = await principal_of(request)
        if not principal.has_role(*wanted):
            raise Forbidden("This requires one of the roles: " + ", ".join(sorted(wanted)) + ".")
        return principal

    return principal_with_role


def require_scopes(*scopes: str) -> PrincipalDependency:
    """A dependency passing principals holding all of ``scopes``; 403 ``forbidden`` otherwise."""
    if not scopes or any(not scope or " " in scope for scope in scopes):
        raise ValueError("require_scopes needs scope names")
    if MFA_ENROLL_SCOPE in scopes:
        raise ValueError("use EnrolmentPrincipal for the MFA enrolment endpoints")
    wanted = frozenset(scopes)
    scope_list = " ".join(sorted(wanted))

    @requires_principal
    async def principal_with_scopes(request: Request) -> Principal:
        principal = await principal_of(request)
        if not wanted <= principal.scopes:
            raise Forbidden(
                f"This requires the scopes: {scope_list}.",
                headers={
                    "WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{scope_list}"'
                },
            )
        return principal

    return principal_with_scopes
