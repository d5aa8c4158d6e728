"""Timelines (read model of application events), known agencies, tracking-code failures,
notifications, their read marks and the outgoing email/SMS messages.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UPGRADE = """
CREATE TABLE known_agencies (
    agency_id uuid CONSTRAINT pk_known_agencies PRIMARY KEY,
    name      text NOT NULL,
    timezone  varchar(40),
    revision  integer NOT NULL
);

CREATE TABLE tracked_applications (
    application_id      uuid CONSTRAINT pk_tracked_applications PRIMARY KEY,
    registration_number varchar(64) NOT NULL
                        CONSTRAINT uq_tracked_applications_registration_number UNIQUE,
    tracking_code_hash  varchar(64) NOT NULL,
    service_id          uuid NOT NULL,
    service_version     integer NOT NULL,
    service_name        text NOT NULL,
    agency_id           uuid NOT NULL,
    owner_account_id    uuid,
    status              varchar(32) NOT NULL,
    stage               varchar(100),
    stage_name          text,
    sequence            integer NOT NULL,
    submitted_at        timestamptz NOT NULL,
    due_at              timestamptz,
    overdue             boolean NOT NULL DEFAULT false,
    updated_at          timestamptz NOT NULL
);
CREATE INDEX ix_tracked_applications_owner_account_id ON tracked_applications (owner_account_id);
CREATE INDEX ix_tracked_applications_agency_id ON tracked_applications (agency_id);

CREATE TABLE timeline_entries (
    event_id       uuid CONSTRAINT pk_timeline_entries PRIMARY KEY,
    position       bigint GENERATED ALWAYS AS IDENTITY
                   CONSTRAINT uq_timeline_entries_position UNIQUE,
    application_id uuid NOT NULL,
    sequence       integer NOT NULL,
    event_type     varchar(100) NOT NULL,
    old_status     varchar(32),
    status         varchar(32) NOT NULL,
    stage          varchar(100),
    stage_name     text,
    note           text,
    internal_note  text,
    occurred_at    timestamptz NOT NULL,
    CONSTRAINT uq_timeline_entries_application_id_sequence UNIQUE (application_id, sequence)
);

CREATE TABLE tracking_failures (
    id                  bigint GENERATED ALWAYS AS IDENTITY CONSTRAINT pk_tracking_failures
                        PRIMARY KEY,
    registration_number varchar(64) NOT NULL,
    failed_at           timestamptz NOT NULL
);
CREATE INDEX ix_tracking_failures_registration_number
    ON tracking_failures (registration_number, failed_at);

CREATE TABLE notifications (
    id                  uuid CONSTRAINT pk_notifications PRIMARY KEY,
    event_id            uuid NOT NULL,
    kind                varchar(32) NOT NULL,
    account_id          uuid,
    agency_id           uuid,
    application_id      uuid NOT NULL,
    registration_number varchar(64) NOT NULL,
    title               text NOT NULL,
    body                text NOT NULL,
    created_at          timestamptz NOT NULL,
    CONSTRAINT ck_notifications_one_audience
        CHECK ((account_id IS NULL) <> (agency_id IS NULL)),
    CONSTRAINT uq_notifications_event_id_kind UNIQUE (event_id, kind)
);
CREATE INDEX ix_notifications_account_id ON notifications (account_id, created_at DESC, id DESC);
CREATE INDEX ix_notifications_agency_id ON notifications (agency_id, created_at DESC, id DESC);

CREATE TABLE notification_reads (
    notification_id uuid NOT NULL
                    CONSTRAINT fk_notification_reads_notification_id_notifications
                    REFERENCES notifications (id) ON DELETE CASCADE,
    account_id      uuid NOT NULL,
    read_at         timestamptz NOT NULL,
    CONSTRAINT pk_notification_reads PRIMARY KEY (notification_id, account_id)
);

CREATE TABLE outgoing_messages (
    id              uuid CONSTRAINT pk_outgoing_messages PRIMARY KEY,
    notification_id uuid NOT NULL
                    CONSTRAINT fk_outgoing_messages_notification_id_notifications
                    REFERENCES notifications (id) ON DELETE CASCADE,
    channel         varchar(16) NOT NULL CONSTRAINT ck_outgoing_messages_channel
                    CHECK (channel IN ('email', 'sms')),
    account_id      uuid NOT NULL,
    subject         text NOT NULL,
    body            text NOT NULL,
    status          varchar(16) NOT NULL DEFAULT 'pending'
                    CONSTRAINT ck_outgoing_messages_status
                    CHECK (status IN ('pending', 'sent', 'no_contact', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    last_error      text,
    created_at      timestamptz NOT NULL,
    next_attempt_at timestamptz NOT NULL,
    sent_at         timestamptz
);
CREATE INDEX ix_outgoing_messages_pending ON outgoing_messages (next_attempt_at)
    WHERE status = 'pending'
"""

DOWNGRADE = """
DROP TABLE outgoing_messages;
DROP TABLE notification_reads;
DROP TABLE notifications;
DROP TABLE tracking_failures;
DROP TABLE timeline_entries;
DROP TABLE tracked_applications;
DROP TABLE known_agencies
"""


def _statements(script: str) -> list[str]:
    # One statement per execute: the driver prepares each, and a prepared statement is one.
    return [part.strip() for part in script.split(";\n") if part.strip()]


def upgrade() -> None:
    for statement in _statements(UPGRADE):
        op.execute(statement)


def downgrade() -> None:
    for statement in _statements(DOWNGRADE):
        op.execute(statement)
