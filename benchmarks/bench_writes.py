"""The write path of one webhook execution, without HTTP: CPU per execution.

Each execution of the webhook scenario (benchmarks/bench_webhook.py) writes, through the
group commit: create (claimed), the results of the trigger, formatter, router and HTTP
action (written when the action finishes), then finish with the respond cell's result.
This runs that sequence for --executions executions, --batch at a time in one
transaction as the writer thread does under load, and prints the CPU time per execution.

    uv run python benchmarks/bench_writes.py [--executions 3000] [--batch 50]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from storage import Store

TRIGGER = {
    "method": "POST",
    "path": "/hooks/x",
    "query": {},
    "headers": {
        "host": "127.0.0.1:8000",
        "content-type": "application/json",
        "content-length": "40",
        "user-agent": "wrk",
    },
    "body": {"id": 1, "amount": 42, "name": "alice"},
}


def results(stage: int) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    computed = {"total": 50.4, "name_upper": "ALICE"}
    answer = {"ok": True, "received": computed}
    if stage == 0:
        rows = [
            ("hook", {"response": "sync"}, TRIGGER),
            (
                "compute",
                {
                    "fields": {
                        "total": "{{ trigger.body.amount * 1.2 }}",
                        "name_upper": "{{ trigger.body.name | upper }}",
                    }
                },
                computed,
            ),
            ("route", None, {"branches": ["big"]}),
            (
                "post",
                {
                    "method": "POST",
                    "url": "http://127.0.0.1:9/",
                    "body_type": "json",
                    "body": computed,
                },
                {"status": 200, "headers": {"content-type": "application/json"}, "body": answer},
            ),
        ]
    else:
        rows = [("answer", {"body": answer}, {"status": 200, "body": answer})]
    return [
        {
            "cell_id": c,
            "status": "completed",
            "attempt": 0,
            "start_time": now,
            "end_time": now,
            "duration_ms": 0.1,
            "input": i,
            "output": o,
            "error": None,
        }
        for c, i, o in rows
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--executions", type=int, default=3000)
    parser.add_argument("--batch", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.for_data_dir(Path(tmp))
        store.migrate()
        user = store.create_user("bench@example.com")
        saved = store.save_scenario(user.id, {"name": "s", "cells": []})
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(args.executions // args.batch):
            with store.batch(savepoints=False):
                created = [
                    store.create_execution(
                        scenario_id=saved.id,
                        scenario_version=saved.version,
                        user_id=user.id,
                        trigger=TRIGGER,
                        claim_owner="bench",
                    )[0]
                    for _ in range(args.batch)
                ]
            with store.batch(savepoints=False):
                for execution in created:
                    store.record_node_results(execution.id, results(0))
            with store.batch(savepoints=False):
                for execution in created:
                    store.finish_execution(
                        execution.id, status="completed", node_results=results(1)
                    )
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        done = args.executions // args.batch * args.batch
        assert store.count_executions(user.id, status="completed") == done
        assert len(store.node_results(created[-1].id)) == 5
        store.close()
    print(
        f"{done} executions, {args.batch} per transaction: "
        f"{cpu / done * 1000:.3f} ms CPU and {wall / done * 1000:.3f} ms wall per execution"
    )


if __name__ == "__main__":
    main()
