"""Accounts, citizen profiles, OAuth clients, codes, refresh tokens, signing keys, consents,
the personal-data access log, known agencies, throttle counters and idempotency records.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _tz() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _created() -> sa.Column[sa.DateTime]:
    return sa.Column("created_at", _tz(), nullable=False, server_default=sa.func.now())


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("phone", sa.String(20)),
        sa.Column("full_name", sa.String(200), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("agency_id", sa.Uuid()),
        sa.Column("assurance_level", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("totp_secret", sa.LargeBinary()),
        sa.Column("totp_pending_secret", sa.LargeBinary()),
        sa.Column("totp_enabled_at", _tz()),
        sa.Column("totp_last_step", sa.BigInteger()),
        sa.Column("created_by", sa.Uuid()),
        sa.Column("disabled_at", _tz()),
        _created(),
        sa.Column("updated_at", _tz(), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint(
            "role IN ('citizen', 'officer', 'agency_admin', 'platform_admin')",
            name=op.f("ck_accounts_role"),
        ),
    )
    op.create_index("uq_accounts_email", "accounts", ["email"], unique=True)
    op.create_index("ix_accounts_agency_id", "accounts", ["agency_id", "created_at", "id"])

    op.create_table(
        "citizen_profiles",
        sa.Column(
            "account_id",
            sa.Uuid(),
            sa.ForeignKey("accounts.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("nik", sa.String(16), nullable=False, unique=True),
        sa.Column("full_name", sa.String(200), nullable=False),
        sa.Column("birth_place", sa.String(100), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("gender", sa.String(1), nullable=False),
        sa.Column("religion", sa.String(50), nullable=False),
        sa.Column("marital_status", sa.String(50), nullable=False),
        sa.Column("occupation", sa.String(100), nullable=False),
        sa.Column("street", sa.String(200), nullable=False),
        sa.Column("rt", sa.String(3), nullable=False),
        sa.Column("rw", sa.String(3), nullable=False),
        sa.Column("village", sa.String(100), nullable=False),
        sa.Column("district", sa.String(100), nullable=False),
        sa.Column("regency", sa.String(100), nullable=False),
        sa.Column("province", sa.String(100), nullable=False),
        sa.Column("region_code", sa.String(13), nullable=False),
        sa.Column("registry_checked_at", _tz(), nullable=False, server_default=sa.func.now()),
        sa.Column("face_verified_at", _tz()),
    )

    op.create_table(
        "oauth_clients",
        sa.Column("client_id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("agency_id", sa.Uuid()),
        sa.Column("secret_hash", sa.String(64)),
        sa.Column("scopes", postgresql.ARRAY(sa.String(100)), nullable=False),
        sa.Column("redirect_uris", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("grant_types", postgresql.ARRAY(sa.String(32)), nullable=False),
        sa.Column("first_party", sa.Boolean(), nullable=False, server_default=sa.text("false")),
        sa.Column("created_by", sa.Uuid()),
        sa.Column("disabled_at", _tz()),
        _created(),
    )
    # The built-in public client of the project's own apps (API.md): it exists from the start.
    op.execute(
        "INSERT INTO oauth_clients (client_id, name, scopes, redirect_uris, grant_types, "
        "first_party) VALUES ('mpp-app', 'MPP Digital', "
        "ARRAY['openid','profile','email','phone','address'], ARRAY[]::text[], "
        "ARRAY['refresh_token'], true)"
    )

    op.create_table(
        "authorization_codes",
        sa.Column("code_hash", sa.String(64), primary_key=True),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column(
            "account_id",
            sa.Uuid(),
            sa.ForeignKey("accounts.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("redirect_uri", sa.Text(), nullable=False),
        sa.Column("scope", postgresql.ARRAY(sa.String(100)), nullable=False),
        sa.Column("code_challenge", sa.String(64), nullable=False),
        sa.Column("nonce", sa.String(255)),
        sa.Column("auth_time", _tz(), nullable=False),
        sa.Column("expires_at", _tz(), nullable=False),
        sa.Column("used_at", _tz()),
        sa.Column("family_id", sa.Uuid()),
    )
    op.create_index("ix_authorization_codes_expires_at", "authorization_codes", ["expires_at"])

    op.create_table(
        "token_families",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column(
            "account_id",
            sa.Uuid(),
            sa.ForeignKey("accounts.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("scope", postgresql.ARRAY(sa.String(100)), nullable=False),
        sa.Column("auth_time", _tz(), nullable=False),
        _created(),
        sa.Column("revoked_at", _tz()),
        sa.Column("revoked_reason", sa.String(100)),
    )
    op.create_index("ix_token_families_account_id", "token_families", ["account_id"])

    op.create_table(
        "refresh_tokens",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column(
            "family_id",
            sa.Uuid(),
            sa.ForeignKey("token_families.id", ondelete="CASCADE"),
            nullable=False,
        ),
        _created(),
        sa.Column("expires_at", _tz(), nullable=False),
        sa.Column("used_at", _tz()),
    )
    op.create_index("ix_refresh_tokens_family_id", "refresh_tokens", ["family_id"])

    op.create_table(
        "signing_keys",
        sa.Column("kid", sa.String(64), primary_key=True),
        sa.Column("algorithm", sa.String(16), nullable=False),
        sa.Column("public_jwk", postgresql.JSONB(), nullable=False),
        sa.Column("private_key_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        _created(),
        sa.Column("retired_at", _tz()),
        sa.CheckConstraint("status IN ('active', 'retired')", name=op.f("ck_signing_keys_status")),
    )
    op.create_index(
        "uq_signing_keys_active",
        "signing_keys",
        ["status"],
        unique=True,
        postgresql_where=sa.text("status = 'active'"),
    )

    op.create_table(
        "consents",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column(
            "account_id",
            sa.Uuid(),
            sa.ForeignKey("accounts.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("service_id", sa.Uuid(), nullable=False),
        sa.Column("fields", postgresql.ARRAY(sa.String(50)), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("granted_via", sa.String(100), nullable=False),
        sa.Column("granted_at", _tz(), nullable=False),
        sa.Column("revoked_at", _tz()),
    )
    op.create_index(
        "uq_consents_active",
        "consents",
        ["account_id", "service_id"],
        unique=True,
        postgresql_where=sa.text("revoked_at IS NULL"),
    )
    op.create_index("ix_consents_account_id", "consents", ["account_id", "granted_at", "id"])

    op.create_table(
        "personal_data_access_log",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column(
            "account_id",
            sa.Uuid(),
            sa.ForeignKey("accounts.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("accessed_at", _tz(), nullable=False),
        sa.Column("accessor", sa.String(100), nullable=False),
        sa.Column("accessor_kind", sa.String(20), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("fields", postgresql.ARRAY(sa.String(50)), nullable=False),
        sa.Column("service_id", sa.Uuid()),
        sa.Column("consent_id", sa.Uuid()),
    )
    op.create_index(
        "ix_access_log_account",
        "personal_data_access_log",
        ["account_id", "accessed_at", "id"],
    )

    op.create_table(
        "known_agencies",
        sa.Column("agency_id", sa.Uuid(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("region_code", sa.String(13), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("updated_at", _tz(), nullable=False, server_default=sa.func.now()),
    )

    op.create_table(
        "throttle_counters",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("window_started_at", _tz(), nullable=False),
        sa.Column("expires_at", _tz(), nullable=False),
        sa.Column("blocked_until", _tz()),
    )
    op.create_index("ix_throttle_counters_expires_at", "throttle_counters", ["expires_at"])

    op.create_table(
        "idempotency_records",
        sa.Column("scope", sa.String(200), primary_key=True),
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("body_sealed", sa.LargeBinary(), nullable=False),
        _created(),
        sa.Column("expires_at", _tz(), nullable=False),
    )
    op.create_index("ix_idempotency_records_expires_at", "idempotency_records", ["expires_at"])


def downgrade() -> None:
    for table in (
        "idempotency_records",
        "throttle_counters",
        "known_agencies",
        "personal_data_access_log",
        "consents",
        "signing_keys",
        "refresh_tokens",
        "token_families",
        "authorization_codes",
        "oauth_clients",
        "citizen_profiles",
        "accounts",
    ):
        op.drop_table(table)
