"""Kill the server (SIGKILL) in the middle of an error route; after a restart every run
ends as handled, the failed cell is not called again, and no route cell that finished
before the kill calls again."""

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

STEPS = 6
ROUTE_CELL = """\
        - id: tell{n}
          kind: action
          app: http
          operation: request
          inputs: {{method: POST, url: "SINK/route", body_type: json, body: {{execution: "{{{{ execution.id }}}}", n: {n}, why: "{{{{ error.code }}}}"}}}}
"""
SCENARIO = (
    """
name: Durable route
cells:
  - id: hook
    kind: trigger
    app: webhook
    operation: catch_hook
  - id: post
    kind: action
    app: http
    operation: request
    inputs: {method: POST, url: "SINK/refuse", body_type: json, body: {execution: "{{ execution.id }}"}}
    on_error:
      then: handled
      cells:
"""
    + "".join(ROUTE_CELL.format(n=n) for n in range(STEPS))
    + "  - {id: never, kind: action, app: http, operation: request, inputs: {method: POST, url: SINK/never}}\n"
)


class Sink:
    """``/refuse`` answers 422; ``/route`` counts calls per (execution, n), slowly."""

    def __init__(self) -> None:
        self.refused: Counter[str] = Counter()
        self.calls: Counter[tuple[str, int]] = Counter()
        self.never = 0
        self.lock = threading.Lock()

        async def refuse(request: Request) -> JSONResponse:
            body = await request.json()
            with self.lock:
                self.refused[body["execution"]] += 1
            return JSONResponse({"error": "no"}, status_code=422)

        async def route(request: Request) -> JSONResponse:
            body = await request.json()
            with self.lock:
                self.calls[(body["execution"], int(body["n"]))] += 1
            await asyncio.sleep(0.25)
            return JSONResponse({"ok": True})

        async def never(request: Request) -> JSONResponse:
            self.never += 1
            return JSONResponse({})

        app = Starlette(
            routes=[
                Route("/refuse", refuse, methods=["POST"]),
                Route("/route", route, methods=["POST"]),
                Route("/never", never, methods=["POST"]),
            ]
        )
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


def finished_route_cells(store: Store, execution_id: str) -> set[int]:
    return {
        int(r.cell_id.removeprefix("tell"))
        for r in store.node_results(execution_id)
        if r.cell_id.startswith("tell") and r.status == "completed"
    }


def test_sigkill_in_the_middle_of_an_error_route_then_restart_redoes_no_finished_cell(
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
                for _ in range(2):
                    r = client.post(f"/hooks/{scenario.webhook_token}", json={})
                    assert r.status_code == 202, r.text
                    accepted.append(r.json()["execution_id"])
            deadline = time.time() + 30  # wait until every run is inside its route
            while time.time() < deadline and not all(
                any(e == ex and n >= 2 for (ex, n) in sink.calls) for e in accepted
            ):
                time.sleep(0.05)
        finally:
            server.send_signal(signal.SIGKILL)
            server.wait(10)

        before = {e: finished_route_cells(store, e) for e in accepted}
        assert any(0 < len(cells) < STEPS for cells in before.values()), before

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

        assert sink.never == 0  # handled: nothing after `post` ran
        for execution_id in accepted:
            assert sink.refused[execution_id] == 1  # the failed cell is not called again
            assert finished_route_cells(store, execution_id) == set(range(STEPS))
            for n in range(STEPS):
                calls = sink.calls[(execution_id, n)]
                if n in before[execution_id]:
                    assert calls == 1, (
                        f"{execution_id}: tell{n} finished before the kill but ran {calls} times"
                    )
                else:
                    assert 1 <= calls <= 2, (execution_id, n, calls)  # in flight at the kill
        store.close()
