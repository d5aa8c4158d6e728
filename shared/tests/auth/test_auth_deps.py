"""The FastAPI auth dependencies in a real service app: 401, 403 and what passes."""

# No `from __future__ import annotations`: FastAPI reads the route signatures defined below.

import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.security import HTTPBearer

from mpp_shared.app import create_service_app
from mpp_shared.auth import (
    CurrentPrincipal,
    EnrolmentPrincipal,
    OptionalPrincipal,
    Principal,
    Role,
    TokenVerifier,
    install_token_verifier,
    require_roles,
    require_scopes,
    start_token_verifier,
    stop_token_verifier,
)
from mpp_shared.auth.deps import bearer_token
from mpp_shared.auth.internal import encode_principal_headers
from mpp_shared.config import BaseServiceSettings
from mpp_shared.problems import PROBLEM_CONTENT_TYPE

ISSUER = "https://mpp.test"
AUDIENCE = "mpp"
JWKS_URL = "http://identity.test/oauth2/jwks"

StaffPrincipal = Annotated[Principal, Depends(require_roles(Role.OFFICER, Role.AGENCY_ADMIN))]
ProcessingClient = Annotated[Principal, Depends(require_scopes("applications:process"))]


def settings(jwks_url: str = JWKS_URL) -> BaseServiceSettings:
    return BaseServiceSettings(
        service_name="auth-test",
        environment="test",
        public_url=ISSUER + "/",
        jwks_url=jwks_url,
        jwt_audience=AUDIENCE,
    )


def routes() -> APIRouter:
    router = APIRouter()

    @router.get("/me")
    async def me(principal: CurrentPrincipal) -> dict[str, Any]:
        return {"subject": principal.subject, "roles": sorted(principal.roles)}

    @router.get("/agency/applications")
    async def queue(principal: StaffPrincipal, again: CurrentPrincipal) -> dict[str, Any]:
        return {"subject": principal.subject, "same": principal is again}

    @router.get("/platform", dependencies=[Depends(require_roles("platform_admin"))])
    async def platform() -> dict[str, Any]:
        return {"ok": True}

    @router.post("/agency/applications/1/actions")
    async def act(principal: ProcessingClient) -> dict[str, Any]:
        return {"subject": principal.subject}

    @router.get("/services")
    async def services(principal: OptionalPrincipal) -> dict[str, Any]:
        return {"subject": principal.subject if principal else None}

    @router.post("/me/mfa/totp")
    async def enrol(principal: EnrolmentPrincipal) -> dict[str, Any]:
        return {"subject": principal.subject}

    return router


class Verifications:
    def __init__(self) -> None:
        self.count = 0


@pytest.fixture
def verifications() -> Verifications:
    return Verifications()


@pytest.fixture
def app(jwks_server, verifications) -> FastAPI:
    http = jwks_server.client()

    async def install(runtime: Any) -> None:
        verifier = install_token_verifier(runtime, http=http)
        real_verify = verifier.verify

        async def counted(token: str) -> Principal:
            verifications.count += 1
            return await real_verify(token)

        verifier.verify = counted  # type: ignore[method-assign]

    return create_service_app(
        settings(),
        title="auth test",
        uses_database=False,
        uses_nats=False,
        routers=[routes()],
        on_startup=[install],
        on_shutdown=[stop_token_verifier],
    )


@pytest.fixture
async def client(app) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc") as http,
    ):
        yield http


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_CONTENT_TYPE)
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"].endswith("/" + code)
    return body


# --- 401 ---------------------------------------------------------------------------------


async def test_no_token_is_401_unauthorized(client):
    response = await client.get("/me")

    assert_problem(response, 401, "unauthorized")
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "token abc"])
async def test_a_header_without_a_bearer_token_is_401_unauthorized(client, header):
    response = await client.get("/me", headers={"Authorization": header})

    assert_problem(response, 401, "unauthorized")


async def test_a_garbage_token_is_401_invalid_token(client):
    response = await client.get("/me", headers=bearer("not.a.jwt"))

    body = assert_problem(response, 401, "invalid_token")
    assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    assert body["detail"] == "malformed token"


async def test_a_forged_token_is_401_and_not_echoed(client, intruder_key, make_claims):
    token = intruder_key.sign(make_claims(roles=["platform_admin"]))

    response = await client.get("/platform", headers=bearer(token))

    assert_problem(response, 401, "invalid_token")
    assert token not in response.text
    assert token.split(".")[2] not in response.text


async def test_an_expired_token_is_401(client, rsa_key, make_claims):
    token = rsa_key.sign(make_claims(exp=int(time.time()) - 120))

    response = await client.get("/me", headers=bearer(token))

    body = assert_problem(response, 401, "invalid_token")
    assert body["detail"] == "token has expired"


async def test_a_token_for_another_audience_is_401(client, rsa_key, make_claims):
    response = await client.get("/me", headers=bearer(rsa_key.sign(make_claims(aud="other"))))

    assert_problem(response, 401, "invalid_token")


