"""Draft and live: ``scenarios.live_version``, the saved version the scenario's trigger runs.

Existing scenarios keep their behaviour: their latest version becomes the live one.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-09 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # a nullable column is a plain ALTER TABLE ... ADD COLUMN on both databases
    op.add_column("scenarios", sa.Column("live_version", sa.Integer(), nullable=True))
    scenarios = sa.table(
        "scenarios", sa.column("version", sa.Integer()), sa.column("live_version", sa.Integer())
    )
    op.execute(scenarios.update().values(live_version=scenarios.c.version))


def downgrade() -> None:
    # ALTER TABLE ... DROP COLUMN (SQLite >= 3.35) rather than batch mode's table copy:
    # dropping and renaming "scenarios" with foreign keys on would cascade to its children
    with op.batch_alter_table("scenarios", recreate="never") as batch:
        batch.drop_column("live_version")
