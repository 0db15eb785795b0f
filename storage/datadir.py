"""The data directory: private to the account Cellwright runs as, served by one process.

Everything in it is a secret or personal data (the store, the vault and session keys,
the analytics file), so the directory is made 0700 and Cellwright's files 0600:

- files Cellwright writes itself are created 0600 (``create_private_file``);
- SQLite creates its ``-wal`` and ``-shm`` files with the mode of the database file,
  so the database is created 0600 before SQLite first opens it;
- DuckDB creates ``analytics.duckdb`` and recreates its ``.wal`` after every checkpoint
  with the process' umask: its writes run under ``private_umask()``;
- files of an older install that are readable by others are tightened at start-up
  (``make_private_dir``), by name only, so a data directory pointed at a shared
  folder never has other people's files changed.

``hold_serve_lock`` keeps a second ``cellwright serve`` off a data directory that one
already serves: the analytics file admits one writer, and a second process silently ran
without it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO

log = logging.getLogger("cellwright.datadir")

DIR_MODE = 0o700
FILE_MODE = 0o600
SERVE_LOCK_FILENAME = "serve.lock"
#: names (and name prefixes: "-wal", "-shm", ".wal", ".tmp" follow them) of Cellwright's files
OWN_FILES = (
    "cellwright.db",
    "analytics.duckdb",
    "vault.key",
    "session.key",
    "admin-password.txt",
    "sessions-revoked.json",
    SERVE_LOCK_FILENAME,
)

# umask is per process: one change at a time, and always restored.
_UMASK_LOCK = threading.RLock()


class DataDirInUse(OSError):
    """Another ``cellwright serve`` holds the data directory."""


def make_private_dir(path: Path) -> Path:
    """Create ``path`` (mode 0700) or make an existing one 0700; tighten Cellwright's
    files in it that others could read (installs older than this rule)."""
    path = Path(path)
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    _tighten(path, DIR_MODE)
    with os.scandir(path) as entries:
        for entry in entries:
            if entry.name.startswith(OWN_FILES) and entry.is_file(follow_symlinks=False):
                _tighten(Path(entry.path), FILE_MODE)
    return path


def _tighten(path: Path, mode: int) -> None:
    try:
        current = stat.S_IMODE(path.stat().st_mode)
        if current & 0o077:
            path.chmod(mode)
            log.info("made %s private (mode %o, was %o)", path, mode, current)
    except OSError as exc:  # not ours (another owner) or gone: say so, do not stop
        log.warning("cannot make %s private: %s", path, exc)


def create_private_file(path: Path) -> None:
    """Create an empty file with mode 0600 unless it exists (so a library that opens it
    next keeps that mode)."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    except FileExistsError:
        pass


@contextlib.contextmanager
def private_umask() -> Iterator[None]:
    """Files created inside (by any thread of the process) get no group or other
    permissions. For libraries that create files with the umask's mode (DuckDB)."""
    with _UMASK_LOCK:
        previous = os.umask(0o077)
        try:
            yield
        finally:
            os.umask(previous)


def hold_serve_lock(data_dir: Path) -> IO[str]:
    """Lock ``<data_dir>/serve.lock`` for this process' lifetime (keep the returned file
    open); raise :class:`DataDirInUse`, naming the other process, when it is held.

    An advisory ``flock``: the kernel releases it when the process ends, however it
    ends, so a crashed server never leaves a stale lock behind.
    """
    import fcntl  # POSIX only, like the rest of serving

    path = Path(data_dir) / SERVE_LOCK_FILENAME
    handle = os.fdopen(os.open(path, os.O_RDWR | os.O_CREAT, FILE_MODE), "r+", encoding="utf-8")
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        other = handle.read().strip()
        handle.close()
        who = (
            f"another Cellwright server (pid {other})"
            if other.isdigit()
            else "another Cellwright server"
        )
        raise DataDirInUse(
            f"{who} is already serving the data directory {data_dir}. "
            "Stop it first, or give this one its own --data-dir (CELLWRIGHT_DATA_DIR)."
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle
