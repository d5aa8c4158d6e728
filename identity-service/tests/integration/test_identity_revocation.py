"""``mpp.identity.access.revoked``: every revocation writes the event in its own transaction,
with an id and a reason and no personal data, so gateways can refuse the tokens at once."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import Any

from jose import jwt

from mpp_shared.contracts.identity import v1 as contracts

from .conftest import PASSWORD, Resident, Service, bearer

ACCESS_LIFETIME = timedelta(seconds=900)


def _claims(token: str) -> dict[str, Any]:
    return jwt.get_unverified_claims(token)


async def _revocations(service: Service, kind: str, id: str) -> list[dict[str, Any]]:
    envelopes = await service.outbox(contracts.ACCESS_REVOKED)
    return [e for e in envelopes if e["data"]["kind"] == kind and e["data"]["id"] == id]


def _check(envelope: dict[str, Any], *, reason: str, person: Resident | None = None) -> None:
    """The event's contract, its lifetime and the absence of personal data."""
    data = contracts.AccessRevoked.model_validate(envelope["data"])
    assert envelope["type"] == contracts.ACCESS_REVOKED
    assert envelope["source"] == contracts.SOURCE
    assert data.reason == reason
    assert data.until - data.revoked_at == ACCESS_LIFETIME
    assert set(envelope["data"]) == {"kind", "id", "reason", "revoked_at", "until"}
    if person is not None:
        text = json.dumps(envelope).lower()
        for personal in (person.nik, person.full_name.lower(), "@warga.test"):
            assert personal not in text


async def _refresh(service: Service, refresh_token: str) -> Any:
    return await service.client.post(
        "/oauth2/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": "mpp-app",
        },
    )


async def test_every_access_token_names_its_session_and_itself(service: Service):
    access, tokens = await service.citizen(service.residents[0])
    refreshed = (await _refresh(service, tokens["refresh_token"])).json()["access_token"]

    for token in (access, refreshed):
        claims = _claims(token)
        assert uuid.UUID(claims["sid"])
        assert uuid.UUID(claims["jti"])
    assert _claims(access)["sid"] == _claims(refreshed)["sid"]
    assert _claims(access)["jti"] != _claims(refreshed)["jti"]


async def test_logout_revokes_the_session_at_the_gateways(service: Service):
    person = service.residents[1]
    access, _ = await service.citizen(person)
    sid = _claims(access)["sid"]

    response = await service.client.post("/api/v1/auth/logout", headers=bearer(access))

    assert response.status_code == 204
    (event,) = await _revocations(service, "session", sid)
    _check(event, reason="logout", person=person)
    revoked_at = datetime.fromisoformat(event["data"]["revoked_at"])
    # Gateways refuse tokens of the session issued before this moment: this one was.
    assert revoked_at.timestamp() >= _claims(access)["iat"]


async def test_a_reused_refresh_token_revokes_the_session_at_the_gateways(service: Service):
    person = service.residents[2]
    access, tokens = await service.citizen(person)
    assert (await _refresh(service, tokens["refresh_token"])).status_code == 200

    reused = await _refresh(service, tokens["refresh_token"])

    assert reused.status_code == 400
    (event,) = await _revocations(service, "session", _claims(access)["sid"])
    _check(event, reason="refresh_token_reused", person=person)


async def test_revoking_an_access_token_revokes_it_and_its_session(service: Service):
    person = service.residents[3]
    access, _ = await service.citizen(person)

    response = await service.client.post(
        "/oauth2/revoke", data={"token": access, "client_id": "mpp-app"}
    )

    assert response.status_code == 200
    (token_event,) = await _revocations(service, "token", _claims(access)["jti"])
    _check(token_event, reason="revoked", person=person)
    (session_event,) = await _revocations(service, "session", _claims(access)["sid"])
    _check(session_event, reason="revoked", person=person)


async def test_disabling_a_client_revokes_its_tokens_at_the_gateways(service: Service):
    admin = await service.admin_token()
    created = await service.client.post(
        "/api/v1/clients",
        json={
            "name": "Sistem Dinas",
            "agency_id": str(await service.known_agency()),
            "scopes": ["applications:read"],
        },
        headers=bearer(admin),
    )
    client_id, secret = created.json()["client_id"], created.json()["client_secret"]
    issued = await service.client.post(
        "/oauth2/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret)
    )
    claims = _claims(issued.json()["access_token"])
    assert claims["client_id"] == client_id
    assert uuid.UUID(claims["jti"])
    assert "sid" not in claims  # no session: the client's own token is revoked by client_id

    disabled = await service.client.delete(f"/api/v1/clients/{client_id}", headers=bearer(admin))
    unknown = await service.client.delete("/api/v1/clients/agency-nobody", headers=bearer(admin))

    assert disabled.status_code == 204
    assert unknown.status_code == 404
    (event,) = await _revocations(service, "client", client_id)
    _check(event, reason="client_disabled")
    refused = await service.client.post(
        "/oauth2/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret)
    )
    assert refused.status_code == 401


async def test_disabling_an_account_revokes_its_tokens_at_the_gateways(service: Service):
    admin = await service.admin_token()
    person = service.residents[4]
    access, tokens = await service.citizen(person)
    account_id = _claims(access)["sub"]

    disabled = await service.client.post(
        f"/api/v1/admin/accounts/{account_id}/disable", headers=bearer(admin)
    )

    assert disabled.status_code == 204
    (event,) = await _revocations(service, "account", account_id)
    _check(event, reason="account_disabled", person=person)
    assert (await service.login(f"{person.nik}@warga.test", PASSWORD)).status_code == 401
    assert (await _refresh(service, tokens["refresh_token"])).status_code == 400
    assert (await service.client.get("/api/v1/me", headers=bearer(access))).status_code == 401


async def test_only_a_platform_admin_disables_accounts_and_never_their_own(service: Service):
    admin = await service.admin_token()
    citizen, _ = await service.citizen(service.residents[5])
    other, _ = await service.citizen(service.residents[6])

    by_citizen = await service.client.post(
        f"/api/v1/admin/accounts/{_claims(other)['sub']}/disable", headers=bearer(citizen)
    )
    own = await service.client.post(
        f"/api/v1/admin/accounts/{_claims(admin)['sub']}/disable", headers=bearer(admin)
    )
    unknown = await service.client.post(
        f"/api/v1/admin/accounts/{uuid.uuid4()}/disable", headers=bearer(admin)
    )
    malformed = await service.client.post(
        "/api/v1/admin/accounts/not-an-id/disable", headers=bearer(admin)
    )

    assert by_citizen.status_code == 403
    assert own.status_code == 403
    assert unknown.status_code == 404
    assert malformed.status_code == 422
    assert await _revocations(service, "account", _claims(other)["sub"]) == []
