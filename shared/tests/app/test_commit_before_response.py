"""A write is answered only after it is committed; a failed commit is never a 2xx."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from mpp_shared.app import create_service_app
from mpp_shared.config import BaseServiceSettings
from mpp_shared.deps import SessionDep
from mpp_shared.idempotency import (
    IDEMPOTENCY_METADATA,
    IdempotencyKey,
    idempotent,
    request_fingerprint,
)
from mpp_shared.testing.asgi import COMMIT, asgi_events
from mpp_shared.testing.client import app_client
from mpp_shared.testing.proxy import TcpProxy
from mpp_shared.testing.server import served

# Constraints checked only at COMMIT: the insert itself succeeds, the commit fails.
SCHEMA = [
    "CREATE TABLE parents (id int PRIMARY KEY)",
    """CREATE TABLE notes (
        name text NOT NULL CONSTRAINT notes_name_key UNIQUE DEFERRABLE INITIALLY DEFERRED,
        parent_id int CONSTRAINT notes_parent_fkey REFERENCES parents (id)
            DEFERRABLE INITIALLY DEFERRED
    )""",
    # A commit whose connection dies under it, as when the server shuts down at that moment.
    """CREATE FUNCTION drop_my_connection() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         IF NEW.name = 'outage' THEN PERFORM pg_terminate_backend(pg_backend_pid()); END IF;
         RETURN NULL;
       END $$""",
    """CREATE CONSTRAINT TRIGGER notes_outage AFTER INSERT ON notes
       DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION drop_my_connection()""",
]


class NoteCreate(BaseModel):
    name: str
    parent_id: int | None = None


def _router() -> APIRouter:
    router = APIRouter()

    @router.post("/notes", status_code=201)
    async def create_note(body: NoteCreate, session: SessionDep) -> dict[str, str]:
        await session.execute(
            text("INSERT INTO notes (name, parent_id) VALUES (:n, :p)"),
            {"n": body.name, "p": body.parent_id},
        )
        return {"name": body.name}

    @router.get("/notes/count")
    async def count_notes(session: SessionDep) -> dict[str, int]:
        return {"count": int(await session.scalar(text("SELECT count(*) FROM notes")) or 0)}

    @router.post("/keyed-notes")
    async def create_keyed_note(
        request: Request,
        body: NoteCreate,
        session: SessionDep,
        idempotency_key: IdempotencyKey = None,
    ) -> JSONResponse:
        async def create() -> tuple[int, object]:
            await session.execute(
                text("INSERT INTO notes (name, parent_id) VALUES (:n, :p)"),
                {"n": body.name, "p": body.parent_id},
            )
            return 201, {"name": body.name}

        return await idempotent(
            session=session,
            scope="POST /keyed-notes",
            key=idempotency_key,
            fingerprint=request_fingerprint(body.model_dump(mode="json")),
            create=create,
        )

    return router


@pytest.fixture
async def settings(database_url: str, nats_url: str) -> BaseServiceSettings:
    engine = create_async_engine(database_url)
    async with engine.begin() as conn:
        for statement in SCHEMA:
            await conn.execute(text(statement))
        await conn.run_sync(IDEMPOTENCY_METADATA.create_all)
    await engine.dispose()
    return BaseServiceSettings(
        service_name="probe", database_url=database_url, nats_url=nats_url, environment="test"
    )


@pytest.fixture
def app(settings: BaseServiceSettings) -> FastAPI:
    return create_service_app(
        settings, title="probe", routers=[_router()], uses_nats=False, outbox_relay=False
    )


@pytest.fixture
async def base_url(app: FastAPI) -> AsyncIterator[str]:
    async with served(app) as url:
        yield url


async def _names(app: FastAPI) -> list[str]:
    async with app.state.runtime.session_factory()() as session:
        return list((await session.scalars(text("SELECT name FROM notes ORDER BY name"))).all())


async def test_session_route_commits_before_the_response_starts(app: FastAPI) -> None:
    async with app_client(app):
        events, status = await asgi_events(
            app, "POST", "/notes", engine=app.state.runtime.engine, json={"name": "first"}
        )
    assert status == 201
    assert events == [COMMIT, "http.response.start", "http.response.body"]


async def test_commit_failing_on_a_unique_conflict_is_409_and_keeps_nothing(
    app: FastAPI, base_url: str
) -> None:
    async with httpx.AsyncClient(base_url=base_url) as client:
        assert (await client.post("/notes", json={"name": "taken"})).status_code == 201
        response = await client.post("/notes", json={"name": "taken"})
    assert response.status_code == 409, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "commit_conflict"
    assert await _names(app) == ["taken"]


async def test_commit_refused_for_another_reason_is_500_problem_and_keeps_nothing(
    app: FastAPI, base_url: str
) -> None:
    async with httpx.AsyncClient(base_url=base_url) as client:
        response = await client.post("/notes", json={"name": "orphan", "parent_id": 7})
    assert response.status_code == 500, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "commit_failed"
    assert await _names(app) == []


async def test_connection_lost_at_commit_is_503_and_keeps_nothing(
    app: FastAPI, base_url: str
) -> None:
    async with httpx.AsyncClient(base_url=base_url) as client:
        response = await client.post("/notes", json={"name": "outage"})
        after = await client.post("/notes", json={"name": "after"})
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "database_unavailable"
    assert response.headers["retry-after"] == "1"
    # The pool hands out a working connection next time.
    assert after.status_code == 201, after.text
    assert await _names(app) == ["after"]


async def test_idempotency_key_of_a_failed_commit_is_free_for_the_retry(
    app: FastAPI, base_url: str
) -> None:
    key = {"Idempotency-Key": "note-1"}
    body = {"name": "keyed", "parent_id": 1}
    async with httpx.AsyncClient(base_url=base_url) as client:
        failed = await client.post("/keyed-notes", json=body, headers=key)
        async with app.state.runtime.session_factory()() as session, session.begin():
            await session.execute(text("INSERT INTO parents VALUES (1)"))
        retried = await client.post("/keyed-notes", json=body, headers=key)
        replayed = await client.post("/keyed-notes", json=body, headers=key)
    assert failed.status_code == 500, failed.text
    assert retried.status_code == 201, retried.text
    assert "idempotency-replayed" not in retried.headers
    assert replayed.status_code == 201
    assert replayed.headers["idempotency-replayed"] == "true"
    assert await _names(app) == ["keyed"]


async def test_database_gone_while_the_handler_runs_is_503_not_500(
    settings: BaseServiceSettings,
) -> None:
    proxy = TcpProxy.for_database(settings.database_url)
    await proxy.start()
    through_proxy = settings.model_copy(
        update={"database_url": proxy.database_url(settings.database_url)}
    )
    app = create_service_app(
        through_proxy, title="probe", routers=[_router()], uses_nats=False, outbox_relay=False
    )
    try:
        async with served(app) as url, httpx.AsyncClient(base_url=url) as client:
            assert (await client.get("/notes/count")).status_code == 200
            await proxy.cut()
            gone = await client.get("/notes/count")
            await proxy.restore()
            back = await client.get("/notes/count")
    finally:
        await proxy.close()
    assert gone.status_code == 503, gone.text
    assert gone.headers["content-type"] == "application/problem+json"
    assert gone.json()["code"] == "database_unavailable"
    assert back.status_code == 200, back.text