# --- 200 and 403 ---------------------------------------------------------------------------


async def test_a_valid_token_reaches_the_handler(client, ec_key, make_claims):
    response = await client.get("/me", headers=bearer(ec_key.sign(make_claims(sub="warga-1"))))

    assert response.status_code == 200, response.text
    assert response.json() == {"subject": "warga-1", "roles": ["citizen"]}


async def test_a_citizen_cannot_reach_the_agency_queue(client, rsa_key, make_claims):
    response = await client.get(
        "/agency/applications", headers=bearer(rsa_key.sign(make_claims(roles=["citizen"])))
    )

    body = assert_problem(response, 403, "forbidden")
    assert "officer" in body["detail"]


@pytest.mark.parametrize("role", ["officer", "agency_admin"])
async def test_staff_reach_the_agency_queue_with_one_verification(
    client, rsa_key, make_claims, verifications, role
):
    token = rsa_key.sign(make_claims(sub="staff-1", roles=[role], scope="openid"))

    response = await client.get("/agency/applications", headers=bearer(token))

    assert response.status_code == 200, response.text
    assert response.json() == {"subject": "staff-1", "same": True}
    assert verifications.count == 1


async def test_a_route_level_role_dependency_guards_the_route(client, rsa_key, make_claims):
    officer = rsa_key.sign(make_claims(roles=["officer"]))
    admin = rsa_key.sign(make_claims(roles=["platform_admin"]))

    refused = await client.get("/platform", headers=bearer(officer))
    allowed = await client.get("/platform", headers=bearer(admin))

    assert_problem(refused, 403, "forbidden")
    assert allowed.status_code == 200
    assert allowed.json() == {"ok": True}


async def test_a_client_without_the_scope_is_403(client, rsa_key, make_claims):
    token = rsa_key.sign(make_claims(sub="bpjs", roles=None, scope="applications:read"))

    response = await client.post("/agency/applications/1/actions", headers=bearer(token))

    assert_problem(response, 403, "forbidden")
    assert response.headers["www-authenticate"] == (
        'Bearer error="insufficient_scope", scope="applications:process"'
    )


async def test_a_client_with_the_scope_may_act(client, rsa_key, make_claims):
    token = rsa_key.sign(make_claims(sub="bpjs", roles=None, scope="applications:process"))

    response = await client.post("/agency/applications/1/actions", headers=bearer(token))

    assert response.status_code == 200, response.text
    assert response.json() == {"subject": "bpjs"}


# --- optional principal ----------------------------------------------------------------------


async def test_an_anonymous_request_passes_an_optional_principal(client):
    response = await client.get("/services")

    assert response.status_code == 200
    assert response.json() == {"subject": None}


async def test_an_optional_principal_is_read_from_a_good_token(client, rsa_key, make_claims):
    response = await client.get("/services", headers=bearer(rsa_key.sign(make_claims(sub="w-2"))))

    assert response.json() == {"subject": "w-2"}


async def test_a_bad_token_is_401_even_where_anonymous_is_allowed(
    client, intruder_key, make_claims
):
    response = await client.get("/services", headers=bearer(intruder_key.sign(make_claims())))

    assert_problem(response, 401, "invalid_token")


# --- MFA enrolment tokens ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/me"),
        ("GET", "/agency/applications"),
        ("GET", "/platform"),
        ("POST", "/agency/applications/1/actions"),
        ("GET", "/services"),
    ],
)
async def test_an_mfa_enrolment_token_is_refused_everywhere_else(
    client, rsa_key, make_claims, method, path
):
    token = rsa_key.sign(
        make_claims(roles=["officer", "platform_admin"], scope="mfa:enroll", agency_id=None)
    )

    response = await client.request(method, path, headers=bearer(token))

    assert_problem(response, 403, "mfa_enrolment_required")


async def test_an_mfa_enrolment_token_may_enrol(client, rsa_key, make_claims):
    token = rsa_key.sign(make_claims(sub="staff-9", roles=["officer"], scope="mfa:enroll"))

    response = await client.post("/me/mfa/totp", headers=bearer(token))

    assert response.status_code == 200, response.text
    assert response.json() == {"subject": "staff-9"}


async def test_the_enrolment_endpoint_still_needs_a_valid_token(client):
    no_token = await client.post("/me/mfa/totp")
    bad_token = await client.post("/me/mfa/totp", headers=bearer("x.y.z"))

    assert_problem(no_token, 401, "unauthorized")
    assert_problem(bad_token, 401, "invalid_token")


# --- setup ---------------------------------------------------------------------------------


async def test_an_unreachable_key_set_is_503(client, jwks_server, rsa_key, make_claims):
    jwks_server.fail = True

    response = await client.get("/me", headers=bearer(rsa_key.sign(make_claims())))

    assert_problem(response, 503, "auth_unavailable")
    assert response.headers["retry-after"]


