"""Identity answers a write only after it is committed, refusals with their counters too."""

from __future__ import annotations

from sqlalchemy import text

from mpp_shared.testing.asgi import COMMIT, asgi_events

from .conftest import PASSWORD, Service


def _committed_before_answering(events: list[str]) -> bool:
    start = events.index("http.response.start")
    return COMMIT in events[:start] and COMMIT not in events[start:]


async def _login_events(service: Service, username: str, password: str) -> tuple[list[str], int]:
    return await asgi_events(
        service.app,
        "POST",
        "/api/v1/auth/login",
        engine=service.app.state.runtime.engine,
        json={"username": username, "password": password},
        headers={"X-Forwarded-For": service.new_ip()},
    )


async def test_a_login_is_committed_before_its_tokens_are_sent(service: Service) -> None:
    person = service.residents[0]
    assert (await service.register(person, email="order@warga.test")).status_code == 201

    events, status = await _login_events(service, "order@warga.test", PASSWORD)

    assert status == 200
    assert _committed_before_answering(events), events


async def test_a_refused_login_commits_its_counter_before_the_401(service: Service) -> None:
    person = service.residents[1]
    assert (await service.register(person, email="refused@warga.test")).status_code == 201

    events, status = await _login_events(service, "refused@warga.test", "not-the-password")

    assert status == 401
    assert _committed_before_answering(events), events


async def test_a_refusal_whose_counter_is_lost_is_not_answered_as_final(service: Service) -> None:
    person = service.residents[2]
    assert (await service.register(person, email="lost@warga.test")).status_code == 201
    async with service.sessionmaker()() as session, session.begin():
        # The connection dies at COMMIT, as when the server shuts down at that moment.
        await session.execute(
            text(
                """CREATE FUNCTION drop_my_connection() RETURNS trigger LANGUAGE plpgsql AS $$
                   BEGIN PERFORM pg_terminate_backend(pg_backend_pid()); RETURN NULL; END $$"""
            )
        )
        await session.execute(
            text(
                """CREATE CONSTRAINT TRIGGER counters_lost AFTER INSERT OR UPDATE
                   ON throttle_counters DEFERRABLE INITIALLY DEFERRED
                   FOR EACH ROW EXECUTE FUNCTION drop_my_connection()"""
            )
        )
    try:
        response = await service.login("lost@warga.test", "not-the-password")
    finally:
        async with service.sessionmaker()() as session, session.begin():
            await session.execute(text("DROP TRIGGER counters_lost ON throttle_counters"))
            await session.execute(text("DROP FUNCTION drop_my_connection()"))

    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "database_unavailable"
