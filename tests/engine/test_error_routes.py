"""Error routes end to end: a cell that fails for good runs its route's cells with
``error`` in scope, then the run stops, finishes as handled, or continues."""

from __future__ import annotations

from typing import Any

from cells import document as documents
from connectors.sdk import NetworkError, UpstreamError
from engine.service import Cellwright
from tests.engine.test_runner import run_text


def doc(then: str, extra: str = "", after: str = "{{ steps.post.value }}") -> str:
    return f"""\
name: Routes
settings: {{retry_count: 2}}
cells:
  - {{id: start, kind: trigger, app: manual, operation: run_manually}}
  - id: before
    kind: action
    app: probe
    operation: count
    inputs: {{value: "{{{{ trigger.n }}}}"}}
  - id: post
    kind: action
    app: probe
    operation: count
    inputs: {{value: "{{{{ steps.before.value }}}}"}}
    on_error:
      cells:
        - id: notify
          kind: action
          app: probe
          operation: count
          inputs:
            value:
              error: "{{{{ error }}}}"
              saw: "{{{{ steps.before.value }}}}"
              trigger: "{{{{ trigger.n }}}}"
        - id: notify2
          kind: action
          app: probe
          operation: count
          inputs: {{value: "{{{{ error.message }}}}"}}
      then: {then}
{extra}  - {{id: after, kind: action, app: probe, operation: count, inputs: {{value: "{after}"}}}}
"""


def cells(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["cell_id"]: c for c in result["cells"]}


async def test_then_stop_runs_the_route_and_fails_the_run_with_the_cells_error(
    svc: Cellwright, user: Any, probe: Any
) -> None:
    probe.fail("post", UpstreamError("vendor refused", status=422))
    result = await run_text(svc, user, doc("stop"), {"n": 7})
    assert result["status"] == "failed"
    assert result["error"]["cell_id"] == "post" and result["error"]["message"] == "vendor refused"
    assert probe.calls == {"before": 1, "post": 1, "notify": 1, "notify2": 1}  # not `after`
    got = cells(result)
    assert got["post"]["status"] == "failed" and got["post"]["error"]["routed"] is True
    assert got["notify"]["status"] == "completed" and got["notify2"]["status"] == "completed"
    assert got["notify2"]["input"]["value"] == "vendor refused"
    assert [c["cell_id"] for c in result["cells"]] == [
        "start",
        "before",
        "post",
        "notify",
        "notify2",
    ]


async def test_the_route_sees_the_error_and_everything_the_failing_cell_saw(
    svc: Cellwright, user: Any, probe: Any
) -> None:
    probe.fail("post", UpstreamError("vendor refused", status=422))
    result = await run_text(svc, user, doc("stop"), {"n": 7})
    value = cells(result)["notify"]["input"]["value"]
    assert value["saw"] == 7 and value["trigger"] == 7
    error = value["error"]
    assert (error["code"], error["message"], error["cell_id"]) == (
        "upstream_error",
        "vendor refused",
        "post",
    )
    assert error["details"]["status"] == 422
    assert "routed" not in error


async def test_then_handled_completes_the_run_without_the_cells_after(
    svc: Cellwright, user: Any, probe: Any
) -> None:
    probe.fail("post", UpstreamError("vendor refused", status=422))
    result = await run_text(svc, user, doc("handled"), {"n": 7})
    assert result["status"] == "completed" and result["error"] is None
    assert probe.calls == {"before": 1, "post": 1, "notify": 1, "notify2": 1}
    assert cells(result)["post"]["status"] == "failed"  # the failure is kept


async def test_then_continue_goes_on_with_the_fallback_output(
    svc: Cellwright, user: Any, probe: Any
) -> None:
    probe.fail("post", UpstreamError("vendor refused", status=422))
    text = doc("continue", extra="      fallback: {value: 'none: {{ error.code }}'}\n")
    result = await run_text(svc, user, text, {"n": 7})
    assert result["status"] == "completed" and result["error"] is None
    assert probe.calls == {"before": 1, "post": 1, "notify": 1, "notify2": 1, "after": 1}
    assert cells(result)["after"]["input"]["value"] == "none: upstream_error"


async def test_a_cell_that_succeeds_never_runs_its_route(
    svc: Cellwright, user: Any, probe: Any
) -> None:
    result = await run_text(svc, user, doc("stop"), {"n": 7})
    assert result["status"] == "completed"
    assert probe.calls == {"before": 1, "post": 1, "after": 1}


async def test_retries_come_first_and_a_waiting_retry_does_not_run_the_route(
    svc: Cellwright, user: Any, probe: Any
) -> None:
    probe.fail("post", NetworkError("blip"))
    result = await run_text(svc, user, doc("stop"), {"n": 7})
    assert result["status"] == "completed"  # the retry succeeded: no route
    assert probe.calls == {"before": 1, "post": 2, "after": 1}


