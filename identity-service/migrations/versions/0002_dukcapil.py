"""Mock Dukcapil registry: residents, their photos, quota counters, seed markers.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dukcapil_residents",
        sa.Column("nik", sa.String(16), nullable=False),
        sa.Column("kk_number", sa.String(16), nullable=False),
        sa.Column("full_name", sa.String(200), nullable=False),
        sa.Column("birth_place", sa.String(100), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("gender", sa.String(1), nullable=False),
        sa.Column("blood_type", sa.String(3), nullable=False),
        sa.Column("religion", sa.String(60), nullable=False),
        sa.Column("marital_status", sa.String(20), nullable=False),
        sa.Column("occupation", sa.String(100), nullable=False),
        sa.Column("street", sa.String(200), nullable=False),
        sa.Column("rt", sa.String(3), nullable=False),
        sa.Column("rw", sa.String(3), nullable=False),
        sa.Column("village", sa.String(100), nullable=False),
        sa.Column("district", sa.String(100), nullable=False),
        sa.Column("regency", sa.String(100), nullable=False),
        sa.Column("province", sa.String(100), nullable=False),
        sa.Column("region_code", sa.String(13), nullable=False),
        sa.Column("source", sa.String(10), nullable=False),
        sa.Column("photo", sa.String(10), nullable=False),
        sa.CheckConstraint("gender IN ('L', 'P')", name=op.f("ck_dukcapil_residents_gender")),
        sa.CheckConstraint("nik ~ '^[0-9]{16}$'", name=op.f("ck_dukcapil_residents_nik_digits")),
        sa.CheckConstraint(
            "kk_number ~ '^[0-9]{16}$'", name=op.f("ck_dukcapil_residents_kk_digits")
        ),
        sa.CheckConstraint(
            "source IN ('generated', 'dataset')", name=op.f("ck_dukcapil_residents_source")
        ),
        sa.CheckConstraint(
            "photo IN ('rendered', 'stored', 'none')", name=op.f("ck_dukcapil_residents_photo")
        ),
        sa.PrimaryKeyConstraint("nik", name=op.f("pk_dukcapil_residents")),
    )
    op.create_index(op.f("ix_dukcapil_residents_kk_number"), "dukcapil_residents", ["kk_number"])
    op.create_index(
        op.f("ix_dukcapil_residents_region_code"), "dukcapil_residents", ["region_code"]
    )
    op.create_table(
        "dukcapil_resident_photos",
        sa.Column("nik", sa.String(16), nullable=False),
        sa.Column("image", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["nik"],
            ["dukcapil_residents.nik"],
            name=op.f("fk_dukcapil_resident_photos_nik_dukcapil_residents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("nik", name=op.f("pk_dukcapil_resident_photos")),
    )
    op.create_table(
        "dukcapil_quota_usage",
        sa.Column("caller", sa.String(100), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("caller", "day", name=op.f("pk_dukcapil_quota_usage")),
    )
    op.create_table(
        "dukcapil_seeds",
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("residents", sa.Integer(), nullable=False),
        sa.Column(
            "seeded_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_dukcapil_seeds")),
    )


def downgrade() -> None:
    op.drop_table("dukcapil_seeds")
    op.drop_table("dukcapil_quota_usage")
    op.drop_table("dukcapil_resident_photos")
    op.drop_index(op.f("ix_dukcapil_residents_region_code"), table_name="dukcapil_residents")
    op.drop_index(op.f("ix_dukcapil_residents_kk_number"), table_name="dukcapil_residents")
    op.drop_table("dukcapil_residents")
