"""Sub-scenarios: ``scenario_executions.parent_execution_id``.

A "Run scenario" cell (the built-in Scenarios app) starts a run of another scenario;
that run records the run that called it, so the history shows "called by" and lists a
run's calls. A history pointer, not a foreign key: retention may delete the parent
first. NULL for every existing row.

Revision ID: 0015_sub_scenarios
Revises: 0014_execution_resume
Create Date: 2026-12-07 22:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_sub_scenarios"
down_revision: str | Sequence[str] | None = "0014_execution_resume"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "scenario_executions",
        sa.Column("parent_execution_id", sa.String(length=32), nullable=True),
    )
    op.create_index(
        "ix_scenario_executions_parent_execution_id",
        "scenario_executions",
        ["parent_execution_id"],
    )


def downgrade() -> None:
    op.drop_index("ix_scenario_executions_parent_execution_id", "scenario_executions")
    # DROP COLUMN rather than batch mode's table copy (see 0003)
    with op.batch_alter_table("scenario_executions", recreate="never") as batch:
        batch.drop_column("parent_execution_id")
