"""Executions count their takeovers: ``scenario_executions.reclaims``.

A claim that finds an execution still ``running`` under an expired lease means the
process that ran it died or stalled. The runner fails an execution taken over more
often than ``max_reclaims`` (a run that brings its server down every time) instead of
running it again forever.

Revision ID: 0004_execution_reclaims
Revises: 0004_accounts
Create Date: 2026-12-20 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_execution_reclaims"
down_revision: str | Sequence[str] | None = "0004_accounts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # NOT NULL with a constant default: a plain ADD COLUMN on both databases
    op.add_column(
        "scenario_executions",
        sa.Column("reclaims", sa.Integer(), nullable=False, server_default="0"),
    )


def downgrade() -> None:
    # ALTER TABLE ... DROP COLUMN (SQLite >= 3.35), as in 0003: no table copy
    with op.batch_alter_table("scenario_executions", recreate="never") as batch:
        batch.drop_column("reclaims")
