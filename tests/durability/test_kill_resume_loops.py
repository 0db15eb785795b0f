"""Kill the server (SIGKILL) in the middle of a loop; after a restart every run completes,
and no item whose action finished before the kill calls it again."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from storage import Store
from tests.durability.test_kill_resume import free_port, start_server

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("durability")]

ITEMS = 8
SCENARIO = """
name: Durable loop
cells:
  - id: hook
    kind: trigger
    app: webhook
    operation: catch_hook
  - id: each
    kind: loop
    items: "{{ trigger.body.items }}"
    cells:
      - id: post
        kind: action
        app: http
        operation: request
        inputs: {method: POST, url: "SINK/item", body_type: json, body: {execution: "{{ execution.id }}", n: "{{ item }}"}}
  - {id: total, kind: aggregate, loop: each, mode: sum, value: "{{ item }}"}
"""


class Sink:
    """Counts calls per (execution, item); each answer takes a moment."""

    def __init__(self) -> None:
        self.calls: Counter[tuple[str, int]] = Counter()
        self.lock = threading.Lock()

        async def hit(request: Request) -> JSONResponse:
            body = await request.json()
            with self.lock:
                self.calls[(body["execution"], int(body["n"]))] += 1
            await asyncio.sleep(0.25)
            return JSONResponse({"ok": True})

        app = Starlette(routes=[Route("/item", hit, methods=["POST"])])
        self.port = free_port()
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="error")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Sink:
        self.thread.start()
        while not self.server.started:
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(5)


def finished_items(store: Store, execution_id: str) -> set[int]:
    return {
        int(r.item)
        for r in store.node_results(execution_id)
        if r.cell_id == "post" and r.status == "completed" and r.item is not None
    }


def test_sigkill_in_the_middle_of_a_loop_then_restart_redoes_no_finished_item(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    with Sink() as sink:
        scenario_file = tmp_path / "s.yaml"
        scenario_file.write_text(SCENARIO.replace("SINK", f"http://127.0.0.1:{sink.port}"))
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
        scenario = store.list_scenarios(user.id)[0]
        port = free_port()
        server = start_server(data_dir, port)
        accepted: list[str] = []
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
                for _ in range(3):
                    r = client.post(
                        f"/hooks/{scenario.webhook_token}", json={"items": list(range(ITEMS))}
                    )
                    assert r.status_code == 202, r.text
                    accepted.append(r.json()["execution_id"])
            deadline = time.time() + 30  # wait until every run is inside its loop
            while time.time() < deadline and not all(
                any(e == ex for (ex, _n) in sink.calls) for e in accepted
            ):
                time.sleep(0.05)
            while time.time() < deadline and len(sink.calls) < 6:
                time.sleep(0.05)
        finally:
            server.send_signal(signal.SIGKILL)
            server.wait(10)

        before = {e: finished_items(store, e) for e in accepted}
        assert any(0 < len(items) < ITEMS for items in before.values()), before

        server = start_server(data_dir, port)
        try:
            deadline = time.time() + 90
            while time.time() < deadline:
                if all(store.get_execution(None, e).status == "completed" for e in accepted):
                    break
                time.sleep(0.25)
            statuses = [store.get_execution(None, e).status for e in accepted]
            assert statuses == ["completed"] * len(accepted), statuses
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(20)

        for execution_id in accepted:
            assert finished_items(store, execution_id) == set(range(ITEMS))
            [total] = [r for r in store.node_results(execution_id) if r.cell_id == "total"]
            assert total.output == {"result": sum(range(ITEMS)), "count": ITEMS}
            for n in range(ITEMS):
                calls = sink.calls[(execution_id, n)]
                if n in before[execution_id]:
                    assert calls == 1, (
                        f"{execution_id}: item {n} finished before the kill but ran {calls} times"
                    )
                else:
                    assert 1 <= calls <= 2, (execution_id, n, calls)  # in flight at the kill
        store.close()
