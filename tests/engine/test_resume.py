"""Durability at the runner level: recorded cells are never run again; reruns."""

from __future__ import annotations

from typing import Any

import pytest

from cells import document as documents
from connectors.sdk import NetworkError, UpstreamError
from engine.service import Cellwright, Conflict, NotFound

THREE = """\
name: Three steps
cells:
  - {id: start, kind: trigger, app: manual, operation: run_manually}
  - {id: a, kind: action, app: probe, operation: count, inputs: {value: "{{ trigger.n }}"}}
  - {id: b, kind: action, app: probe, operation: count, inputs: {value: "{{ steps.a.calls }}"}}
  - id: route
    kind: condition
    branches:
      - name: on
        rules: {all: [{left: "{{ trigger.n }}", op: gt, right: 0}]}
        cells:
          - id: c
            kind: action
            app: probe
            operation: count
            inputs: {value: "{{ steps.b.value }}"}
  - {id: d, kind: action, app: probe, operation: count}
"""


@pytest.fixture
def three(svc: Cellwright, user: Any) -> Any:
    return svc.import_scenario(user.id, documents.loads(THREE))


async def run_recorded(
    svc: Cellwright, scenario: Any, recorded: dict[str, Any], trigger: dict[str, Any]
) -> dict[str, Any]:
    execution, _ = svc.store.create_execution(
        scenario_id=scenario.id,
        scenario_version=scenario.version,
        user_id=scenario.user_id,
        trigger=trigger,
    )
    for cell_id, output in recorded.items():
        svc.store.record_node_result(
            execution.id, cell_id=cell_id, status="completed", output=output
        )
    svc.executor.submit(execution.id)
    outcome = await svc.executor.wait(execution.id, 5)
    assert outcome is not None
    return svc.execution(None, execution.id)


async def test_recorded_cells_are_not_run_again(svc: Cellwright, three: Any, probe: Any) -> None:
    result = await run_recorded(
        svc, three, {"start": {"n": 5}, "a": {"value": 5, "calls": 41}}, {"n": 5}
    )
    assert result["status"] == "completed"
    assert probe.calls == {"b": 1, "c": 1, "d": 1}
    b = next(c for c in result["cells"] if c["cell_id"] == "b")
    assert b["input"]["value"] == 41  # from a's recorded output
    assert [c["cell_id"] for c in result["cells"]] == ["start", "a", "b", "route", "c", "d"]


async def test_recorded_router_decisions_are_kept(svc: Cellwright, three: Any, probe: Any) -> None:
    recorded = {
        "start": {"n": 5},
        "a": {"value": 5, "calls": 1},
        "b": {"value": 1, "calls": 1},
        "route": {"branches": [], "evaluations": {}},
    }
    result = await run_recorded(svc, three, recorded, {"n": 5})
    assert result["status"] == "completed"
    assert probe.calls == {"d": 1}  # the recorded router took no branch


async def test_a_failed_cell_continued_past_is_not_run_again_on_retry(
    svc: Cellwright, user: Any, probe: Any
) -> None:
    probe.fail("optional", UpstreamError("no", status=400))
    probe.fail("needed", NetworkError("blip"))
    text = (
        "name: C\ncells:\n  - {id: s, kind: trigger, app: manual, operation: run_manually}\n"
        "  - {id: optional, kind: action, app: probe, operation: count, on_error: continue}\n"
        "  - {id: needed, kind: action, app: probe, operation: count}\n"
    )
    scenario = svc.import_scenario(user.id, documents.loads(text))
    result = await svc.run_now(user.id, scenario.id, {}, timeout=5)
    assert result["status"] == "completed"
    assert probe.calls == {"optional": 1, "needed": 2}


async def failed_run(svc: Cellwright, user: Any, scenario: Any, probe: Any) -> dict[str, Any]:
    probe.fail("b", UpstreamError("vendor refused", status=422))
    result: dict[str, Any] = await svc.run_now(user.id, scenario.id, {"n": 1}, timeout=5)
    assert result["status"] == "failed" and result["error"]["cell_id"] == "b"
    assert probe.calls == {"a": 1, "b": 1}
    return result


async def rerun(svc: Cellwright, user: Any, execution_id: str, **options: Any) -> dict[str, Any]:
    new = await svc.rerun(user.id, execution_id, **options)
    outcome = await svc.executor.wait(new.id, 5)
    assert outcome is not None
    return svc.execution(user.id, new.id)


async def test_rerun_starts_at_the_failed_cell_by_default(
    svc: Cellwright, user: Any, three: Any, probe: Any
) -> None:
    original = await failed_run(svc, user, three, probe)
    again = await rerun(svc, user, original["id"])
    assert again["status"] == "completed"
    assert again["rerun_of"] == original["id"] and again["resume_from"] == "b"
    assert probe.calls == {"a": 1, "b": 2, "c": 1, "d": 1}
    copied = {c["cell_id"]: c for c in again["cells"]}
    recorded = {c["cell_id"]: c for c in original["cells"]}
    assert (
        copied["a"]["output"] == recorded["a"]["output"]
        and copied["a"]["start_time"] == recorded["a"]["start_time"]
    )
    assert copied["start"]["output"] == {"n": 1}
    assert again["trigger"] == original["trigger"]


async def test_rerun_from_a_chosen_cell(svc: Cellwright, user: Any, three: Any, probe: Any) -> None:
    first = await svc.run_now(user.id, three.id, {"n": 1}, timeout=5)
    assert first["status"] == "completed"
    again = await rerun(svc, user, first["id"], from_cell="c")
    assert again["status"] == "completed"
    assert probe.calls == {"a": 1, "b": 1, "c": 2, "d": 2}
    assert [c["cell_id"] for c in again["cells"]] == ["start", "a", "b", "route", "c", "d"]


async def test_rerun_from_start_runs_everything(
    svc: Cellwright, user: Any, three: Any, probe: Any
) -> None:
    original = await failed_run(svc, user, three, probe)
    again = await rerun(svc, user, original["id"], from_start=True)
    assert again["status"] == "completed" and again["resume_from"] is None
    assert probe.calls == {"a": 2, "b": 2, "c": 1, "d": 1}


async def test_rerun_refuses_what_it_cannot_do(
    svc: Cellwright, user: Any, three: Any, probe: Any, helpers: Any
) -> None:
    original = await failed_run(svc, user, three, probe)
    with pytest.raises(NotFound, match="has no cell 'ghost'. Cells: start, a, b, route, c, d"):
        await svc.rerun(user.id, original["id"], from_cell="ghost")
    other = svc.store.create_user("eve@example.com")
    with pytest.raises(NotFound):
        await svc.rerun(other.id, original["id"])
    with pytest.raises(NotFound):
        await svc.rerun(user.id, "0" * 32)
    probe.sleeps["a"] = 0.3
    running, _ = await svc.trigger(three, {"n": 1})
    await helpers.wait_for(lambda: svc.store.get_execution(None, running.id).status == "running")
    with pytest.raises(Conflict, match="still running"):
        await svc.rerun(user.id, running.id)
    await helpers.finished(svc, running.id)
