"""Kill the server (SIGKILL) while runs are parked at a "Wait for a call" cell or in a
delay; a new server on the same data directory takes the call at the run's resume URL
(a real port) or lets the delay end, and finishes every run, with no cell before the
wait run twice."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import httpx
import pytest

from tests.durability.harness import (
    free_port,
    import_enabled,
    kill_mid_flight,
    restart_until_completed,
    start_server,
)
from tests.durability.test_kill_resume import Sink

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("durability")]

SCENARIO = """
name: Approve then wait
cells:
  - id: hook
    kind: trigger
    app: webhook
    operation: catch_hook
  - id: ask
    kind: action
    app: http
    operation: request
    inputs:
      method: POST
      url: "SINK/ask"
      body_type: json
      body: {execution: "{{ execution.id }}", url: "{{ execution.resume_url }}"}
  - id: approval
    kind: action
    app: delay
    operation: wait_for_call
    inputs: {timeout: 1, timeout_unit: hours}
  - id: pause
    kind: action
    app: delay
    operation: delay_for
    inputs: {amount: 1, unit: seconds}
  - id: done
    kind: action
    app: http
    operation: request
    inputs:
      method: POST
      url: "SINK/done"
      body_type: json
      body: {execution: "{{ execution.id }}", approved: "{{ steps.approval.body.approved }}"}
"""


def wait_until(check: object, seconds: float) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError("not reached in time")


def test_a_parked_wait_survives_sigkill_and_takes_its_call_after_restart(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with Sink() as sink:
        store, scenario = import_enabled(tmp_path, data_dir, SCENARIO.replace("SINK", sink.url))
        port = free_port()
        base = f"http://127.0.0.1:{port}"

        server = start_server(data_dir, port)
        try:
            answer = httpx.post(f"{base}/hooks/{scenario.webhook_token}", json={}, timeout=10)
            assert answer.status_code == 202, answer.text
            execution_id = answer.json()["execution_id"]
            wait_until(
                lambda: store.get_execution(None, execution_id).status == "waiting",  # type: ignore[union-attr]
                30,
            )
        finally:
            server.send_signal(signal.SIGKILL)
            server.wait(10)
        token = store.get_execution(None, execution_id).resume_token  # type: ignore[union-attr]
        assert token and sink.calls[("ask", execution_id)] == 1

        server = start_server(data_dir, port)
        try:
            url = f"{base}/hooks/resume/{token}"
            taken = httpx.post(url, json={"approved": True}, timeout=10)
            assert taken.status_code == 202, taken.text
            wait_until(
                lambda: store.get_execution(None, execution_id).status == "completed",  # type: ignore[union-attr]
                60,
            )
            again = httpx.post(url, json={"approved": False}, timeout=10)
            assert again.status_code == 410
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(20)

        results = {
            r.cell_id: r for r in store.node_results(execution_id) if r.status == "completed"
        }
        assert results["approval"].output["body"] == {"approved": True}
        assert results["pause"].output["waited_seconds"] >= 1
        # the message before the wait went out once; the cell after it ran once
        assert sink.calls[("ask", execution_id)] == 1
        assert sink.calls[("done", execution_id)] == 1
        store.close()


DELAYED = """
name: Wait a moment
cells:
  - {id: hook, kind: trigger, app: webhook, operation: catch_hook}
  - id: a
    kind: action
    app: http
    operation: request
    inputs: {method: POST, url: "SINK/a", body_type: json, body: {execution: "{{ execution.id }}"}}
  - {id: pause, kind: action, app: delay, operation: delay_for, inputs: {amount: 4, unit: seconds}}
  - id: c
    kind: action
    app: http
    operation: request
    inputs: {method: POST, url: "SINK/c", body_type: json, body: {execution: "{{ execution.id }}"}}
"""


def test_sigkill_during_a_delay_then_restart_finishes_the_wait_and_the_run_once(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    with Sink() as sink:
        store, scenario = import_enabled(tmp_path, data_dir, DELAYED.replace("SINK", sink.url))
        port = free_port()

        def all_parked(accepted: list[str]) -> bool:
            runs = [store.get_execution(None, e) for e in accepted]
            return all(r is not None and r.status == "waiting" for r in runs)

        accepted = kill_mid_flight(data_dir, port, scenario, [{}, {}, {}], all_parked)
        assert all_parked(accepted), "the runs never parked at their delay"
        assert all(sink.calls[("c", e)] == 0 for e in accepted)  # killed during the delay

        restart_until_completed(data_dir, port, store, accepted)

        for execution_id in accepted:
            assert sink.calls[("a", execution_id)] == 1  # finished before the kill: once
            assert sink.calls[("c", execution_id)] == 1
            [pause] = [
                r
                for r in store.node_results(execution_id)
                if r.cell_id == "pause" and r.status == "completed"
            ]
            assert pause.output["waited_seconds"] >= 4
        store.close()
