"""Every answer with personal data or a credential in it says ``Cache-Control: no-store``."""

from __future__ import annotations

import uuid

import httpx

from .conftest import PASSWORD, Service, bearer


def _no_store(response: httpx.Response) -> bool:
    return response.headers.get("cache-control") == "no-store"


async def test_personal_data_and_credentials_are_never_stored(service: Service):
    person = service.residents[0]
    access, tokens = await service.citizen(person)
    admin = await service.admin_token()
    agency_id = await service.known_agency()
    citizen = bearer(access)
    staff_email = f"staff-{uuid.uuid4().hex[:8]}@dinas.test"

    answers = {
        "GET /api/v1/me": await service.client.get("/api/v1/me", headers=citizen),
        "PATCH /api/v1/me": await service.client.patch(
            "/api/v1/me", json={"phone": "081298765432"}, headers=citizen
        ),
        "GET /api/v1/me/consents": await service.client.get("/api/v1/me/consents", headers=citizen),
        "GET /api/v1/me/access-log": await service.client.get(
            "/api/v1/me/access-log", headers=citizen
        ),
        "POST /api/v1/me/face-verification": await service.client.post(
            "/api/v1/me/face-verification",
            files={"selfie": ("x.jpg", b"not an image", "image/jpeg")},
            headers=citizen,
        ),
        "GET /oauth2/userinfo": await service.client.get("/oauth2/userinfo", headers=citizen),
        "POST /oauth2/userinfo": await service.client.post("/oauth2/userinfo", headers=citizen),
        "POST /oauth2/token": await service.client.post(
            "/oauth2/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": tokens["refresh_token"],
                "client_id": "mpp-app",
            },
        ),
        "POST /api/v1/auth/login": await service.login(f"{person.nik}@warga.test", PASSWORD),
        "POST /api/v1/citizens": await service.register(service.residents[1]),
        "POST /api/v1/staff": await service.client.post(
            "/api/v1/staff",
            json={
                "email": staff_email,
                "full_name": "Petugas Loket",
                "password": "Petugas#Kuat2026",
                "role": "officer",
                "agency_id": str(agency_id),
            },
            headers=bearer(admin),
        ),
        "GET /api/v1/staff": await service.client.get("/api/v1/staff", headers=bearer(admin)),
        "POST /api/v1/clients": await service.client.post(
            "/api/v1/clients",
            json={"name": "Sistem Dinas", "agency_id": str(agency_id), "scopes": []},
            headers=bearer(admin),
        ),
        "GET /api/v1/clients": await service.client.get("/api/v1/clients", headers=bearer(admin)),
    }
    enrolment = (await service.login(staff_email, "Petugas#Kuat2026")).json()["access_token"]
    answers["POST /api/v1/me/mfa/totp"] = await service.client.post(
        "/api/v1/me/mfa/totp", headers=bearer(enrolment)
    )
    answers["401 problem"] = await service.client.get("/api/v1/me")

    assert {name: r.status_code for name, r in answers.items() if r.status_code >= 500} == {}
    assert [name for name, response in answers.items() if not _no_store(response)] == []


async def test_public_documents_may_be_cached(service: Service):
    discovery = await service.client.get("/.well-known/openid-configuration")
    jwks = await service.client.get("/oauth2/jwks")

    assert discovery.headers["cache-control"].startswith("public")
    assert jwks.headers["cache-control"].startswith("public")
