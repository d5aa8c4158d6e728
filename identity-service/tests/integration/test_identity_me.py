"""``/api/v1/me``: the profile, contact changes and face verification."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from identity.dukcapil import faces

from .conftest import Service, bearer


def _jpeg(png: bytes) -> bytes:
    image = Image.open(io.BytesIO(png))
    return faces.encode_jpeg(image, quality=80)


async def _selfie(service: Service, token: str, data: bytes, content_type: str = "image/jpeg"):
    return await service.client.post(
        "/api/v1/me/face-verification",
        files={"selfie": ("selfie.jpg", data, content_type)},
        headers=bearer(token),
    )


async def test_me_shows_the_registry_profile_with_the_unmasked_nik(service: Service):
    person = service.residents[0]
    token, _ = await service.citizen(person)

    response = await service.client.get("/api/v1/me", headers=bearer(token))

    assert response.status_code == 200, response.text
    me = response.json()
    assert me["nik"] == person.nik
    assert me["full_name"] == person.full_name.upper()
    assert me["birth_date"] == person.birth_date.isoformat()
    assert me["gender"] == person.gender
    assert me["roles"] == ["citizen"]
    assert me["assurance_level"] == 1
    assert me["address"]["region_code"] == "35.73.01.1001"
    assert me["address"]["village"]
    assert me["phone"] == "+6281234567890"
    assert me["email"] == f"{person.nik}@warga.test"


async def test_a_citizen_changes_email_and_phone(service: Service):
    token, _ = await service.citizen(service.residents[1])

    response = await service.client.patch(
        "/api/v1/me",
        json={"email": "Baru@Warga.test", "phone": "+62 813-1111-2222"},
        headers=bearer(token),
    )

    assert response.status_code == 200, response.text
    assert response.json()["email"] == "baru@warga.test"
    assert response.json()["phone"] == "+6281311112222"
    assert (await service.login("baru@warga.test")).status_code == 200


async def test_registry_fields_cannot_be_changed(service: Service):
    token, _ = await service.citizen(service.residents[2])

    response = await service.client.patch(
        "/api/v1/me",
        json={"full_name": "Orang Lain", "nik": "3573010101900001"},
        headers=bearer(token),
    )

    assert response.status_code == 422
    me = (await service.client.get("/api/v1/me", headers=bearer(token))).json()
    assert me["full_name"] == service.residents[2].full_name.upper()


async def test_taking_another_accounts_email_is_409(service: Service):
    token, _ = await service.citizen(service.residents[3])
    await service.citizen(service.residents[4])

    response = await service.client.patch(
        "/api/v1/me",
        json={"email": f"{service.residents[4].nik}@warga.test"},
        headers=bearer(token),
    )

    assert response.status_code == 409


async def test_a_matching_selfie_raises_the_assurance_level_to_2(service: Service):
    person = service.residents[5]
    token, tokens = await service.citizen(person)
    assert person.photo is not None

    response = await _selfie(service, token, _jpeg(person.photo))

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["matched"] is True
    assert body["score"] >= 0.75
    assert body["assurance_level"] == 2
    me = (await service.client.get("/api/v1/me", headers=bearer(token))).json()
    assert me["assurance_level"] == 2
    events = [
        e
        for e in await service.outbox("mpp.identity.citizen.verified")
        if e["data"]["account_id"] == me["id"]
    ]
    assert len(events) == 1
    assert events[0]["data"]["assurance_level"] == 2
    assert person.nik not in str(events[0])
    # The next token says so too.
    refreshed = await service.client.post(
        "/oauth2/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": "mpp-app",
        },
    )
    from jose import jwt

    assert jwt.get_unverified_claims(refreshed.json()["access_token"])["ial"] == 2


async def test_someone_elses_face_is_200_not_matched(service: Service):
    person, other = service.residents[6], service.residents[7]
    token, _ = await service.citizen(person)
    assert other.photo is not None

    response = await _selfie(service, token, _jpeg(other.photo))

    assert response.status_code == 200, response.text
    assert response.json()["matched"] is False
    assert response.json()["assurance_level"] == 1
    me = (await service.client.get("/api/v1/me", headers=bearer(token))).json()
    events = await service.outbox("mpp.identity.citizen.verified")
    assert all(e["data"]["account_id"] != me["id"] for e in events)


async def test_a_file_that_is_not_an_image_is_422(service: Service):
    token, _ = await service.citizen(service.residents[8])

    response = await _selfie(service, token, b"%PDF-1.7 this is not a picture", "image/jpeg")

    assert response.status_code == 422
    assert response.json()["code"] == "invalid_image"


@pytest.mark.parametrize("kib", [530, 2048], ids=["read-by-the-route", "refused-by-its-size"])
async def test_an_oversized_selfie_is_413(service: Service, kib: int):
    token, _ = await service.citizen(service.residents[8])

    response = await _selfie(service, token, b"\xff\xd8\xff" + b"0" * (kib * 1024))

    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
    assert response.headers["x-request-id"]


async def test_staff_have_no_face_to_verify(service: Service):
    admin = await service.admin_token()

    response = await _selfie(service, admin, b"whatever")

    assert response.status_code == 403


async def test_staff_see_their_own_profile_without_registry_fields(service: Service):
    admin = await service.admin_token()

    me = (await service.client.get("/api/v1/me", headers=bearer(admin))).json()

    assert me["roles"] == ["platform_admin"]
    assert me["nik"] is None
    assert me["mfa_enabled"] is True


async def test_every_request_by_an_account_reads_it_with_one_statement_compiled_once(
    service: Service, monkeypatch: pytest.MonkeyPatch
):
    from sqlalchemy import event
    from sqlalchemy.engine import Connection, Engine
    from sqlalchemy.orm import ORMExecuteState, Session

    from identity.db.repositories import accounts

    token, _ = await service.citizen(service.residents[0])
    run: list[str] = []
    statements: list[object] = []
    orm: list[object] = []
    begun: list[object] = []
    fetch_row = accounts.fetch_row

    async def recording(connection: object, sql: str, *args: object) -> object:
        run.append(sql)
        return await fetch_row(connection, sql, *args)  # type: ignore[arg-type]

    def executed(conn: object, statement: object, *_: object) -> None:
        statements.append(statement)

    def through_a_session(state: ORMExecuteState) -> None:
        orm.append(state.statement)

    def began(conn: object) -> None:
        begun.append(conn)

    monkeypatch.setattr(accounts, "fetch_row", recording)
    event.listen(Engine, "before_execute", executed)
    event.listen(Connection, "begin", began)
    event.listen(Session, "do_orm_execute", through_a_session)
    try:
        for _ in range(2):
            response = await service.client.get("/api/v1/me", headers=bearer(token))
            assert response.status_code == 200, response.text
    finally:
        event.remove(Engine, "before_execute", executed)
        event.remove(Connection, "begin", began)
        event.remove(Session, "do_orm_execute", through_a_session)
    # One statement per request, compiled once, on asyncpg itself: no SQLAlchemy execution,
    # no session (a pure read needs no unit of work), no transaction begun.
    assert run == [accounts._ACCOUNT_READ_SQL, accounts._ACCOUNT_READ_SQL]
    assert run[0] is run[1]
    assert statements == []
    assert orm == []
    assert begun == []
