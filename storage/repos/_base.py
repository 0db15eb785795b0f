"""What every repository shares: the engine, sessions, the SQLite write lock, the vault.

Thread-safety model: each call opens its own short session (``expire_on_commit=False``)
and returns plain records, never ORM instances, so the engine may call the store from
any worker thread. SQLite allows one writer at a time: write transactions are
serialised by a lock (across threads and processes: ``SqliteWriteLock``) and start
with ``BEGIN IMMEDIATE`` (so a transaction never has to upgrade a read lock).
PostgreSQL needs neither.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
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


def _lock_path(database: str | None) -> str | None:
    return f"{database}.writelock" if database and not database.startswith("file:") else None


class SqliteWriteLock:
    """Serialises a SQLite store's write transactions across threads and processes.

    SQLite lets one writer in at a time; a second process that finds the database
    locked sleeps in the busy handler (1, 2, 5 … up to 100 ms) and tries again, so
    with several serving processes (``cellwright serve --webhook-workers``) a write
    often waited tens of milliseconds after the lock had come free: the p99 of the
    webhook benchmark went from 0.3 s to 1–3 s. Here a writer first takes a lock in
    this process, then an ``flock`` on a file next to the database: it polls that lock
    every 0.2–2 ms, so it starts within about a millisecond of the previous writer's
    commit. The file lock goes with its process, so a killed process never leaves it
    held. SQLite's own lock (and its busy timeout) stays underneath as the guarantee;
    a process that does not know this lock (the ``sqlite3`` shell) still only waits.
    """

    def __init__(self, path: str | None, timeout: float = SQLITE_BUSY_TIMEOUT_MS / 1000) -> None:
        self._threads = threading.Lock()
        self._path = path
        self._timeout = timeout
        self._fd: int | None = None
        self._pid = 0

    def __enter__(self) -> None:
        self._threads.acquire()
        try:
            self._lock_file()
        except BaseException:
            self._threads.release()
            raise

    def __exit__(self, *exc: object) -> None:
        try:
            if self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._threads.release()

    def _lock_file(self) -> None:
        if self._path is None:
            return
        if self._fd is None or self._pid != os.getpid():
            # a forked child needs its own open file: a shared one shares the lock
            self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            self._pid = os.getpid()
        pause, waited = 0.0002, 0.0
        while True:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if waited >= self._timeout:
                    # leave it to SQLite's busy timeout and its "database is locked"
                    return
                time.sleep(pause)
                waited += pause
                pause = min(pause * 2, 0.002)


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
            SqliteWriteLock(_lock_path(self._engine.url.database))
            if self.is_sqlite
            else contextlib.nullcontext()
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
