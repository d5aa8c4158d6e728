"""Citizen registration: the registry confirms NIK, name and birth date, one generic refusal."""

from __future__ import annotations

from datetime import date

from identity.dukcapil.nik import make_nik

from .conftest import Service


async def test_a_resident_registers_and_gets_assurance_level_1(service: Service):
    person = service.residents[0]

    response = await service.register(person, full_name=person.full_name.lower())

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["assurance_level"] == 1
    assert body["nik_masked"] == person.nik[:4] + "*" * 10 + person.nik[-2:]
    assert person.nik not in response.text


async def test_registration_records_an_event_without_the_nik(service: Service):
    person = service.residents[1]

    response = await service.register(person)

    assert response.status_code == 201, response.text
    events = [
        e
        for e in await service.outbox("mpp.identity.citizen.registered")
        if e["data"]["account_id"] == response.json()["id"]
    ]
    assert len(events) == 1
    assert events[0]["data"]["assurance_level"] == 1
    assert person.nik not in str(events[0])
    assert person.full_name.upper() not in str(events[0]).upper()


async def test_a_malformed_nik_is_422_invalid_nik(service: Service):
    person = service.residents[2]

    for nik in ("123", "35730141019000001", "3573014101ab0001", "9999994101900001"):
        response = await service.register(person, nik=nik)
        assert response.status_code == 422, (nik, response.text)
        body = response.json()
        assert body["code"] == "invalid_nik"
        assert body["errors"][0]["loc"] == ["body", "nik"]


async def test_a_well_formed_nik_nobody_has_is_a_registry_mismatch(service: Service):
    person = service.residents[2]
    stranger = make_nik("35.73.01", date(1999, 9, 9), "L", 9999)

    response = await service.register(person, nik=stranger)

    assert response.status_code == 422
    assert response.json()["code"] == "registry_mismatch"


async def test_a_wrong_name_or_birth_date_gets_the_same_generic_answer(service: Service):
    person = service.residents[3]

    wrong_name = await service.register(person, full_name="Nama Lain Sekali")
    wrong_date = await service.register(person, birth_date="1960-02-02")

    assert wrong_name.status_code == wrong_date.status_code == 422
    assert wrong_name.json()["code"] == wrong_date.json()["code"] == "registry_mismatch"
    assert wrong_name.json()["detail"] == wrong_date.json()["detail"]
    for answer in (wrong_name.text, wrong_date.text):
        assert "full_name" not in answer
        assert "birth_date" not in answer


async def test_registering_a_nik_twice_is_409(service: Service):
    person = service.residents[4]
    assert (await service.register(person)).status_code == 201

    again = await service.register(person)

    assert again.status_code == 409
    assert again.json()["code"] == "already_registered"


async def test_an_email_in_use_is_409(service: Service):
    first, second = service.residents[5], service.residents[6]
    assert (await service.register(first, email="sama@warga.test")).status_code == 201

    response = await service.register(second, email="SAMA@warga.test")

    assert response.status_code == 409
    assert response.json()["code"] == "email_in_use"


async def test_a_short_password_is_refused(service: Service):
    response = await service.register(service.residents[7], password="pendek")

    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "password"]


async def test_a_phone_that_is_not_indonesian_mobile_is_422(service: Service):
    response = await service.register(service.residents[7], phone="+1 555 0100")

    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"


async def test_attempts_per_nik_are_limited_even_from_many_addresses(service: Service):
    person = service.residents[8]
    answers = [
        await service.register(person, full_name="Tebakan Nama", ip=service.new_ip())
        for _ in range(3)
    ]
    assert [a.status_code for a in answers] == [422, 422, 422]

    # Even the right answer is refused now: the NIK cannot be probed any further.
    blocked = await service.register(person, ip=service.new_ip())

    assert blocked.status_code == 429
    assert blocked.json()["code"] == "rate_limited"
    assert int(blocked.headers["retry-after"]) > 0


async def test_attempts_per_address_are_limited(service: Service):
    ip = service.new_ip()
    stranger_niks = [make_nik("35.73.01", date(1990, 1, 1), "L", n) for n in range(9000, 9007)]
    answers = [
        (await service.register(service.residents[9], nik=nik, ip=ip)).status_code
        for nik in stranger_niks
    ]

    assert answers[:6] == [422] * 6
    assert answers[6] == 429


async def test_a_retry_with_the_same_idempotency_key_gets_the_first_answer(service: Service):
    person = service.residents[10]
    body = {
        "nik": person.nik,
        "full_name": person.full_name,
        "birth_date": person.birth_date.isoformat(),
        "email": "ulang@warga.test",
        "phone": "081234567890",
        "password": "Rahasia#Warga2026",
    }
    headers = {"Idempotency-Key": "daftar-1", "X-Forwarded-For": service.new_ip()}

    first = await service.client.post("/api/v1/citizens", json=body, headers=headers)
    again = await service.client.post("/api/v1/citizens", json=body, headers=headers)
    other = await service.client.post(
        "/api/v1/citizens", json=body | {"phone": "081299999999"}, headers=headers
    )

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotency-replayed"] == "true"
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused"
    assert (
        await service.scalar("SELECT count(*) FROM accounts WHERE email = 'ulang@warga.test'") == 1
    )
