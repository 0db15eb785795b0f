"""The audit trail becomes a hash chain with its origin: ``audit_log.seq``,
``prev_hash``, ``hash``, ``actor_id``, ``source``, ``ip``.

Existing entries are chained in the order they were written (``at``, then ``id``);
their actor is the user they are about and their source ``system`` (the front end was
not recorded before).

Revision ID: 0011_audit_chain
Revises: 0010_data_stores
Create Date: 2026-12-23 10:00:00.000000
"""

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0011_audit_chain"
down_revision: str | Sequence[str] | None = "0010_data_stores"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Self-contained on purpose: revisions must not import the models, which move on. The
# hash is storage.audit_chain.entry_hash as of this revision (a test verifies the chain
# this migration writes with the store's own check).
JSON_TYPE = sa.JSON(none_as_null=True).with_variant(
    postgresql.JSONB(none_as_null=True), "postgresql"
)
GENESIS = "0" * 64


def _hash(prev_hash: str, entry: dict[str, Any]) -> str:
    at: datetime = entry["at"]
    at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    body = {**entry, "at": at.isoformat(timespec="microseconds")}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{prev_hash}\n{text}".encode()).hexdigest()


def upgrade() -> None:
    with op.batch_alter_table("audit_log", recreate="never") as batch:
        batch.add_column(sa.Column("seq", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("actor_id", sa.String(), nullable=True))
        batch.add_column(sa.Column("source", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("ip", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("hash", sa.String(length=64), nullable=True))

    audit = sa.table(
        "audit_log",
        sa.column("id", sa.String()),
        sa.column("seq", sa.BigInteger()),
        sa.column("user_id", sa.String()),
        sa.column("actor_id", sa.String()),
        sa.column("action", sa.String()),
        sa.column("object_type", sa.String()),
        sa.column("object_id", sa.String()),
        sa.column("at", sa.DateTime(timezone=True)),
        sa.column("details", JSON_TYPE),
        sa.column("source", sa.String()),
        sa.column("ip", sa.String()),
        sa.column("prev_hash", sa.String()),
        sa.column("hash", sa.String()),
    )
    if op.get_context().as_sql:
        # offline SQL (alembic upgrade --sql) is for new databases: there is nothing to
        # chain, and hashes cannot be computed without reading the rows
        rows = []
    else:
        rows = _existing(audit)
    bind = op.get_bind()
    prev = GENESIS
    for seq, row in enumerate(rows, start=1):
        details = row.details
        if isinstance(details, str):  # a driver that hands JSON back as text
            details = json.loads(details)
        entry = {
            "seq": seq,
            "id": row.id,
            "at": row.at,
            "user_id": row.user_id,
            "actor_id": row.user_id,
            "action": row.action,
            "object_type": row.object_type,
            "object_id": row.object_id,
            "source": "system",
            "ip": None,
            "details": details,
        }
        digest = _hash(prev, entry)
        bind.execute(
            sa.update(audit)
            .where(audit.c.id == row.id)
            .values(
                seq=seq,
                actor_id=row.user_id,
                source="system",
                prev_hash=prev,
                hash=digest,
            )
        )
        prev = digest

    # offline SQL for SQLite cannot reflect the table it copies: describe it
    copy_from = _table_after_add() if op.get_context().as_sql else None
    with op.batch_alter_table("audit_log", copy_from=copy_from) as batch:
        for name in ("seq", "source", "prev_hash", "hash"):
            batch.alter_column(name, existing_type=_TYPES[name], nullable=False)
        batch.create_unique_constraint(op.f("uq_audit_log_seq"), ["seq"])
        batch.create_check_constraint(
            op.f("ck_audit_log_source"), "source IN ('workspace', 'api', 'cli', 'system')"
        )
        batch.create_index(op.f("ix_audit_log_actor_id"), ["actor_id"])


def _table_after_add() -> sa.Table:
    """``audit_log`` as 0001 made it, with this revision's columns added (nullable)."""
    return sa.Table(
        "audit_log",
        sa.MetaData(),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(), nullable=True),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("object_type", sa.String(), nullable=False),
        sa.Column("object_id", sa.String(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("details", JSON_TYPE, nullable=True),
        sa.Column("seq", sa.BigInteger(), nullable=True),
        sa.Column("actor_id", sa.String(), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=True),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("prev_hash", sa.String(length=64), nullable=True),
        sa.Column("hash", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
        sa.Index("ix_audit_log_at", "at"),
        sa.Index("ix_audit_log_user_id_at", "user_id", "at"),
    )


def _existing(audit: Any) -> list[Any]:
    return list(
        op.get_bind()
        .execute(
            sa.select(
                audit.c.id,
                audit.c.user_id,
                audit.c.action,
                audit.c.object_type,
                audit.c.object_id,
                audit.c.at,
                audit.c.details,
            ).order_by(audit.c.at, audit.c.id)
        )
        .all()
    )


_TYPES: dict[str, sa.types.TypeEngine[Any]] = {
    "seq": sa.BigInteger(),
    "source": sa.String(length=16),
    "prev_hash": sa.String(length=64),
    "hash": sa.String(length=64),
}


def downgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_index(op.f("ix_audit_log_actor_id"))
        batch.drop_constraint(op.f("ck_audit_log_source"), type_="check")
        batch.drop_constraint(op.f("uq_audit_log_seq"), type_="unique")
        for name in ("hash", "prev_hash", "ip", "source", "actor_id", "seq"):
            batch.drop_column(name)
