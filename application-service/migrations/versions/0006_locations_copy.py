"""The read copy of the catalogue's MPP locations (for counter bookings while the catalogue is
down), and the agency's answers marked for the public view of a case.

Revision ID: 0006_locations_copy
Revises: 0005_counter_filing
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006_locations_copy"
down_revision: str | None = "0005_counter_filing"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UPGRADE = """
CREATE TABLE catalog_locations (
    location_id uuid CONSTRAINT pk_catalog_locations PRIMARY KEY,
    payload     jsonb NOT NULL,
    as_of       timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);
ALTER TABLE complaint_messages ADD COLUMN public boolean NOT NULL DEFAULT false
"""

DOWNGRADE = """
ALTER TABLE complaint_messages DROP COLUMN public;
DROP TABLE catalog_locations
"""


def _statements(script: str) -> list[str]:
    return [part.strip() for part in script.split(";\n") if part.strip()]


def upgrade() -> None:
    for statement in _statements(UPGRADE):
        op.execute(statement)


def downgrade() -> None:
    for statement in _statements(DOWNGRADE):
        op.execute(statement)
