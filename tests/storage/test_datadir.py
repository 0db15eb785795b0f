"""The data directory is private: the directory 0700, every file in it 0600 — the
store and SQLite's -wal/-shm, the DuckDB file and its .wal, keys, the admin password,
the serve lock — whatever the process' umask."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from storage.datadir import make_private_dir


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The usual umask (files 0644): what the data directory must not depend on."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


async def test_a_fresh_data_directory_is_private(
    open_umask: None, make_settings: Callable[..., Any], registry: Any
) -> None:
    from engine.service import Cellwright
    from storage.datadir import hold_serve_lock
    from workspace import sessions

    settings = make_settings(analytics=True)
    data = settings.data_dir
    assert not data.exists()
    svc = Cellwright(settings, apps=registry)
    await svc.start(scheduler=False)
    lock = hold_serve_lock(data)
    try:
        user = svc.store.create_user("ada@example.com")  # a write: SQLite's -wal and -shm
        assert sessions.ensure_admin(svc)  # admin-password.txt
        sessions.Sessions(data, svc.store)  # session.key
        for run in range(2):
            # DuckDB recreates its .wal after a checkpoint: both times it must be private
            svc.analytics.record(
                {
                    "id": f"e{run}",
                    "user_id": user.id,
                    "scenario_id": "s",
                    "status": "completed",
                    "started_at": "2026-01-01T00:00:00",
                }
            )
            svc.analytics.flush()
            if run == 0:
                svc.analytics._connection().execute("CHECKPOINT")
        names = {p.name for p in data.iterdir()}
        expected = {
            "cellwright.db",
            "cellwright.db-wal",
            "cellwright.db-shm",
            "analytics.duckdb",
            "analytics.duckdb.wal",
            "vault.key",
            "session.key",
            "admin-password.txt",
            "serve.lock",
        }
        assert expected <= names
        assert mode(data) == 0o700
        assert {p.name: oct(mode(p)) for p in data.iterdir()} == {
            name: oct(0o600) for name in names
        }
    finally:
        lock.close()
        await svc.stop()
        svc.close()
    assert os.umask(0o022) == 0o022  # the process' own umask is left as it was


def test_an_older_install_is_tightened_and_other_files_are_left_alone(
    open_umask: None, tmp_path: Path
) -> None:
    data = tmp_path / "old"
    data.mkdir(mode=0o755)
    data.chmod(0o755)
    for name in (
        "cellwright.db",
        "cellwright.db-wal",
        "analytics.duckdb",
        "analytics.duckdb.wal",
        "notes.txt",
    ):
        (data / name).write_text("x")
        (data / name).chmod(0o644)
    make_private_dir(data)
    assert mode(data) == 0o700
    assert {p.name: oct(mode(p)) for p in data.iterdir()} == {
        "cellwright.db": "0o600",
        "cellwright.db-wal": "0o600",
        "analytics.duckdb": "0o600",
        "analytics.duckdb.wal": "0o600",
        "notes.txt": "0o644",  # not Cellwright's: untouched
    }
