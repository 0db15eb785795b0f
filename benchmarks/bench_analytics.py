"""How fast the analytics log appends node results: batched vs. row by row.

Run by hand:  .venv/bin/python benchmarks/bench_analytics.py [--node-results 100000]

* batched: ``AnalyticsLog.record`` for every execution, flushing every ``--batch-size``
  rows as the server does (pandas frame -> ``INSERT ... SELECT``, one transaction per
  flush, including the rerun check), and once more with a single flush at the end;
* row by row: one ``INSERT ... VALUES (?, ...)`` per node result on a small sample
  (autocommit, and inside one transaction), extrapolated to the full count.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from storage.analytics import AnalyticsLog

T0 = datetime(2026, 1, 1, tzinfo=UTC)
APPS = ("slack", "sheets", "http", "gmail", None)


def make_runs(
    executions: int, per_execution: int
) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    runs = []
    for i in range(executions):
        started = T0 + timedelta(seconds=37 * i)
        nodes = [
            {
                "cell_id": f"c{j}",
                "app": APPS[j % len(APPS)],
                "operation": "op",
                "kind": "action",
                "status": "failed" if (i + j) % 97 == 0 else "completed",
                "started_at": started,
                "ended_at": started + timedelta(milliseconds=20 + j),
                "duration_ms": 20.0 + j,
                "error": {"code": "upstream_error", "message": "502"}
                if (i + j) % 97 == 0
                else None,
            }
            for j in range(per_execution)
        ]
        execution = {
            "id": f"e{i}",
            "scenario_id": f"s{i % 20}",
            "scenario_name": f"Scenario {i % 20}",
            "user_id": f"u{i % 5}",
            "status": "completed",
            "started_at": started,
            "ended_at": started + timedelta(seconds=1),
            "duration_ms": 1000.0,
            "error": None,
            "trigger_app": "webhook",
            "attempt": 1,
        }
        runs.append((execution, nodes))
    return runs


def batched(path: Path, runs: list, batch_size: int, single_flush: bool) -> tuple[float, int]:
    log = AnalyticsLog(path, batch_size=len(runs) * 10_000 if single_flush else batch_size)
    start = time.perf_counter()
    for execution, nodes in runs:
        log.record(execution, nodes)
    log.flush()
    elapsed = time.perf_counter() - start
    stored = log.summary("u0")["runs"]
    log.close()
    return elapsed, stored


def row_by_row(path: Path, runs: list, sample: int, one_transaction: bool) -> tuple[float, int]:
    log = AnalyticsLog(path)  # creates the tables
    log.close()
    con = duckdb.connect(str(path))
    rows = [
        (
            e["id"],
            e["user_id"],
            e["scenario_id"],
            e["started_at"].replace(tzinfo=None),
            j,
            n["cell_id"],
            n["app"],
            n["operation"],
            n["kind"],
            n["status"],
            n["started_at"].replace(tzinfo=None),
            n["ended_at"].replace(tzinfo=None),
            n["duration_ms"],
            None,
            None,
        )
        for e, nodes in runs
        for j, n in enumerate(nodes)
    ][:sample]
    sql = f"INSERT INTO node_results VALUES ({', '.join('?' * 15)})"
    start = time.perf_counter()
    if one_transaction:
        con.begin()
    for row in rows:
        con.execute(sql, row)
    if one_transaction:
        con.commit()
    elapsed = time.perf_counter() - start
    con.close()
    return elapsed, len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--node-results", type=int, default=100_000)
    parser.add_argument("--per-execution", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--sample", type=int, default=2_000, help="rows for the row-by-row runs")
    args = parser.parse_args()
    executions = args.node_results // args.per_execution
    runs = make_runs(executions, args.per_execution)
    total = executions * (args.per_execution + 1)
    print(
        f"{executions:,} executions x {args.per_execution} node results "
        f"= {args.node_results:,} node results ({total:,} rows with the executions)"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for label, single in (
            (f"batched, flush every {args.batch_size} rows", False),
            ("batched, one flush at the end", True),
        ):
            elapsed, stored = batched(Path(tmp) / f"{single}.duckdb", runs, args.batch_size, single)
            assert stored == executions // 5
            print(
                f"{label:<42} {total / elapsed:>10,.0f} rows/s  "
                f"({elapsed:.2f} s for {total:,} rows)"
            )
        for label, one_tx in (
            ("row by row, autocommit", False),
            ("row by row, one transaction", True),
        ):
            elapsed, n = row_by_row(Path(tmp) / f"rows{one_tx}.duckdb", runs, args.sample, one_tx)
            rate = n / elapsed
            print(
                f"{label:<42} {rate:>10,.0f} rows/s  "
                f"({n:,} rows in {elapsed:.2f} s; {args.node_results:,} would take "
                f"~{args.node_results / rate:,.0f} s)"
            )


if __name__ == "__main__":
    main()
