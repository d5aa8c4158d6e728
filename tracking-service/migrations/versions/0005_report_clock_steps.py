"""The processing clock's events on each application's report row, so that a late event
(a resubmission, a decision arriving after the completion) still counts in the report.

Existing rows get their steps from the stored timeline; the decision's due time is the one
the row holds.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BACKFILL = """
UPDATE report_applications AS r
SET clock_steps = steps.list
FROM (
    SELECT e.application_id,
           jsonb_agg(
               jsonb_build_object(
                   'sequence', e.sequence,
                   'kind', CASE
                       WHEN e.event_type LIKE '%.submitted' THEN 'submitted'
                       WHEN e.event_type LIKE '%.revision_requested' THEN 'revision_requested'
                       WHEN e.event_type LIKE '%.completed' THEN 'completed'
                       ELSE 'decided'
                   END,
                   'at', e.occurred_at,
                   'due_at', a.due_at
               )
               ORDER BY e.sequence
           ) AS list
    FROM timeline_entries AS e
    JOIN report_applications AS a ON a.application_id = e.application_id
    WHERE e.event_type LIKE 'mpp.application.application.%'
      AND (
          e.event_type LIKE '%.submitted'
          OR e.event_type LIKE '%.revision_requested'
          OR e.event_type LIKE '%.completed'
          OR (e.event_type LIKE '%.status_changed' AND e.status IN ('approved', 'rejected'))
      )
    GROUP BY e.application_id
) AS steps
WHERE r.application_id = steps.application_id
"""


def upgrade() -> None:
    op.add_column(
        "report_applications",
        sa.Column("clock_steps", pg.JSONB, nullable=False, server_default=sa.text("'[]'")),
    )
    op.execute(BACKFILL)


def downgrade() -> None:
    op.drop_column("report_applications", "clock_steps")
