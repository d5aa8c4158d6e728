"""The steps of every complaint case, for the live stream: who may see each (the case's
citizen, the handling agency), its place among the stream's events, and cases about no
application too.

A step's ``position`` comes from the sequence of ``timeline_entries.position``: one order for
the application events and the case steps, so that a ``Last-Event-ID`` of either kind resumes
with what came after it of both. The steps stored before have no position: they were never
on the stream, and a client resuming does not get them as news.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("timeline_case_steps", sa.Column("position", sa.BigInteger(), nullable=True))
    op.add_column("timeline_case_steps", sa.Column("agency_id", pg.UUID(), nullable=True))
    op.add_column("timeline_case_steps", sa.Column("owner_account_id", pg.UUID(), nullable=True))
    op.add_column(
        "timeline_case_steps",
        sa.Column("response_due_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.alter_column("timeline_case_steps", "application_id", nullable=True)
    # A case about an application is its owner's, with the agency that handles the application.
    op.execute(
        "UPDATE timeline_case_steps s SET agency_id = a.agency_id,"
        " owner_account_id = a.owner_account_id"
        " FROM tracked_applications a WHERE a.application_id = s.application_id"
    )
    sequence = (
        op.get_bind()
        .execute(sa.text("SELECT pg_get_serial_sequence('timeline_entries', 'position')"))
        .scalar_one()
    )
    # Set after the column was added: the rows already there keep no position.
    op.alter_column(
        "timeline_case_steps",
        "position",
        server_default=sa.text(f"nextval('{sequence}'::regclass)"),
    )
    op.create_unique_constraint(
        "uq_timeline_case_steps_position", "timeline_case_steps", ["position"]
    )


def downgrade() -> None:
    # The steps of cases about no application have no place on a timeline.
    op.execute("DELETE FROM timeline_case_steps WHERE application_id IS NULL")
    op.alter_column("timeline_case_steps", "application_id", nullable=False)
    op.drop_constraint("uq_timeline_case_steps_position", "timeline_case_steps")
    for column in ("response_due_at", "owner_account_id", "agency_id", "position"):
        op.drop_column("timeline_case_steps", column)
