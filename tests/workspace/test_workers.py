"""Webhook workers: processes sharing one port, restarted when one dies, stopped with the server."""

from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path

import httpx
import pytest

from workspace.workers import WebhookWorkers, shared_socket

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_several_processes_can_listen_on_one_port() -> None:
    port = free_port()
    first, second = shared_socket("127.0.0.1", port), shared_socket("127.0.0.1", port)
    try:
        assert first.getsockname() == second.getsockname()
    finally:
        first.close()
        second.close()


def wait_healthy(port: int, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise AssertionError("no webhook worker answered")


def test_a_dead_worker_is_replaced_and_stop_ends_them_all(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CELLWRIGHT_ANALYTICS", "false")
    port = free_port()
    workers = WebhookWorkers(1, host="127.0.0.1", port=port, data_dir=tmp_path / "data")
    workers.start()
    try:
        wait_healthy(port, time.monotonic() + 180)  # a loaded CI machine starts Python slowly
        [first] = workers.pids()
        os.kill(first, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and workers.restarts == 0:
            time.sleep(0.2)
        assert workers.restarts == 1
        [second] = workers.pids()
        assert second != first
        wait_healthy(port, time.monotonic() + 180)  # the replacement answers on the same port
    finally:
        workers.stop()
    for pid in workers.pids():
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
