"""Per-cell engine overhead on a 50-cell transformer scenario (issue #2, benchmark 1),
100 executions each waiting 1 s on a slow sink (benchmark 3), and the per-item
overhead of a 1,000-item loop with every item recorded (issue #12).

    uv run python benchmarks/bench_engine.py
"""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import tempfile
import time

from _common import ROOT, free_port, wait_http

from cells.models import ScenarioDocument
from engine.service import open_app


def fifty_cells() -> ScenarioDocument:
    cells: list[dict] = [
        {"id": "start", "kind": "trigger", "app": "manual", "operation": "run_manually"}
    ]
    previous = "trigger.n"
    for i in range(49):
        cells.append(
            {
                "id": f"c{i}",
                "kind": "transformer",
                "app": "formatter",
                "operation": "set_fields",
                "inputs": {"fields": {"n": f"{{{{ {previous} + 1 }}}}"}},
            }
        )
        previous = f"steps.c{i}.n"
    return ScenarioDocument.model_validate({"name": "fifty", "cells": cells})


async def overhead(runs: int = 40) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        cw = open_app(tmp, analytics=False)
        user = cw.local_user()
        scenario = cw.import_scenario(user.id, fifty_cells())
        await cw.start(scheduler=False)
        try:
            await cw.run_now(user.id, scenario.id, {"n": 0})  # warm up
            per_cell = []
            for _ in range(runs):
                t0 = time.perf_counter()
                execution = await cw.run_now(user.id, scenario.id, {"n": 0})
                elapsed = time.perf_counter() - t0
                assert execution["status"] == "completed", execution["error"]
                assert execution["cells"][-1]["output"]["n"] == 49
                per_cell.append(elapsed / 50 * 1000)
            engine_only = []
            for _ in range(runs):
                execution = await cw.run_now(user.id, scenario.id, {"n": 0})
                engine_only.append(sum(c["duration_ms"] for c in execution["cells"]) / 50)
        finally:
            await cw.stop()
            cw.close()
    print(f"50-cell transformer scenario, {runs} runs, SQLite store, every cell persisted:")
    print(
        f"  end-to-end per cell: median {statistics.median(per_cell):.3f} ms, "
        f"p95 {sorted(per_cell)[int(0.95 * runs)]:.3f} ms (target < 0.5 ms)"
    )
    print(
        "  of which inside the cell (render, validate, call, validate): "
        f"median {statistics.median(engine_only):.3f} ms"
    )


async def slow_sink(n: int = 100) -> None:
    port = free_port()
    sink = subprocess.Popen([sys.executable, str(ROOT / "benchmarks" / "sink.py"), str(port)])
    try:
        wait_http(f"http://127.0.0.1:{port}/", sink)
        doc = ScenarioDocument.model_validate(
            {
                "name": "slow",
                "cells": [
                    {
                        "id": "start",
                        "kind": "trigger",
                        "app": "manual",
                        "operation": "run_manually",
                    },
                    {
                        "id": "wait",
                        "kind": "action",
                        "app": "http",
                        "operation": "request",
                        "inputs": {
                            "method": "POST",
                            "url": f"http://127.0.0.1:{port}/slow",
                            "body_type": "json",
                            "body": {"i": "{{ trigger.i }}"},
                        },
                    },
                ],
            }
        )
        with tempfile.TemporaryDirectory() as tmp:
            cw = open_app(tmp, analytics=False, http_allow_private=True)
            user = cw.local_user()
            scenario = cw.import_scenario(user.id, doc)
            await cw.start(scheduler=False)
            try:
                t0 = time.perf_counter()
                results = await asyncio.gather(
                    *(cw.run_now(user.id, scenario.id, {"i": i}) for i in range(n))
                )
                wall = time.perf_counter() - t0
            finally:
                await cw.stop()
                cw.close()
        done = sum(1 for r in results if r["status"] == "completed")
        print(
            f"{n} executions each waiting 1 s on a slow sink: "
            f"{done}/{n} completed in {wall:.2f} s wall (target < 2 s)"
        )
    finally:
        sink.terminate()


