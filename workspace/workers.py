"""Webhook workers: extra processes that answer ``/hooks/`` (and the REST API) on a port
they share, so webhook traffic uses every core.

The workspace stays in the server process: a Bokeh session lives in the memory of the
process that rendered its page, so its WebSocket must reach that same process, which a
port shared by several processes cannot promise. Webhooks and the REST API keep no
state between requests: any process can answer them. ``cellwright serve
--webhook-workers N`` starts N ``cellwright webhooks`` processes on ``webhook_port``
(``SO_REUSEPORT``: the kernel spreads connections over them), restarts one that dies,
and stops them when it stops; they also die with it (``PR_SET_PDEATHSIG``).

Every process shares the store (SQLite in WAL mode, or PostgreSQL) and runs what it
receives; an execution belongs to the process holding its lease, so a worker that dies
mid-run has its runs taken over once the lease expires, by whichever process looks
first. Workers never open the DuckDB analytics file: their runs reach it through the
analytics outbox, which the server copies (storage/analytics.py). Schedules, polling and
health checks run in the server only.
"""

from __future__ import annotations

import logging
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

log = logging.getLogger("cellwright.workers")

#: a worker that dies sooner than this after starting is restarted only after a pause
_MIN_UPTIME = 5.0
_RESTART_PAUSE = 2.0


def shared_socket(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` that other processes may bind too."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Ask Linux to SIGTERM this process when its parent (the server) ends."""
    import ctypes

    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class WebhookWorkers:
    """Starts, watches and stops the ``cellwright webhooks`` processes of a server."""

    def __init__(self, count: int, *, host: str, port: int, data_dir: Path) -> None:
        self.count = count
        self.host = host
        self.port = port
        self.data_dir = data_dir
        self._procs: list[tuple[subprocess.Popen[bytes], float]] = []
        self._stopping = threading.Event()
        self._watcher: threading.Thread | None = None
        self.restarts = 0

    def _command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "workspace.cli",
            "webhooks",
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--data-dir",
            str(self.data_dir),
        ]

    def _spawn(self) -> subprocess.Popen[bytes]:
        return subprocess.Popen(self._command(), preexec_fn=_die_with_parent)  # noqa: S603, PLW1509

    def start(self) -> None:
        self._procs = [(self._spawn(), time.monotonic()) for _ in range(self.count)]
        self._watcher = threading.Thread(target=self._watch, name="cellwright-workers", daemon=True)
        self._watcher.start()

    def pids(self) -> list[int]:
        return [proc.pid for proc, _ in self._procs]

    def _watch(self) -> None:
        while not self._stopping.wait(1.0):
            for index, (proc, started) in enumerate(list(self._procs)):
                code = proc.poll()
                if code is None or self._stopping.is_set():
                    continue  # running, or being stopped with the server
                log.warning("webhook worker %s exited with %s: starting another", proc.pid, code)
                if time.monotonic() - started < _MIN_UPTIME and self._stopping.wait(_RESTART_PAUSE):
                    return
                self._procs[index] = (self._spawn(), time.monotonic())
                self.restarts += 1

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        for proc, _ in self._procs:
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + timeout
        for proc, _ in self._procs:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._watcher is not None:
            self._watcher.join(2)
