"""Webhook throughput on the scenario peers were measured on (issue #2, benchmark 2).

A webhook with a synchronous response receives {"id":1,"amount":42,"name":"alice"}; a
formatter computes total = amount * 1.2 and name_upper = upper(name); a router sends,
when total > 50, {"total","name_upper"} by HTTP POST to a local sink and answers with
the sink's JSON, otherwise answers with the computed fields. Every execution is
persisted as usual. A load generator in its own process runs 10, 50 and 100 concurrent
clients for --seconds each.

    uv run python benchmarks/bench_webhook.py [--seconds 20] [--peer nodered] \\
        [--webhook-workers 0,2]

``--webhook-workers 0,2`` starts one Cellwright server per value (0: the server answers
the webhook itself; N: ``cellwright serve --webhook-workers N``) and measures them side by
side with the peer.

``--peer nodered`` runs the same scenario as a Node-RED flow (benchmarks/peers/nodered,
installed on first use into ~/.cache/cellwright-peers with npm, or $CELLWRIGHT_PEERS)
against the same sink with the same load, one after the other at each client count,
and prints both rows and the ratios. Absolute figures on a shared machine move by 30 %
from run to run: compare the ratios. The load generator is wrk when installed
(``apt-get install wrk``), else benchmarks/loadgen.py (``--loadgen`` chooses).

CPU per request is the server's user + system CPU time (from /proc; with
``--webhook-workers N`` the server's and its workers' together, and peak MB is then the
sum of their peaks) during the step divided by the requests answered; "persisted" counts
the executions stored during the step and "cells" the per-cell result rows stored with them.

``--repeat N`` alternates the steps N times and prints medians: on a busy machine a
single step can be off by half.

``--profile FILE`` records Cellwright's server with py-spy during the middle step
(``py-spy record -f raw``; figures of that run are distorted by the sampling).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from _common import ROOT, cli, cpu_seconds, free_port, peak_rss_mb, start_server, wait_http

SCENARIO = """
name: Benchmark order router
settings: {retry_count: 0}
cells:
  - {id: hook, kind: trigger, app: webhook, operation: catch_hook, inputs: {response: sync}}
  - id: compute
    kind: transformer
    app: formatter
    operation: set_fields
    inputs:
      fields:
        total: "{{ trigger.body.amount * 1.2 }}"
        name_upper: "{{ trigger.body.name | upper }}"
  - id: route
    kind: condition
    branches:
      - name: big
        rules: {all: [{left: "{{ steps.compute.total }}", op: gt, right: 50}]}
        cells:
          - id: post
            kind: action
            app: http
            operation: request
            inputs:
              method: POST
              url: SINK
              body_type: json
              body:
                total: "{{ steps.compute.total }}"
                name_upper: "{{ steps.compute.name_upper }}"
          - id: answer
            kind: transformer
            app: webhook
            operation: respond
            inputs: {body: "{{ steps.post.body }}"}
      - name: small
        fallback: true
        cells:
          - id: answer_small
            kind: transformer
            app: webhook
            operation: respond
            inputs: {body: "{{ steps.compute }}"}
"""

BODY = '{"id": 1, "amount": 42, "name": "alice"}'
NODE_RED_VERSION = "4.1.15"
PEER_FILES = ROOT / "benchmarks" / "peers" / "nodered"

# wrk: POST the body, print one JSON line of figures when done (latencies in µs)
WRK_SCRIPT = """
wrk.method = "POST"
wrk.body = 'BODY'
wrk.headers["Content-Type"] = "application/json"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "errors": %d, "non2xx": %d, '
      .. '"p50_us": %d, "p99_us": %d}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(99)))
end
""".replace("BODY", BODY)


@dataclass
class Target:
    """A server under load: its URL, its process, and how to count what it stored."""

    name: str
    url: str
    pid: int
    stored: Callable[[], tuple[int, int]] | None = None  # (executions, cell rows)
    rows: dict[int, list[dict[str, Any]]] = field(default_factory=dict)

    def median(self, level: int) -> dict[str, Any]:
        """The step's figures, each the median over the repeats (persisted: the sum)."""
        runs = self.rows[level]
        out: dict[str, Any] = {}
        for key in runs[0]:
            values = [r[key] for r in runs]
            if key in ("persisted", "cells", "requests", "errors"):
                out[key] = None if values[0] is None else sum(values)
            else:
                out[key] = statistics.median(values)
        return out


