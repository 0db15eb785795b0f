"""The engine's hot-path statements on SQLite, straight on the ``sqlite3`` driver.

A webhook execution writes three times (create, the results of the cells up to its
first action, finish); each write is a few short statements. Through SQLAlchemy Core
each statement costs ~40 µs of Python (execution context, parameter processing, result
setup) against ~7 µs in SQLite itself, and that Python holds the GIL the event loop
needs. These helpers run the same statements on the transaction's own driver
connection (same transaction, same ``BEGIN IMMEDIATE``, same commit) and convert values
exactly as the column types do, so rows read back through SQLAlchemy are identical:

- datetimes: UTC, ``YYYY-MM-DD HH:MM:SS.ffffff`` (SQLAlchemy's SQLite storage format);
  naive ones are refused, as :class:`~storage.models.UTCDateTime` does;
- JSON columns: :func:`storage.jsoncodec.dumps`, Python ``None`` as SQL ``NULL``.

PostgreSQL keeps the SQLAlchemy statements (its driver and types differ).
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import JSON, Connection, Table
from sqlalchemy.exc import DBAPIError

from .. import jsoncodec
from ..models import ExecutionRow, NodeResultRow, UTCDateTime

_EXECUTIONS = cast(Table, ExecutionRow.__table__)
_RESULTS = cast(Table, NodeResultRow.__table__)

Binder = Callable[[Any], Any]


def bind_datetime(value: datetime | None) -> str | None:
    """A datetime as SQLAlchemy stores it in SQLite (UTC, always with microseconds)."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: pass a timezone-aware datetime")
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def read_datetime(value: str | None) -> datetime | None:
    """A stored datetime back as an aware UTC datetime."""
    if value is None:
        return None
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


def bind_json(value: Any) -> str | None:
    return None if value is None else jsoncodec.dumps(value)


def read_json(value: str | None) -> Any:
    return None if value is None else jsoncodec.loads(value)


def _identity(value: Any) -> Any:
    return value


def _binder(table: Table, column: str) -> Binder:
    kind = table.c[column].type
    if isinstance(kind, UTCDateTime):
        return bind_datetime
    if isinstance(kind, JSON):
        return bind_json
    return _identity


def _reader(table: Table, column: str) -> Binder:
    kind = table.c[column].type
    if isinstance(kind, UTCDateTime):
        return read_datetime
    if isinstance(kind, JSON):
        return read_json
    return _identity


class Insert:
    """``INSERT INTO table (columns) VALUES (?, …)`` for dicts holding every column."""

    def __init__(self, table: Table) -> None:
        self.columns = tuple(c.name for c in table.columns)
        self.binders = tuple(_binder(table, c) for c in self.columns)
        marks = ", ".join("?" * len(self.columns))
        # names from the table's metadata, every value bound
        self.sql = f"INSERT INTO {table.name} ({', '.join(self.columns)}) VALUES ({marks})"  # noqa: S608

    def params(self, values: Mapping[str, Any]) -> tuple[Any, ...]:
        return tuple(bind(values[c]) for c, bind in zip(self.columns, self.binders, strict=True))

    def run(self, cursor: sqlite3.Cursor, rows: Sequence[Mapping[str, Any]]) -> None:
        if len(rows) == 1:
            cursor.execute(self.sql, self.params(rows[0]))
        else:
            cursor.executemany(self.sql, [self.params(v) for v in rows])


INSERT_EXECUTION = Insert(_EXECUTIONS)
INSERT_RESULT = Insert(_RESULTS)

NEXT_SEQ = "SELECT coalesce(max(seq), -1) + 1 FROM node_results WHERE execution_id = ?"
START_OF = "SELECT start_time, scenario_id FROM scenario_executions WHERE id = ?"
_EXECUTION_COLUMNS = tuple(c.name for c in _EXECUTIONS.columns)
_EXECUTION_READERS = tuple(_reader(_EXECUTIONS, c) for c in _EXECUTION_COLUMNS)
_RETURNING = ", ".join(_EXECUTION_COLUMNS)  # names from the table's metadata
FINISH = (
    "UPDATE scenario_executions SET status = ?, error = ?, end_time = ?, duration_ms = ?,"  # noqa: S608
    " lease_until = NULL, lease_owner = NULL, next_attempt_at = NULL"
    f" WHERE id = ? RETURNING {_RETURNING}"
)
MOVE_LAST_RUN = (
    "UPDATE scenarios SET last_run = ? WHERE id = ? AND (last_run IS NULL OR last_run < ?)"
)


def execution_values(row: Iterable[Any]) -> dict[str, Any]:
    """A ``RETURNING`` row of :data:`FINISH` as column values (types converted)."""
    return {
        c: read(v) for c, read, v in zip(_EXECUTION_COLUMNS, _EXECUTION_READERS, row, strict=True)
    }


def cursor_of(conn: Connection) -> sqlite3.Cursor:
    """A driver cursor in ``conn``'s transaction."""
    driver = conn.connection.driver_connection
    assert isinstance(driver, sqlite3.Connection)
    return driver.cursor()


@contextlib.contextmanager
def translated() -> Iterator[None]:
    """Driver errors as SQLAlchemy's (``IntegrityError``, ``OperationalError``…), as the
    store raises everywhere else."""
    try:
        yield
    except sqlite3.Error as exc:
        raise DBAPIError.instance(None, None, exc, sqlite3.Error) from exc
