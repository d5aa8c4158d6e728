"""Idempotency keys move to the table every service shares (mpp_shared.idempotency).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from collections.abc import Sequence

from alembic import op

from mpp_shared.idempotency import create_idempotency_table, drop_idempotency_table

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Keys live 24 hours; dropping the ones in flight only makes a retry run afresh.
    op.execute("DROP TABLE idempotency_keys")
    create_idempotency_table()


def downgrade() -> None:
    drop_idempotency_table()
    op.execute(
        """
        CREATE TABLE idempotency_keys (
            caller       text NOT NULL,
            key          varchar(200) NOT NULL,
            request_hash varchar(64) NOT NULL,
            status_code  integer,
            response     jsonb,
            completed    boolean NOT NULL DEFAULT false,
            created_at   timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT pk_idempotency_keys PRIMARY KEY (caller, key)
        );
        """
    )
    op.execute("CREATE INDEX ix_idempotency_keys_created_at ON idempotency_keys (created_at)")
