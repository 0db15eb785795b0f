"""Browser timings of the workspace's main operations (Chromium via Playwright).

    uv run python benchmarks/bench_ui.py            # starts its own server on a temp data dir

Prints one line per operation: median and max of N runs, in seconds.
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-dev-shm-usage",
]
RUNS = 5


def big_scenario(url: str, key: str) -> str:
    cells = [{"id": "hook", "kind": "trigger", "app": "webhook", "operation": "catch_hook"}]
    cells += [
        {
            "id": f"c{i}",
            "kind": "transformer",
            "app": "formatter",
            "operation": "text",
            "inputs": {"value": "{{ trigger.body.name | default('x') }}", "transform": "upper"},
        }
        for i in range(49)
    ]
    r = httpx.post(
        f"{url}/api/v1/scenarios",
        json={"name": "Fifty cells", "cells": cells},
        headers={"Authorization": f"Bearer {key}"},
    )
    r.raise_for_status()
    return str(r.json()["id"])


def flow_build_cpu(repeats: int = 50) -> float:
    """CPU time of laying out the diagram of a 50-cell scenario, every step shown (median)."""
    from connectors.registry import default_registry
    from workspace.views.flow_graph import build_flow

    cells = [{"id": "hook", "kind": "trigger", "app": "webhook", "operation": "catch_hook"}]
    cells += [
        {"id": f"c{i}", "kind": "transformer", "app": "formatter", "operation": "text"}
        for i in range(49)
    ]
    results = {c["id"]: {"status": "completed"} for c in cells}
    apps = default_registry()
    times = []
    for _ in range(repeats):
        t = time.process_time()
        build_flow(cells, results, apps, expanded={"more:c2"}, whole_run=True).to_dict()
        times.append(time.process_time() - t)
    return statistics.median(times)


def main() -> None:
    data = Path(tempfile.mkdtemp())
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    log = (data / "server.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "workspace.cli", "serve", "--port", str(port)],
        cwd=ROOT,
        env={**os.environ, "CELLWRIGHT_DATA_DIR": str(data)},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        while True:
            try:
                if httpx.get(f"{url}/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        text = (data / "server.log").read_text()
        key = next(
            line.split(": ")[1].strip()
            for line in text.splitlines()
            if line.startswith("Demo API key")
        )
        scenario_id = big_scenario(url, key)
        timings: dict[str, list[float]] = {}

        def timed(name: str, action, wait) -> None:  # type: ignore[no-untyped-def]
            t = time.perf_counter()
            action()
            wait()
            timings.setdefault(name, []).append(time.perf_counter() - t)

        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path="/usr/bin/chromium", headless=True, args=ARGS
            )
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            for run in range(RUNS):
                page.context.clear_cookies()
                page.goto(url + "/login")
                page.fill("#email", "demo@cellwright.local")
                page.fill("#password", "demo")
                timed(
                    "sign in → scenarios",
                    lambda: page.click("button[type=submit]"),
                    lambda: page.locator(".scenario-list").wait_for(),
                )
                timed(
                    "open 50-cell scenario (reload)",
                    lambda: page.goto(f"{url}/?page=scenario&id={scenario_id}"),
                    lambda: page.locator(".cell-toggle-c48").wait_for(),
                )
                timed(
                    "flow diagram: show all 50 steps",
                    lambda: page.locator('.cw-flow .node[data-id="more:c2"]').click(),
                    lambda: page.locator('.cw-flow .node[data-id="c30"]').wait_for(),
                )
                timed(
                    "flow diagram: open a cell (node)",
                    lambda: page.locator('.cw-flow .node[data-id="c40"]').click(),
                    lambda: page.locator(".run-c40").wait_for(),
                )
                timed(
                    "expand a cell",
                    lambda: page.locator(".cell-toggle-c10 button").click(),
                    lambda: page.locator(".run-c10").wait_for(),
                )
                target = f"c{30 + run}"  # a new place each run: c20 goes just before it
                timed(
                    "drag a cell to a new place",
                    lambda t=target: page.locator(".cell-list li.cell-c20 .grip").drag_to(
                        page.locator(f".cell-list li.cell-{t}"), target_position={"x": 40, "y": 3}
                    ),
                    lambda t=target: page.locator(
                        f".cell-list li.cell-c20 + li.cell-{t}"
                    ).wait_for(),
                )
                timed(
                    "run a cell",
                    lambda: page.locator(".run-c10 button").click(),
                    lambda: page.locator(".cell-c10 .cell-output").wait_for(),
                )
                timed(
                    "test run (50 cells)",
                    lambda: page.locator(".test-run button").click(),
                    lambda: page.locator(".open-execution").wait_for(),
                )
                timed(
                    "step (next cell)",
                    lambda: page.locator(".step button").click(),
                    lambda: page.locator(".step-output").wait_for(),
                )
                page.locator(".step-reset button").click()
                page.locator(".step-panel").wait_for(state="hidden")
                for key_ in (
                    "executions",
                    "connections",
                    "directory",
                    "templates",
                    "analytics",
                    "settings",
                    "scenarios",
                ):
                    marker = {
                        "executions": ".execution-list",
                        "connections": ".connection-list",
                        "directory": ".app-list",
                        "templates": ".template",
                        "analytics": ".analytics-range",
                        "settings": ".api-keys",
                        "scenarios": ".scenario-list",
                    }[key_]
                    timed(
                        f"open {key_}",
                        lambda k=key_: page.locator(f".nav-{k} button").click(),
                        lambda m=marker: page.locator(m).first.wait_for(),
                    )
                    if key_ == "analytics":
                        timed(
                            "analytics: open a chart tab",
                            lambda: page.locator(
                                ".analytics-tabs .bk-tab", has_text="Apps"
                            ).click(),
                            lambda: page.locator(".analytics-apps h2").wait_for(),
                        )
                timed(
                    "open 50-cell scenario (in app)",
                    lambda: page.locator(".open-scenario button").first.click(),
                    lambda: page.locator(".cell-toggle-c48").wait_for(),
                )
            browser.close()
        for name, values in timings.items():
            print(f"{name:<34} median {statistics.median(values):.2f} s   max {max(values):.2f} s")
        print(f"{'flow diagram: build (50 cells, CPU)':<34} median {flow_build_cpu():.4f} s")
    finally:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    main()
