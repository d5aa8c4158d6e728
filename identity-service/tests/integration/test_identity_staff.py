"""Staff: the bootstrap admin, TOTP enrolment and second factor, staff and client creation."""

from __future__ import annotations

import time
import uuid

import pyotp
from jose import jwt

from .conftest import ADMIN_EMAIL, Service, bearer

STAFF_PASSWORD = "Petugas#Kuat2026"


async def _new_staff(
    service: Service, token: str, agency_id: uuid.UUID, role: str = "officer"
) -> tuple[str, dict]:
    email = f"staff-{uuid.uuid4().hex[:8]}@dinas.test"
    response = await service.client.post(
        "/api/v1/staff",
        json={
            "email": email,
            "full_name": "Petugas Loket",
            "password": STAFF_PASSWORD,
            "role": role,
            "agency_id": str(agency_id),
        },
        headers=bearer(token),
    )
    assert response.status_code == 201, response.text
    return email, response.json()


async def test_the_bootstrap_admin_first_gets_an_enrolment_only_token(service: Service):
    response = await service.login(ADMIN_EMAIL, "Admin#Test2026")

    assert response.status_code == 200, response.text
    token = response.json()["access_token"]
    assert response.json()["scope"] == "mfa:enroll"
    assert jwt.get_unverified_claims(token)["roles"] == ["platform_admin"]
    # Good for enrolling and nothing else.
    refused = await service.client.get("/api/v1/me", headers=bearer(token))
    assert refused.status_code == 403
    assert refused.json()["code"] == "mfa_enrolment_required"


async def test_after_enrolment_a_staff_login_needs_a_fresh_otp(service: Service):
    admin = await service.admin_token()
    agency = await service.known_agency()
    email, _ = await _new_staff(service, admin, agency)
    enrolment = (await service.login(email, STAFF_PASSWORD)).json()["access_token"]
    totp = await service.enrol_totp(enrolment)

    without = await service.login(email, STAFF_PASSWORD)
    wrong_code = "000000" if totp.now() != "000000" else "111111"
    wrong = await service.login(email, STAFF_PASSWORD, otp=wrong_code)
    right = await service.login(email, STAFF_PASSWORD, otp=totp.now())
    replayed = await service.login(email, STAFF_PASSWORD, otp=totp.now())

    assert without.status_code == 401
    assert without.json()["code"] == "mfa_required"
    assert wrong.status_code == 401
    assert wrong.json()["code"] == "invalid_otp"
    assert right.status_code == 200, right.text
    claims = jwt.get_unverified_claims(right.json()["access_token"])
    assert claims["roles"] == ["officer"]
    assert claims["agency_id"] == str(agency)
    assert "mfa:enroll" not in claims["scope"]
    assert replayed.status_code == 401
    assert replayed.json()["code"] == "invalid_otp"


async def test_an_enrolment_token_cannot_be_refreshed_into_more(service: Service):
    admin = await service.admin_token()
    email, _ = await _new_staff(service, admin, await service.known_agency())
    first = (await service.login(email, STAFF_PASSWORD)).json()
    await service.enrol_totp(first["access_token"])

    response = await service.client.post(
        "/oauth2/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": first["refresh_token"],
            "client_id": "mpp-app",
        },
    )

    assert response.status_code == 400


async def test_a_wrong_code_does_not_confirm_enrolment(service: Service):
    admin = await service.admin_token()
    email, _ = await _new_staff(service, admin, await service.known_agency())
    token = (await service.login(email, STAFF_PASSWORD)).json()["access_token"]
    started = await service.client.post("/api/v1/me/mfa/totp", headers=bearer(token))
    assert started.json()["otpauth_uri"].startswith("otpauth://totp/")
    secret = started.json()["secret"]
    stale = pyotp.TOTP(secret).at(time.time() - 300)

    response = await service.client.post(
        "/api/v1/me/mfa/totp/confirm", json={"otp": stale}, headers=bearer(token)
    )

    assert response.status_code == 422
    assert response.json()["code"] == "invalid_otp"


async def test_citizens_do_not_enrol_totp(service: Service):
    token, _ = await service.citizen(service.residents[0])

    response = await service.client.post("/api/v1/me/mfa/totp", headers=bearer(token))

    assert response.status_code == 403


async def test_creating_staff_records_an_event(service: Service):
    admin = await service.admin_token()
    agency = await service.known_agency()

    _, staff = await _new_staff(service, admin, agency, role="agency_admin")

    assert staff["roles"] == ["agency_admin"]
    assert staff["agency_id"] == str(agency)
    events = [
        e
        for e in await service.outbox("mpp.identity.staff.created")
        if e["data"]["account_id"] == staff["id"]
    ]
    assert len(events) == 1
    assert events[0]["data"]["agency_id"] == str(agency)
    assert events[0]["data"]["role"] == "agency_admin"


async def test_staff_of_an_agency_nobody_announced_is_422_unknown_agency(service: Service):
    admin = await service.admin_token()

    response = await service.client.post(
        "/api/v1/staff",
        json={
            "email": "x@dinas.test",
            "full_name": "X",
            "password": STAFF_PASSWORD,
            "role": "officer",
            "agency_id": str(uuid.uuid4()),
        },
        headers=bearer(admin),
    )

    assert response.status_code == 422
    assert response.json()["code"] == "unknown_agency"


