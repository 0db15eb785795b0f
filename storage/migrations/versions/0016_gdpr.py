"""GDPR and retention: per-subject retention policies and the analytics deletion queue.

``retention_policies``: a retention period that overrides the server's
(``CELLWRIGHT_RETENTION_DAYS``) for one subject. The subject is a user today
(``subject_type`` 'user'); a team can become another subject type without a new table.

``analytics_deletions``: what must go from the DuckDB analytics log (executions removed
by retention, a deleted account, a data subject's erased value), waiting for the process
that owns the file; that process applies and deletes the rows at its next flush.

Revision ID: 0016_gdpr
Revises: 0015_sub_scenarios
Create Date: 2026-12-07 22:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_gdpr"
down_revision: str | Sequence[str] | None = "0015_sub_scenarios"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = sa.DateTime(timezone=True)  # stored in UTC; storage.models.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "retention_policies",
        sa.Column("subject_type", sa.String(length=16), nullable=False),
        sa.Column("subject_id", sa.String(length=32), nullable=False),
        sa.Column("retention_days", sa.Integer(), nullable=True),
        sa.Column("retention_failed_days", sa.Integer(), nullable=True),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("subject_type", "subject_id", name="pk_retention_policies"),
    )
    op.create_table(
        "analytics_deletions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_analytics_deletions"),
    )


def downgrade() -> None:
    op.drop_table("analytics_deletions")
    op.drop_table("retention_policies")
