"""Notifications that are not about an application (a webhook subscription disabled), and
agency notifications for one staff role only (the agency admins).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.alter_column("notifications", "application_id", nullable=True)
    op.alter_column("notifications", "registration_number", nullable=True)
    # NULL: every staff member of the agency; else only those with this role.
    op.add_column("notifications", sa.Column("staff_role", sa.String(32), nullable=True))


def downgrade() -> None:
    op.execute("DELETE FROM notifications WHERE application_id IS NULL")
    op.drop_column("notifications", "staff_role")
    op.alter_column("notifications", "registration_number", nullable=False)
    op.alter_column("notifications", "application_id", nullable=False)
