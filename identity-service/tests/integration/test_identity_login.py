"""Direct login, tokens, refresh rotation with reuse detection, logout, throttling."""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from typing import Any

from jose import jwt

from .conftest import ISSUER, PASSWORD, Service, bearer


def _claims(token: str) -> dict[str, Any]:
    return jwt.get_unverified_claims(token)


def _header(token: str) -> dict[str, Any]:
    return jwt.get_unverified_header(token)


async def _refresh(service: Service, refresh_token: str) -> Any:
    return await service.client.post(
        "/oauth2/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": "mpp-app",
        },
    )


async def test_a_citizen_logs_in_with_email_or_nik(service: Service):
    person = service.residents[0]
    await service.register(person, email="siti@warga.test")

    by_email = await service.login("Siti@Warga.test")
    by_nik = await service.login(person.nik)

    assert by_email.status_code == by_nik.status_code == 200, by_email.text
    body = by_email.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 900
    assert body["refresh_token"]
    assert by_email.headers["cache-control"] == "no-store"
    assert _claims(body["access_token"])["sub"] == _claims(by_nik.json()["access_token"])["sub"]


async def test_the_access_token_is_an_es256_jwt_with_the_contracted_claims(service: Service):
    token, _ = await service.citizen(service.residents[1])

    header, claims = _header(token), _claims(token)

    assert header["alg"] == "ES256"
    assert header["kid"]
    assert claims["iss"] == ISSUER
    assert claims["aud"] == "mpp"
    assert claims["roles"] == ["citizen"]
    assert claims["ial"] == 1
    assert "openid" in claims["scope"].split()
    assert claims["client_id"] == "mpp-app"
    assert claims["exp"] - claims["iat"] == 900
    assert "agency_id" not in claims
    jwks = (await service.client.get("/oauth2/jwks")).json()
    assert header["kid"] in {key["kid"] for key in jwks["keys"]}
    assert all("d" not in key for key in jwks["keys"])


async def test_a_wrong_password_is_401_and_says_nothing_more(service: Service):
    person = service.residents[2]
    await service.register(person, email="dewi@warga.test")

    wrong = await service.login("dewi@warga.test", "salah-sekali-123")
    unknown = await service.login("nobody@warga.test", "salah-sekali-123")

    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["code"] == unknown.json()["code"] == "invalid_credentials"
    assert wrong.json()["detail"] == unknown.json()["detail"]


async def test_repeated_failures_from_one_address_slow_down_then_lock_only_that_address(
    service: Service,
):
    person = service.residents[3]
    await service.register(person, email="agus@warga.test")
    ip = service.new_ip()

    statuses = []
    for _ in range(3):
        statuses.append(
            (await service.login("agus@warga.test", "tebak-tebakan-1", ip=ip)).status_code
        )
    slowed = await service.login("agus@warga.test", PASSWORD, ip=ip)
    assert statuses == [401, 401, 401]
    # The third failure imposes a wait: even the right password has to wait for it.
    assert slowed.status_code == 429
    assert slowed.json()["code"] == "too_many_attempts"
    assert int(slowed.headers["retry-after"]) >= 1

    for delay in (0.25, 0.45):
        await asyncio.sleep(delay)
        wrong = await service.login("agus@warga.test", "tebak-lagi-123", ip=ip)
        assert wrong.status_code == 401
    locked = await service.login("agus@warga.test", PASSWORD, ip=ip)
    elsewhere = await service.login("agus@warga.test", PASSWORD)

    assert locked.status_code == 429
    assert locked.json()["code"] == "account_locked"
    assert int(locked.headers["retry-after"]) > 60
    # The owner, from an address of their own, is not locked out by what that one did.
    assert elsewhere.status_code == 200, elsewhere.text


async def _guess_from_many_addresses(service: Service, username: str, guesses: int) -> None:
    statuses = [
        (await service.login(username, "tebakan-orang-lain-1")).status_code for _ in range(guesses)
    ]
    # Heard until the account is under attack; then every new address first waits its turn.
    assert statuses == [401] * 6 + [429] * (guesses - 6)


async def _after_the_wait(service: Service, username: str, ip: str, **login: Any) -> Any:
    first = await service.login(username, ip=ip, **login)
    assert first.status_code == 429, first.text
    assert first.json()["code"] == "too_many_attempts"
    wait = int(first.headers["retry-after"])
    assert 1 <= wait <= 1  # login_account_max_delay_seconds of the tests: a bounded delay
    early = await service.login(username, ip=ip, **login)
    assert early.status_code == 429
    await asyncio.sleep(wait)
    return await service.login(username, ip=ip, **login)


async def test_guesses_from_many_addresses_delay_the_owner_but_never_lock_them_out(
    service: Service,
):
    person = service.residents[11]
    await service.register(person, email="eko@warga.test")

    await _guess_from_many_addresses(service, "eko@warga.test", 12)
    owner = await _after_the_wait(service, "eko@warga.test", service.new_ip())

    assert owner.status_code == 200, owner.text


async def test_a_stranger_cannot_lock_out_a_member_of_staff_with_a_second_factor(
    service: Service,
):
    admin = await service.admin_token()
    email, password = f"admin-{uuid.uuid4().hex[:6]}@dinas.test", "Petugas#Kuat2026"
    created = await service.client.post(
        "/api/v1/staff",
        json={
            "email": email,
            "full_name": "Admin Dinas",
            "password": password,
            "role": "agency_admin",
            "agency_id": str(await service.known_agency()),
        },
        headers=bearer(admin),
    )
    assert created.status_code == 201, created.text
    totp = await service.enrol_totp((await service.login(email, password)).json()["access_token"])

    await _guess_from_many_addresses(service, email, 15)
    owner = await _after_the_wait(
        service, email, service.new_ip(), password=password, otp=totp.now()
    )

    assert owner.status_code == 200, owner.text
    assert "mfa:enroll" not in _claims(owner.json()["access_token"])["scope"]