async def test_the_startup_hook_builds_the_verifier_from_settings_and_shutdown_closes_it(
    rsa_key, make_claims
):
    # Nothing listens on port 1: a JWKS fetch fails at once instead of hanging.
    app = create_service_app(
        settings("http://127.0.0.1:1/oauth2/jwks"),
        title="auth test",
        uses_database=False,
        uses_nats=False,
        routers=[routes()],
        on_startup=[start_token_verifier],
        on_shutdown=[stop_token_verifier],
    )
    runtime = app.state.runtime

    async with app.router.lifespan_context(app):
        verifier = runtime.token_verifier
        assert isinstance(verifier, TokenVerifier)
        assert verifier.issuer == ISSUER
        assert verifier.audience == AUDIENCE
        assert verifier.jwks.url == "http://127.0.0.1:1/oauth2/jwks"
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://svc"
        ) as http:
            malformed = await http.get("/me", headers=bearer("a.b.c"))
            unverifiable = await http.get("/me", headers=bearer(rsa_key.sign(make_claims())))
        assert_problem(malformed, 401, "invalid_token")
        assert_problem(unverifiable, 503, "auth_unavailable")

    assert runtime.token_verifier is None
    assert verifier.jwks._http.is_closed


async def test_a_service_that_forgot_the_verifier_fails_loudly_not_open(rsa_key, make_claims):
    app = create_service_app(
        settings(), title="auth test", uses_database=False, uses_nats=False, routers=[routes()]
    )

    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            # Starlette re-raises after rendering a 500; we want to see the rendered answer.
            transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
            base_url="http://svc",
        ) as http,
    ):
        response = await http.get("/me", headers=bearer(rsa_key.sign(make_claims())))

    assert_problem(response, 500, "internal_error")


@pytest.mark.parametrize(
    ("factory", "names"),
    [
        (require_roles, ()),
        (require_roles, ("chief",)),
        (require_roles, ("officer", "admin")),
        (require_scopes, ()),
        (require_scopes, ("",)),
        (require_scopes, ("a b",)),
        (require_scopes, ("mfa:enroll",)),
    ],
)
def test_dependency_factories_refuse_nonsense(factory, names):
    with pytest.raises(ValueError):  # noqa: PT011 - the message varies per case
        factory(*names)


@pytest.mark.parametrize(
    "headers",
    [
        [],
        [(b"authorization", b"Bearer abc.def")],
        [(b"authorization", b"bearer abc")],
        [(b"authorization", b"BEARER abc")],
        [(b"authorization", b"Bearer")],
        [(b"authorization", b"Bearer ")],
        [(b"authorization", b"Bearer  two spaces")],
        [(b"authorization", b"Bearer \t ")],
        [(b"authorization", b" Bearer abc")],
        [(b"authorization", b"Basic dXNlcjpwYXNz")],
        [(b"authorization", b"Bearer \xe9t\xe9")],
        [(b"authorization", b"Basic x"), (b"authorization", b"Bearer second")],
        [(b"authorization", b"Bearer first"), (b"authorization", b"Bearer second")],
        [(b"x-authorization", b"Bearer not-this-one")],
    ],
)
async def test_the_bearer_token_is_read_as_fastapis_bearer_scheme_reads_it(headers):
    scope = {"type": "http", "headers": headers}
    expected = await HTTPBearer(auto_error=False)(Request(scope))

    assert bearer_token(scope) == (expected.credentials if expected else None)


# -- the principal the gateway vouches for ---------------------------------------------------


def vouched(claims: dict[str, Any], *, secret: str | None = None, age: float = 0) -> dict[str, str]:
    principal = Principal.from_claims(claims)
    return encode_principal_headers(
        principal, secret or settings().principal_secret, now=time.time() - age
    )


async def test_a_principal_signed_by_the_gateway_needs_no_token(client, make_claims, verifications):
    response = await client.get("/me", headers=vouched(make_claims(roles=["citizen"])))
    assert response.status_code == 200, response.text
    assert response.json()["roles"] == ["citizen"]
    assert verifications.count == 0


@pytest.mark.parametrize(
    "forgery",
    [
        {"secret": "a-secret-the-gateway-does-not-have-0123456789"},
        {"age": 3600},
    ],
    ids=["other-secret", "stale"],
)
async def test_a_forged_or_stale_principal_header_is_not_believed(client, make_claims, forgery):
    response = await client.get("/me", headers=vouched(make_claims(), **forgery))
    assert_problem(response, 401, "unauthorized")


async def test_a_vouched_enrolment_only_principal_is_still_refused(client, make_claims):
    claims = make_claims(roles=["officer"], scope="mfa:enroll")
    assert_problem(await client.get("/me", headers=vouched(claims)), 403, "mfa_enrolment_required")
    assert (await client.post("/me/mfa/totp", headers=vouched(claims))).status_code == 200


def test_production_refuses_the_development_internal_secret() -> None:
    with pytest.raises(ValueError, match="internal secret"):
        BaseServiceSettings(environment="production")
