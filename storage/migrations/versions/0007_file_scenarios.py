"""Scenarios run from a file: ``scenarios.source_file``.

``cellwright run FILE`` keeps its runs (history, analytics) under one hidden scenario
per user and file, named by the file's absolute path here; scenario lists leave such
scenarios out, so running a file never leaves a draft behind in the workspace.

Revision ID: 0007_file_scenarios
Revises: 0006_analytics_outbox
Create Date: 2027-01-05 11:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_file_scenarios"
down_revision: str | Sequence[str] | None = "0006_analytics_outbox"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("scenarios", sa.Column("source_file", sa.String(), nullable=True))


def downgrade() -> None:
    # DROP COLUMN rather than batch mode's table copy (see 0003)
    with op.batch_alter_table("scenarios", recreate="never") as batch:
        batch.drop_column("source_file")
