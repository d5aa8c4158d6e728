"""Counter bookings (antrean): the places held per counter and slot, bookings, queue serials.

Revision ID: 0003_counter_booking
Revises: 0002
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003_counter_booking"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UPGRADE = """
CREATE TABLE booking_slots (
    counter_id uuid NOT NULL,
    slot_start timestamptz NOT NULL,
    booked     integer NOT NULL CONSTRAINT ck_booking_slots_booked CHECK (booked >= 0),
    CONSTRAINT pk_booking_slots PRIMARY KEY (counter_id, slot_start)
);

CREATE TABLE bookings (
    id             uuid CONSTRAINT pk_bookings PRIMARY KEY,
    account_id     uuid NOT NULL,
    service_id     uuid NOT NULL,
    service_name   text NOT NULL,
    agency_id      uuid NOT NULL,
    location_id    uuid NOT NULL,
    location_name  text NOT NULL,
    counter_id     uuid NOT NULL,
    counter_label  text NOT NULL,
    counter_letter varchar(4) NOT NULL,
    day            date NOT NULL,
    slot_start     timestamptz NOT NULL,
    slot_end       timestamptz NOT NULL,
    timezone       varchar(20) NOT NULL,
    status         varchar(12) NOT NULL CONSTRAINT ck_bookings_status CHECK (status IN
                   ('booked', 'checked_in', 'called', 'served', 'no_show', 'cancelled')),
    queue_number   varchar(12),
    remind_at      timestamptz,
    reminded_at    timestamptz,
    checked_in_at  timestamptz,
    called_at      timestamptz,
    served_at      timestamptz,
    no_show_at     timestamptz,
    cancelled_at   timestamptz,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    event_sequence integer NOT NULL
);
-- At most one active booking per citizen, service and day, whatever races.
CREATE UNIQUE INDEX uq_bookings_active ON bookings (account_id, service_id, day)
    WHERE status IN ('booked', 'checked_in', 'called');
CREATE INDEX ix_bookings_account ON bookings (account_id, slot_start DESC, id DESC);
-- A counter's queue of a day: who waits, who is called, what was served.
CREATE INDEX ix_bookings_counter_day ON bookings (counter_id, day, status);
CREATE INDEX ix_bookings_location_day ON bookings (location_id, day);
-- What the clock still has to do: reminders, and bookings nobody came for.
CREATE INDEX ix_bookings_reminder_pending ON bookings (remind_at)
    WHERE status = 'booked' AND reminded_at IS NULL AND remind_at IS NOT NULL;
CREATE INDEX ix_bookings_unattended ON bookings (slot_end) WHERE status = 'booked';
CREATE INDEX ix_bookings_no_shows ON bookings (account_id, no_show_at)
    WHERE status = 'no_show';

CREATE TABLE booking_queue_serials (
    location_id uuid NOT NULL,
    day         date NOT NULL,
    letter      varchar(4) NOT NULL,
    last_serial integer NOT NULL,
    CONSTRAINT pk_booking_queue_serials PRIMARY KEY (location_id, day, letter)
)
"""

DOWNGRADE = """
DROP TABLE booking_queue_serials;
DROP TABLE bookings;
DROP TABLE booking_slots
"""


def _statements(script: str) -> list[str]:
    return [part.strip() for part in script.split(";\n") if part.strip()]


def upgrade() -> None:
    for statement in _statements(UPGRADE):
        op.execute(statement)


def downgrade() -> None:
    for statement in _statements(DOWNGRADE):
        op.execute(statement)
