"""Initial schema: every table of the store.

Revision ID: 0001
Revises:
Create Date: 2026-11-25 18:22:06.837836
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Self-contained on purpose: revisions must not import the models, which move on.
JSON = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")
UTC_DATETIME = sa.DateTime(timezone=True)  # stored in UTC; storage.models.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "apps",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("icon_url", sa.String(), nullable=True),
        sa.Column("category", sa.String(), nullable=True),
        sa.Column("auth_type", sa.String(length=16), nullable=False),
        sa.Column("auth_config", JSON, nullable=False),
        sa.Column("triggers", JSON, nullable=False),
        sa.Column("actions", JSON, nullable=False),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.CheckConstraint(
            "auth_type IN ('oauth2', 'api_key', 'basic', 'custom', 'none')",
            name=op.f("ck_apps_auth_type"),
        ),
        sa.CheckConstraint("source IN ('code', 'user')", name=op.f("ck_apps_source")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_apps")),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(), nullable=True),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("object_type", sa.String(), nullable=False),
        sa.Column("object_id", sa.String(), nullable=True),
        sa.Column("at", UTC_DATETIME, nullable=False),
        sa.Column("details", JSON, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_at"), "audit_log", ["at"])
    op.create_index("ix_audit_log_user_id_at", "audit_log", ["user_id", "at"])

    op.create_table(
        "users",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("email", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("password_hash", sa.String(), nullable=True),
        sa.Column("is_admin", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("prefix", sa.String(length=8), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("last_used_at", UTC_DATETIME, nullable=True),
        sa.Column("revoked_at", UTC_DATETIME, nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_api_keys_user_id"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
    )
    op.create_index(op.f("ix_api_keys_user_id"), "api_keys", ["user_id"])

    op.create_table(
        "connections",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("app_id", sa.String(), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_message", sa.Text(), nullable=True),
        sa.Column("credentials", sa.Text(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.Column("last_used", UTC_DATETIME, nullable=True),
        sa.Column("usage_count", sa.Integer(), nullable=False),
        sa.Column("metadata", JSON, nullable=False),
        sa.Column("is_sandbox", sa.Boolean(), nullable=False),
        sa.CheckConstraint(
            "status IN ('active', 'error', 'disconnected')", name=op.f("ck_connections_status")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_connections_user_id"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_connections")),
    )
    op.create_index("ix_connections_user_id_app_id", "connections", ["user_id", "app_id"])

    op.create_table(
        "scenarios",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.Column("last_run", UTC_DATETIME, nullable=True),
        sa.Column("schedule", JSON, nullable=True),
        sa.Column("error_handling", JSON, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("document", JSON, nullable=False),
        sa.Column("webhook_token", sa.String(), nullable=True),
        sa.CheckConstraint(
            "status IN ('active', 'draft', 'paused', 'error')", name=op.f("ck_scenarios_status")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_scenarios_user_id"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scenarios")),
        sa.UniqueConstraint("webhook_token", name=op.f("uq_scenarios_webhook_token")),
    )
    op.create_index(op.f("ix_scenarios_status"), "scenarios", ["status"])
    op.create_index(op.f("ix_scenarios_user_id"), "scenarios", ["user_id"])

    op.create_table(
        "nodes",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("scenario_id", sa.String(length=32), nullable=False),
        sa.Column("cell_id", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("parent_id", sa.String(length=32), nullable=True),
        sa.Column("branch", sa.String(), nullable=True),
        sa.Column("app_id", sa.String(), nullable=True),
        sa.Column("connection_id", sa.String(), nullable=True),
        sa.Column("operation", sa.String(), nullable=True),
        sa.Column("config", JSON, nullable=True),
        sa.Column("input_mappings", JSON, nullable=True),
        sa.Column("output_mappings", JSON, nullable=True),
        sa.Column("conditions", JSON, nullable=True),
        sa.CheckConstraint(
            "type IN ('trigger', 'action', 'transformer', 'condition')", name=op.f("ck_nodes_type")
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["nodes.id"], name=op.f("fk_nodes_parent_id"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["scenario_id"], ["scenarios.id"], name=op.f("fk_nodes_scenario_id"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_nodes")),
        sa.UniqueConstraint("scenario_id", "cell_id", name=op.f("uq_nodes_scenario_id_cell_id")),
    )
    op.create_index(op.f("ix_nodes_connection_id"), "nodes", ["connection_id"])
    op.create_index(op.f("ix_nodes_parent_id"), "nodes", ["parent_id"])

    op.create_table(
        "scenario_versions",
        sa.Column("scenario_id", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("document", JSON, nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["scenario_id"],
            ["scenarios.id"],
            name=op.f("fk_scenario_versions_scenario_id"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("scenario_id", "version", name=op.f("pk_scenario_versions")),
    )
    op.create_table(
        "trigger_state",
        sa.Column("scenario_id", sa.String(length=32), nullable=False),
        sa.Column("cell_id", sa.String(), nullable=False),
        sa.Column("cursor", JSON, nullable=True),
        sa.Column("seen_ids", JSON, nullable=False),
        sa.Column("baseline_at", UTC_DATETIME, nullable=True),
        sa.Column("next_poll_at", UTC_DATETIME, nullable=True),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["scenario_id"],
            ["scenarios.id"],
            name=op.f("fk_trigger_state_scenario_id"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("scenario_id", "cell_id", name=op.f("pk_trigger_state")),
    )
    op.create_table(
        "webhook_subscriptions",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("scenario_id", sa.String(length=32), nullable=False),
        sa.Column("cell_id", sa.String(), nullable=False),
        sa.Column("token", sa.String(), nullable=False),
        sa.Column("app_id", sa.String(), nullable=False),
        sa.Column("connection_id", sa.String(), nullable=True),
        sa.Column("external_id", sa.String(), nullable=True),
        sa.Column("state", sa.Text(), nullable=True),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["scenario_id"],
            ["scenarios.id"],
            name=op.f("fk_webhook_subscriptions_scenario_id"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_subscriptions")),
        sa.UniqueConstraint("token", name=op.f("uq_webhook_subscriptions_token")),
    )
    op.create_index(
        op.f("ix_webhook_subscriptions_scenario_id"), "webhook_subscriptions", ["scenario_id"]
    )

    op.create_table(
        "scenario_executions",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("scenario_id", sa.String(length=32), nullable=False),
        sa.Column("scenario_version", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("start_time", UTC_DATETIME, nullable=True),
        sa.Column("end_time", UTC_DATETIME, nullable=True),
        sa.Column("duration_ms", sa.Float(), nullable=True),
        sa.Column("trigger", JSON, nullable=True),
        sa.Column("error", JSON, nullable=True),
        sa.Column("idempotency_key", sa.String(), nullable=True),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("lease_until", UTC_DATETIME, nullable=True),
        sa.Column("lease_owner", sa.String(), nullable=True),
        sa.Column("next_attempt_at", UTC_DATETIME, nullable=True),
        sa.Column("rerun_of", sa.String(length=32), nullable=True),
        sa.Column("resume_from", sa.String(), nullable=True),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'waiting', 'completed', 'failed', 'cancelled')",
            name=op.f("ck_scenario_executions_status"),
        ),
        sa.ForeignKeyConstraint(
            ["scenario_id", "scenario_version"],
            ["scenario_versions.scenario_id", "scenario_versions.version"],
            name="fk_scenario_executions_scenario_version",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_scenario_executions_user_id"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scenario_executions")),
        sa.UniqueConstraint(
            "scenario_id",
            "idempotency_key",
            name=op.f("uq_scenario_executions_scenario_id_idempotency_key"),
        ),
    )
    op.create_index("ix_scenario_executions_created_at", "scenario_executions", ["created_at"])
    op.create_index(
        "ix_scenario_executions_scenario_id_created_at",
        "scenario_executions",
        ["scenario_id", "created_at"],
    )
    op.create_index(
        "ix_scenario_executions_status_next_attempt_at_lease_until",
        "scenario_executions",
        ["status", "next_attempt_at", "lease_until"],
    )
    op.create_index(
        "ix_scenario_executions_user_id_created_at",
        "scenario_executions",
        ["user_id", "created_at"],
    )
    op.create_index(
        "ix_scenario_executions_user_id_status_created_at",
        "scenario_executions",
        ["user_id", "status", "created_at"],
    )

    op.create_table(
        "node_results",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("execution_id", sa.String(length=32), nullable=False),
        sa.Column("cell_id", sa.String(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("start_time", UTC_DATETIME, nullable=True),
        sa.Column("end_time", UTC_DATETIME, nullable=True),
        sa.Column("duration_ms", sa.Float(), nullable=True),
        sa.Column("input", JSON, nullable=True),
        sa.Column("output", JSON, nullable=True),
        sa.Column("error", JSON, nullable=True),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'running', 'completed', 'failed', 'skipped')",
            name=op.f("ck_node_results_status"),
        ),
        sa.ForeignKeyConstraint(
            ["execution_id"],
            ["scenario_executions.id"],
            name=op.f("fk_node_results_execution_id"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_node_results")),
        sa.UniqueConstraint("execution_id", "seq", name=op.f("uq_node_results_execution_id_seq")),
    )


def downgrade() -> None:
    for table in (
        "node_results",
        "scenario_executions",
        "webhook_subscriptions",
        "trigger_state",
        "scenario_versions",
        "nodes",
        "scenarios",
        "connections",
        "api_keys",
        "users",
        "audit_log",
        "apps",
    ):
        op.drop_table(table)  # indexes go with their table
