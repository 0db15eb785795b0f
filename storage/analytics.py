"""Analytics log: finished executions and their per-cell results, in a DuckDB file.

The server process owns the file. DuckDB lets exactly one process open a database
file read-write, and while it does no other process can open it at all, so workers
never touch it: every process leaves finished executions in the store's analytics
outbox (written in the transaction that finishes the run), and the log given that
``outbox`` copies it at every flush, then deletes what it copied.

Writes are buffered. Row-at-a-time inserts manage only ~1k rows/s while
``INSERT ... SELECT`` from a pandas frame does hundreds of thousands, so ``record``
only appends to an in-memory buffer and :meth:`AnalyticsLog.flush` writes the buffer
in one transaction. A flush happens when ``batch_size`` rows are buffered, every
``flush_interval`` seconds while :meth:`AnalyticsLog.run_flusher` runs, before every
query (queries see buffered rows) and on close. A flush costs ~14 ms of CPU whatever
its size (building the frames, registering them, the rerun check, commit) plus ~5 µs
a row, and most of it holds the GIL the server's event loop needs: the default batch
(5,000 rows, ~800 webhook runs) leaves the flush interval to decide under a few
hundred runs a second, which keeps that fixed cost near 50 µs a run.

Decisions worth knowing:

* **Re-recording an execution replaces it.** A rerun that finishes again keeps the
  same execution id; the flush deletes the stored execution and its node results and
  inserts the new ones (the last ``record`` call wins, also within one batch). We do
  this at write time rather than deduplicating in every query because reruns are
  rare: every dashboard query stays a plain aggregate, the file keeps no dead rows,
  and the cost is one scan of ``executions.execution_id`` per flush (~1.5 ms per 100k
  executions on a 2-core machine; node results are only touched when a rerun is found).
* **Only ids, statuses, timings, error codes/messages and model token counts are
  stored**, never inputs or outputs (they may hold personal data). Error messages are
  cut to 500 characters. A node's ``usage`` (``model``, ``prompt_tokens``,
  ``completion_tokens``, ``total_tokens``: what an AI step's calls used, also when it
  failed) fills the token columns; other cells leave them NULL.
* **Times are stored as naive UTC.** Aware datetimes are converted, naive ones and ISO
  strings without an offset are taken as UTC; ``runs_per_day`` counts UTC days.
* **Time ranges select runs by their start time**: ``since`` inclusive, ``until``
  exclusive. Node-level queries (apps) use the start time of the node's run, so a run
  is either wholly inside a range or wholly outside it.
* **Deletions come through the store too.** Retention, a deleted account and a data
  subject's erasure change the store in any process; what the log must lose waits in
  the store's ``analytics_deletions`` queue (``deletions``), applied after the outbox at
  every flush: executions by id, a user's rows, or a value replaced by ``[erased]`` in
  the only free-text columns (scenario names and error messages).
* **A failed run without an error of its own** takes the error of its first failed
  node, so ``top_errors`` can say why it failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

import duckdb
import pandas as pd

from storage import analytics_queries as queries
from storage.analytics_queries import AnalyticsQueries
from storage.datadir import private_umask
from storage.records import OutboxEntry
from storage.repos.privacy import ERASED, AnalyticsDeletion

from .statuses import ExecutionStatus

__all__ = ["SCHEMA_VERSION", "AnalyticsLog"]

logger = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 500
MAX_TEXT_CHARS = 200

_EXECUTION_COLUMNS = tuple(
    "execution_id user_id scenario_id scenario_name status started_at ended_at duration_ms"
    " error_code error_message trigger_app attempt".split()
)
_NODE_COLUMNS = tuple(
    "execution_id user_id scenario_id run_started_at position cell_id app operation kind"
    " status started_at ended_at duration_ms error_code error_message"
    " model prompt_tokens completion_tokens total_tokens".split()
)
_TIMESTAMP_COLUMNS = frozenset({"started_at", "ended_at", "run_started_at"})
_FLOAT_COLUMNS = frozenset({"duration_ms"})
_INT_COLUMNS = frozenset(
    {"attempt", "position", "prompt_tokens", "completion_tokens", "total_tokens"}
)

# Migration N (1-based) brings the file from schema version N-1 to N. Append new
# migrations; never edit one that has shipped.
_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE IF NOT EXISTS executions (
            execution_id VARCHAR NOT NULL, user_id VARCHAR NOT NULL,
            scenario_id VARCHAR NOT NULL, scenario_name VARCHAR, status VARCHAR NOT NULL,
            started_at TIMESTAMP, ended_at TIMESTAMP, duration_ms DOUBLE,
            error_code VARCHAR, error_message VARCHAR, trigger_app VARCHAR, attempt INTEGER,
            recorded_at TIMESTAMP NOT NULL)""",
        """CREATE TABLE IF NOT EXISTS node_results (
            execution_id VARCHAR NOT NULL, user_id VARCHAR NOT NULL,
            scenario_id VARCHAR NOT NULL, run_started_at TIMESTAMP, position INTEGER,
            cell_id VARCHAR, app VARCHAR, operation VARCHAR, kind VARCHAR,
            status VARCHAR NOT NULL, started_at TIMESTAMP, ended_at TIMESTAMP,
            duration_ms DOUBLE, error_code VARCHAR, error_message VARCHAR)""",
    ),
    (  # 2: model tokens of AI steps (NULL for cells that call no model)
        "ALTER TABLE node_results ADD COLUMN model VARCHAR",
        "ALTER TABLE node_results ADD COLUMN prompt_tokens BIGINT",
        "ALTER TABLE node_results ADD COLUMN completion_tokens BIGINT",
        "ALTER TABLE node_results ADD COLUMN total_tokens BIGINT",
    ),
)
SCHEMA_VERSION = len(_MIGRATIONS)

