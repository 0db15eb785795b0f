"""Per-cell engine overhead on a 50-cell transformer scenario (issue #2, benchmark 1),
and 100 executions each waiting 1 s on a slow sink (benchmark 3).

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
        f"  end-to-end per cell: median {statistics.median(per_cell):.3f} ms, p95 {sorted(per_cell)[int(0.95 * runs)]:.3f} ms (target < 0.5 ms)"
    )
    print(
        f"  of which inside the cell (render, validate, call, validate): median {statistics.median(engine_only):.3f} ms"
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
            f"{n} executions each waiting 1 s on a slow sink: {done}/{n} completed in {wall:.2f} s wall (target < 2 s)"
        )
    finally:
        sink.terminate()


if __name__ == "__main__":
    asyncio.run(overhead())
    asyncio.run(slow_sink())
