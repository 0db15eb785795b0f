"""Kill the server (SIGKILL) in the middle of a loop; after a restart every run completes,
and no item whose action finished before the kill calls it again."""

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
        inputs:
          method: POST
          url: "SINK/item"
          body_type: json
          body: {execution: "{{ execution.id }}", n: "{{ item }}"}
  - {id: total, kind: aggregate, loop: each, mode: sum, value: "{{ item }}"}
"""


class Sink(SinkServer):
    """Counts calls per (execution, item); each answer takes a moment."""

    def __init__(self) -> None:
        self.calls: Counter[tuple[str, int]] = Counter()

        async def hit(request: Request) -> JSONResponse:
            body = await request.json()
            with self.lock:
                self.calls[(body["execution"], int(body["n"]))] += 1
            await asyncio.sleep(0.25)
            return JSONResponse({"ok": True})

        super().__init__({"/item": hit})


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
        store, scenario = import_enabled(tmp_path, data_dir, SCENARIO.replace("SINK", sink.url))
        port = free_port()

        def inside_their_loops(accepted: list[str]) -> bool:
            every_run_started = all(any(e == ex for (ex, _n) in sink.calls) for e in accepted)
            return every_run_started and len(sink.calls) >= 6

        accepted = kill_mid_flight(
            data_dir, port, scenario, [{"items": list(range(ITEMS))}] * 3, inside_their_loops
        )
        before = {e: finished_items(store, e) for e in accepted}
        assert any(0 < len(items) < ITEMS for items in before.values()), before

        restart_until_completed(data_dir, port, store, accepted)

        for execution_id in accepted:
            assert finished_items(store, execution_id) == set(range(ITEMS))
            [total] = [r for r in store.node_results(execution_id) if r.cell_id == "total"]
            assert total.output == {"result": sum(range(ITEMS)), "count": ITEMS}
            for n in range(ITEMS):
                assert_once_unless_in_flight(
                    sink.calls[(execution_id, n)],
                    n in before[execution_id],
                    f"{execution_id}: item {n}",
                )
        store.close()
