"""Secrets typed into cell inputs move to the vault: ``scenario_secrets``.

Documents keep ``{"$secret": <id>}`` in place of the value. Existing plaintext secrets
are moved by the engine on startup (``engine.secrets.seal_existing``): which input
fields are secret is known to the app registry, not to a migration.

Revision ID: 0004_scenario_secrets
Revises: 0004_execution_reclaims
Create Date: 2026-12-20 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_scenario_secrets"
down_revision: str | Sequence[str] | None = "0004_execution_reclaims"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Self-contained on purpose: revisions must not import the models, which move on.
UTC_DATETIME = sa.DateTime(timezone=True)  # stored in UTC; storage.models.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "scenario_secrets",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_scenario_secrets_user_id"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scenario_secrets")),
    )
    op.create_index(op.f("ix_scenario_secrets_user_id"), "scenario_secrets", ["user_id"])


def downgrade() -> None:
    op.drop_table("scenario_secrets")  # its index goes with it
