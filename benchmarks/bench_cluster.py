"""Scaled-out mode: 1,000 webhook-triggered executions through 1, 2 and 4 worker processes.

Each execution calls a vendor simulator that answers in 200 ms (benchmarks/sink.py,
/vendor) and is stored in PostgreSQL; Redis is the broker. This process is the serve
side: a serve-mode ``Cellwright`` stores each execution and enqueues it (what
``/hooks/`` does after parsing the request), 50 at a time. For each worker count it
starts that many ``cellwright worker`` processes (``--concurrency`` each), waits until
all answer a Celery ping, enqueues the executions, waits for all to finish and prints:

- wall: first execution stored → last one finished; executions/s = count / wall;
- p50 / p99 end to end: from an execution's creation to its end (store timestamps);
- the ratio to one worker.

Then two smaller measurements the design chose from (docs/architecture.md):

- one worker with ``--concurrency 1``: a process that runs one execution at a time
  (what prefork with one event loop per child gives per child);
- ``wait()`` of a synchronous webhook: Redis pub/sub against polling the store, 100 runs
  one after the other, p50 / p99 of trigger → answer.

    uv run python benchmarks/bench_cluster.py [--executions 1000] [--workers 1,2,4]
        [--concurrency 50]

Needs PostgreSQL on 127.0.0.1:5432 (database ``test``; a throwaway database is created
and dropped) and Redis on 127.0.0.1:6379 (a throwaway key prefix).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import redis
from _common import ROOT, cpu_seconds, free_port, wait_http
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from cells import document as documents
from engine.service import Cellwright
from engine.settings import Settings
from storage import Vault

PG = os.environ.get("CELLWRIGHT_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS = os.environ.get("CELLWRIGHT_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")


def scenario_text(url: str, sync: bool = False) -> str:
    response = "{response: sync}" if sync else "{}"
    return (
        f"name: Cluster bench {secrets.token_hex(3)}\nsettings: {{retry_count: 0}}\ncells:\n"
        "  - {id: hook, kind: trigger, app: webhook, "
        f"operation: catch_hook, inputs: {response}}}\n"
        f"  - {{id: call, kind: action, app: http, operation: request, inputs: {{url: '{url}',"
        " method: POST, body_type: json, body: {n: '{{ trigger.body.n }}'}}}\n"
    )


class Deployment:
    def __init__(self, tmp: Path, pg_url: str, concurrency: int) -> None:
        self.tmp = tmp
        self.queue = f"cwbench-{secrets.token_hex(4)}"
        self.values: dict[str, Any] = {
            "database_url": pg_url,
            "broker_url": REDIS,
            "queue_name": self.queue,
            "vault_keys": [Vault.generate_key()],
            "http_allow_private": True,
            "demo_data": False,
            "analytics": False,
            "worker_concurrency": concurrency,
            "max_concurrent_executions": 10_000,
        }
        self.procs: list[subprocess.Popen[bytes]] = []

    def settings(self) -> Settings:
        return Settings(_env_file=None, data_dir=self.tmp / "web", **self.values)  # type: ignore[call-arg]

    def start_workers(self, count: int, concurrency: int) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CELLWRIGHT_")}
        for name, value in self.values.items():
            env[f"CELLWRIGHT_{name.upper()}"] = (
                json.dumps(value) if isinstance(value, list) else str(value)
            )
        env["CELLWRIGHT_DATA_DIR"] = str(self.tmp / "worker")
        env["CELLWRIGHT_WORKER_CONCURRENCY"] = str(concurrency)
        log = (self.tmp / "workers.log").open("ab")
        for _ in range(count):
            self.procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "workspace.cli", "worker"],
                    env=env,
                    cwd=ROOT,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )

    def wait_ready(self, svc: Cellwright, count: int) -> None:
        celery = svc.executor.celery  # type: ignore[union-attr]
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            replies = celery.control.ping(timeout=1.0) or []
            mine = [
                r
                for r in replies
                if any(f"cellwright-{p.pid}@" in k for p in self.procs for k in r)
            ]
            if len(mine) >= count:
                return
        raise SystemExit("the workers did not start: see " + str(self.tmp / "workers.log"))

    def worker_cpu(self) -> float:
        return sum(cpu_seconds(p.pid) for p in self.procs if p.poll() is None)

    def stop_workers(self) -> None:
        for proc in self.procs:
            proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs.clear()

    def cleanup(self) -> None:
        client = redis.Redis.from_url(REDIS)
        keys = list(client.scan_iter(f"{self.queue}*"))
        if keys:
            client.delete(*keys)
        client.close()


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run_batch(svc: Cellwright, scenario: Any, count: int, pg_url: str) -> dict[str, float]:
    """Store and enqueue ``count`` executions, 50 at a time; wait for all; figures."""
    ids: list[str] = []

    async def one(n: int) -> None:
        execution, _ = await svc.trigger(scenario, {"body": {"n": n}, "headers": {}})
        ids.append(execution.id)

    began, cpu = time.monotonic(), time.process_time()
    for start in range(0, count, 50):
        await asyncio.gather(*(one(n) for n in range(start, min(count, start + 50))))
    enqueue_s = time.monotonic() - began
    engine = create_engine(pg_url)
    query = text(
        "SELECT status, extract(epoch FROM created_at) AS c, extract(epoch FROM end_time) AS e"
        " FROM scenario_executions WHERE scenario_id = :s"
    )
    deadline = time.monotonic() + 1800
    while True:
        with engine.connect() as conn:
            rows = conn.execute(query, {"s": scenario.id}).all()
        done = [r for r in rows if r.status in ("completed", "failed")]
        if len(done) >= count or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)
    engine.dispose()
    serve_cpu = time.process_time() - cpu  # this process: storing, enqueueing, polling
    failed = sum(1 for r in done if r.status != "completed")
    latencies = [float(r.e) - float(r.c) for r in done]
    wall = max(float(r.e) for r in done) - min(float(r.c) for r in done)
    return {
        "count": len(done),
        "failed": failed,
        "wall": wall,
        "per_s": len(done) / wall,
        "p50": pct(latencies, 0.5),
        "p99": pct(latencies, 0.99),
        "enqueue_s": enqueue_s,
        "serve_cpu_ms": serve_cpu / max(1, len(done)) * 1000,
    }


async def sync_waits(
    svc: Cellwright, scenario: Any, runs: int, pubsub: bool
) -> tuple[float, float]:
    svc.executor.pubsub = pubsub  # type: ignore[union-attr]
    latencies = []
    for n in range(runs):
        started = time.perf_counter()
        _, outcome = await svc.trigger(scenario, {"body": {"n": n}, "headers": {}}, wait=60)
        assert outcome is not None and outcome.status == "completed", outcome
        latencies.append(time.perf_counter() - started)
    return pct(latencies, 0.5), pct(latencies, 0.99)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--executions", type=int, default=1000)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--sync-runs", type=int, default=100)
    args = parser.parse_args()
    counts = [int(c) for c in args.workers.split(",")]

    server = make_url(PG)
    admin = create_engine(server, isolation_level="AUTOCOMMIT", pool_size=1)
    name = f"cw_bench_{secrets.token_hex(5)}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    pg_url = server.set(database=name).render_as_string(hide_password=False)
    port = free_port()
    sink = subprocess.Popen([sys.executable, str(ROOT / "benchmarks" / "sink.py"), str(port)])
    tmp = Path(tempfile.mkdtemp(prefix="cw-bench-cluster-"))
    deployment = Deployment(tmp, pg_url, args.concurrency)
    rows: list[tuple[str, dict[str, float]]] = []
    try:
        wait_http(f"http://127.0.0.1:{port}/", sink, timeout=30)  # any answer: it listens
        svc = Cellwright(deployment.settings())
        await svc.start(scheduler=False, analytics=False)
        user = svc.local_user()
        vendor = f"http://127.0.0.1:{port}/vendor"
        try:
            for count in counts:
                deployment.start_workers(count, args.concurrency)
                deployment.wait_ready(svc, count)
                scenario = svc.import_scenario(user.id, documents.loads(scenario_text(vendor)))
                before = deployment.worker_cpu()
                figures = await run_batch(svc, scenario, args.executions, pg_url)
                figures["worker_cpu_ms"] = (
                    (deployment.worker_cpu() - before) / max(1, figures["count"]) * 1000
                )
                rows.append((f"{count} worker(s) x {args.concurrency}", figures))
                print(f"  {rows[-1][0]}: {figures}", flush=True)
                deployment.stop_workers()
            # one execution at a time per process
            deployment.start_workers(1, 1)
            deployment.wait_ready(svc, 1)
            scenario = svc.import_scenario(user.id, documents.loads(scenario_text(vendor)))
            small = max(10, args.executions // 20)
            rows.append(
                ("1 worker x 1 (one at a time)", await run_batch(svc, scenario, small, pg_url))
            )
            print(f"  {rows[-1][0]}: {rows[-1][1]}", flush=True)
            deployment.stop_workers()
            # wait(): pub/sub against polling, with a quick vendor
            deployment.start_workers(1, args.concurrency)
            deployment.wait_ready(svc, 1)
            quick = svc.import_scenario(
                user.id, documents.loads(scenario_text(f"http://127.0.0.1:{port}/sink", sync=True))
            )
            waits = {
                "pub/sub": await sync_waits(svc, quick, args.sync_runs, True),
                "polling": await sync_waits(svc, quick, args.sync_runs, False),
            }
            deployment.stop_workers()
        finally:
            await svc.stop()
            svc.close()
    finally:
        deployment.stop_workers()
        deployment.cleanup()
        sink.terminate()
        sink.wait()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()

    print()
    print(f"{args.executions} executions, each calling a vendor that answers in 200 ms;")
    print(
        f"PostgreSQL store, Redis broker, {os.cpu_count()} cores,"
        f" load average {os.getloadavg()[0]:.1f} at the end"
    )
    print(
        f"{'workers':<30} {'done':>6} {'wall s':>8} {'exec/s':>8} {'ratio':>6} {'p50 s':>7} "
        f"{'p99 s':>7} {'queue s':>7} {'serve CPU ms/exec':>16} {'worker CPU ms/exec':>17}"
    )
    base = rows[0][1]["per_s"] if rows else 1.0
    for label, f in rows:
        print(
            f"{label:<30} {int(f['count']):>6} {f['wall']:>8.2f} {f['per_s']:>8.1f}"
            f" {f['per_s'] / base:>6.2f} {f['p50']:>7.3f} {f['p99']:>7.3f}"
            f" {f['enqueue_s']:>7.2f} {f['serve_cpu_ms']:>16.1f} {f.get('worker_cpu_ms', 0):>17.1f}"
            + (f"  ({int(f['failed'])} failed)" if f["failed"] else "")
        )
    print()
    print(f"synchronous wait(), {args.sync_runs} runs one after the other (trigger -> answer):")
    for label, (p50, p99) in waits.items():
        print(f"  {label:<8} p50 {p50 * 1000:7.1f} ms   p99 {p99 * 1000:7.1f} ms")


if __name__ == "__main__":
    asyncio.run(main())
