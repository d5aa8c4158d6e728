"""Public tracking in one statement: ``public_tracking_lookup`` takes the number's lock, counts
its wrong codes, checks the code and, when it is wrong, counts one more, all before the
statement ends.

Run in autocommit, the statement is its own transaction: the advisory lock lasts until it
commits, and each query of the (volatile) function reads a snapshot taken after the lock, so
concurrent guesses of one number stay serialised as they were with the request's own
transaction (lock, read, insert, commit: four round trips then, one now).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# outcome: 'limited' (too many wrong codes in the window: oldest_failure set), 'not_found'
# (unknown number or wrong or missing code: one failure counted), or 'found' (the
# application, its agency's name and its history oldest first, as arrays).
FUNCTION = """
CREATE FUNCTION public_tracking_lookup(
    p_number text,
    p_code_hash text,
    p_since timestamptz,
    p_at timestamptz,
    p_max_failures integer,
    p_not_history text
) RETURNS TABLE (
    outcome text,
    oldest_failure timestamptz,
    registration_number text,
    service_name text,
    agency_name text,
    status text,
    stage text,
    due_at timestamptz,
    overdue boolean,
    entry_status text[],
    entry_stage text[],
    entry_stage_name text[],
    entry_at timestamptz[]
)
LANGUAGE plpgsql VOLATILE
AS $$
#variable_conflict use_column
DECLARE
    v_failures integer;
    v_oldest timestamptz;
    v_application uuid;
    v_hash text;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended('tracking:' || p_number, 7));
    SELECT count(*), min(f.failed_at) INTO v_failures, v_oldest
    FROM tracking_failures f
    WHERE f.registration_number = p_number AND f.failed_at > p_since;
    IF v_failures >= p_max_failures THEN
        RETURN QUERY SELECT 'limited'::text, v_oldest, NULL::text, NULL::text, NULL::text,
            NULL::text, NULL::text, NULL::timestamptz, NULL::boolean, NULL::text[],
            NULL::text[], NULL::text[], NULL::timestamptz[];
        RETURN;
    END IF;
    SELECT a.application_id, a.tracking_code_hash INTO v_application, v_hash
    FROM tracked_applications a
    WHERE a.registration_number = p_number;
    -- Hashes are compared, not codes: how long a prefix matched says nothing of the code.
    IF v_application IS NULL OR p_code_hash IS NULL OR v_hash IS DISTINCT FROM p_code_hash THEN
        DELETE FROM tracking_failures f
        WHERE f.registration_number = p_number AND f.failed_at <= p_since;
        INSERT INTO tracking_failures (registration_number, failed_at) VALUES (p_number, p_at);
        RETURN QUERY SELECT 'not_found'::text, NULL::timestamptz, NULL::text, NULL::text,
            NULL::text, NULL::text, NULL::text, NULL::timestamptz, NULL::boolean,
            NULL::text[], NULL::text[], NULL::text[], NULL::timestamptz[];
        RETURN;
    END IF;
    RETURN QUERY
    SELECT 'found'::text, NULL::timestamptz, a.registration_number::text, a.service_name,
        k.name, a.status::text, a.stage::text, a.due_at, a.overdue,
        h.statuses, h.stages, h.stage_names, h.ats
    FROM tracked_applications a
    LEFT JOIN known_agencies k ON k.agency_id = a.agency_id
    CROSS JOIN LATERAL (
        SELECT coalesce(array_agg(e.status::text ORDER BY e.sequence), '{}') AS statuses,
            coalesce(array_agg(e.stage::text ORDER BY e.sequence), '{}') AS stages,
            coalesce(array_agg(e.stage_name ORDER BY e.sequence), '{}') AS stage_names,
            coalesce(array_agg(e.occurred_at ORDER BY e.sequence), '{}') AS ats
        FROM timeline_entries e
        WHERE e.application_id = a.application_id AND e.event_type <> p_not_history
    ) h
    WHERE a.application_id = v_application;
END
$$
"""


def upgrade() -> None:
    op.execute(FUNCTION)


def downgrade() -> None:
    op.execute(
        "DROP FUNCTION public_tracking_lookup(text, text, timestamptz, timestamptz, integer, text)"
    )
