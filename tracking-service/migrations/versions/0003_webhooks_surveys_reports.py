"""Agency webhooks (subscriptions, deliveries, attempts, alerts), the application projection
with the report aggregates, and the SKM survey answers with their sums.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ELEMENTS = tuple(f"u{n}" for n in range(1, 10))
OPEN = "status IN ('submitted', 'in_review', 'revision_requested')"


def _tz(name: str, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _uuid(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, pg.UUID(as_uuid=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "webhook_subscriptions",
        sa.Column("id", pg.UUID(as_uuid=True), primary_key=True),
        _uuid("agency_id"),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("events", pg.ARRAY(sa.Text), nullable=False),
        sa.Column("secret_encrypted", sa.LargeBinary, nullable=False),
        sa.Column("created_by", sa.Text, nullable=False),
        _tz("created_at", nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.text("true")),
        _tz("disabled_at"),
        sa.Column("disabled_reason", sa.Text),
        sa.Column("consecutive_failures", sa.Integer, nullable=False, server_default="0"),
        _tz("failing_since"),
        _tz("last_success_at"),
    )
    op.create_index("ix_webhook_subscriptions_agency_id", "webhook_subscriptions", ["agency_id"])
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", pg.UUID(as_uuid=True), primary_key=True),
        sa.Column(
            "subscription_id",
            pg.UUID(as_uuid=True),
            sa.ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"),
            nullable=False,
        ),
        _uuid("event_id"),
        sa.Column("event_type", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        _tz("next_attempt_at"),
        _tz("created_at", nullable=False),
        _tz("delivered_at"),
        _tz("dead_at"),
        sa.Column("last_status_code", sa.Integer),
        sa.Column("last_error", sa.Text),
        sa.UniqueConstraint("subscription_id", "event_id"),
    )
    op.create_index(
        "ix_webhook_deliveries_due",
        "webhook_deliveries",
        ["next_attempt_at"],
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_index(
        "ix_webhook_deliveries_subscription_created",
        "webhook_deliveries",
        ["subscription_id", "created_at"],
    )
    op.create_table(
        "webhook_attempts",
        sa.Column("id", pg.UUID(as_uuid=True), primary_key=True),
        sa.Column(
            "delivery_id",
            pg.UUID(as_uuid=True),
            sa.ForeignKey("webhook_deliveries.id", ondelete="CASCADE"),
            nullable=False,
        ),
        _tz("started_at", nullable=False),
        sa.Column("status_code", sa.Integer),
        sa.Column("latency_ms", sa.Integer, nullable=False),
        sa.Column("error", sa.Text),
    )
    op.create_index("ix_webhook_attempts_delivery_id", "webhook_attempts", ["delivery_id"])
    op.create_table(
        "webhook_alerts",
        sa.Column("id", pg.UUID(as_uuid=True), primary_key=True),
        _uuid("agency_id"),
        sa.Column(
            "subscription_id",
            pg.UUID(as_uuid=True),
            sa.ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        _tz("created_at", nullable=False),
    )
    op.create_index("ix_webhook_alerts_agency_id", "webhook_alerts", ["agency_id"])

    op.create_table(
        "report_applications",
        sa.Column("application_id", pg.UUID(as_uuid=True), primary_key=True),
        _uuid("agency_id"),
        _uuid("service_id"),
        _uuid("owner_account_id", nullable=True),
        sa.Column("registration_number", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("last_sequence", sa.Integer, nullable=False),
        sa.Column("counted_month", sa.Date, nullable=False),
        _tz("submitted_at", nullable=False),
        _tz("due_at"),
        _tz("revision_since"),
        sa.Column("paused_days", sa.Integer, nullable=False, server_default="0"),
        _tz("finished_at"),
        sa.Column("working_days", sa.Integer),
        sa.Column("within_sla", sa.Boolean),
        sa.Column("overdue", sa.Boolean, nullable=False, server_default=sa.text("false")),
    )
    op.create_index(
        "ix_report_applications_open",
        "report_applications",
        ["agency_id", "due_at"],
        postgresql_where=sa.text(OPEN),
    )
    op.create_table(
        "report_services",
        sa.Column("service_id", pg.UUID(as_uuid=True), primary_key=True),
        _uuid("agency_id"),
        sa.Column("name", sa.Text, nullable=False),
    )
    op.create_table(
        "report_status_counts",
        _uuid("agency_id"),
        _uuid("service_id"),
        sa.Column("month", sa.Date, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("applications", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("agency_id", "month", "service_id", "status"),
    )
    op.create_table(
        "report_durations",
        _uuid("agency_id"),
        _uuid("service_id"),
        sa.Column("month", sa.Date, nullable=False),
        sa.Column("working_days", sa.Integer, nullable=False),
        sa.Column("applications", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("agency_id", "month", "service_id", "working_days"),
    )
    op.create_table(
        "report_finished",
        _uuid("agency_id"),
        _uuid("service_id"),
        sa.Column("month", sa.Date, nullable=False),
        sa.Column("finished", sa.Integer, nullable=False),
        sa.Column("within_sla", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("agency_id", "month", "service_id"),
    )

    op.create_table(
        "survey_responses",
        sa.Column("application_id", pg.UUID(as_uuid=True), primary_key=True),
        _uuid("agency_id"),
        _uuid("service_id"),
        sa.Column("month", sa.Date, nullable=False),
        *(sa.Column(e, sa.SmallInteger, nullable=False) for e in ELEMENTS),
        sa.Column("comment", sa.Text),
        _tz("created_at", nullable=False),
    )
    op.create_table(
        "survey_totals",
        _uuid("agency_id"),
        _uuid("service_id"),
        sa.Column("month", sa.Date, nullable=False),
        sa.Column("responses", sa.Integer, nullable=False),
        *(sa.Column(e, sa.Integer, nullable=False) for e in ELEMENTS),
        sa.PrimaryKeyConstraint("agency_id", "month", "service_id"),
    )


def downgrade() -> None:
    for table in (
        "survey_totals",
        "survey_responses",
        "report_finished",
        "report_durations",
        "report_status_counts",
        "report_services",
        "report_applications",
        "webhook_alerts",
        "webhook_attempts",
        "webhook_deliveries",
        "webhook_subscriptions",
    ):
        op.drop_table(table)
