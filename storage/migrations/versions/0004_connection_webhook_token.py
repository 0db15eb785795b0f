"""One webhook URL per connection: ``connections.webhook_token``.

For apps whose vendor sends every event of a connection to one URL (a Slack app has a
single Events API Request URL): ``/hooks/apps/<app>/<token>``. The token is created
when the URL is first shown, so existing connections start without one.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-16 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # a nullable column and a unique index: plain ADD COLUMN / CREATE INDEX on both
    # databases (a UNIQUE constraint would make SQLite copy the table)
    op.add_column("connections", sa.Column("webhook_token", sa.String(), nullable=True))
    op.create_index(
        op.f("ix_connections_webhook_token"), "connections", ["webhook_token"], unique=True
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_connections_webhook_token"), table_name="connections")
    # ALTER TABLE ... DROP COLUMN (SQLite >= 3.35), as in 0003: no table copy
    with op.batch_alter_table("connections", recreate="never") as batch:
        batch.drop_column("webhook_token")
