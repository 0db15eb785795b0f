"""Webhook throughput on the scenario peers were measured on (issue #2, benchmark 2).

A webhook with a synchronous response receives {"id":1,"amount":42,"name":"alice"}; a
formatter computes total = amount * 1.2 and name_upper = upper(name); a router sends,
when total > 50, {"total","name_upper"} by HTTP POST to a local sink and answers with
the sink's JSON, otherwise answers with the computed fields. Every execution is
persisted as usual. A load generator in its own process runs 10, 50 and 100 concurrent
clients for --seconds each.

    uv run python benchmarks/bench_webhook.py [--seconds 20]

Reference on this kind of machine: n8n 2.8 ~40 req/s (p99 2.8 s at 100 clients);
Node-RED (persists nothing) ~600 req/s (p99 280 ms at 100 clients).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

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
              body: {total: "{{ steps.compute.total }}", name_upper: "{{ steps.compute.name_upper }}"}
          - {id: answer, kind: transformer, app: webhook, operation: respond, inputs: {body: "{{ steps.post.body }}"}}
      - name: small
        fallback: true
        cells:
          - {id: answer_small, kind: transformer, app: webhook, operation: respond, inputs: {body: "{{ steps.compute }}"}}
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--levels", default="10,50,100")
    args = parser.parse_args()

    sink_port, port = free_port(), free_port()
    sink = subprocess.Popen([sys.executable, str(ROOT / "benchmarks" / "sink.py"), str(sink_port)])
    wait_http(f"http://127.0.0.1:{sink_port}/", sink)
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        file = Path(tmp) / "scenario.yaml"
        file.write_text(SCENARIO.replace("SINK", f"http://127.0.0.1:{sink_port}/"))
        env = {"CELLWRIGHT_HTTP_ALLOW_PRIVATE": "true"}
        scenario_id = cli("import", str(file), "--enable", data_dir=data_dir, env=env)
        server = start_server(data_dir, port, env)
        try:
            from storage import Store

            store = Store.for_data_dir(data_dir)
            token = store.get_scenario_any(scenario_id).webhook_token
            url = f"http://127.0.0.1:{port}/hooks/{token}"
            # warm up
            subprocess.run([sys.executable, str(ROOT / "benchmarks" / "loadgen.py"), url, "4", "2"], check=True, capture_output=True)
            print(f"{'clients':>7} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'CPU ms/req':>10} {'peak MB':>8} {'persisted':>9}")
            for level in [int(x) for x in args.levels.split(",")]:
                before_cpu = cpu_seconds(server.pid)
                before_count = store.count_executions(store.list_users()[0].id, scenario_id=scenario_id)
                out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "loadgen.py"), url, str(level), str(args.seconds)], check=True, capture_output=True, text=True)
                figures = json.loads(out.stdout)
                cpu = cpu_seconds(server.pid) - before_cpu
                persisted = store.count_executions(store.list_users()[0].id, scenario_id=scenario_id) - before_count
                per_request = cpu / max(1, figures["requests"]) * 1000
                print(f"{level:>7} {figures['rps']:>8.0f} {figures['p50_ms']:>8.1f} {figures['p99_ms']:>8.1f} {figures['errors']:>7} {per_request:>10.2f} {peak_rss_mb(server.pid):>8.0f} {persisted:>9}")
            store.close()
        finally:
            server.terminate()
            server.wait(30)
            sink.terminate()


if __name__ == "__main__":
    main()
