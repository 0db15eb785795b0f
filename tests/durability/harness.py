"""What the kill-and-resume tests share: a counting sink, a served data directory, a
SIGKILL at the right moment and a restart that must finish every accepted run.

Each test says what "mid-flight" means for its scenario (``ready``) and what must hold
afterwards; the harness does the rest the same way for all of them.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from storage import Scenario, Store


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


Handler = Callable[[Request], Awaitable[Response]]


class SinkServer:
    """A loopback HTTP server in a thread, serving ``routes`` (path → POST handler)."""

    def __init__(self, routes: dict[str, Handler]) -> None:
        self.lock = threading.Lock()
        app = Starlette(
            routes=[Route(path, handler, methods=["POST"]) for path, handler in routes.items()]
        )
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="error")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> SinkServer:
        self.thread.start()
        while not self.server.started:
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(5)


def start_server(
    data_dir: Path, port: int, *extra: str, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """``cellwright serve`` on ``data_dir``, once its /healthz answers (2 s leases)."""
    environment = {
        **os.environ,
        "CELLWRIGHT_HTTP_ALLOW_PRIVATE": "true",
        "CELLWRIGHT_LEASE_SECONDS": "2",
        "CELLWRIGHT_ANALYTICS": "false",
        **(env or {}),
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "workspace.cli",
            "serve",
            "--port",
            str(port),
            "--data-dir",
            str(data_dir),
            "--no-demo",
            *extra,
        ],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.time() + 180  # importing Panel on a loaded 2-core machine can take a minute
    while time.time() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
        if proc.poll() is not None:
            raise RuntimeError(proc.stderr.read().decode() if proc.stderr else "server exited")
    raise RuntimeError("server did not start")


def import_enabled(tmp_path: Path, data_dir: Path, document: str) -> tuple[Store, Scenario]:
    """Import ``document`` with ``cellwright import --enable``; the store and the scenario."""
    scenario_file = tmp_path / "scenario.yaml"
    scenario_file.write_text(document)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "workspace.cli",
            "import",
            str(scenario_file),
            "--enable",
            "--data-dir",
            str(data_dir),
        ],
        check=True,
        capture_output=True,
    )
    store = Store.for_data_dir(data_dir)
    user = store.list_users()[0]
    return store, store.list_scenarios(user.id)[0]


def kill_mid_flight(
    data_dir: Path,
    port: int,
    scenario: Scenario,
    bodies: Sequence[object],
    ready: Callable[[list[str]], bool],
    *,
    wait: float = 30,
) -> list[str]:
    """Serve, post each body to the scenario's webhook (202 each), wait until
    ``ready(accepted)`` (or ``wait`` seconds), then SIGKILL the server. The accepted
    execution ids."""
    server = start_server(data_dir, port)
    accepted: list[str] = []
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            for body in bodies:
                r = client.post(f"/hooks/{scenario.webhook_token}", json=body)
                assert r.status_code == 202, r.text
                accepted.append(r.json()["execution_id"])
        deadline = time.time() + wait
        while time.time() < deadline and not ready(accepted):
            time.sleep(0.05)
    finally:
        server.send_signal(signal.SIGKILL)
        server.wait(10)
    return accepted


def restart_until_completed(
    data_dir: Path, port: int, store: Store, accepted: list[str], *, wait: float = 90
) -> None:
    """Serve again until every accepted execution completed; then stop (SIGTERM)."""
    server = start_server(data_dir, port)
    try:
        deadline = time.time() + wait
        statuses: list[str] = []
        while time.time() < deadline:
            statuses = [_status(store, e) for e in accepted]
            if all(s == "completed" for s in statuses):
                break
            time.sleep(0.25)
        assert statuses == ["completed"] * len(accepted), statuses
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(20)


def _status(store: Store, execution_id: str) -> str:
    execution = store.get_execution(None, execution_id)
    assert execution is not None
    return execution.status


def assert_once_unless_in_flight(calls: int, finished_before_kill: bool, what: str) -> None:
    """A call whose cell finished before the kill happened exactly once; one in flight
    at the kill may be repeated (at-least-once delivery), never more."""
    if finished_before_kill:
        assert calls == 1, f"{what} finished before the kill but ran {calls} times"
    else:
        assert 1 <= calls <= 2, f"{what} ran {calls} times"
