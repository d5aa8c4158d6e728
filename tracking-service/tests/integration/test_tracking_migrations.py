"""Migrations undone and redone on databases with rows in them: 0004 (notifications), 0006
(their subjects) and 0009 (the case steps on the live stream)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from alembic import command
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine

from mpp_shared.contracts.application import v1 as application
from mpp_shared.db.migrations import alembic_config
from tracking.db.timeline import TimelineRepository
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


async def test_migration_0009_keeps_old_case_steps_off_the_stream_and_numbers_new_ones(
    open_tracking, story, case_story
) -> None:
    s = story()
    old_step = uuid.uuid4()
    async with open_tracking() as tracking:
        await tracking.publish(s.event(application.APPLICATION_SUBMITTED, "submitted"))
        await tracking.handled(1)
        engine = tracking.app.state.runtime.engine
        await _migrate(engine, "downgrade", "0008")
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO timeline_case_steps (event_id, complaint_id, sequence,"
                    " application_id, case_number, event_type, status, occurred_at)"
                    " VALUES (:e, :c, 1, :app, 'ADU-64.09-2026-000001', :t, 'open', :at)"
                ),
                {
                    "e": old_step,
                    "c": uuid.uuid4(),
                    "app": s.application_id,
                    "t": application.COMPLAINT_OPENED,
                    "at": datetime.now(UTC),
                },
            )
        await _migrate(engine, "upgrade", "head")
        await tracking.publish(
            case_story(s).event("opened", "open", minutes=2, actor="citizen"),
            case_story(anonymous=True).event("opened", "open", minutes=3, actor="anonymous"),
        )
        await tracking.handled(3)
        async with engine.connect() as connection:
            steps = (
                await connection.execute(
                    text(
                        "SELECT event_id, position, agency_id, owner_account_id"
                        " FROM timeline_case_steps ORDER BY position NULLS FIRST"
                    )
                )
            ).all()
            entry_position = (
                await connection.execute(text("SELECT max(position) FROM timeline_entries"))
            ).scalar_one()
        async with tracking.app.state.runtime.session_factory()() as session:
            old_position = await TimelineRepository(session).position_of(old_step)
        # Down again: the case about no application has no place there; up once more.
        await _migrate(engine, "downgrade", "0008")
        async with engine.connect() as connection:
            left = (
                await connection.execute(text("SELECT count(*) FROM timeline_case_steps"))
            ).scalar_one()
        await _migrate(engine, "upgrade", "head")

    # The step from before keeps no position (it never was on the stream) and takes its
    # application's owner and agency; the new ones follow the timeline entries' positions.
    assert steps[0] == (old_step, None, s.agency_id, s.owner_account_id)
    assert old_position is None
    assert entry_position < steps[1].position < steps[2].position
    assert steps[2].owner_account_id is None
    assert left == 2
