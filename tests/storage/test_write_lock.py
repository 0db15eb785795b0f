"""The SQLite store's write lock holds across processes, and a dead holder frees it.

Several serving processes (``cellwright serve --webhook-workers``) write to one SQLite
file. Their writers queue on a file lock next to the database, so one starts as soon as
the previous one commits instead of sleeping in SQLite's busy handler.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

from storage.repos._base import SqliteWriteLock

HOLDER = """
import sys
from storage.repos._base import SqliteWriteLock
lock = SqliteWriteLock(sys.argv[1])
with lock:
    print("held", flush=True)
    sys.stdin.readline()
print("released", flush=True)
sys.stdin.readline()
"""


def _holder(path: Path) -> subprocess.Popen[str]:
    child = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert child.stdout is not None and child.stdout.readline().strip() == "held"
    return child


def _acquire_in_thread(lock: SqliteWriteLock) -> tuple[threading.Thread, threading.Event]:
    got = threading.Event()

    def take() -> None:
        with lock:
            got.set()

    thread = threading.Thread(target=take, daemon=True)
    thread.start()
    return thread, got


def test_a_writer_waits_for_another_process_and_starts_when_it_commits(tmp_path: Path) -> None:
    path = tmp_path / "store.db.writelock"
    child = _holder(path)
    try:
        thread, got = _acquire_in_thread(SqliteWriteLock(str(path)))
        assert not got.wait(0.3), "took the lock while another process held it"
        assert child.stdin is not None and child.stdout is not None
        child.stdin.write("\n")
        child.stdin.flush()
        assert child.stdout.readline().strip() == "released"
        assert got.wait(10), "never took the lock after the other process released it"
        thread.join(10)
    finally:
        child.kill()
        child.wait()


def test_a_killed_holder_leaves_the_lock_free(tmp_path: Path) -> None:
    path = tmp_path / "store.db.writelock"
    child = _holder(path)
    thread, got = _acquire_in_thread(SqliteWriteLock(str(path)))
    assert not got.wait(0.3)
    child.kill()
    child.wait()
    assert got.wait(10), "the lock stayed taken after its holder was killed"
    thread.join(10)


def test_past_its_timeout_a_writer_leaves_the_wait_to_sqlite(tmp_path: Path) -> None:
    # a stuck holder does not hang the writer: it goes on to SQLite's busy timeout,
    # which ends in "database is locked" rather than waiting forever
    path = tmp_path / "store.db.writelock"
    child = _holder(path)
    try:
        thread, got = _acquire_in_thread(SqliteWriteLock(str(path), timeout=0.05))
        assert got.wait(10)
        thread.join(10)
    finally:
        child.kill()
        child.wait()


def test_threads_of_one_process_take_turns(tmp_path: Path) -> None:
    lock = SqliteWriteLock(str(tmp_path / "store.db.writelock"))
    inside = 0
    most = 0
    guard = threading.Lock()

    def work() -> None:
        nonlocal inside, most
        for _ in range(200):
            with lock:
                with guard:
                    inside += 1
                    most = max(most, inside)
                with guard:
                    inside -= 1

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most == 1
