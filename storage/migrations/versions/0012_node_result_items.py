"""Loop and aggregate cells: ``node_results.item``, and the new kinds in ``nodes.type``.

A loop cell runs its cells once per item; each of those cell runs (and each item's
summary, on the loop cell's own row) records the item it ran for: its index, after the
enclosing loops' indexes (``"2/5"``). NULL for cells outside loops, so existing rows
need nothing. ``nodes.type`` (derived from the documents) accepts ``loop`` and
``aggregate``.

Revision ID: 0012_node_result_items
Revises: 0011_audit_chain
Create Date: 2026-12-07 19:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0012_node_result_items"
down_revision: str | Sequence[str] | None = "0011_audit_chain"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Self-contained on purpose: revisions must not import the models, which move on.
JSON_TYPE = sa.JSON(none_as_null=True).with_variant(
    postgresql.JSONB(none_as_null=True), "postgresql"
)
OLD_TYPES = "type IN ('trigger', 'action', 'transformer', 'condition')"
NEW_TYPES = "type IN ('trigger', 'action', 'transformer', 'condition', 'loop', 'aggregate')"


def _nodes(condition: str) -> sa.Table:
    """ "nodes" as 0001 made it, with ``condition`` as its type check (for SQLite's copy)."""
    meta = sa.MetaData()
    sa.Table("scenarios", meta, sa.Column("id", sa.String(length=32), primary_key=True))
    return sa.Table(
        "nodes",
        meta,
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
        sa.Column("config", JSON_TYPE, nullable=True),
        sa.Column("input_mappings", JSON_TYPE, nullable=True),
        sa.Column("output_mappings", JSON_TYPE, nullable=True),
        sa.Column("conditions", JSON_TYPE, nullable=True),
        sa.CheckConstraint(condition, name="ck_nodes_type"),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["nodes.id"], name="fk_nodes_parent_id", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["scenario_id"], ["scenarios.id"], name="fk_nodes_scenario_id", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_nodes"),
        sa.UniqueConstraint("scenario_id", "cell_id", name="uq_nodes_scenario_id_cell_id"),
        sa.Index("ix_nodes_connection_id", "connection_id"),
        sa.Index("ix_nodes_parent_id", "parent_id"),
    )


def _node_types(condition: str) -> None:
    if op.get_context().dialect.name == "sqlite":
        # SQLite cannot change a CHECK in place: copy "nodes" into a table with the new
        # check. Dropping the old table (foreign keys on, inside the migration's
        # transaction) would cascade to every row whose parent_id names it — the copied
        # rows too — so the parents are set aside and put back after the copy.
        bind = op.get_bind()
        # SQL written out (--sql), not run: nothing to read; the nodes of routers' branches
        # then lose their parent until their scenario is saved again (nodes are derived)
        offline = op.get_context().as_sql
        links = (
            []
            if offline
            else [
                {"id": row[0], "parent": row[1]}
                for row in bind.execute(
                    sa.text("SELECT id, parent_id FROM nodes WHERE parent_id IS NOT NULL")
                )
            ]
        )
        if links:
            op.execute("UPDATE nodes SET parent_id = NULL")
        with op.batch_alter_table("nodes", recreate="always", copy_from=_nodes(condition)):
            pass
        if links:
            bind.execute(sa.text("UPDATE nodes SET parent_id = :parent WHERE id = :id"), links)
        return
    op.drop_constraint(op.f("ck_nodes_type"), "nodes", type_="check")
    op.create_check_constraint(op.f("ck_nodes_type"), "nodes", condition)


def upgrade() -> None:
    op.add_column("node_results", sa.Column("item", sa.String(200), nullable=True))
    _node_types(NEW_TYPES)


def downgrade() -> None:
    # scenarios with loops cannot be described by the old node types: their node rows go
    # (the documents keep the loops; saving them again under this code refuses them)
    op.execute("DELETE FROM nodes WHERE type IN ('loop', 'aggregate')")
    _node_types(OLD_TYPES)
    # DROP COLUMN rather than batch mode's table copy (see 0003)
    with op.batch_alter_table("node_results", recreate="never") as batch:
        batch.drop_column("item")
