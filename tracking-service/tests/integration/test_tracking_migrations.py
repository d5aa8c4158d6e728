"""Migration 0004 can be undone and redone on a database with notifications in it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from alembic import command
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine

from mpp_shared.contracts.application import v1 as application
from mpp_shared.db.migrations import alembic_config
from tracking.main import MIGRATIONS_DIR


async def _migrate(engine: AsyncEngine, direction: str, revision: str) -> None:
    def run(connection: Connection) -> None:
        config = alembic_config(MIGRATIONS_DIR)
        config.attributes["connection"] = connection
        getattr(command, direction)(config, revision)

    async with engine.connect() as connection:
        await connection.run_sync(run)
        await connection.commit()


async def test_migration_0004_down_and_up_keeps_application_notifications(
    open_tracking, story
) -> None:
    s = story()
    async with open_tracking() as tracking:
        await tracking.publish(s.event(application.APPLICATION_SUBMITTED, "submitted"))
        await tracking.handled(1)
        runtime = tracking.app.state.runtime
        engine = runtime.engine
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO notifications (id, event_id, kind, agency_id, staff_role, title,"
                    " body, created_at) VALUES (:id, :e, 'webhook_disabled', :a, 'agency_admin',"
                    " 't', 'b', :at)"
                ),
                {"id": uuid.uuid4(), "e": uuid.uuid4(), "a": uuid.uuid4(), "at": datetime.now(UTC)},
            )
        await _migrate(engine, "downgrade", "0003")
        async with engine.connect() as connection:
            kinds = (await connection.execute(text("SELECT kind FROM notifications"))).scalars()
            kinds_down = sorted(kinds)
            nullable_down = (
                await connection.execute(
                    text(
                        "SELECT is_nullable FROM information_schema.columns WHERE"
                        " table_name = 'notifications' AND column_name = 'application_id'"
                    )
                )
            ).scalar_one()
        await _migrate(engine, "upgrade", "head")
        async with engine.connect() as connection:
            columns = set(
                (
                    await connection.execute(
                        text(
                            "SELECT column_name FROM information_schema.columns"
                            " WHERE table_name = 'notifications'"
                        )
                    )
                ).scalars()
            )
    assert kinds_down == ["status_changed"]
    assert nullable_down == "NO"
    assert "staff_role" in columns


async def test_migration_0006_gives_old_booking_and_complaint_notices_their_subject(
    open_tracking,
) -> None:
    booking, case, app, agency = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    # The shape before 0006: a booking's or case's id and number in the application columns.
    old_rows = [
        ("booking_reminder", booking, "ANTREAN 2026-12-03"),
        ("booking_called", booking, "B-017"),
        ("complaint_answered", case, "ADU-64.72-2026-000007"),
        ("status_changed", app, "64.72-2026-000001"),
        ("webhook_disabled", None, None),
    ]
    async with open_tracking() as tracking:
        engine = tracking.app.state.runtime.engine
        await _migrate(engine, "downgrade", "0005")
        async with engine.begin() as connection:
            for kind, subject, number in old_rows:
                await connection.execute(
                    text(
                        "INSERT INTO notifications (id, event_id, kind, agency_id,"
                        " application_id, registration_number, title, body, created_at)"
                        " VALUES (:id, :e, :kind, :a, :subject, :number, 't', 'b', :at)"
                    ),
                    {
                        "id": uuid.uuid4(),
                        "e": uuid.uuid4(),
                        "kind": kind,
                        "a": agency,
                        "subject": subject,
                        "number": number,
                        "at": datetime.now(UTC),
                    },
                )
        await _migrate(engine, "upgrade", "head")
        async with engine.connect() as connection:
            rows = (
                await connection.execute(
                    text(
                        "SELECT kind, subject_type, subject_id, subject_number, application_id,"
                        " registration_number FROM notifications WHERE agency_id = :a"
                    ),
                    {"a": agency},
                )
            ).all()
    by_kind = {row.kind: tuple(row)[1:] for row in rows}
    assert by_kind == {
        "booking_reminder": ("booking", booking, None, None, None),
        "booking_called": ("booking", booking, "B-017", None, None),
        "complaint_answered": ("complaint", case, "ADU-64.72-2026-000007", None, None),
        "status_changed": ("application", app, "64.72-2026-000001", app, "64.72-2026-000001"),
        "webhook_disabled": (None, None, None, None, None),
    }
