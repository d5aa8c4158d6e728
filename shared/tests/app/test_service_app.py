"""The shared app factory: health, readiness, metrics, correlation and problem+json."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import text

from mpp_shared.app import create_service_app
from mpp_shared.config import BaseServiceSettings
from mpp_shared.deps import SessionDep
from mpp_shared.problems import Problem
from mpp_shared.testing.client import app_client


class Item(BaseModel):
    name: str
    count: int


def _router() -> APIRouter:
    router = APIRouter()

    @router.post("/items", status_code=201)
    async def create_item(item: Item, session: SessionDep) -> dict[str, str]:
        await session.execute(text("CREATE TABLE IF NOT EXISTS items (name text)"))
        await session.execute(text("INSERT INTO items VALUES (:n)"), {"n": item.name})
        if item.count < 0:
            raise Problem("Count must not be negative.", status=409, code="negative_count")
        return {"name": item.name}

    @router.get("/items/count")
    async def count_items(session: SessionDep) -> dict[str, int]:
        exists = await session.scalar(text("SELECT to_regclass('items') IS NOT NULL"))
        if not exists:
            return {"count": 0}
        return {"count": int(await session.scalar(text("SELECT count(*) FROM items")) or 0)}

    @router.get("/boom")
    async def boom() -> None:
        raise RuntimeError("NIK 3573014101900001 leaked into an error")

    return router


@pytest.fixture
def settings(database_url: str, nats_settings: dict[str, Any]) -> BaseServiceSettings:
    return BaseServiceSettings(
        service_name="probe", database_url=database_url, environment="test", **nats_settings
    )


async def test_health_readiness_and_metrics(settings: BaseServiceSettings) -> None:
    app = create_service_app(settings, title="probe", routers=[_router()], outbox_relay=False)
    async with app_client(app) as client:
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        await app.state.runtime.nats.wait_connected(10)
        ready = await client.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"] == {"database": True, "nats": True}
        await client.get("/items/count")
        metrics = await client.get("/metrics")
        assert 'route="/items/count"' in metrics.text
        assert "http_request_duration_seconds_bucket" in metrics.text


async def test_readiness_fails_when_the_database_is_unreachable(
    nats_settings: dict[str, Any],
) -> None:
    settings = BaseServiceSettings(
        service_name="probe",
        database_url="postgresql+asyncpg://postgres@127.0.0.1:1/none",
        **nats_settings,
        run_migrations=False,
    )
    app = create_service_app(settings, title="probe", outbox_relay=False)
    async with app_client(app) as client:
        response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["checks"]["database"] is False


async def test_request_id_is_kept_or_made_and_traceparent_continues(
    settings: BaseServiceSettings,
) -> None:
    app = create_service_app(settings, title="probe", outbox_relay=False)
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    async with app_client(app) as client:
        given = await client.get(
            "/healthz",
            headers={
                "X-Request-ID": "req-123",
                "traceparent": f"00-{trace_id}-00f067aa0ba902b7-01",
            },
        )
        made = await client.get("/healthz")
    assert given.headers["x-request-id"] == "req-123"
    assert given.headers["traceparent"].split("-")[1] == trace_id
    assert len(made.headers["x-request-id"]) == 36


async def test_errors_are_problem_json_with_request_id(
    settings: BaseServiceSettings, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_service_app(settings, title="probe", routers=[_router()], outbox_relay=False)
    async with app_client(app) as client:
        missing = await client.get("/nowhere", headers={"X-Request-ID": "abc"})
        invalid = await client.post("/items", json={"name": "x", "count": "many"})
        conflict = await client.post("/items", json={"name": "x", "count": -1})
        crash = await client.get("/boom", headers={"X-Request-ID": "crash-1"})

    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.headers["x-request-id"] == "abc"
    assert missing.json()["code"] == "not_found"

    body = invalid.json()
    assert invalid.status_code == 422
    assert body["code"] == "validation_error"
    assert body["errors"][0]["loc"] == ["body", "count"]

    assert conflict.status_code == 409
    assert conflict.json()["code"] == "negative_count"
    assert conflict.json()["type"].endswith("/negative_count")

    assert crash.status_code == 500
    assert crash.headers["x-request-id"] == "crash-1"
    assert crash.json()["code"] == "internal_error"
    assert "Traceback" not in crash.text
    assert "3573014101900001" not in crash.text


async def test_one_transaction_per_request_is_committed_before_the_answer(
    settings: BaseServiceSettings,
) -> None:
    app = create_service_app(settings, title="probe", routers=[_router()], outbox_relay=False)
    async with app_client(app) as client:
        created = await client.post("/items", json={"name": "a", "count": 1})
        assert created.status_code == 201
        # The request that failed with a problem rolled its insert back.
        refused = await client.post("/items", json={"name": "b", "count": -1})
        assert refused.status_code == 409
        count = await client.get("/items/count")
    assert count.json() == {"count": 1}


async def test_migrations_run_on_start(
    database_url: str, nats_settings: dict[str, Any], tmp_path: Path
) -> None:
    versions = tmp_path / "migrations" / "versions"
    versions.mkdir(parents=True)
    (tmp_path / "migrations" / "env.py").write_text(
        "from mpp_shared.db.alembic_env import run\n"
        "from mpp_shared.events.tables import EVENTS_METADATA\n"
        "run(EVENTS_METADATA)\n"
    )
    (versions / "0001_events.py").write_text(
        "from mpp_shared.events.tables import create_event_tables, drop_event_tables\n"
        "revision = '0001'\ndown_revision = None\nbranch_labels = None\ndepends_on = None\n"
        "def upgrade():\n    create_event_tables()\n"
        "def downgrade():\n    drop_event_tables()\n"
    )
    settings = BaseServiceSettings(service_name="probe", database_url=database_url, **nats_settings)
    app = create_service_app(
        settings, title="probe", migrations_dir=tmp_path / "migrations", outbox_relay=False
    )
    async with app_client(app), app.state.runtime.engine.connect() as conn:
        tables = set(
            (await conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname='public'")))
            .scalars()
            .all()
        )
    assert {"event_outbox", "event_inbox", "alembic_version"} <= tables


def test_log_lines_are_json_with_personal_numbers_masked(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from mpp_shared.observability.logging import configure_logging

    configure_logging("probe")
    logging.getLogger("probe").info(
        "citizen 3573014101900001 phone 081234567890", extra={"nik": "6409015505900003"}
    )
    line = capsys.readouterr().out.strip().splitlines()[-1]
    entry = json.loads(line)
    assert entry["message"] == "citizen 3573**********01 phone 0812******90"
    assert entry["nik"] == "6409**********03"
    assert entry["service"] == "probe"


async def test_every_request_leaves_one_access_line_with_its_ids_and_personal_numbers_masked(
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = BaseServiceSettings(service_name="probe", environment="test")
    router = APIRouter()

    @router.get("/residents/{nik}")
    async def resident(nik: str) -> dict[str, str]:
        return {"ok": "yes"}

    app = create_service_app(
        settings, title="probe", routers=[router], uses_database=False, uses_nats=False
    )
    async with app_client(app) as client:
        found = await client.get("/residents/3573014101900001")
        missing = await client.get("/nowhere")
        await client.get("/healthz")  # probes are counted, not logged
    # The lifespan's end wrote what was still buffered.
    lines = [
        json.loads(line)
        for line in capsys.readouterr().out.splitlines()
        if '"logger": "mpp.access"' in line
    ]

    assert [line["message"] for line in lines] == [
        "GET /residents/3573**********01 200",
        "GET /nowhere 404",
    ]
    assert lines[0]["request_id"] == found.headers["x-request-id"]
    assert lines[1]["request_id"] == missing.headers["x-request-id"]
    assert lines[0]["trace_id"] == found.headers["traceparent"].split("-")[1]
    assert lines[0]["service"] == "probe"
    assert isinstance(lines[0]["duration_ms"], float)
