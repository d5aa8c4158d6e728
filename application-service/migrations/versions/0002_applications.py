"""The catalogue's read copy, applications, documents, notes, registration counters, idempotency.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op

from mpp_shared.idempotency import create_idempotency_table, drop_idempotency_table

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UPGRADE = """
CREATE TABLE catalog_services (
    service_id      uuid CONSTRAINT pk_catalog_services PRIMARY KEY,
    latest_version  integer NOT NULL,
    retired_version integer,
    updated_at      timestamptz NOT NULL
);

CREATE TABLE catalog_service_versions (
    service_id   uuid NOT NULL,
    version      integer NOT NULL,
    agency_id    uuid NOT NULL,
    payload      jsonb NOT NULL,
    published_at timestamptz NOT NULL,
    CONSTRAINT pk_catalog_service_versions PRIMARY KEY (service_id, version)
);

CREATE TABLE applications (
    id                    uuid CONSTRAINT pk_applications PRIMARY KEY,
    owner_account_id      uuid NOT NULL,
    service_id            uuid NOT NULL,
    service_version       integer NOT NULL,
    agency_id             uuid NOT NULL,
    status                varchar(24) NOT NULL CONSTRAINT ck_applications_status CHECK (status IN
                          ('draft', 'submitted', 'in_review', 'revision_requested', 'approved',
                           'rejected', 'completed', 'withdrawn')),
    stage                 text,
    channel               varchar(10) NOT NULL,
    form_data             jsonb NOT NULL,
    registration_number   varchar(40) CONSTRAINT uq_applications_registration_number UNIQUE,
    tracking_code         varchar(16),
    submitted_at          timestamptz,
    due_at                timestamptz,
    revision_requested_at timestamptz,
    decided_at            timestamptz,
    overdue_notified_at   timestamptz,
    created_at            timestamptz NOT NULL,
    updated_at            timestamptz NOT NULL,
    version               integer NOT NULL,
    event_sequence        integer NOT NULL
);
-- The citizen's list, newest first.
CREATE INDEX ix_applications_owner ON applications (owner_account_id, created_at DESC, id DESC);
-- The agency's queue, oldest due first; drafts are never in it.
CREATE INDEX ix_applications_queue ON applications (agency_id, due_at, id)
    WHERE status <> 'draft';
-- What the SLA clock still has to announce.
CREATE INDEX ix_applications_overdue_pending ON applications (due_at)
    WHERE overdue_notified_at IS NULL
      AND status IN ('submitted', 'in_review', 'revision_requested');

CREATE TABLE documents (
    id               uuid CONSTRAINT pk_documents PRIMARY KEY,
    application_id   uuid NOT NULL
                     CONSTRAINT fk_documents_application_id_applications
                     REFERENCES applications (id),
    kind             varchar(10) NOT NULL CONSTRAINT ck_documents_kind
                     CHECK (kind IN ('input', 'output')),
    requirement_code text,
    filename         text NOT NULL,
    size             bigint NOT NULL,
    content_type     text NOT NULL,
    sha256           varchar(64) NOT NULL,
    blob_key         text NOT NULL,
    created_at       timestamptz NOT NULL
);
-- One document per requirement, one output per application.
CREATE UNIQUE INDEX uq_documents_requirement ON documents (application_id, requirement_code)
    WHERE kind = 'input';
CREATE UNIQUE INDEX uq_documents_output ON documents (application_id) WHERE kind = 'output';

CREATE TABLE application_notes (
    id             uuid CONSTRAINT pk_application_notes PRIMARY KEY,
    application_id uuid NOT NULL
                   CONSTRAINT fk_application_notes_application_id_applications
                   REFERENCES applications (id),
    visibility     varchar(10) NOT NULL CONSTRAINT ck_application_notes_visibility
                   CHECK (visibility IN ('public', 'internal')),
    action         varchar(24) NOT NULL,
    text           text NOT NULL,
    actor_kind     varchar(10) NOT NULL,
    created_at     timestamptz NOT NULL
);
CREATE INDEX ix_application_notes_application ON application_notes (application_id, created_at);

CREATE TABLE registration_counters (
    region_code varchar(13) NOT NULL,
    year        integer NOT NULL,
    last_serial integer NOT NULL,
    CONSTRAINT pk_registration_counters PRIMARY KEY (region_code, year)
);
"""

DOWNGRADE = """
DROP TABLE registration_counters;
DROP TABLE application_notes;
DROP TABLE documents;
DROP TABLE applications;
DROP TABLE catalog_service_versions;
DROP TABLE catalog_services;
"""


def _statements(script: str) -> list[str]:
    # One statement per execute: the driver prepares each, and a prepared statement is one.
    return [part.strip() for part in script.split(";\n") if part.strip()]


def upgrade() -> None:
    for statement in _statements(UPGRADE):
        op.execute(statement)
    create_idempotency_table()


def downgrade() -> None:
    drop_idempotency_table()
    for statement in _statements(DOWNGRADE):
        op.execute(statement)
