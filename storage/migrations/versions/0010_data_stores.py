"""Data stores: a user's named tables of keyed records (``data_stores``, ``data_records``).

Revision ID: 0010_data_stores
Revises: 0009_leases
Create Date: 2026-12-23 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010_data_stores"
down_revision: str | Sequence[str] | None = "0009_leases"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Self-contained on purpose: revisions must not import the models, which move on.
UTC_DATETIME = sa.DateTime(timezone=True)  # stored in UTC; storage.models.UTCDateTime
JSON_TYPE = sa.JSON(none_as_null=True).with_variant(
    postgresql.JSONB(none_as_null=True), "postgresql"
)


def upgrade() -> None:
    op.create_table(
        "data_stores",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_data_stores_user_id"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_stores")),
        sa.UniqueConstraint("user_id", "name", name=op.f("uq_data_stores_user_id_name")),
    )
    op.create_index(op.f("ix_data_stores_user_id"), "data_stores", ["user_id"])
    op.create_table(
        "data_records",
        sa.Column("store_id", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("value", JSON_TYPE, nullable=True),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["store_id"],
            ["data_stores.id"],
            name=op.f("fk_data_records_store_id"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("store_id", "key", name=op.f("pk_data_records")),
    )


def downgrade() -> None:
    op.drop_table("data_records")
    op.drop_table("data_stores")  # its index goes with it
