"""Scenarios paused after failures in a row: ``scenarios.status_reason``.

A scenario whose runs fail ``pause_after_failures`` times in a row is paused with the
status ``error``; this column says why (shown on the scenario, returned by the API).
Enabling the scenario again clears it. NULL for every existing row.

Revision ID: 0013_auto_pause
Revises: 0012_node_result_items
Create Date: 2026-12-07 20:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_auto_pause"
down_revision: str | Sequence[str] | None = "0012_node_result_items"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("scenarios", sa.Column("status_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    # DROP COLUMN rather than batch mode's table copy (see 0003)
    with op.batch_alter_table("scenarios", recreate="never") as batch:
        batch.drop_column("status_reason")