async def test_the_route_runs_once_after_the_last_retry(
    svc: Cellwright, user: Any, probe: Any
) -> None:
    probe.fail("post", NetworkError("blip"), NetworkError("blip"), NetworkError("still down"))
    result = await run_text(svc, user, doc("handled"), {"n": 7})
    assert result["status"] == "completed"
    assert probe.calls == {"before": 1, "post": 3, "notify": 1, "notify2": 1}
    assert cells(result)["notify2"]["input"]["value"] == "still down"
    posts = [c for c in result["cells"] if c["cell_id"] == "post"]
    assert [bool(p["error"].get("routed")) for p in posts] == [False, False, True]


async def test_a_failing_route_cell_fails_the_run_with_its_own_error(
    svc: Cellwright, user: Any, probe: Any
) -> None:
    probe.fail("post", UpstreamError("vendor refused", status=422))
    probe.fail("notify", UpstreamError("slack down", status=400))
    result = await run_text(svc, user, doc("handled"), {"n": 7})
    assert result["status"] == "failed" and result["error"]["cell_id"] == "notify"
    assert probe.calls == {"before": 1, "post": 1, "notify": 1}


async def test_resume_mid_route_does_not_run_finished_route_cells_again(
    svc: Cellwright, user: Any, probe: Any
) -> None:
    scenario = svc.import_scenario(user.id, documents.loads(doc("stop")))
    execution, _ = svc.store.create_execution(
        scenario_id=scenario.id,
        scenario_version=scenario.version,
        user_id=scenario.user_id,
        trigger={"n": 7},
    )
    record = svc.store.record_node_result
    record(execution.id, cell_id="start", status="completed", output={"n": 7})
    record(execution.id, cell_id="before", status="completed", output={"value": 7, "calls": 1})
    error = {"code": "upstream_error", "message": "vendor refused", "routed": True}
    record(execution.id, cell_id="post", status="failed", error=error)
    record(execution.id, cell_id="notify", status="completed", output={"value": 1, "calls": 1})
    svc.executor.submit(execution.id)  # as after a crash between notify and notify2
    assert await svc.executor.wait(execution.id, 5) is not None
    result = svc.execution(user.id, execution.id)
    assert result["status"] == "failed" and result["error"]["message"] == "vendor refused"
    assert probe.calls == {"notify2": 1}  # post and notify are not run again
    assert cells(result)["notify2"]["input"]["value"] == "vendor refused"


async def test_a_rerun_of_a_stopped_run_runs_the_failed_cell_again(
    svc: Cellwright, user: Any, probe: Any
) -> None:
    probe.fail("post", UpstreamError("vendor refused", status=422))
    first = await run_text(svc, user, doc("stop"), {"n": 7})
    assert first["status"] == "failed"
    new = await svc.rerun(user.id, first["id"])
    assert await svc.executor.wait(new.id, 5) is not None
    again = svc.execution(user.id, new.id)
    assert again["status"] == "completed"
    assert probe.calls == {"before": 1, "post": 2, "notify": 1, "notify2": 1, "after": 1}


LOOPED = """\
name: Looped
settings: {{retry_count: 0}}
cells:
  - {{id: start, kind: trigger, app: manual, operation: run_manually}}
  - id: each
    kind: loop
    items: [1, 2]
    cells:
      - id: post
        kind: action
        app: probe
        operation: count
        inputs: {{value: "{{{{ item }}}}"}}
        on_error:
          cells:
            - id: notify
              kind: action
              app: probe
              operation: count
              inputs: {{value: "{{{{ item }}}}: {{{{ error.message }}}}"}}
          then: {then}
      - {{id: later, kind: action, app: probe, operation: count}}
"""


async def test_in_a_loop_handled_ends_the_item_and_stop_fails_the_loop(
    svc: Cellwright, user: Any, probe: Any
) -> None:
    probe.fail("post", UpstreamError("no", status=400))
    handled = await run_text(svc, user, LOOPED.format(then="handled"))
    assert handled["status"] == "completed"
    assert probe.calls == {"post": 2, "notify": 1, "later": 1}  # item 0 handled, item 1 ran
    probe.calls.clear()
    probe.fail("post", UpstreamError("no", status=400))
    stopped = await run_text(svc, user, LOOPED.format(then="stop"))
    assert stopped["status"] == "failed" and stopped["error"]["cell_id"] == "each"
    assert probe.calls == {"post": 1, "notify": 1}
    notify = next(c for c in stopped["cells"] if c["cell_id"] == "notify")
    assert notify["input"]["value"] == "1: no"


async def test_a_fallback_that_cannot_be_computed_fails_the_run_naming_it(
    svc: Cellwright, user: Any, probe: Any
) -> None:
    probe.fail("post", UpstreamError("vendor refused", status=422))
    text = doc("continue", extra="      fallback: '{{ error.details.missing.deeper }}'\n")
    result = await run_text(svc, user, text, {"n": 7})
    assert result["status"] == "failed"
    error = result["error"]
    assert error["cell_id"] == "post" and error["code"] == "mapping_error"
    assert "on_error.fallback" in error["message"]
    assert "notify" not in probe.calls and "after" not in probe.calls
