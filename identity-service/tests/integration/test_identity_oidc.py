"""The OpenID Connect provider, driven by a real OAuth client library (Authlib) and a browser's
requests: authorization code + PKCE, refresh, userinfo, and the flow's bad paths."""

from __future__ import annotations

import re
import secrets
import uuid
import warnings
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import authlib.deprecate  # noqa: F401 - sets its warning filter before ours below
import httpx
import pytest
from jose import jwt as jose_jwt
from joserfc import jwt
from joserfc.jwk import KeySet

from identity.domain.pkce import s256

with warnings.catch_warnings():
    # Authlib 1.9 nudges towards its httpx2 integration; the httpx one is what we test with.
    warnings.simplefilter("ignore")
    from authlib.common.security import generate_token
    from authlib.integrations.httpx_client import AsyncOAuth2Client

from .conftest import ISSUER, PASSWORD, Service, bearer

CALLBACK = "https://portal.dinas.test/callback"


@pytest.fixture(scope="module")
async def agency_client(service: Service) -> dict[str, Any]:
    admin = await service.admin_token()
    response = await service.client.post(
        "/api/v1/clients",
        json={
            "name": "Portal Dinas Kesehatan",
            "agency_id": str(await service.known_agency()),
            "scopes": ["applications:read"],
            "redirect_uris": [CALLBACK],
            "grant_types": ["authorization_code"],
        },
        headers=bearer(admin),
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def _browser(service: Service) -> httpx.AsyncClient:
    """A browser of its own (its own cookies), talking to the running app."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=service.app), base_url=ISSUER)


def _form_token(html: str) -> str:
    match = re.search(r'name="form_token" value="([^"]+)"', html)
    assert match, html
    return match.group(1)


async def _log_in(browser: httpx.AsyncClient, authorize_url: str, username: str) -> httpx.Response:
    form = await browser.get(authorize_url)
    assert form.status_code == 200, form.text
    assert "NIK atau email" in form.text
    assert "Kata sandi" in form.text
    return await browser.post(
        "/oauth2/authorize",
        data={"form_token": _form_token(form.text), "username": username, "password": PASSWORD},
    )


def _authorize_url(client_id: str, **params: str) -> str:
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": CALLBACK,
        "scope": "openid profile",
        "state": secrets.token_urlsafe(8),
        "code_challenge": s256("v" * 50),
        "code_challenge_method": "S256",
    }
    query.update(params)
    return "/oauth2/authorize?" + urlencode({k: v for k, v in query.items() if v is not None})


async def test_discovery_names_the_gateway_as_issuer(service: Service):
    response = await service.client.get("/.well-known/openid-configuration")

    assert response.status_code == 200
    config = response.json()
    assert config["issuer"] == ISSUER
    assert config["jwks_uri"] == ISSUER + "/oauth2/jwks"
    assert config["code_challenge_methods_supported"] == ["S256"]
    assert config["response_types_supported"] == ["code"]


async def test_authorization_code_with_pkce_through_authlib(service: Service, agency_client):
    person = service.residents[0]
    await service.register(person, email="oidc@warga.test")
    oauth = AsyncOAuth2Client(
        client_id=agency_client["client_id"],
        client_secret=agency_client["client_secret"],
        scope="openid profile",
        redirect_uri=CALLBACK,
        code_challenge_method="S256",
        transport=httpx.ASGITransport(app=service.app),
        base_url=ISSUER,
    )
    verifier, nonce = generate_token(64), generate_token(16)
    url, state = oauth.create_authorization_url(
        ISSUER + "/oauth2/authorize", code_verifier=verifier, nonce=nonce
    )

    async with _browser(service) as browser:
        redirect = await _log_in(browser, url, "oidc@warga.test")
    assert redirect.status_code == 303, redirect.text
    location = redirect.headers["location"]
    assert location.startswith(CALLBACK + "?")
    assert parse_qs(urlsplit(location).query)["state"] == [state]
    assert parse_qs(urlsplit(location).query)["iss"] == [ISSUER]

    token = await oauth.fetch_token(
        ISSUER + "/oauth2/token", authorization_response=location, code_verifier=verifier
    )
    assert token["token_type"].lower() == "bearer"
    keys = KeySet.import_key_set((await service.client.get("/oauth2/jwks")).json())
    id_token = jwt.decode(token["id_token"], keys, algorithms=["ES256"])
    assert id_token.claims["iss"] == ISSUER
    assert id_token.claims["aud"] == agency_client["client_id"]
    assert id_token.claims["nonce"] == nonce
    assert id_token.claims["name"] == person.full_name.upper()

    userinfo = await oauth.get(ISSUER + "/oauth2/userinfo")
    assert userinfo.status_code == 200, userinfo.text
    assert userinfo.json()["sub"] == id_token.claims["sub"]
    assert userinfo.json()["birthdate"] == person.birth_date.isoformat()

    refreshed = await oauth.refresh_token(ISSUER + "/oauth2/token")
    assert refreshed["refresh_token"] != token["refresh_token"]
    await oauth.aclose()

    # The agency's system read registry data: the citizen can see that it did.
    citizen = (await service.login("oidc@warga.test")).json()["access_token"]
    log = (await service.client.get("/api/v1/me/access-log", headers=bearer(citizen))).json()
    entry = next(e for e in log["items"] if e["accessor"] == "Portal Dinas Kesehatan")
    assert entry["accessor_kind"] == "client"
    assert "birth_date" in entry["fields"]


async def test_an_unregistered_redirect_uri_is_never_redirected_to(service: Service, agency_client):
    for uri in ("https://evil.test/callback", CALLBACK + "/", CALLBACK + "?x=1"):
        response = await service.client.get(
            _authorize_url(agency_client["client_id"], redirect_uri=uri)
        )
        assert response.status_code == 400
        assert "location" not in response.headers
        assert "text/html" in response.headers["content-type"]


async def test_an_unknown_client_gets_an_error_page(service: Service):
    response = await service.client.get(_authorize_url("nobody"))

    assert response.status_code == 400
    assert "location" not in response.headers


@pytest.mark.parametrize(
    "params",
    [
        {"code_challenge": None, "code_challenge_method": None},
        {"code_challenge_method": "plain"},
        {"code_challenge_method": None},
        {"response_type": "token"},
        {"state": None},
        {"scope": "openid admin:everything"},
    ],
    ids=["no-pkce", "plain-pkce", "no-method", "implicit", "no-state", "foreign-scope"],
)
async def test_a_bad_authorization_request_goes_back_with_an_error(
    service: Service, agency_client, params
):
    response = await service.client.get(_authorize_url(agency_client["client_id"], **params))

    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith(CALLBACK + "?")
    query = parse_qs(urlsplit(location).query)
    assert query["error"][0] in {
        "invalid_request",
        "unsupported_response_type",
        "invalid_scope",
    }
    assert "code" not in query


async def _code(service: Service, agency_client: dict[str, Any], verifier: str) -> str:
    person = service.residents[1]
    await service.register(person, email="kode@warga.test")
    url = _authorize_url(agency_client["client_id"], code_challenge=s256(verifier))
    async with _browser(service) as browser:
        redirect = await _log_in(browser, url, "kode@warga.test")
    assert redirect.status_code == 303, redirect.text
    return parse_qs(urlsplit(redirect.headers["location"]).query)["code"][0]


async def _exchange(
    service: Service,
    agency_client: dict[str, Any],
    code: str,
    verifier: str | None,
    redirect_uri: str = CALLBACK,
) -> httpx.Response:
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
    if verifier is not None:
        data["code_verifier"] = verifier
    return await service.client.post(
        "/oauth2/token",
        data=data,
        auth=(agency_client["client_id"], agency_client["client_secret"]),
    )


async def test_the_code_needs_the_right_verifier_and_redirect_uri(service: Service, agency_client):
    verifier = secrets.token_urlsafe(48)
    code = await _code(service, agency_client, verifier)

    missing = await _exchange(service, agency_client, code, None)
    wrong = await _exchange(service, agency_client, code, secrets.token_urlsafe(48))
    elsewhere = await _exchange(service, agency_client, code, verifier, "https://evil.test/cb")
    right = await _exchange(service, agency_client, code, verifier)

    for refused in (missing, wrong, elsewhere):
        assert refused.status_code == 400
        assert refused.json()["error"] == "invalid_grant"
    assert right.status_code == 200, right.text


async def test_a_code_used_twice_revokes_what_it_gave(service: Service, agency_client):
    verifier = secrets.token_urlsafe(48)
    code = await _code(service, agency_client, verifier)
    first = await _exchange(service, agency_client, code, verifier)
    assert first.status_code == 200

    second = await _exchange(service, agency_client, code, verifier)
    refresh = await service.client.post(
        "/oauth2/token",
        data={"grant_type": "refresh_token", "refresh_token": first.json()["refresh_token"]},
        auth=(agency_client["client_id"], agency_client["client_secret"]),
    )

    assert second.status_code == 400
    assert refresh.status_code == 400
    # The gateways hear of it too: the session the code gave is refused there.
    sid = jose_jwt.get_unverified_claims(first.json()["access_token"])["sid"]
    revoked = [e["data"] for e in await service.outbox("mpp.identity.access.revoked")]
    assert {"kind": "session", "id": sid, "reason": "code_reused"}.items() <= next(
        d for d in revoked if d["id"] == sid
    ).items()


async def test_the_login_form_refuses_a_post_without_its_cookie(service: Service, agency_client):
    url = _authorize_url(agency_client["client_id"])
    async with _browser(service) as browser:
        form = await browser.get(url)
    async with _browser(service) as attacker:
        response = await attacker.post(
            "/oauth2/authorize",
            data={"form_token": _form_token(form.text), "username": "x", "password": "y"},
        )

    assert response.status_code == 403
    assert "location" not in response.headers


async def test_a_tampered_form_token_is_refused(service: Service, agency_client):
    async with _browser(service) as browser:
        form = await browser.get(_authorize_url(agency_client["client_id"]))
        token = _form_token(form.text)
        body, mac = token.split(".")
        response = await browser.post(
            "/oauth2/authorize",
            data={"form_token": body[:-2] + "AA." + mac, "username": "x", "password": "y"},
        )

    assert response.status_code == 400


async def test_a_wrong_password_shows_the_form_again(service: Service, agency_client):
    async with _browser(service) as browser:
        form = await browser.get(_authorize_url(agency_client["client_id"]))
        response = await browser.post(
            "/oauth2/authorize",
            data={
                "form_token": _form_token(form.text),
                "username": "x@warga.test",
                "password": "salah-salah-1",
            },
        )

    assert response.status_code == 401
    assert "salah" in response.text
    assert "location" not in response.headers


async def test_rotation_keeps_old_tokens_valid_and_signs_new_ones_with_the_new_key(
    service: Service,
):
    admin = await service.admin_token()
    old_token, _ = await service.citizen(service.residents[2])
    old_kid = jose_jwt.get_unverified_header(old_token)["kid"]

    rotated = await service.client.post("/api/v1/admin/signing-keys/rotate", headers=bearer(admin))

    assert rotated.status_code == 201, rotated.text
    new_kid = rotated.json()["kid"]
    assert new_kid != old_kid
    kids = {k["kid"] for k in (await service.client.get("/oauth2/jwks")).json()["keys"]}
    assert {old_kid, new_kid} <= kids
    assert (await service.client.get("/api/v1/me", headers=bearer(old_token))).status_code == 200
    new_token = (await service.login(f"{service.residents[2].nik}@warga.test")).json()
    assert jose_jwt.get_unverified_header(new_token["access_token"])["kid"] == new_kid
    me = await service.client.get("/api/v1/me", headers=bearer(new_token["access_token"]))
    assert me.status_code == 200
    stored = await service.scalar(
        "SELECT private_key_sealed FROM signing_keys WHERE kid = :k", k=new_kid
    )
    assert b"PRIVATE KEY" not in stored


async def test_only_platform_admins_rotate_keys(service: Service):
    citizen, _ = await service.citizen(service.residents[3])

    response = await service.client.post(
        "/api/v1/admin/signing-keys/rotate", headers=bearer(citizen)
    )

    assert response.status_code == 403


async def test_revoking_a_refresh_token_ends_the_session(service: Service):
    _, tokens = await service.citizen(service.residents[4])

    revoked = await service.client.post(
        "/oauth2/revoke", data={"token": tokens["refresh_token"], "client_id": "mpp-app"}
    )
    unknown = await service.client.post(
        "/oauth2/revoke", data={"token": str(uuid.uuid4()), "client_id": "mpp-app"}
    )
    refresh = await service.client.post(
        "/oauth2/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": "mpp-app",
        },
    )

    assert revoked.status_code == unknown.status_code == 200
    assert refresh.status_code == 400


# --- a person's token carries only what the person's role may hold --------------------------


@pytest.fixture(scope="module")
async def processing_client(service: Service) -> dict[str, Any]:
    """An agency system that processes applications, and lets people log in through it."""
    admin = await service.admin_token()
    response = await service.client.post(
        "/api/v1/clients",
        json={
            "name": "Sistem Antrean Dinas",
            "agency_id": str(await service.known_agency()),
            "scopes": ["applications:process", "applications:read"],
            "redirect_uris": [CALLBACK],
            "grant_types": ["authorization_code"],
        },
        headers=bearer(admin),
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def _scope_through(
    service: Service, client: dict[str, Any], form: dict[str, str], scope: str
) -> list[str]:
    verifier = secrets.token_urlsafe(48)
    url = _authorize_url(client["client_id"], scope=scope, code_challenge=s256(verifier))
    async with _browser(service) as browser:
        page = await browser.get(url)
        redirect = await browser.post(
            "/oauth2/authorize", data={"form_token": _form_token(page.text), **form}
        )
    assert redirect.status_code == 303, redirect.text
    code = parse_qs(urlsplit(redirect.headers["location"]).query)["code"][0]
    issued = await _exchange(service, client, code, verifier)
    assert issued.status_code == 200, issued.text
    claims = jose_jwt.get_unverified_claims(issued.json()["access_token"])
    assert sorted(claims["scope"].split()) == sorted(issued.json()["scope"].split())
    refreshed = await service.client.post(
        "/oauth2/token",
        data={"grant_type": "refresh_token", "refresh_token": issued.json()["refresh_token"]},
        auth=(client["client_id"], client["client_secret"]),
    )
    assert refreshed.json()["scope"] == issued.json()["scope"]
    return sorted(issued.json()["scope"].split())


async def test_a_citizen_logging_in_through_an_agency_system_gets_no_processing_scope(
    service: Service, processing_client
):
    person = service.residents[5]
    await service.register(person, email="lewat-dinas@warga.test")

    scope = await _scope_through(
        service,
        processing_client,
        {"username": "lewat-dinas@warga.test", "password": PASSWORD},
        "openid profile applications:process applications:read",
    )

    assert scope == ["openid", "profile"]


async def test_an_officer_logging_in_through_an_agency_system_may_process(
    service: Service, processing_client
):
    admin = await service.admin_token()
    email, password = f"loket-{uuid.uuid4().hex[:6]}@dinas.test", "Petugas#Kuat2026"
    created = await service.client.post(
        "/api/v1/staff",
        json={
            "email": email,
            "full_name": "Petugas Loket",
            "password": password,
            "role": "officer",
            "agency_id": str(await service.known_agency()),
        },
        headers=bearer(admin),
    )
    assert created.status_code == 201, created.text
    first = await service.login(email, password)
    totp = await service.enrol_totp(first.json()["access_token"])

    scope = await _scope_through(
        service,
        processing_client,
        {"username": email, "password": password, "otp": totp.now()},
        "openid applications:process",
    )

    assert scope == ["applications:process", "openid"]
