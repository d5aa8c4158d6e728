"""Complaints and consultations: cases, their threads, the agencies' response times, serials.

Revision ID: 0004_counter_complaints
Revises: 0003_counter_booking
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004_counter_complaints"
down_revision: str | None = "0003_counter_booking"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UPGRADE = """
CREATE TABLE complaints (
    id                  uuid CONSTRAINT pk_complaints PRIMARY KEY,
    tracking_number     varchar(40) NOT NULL CONSTRAINT uq_complaints_tracking_number UNIQUE,
    code_hash           varchar(64) NOT NULL,
    kind                varchar(12) NOT NULL CONSTRAINT ck_complaints_kind
                        CHECK (kind IN ('complaint', 'consultation')),
    account_id          uuid,
    contact_name        text,
    contact_email       text,
    contact_phone       text,
    service_id          uuid NOT NULL,
    service_name        text NOT NULL,
    agency_id           uuid NOT NULL,
    timezone            varchar(20) NOT NULL,
    application_id      uuid,
    subject             text NOT NULL,
    status              varchar(20) NOT NULL CONSTRAINT ck_complaints_status CHECK (status IN
                        ('open', 'answered', 'escalated', 'forwarded_to_lapor', 'closed')),
    response_due_at     timestamptz NOT NULL,
    answered_at         timestamptz,
    closed_at           timestamptz,
    lapor_reference     text,
    overdue_notified_at timestamptz,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    event_sequence      integer NOT NULL
);
CREATE INDEX ix_complaints_account ON complaints (account_id, created_at DESC)
    WHERE account_id IS NOT NULL;
CREATE INDEX ix_complaints_agency ON complaints (agency_id, created_at);
CREATE INDEX ix_complaints_unanswered ON complaints (response_due_at)
    WHERE answered_at IS NULL AND overdue_notified_at IS NULL AND status <> 'closed';

CREATE TABLE complaint_messages (
    id           uuid CONSTRAINT pk_complaint_messages PRIMARY KEY,
    complaint_id uuid NOT NULL
                 CONSTRAINT fk_complaint_messages_complaint_id_complaints
                 REFERENCES complaints (id),
    author_kind  varchar(10) NOT NULL CONSTRAINT ck_complaint_messages_author_kind
                 CHECK (author_kind IN ('citizen', 'anonymous', 'staff')),
    text         text NOT NULL,
    created_at   timestamptz NOT NULL
);
CREATE INDEX ix_complaint_messages_complaint ON complaint_messages (complaint_id, created_at);

CREATE TABLE complaint_settings (
    agency_id             uuid CONSTRAINT pk_complaint_settings PRIMARY KEY,
    response_working_days integer NOT NULL
                          CONSTRAINT ck_complaint_settings_days
                          CHECK (response_working_days BETWEEN 1 AND 60)
);

CREATE TABLE complaint_counters (
    region_code varchar(13) NOT NULL,
    year        integer NOT NULL,
    last_serial integer NOT NULL,
    CONSTRAINT pk_complaint_counters PRIMARY KEY (region_code, year)
)
"""

DOWNGRADE = """
DROP TABLE complaint_counters;
DROP TABLE complaint_settings;
DROP TABLE complaint_messages;
DROP TABLE complaints
"""


def _statements(script: str) -> list[str]:
    return [part.strip() for part in script.split(";\n") if part.strip()]


def upgrade() -> None:
    for statement in _statements(UPGRADE):
        op.execute(statement)


def downgrade() -> None:
    for statement in _statements(DOWNGRADE):
        op.execute(statement)
