"""The analytics outbox: ``analytics_outbox``.

Every finished execution leaves its analytics facts (ids, statuses, timings, error
codes; never inputs or outputs) here, in the transaction that finishes it. The process
that owns the DuckDB analytics file copies them over and deletes them, so executions run
by any process reach the dashboards, and none is lost when a process dies.

Revision ID: 0006_analytics_outbox
Revises: 0005_scenario_tags
Create Date: 2027-01-05 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_analytics_outbox"
down_revision: str | Sequence[str] | None = "0005_scenario_tags"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "analytics_outbox",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("execution_id", sa.String(length=32), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_analytics_outbox"),
    )


def downgrade() -> None:
    op.drop_table("analytics_outbox")