Row = tuple[Any, ...]

#: outbox rows taken per DuckDB transaction
OUTBOX_BATCH = 2000


class Outbox(Protocol):
    """Where finished executions wait for the log (the store's analytics outbox)."""

    def take_analytics(self, limit: int = ...) -> list[OutboxEntry]: ...

    def discard_analytics(self, ids: Sequence[int]) -> None: ...


class DeletionQueue(Protocol):
    """Where retention, account deletion and erasure leave what the log must lose
    (the store's ``analytics_deletions``)."""

    def take_analytics_deletions(self, limit: int = ...) -> list[AnalyticsDeletion]: ...

    def discard_analytics_deletions(self, ids: Sequence[int]) -> None: ...


@dataclass(slots=True)
class _Pending:
    execution: Row
    nodes: list[Row]


class AnalyticsLog(AnalyticsQueries):
    """Append-only log of finished executions, queried by the analytics dashboards.

    Open one per process (the server's); it is safe to share between threads and
    with one asyncio flusher task.
    """

    def __init__(
        self,
        path: Path | str,
        *,
        batch_size: int = 5000,
        flush_interval: float = 2.0,
        outbox: Outbox | None = None,
        deletions: DeletionQueue | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if flush_interval <= 0:
            raise ValueError("flush_interval must be positive")
        self.path = path
        self.outbox = outbox
        self.deletions = deletions
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # DuckDB creates the file and its .wal (again after each checkpoint) with the
        # umask's mode: opening and every write run under a private umask (datadir.py)
        with private_umask():
            self._con: duckdb.DuckDBPyConnection | None = duckdb.connect(str(path))
        # Lock order: _db_lock, then _buffer_lock. record() takes only _buffer_lock, so
        # it never waits for a flush or a query.
        self._db_lock = threading.Lock()
        self._buffer_lock = threading.Lock()
        self._buffer: list[_Pending] = []
        self._pending_rows = 0
        self._closed = False
        self._wake: Callable[[], object] | None = None
        self._wake_requested = False
        try:
            with private_umask():
                self._migrate()
        except BaseException:
            self._con.close()  # do not keep the file locked
            raise

    # -- schema --------------------------------------------------------------------

    def _migrate(self) -> None:
        con = self._connection()
        con.execute(
            "CREATE TABLE IF NOT EXISTS schema_version "
            "(version INTEGER NOT NULL, applied_at TIMESTAMP NOT NULL)"
        )
        row = con.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()
        current = int(row[0]) if row else 0
        if current > SCHEMA_VERSION:
            raise RuntimeError(
                f"{self.path} has analytics schema version {current}; this code knows "
                f"only up to {SCHEMA_VERSION}"
            )
        for version in range(current + 1, SCHEMA_VERSION + 1):
            con.begin()
            try:
                for statement in _MIGRATIONS[version - 1]:
                    con.execute(statement)
                con.execute("INSERT INTO schema_version VALUES (?, ?)", [version, _utcnow()])
                con.commit()
            except BaseException:
                con.rollback()
                raise

    def schema_version(self) -> int:
        """The schema version of the open file."""
        with self._db_lock:
            row = self._connection().execute("SELECT max(version) FROM schema_version").fetchone()
        return int(row[0]) if row else 0

    # -- writing -------------------------------------------------------------------

    @property
    def pending_rows(self) -> int:
        """Rows (executions plus node results) buffered and not yet written."""
        return self._pending_rows

    def record(
        self, execution: Mapping[str, Any], node_results: Sequence[Mapping[str, Any]] = ()
    ) -> None:
        """Buffer one finished execution and its node results.

        Thread-safe and cheap: values are normalised here (so bad input fails in the
        caller, not in a later flush) and appended to the buffer. Once ``batch_size``
        rows are buffered the flusher task is woken, or, if none runs, the buffer is
        flushed in the calling thread. Raises ``ValueError`` for input without an
        id, user or scenario, or with an unreadable timestamp.
        """
        nodes = list(node_results)
        execution_row = _execution_row(execution, nodes)
        node_rows = [_node_row(execution_row, i, node) for i, node in enumerate(nodes)]
        wake: Callable[[], object] | None = None
        flush_here = False
        with self._buffer_lock:
            if self._closed:
                raise RuntimeError("the analytics log is closed")
            self._buffer.append(_Pending(execution_row, node_rows))
            self._pending_rows += 1 + len(node_rows)
            if self._pending_rows >= self.batch_size:
                if self._wake is None:
                    flush_here = True
                elif not self._wake_requested:
                    self._wake_requested = True
                    wake = self._wake
        if wake is not None:
            try:
                wake()
            except RuntimeError:  # the flusher's event loop is gone: flush here from now on
                with self._buffer_lock:
                    if self._wake is wake:
                        self._wake, self._wake_requested = None, False
                flush_here = True
        if flush_here:
            try:
                self.flush()
            except Exception:  # analytics must never fail the execution being recorded
                logger.exception("analytics flush failed; rows kept for the next attempt")

    def record_buffered(
        self, execution: Mapping[str, Any], node_results: Sequence[Mapping[str, Any]] = ()
    ) -> None:
        """Buffer one execution for the flush in progress (never flushes itself)."""
        nodes = list(node_results)
        execution_row = _execution_row(execution, nodes)
        node_rows = [_node_row(execution_row, i, node) for i, node in enumerate(nodes)]
        with self._buffer_lock:
            self._buffer.append(_Pending(execution_row, node_rows))
            self._pending_rows += 1 + len(node_rows)

    def flush(self) -> int:
        """Write all buffered rows in one transaction; return the number of rows written.

        On failure the rows go back to the front of the buffer and the error is raised.
        """
        with self._db_lock:
            if self._con is None:
                return 0
            with private_umask():
                return self._flush_locked(self._con)

    def _flush_locked(self, con: duckdb.DuckDBPyConnection) -> int:
        written = self._copy_outbox(con)
        if self.deletions is not None:
            self._apply_deletions(con, self.deletions)
        return written

    def _apply_deletions(self, con: duckdb.DuckDBPyConnection, queue: DeletionQueue) -> None:
        """Apply what retention, account deletion and erasure queued, oldest first."""
        while True:
            items = queue.take_analytics_deletions(100)
            if not items:
                return
            con.begin()
            try:
                for item in items:
                    _apply_deletion(con, item)
                con.commit()
            except BaseException:
                with contextlib.suppress(duckdb.Error):
                    con.rollback()
                raise
            queue.discard_analytics_deletions([item.id for item in items])

    def _copy_outbox(self, con: duckdb.DuckDBPyConnection) -> int:
        if self.outbox is None:
            return self._write_buffer(con)
        # The outbox's rows are written like recorded ones, then discarded. A crash in
        # between writes them again at the next start, which replaces (see above).
        written = 0
        while True:
            entries = self.outbox.take_analytics(OUTBOX_BATCH)
            for entry in entries:
                try:
                    self.record_buffered(entry.execution, entry.nodes)
                except ValueError:  # unreadable: keeping it would block every later flush
                    logger.exception("analytics outbox row %s dropped", entry.id)
            written += self._write_buffer(con)
            self.outbox.discard_analytics([entry.id for entry in entries])
            if len(entries) < OUTBOX_BATCH:
                return written

    def _write_buffer(self, con: duckdb.DuckDBPyConnection) -> int:
        # Taking the batch while holding _db_lock keeps batches in record() order, so
        # the last record() of an execution id is also the last one written.
        with self._buffer_lock:
            batch, self._buffer = self._buffer, []
            taken, self._pending_rows = self._pending_rows, 0
        if not batch:
            return 0
        try:
            latest = {pending.execution[0]: pending for pending in batch}  # last record wins
            executions = _frame(_EXECUTION_COLUMNS, [p.execution for p in latest.values()])
            executions["recorded_at"] = pd.Series(
                [_utcnow()] * len(executions), dtype="datetime64[us]"
            )
            nodes = _frame(_NODE_COLUMNS, [row for p in latest.values() for row in p.nodes])
            con.begin()
            con.register("batch_executions", executions)
            con.register("batch_nodes", nodes)
            if con.execute(queries.RERUN_EXISTS).fetchone():
                con.execute(queries.DELETE_RERUN_NODES)
                con.execute(queries.DELETE_RERUN_EXECUTIONS)
            con.execute(queries.INSERT_EXECUTIONS)
            con.execute(queries.INSERT_NODES)
            con.commit()
        except BaseException:
            with contextlib.suppress(duckdb.Error):  # e.g. the transaction never started
                con.rollback()
            with self._buffer_lock:
                self._buffer[:0] = batch
                self._pending_rows += taken
            raise
        finally:
            con.unregister("batch_executions")
            con.unregister("batch_nodes")
        return len(executions) + len(nodes)

    async def run_flusher(self) -> None:
        """Flush every ``flush_interval`` seconds, and as soon as a batch fills, until
        cancelled; flush once more on cancellation. Flushes run in a worker thread."""
        loop = asyncio.get_running_loop()
        wakeup = asyncio.Event()
        with self._buffer_lock:
            if self._wake is not None:
                raise RuntimeError("a flusher is already running for this analytics log")
            self._wake = lambda: loop.call_soon_threadsafe(wakeup.set)
            self._wake_requested = False
        try:
            while True:
                try:
                    async with asyncio.timeout(self.flush_interval):
                        await wakeup.wait()
                except TimeoutError:
                    pass
                wakeup.clear()
                with self._buffer_lock:
                    self._wake_requested = False
                try:
                    await asyncio.to_thread(self.flush)
                except Exception:
                    logger.exception("analytics flush failed; rows kept for the next attempt")
        finally:
            with self._buffer_lock:
                self._wake = None
            try:
                await asyncio.to_thread(self.flush)
            except Exception:
                logger.exception("final analytics flush failed")

    def close(self) -> None:
        """Flush the buffer and close the file. Idempotent; ``record`` fails afterwards."""
        with self._db_lock:
            with self._buffer_lock:
                self._closed = True
            if self._con is None:
                return
            try:
                with private_umask():
                    self._flush_locked(self._con)
            finally:
                with private_umask():  # closing checkpoints
                    self._con.close()
                self._con = None

    def __enter__(self) -> AnalyticsLog:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- queries (the public ones live in AnalyticsQueries, next to their SQL) -------

    def _query(
        self,
        sql: str,
        user_id: str,
        since: datetime | None,
        until: datetime | None,
        **params: Any,
    ) -> pd.DataFrame:
        if not user_id:
            raise ValueError("user_id is required")
        bound = {
            "user": user_id,
            "since": _timestamp(since, "since"),
            "until": _timestamp(until, "until"),
            **params,
        }
        with self._db_lock:
            con = self._connection()
            with private_umask():
                self._flush_locked(con)  # queries see buffered rows
            return con.execute(sql, bound).df()

    def _query_all(self, sql: str) -> pd.DataFrame:
        """A query over every user's rows (the operator's totals), after a flush."""
        with self._db_lock:
            con = self._connection()
            with private_umask():
                self._flush_locked(con)
            return con.execute(sql).df()

    def _connection(self) -> duckdb.DuckDBPyConnection:
        if self._con is None:
            raise RuntimeError("the analytics log is closed")
        return self._con


_DELETE_EXECUTIONS = (
    "DELETE FROM node_results WHERE list_contains(?, execution_id)",
    "DELETE FROM executions WHERE list_contains(?, execution_id)",
)
_DELETE_USER = (
    "DELETE FROM node_results WHERE user_id = ?",
    "DELETE FROM executions WHERE user_id = ?",
)
# the only free-text columns: scenario names and error messages
_ERASE = (
    "UPDATE executions SET scenario_name = regexp_replace(scenario_name, ?, ?, 'gi')"
    " WHERE scenario_name ILIKE ?",
    "UPDATE executions SET error_message = regexp_replace(error_message, ?, ?, 'gi')"
    " WHERE error_message ILIKE ?",
    "UPDATE node_results SET error_message = regexp_replace(error_message, ?, ?, 'gi')"
    " WHERE error_message ILIKE ?",
)


def _apply_deletion(con: duckdb.DuckDBPyConnection, item: AnalyticsDeletion) -> None:
    if item.kind == "executions":
        for sql in _DELETE_EXECUTIONS:
            con.execute(sql, [list(item.ids)])
    elif item.kind == "user":
        for sql in _DELETE_USER:
            con.execute(sql, [item.target])
    elif item.kind == "erase":
        params = [re.escape(item.target), ERASED, f"%{item.target}%"]
        for sql in _ERASE:
            con.execute(sql, params)
    else:
        logger.warning("unknown analytics deletion %r skipped", item.kind)


# -- normalisation -------------------------------------------------------------------


def _execution_row(execution: Mapping[str, Any], nodes: Sequence[Mapping[str, Any]]) -> Row:
    execution_id = _required(execution, "id")
    started_at = _timestamp(execution.get("started_at"), "started_at")
    ended_at = _timestamp(execution.get("ended_at"), "ended_at")
    status = _text(execution.get("status")) or "unknown"
    error = execution.get("error")
    if error is None and status == ExecutionStatus.FAILED:
        error = next((n.get("error") for n in nodes if n.get("error") is not None), None)
    code, message = _error(error)
    return (
        execution_id,
        _required(execution, "user_id"),
        _required(execution, "scenario_id"),
        _text(execution.get("scenario_name")),
        status,
        started_at or ended_at,  # a run needs a time to appear in time ranges
        ended_at,
        _duration(execution.get("duration_ms"), started_at, ended_at),
        code,
        message,
        _text(execution.get("trigger_app")),
        _integer(execution.get("attempt")),
    )


def _node_row(execution: Row, position: int, node: Mapping[str, Any]) -> Row:
    started_at = _timestamp(node.get("started_at"), "node started_at")
    ended_at = _timestamp(node.get("ended_at"), "node ended_at")
    code, message = _error(node.get("error"))
    usage = node.get("usage")
    if not isinstance(usage, Mapping):
        usage = {}
    prompt, completion = _count(usage.get("prompt_tokens")), _count(usage.get("completion_tokens"))
    total = _count(usage.get("total_tokens"))
    if total is None and (prompt is not None or completion is not None):
        total = (prompt or 0) + (completion or 0)
    return (
        execution[0],
        execution[1],
        execution[2],
        execution[5],
        position,
        _text(node.get("cell_id")),
        _text(node.get("app")),
        _text(node.get("operation")),
        _text(node.get("kind")),
        _text(node.get("status")) or "unknown",
        started_at,
        ended_at,
        _duration(node.get("duration_ms"), started_at, ended_at),
        code,
        message,
        _text(usage.get("model")),
        prompt,
        completion,
        total,
    )


def _frame(columns: Sequence[str], rows: Sequence[Row]) -> pd.DataFrame:
    # Explicit dtypes: a column of only None would otherwise have no type DuckDB can use.
    data: dict[str, pd.Series] = {}
    for index, name in enumerate(columns):
        values = [row[index] for row in rows]
        if name in _TIMESTAMP_COLUMNS:
            data[name] = pd.Series(values, dtype="datetime64[us]")
        elif name in _FLOAT_COLUMNS:
            data[name] = pd.Series(values, dtype="float64")
        elif name in _INT_COLUMNS:
            data[name] = pd.Series(values, dtype="Int64")
        else:
            data[name] = pd.Series(values, dtype=object)
    return pd.DataFrame(data)


def _required(mapping: Mapping[str, Any], key: str) -> str:
    value = _text(mapping.get(key))
    if not value:
        raise ValueError(f"execution {key!r} is required")
    return value


def _text(value: Any, limit: int = MAX_TEXT_CHARS) -> str | None:
    return None if value is None else str(value)[:limit]


def _error(error: Any) -> tuple[str | None, str | None]:
    if error is None:
        return None, None
    if isinstance(error, Mapping):
        return _text(error.get("code")), _text(error.get("message"), MAX_MESSAGE_CHARS)
    return None, _text(error, MAX_MESSAGE_CHARS)


def _timestamp(value: Any, field: str) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{field}: not an ISO 8601 timestamp: {value!r}") from None
    else:
        raise ValueError(f"{field}: expected a datetime or ISO string, got {type(value).__name__}")
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def _duration(value: Any, started_at: datetime | None, ended_at: datetime | None) -> float | None:
    if value is not None:
        return float(value)
    if started_at is not None and ended_at is not None:
        return (ended_at - started_at).total_seconds() * 1000.0
    return None


def _integer(value: Any) -> int | None:
    return None if value is None else int(value)


def _count(value: Any) -> int | None:
    """A token count: a non-negative integer, or None."""
    if value is None or isinstance(value, bool):
        return None
    count = int(value)
    if count < 0:
        raise ValueError(f"token counts cannot be negative: {count}")
    return count


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)