async def test_failures_from_one_address_lock_that_address_for_every_account(service: Service):
    ip = service.new_ip()
    for n in range(8):
        response = await service.login(f"probe{n}@warga.test", "tebakan-saja-1", ip=ip)
        assert response.status_code == 401
    person = service.residents[4]
    await service.register(person, email="rina@warga.test")

    from_there = await service.login("rina@warga.test", ip=ip)
    from_elsewhere = await service.login("rina@warga.test")

    assert from_there.status_code == 429
    assert from_elsewhere.status_code == 200


async def test_a_refresh_token_rotates(service: Service):
    _, tokens = await service.citizen(service.residents[5])

    refreshed = await _refresh(service, tokens["refresh_token"])

    assert refreshed.status_code == 200, refreshed.text
    body = refreshed.json()
    assert body["refresh_token"] != tokens["refresh_token"]
    assert _claims(body["access_token"])["sub"] == _claims(tokens["access_token"])["sub"]
    assert _claims(body["access_token"])["sid"] == _claims(tokens["access_token"])["sid"]


async def test_a_reused_refresh_token_revokes_the_whole_family(service: Service):
    _, tokens = await service.citizen(service.residents[6])
    first = await _refresh(service, tokens["refresh_token"])
    newest = first.json()["refresh_token"]

    reuse = await _refresh(service, tokens["refresh_token"])
    after = await _refresh(service, newest)

    assert reuse.status_code == 400
    assert reuse.json()["error"] == "invalid_grant"
    # The thief's and the owner's latest token alike: the session is over.
    assert after.status_code == 400
    assert after.json()["error"] == "invalid_grant"


async def test_a_made_up_refresh_token_is_invalid_grant(service: Service):
    response = await _refresh(service, "not-a-token")

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


async def test_logout_revokes_the_refresh_token_family(service: Service):
    access, tokens = await service.citizen(service.residents[7])

    response = await service.client.post("/api/v1/auth/logout", headers=bearer(access))

    assert response.status_code == 204
    assert (await _refresh(service, tokens["refresh_token"])).status_code == 400


async def test_the_refresh_token_belongs_to_its_client(service: Service):
    _, tokens = await service.citizen(service.residents[8])

    response = await service.client.post(
        "/oauth2/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": "someone-else",
        },
    )

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


# --- tokens the service must refuse --------------------------------------------------------


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


async def test_no_token_is_401(service: Service):
    response = await service.client.get("/api/v1/me")

    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"


async def test_a_tampered_token_is_401(service: Service):
    access, _ = await service.citizen(service.residents[9])
    header, _, signature = access.split(".")
    claims = _claims(access) | {"roles": ["platform_admin"]}

    response = await service.client.get(
        "/api/v1/me", headers=bearer(f"{header}.{_b64(claims)}.{signature}")
    )

    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"


async def test_an_unsigned_alg_none_token_is_401(service: Service):
    access, _ = await service.citizen(service.residents[9])
    header = _header(access) | {"alg": "none"}

    response = await service.client.get(
        "/api/v1/me", headers=bearer(f"{_b64(header)}.{_b64(_claims(access))}.")
    )

    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"


async def test_an_expired_token_is_401(service: Service):
    access, _ = await service.citizen(service.residents[10])
    from identity.components import Components

    components = service.app.state.runtime.state_as(Components)
    async with service.sessionmaker()() as session:
        from identity.db.repositories import SigningKeyRepository

        stored = await SigningKeyRepository(session).active()
    key = components.key_cache.unseal(stored)
    now = int(time.time())
    expired = key.sign(_claims(access) | {"iat": now - 3600, "nbf": now - 3600, "exp": now - 1800})

    response = await service.client.get("/api/v1/me", headers=bearer(expired))

    assert response.status_code == 401
    assert response.json()["detail"] == "token has expired"


async def test_a_token_signed_with_another_key_is_401(service: Service):
    from identity.domain.crypto import SecretBox
    from identity.domain.keys import StoredSigningKey, generate_signing_key, unseal_signing_key

    access, _ = await service.citizen(service.residents[10])
    box = SecretBox(b"intruder", purpose="x")
    kid, jwk, sealed = generate_signing_key(box)
    real_kid = _header(access)["kid"]
    intruder = unseal_signing_key(
        box,
        StoredSigningKey(kid, "ES256", jwk, sealed, True, None),  # type: ignore[arg-type]
    )
    unknown_kid = intruder.sign(_claims(access))
    forged_with_real_kid = jwt.encode(
        _claims(access), intruder.private_pem, algorithm="ES256", headers={"kid": real_kid}
    )

    for token in (unknown_kid, forged_with_real_kid):
        response = await service.client.get("/api/v1/me", headers=bearer(token))
        assert response.status_code == 401


async def test_housekeeping_deletes_expired_throttle_counters(service: Service):
    from identity.housekeeping import HousekeepingWorker

    ip = service.new_ip()
    await service.login("kosong@warga.test", "tebakan-saja-1", ip=ip)
    async with service.sessionmaker()() as session, session.begin():
        from sqlalchemy import text

        await session.execute(
            text(
                "UPDATE throttle_counters SET expires_at = now() - interval '1 minute'"
                " WHERE key = :k"
            ),
            {"k": f"login:ip:{ip}"},
        )

    await HousekeepingWorker(service.sessionmaker()).run_once()

    assert (
        await service.scalar(
            "SELECT count(*) FROM throttle_counters WHERE key = :k", k=f"login:ip:{ip}"
        )
        == 0
    )