async def test_an_agency_admin_creates_staff_for_its_own_agency_only(service: Service):
    admin = await service.admin_token()
    own, other = await service.known_agency(), await service.known_agency()
    email, _ = await _new_staff(service, admin, own, role="agency_admin")
    agency_admin = await service.staff_token(email, STAFF_PASSWORD)

    _, mine = await _new_staff(service, agency_admin, own)
    theirs = await service.client.post(
        "/api/v1/staff",
        json={
            "email": "y@dinas.test",
            "full_name": "Y",
            "password": STAFF_PASSWORD,
            "role": "officer",
            "agency_id": str(other),
        },
        headers=bearer(agency_admin),
    )
    listed = await service.client.get("/api/v1/staff", headers=bearer(agency_admin))

    assert mine["agency_id"] == str(own)
    assert theirs.status_code == 403
    assert {s["agency_id"] for s in listed.json()["items"]} == {str(own)}


async def test_officers_and_citizens_cannot_create_staff(service: Service):
    citizen, _ = await service.citizen(service.residents[1])

    response = await service.client.post(
        "/api/v1/staff",
        json={
            "email": "z@dinas.test",
            "full_name": "Z",
            "password": STAFF_PASSWORD,
            "role": "officer",
            "agency_id": str(uuid.uuid4()),
        },
        headers=bearer(citizen),
    )

    assert response.status_code == 403


async def test_a_platform_admin_registers_a_client_whose_secret_is_shown_once(service: Service):
    admin = await service.admin_token()
    agency = await service.known_agency()

    response = await service.client.post(
        "/api/v1/clients",
        json={
            "name": "SIMPEG Kota Malang",
            "agency_id": str(agency),
            "scopes": ["applications:read", "applications:process"],
        },
        headers=bearer(admin),
    )

    assert response.status_code == 201, response.text
    created = response.json()
    secret = created["client_secret"]
    assert created["grant_types"] == ["client_credentials"]
    stored = await service.scalar(
        "SELECT secret_hash FROM oauth_clients WHERE client_id = :c", c=created["client_id"]
    )
    assert stored
    assert secret not in stored
    listed = await service.client.get("/api/v1/clients", headers=bearer(admin))
    assert secret not in listed.text
    assert created["client_id"] in listed.text

    token = await service.client.post(
        "/oauth2/token",
        data={"grant_type": "client_credentials", "scope": "applications:process"},
        auth=(created["client_id"], secret),
    )
    assert token.status_code == 200, token.text
    claims = jwt.get_unverified_claims(token.json()["access_token"])
    assert claims["sub"] == created["client_id"]
    assert claims["agency_id"] == str(agency)
    assert claims["scope"] == "applications:process"
    assert "refresh_token" not in token.json()


async def test_client_credentials_with_a_wrong_secret_or_scope_are_refused(service: Service):
    admin = await service.admin_token()
    created = (
        await service.client.post(
            "/api/v1/clients",
            json={
                "name": "Sistem",
                "agency_id": str(await service.known_agency()),
                "scopes": ["applications:read"],
            },
            headers=bearer(admin),
        )
    ).json()

    wrong_secret = await service.client.post(
        "/oauth2/token",
        data={"grant_type": "client_credentials"},
        auth=(created["client_id"], "tebakan"),
    )
    wrong_scope = await service.client.post(
        "/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "scope": "reports:read",
            "client_id": created["client_id"],
            "client_secret": created["client_secret"],
        },
    )

    assert wrong_secret.status_code == 401
    assert wrong_secret.json()["error"] == "invalid_client"
    assert wrong_scope.status_code == 400
    assert wrong_scope.json()["error"] == "invalid_scope"


async def test_a_client_for_an_unknown_agency_or_without_redirects_is_422(service: Service):
    admin = await service.admin_token()

    unknown = await service.client.post(
        "/api/v1/clients",
        json={"name": "A", "agency_id": str(uuid.uuid4()), "scopes": []},
        headers=bearer(admin),
    )
    no_redirect = await service.client.post(
        "/api/v1/clients",
        json={
            "name": "B",
            "agency_id": str(await service.known_agency()),
            "grant_types": ["authorization_code"],
        },
        headers=bearer(admin),
    )

    assert unknown.status_code == 422
    assert unknown.json()["code"] == "unknown_agency"
    assert no_redirect.status_code == 422
    assert no_redirect.json()["errors"][0]["loc"] == ["body", "redirect_uris"]


async def test_only_platform_admins_register_clients(service: Service):
    citizen, _ = await service.citizen(service.residents[2])

    response = await service.client.post(
        "/api/v1/clients",
        json={"name": "A", "agency_id": str(uuid.uuid4())},
        headers=bearer(citizen),
    )

    assert response.status_code == 403


async def test_a_client_registration_retried_with_its_key_returns_the_same_secret(
    service: Service,
):
    admin = await service.admin_token()
    body = {"name": "Sistem Antrean", "agency_id": str(await service.known_agency())}
    headers = bearer(admin) | {"Idempotency-Key": str(uuid.uuid4())}

    first = await service.client.post("/api/v1/clients", json=body, headers=headers)
    again = await service.client.post("/api/v1/clients", json=body, headers=headers)

    assert first.status_code == again.status_code == 201
    assert again.json()["client_secret"] == first.json()["client_secret"]
    stored = await service.scalar("SELECT response FROM idempotent_requests LIMIT 1")
    assert first.json()["client_secret"].encode() not in stored
