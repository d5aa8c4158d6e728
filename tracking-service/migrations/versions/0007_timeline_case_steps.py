"""The steps of complaint cases about an application, for that application's timeline.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "timeline_case_steps",
        sa.Column("event_id", pg.UUID(), primary_key=True),
        sa.Column("complaint_id", pg.UUID(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("application_id", pg.UUID(), nullable=False),
        sa.Column("case_number", sa.String(64), nullable=False),
        sa.Column("event_type", sa.String(100), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("complaint_id", "sequence"),
    )
    op.create_index(
        "ix_timeline_case_steps_application_id", "timeline_case_steps", ["application_id"]
    )


def downgrade() -> None:
    op.drop_table("timeline_case_steps")
