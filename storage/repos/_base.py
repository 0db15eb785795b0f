"""What every repository shares: the engine, sessions, the SQLite write lock, the vault.

Thread-safety model: each call opens its own short session (``expire_on_commit=False``)
and returns plain records, never ORM instances, so the engine may call the store from
any worker thread. SQLite allows one writer at a time: write transactions are
serialised in-process by a lock and start with ``BEGIN IMMEDIATE`` (so a transaction
never has to upgrade a read lock, and other processes wait on ``busy_timeout``).
PostgreSQL needs neither.
"""

from __future__ import annotations

import contextlib
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import fields
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, CursorResult, Result, make_url
from sqlalchemy.orm import Session, sessionmaker

from .. import jsoncodec
from ..vault import Vault

R = TypeVar("R")

SQLITE_BUSY_TIMEOUT_MS = 10_000
_BEGIN_OPTION = "cellwright_sqlite_begin"


def new_id() -> str:
    """A 32-character id that sorts by creation time: 16 hex digits of time_ns + 16 random."""
    return f"{time.time_ns():016x}{secrets.token_hex(8)}"


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def to_record(cls: type[R], row: Any, **overrides: Any) -> R:
    """Build a record from an ORM row: same-named attributes, plus ``overrides``."""
    values = {
        f.name: overrides[f.name] if f.name in overrides else getattr(row, f.name)
        for f in fields(cls)  # type: ignore[arg-type]
    }
    return cls(**values)


def rowcount(result: Result[Any]) -> int:
    """How many rows an UPDATE or DELETE touched."""
    return int(cast("CursorResult[Any]", result).rowcount)


def like_escape(text: str) -> str:
    """``text`` for a LIKE pattern with escape character ``!``: its ``%`` and ``_`` match
    themselves, not any text (backslashes stay plain: JSON text is full of them)."""
    return text.replace("!", "!!").replace("%", "!%").replace("_", "!_")


def check_choice(value: str, allowed: tuple[str, ...], what: str) -> str:
    """Refuse a value outside ``allowed`` with a clear message (the DB has a CHECK too)."""
    if value not in allowed:
        raise ValueError(f"invalid {what} {value!r}: expected one of {', '.join(allowed)}")
    return value


def make_engine(url: str | URL, *, echo: bool = False) -> Engine:
    """An engine configured for the store (SQLite pragmas and transaction control)."""
    parsed = make_url(url)
    codec = {"json_serializer": jsoncodec.dumps, "json_deserializer": jsoncodec.loads}
    if parsed.get_backend_name() != "sqlite":
        return create_engine(parsed, echo=echo, pool_pre_ping=True, **codec)
    if parsed.database in (None, "", ":memory:") or "mode=memory" in str(parsed):
        raise ValueError(
            "the store needs a file-backed SQLite database (an in-memory one is not shared "
            "between threads): use Store.for_data_dir(tmp_path) or sqlite:///path/to/file.db"
        )
    engine = create_engine(parsed, echo=echo, pool_size=8, max_overflow=24, **codec)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take BEGIN away from the sqlite3 module (it skips it before SELECTs); we
        # emit it in the "begin" hook below, IMMEDIATE for write transactions.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get(_BEGIN_OPTION, "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


class RepoBase:
    """State and helpers shared by the repository mixins that make up ``Store``."""

    _engine: Engine
    _vault: Vault

    def _init_db(self, url: str | URL, vault: Vault, *, echo: bool) -> None:
        self._engine = make_engine(url, echo=echo)
        self._vault = vault
        self.is_sqlite = self._engine.dialect.name == "sqlite"
        #: the hot path's writes straight on the sqlite3 driver (repos/_sqlite_hot.py)
        self.sqlite_driver_writes = self.is_sqlite
        self._write_engine = (
            self._engine.execution_options(**{_BEGIN_OPTION: "IMMEDIATE"})
            if self.is_sqlite
            else self._engine
        )
        self._read_sessions = sessionmaker(self._engine, expire_on_commit=False)
        self._write_sessions = sessionmaker(self._write_engine, expire_on_commit=False)
        self._write_lock: contextlib.AbstractContextManager[Any] = (
            threading.Lock() if self.is_sqlite else contextlib.nullcontext()
        )
        self._batch = threading.local()

    @contextlib.contextmanager
    def _read(self) -> Iterator[Session]:
        """A session for reading; rolled back and closed on exit."""
        with self._read_sessions() as session:
            yield session

    @contextlib.contextmanager
    def _write(self) -> Iterator[Session]:
        """A write transaction: committed on normal exit, rolled back on error."""
        with self._write_lock, self._write_sessions.begin() as session:
            yield session

    @contextlib.contextmanager
    def _write_conn(self) -> Iterator[Connection]:
        """A Core write transaction, for the engine's hot path (no ORM unit of work).

        Inside ``batch()`` (same thread) it is a savepoint of the batch's transaction:
        a failing call rolls back its own writes only.
        """
        current: Connection | None = getattr(self._batch, "conn", None)
        if current is not None:
            if getattr(self._batch, "savepoints", True):
                with current.begin_nested():
                    yield current
            else:
                yield current
            return
        with self._write_lock, self._write_engine.begin() as connection:
            yield connection

    @contextlib.contextmanager
    def batch(self, *, savepoints: bool = True) -> Iterator[None]:
        """Group commit: the hot-path writes made inside share one transaction.

        Only ``_write_conn`` users join the batch (execution creation, node results,
        finishing); nothing is visible to others before the batch commits. With
        ``savepoints`` each call gets its own savepoint, so a failing call rolls back
        only its own writes; without, the caller must treat any exception as the
        whole batch's (the engine then retries the calls one by one).
        """
        with self._write_lock, self._write_engine.begin() as connection:
            self._batch.conn = connection
            self._batch.savepoints = savepoints
            try:
                yield
            finally:
                self._batch.conn = None

    def _batch_conn(self) -> Connection | None:
        return getattr(self._batch, "conn", None)
