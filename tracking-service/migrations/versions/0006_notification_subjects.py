"""What a notification is about: ``subject_type`` (application, booking, complaint),
``subject_id`` and ``subject_number``; ``application_id`` and ``registration_number`` hold an
application's only.

Booking and complaint notifications used to keep the booking's or case's id in
``application_id`` and its queue or case number in ``registration_number``; their kinds
(``booking_*``, ``complaint_*``) tell them apart, so existing rows move to the subject columns.
A booking's placeholder number (``ANTREAN <day>``, before check-in) is no number: it is dropped.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SUBJECTS_OF_EXISTING_ROWS = r"""
UPDATE notifications
SET subject_type = CASE
        WHEN kind LIKE 'booking\_%' THEN 'booking'
        WHEN kind LIKE 'complaint\_%' THEN 'complaint'
        ELSE 'application'
    END,
    subject_id = application_id,
    subject_number = CASE
        WHEN kind LIKE 'booking\_%' AND registration_number LIKE 'ANTREAN %' THEN NULL
        ELSE registration_number
    END
WHERE application_id IS NOT NULL
"""

ONLY_APPLICATIONS_IN_APPLICATION_COLUMNS = """
UPDATE notifications
SET application_id = NULL, registration_number = NULL
WHERE subject_type IN ('booking', 'complaint')
"""

# Back to the old shape: the subject in the application's columns again.
SUBJECTS_INTO_APPLICATION_COLUMNS = """
UPDATE notifications
SET application_id = subject_id,
    registration_number = COALESCE(subject_number, 'ANTREAN')
WHERE subject_type IN ('booking', 'complaint')
"""


def upgrade() -> None:
    op.add_column("notifications", sa.Column("subject_type", sa.String(16), nullable=True))
    op.add_column("notifications", sa.Column("subject_id", pg.UUID(), nullable=True))
    op.add_column("notifications", sa.Column("subject_number", sa.String(64), nullable=True))
    op.execute(SUBJECTS_OF_EXISTING_ROWS)
    op.execute(ONLY_APPLICATIONS_IN_APPLICATION_COLUMNS)
    op.create_check_constraint(
        "ck_notifications_subject",
        "notifications",
        "(subject_type IS NULL AND subject_id IS NULL AND subject_number IS NULL)"
        " OR (subject_type IN ('application', 'booking', 'complaint')"
        " AND subject_id IS NOT NULL)",
    )


def downgrade() -> None:
    op.drop_constraint("ck_notifications_subject", "notifications", type_="check")
    op.execute(SUBJECTS_INTO_APPLICATION_COLUMNS)
    op.drop_column("notifications", "subject_number")
    op.drop_column("notifications", "subject_id")
    op.drop_column("notifications", "subject_type")
