"""Kill the server (SIGKILL) in the middle of an error route; after a restart every run
ends as handled, the failed cell is not called again, and no route cell that finished
before the kill calls again."""

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

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("durability")]

STEPS = 6
ROUTE_CELL = """\
        - id: tell{n}
          kind: action
          app: http
          operation: request
          inputs:
            method: POST
            url: "SINK/route"
            body_type: json
            body: {{execution: "{{{{ execution.id }}}}", n: {n}, why: "{{{{ error.code }}}}"}}
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
    inputs:
      method: POST
      url: "SINK/refuse"
      body_type: json
      body: {execution: "{{ execution.id }}"}
    on_error:
      then: handled
      cells:
"""
    + "".join(ROUTE_CELL.format(n=n) for n in range(STEPS))
    + "  - {id: never, kind: action, app: http, operation: request, "
    "inputs: {method: POST, url: SINK/never}}\n"
)


class Sink(SinkServer):
    """``/refuse`` answers 422; ``/route`` counts calls per (execution, n), slowly."""

    def __init__(self) -> None:
        self.refused: Counter[str] = Counter()
        self.calls: Counter[tuple[str, int]] = Counter()
        self.never = 0

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

        super().__init__({"/refuse": refuse, "/route": route, "/never": never})


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
        store, scenario = import_enabled(tmp_path, data_dir, SCENARIO.replace("SINK", sink.url))
        port = free_port()
        # wait until every run is inside its route
        accepted = kill_mid_flight(
            data_dir,
            port,
            scenario,
            [{}, {}],
            lambda accepted: all(
                any(e == ex and n >= 2 for (ex, n) in sink.calls) for e in accepted
            ),
        )
        before = {e: finished_route_cells(store, e) for e in accepted}
        assert any(0 < len(cells) < STEPS for cells in before.values()), before

        restart_until_completed(data_dir, port, store, accepted)

        assert sink.never == 0  # handled: nothing after `post` ran
        for execution_id in accepted:
            assert sink.refused[execution_id] == 1  # the failed cell is not called again
            assert finished_route_cells(store, execution_id) == set(range(STEPS))
            for n in range(STEPS):
                assert_once_unless_in_flight(
                    sink.calls[(execution_id, n)],
                    n in before[execution_id],
                    f"{execution_id}: tell{n}",
                )
        store.close()
