"""E-mail alerts: an alert rule may name one of its user's SMTP connections and recipients.

``alert_rules.email_connection_id`` (a pointer, not a foreign key, like ``scenario_id``:
a rule whose connection was deleted stays, and its delivery is audited as failed) and
``alert_rules.email_to`` (a JSON list of addresses). Existing rules have neither.

Revision ID: 0008_alert_email
Revises: 0007_file_scenarios
Create Date: 2026-12-07 19:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008_alert_email"
down_revision: str | Sequence[str] | None = "0007_file_scenarios"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Self-contained on purpose: revisions must not import the models, which move on.
JSON_TYPE = sa.JSON(none_as_null=True).with_variant(
    postgresql.JSONB(none_as_null=True), "postgresql"
)


def upgrade() -> None:
    op.add_column(
        "alert_rules", sa.Column("email_connection_id", sa.String(length=32), nullable=True)
    )
    op.add_column("alert_rules", sa.Column("email_to", JSON_TYPE, nullable=True))


def downgrade() -> None:
    # DROP COLUMN rather than batch mode's table copy (see 0003)
    with op.batch_alter_table("alert_rules", recreate="never") as batch:
        batch.drop_column("email_to")
        batch.drop_column("email_connection_id")