def loop_of(items: int, expression: str = "{{ item * 2 }}") -> ScenarioDocument:
    """A loop over ``trigger.n`` whose item runs one formatter cell, then a sum over it."""
    return ScenarioDocument.model_validate(
        {
            "name": "loop",
            "settings": {"max_loop_items": max(items, 1)},
            "cells": [
                {"id": "start", "kind": "trigger", "app": "manual", "operation": "run_manually"},
                {
                    "id": "each",
                    "kind": "loop",
                    "items": "{{ trigger.n }}",
                    "cells": [
                        {
                            "id": "double",
                            "kind": "transformer",
                            "app": "formatter",
                            "operation": "set_fields",
                            "inputs": {"fields": {"n": expression}},
                        }
                    ],
                },
                {
                    "id": "total",
                    "kind": "aggregate",
                    "loop": "each",
                    "mode": "sum",
                    "value": "{{ steps.double.n }}",
                },
            ],
        }
    )


async def loop_overhead(
    items: int = 1000, runs: int = 10, expression: str = "{{ item * 2 }}"
) -> None:
    """The run (every item's cell run and summary written to the store) is timed from
    trigger to finish; reading the 2,001 records back, which a test run also does, is
    timed apart."""
    with tempfile.TemporaryDirectory() as tmp:
        cw = open_app(tmp, analytics=False)
        user = cw.local_user()
        scenario = cw.import_scenario(user.id, loop_of(items, expression))
        await cw.start(scheduler=False)
        try:
            payload = {"n": list(range(items))}

            async def timed(data: dict[str, list[int]]) -> tuple[float, str]:
                t0 = time.perf_counter()
                execution, outcome = await cw.trigger(
                    scenario, data, wait=60, version=scenario.version
                )
                elapsed = time.perf_counter() - t0
                assert outcome is not None and outcome.status == "completed", outcome
                return elapsed, execution.id

            await timed(payload)  # warm up
            per_item, in_items, read_back = [], [], []
            for _ in range(runs):
                base, _ = await timed({"n": []})
                elapsed, execution_id = await timed(payload)
                per_item.append((elapsed - base) / items * 1000)
                t0 = time.perf_counter()
                execution = cw.execution(user.id, execution_id)
                read_back.append((time.perf_counter() - t0) / items * 1000)
                factor = 2 if "*" in expression else 1
                assert (
                    execution["cells"][-1]["output"]["result"] == factor * items * (items - 1) // 2
                )
                recorded = [c for c in execution["cells"] if c["item"] is not None]
                assert len(recorded) == 2 * items  # each item's cell run and its summary
                in_items.append(
                    sum(c["duration_ms"] for c in recorded if c["cell_id"] == "double") / items
                )
        finally:
            await cw.stop()
            cw.close()
    print(
        f"{items}-item loop (one formatter cell per item, n: {expression!r}, then a sum), "
        f"{runs} runs, SQLite store, every item recorded (its cell run and its summary):"
    )
    print(
        f"  per item, beyond an empty run: median {statistics.median(per_item):.3f} ms,"
        f" max {max(per_item):.3f} ms (target < 0.5 ms)"
    )
    print(
        f"  of which inside the item's cell (render, validate, call, validate): median"
        f" {statistics.median(in_items):.3f} ms"
    )
    print(
        f"  reading the execution back (2 records per item): median"
        f" {statistics.median(read_back):.3f} ms per item"
    )


if __name__ == "__main__":
    asyncio.run(overhead())
    asyncio.run(loop_overhead())  # arithmetic: rendered in a mapping worker thread
    asyncio.run(loop_overhead(expression="{{ item }}"))  # a plain path: on the event loop
    asyncio.run(slow_sink())
