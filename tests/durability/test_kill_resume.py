"""Kill the server (SIGKILL) while executions are mid-flight; after a restart every
accepted event completes and no finished cell runs twice."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse

from storage import Store
from tests.durability.harness import (
    SinkServer,
    assert_once_unless_in_flight,
    free_port,
    import_enabled,
    kill_mid_flight,
    restart_until_completed,
)

__all__ = ["SCENARIO", "Sink", "completed_cells", "free_port"]

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("durability")]

SCENARIO = """
name: Durable three steps
cells:
  - id: hook
    kind: trigger
    app: webhook
    operation: catch_hook
  - id: a
    kind: action
    app: http
    operation: request
    inputs: {method: POST, url: "SINK/a", body_type: json, body: {execution: "{{ execution.id }}"}}
  - id: b
    kind: action
    app: http
    operation: request
    inputs:
      method: POST
      url: "SINK/slow"
      body_type: json
      body: {execution: "{{ execution.id }}"}
  - id: c
    kind: action
    app: http
    operation: request
    inputs: {method: POST, url: "SINK/c", body_type: json, body: {execution: "{{ execution.id }}"}}
"""


class Sink(SinkServer):
    """Counts calls per (path, execution); ``/slow`` answers after 1.5 s."""

    def __init__(self) -> None:
        self.calls: Counter[tuple[str, str]] = Counter()

        async def hit(request: Request) -> JSONResponse:
            body = await request.json()
            path = request.url.path.strip("/")
            with self.lock:
                self.calls[(path, body["execution"])] += 1
            if path == "slow":
                await asyncio.sleep(1.5)
            return JSONResponse({"ok": True})

        super().__init__({"/{name}": hit})


def completed_cells(store: Store, execution_id: str) -> list[str]:
    return [r.cell_id for r in store.node_results(execution_id) if r.status == "completed"]


def test_sigkill_mid_flight_then_restart_completes_everything_once(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with Sink() as sink:
        store, scenario = import_enabled(tmp_path, data_dir, SCENARIO.replace("SINK", sink.url))
        port = free_port()
        # mid-flight: some executions are inside the slow cell
        accepted = kill_mid_flight(
            data_dir,
            port,
            scenario,
            [{"n": i} for i in range(30)],
            lambda _: sum(1 for (p, _e) in sink.calls if p == "slow") >= 5,
            wait=20,
        )
        before = {e: completed_cells(store, e) for e in accepted}
        unfinished = [e for e in accepted if store.get_execution(None, e).status != "completed"]
        assert unfinished, "the kill came too late to test anything"

        restart_until_completed(data_dir, port, store, accepted, wait=60)

        for execution_id in accepted:
            cells = completed_cells(store, execution_id)
            assert sorted(cells) == ["a", "b", "c", "hook"], (execution_id, cells)
            for cell, path in (("a", "a"), ("b", "slow"), ("c", "c")):
                assert_once_unless_in_flight(
                    sink.calls[(path, execution_id)],
                    cell in before[execution_id],
                    f"{execution_id}: cell {cell}",
                )
        store.close()
