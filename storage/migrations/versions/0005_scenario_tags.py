"""Tags on scenarios: ``scenarios.tags``, a JSON list copied from the document.

The workspace and the REST API group and filter scenarios by them. Existing scenarios
start with no tags (their documents have none).

Revision ID: 0005_scenario_tags
Revises: 0004_scenario_secrets
Create Date: 2026-12-22 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005_scenario_tags"
down_revision: str | Sequence[str] | None = "0004_scenario_secrets"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Self-contained on purpose: revisions must not import the models, which move on.
JSON_TYPE = sa.JSON(none_as_null=True).with_variant(
    postgresql.JSONB(none_as_null=True), "postgresql"
)


def upgrade() -> None:
    # NOT NULL with a constant default: a plain ADD COLUMN on both databases that fills
    # existing rows with an empty list
    op.add_column(
        "scenarios",
        sa.Column("tags", JSON_TYPE, nullable=False, server_default=sa.text("'[]'")),
    )


def downgrade() -> None:
    # DROP COLUMN rather than batch mode's table copy (see 0003)
    with op.batch_alter_table("scenarios", recreate="never") as batch:
        batch.drop_column("tags")
