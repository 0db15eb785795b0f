""" "Wait for a call": an execution's resume URL token and the call it received.

``resume_token`` is set when a run of a scenario with a "Wait for a call" cell starts
(unique: the public URL ``/hooks/resume/{token}`` finds the execution by it);
``resume_call`` keeps the one call the token takes (or ``{"timed_out": true}`` once
the wait timed out). NULL for every existing row.

Revision ID: 0014_execution_resume
Revises: 0013_auto_pause
Create Date: 2026-12-07 22:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0014_execution_resume"
down_revision: str | Sequence[str] | None = "0013_auto_pause"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    json = sa.JSON(none_as_null=True).with_variant(
        postgresql.JSONB(none_as_null=True), "postgresql"
    )
    op.add_column(
        "scenario_executions", sa.Column("resume_token", sa.String(length=64), nullable=True)
    )
    op.add_column("scenario_executions", sa.Column("resume_call", json, nullable=True))
    op.create_index(
        op.f("ix_scenario_executions_resume_token"),
        "scenario_executions",
        ["resume_token"],
        unique=True,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_scenario_executions_resume_token"), table_name="scenario_executions")
    # DROP COLUMN rather than batch mode's table copy (see 0003)
    with op.batch_alter_table("scenario_executions", recreate="never") as batch:
        batch.drop_column("resume_call")
        batch.drop_column("resume_token")
