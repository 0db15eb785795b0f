"""Sign-outs and sign-in throttling in the store; hop counts on executions.

- ``revoked_sessions``: signed-out session cookies, so every process sharing the store
  refuses them (they were kept in a file read once at start-up).
- ``login_failures``: failed sign-ins, so the throttle holds across processes.
- ``scenario_executions.hops``: how many Cellwright-to-Cellwright webhook calls led to
  an execution (``X-Cellwright-Hops``); existing executions start at 0.

Revision ID: 0004_accounts
Revises: 0004
Create Date: 2026-12-20 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_accounts"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Self-contained on purpose: revisions must not import the models, which move on.
UTC_DATETIME = sa.DateTime(timezone=True)  # stored in UTC; storage.models.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "revoked_sessions",
        sa.Column("nonce", sa.String(length=32), nullable=False),
        sa.Column("expires_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("nonce", name=op.f("pk_revoked_sessions")),
    )
    op.create_index(op.f("ix_revoked_sessions_expires_at"), "revoked_sessions", ["expires_at"])
    op.create_table(
        "login_failures",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_failures")),
    )
    op.create_index("ix_login_failures_key_at", "login_failures", ["key", "at"])
    op.create_index(op.f("ix_login_failures_at"), "login_failures", ["at"])
    # NOT NULL with a default: a plain ALTER TABLE ... ADD COLUMN on both databases
    op.add_column(
        "scenario_executions",
        sa.Column("hops", sa.Integer(), server_default="0", nullable=False),
    )


def downgrade() -> None:
    # ALTER TABLE ... DROP COLUMN (SQLite >= 3.35), as in 0003: no table copy
    with op.batch_alter_table("scenario_executions", recreate="never") as batch:
        batch.drop_column("hops")
    op.drop_table("login_failures")  # its indexes go with it
    op.drop_table("revoked_sessions")
