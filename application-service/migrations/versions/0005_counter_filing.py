"""Assisted filing at a counter: the officer who filed, and the resident's keyed hash by which
an application waits for an owner who has no account yet.

Revision ID: 0005_counter_filing
Revises: 0004_counter_complaints
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005_counter_filing"
down_revision: str | None = "0004_counter_complaints"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UPGRADE = """
ALTER TABLE applications ALTER COLUMN owner_account_id DROP NOT NULL;

CREATE TABLE counter_filings (
    application_id    uuid CONSTRAINT pk_counter_filings PRIMARY KEY
                      CONSTRAINT fk_counter_filings_application_id_applications
                      REFERENCES applications (id),
    filed_by          uuid NOT NULL,
    officer_name      text NOT NULL,
    resident_key      varchar(64),
    filed_at          timestamptz NOT NULL,
    linked_account_id uuid,
    linked_at         timestamptz
);
CREATE INDEX ix_counter_filings_waiting ON counter_filings (resident_key)
    WHERE linked_at IS NULL AND resident_key IS NOT NULL;
"""

DOWNGRADE = """
DROP TABLE counter_filings;
DELETE FROM applications WHERE owner_account_id IS NULL;
ALTER TABLE applications ALTER COLUMN owner_account_id SET NOT NULL;
"""


def _statements(script: str) -> list[str]:
    return [statement.strip() for statement in script.split(";") if statement.strip()]


def upgrade() -> None:
    # resident_key: HMAC-SHA256 of the NIK with the secret shared with identity-service.
    for statement in _statements(UPGRADE):
        op.execute(statement)


def downgrade() -> None:
    for statement in _statements(DOWNGRADE):
        op.execute(statement)
