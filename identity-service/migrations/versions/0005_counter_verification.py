"""Identity checked in person at a counter: who raised an account's assurance level, how, when.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE counter_verifications (
            id                 uuid CONSTRAINT pk_counter_verifications PRIMARY KEY,
            account_id         uuid NOT NULL CONSTRAINT fk_counter_verifications_account_id_accounts
                               REFERENCES accounts (id) ON DELETE CASCADE,
            method             varchar(20) NOT NULL CONSTRAINT ck_counter_verifications_method
                               CHECK (method IN ('ktp_el_reader', 'document_check')),
            officer_account_id uuid NOT NULL,
            agency_id          uuid NOT NULL,
            assurance_level    smallint NOT NULL,
            verified_at        timestamptz NOT NULL
        )
        """
    )
    op.execute(
        "CREATE INDEX ix_counter_verifications_account"
        " ON counter_verifications (account_id, verified_at)"
    )


def downgrade() -> None:
    op.execute("DROP TABLE counter_verifications")
