"""Regions, agencies, MPP locations and counters, services and their versions, idempotency keys.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UPGRADE = """
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE regions (
    code        varchar(13) CONSTRAINT pk_regions PRIMARY KEY,
    name        text NOT NULL,
    level       varchar(10) NOT NULL
                CONSTRAINT ck_regions_level
                CHECK (level IN ('province', 'regency', 'district', 'village')),
    parent_code varchar(13) CONSTRAINT fk_regions_parent_code_regions REFERENCES regions (code)
);
CREATE INDEX ix_regions_parent_code ON regions (parent_code, code);
CREATE INDEX ix_regions_level ON regions (level, code);
CREATE INDEX ix_regions_name_trgm ON regions USING gin (lower(name) gin_trgm_ops);

CREATE TABLE reference_data (
    name      varchar(40) CONSTRAINT pk_reference_data PRIMARY KEY,
    checksum  varchar(64) NOT NULL,
    loaded_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE agencies (
    id             uuid CONSTRAINT pk_agencies PRIMARY KEY,
    name           text NOT NULL,
    kind           varchar(10) NOT NULL
                   CONSTRAINT ck_agencies_kind CHECK (kind IN ('opd', 'vertical', 'bumn', 'bumd')),
    region_code    varchar(13) NOT NULL
                   CONSTRAINT fk_agencies_region_code_regions REFERENCES regions (code),
    timezone       varchar(20) NOT NULL,
    address        text,
    phone          varchar(20),
    email          text,
    website        text,
    service_pledge text,
    revision       integer NOT NULL DEFAULT 1,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
-- One agency of a name per region: a second "Dinas Dukcapil" in Samarinda is a mistake.
CREATE UNIQUE INDEX uq_agencies_region_code_name ON agencies (region_code, lower(name));
CREATE INDEX ix_agencies_name ON agencies (name, id);
CREATE INDEX ix_agencies_kind ON agencies (kind, name, id);

CREATE TABLE locations (
    id            uuid CONSTRAINT pk_locations PRIMARY KEY,
    name          text NOT NULL,
    region_code   varchar(13) NOT NULL
                  CONSTRAINT fk_locations_region_code_regions REFERENCES regions (code),
    address       text NOT NULL,
    opening_hours jsonb NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ix_locations_region_code ON locations (region_code);

CREATE TABLE services (
    id                uuid CONSTRAINT pk_services PRIMARY KEY,
    agency_id         uuid NOT NULL
                      CONSTRAINT fk_services_agency_id_agencies REFERENCES agencies (id),
    code              varchar(64) NOT NULL,
    status            varchar(10) NOT NULL DEFAULT 'draft'
                      CONSTRAINT ck_services_status
                      CHECK (status IN ('draft', 'published', 'retired')),
    published_version integer,
    draft_version     integer,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    retired_at        timestamptz,
    name              text,
    description       text,
    search_keywords   text,
    category          varchar(40),
    channels          text[],
    region_keys       text[],
    listing           jsonb,
    search_vector     tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('indonesian', coalesce(name, '')), 'A') ||
        setweight(to_tsvector('indonesian', coalesce(search_keywords, '')), 'B') ||
        setweight(to_tsvector('indonesian', coalesce(description, '')), 'C')
    ) STORED,
    search_text       text GENERATED ALWAYS AS (
        lower(coalesce(name, '') || ' ' || coalesce(search_keywords, ''))
    ) STORED,
    CONSTRAINT uq_services_agency_id_code UNIQUE (agency_id, code)
);
-- Search reads only listed (published) services; every index below is limited to them.
CREATE INDEX ix_services_search_vector ON services USING gin (search_vector)
    WHERE status = 'published';
CREATE INDEX ix_services_search_text_trgm ON services USING gin (search_text gin_trgm_ops)
    WHERE status = 'published';
CREATE INDEX ix_services_region_keys ON services USING gin (region_keys)
    WHERE status = 'published';
CREATE INDEX ix_services_listed_name ON services (name, id) WHERE status = 'published';
CREATE INDEX ix_services_listed_agency ON services (agency_id, name, id)
    WHERE status = 'published';
CREATE INDEX ix_services_listed_category ON services (category, name, id)
    WHERE status = 'published';

CREATE TABLE service_versions (
    service_id   uuid NOT NULL
                 CONSTRAINT fk_service_versions_service_id_services
                 REFERENCES services (id) ON DELETE CASCADE,
    version      integer NOT NULL CONSTRAINT ck_service_versions_version CHECK (version >= 1),
    status       varchar(10) NOT NULL
                 CONSTRAINT ck_service_versions_status CHECK (status IN ('draft', 'published')),
    fields       jsonb NOT NULL,
    document     jsonb,
    created_by   text NOT NULL,
    published_by text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz,
    CONSTRAINT pk_service_versions PRIMARY KEY (service_id, version)
);
-- At most one draft per service.
CREATE UNIQUE INDEX uq_service_versions_one_draft ON service_versions (service_id)
    WHERE status = 'draft';

CREATE TABLE counters (
    id          uuid CONSTRAINT pk_counters PRIMARY KEY,
    location_id uuid NOT NULL
                CONSTRAINT fk_counters_location_id_locations
                REFERENCES locations (id) ON DELETE CASCADE,
    label       text NOT NULL,
    agency_id   uuid NOT NULL CONSTRAINT fk_counters_agency_id_agencies REFERENCES agencies (id),
    position    integer NOT NULL DEFAULT 0,
    CONSTRAINT uq_counters_location_id UNIQUE (location_id, label)
);
CREATE INDEX ix_counters_agency_id ON counters (agency_id);

CREATE TABLE counter_services (
    counter_id uuid NOT NULL
               CONSTRAINT fk_counter_services_counter_id_counters
               REFERENCES counters (id) ON DELETE CASCADE,
    service_id uuid NOT NULL
               CONSTRAINT fk_counter_services_service_id_services
               REFERENCES services (id) ON DELETE CASCADE,
    CONSTRAINT pk_counter_services PRIMARY KEY (counter_id, service_id)
);
CREATE INDEX ix_counter_services_service_id ON counter_services (service_id);

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
CREATE INDEX ix_idempotency_keys_created_at ON idempotency_keys (created_at);
"""

IMMUTABLE_PUBLISHED_VERSIONS = (
    """
-- A published version is immutable; the database refuses to change it, whoever asks.
CREATE FUNCTION service_versions_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'service % version % is published and cannot change',
        OLD.service_id, OLD.version USING ERRCODE = 'integrity_constraint_violation';
END;
$$;
""",
    """
CREATE TRIGGER service_versions_published_immutable
    BEFORE UPDATE OR DELETE ON service_versions
    FOR EACH ROW WHEN (OLD.status = 'published')
    EXECUTE FUNCTION service_versions_refuse_change();
""",
)

DOWNGRADE = """
DROP TABLE idempotency_keys;
DROP TABLE counter_services;
DROP TABLE counters;
DROP TABLE service_versions;
DROP FUNCTION service_versions_refuse_change();
DROP TABLE services;
DROP TABLE locations;
DROP TABLE agencies;
DROP TABLE reference_data;
DROP TABLE regions;
"""


def _statements(script: str) -> list[str]:
    # One statement per execute: the driver prepares each, and a prepared statement is one.
    return [part.strip() for part in script.split(";\n") if part.strip()]


def upgrade() -> None:
    for statement in _statements(UPGRADE):
        op.execute(statement)
    for statement in IMMUTABLE_PUBLISHED_VERSIONS:
        op.execute(statement.strip())


def downgrade() -> None:
    for statement in _statements(DOWNGRADE):
        op.execute(statement)
