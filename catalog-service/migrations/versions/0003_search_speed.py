"""Search reads a narrow table of listed services and compares typos with distinct texts only.

- ``service_search``: what search reads of each listed (published) service — its id, the
  filter columns and the text vector — kept in step with ``services`` by a trigger, whoever
  writes. A search ranks every service its words match; in ``services`` each of those rows
  shares its page with a large listing JSON, so ranking read about one page per match. Here
  a page holds some twenty services, and the listing is read for the page's rows only.
- ``service_search_texts``: each distinct name-and-keywords text of a listed service. The
  typo fallback compares the query with these (one ``word_similarity`` per text: the same
  standard service is offered by hundreds of regencies), then joins back by text, instead of
  comparing it with every service.
- No GIN index of search keeps a pending list (``fastupdate = off``): with one, a search also
  scans, entry by entry, everything added since the last vacuum — after a bulk publish, the
  whole catalogue. Publishing is rare; it now pays for its index entries at once.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UPGRADE = [
    """
CREATE TABLE service_search (
    id            uuid CONSTRAINT pk_service_search PRIMARY KEY
                  CONSTRAINT fk_service_search_id_services
                  REFERENCES services (id) ON DELETE CASCADE,
    agency_id     uuid NOT NULL,
    category      varchar(40),
    channels      text[],
    region_keys   text[],
    search_vector tsvector NOT NULL,
    search_text   text NOT NULL
)""",
    """
CREATE INDEX ix_service_search_search_vector ON service_search USING gin (search_vector)
    WITH (fastupdate = off)""",
    """
CREATE INDEX ix_service_search_region_keys ON service_search USING gin (region_keys)
    WITH (fastupdate = off)""",
    "CREATE INDEX ix_service_search_agency_id ON service_search (agency_id)",
    "CREATE INDEX ix_service_search_search_text ON service_search (search_text, id)",
    """
CREATE TABLE service_search_texts (
    search_text text CONSTRAINT pk_service_search_texts PRIMARY KEY
)""",
    """
CREATE INDEX ix_service_search_texts_trgm ON service_search_texts
    USING gin (search_text gin_trgm_ops) WITH (fastupdate = off)""",
    # Texts are only ever added: one that no listed service has any more joins no service,
    # and deleting it could race with a publish that needs it again.
    """
CREATE FUNCTION services_sync_search() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status = 'published' THEN
        INSERT INTO service_search (
                id, agency_id, category, channels, region_keys, search_vector, search_text
            ) VALUES (NEW.id, NEW.agency_id, NEW.category, NEW.channels, NEW.region_keys,
                    NEW.search_vector, NEW.search_text)
            ON CONFLICT (id) DO UPDATE SET (
                agency_id, category, channels, region_keys, search_vector, search_text
            ) = (
                EXCLUDED.agency_id, EXCLUDED.category, EXCLUDED.channels,
                EXCLUDED.region_keys, EXCLUDED.search_vector, EXCLUDED.search_text);
        INSERT INTO service_search_texts (search_text) VALUES (NEW.search_text)
            ON CONFLICT DO NOTHING;
    ELSE
        DELETE FROM service_search WHERE id = NEW.id;
    END IF;
    RETURN NULL;
END;
$$""",
    """
CREATE TRIGGER services_sync_search_insert
    AFTER INSERT ON services
    FOR EACH ROW WHEN (NEW.status = 'published')
    EXECUTE FUNCTION services_sync_search()""",
    # Not on every update: editing a draft touches a published service's row too.
    """
CREATE TRIGGER services_sync_search_update
    AFTER UPDATE ON services
    FOR EACH ROW WHEN (
        OLD.status IS DISTINCT FROM NEW.status
        OR NEW.status = 'published'
        AND (OLD.agency_id, OLD.category, OLD.channels, OLD.region_keys, OLD.search_vector,
             OLD.search_text)
        IS DISTINCT FROM (NEW.agency_id, NEW.category, NEW.channels, NEW.region_keys,
                          NEW.search_vector, NEW.search_text)
    )
    EXECUTE FUNCTION services_sync_search()""",
    """
INSERT INTO service_search (
    id, agency_id, category, channels, region_keys, search_vector, search_text
)
SELECT id, agency_id, category, channels, region_keys, search_vector, search_text
    FROM services WHERE status = 'published'""",
    """
INSERT INTO service_search_texts (search_text)
    SELECT DISTINCT search_text FROM service_search""",
    # Superseded by the indexes of the two tables above.
    "DROP INDEX ix_services_search_vector",
    "DROP INDEX ix_services_search_text_trgm",
    # The filtered lists (no words) still read services by region.
    "ALTER INDEX ix_services_region_keys SET (fastupdate = off)",
    "SELECT gin_clean_pending_list('ix_services_region_keys'::regclass)",
]

DOWNGRADE = [
    "ALTER INDEX ix_services_region_keys SET (fastupdate = on)",
    """
CREATE INDEX ix_services_search_text_trgm ON services USING gin (search_text gin_trgm_ops)
    WHERE status = 'published'""",
    """
CREATE INDEX ix_services_search_vector ON services USING gin (search_vector)
    WHERE status = 'published'""",
    "DROP TRIGGER services_sync_search_update ON services",
    "DROP TRIGGER services_sync_search_insert ON services",
    "DROP FUNCTION services_sync_search()",
    "DROP TABLE service_search_texts",
    "DROP TABLE service_search",
]


def upgrade() -> None:
    # One statement per execute: the driver prepares each, and a prepared statement is one.
    for statement in UPGRADE:
        op.execute(statement.strip())


def downgrade() -> None:
    for statement in DOWNGRADE:
        op.execute(statement.strip())
