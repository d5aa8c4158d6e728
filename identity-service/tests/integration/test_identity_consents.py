"""Prefill over NATS request-reply: only with a recorded consent, only the fields asked for,
every read in the citizen's access log; consents are listed and revoked by their owner."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import nats
import pytest
from nats.aio.client import Client
from nats.errors import NoRespondersError

from mpp_shared.contracts.identity import v1 as contracts
from mpp_shared.events.permissions import NatsAuthorization
from mpp_shared.testing import infrastructure as infra

from .conftest import Service, bearer


@pytest.fixture(scope="module")
async def bus(service: Service, infrastructure: infra.TestInfrastructure) -> AsyncIterator[Client]:
    """application-service's connection: the one service that may ask identity."""
    await service.app.state.runtime.nats_connection().wait_connected(10)
    client = await nats.connect(
        service.app.state.runtime.settings.nats_url,
        **infrastructure.nats_connect_options("application"),
    )
    yield client
    await client.close()


class Intruder:
    """A connection as another service, remembering what the server refused it."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.received: list[str] = []
        self.client: Client | None = None

    async def on_error(self, exc: Exception) -> None:
        self.errors.append(str(exc))

    async def on_message(self, msg: Any) -> None:
        self.received.append(msg.subject)

    async def violations(self, count: int) -> list[str]:
        deadline = time.monotonic() + 5
        while len(self.errors) < count and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        return [e for e in self.errors if "permissions violation" in e.lower()]


@pytest.fixture
async def catalog_user(
    service: Service, nats_authorization: NatsAuthorization
) -> AsyncIterator[Intruder]:
    intruder = Intruder()
    intruder.client = await nats.connect(
        service.app.state.runtime.settings.nats_url,
        error_cb=intruder.on_error,
        **nats_authorization.credentials("catalog").connect_options(),
    )
    yield intruder
    await intruder.client.close()


async def _ask(bus: Client, subject: str, request: Any) -> Any:
    deadline = time.monotonic() + 5
    while True:
        try:
            reply = await bus.request(subject, request.model_dump_json().encode(), timeout=5)
            break
        except NoRespondersError:
            # The service subscribes right after it connects; give it a moment.
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)
    if subject in (contracts.PREFILL_SUBJECT, contracts.CONSENTED_PREFILL_SUBJECT):
        return contracts.parse_prefill_reply(reply.data)
    return contracts.parse_consent_grant_reply(reply.data)


async def _citizen_id(service: Service, token: str) -> uuid.UUID:
    me = await service.client.get("/api/v1/me", headers=bearer(token))
    return uuid.UUID(me.json()["id"])


async def _grant(bus: Client, account_id: uuid.UUID, service_id: uuid.UUID, fields: list[str]):
    return await _ask(
        bus,
        contracts.CONSENT_GRANT_SUBJECT,
        contracts.ConsentGrantRequest(
            account_id=account_id,
            service_id=service_id,
            fields=fields,
            purpose="Pengisian otomatis formulir permohonan",
        ),
    )


async def _prefill(bus: Client, account_id: uuid.UUID, service_id: uuid.UUID, fields: list[str]):
    return await _ask(
        bus,
        contracts.PREFILL_SUBJECT,
        contracts.PrefillRequest(
            account_id=account_id,
            service_id=service_id,
            fields=fields,
            requested_by="application-service",
        ),
    )


async def test_with_consent_prefill_returns_exactly_the_fields_asked_for(service: Service, bus):
    person = service.residents[0]
    token, _ = await service.citizen(person)
    account_id, service_id = await _citizen_id(service, token), uuid.uuid4()

    granted = await _grant(bus, account_id, service_id, ["full_name", "birth_date", "address"])
    answer = await _prefill(bus, account_id, service_id, ["full_name", "address.village"])

    assert isinstance(granted, contracts.ConsentGrantResponse)
    assert isinstance(answer, contracts.RpcError)
    assert answer.error == "no_consent"
    answer = await _prefill(bus, account_id, service_id, ["full_name", "birth_date"])
    assert isinstance(answer, contracts.PrefillResponse), answer
    assert answer.fields == {
        "full_name": person.full_name.upper(),
        "birth_date": person.birth_date.isoformat(),
    }


async def test_consent_and_prefill_in_one_request_keep_the_consent_and_log_the_read(
    service: Service, bus
):
    person = service.residents[0]
    token, _ = await service.citizen(person)
    account_id, service_id = await _citizen_id(service, token), uuid.uuid4()

    answer = await _ask(
        bus,
        contracts.CONSENTED_PREFILL_SUBJECT,
        contracts.ConsentedPrefillRequest(
            account_id=account_id,
            service_id=service_id,
            fields=["full_name", "birth_date"],
            purpose="Pengisian otomatis formulir permohonan",
            read_purpose="prefill of an application form",
        ),
    )

    assert isinstance(answer, contracts.PrefillResponse), answer
    assert answer.fields == {
        "full_name": person.full_name.upper(),
        "birth_date": person.birth_date.isoformat(),
    }
    consents = (await service.client.get("/api/v1/me/consents", headers=bearer(token))).json()
    kept = [c for c in consents["items"] if c["service_id"] == str(service_id)]
    assert len(kept) == 1
    assert kept[0]["active"] is True
    assert sorted(kept[0]["fields"]) == ["birth_date", "full_name"]
    log = (await service.client.get("/api/v1/me/access-log", headers=bearer(token))).json()
    reads = [e for e in log["items"] if e["service_id"] == str(service_id)]
    assert len(reads) == 1
    assert reads[0]["purpose"] == "prefill of an application form"
    # The consent is the one a later prefill alone is answered under.
    again = await _prefill(bus, account_id, service_id, ["full_name"])
    assert isinstance(again, contracts.PrefillResponse), again


async def test_consent_and_prefill_of_an_unknown_account_keep_nothing(service: Service, bus):
    answer = await _ask(
        bus,
        contracts.CONSENTED_PREFILL_SUBJECT,
        contracts.ConsentedPrefillRequest(
            account_id=uuid.uuid4(),
            service_id=uuid.uuid4(),
            fields=["full_name"],
            purpose="Pengisian otomatis formulir permohonan",
        ),
    )

    assert isinstance(answer, contracts.RpcError)
    assert answer.error == "unknown_account"


async def test_every_prefill_read_is_in_the_citizens_access_log(service: Service, bus):
    token, _ = await service.citizen(service.residents[1])
    account_id, service_id = await _citizen_id(service, token), uuid.uuid4()
    await _grant(bus, account_id, service_id, ["full_name", "nik"])

    for _ in range(2):
        await _prefill(bus, account_id, service_id, ["nik"])
    response = await service.client.get("/api/v1/me/access-log", headers=bearer(token))

    assert response.status_code == 200
    entries = response.json()["items"]
    assert len(entries) == 2
    assert all(e["accessor"] == "application-service" for e in entries)
    assert all(e["fields"] == ["nik"] and e["service_id"] == str(service_id) for e in entries)
    assert entries[0]["purpose"] == "Pengisian otomatis formulir permohonan"


async def test_without_consent_prefill_is_refused(service: Service, bus):
    token, _ = await service.citizen(service.residents[2])
    account_id = await _citizen_id(service, token)

    answer = await _prefill(bus, account_id, uuid.uuid4(), ["full_name"])

    assert isinstance(answer, contracts.RpcError)
    assert answer.error == "no_consent"
    log = (await service.client.get("/api/v1/me/access-log", headers=bearer(token))).json()
    assert log["items"] == []


async def test_a_revoked_consent_stops_prefill(service: Service, bus):
    token, _ = await service.citizen(service.residents[3])
    account_id, service_id = await _citizen_id(service, token), uuid.uuid4()
    granted = await _grant(bus, account_id, service_id, ["full_name"])

    listed = await service.client.get("/api/v1/me/consents", headers=bearer(token))
    deleted = await service.client.delete(
        f"/api/v1/me/consents/{granted.consent_id}", headers=bearer(token)
    )
    answer = await _prefill(bus, account_id, service_id, ["full_name"])

    assert [c["id"] for c in listed.json()["items"]] == [str(granted.consent_id)]
    assert listed.json()["items"][0]["active"] is True
    assert deleted.status_code == 204
    assert isinstance(answer, contracts.RpcError)
    assert answer.error == "no_consent"
    after = (await service.client.get("/api/v1/me/consents", headers=bearer(token))).json()
    assert after["items"][0]["active"] is False


async def test_a_citizen_cannot_touch_or_see_anothers_consents(service: Service, bus):
    owner, _ = await service.citizen(service.residents[4])
    other, _ = await service.citizen(service.residents[5])
    granted = await _grant(bus, await _citizen_id(service, owner), uuid.uuid4(), ["phone"])

    deleted = await service.client.delete(
        f"/api/v1/me/consents/{granted.consent_id}", headers=bearer(other)
    )
    listed = await service.client.get("/api/v1/me/consents", headers=bearer(other))
    still = await service.client.get("/api/v1/me/consents", headers=bearer(owner))

    assert deleted.status_code == 404
    assert listed.json()["items"] == []
    assert still.json()["items"][0]["active"] is True


async def test_unknown_fields_and_accounts_are_refused(service: Service, bus):
    token, _ = await service.citizen(service.residents[6])
    account_id = await _citizen_id(service, token)

    unknown_field = await _grant(bus, account_id, uuid.uuid4(), ["password_hash"])
    unknown_account = await _prefill(bus, uuid.uuid4(), uuid.uuid4(), ["full_name"])
    garbage = contracts.parse_prefill_reply(
        (await bus.request(contracts.PREFILL_SUBJECT, b"{not json", timeout=5)).data
    )

    assert isinstance(unknown_field, contracts.RpcError)
    assert unknown_field.error == "unknown_field"
    assert isinstance(unknown_account, contracts.RpcError)
    assert unknown_account.error == "unknown_account"
    assert isinstance(garbage, contracts.RpcError)
    assert garbage.error == "invalid_request"


async def test_the_consent_list_pages(service: Service, bus):
    token, _ = await service.citizen(service.residents[7])
    account_id = await _citizen_id(service, token)
    for _ in range(3):
        await _grant(bus, account_id, uuid.uuid4(), ["email"])

    first = (await service.client.get("/api/v1/me/consents?limit=2", headers=bearer(token))).json()
    second = (
        await service.client.get(
            f"/api/v1/me/consents?limit=2&cursor={first['next_cursor']}", headers=bearer(token)
        )
    ).json()

    assert len(first["items"]) == 2
    assert first["next_cursor"]
    assert len(second["items"]) == 1
    ids = [c["id"] for c in first["items"] + second["items"]]
    assert len(set(ids)) == 3


async def test_another_service_can_neither_grant_consent_nor_ask_for_prefill(
    service: Service, bus, catalog_user: Intruder
):
    person = service.residents[0]
    token, _ = await service.citizen(person)
    account_id, service_id = await _citizen_id(service, token), uuid.uuid4()
    assert catalog_user.client is not None

    for subject, request in (
        (
            contracts.CONSENT_GRANT_SUBJECT,
            contracts.ConsentGrantRequest(
                account_id=account_id, service_id=service_id, fields=["full_name"], purpose="x"
            ),
        ),
        (
            contracts.PREFILL_SUBJECT,
            contracts.PrefillRequest(
                account_id=account_id,
                service_id=service_id,
                fields=["full_name"],
                requested_by="application-service",
            ),
        ),
    ):
        with pytest.raises((TimeoutError, NoRespondersError)):
            await catalog_user.client.request(
                subject, request.model_dump_json().encode(), timeout=1
            )

    assert len(await catalog_user.violations(2)) == 2
    # Nothing was granted: application-service still finds no consent.
    answer = await _prefill(bus, account_id, service_id, ["full_name"])
    assert isinstance(answer, contracts.RpcError)
    assert answer.error == "no_consent"


async def test_identitys_replies_reach_only_the_service_that_asked(
    service: Service, bus, catalog_user: Intruder
):
    client = catalog_user.client
    assert client is not None
    for wiretap in (">", "_INBOX.>", "_INBOX_application.>", "rpc.identity.>"):
        await client.subscribe(wiretap, cb=catalog_user.on_message)
    await client.flush()
    assert len(await catalog_user.violations(4)) == 4

    person = service.residents[1]
    token, _ = await service.citizen(person)
    account_id, service_id = await _citizen_id(service, token), uuid.uuid4()
    granted = await _grant(bus, account_id, service_id, ["full_name", "nik"])
    assert isinstance(granted, contracts.ConsentGrantResponse)
    answer = await _prefill(bus, account_id, service_id, ["full_name", "nik"])
    assert isinstance(answer, contracts.PrefillResponse)
    assert answer.fields["nik"] == person.nik
    await asyncio.sleep(0.3)

    assert catalog_user.received == []
