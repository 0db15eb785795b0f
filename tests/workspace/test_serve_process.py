"""``cellwright serve`` as real processes: one server per data directory, and a demo
server that lets scenarios call its echo endpoint but not its own webhooks or API."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from storage.datadir import hold_serve_lock

ROOT = Path(__file__).parents[2]
pytestmark = pytest.mark.slow  # a real server process with the workspace: ~10 s


@dataclass
class Served:
    process: subprocess.Popen[str]
    base: str
    data_dir: Path
    api_key: str


def serve(data_dir: Path, port: int, *extra: str) -> subprocess.Popen[str]:
    env = {**os.environ, "CELLWRIGHT_DATA_DIR": str(data_dir), "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "workspace.cli", "serve", "--port", str(port), *extra],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A demo server (``cellwright serve`` with demo data) on a fresh data directory."""
    from tests.conftest import free_port

    data_dir = tmp_path_factory.mktemp("served") / "data"
    port = free_port()
    process = serve(data_dir, port)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        lines: list[str] = []
        while not any("Demo API key" in line for line in lines):
            assert process.poll() is None, "".join(lines)
            assert time.monotonic() < deadline, "the server did not start"
            assert process.stdout is not None
            lines.append(process.stdout.readline())
        key = next(line for line in lines if "Demo API key" in line).split(":", 1)[1].strip()
        while True:
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None and time.monotonic() < deadline, (
                "the server did not answer"
            )
            time.sleep(0.2)
        yield Served(process, base, data_dir, key)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_a_second_server_on_the_same_data_directory_is_refused(
    served: Served, tmp_path: Path
) -> None:
    from tests.conftest import free_port

    second = serve(served.data_dir, free_port(), "--no-demo")
    output, _ = second.communicate(timeout=120)
    assert second.returncode == 2
    assert (
        "another Cellwright server "
        f"(pid {served.process.pid}) is already serving the data directory {served.data_dir}"
        in output
    )
    assert "Traceback" not in output
    assert served.process.poll() is None  # the first one is unaffected
    assert httpx.get(served.base + "/healthz", timeout=60).status_code == 200
    # another data directory is fine: the lock is per directory (checked in-process: cheap)
    hold_serve_lock(tmp_path).close()


def test_the_lock_ends_with_the_process(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from storage.datadir import hold_serve_lock; "
            "h = hold_serve_lock(sys.argv[1]); print('held', flush=True); time.sleep(600)",
            str(tmp_path),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(OSError, match=f"pid {holder.pid}"):
            hold_serve_lock(tmp_path)
    finally:
        holder.kill()  # killed, not stopped: no clean-up code runs
        holder.wait()
    hold_serve_lock(tmp_path).close()  # the kernel released it


def _scenario(url: str) -> dict[str, Any]:
    return {
        "name": "Calls back",
        "cells": [
            {"id": "hook", "kind": "trigger", "app": "webhook", "operation": "catch_hook"},
            {
                "id": "call",
                "kind": "action",
                "app": "http",
                "operation": "request",
                "inputs": {"method": "POST", "url": url, "body_type": "json", "body": {"n": 1}},
            },
        ],
    }


def test_demo_scenarios_may_call_the_echo_endpoint_but_not_the_servers_webhooks_or_api(
    served: Served,
) -> None:
    headers = {"Authorization": f"Bearer {served.api_key}"}
    with httpx.Client(base_url=served.base, headers=headers, timeout=60) as api:
        created = api.post(
            "/api/v1/scenarios", json=_scenario(f"{served.base}/demo/echo?from=test")
        )
        assert created.status_code == 201, created.text
        scenario = created.json()
        run = api.post(f"/api/v1/scenarios/{scenario['id']}/run", json={"trigger_data": {}}).json()
        assert run["status"] == "completed", run
        for target in (
            scenario["webhook_url"],
            f"{served.base}/api/v1/me",
            f"{served.base}/demo/echo/../hooks/x",
        ):
            api.put(
                f"/api/v1/scenarios/{scenario['id']}", json=_scenario(target)
            ).raise_for_status()
            run = api.post(
                f"/api/v1/scenarios/{scenario['id']}/run", json={"trigger_data": {}}
            ).json()
            assert run["status"] == "failed" and run["error"]["code"] == "forbidden_destination", (
                target,
                run,
            )
        page = api.get(
            "/api/v1/executions", params={"scenario_id": scenario["id"], "limit": 100}
        ).json()
        assert page["total"] == 4  # the four test runs: the call to its own webhook started none
