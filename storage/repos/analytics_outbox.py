"""The analytics outbox: finished executions waiting to be copied into DuckDB.

``finish_execution`` writes a row in the transaction that finishes the execution (so a
finished execution always has its analytics row, whichever process ran it); the process
that owns the DuckDB file takes rows in id order, writes them there, and discards them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, delete, func, insert, select

from .. import jsoncodec
from ..models import AnalyticsOutboxRow
from ..records import AnalyticsFacts, Execution, OutboxEntry
from . import _sqlite_hot as hot
from ._base import RepoBase, utcnow

_OUTBOX = cast(Table, AnalyticsOutboxRow.__table__)
_INSERT = insert(_OUTBOX)
_INSERT_SQLITE = "INSERT INTO analytics_outbox (execution_id, payload, created_at) VALUES (?, ?, ?)"


def outbox_payload(execution: Execution, facts: AnalyticsFacts) -> str:
    """The outbox row's JSON for a finished execution and the engine's facts about it."""
    error = execution.error or None
    return jsoncodec.dumps(
        {
            "execution": {
                "id": execution.id,
                "scenario_id": execution.scenario_id,
                "scenario_name": facts["scenario_name"],
                "user_id": execution.user_id,
                "status": execution.status,
                "started_at": _iso(execution.start_time),
                "ended_at": _iso(execution.end_time),
                "duration_ms": execution.duration_ms,
                "error": error,
                "trigger_app": facts["trigger_app"],
                "attempt": execution.attempt,
            },
            "nodes": [
                {
                    **node,
                    "started_at": _iso(node["started_at"]),
                    "ended_at": _iso(node["ended_at"]),
                }
                for node in facts["nodes"]
            ],
        }
    )


def write_outbox(conn: Connection, execution: Execution, facts: AnalyticsFacts) -> None:
    """Add the execution's outbox row in the caller's transaction (either database)."""
    conn.execute(
        _INSERT,
        {
            "execution_id": execution.id,
            "payload": outbox_payload(execution, facts),
            "created_at": utcnow(),
        },
    )


def write_outbox_sqlite(
    cursor: sqlite3.Cursor, execution: Execution, facts: AnalyticsFacts
) -> None:
    """:func:`write_outbox` on the SQLite driver (the hot path)."""
    cursor.execute(
        _INSERT_SQLITE,
        (execution.id, outbox_payload(execution, facts), hot.bind_datetime(utcnow())),
    )


class AnalyticsOutboxRepo(RepoBase):
    """Taking and discarding outbox rows (the analytics log's owner does this)."""

    def take_analytics(self, limit: int = 2000) -> list[OutboxEntry]:
        """The oldest ``limit`` rows, left in place until :meth:`discard_analytics`."""
        stmt = select(_OUTBOX.c.id, _OUTBOX.c.payload).order_by(_OUTBOX.c.id).limit(limit)
        with self._read() as session:
            rows = session.execute(stmt).all()
        entries = []
        for row in rows:
            data: dict[str, Any] = jsoncodec.loads(row.payload)
            entries.append(OutboxEntry(id=row.id, execution=data["execution"], nodes=data["nodes"]))
        return entries

    def discard_analytics(self, ids: Sequence[int]) -> None:
        """Delete rows that have been copied (by id: others may have committed since)."""
        if not ids:
            return
        stmt = delete(_OUTBOX).where(_OUTBOX.c.id.in_(bindparam("ids", expanding=True)))
        with self._write_conn() as conn:
            conn.execute(stmt, {"ids": list(ids)})

    def analytics_backlog(self) -> int:
        """How many finished executions wait to be copied into the analytics log."""
        with self._read() as session:
            return int(session.execute(select(func.count()).select_from(_OUTBOX)).scalar_one())


def _iso(value: datetime | str | None) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else value
