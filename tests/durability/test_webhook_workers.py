"""Several serving processes share one store: ``cellwright serve --webhook-workers 2``.

Webhooks arrive at the workers' shared port; one worker is killed (SIGKILL) while runs
are mid-flight. Every accepted event still completes exactly once (its runs are taken
over when their lease expires), no finished cell runs twice, and every execution reaches
the analytics log once, although the workers never open it (the analytics outbox).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb
import httpx
import pytest

from storage import Store
from tests.durability.test_kill_resume import SCENARIO, Sink, completed_cells, free_port

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("durability")]

EVENTS = 60


def start(data_dir: Path, port: int, hook_port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "CELLWRIGHT_HTTP_ALLOW_PRIVATE": "true",
        "CELLWRIGHT_LEASE_SECONDS": "2",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "workspace.cli", "serve", "--port", str(port)]
        + ["--data-dir", str(data_dir), "--no-demo"]
        + ["--webhook-workers", "2", "--webhook-port", str(hook_port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),  # a file, not a pipe: nobody reads it while the test runs
    )
    deadline = time.time() + 240  # importing Panel on a loaded 2-core machine can take a minute
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(log.read_text(errors="replace"))
        try:
            if httpx.get(f"http://127.0.0.1:{hook_port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.3)
    raise RuntimeError("the webhook workers did not start")


def workers_of(pid: int) -> list[int]:
    """The server's child processes (the watcher thread starts the replacements)."""
    return sorted(
        int(child)
        for task in Path(f"/proc/{pid}/task").iterdir()
        for child in (task / "children").read_text().split()
    )


def test_two_workers_one_killed_every_event_runs_once_and_reaches_analytics(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    with Sink() as sink:
        scenario_file = tmp_path / "s.yaml"
        scenario_file.write_text(SCENARIO.replace("SINK", f"http://127.0.0.1:{sink.port}"))
        subprocess.run(
            [sys.executable, "-m", "workspace.cli", "import", str(scenario_file), "--enable"]
            + ["--data-dir", str(data_dir)],
            check=True,
            capture_output=True,
        )
        store = Store.for_data_dir(data_dir)
        user = store.list_users()[0]
        scenario = store.list_scenarios(user.id)[0]
        hook_port = free_port()
        server = start(data_dir, free_port(), hook_port, tmp_path / "server.log")
        try:
            workers = workers_of(server.pid)
            assert len(workers) == 2

            def deliver(n: int) -> str:
                # one connection per event: the kernel spreads connections over the workers
                with httpx.Client(timeout=30) as client:
                    r = client.post(
                        f"http://127.0.0.1:{hook_port}/hooks/{scenario.webhook_token}",
                        json={"n": n},
                    )
                assert r.status_code == 202, r.text
                return str(r.json()["execution_id"])

            with ThreadPoolExecutor(8) as pool:
                accepted = list(pool.map(deliver, range(EVENTS)))
            assert len(set(accepted)) == EVENTS

            # kill one worker while runs are inside the slow cell
            deadline = time.time() + 30
            while time.time() < deadline and sum(1 for (p, _e) in sink.calls if p == "slow") < 5:
                time.sleep(0.05)
            before = {e: completed_cells(store, e) for e in accepted}
            os.kill(workers[0], signal.SIGKILL)

            deadline = time.time() + 120
            statuses: Counter[str] = Counter()
            while time.time() < deadline:
                statuses = Counter(store.get_execution(None, e).status for e in accepted)
                if statuses["completed"] == EVENTS:
                    break
                time.sleep(0.25)
            assert statuses["completed"] == EVENTS, statuses
            # the killed worker was running some of them: they were taken over
            assert any(store.get_execution(None, e).reclaims for e in accepted)
            # and the server started another worker in its place
            deadline = time.time() + 60
            while time.time() < deadline and len(workers_of(server.pid)) < 2:
                time.sleep(0.2)
            assert len(workers_of(server.pid)) == 2
            assert workers[0] not in workers_of(server.pid)
        finally:
            server.send_signal(signal.SIGTERM)  # the server copies the outbox as it stops
            server.wait(60)

        # one execution per event, each cell completed once
        rows = store.list_executions(user.id, scenario_id=scenario.id, limit=1000)
        assert len(rows) == EVENTS
        for execution_id in accepted:
            cells = completed_cells(store, execution_id)
            assert sorted(cells) == ["a", "b", "c", "hook"], (execution_id, cells)
            for cell, path in (("a", "a"), ("b", "slow"), ("c", "c")):
                calls = sink.calls[(path, execution_id)]
                if cell in before[execution_id]:
                    assert calls == 1, (execution_id, cell, calls)
                else:  # a call in flight at the moment of the kill may be repeated
                    assert 1 <= calls <= 2, (execution_id, cell, calls)
        assert store.analytics_backlog() == 0
        store.close()

    with duckdb.connect(str(data_dir / "analytics.duckdb"), read_only=True) as con:
        runs = con.execute(
            "SELECT count(*), count(DISTINCT execution_id), "
            "count(*) FILTER (WHERE status = 'completed') FROM executions"
        ).fetchone()
        cells = con.execute("SELECT count(*) FROM node_results").fetchone()
    assert runs == (EVENTS, EVENTS, EVENTS)
    assert cells == (EVENTS * 4,)
