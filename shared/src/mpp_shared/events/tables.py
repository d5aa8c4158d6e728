"""The outbox and inbox tables every service's database holds, and their migration."""

from __future__ import annotations

from sqlalchemy import (
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from mpp_shared.db.migrations import migration_bind
from mpp_shared.db.naming import NAMING_CONVENTION

EVENTS_METADATA = MetaData(naming_convention=NAMING_CONVENTION)

# One row per event to publish, written in the same transaction as the change it reports.
outbox = Table(
    "event_outbox",
    EVENTS_METADATA,
    Column("id", Uuid, primary_key=True),  # the CloudEvent id, also Nats-Msg-Id
    Column("subject", String(255), nullable=False),
    Column("envelope", JSONB, nullable=False),  # the whole CloudEvent, as published
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("published_at", DateTime(timezone=True)),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("last_error", Text),
    Index(
        "ix_event_outbox_pending",
        "next_attempt_at",
        postgresql_where=text("published_at IS NULL"),
    ),
)

# One row per event a consumer has handled, written in the handler's transaction.
inbox = Table(
    "event_inbox",
    EVENTS_METADATA,
    Column("consumer", String(255), primary_key=True),
    Column("event_id", Uuid, primary_key=True),
    Column("handled_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)


def create_event_tables() -> None:
    """Called from a service's first migration."""
    bind = migration_bind()
    EVENTS_METADATA.create_all(bind=bind, tables=[outbox, inbox])


def drop_event_tables() -> None:
    bind = migration_bind()
    EVENTS_METADATA.drop_all(bind=bind, tables=[inbox, outbox])