def load(url: str, clients: int, seconds: float, generator: str, workdir: Path) -> dict[str, Any]:
    """Run ``clients`` concurrent clients against ``url`` for ``seconds``: figures."""
    if generator == "wrk":
        script = workdir / "post.lua"
        script.write_text(WRK_SCRIPT)
        threads = min(2, clients)
        out = subprocess.run(
            [
                "wrk",
                f"-t{threads}",
                f"-c{clients}",
                f"-d{max(1, round(seconds))}s",
                "--timeout",
                "10s",
                "-s",
                str(script),
                url,
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        data = json.loads(out.stdout.strip().splitlines()[-1])
        elapsed = data["duration_us"] / 1e6
        ok = data["requests"] - data["non2xx"]
        return {
            "requests": data["requests"],
            "errors": data["errors"] + data["non2xx"],
            "rps": ok / elapsed,
            "p50_ms": data["p50_us"] / 1000,
            "p99_ms": data["p99_us"] / 1000,
        }
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "loadgen.py"), url, str(clients), str(seconds)],
        check=True,
        capture_output=True,
        text=True,
    )
    return dict(json.loads(out.stdout))


def wait_post(url: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    """Wait until ``url`` answers the benchmark's POST with 200 (a flow is deployed)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited: {proc.returncode}")
        try:
            if (
                httpx.post(
                    url, content=BODY, headers={"content-type": "application/json"}, timeout=2
                ).status_code
                == 200
            ):
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer")


def peers_dir() -> Path:
    return Path(os.environ.get("CELLWRIGHT_PEERS") or Path.home() / ".cache" / "cellwright-peers")


def install_nodered() -> Path:
    """Node-RED's red.js, installed with npm into the peers cache dir if missing."""
    home = peers_dir() / "nodered"
    red = home / "node_modules" / "node-red" / "red.js"
    if red.exists():
        return red
    if shutil.which("node") is None or shutil.which("npm") is None:
        raise SystemExit("--peer nodered needs node and npm (Debian: apt-get install nodejs npm)")
    home.mkdir(parents=True, exist_ok=True)
    (home / "package.json").write_text('{ "name": "nodered-peer", "private": true }\n')
    print(f"installing node-red@{NODE_RED_VERSION} into {home} ...", file=sys.stderr)
    subprocess.run(
        ["npm", "install", f"node-red@{NODE_RED_VERSION}", "--no-audit", "--no-fund"],
        cwd=home,
        check=True,
        capture_output=True,
    )
    return red


def start_nodered(tmp: Path, sink_url: str) -> tuple[subprocess.Popen[bytes], str]:
    red = install_nodered()
    data = tmp / "nodered-data"
    data.mkdir()
    flows = (PEER_FILES / "flows.json").read_text().replace("http://127.0.0.1:9999/sink", sink_url)
    (data / "flows.json").write_text(flows)
    shutil.copy(PEER_FILES / "settings.js", data / "settings.js")
    port = free_port()
    proc = subprocess.Popen(
        ["node", str(red), "--userDir", str(data), "--settings", str(data / "settings.js")],
        cwd=red.parent.parent.parent,
        env={**os.environ, "PORT": str(port)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/webhook/bench"
    try:
        wait_post(url, proc)
    except BaseException:
        proc.terminate()
        raise
    return proc, url


def counter(db: Path) -> Callable[[], tuple[int, int]]:
    def stored() -> tuple[int, int]:
        with sqlite3.connect(db) as con:
            executions = con.execute("SELECT count(*) FROM scenario_executions").fetchone()[0]
            cells = con.execute("SELECT count(*) FROM node_results").fetchone()[0]
        con.close()
        return int(executions), int(cells)

    return stored


def step(
    target: Target, level: int, args: argparse.Namespace, tmp: Path, profile: Path | None
) -> None:
    before_cpu = cpu_seconds(target.pid)
    before = target.stored() if target.stored else (0, 0)
    spy = None
    if profile is not None:
        spy = subprocess.Popen(
            [
                "py-spy",
                "record",
                "--nonblocking",
                "-p",
                str(target.pid),
                "-f",
                "raw",
                "-o",
                str(profile),
                "-d",
                str(int(args.seconds)),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    figures = load(target.url, level, args.seconds, args.loadgen, tmp)
    if spy is not None:
        spy.wait(60)
    time.sleep(0.5)  # requests still in flight when the load stopped finish and are stored
    cpu = cpu_seconds(target.pid) - before_cpu
    after = target.stored() if target.stored else (0, 0)
    figures["cpu_ms"] = cpu / max(1, figures["requests"]) * 1000
    figures["peak_mb"] = peak_rss_mb(target.pid)
    figures["persisted"] = after[0] - before[0] if target.stored else None
    figures["cells"] = after[1] - before[1] if target.stored else None
    target.rows.setdefault(level, []).append(figures)


def report(targets: list[Target], levels: list[int], generator: str, repeat: int) -> None:
    medians = f"; medians of {repeat} alternating runs (persisted, cells, errors: totals)"
    print(f"load generator: {generator}" + (medians if repeat > 1 else ""))
    print(
        f"{'server':<10} {'clients':>7} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} "
        f"{'CPU ms/req':>10} {'peak MB':>8} {'persisted':>9} {'cells':>7}"
    )
    for target in targets:
        for level in levels:
            f = target.median(level)
            persisted = "-" if f["persisted"] is None else str(f["persisted"])
            cells = "-" if f["cells"] is None else str(f["cells"])
            print(
                f"{target.name:<10} {level:>7} {f['rps']:>8.0f} {f['p50_ms']:>8.1f} "
                f"{f['p99_ms']:>8.1f} {f['errors']:>7} {f['cpu_ms']:>10.2f} {f['peak_mb']:>8.0f} "
                f"{persisted:>9} {cells:>7}"
            )
    peers = [t for t in targets if not t.name.startswith("cellwright")]
    if peers:
        peer = peers[0]
        for ours in (t for t in targets if t.name.startswith("cellwright")):
            print(
                f"\nratios {ours.name} / {peer.name} "
                "(req/s: higher is better; p99 and CPU: lower is better)"
            )
            print(f"{'clients':>7} {'req/s':>8} {'p99':>8} {'CPU/req':>8}")
            for level in levels:
                a, b = ours.median(level), peer.median(level)
                print(
                    f"{level:>7} {a['rps'] / b['rps']:>8.2f} {a['p99_ms'] / b['p99_ms']:>8.2f} "
                    f"{a['cpu_ms'] / b['cpu_ms']:>8.2f}"
                )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--levels", default="10,50,100")
    parser.add_argument(
        "--peer", choices=["nodered"], help="run the same scenario on this peer too, side by side"
    )
    parser.add_argument(
        "--loadgen", choices=["wrk", "python"], default="wrk" if shutil.which("wrk") else "python"
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="alternate the steps N times; medians"
    )
    parser.add_argument(
        "--webhook-workers",
        default="0",
        help="comma-separated: one Cellwright server per value, serving the webhook from N"
        " worker processes (cellwright serve --webhook-workers N; 0: the server itself),"
        " all measured side by side",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        help="py-spy raw profile of Cellwright's server during the middle step",
    )
    args = parser.parse_args()
    levels = [int(x) for x in args.levels.split(",")]

    sink_port = free_port()
    sink = subprocess.Popen([sys.executable, str(ROOT / "benchmarks" / "sink.py"), str(sink_port)])
    wait_http(f"http://127.0.0.1:{sink_port}/", sink)
    procs: list[subprocess.Popen[bytes]] = [sink]
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        try:
            file = tmp / "scenario.yaml"
            file.write_text(SCENARIO.replace("SINK", f"http://127.0.0.1:{sink_port}/"))
            # the load generator floods one URL on purpose: a per-URL limit far above it
            # keeps the rate limiter's check in the measured path without refusing anything
            env = {
                "CELLWRIGHT_HTTP_ALLOW_PRIVATE": "true",
                "CELLWRIGHT_WEBHOOK_RATE_LIMIT": str(10**9),
            }
            targets: list[Target] = []
            from storage import Store

            for workers in (int(w) for w in str(args.webhook_workers).split(",")):
                data_dir = tmp / f"data-{workers}"
                scenario_id = cli("import", str(file), "--enable", data_dir=data_dir, env=env)
                port = free_port()
                extra: list[str] = []
                hook_port = port
                if workers:
                    hook_port = free_port()
                    extra = ["--webhook-workers", str(workers), "--webhook-port", str(hook_port)]
                server = start_server(data_dir, port, env, *extra)
                procs.append(server)
                store = Store.for_data_dir(data_dir)
                token = store.get_scenario_any(scenario_id).webhook_token
                store.close()
                target = Target(
                    "cellwright" if not workers else f"cellwright+{workers}w",
                    f"http://127.0.0.1:{hook_port}/hooks/{token}",
                    server.pid,
                    counter(data_dir / "cellwright.db"),
                )
                if workers:
                    wait_post(target.url, server, timeout=240)
                targets.append(target)
            if args.peer == "nodered":
                peer, peer_url = start_nodered(tmp, f"http://127.0.0.1:{sink_port}/sink")
                procs.append(peer)
                targets.append(Target("node-red", peer_url, peer.pid))
            for target in targets:  # warm up
                load(target.url, 4, 2, args.loadgen, tmp)
            middle = levels[len(levels) // 2]
            for repeat in range(args.repeat):
                for level in levels:  # one after the other at each client count
                    for target in targets:
                        first = target is targets[0] and level == middle and repeat == 0
                        step(target, level, args, tmp, args.profile if first else None)
            report(targets, levels, args.loadgen, args.repeat)
        finally:
            for proc in reversed(procs):
                proc.terminate()
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()


if __name__ == "__main__":
    main()
