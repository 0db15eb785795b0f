"""Sub-scenarios end to end: a "Run scenario" cell calls another of the owner's
scenarios (trigger "When called by another scenario"), passes inputs and gets its
output; the called run is its own execution, linked both ways; depth, cycles, owners
and inputs are checked."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from cells import document as documents
from connectors.registry import Registry
from connectors.sdk import InvalidInputError, NetworkError, UpstreamError
from engine.service import Cellwright
from engine.settings import Settings
from tests.services import running_service

CHILD = """\
name: Create contact
cells:
  - id: called
    kind: trigger
    app: scenario
    operation: called
    inputs:
      inputs:
        - {name: email, type: text, required: true}
        - {name: score, type: number}
  - {id: work, kind: action, app: probe, operation: count, inputs: {value: "{{ trigger.email }}"}}
  - id: give
    kind: action
    app: scenario
    operation: return_output
    inputs: {output: {contact: "{{ steps.work.value }}", doubled: "{{ trigger.score * 2 }}"}}
  - {id: after, kind: action, app: probe, operation: count, inputs: {value: "not returned"}}
"""


def caller(target: str, *, wait: bool = True, inputs: str | None = None, extra: str = "") -> str:
    mapped = inputs or '{email: "{{ trigger.email }}", score: 4}'
    return f"""\
name: Caller of {target}
cells:
  - {{id: start, kind: trigger, app: manual, operation: run_manually}}
  - id: call
    kind: action
    app: scenario
    operation: run_scenario
    inputs: {{scenario_id: "{target}", wait: {str(wait).lower()}, inputs: {mapped}}}
{extra}  - {{id: use, kind: action, app: probe, operation: count,
     inputs: {{value: "{{{{ steps.call }}}}"}}}}
"""


async def publish(svc: Cellwright, user: Any, text: str, scenario_id: str | None = None) -> str:
    saved = svc.import_scenario(user.id, documents.loads(text), scenario_id=scenario_id)
    await svc.publish(user.id, saved.id)
    return saved.id


async def run(svc: Cellwright, user: Any, scenario_id: str, payload: dict[str, Any]) -> Any:
    return await svc.run_now(user.id, scenario_id, payload, timeout=20)


def cells(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["cell_id"]: c for c in result["cells"]}


async def test_the_caller_gets_what_the_called_scenario_returns_and_both_runs_are_linked(
    svc: Cellwright, user: Any, probe: Any
) -> None:
    child = await publish(svc, user, CHILD)
    parent = await publish(svc, user, caller(child))
    result = await run(svc, user, parent, {"email": "ada@example.com"})
    assert result["status"] == "completed", result["error"]
    call = cells(result)["call"]["output"]
    assert call["status"] == "completed"
    # the Return output cell's fields, not the last cell's output
    assert call["output"] == {"contact": "ada@example.com", "doubled": 8.0}
    assert cells(result)["use"]["input"]["value"]["output"]["contact"] == "ada@example.com"
    called = svc.execution(user.id, call["execution_id"])
    assert called["scenario_id"] == child and called["status"] == "completed"
    assert called["parent_execution_id"] == result["id"]
    assert called["trigger"] == {"email": "ada@example.com", "score": 4}
    assert [c["cell_id"] for c in called["cells"]] == ["called", "work", "give", "after"]
    assert result["children"] == [{"id": called["id"], "scenario_id": child, "status": "completed"}]
    listed = svc.list_executions(user.id, parent_execution_id=result["id"])
    assert [e["id"] for e in listed] == [called["id"]]
    assert probe.calls["work"] == 1


async def test_without_a_return_cell_the_last_cells_output_is_returned(
    svc: Cellwright, user: Any
) -> None:
    plain = CHILD.split("  - id: give")[0]
    child = await publish(svc, user, plain)
    parent = await publish(svc, user, caller(child))
    result = await run(svc, user, parent, {"email": "x@example.com"})
    assert cells(result)["call"]["output"]["output"] == {"value": "x@example.com", "calls": 1}


async def test_a_failed_called_run_fails_the_cell_with_its_error_and_the_route_handles_it(
    svc: Cellwright, user: Any, probe: Any
) -> None:
    child = await publish(svc, user, CHILD)
    route = """\
    on_error:
      cells:
        - {id: notify, kind: action, app: probe, operation: count, inputs: {value: "{{ error }}"}}
      then: handled
"""
    text = (
        caller(child)
        .replace("inputs: {scenario_id", "inputs: {scenario_id", 1)
        .replace("score: 4}}\n", "score: 4}}\n" + route, 1)
    )
    parent = await publish(svc, user, text)
    probe.fail("work", UpstreamError("vendor refused", status=422))
    result = await run(svc, user, parent, {"email": "ada@example.com"})
    assert result["status"] == "completed"  # handled by the route
    got = cells(result)
    error = got["notify"]["input"]["value"]
    assert error["code"] == "upstream_error" and error["cell_id"] == "call"
    assert "vendor refused" in error["message"] and "Create contact" in error["message"]
    child_id = error["details"]["execution_id"]
    failed = svc.execution(user.id, child_id)
    assert failed["status"] == "failed" and failed["parent_execution_id"] == result["id"]
    assert failed["error"]["cell_id"] == "work"
    assert "use" not in got


async def test_a_failed_called_run_without_a_route_fails_the_caller(
    svc: Cellwright, user: Any, probe: Any
) -> None:
    child = await publish(svc, user, CHILD)
    parent = await publish(svc, user, caller(child))
    probe.fail("work", UpstreamError("vendor refused", status=422))
    result = await run(svc, user, parent, {"email": "ada@example.com"})
    assert result["status"] == "failed"
    assert result["error"]["cell_id"] == "call" and "vendor refused" in result["error"]["message"]


async def test_without_waiting_the_cell_outputs_the_queued_runs_id(
    svc: Cellwright, user: Any, probe: Any, helpers: Any
) -> None:
    child = await publish(svc, user, CHILD)
    parent = await publish(svc, user, caller(child, wait=False))
    result = await run(svc, user, parent, {"email": "ada@example.com"})
    assert result["status"] == "completed"
    call = cells(result)["call"]["output"]
    assert call["status"] == "queued" and call["output"] is None
    called = await helpers.finished(svc, call["execution_id"])
    assert called["status"] == "completed" and called["parent_execution_id"] == result["id"]


async def test_a_rerun_of_the_caller_calls_again(svc: Cellwright, user: Any, helpers: Any) -> None:
    child = await publish(svc, user, CHILD)
    parent = await publish(svc, user, caller(child))
    first = await run(svc, user, parent, {"email": "ada@example.com"})
    again = await svc.rerun(user.id, first["id"], from_start=True)
    second = await helpers.finished(svc, again.id)
    assert second["status"] == "completed"
    one = cells(first)["call"]["output"]["execution_id"]
    two = cells(second)["call"]["output"]["execution_id"]
    assert one != two
    assert svc.execution(user.id, two)["parent_execution_id"] == second["id"]


async def test_one_execution_slot_is_enough_for_a_caller_and_its_called_runs(
    make_settings: Any, registry: Registry
) -> None:
    settings: Settings = make_settings(max_concurrent_executions=1)
    async with running_service(settings, registry) as svc:
        user = svc.store.create_user("solo@example.com", name="Solo")
        child = await publish(svc, user, CHILD)
        middle = await publish(
            svc, user, caller(child).replace("trigger, app: manual, operation: run_manually", CALL)
        )
        parent = await publish(svc, user, caller(middle))
        result = await run(svc, user, parent, {"email": "ada@example.com"})
        assert result["status"] == "completed", result["error"]
        nested = cells(result)["call"]["output"]["output"]
        assert nested["value"]["output"]["contact"] == "ada@example.com"


CALL = (
    "trigger, app: scenario, operation: called,"
    " inputs: {inputs: [{name: email}, {name: score, type: number}]}"
)


async def test_calls_deeper_than_the_limit_fail_with_a_clear_error(
    make_settings: Any, registry: Registry
) -> None:
    async with running_service(make_settings(max_scenario_depth=1), registry) as svc:
        user = svc.store.create_user("deep@example.com", name="Deep")
        child = await publish(svc, user, CHILD)
        middle = await publish(
            svc, user, caller(child).replace("trigger, app: manual, operation: run_manually", CALL)
        )
        parent = await publish(svc, user, caller(middle))
        result = await run(svc, user, parent, {"email": "ada@example.com"})
        assert result["status"] == "failed"
        message = result["error"]["message"]
        assert "nested too deep" in message and "max_scenario_depth" in message
        assert result["error"]["code"] == "limit_exceeded"


async def test_a_cycle_is_refused_at_publish_direct_and_indirect(
    svc: Cellwright, user: Any
) -> None:
    text = caller("SELF").replace("trigger, app: manual, operation: run_manually", CALL)
    saved = svc.import_scenario(user.id, documents.loads(text.replace("SELF", "x")))
    own = text.replace("Caller of SELF", "Loop").replace("SELF", saved.id)
    svc.import_scenario(user.id, documents.loads(own), scenario_id=saved.id)
    with pytest.raises(InvalidInputError, match="cycle: 'Loop' → 'Loop'"):
        await svc.publish(user.id, saved.id)

    b = await publish(svc, user, CHILD.replace("Create contact", "B"))
    a_text = caller(b).replace("trigger, app: manual, operation: run_manually", CALL)
    a = await publish(svc, user, a_text.replace(f"Caller of {b}", "A"))
    b_calls_a = caller(a).replace("trigger, app: manual, operation: run_manually", CALL)
    svc.import_scenario(
        user.id, documents.loads(b_calls_a.replace(f"Caller of {a}", "B")), scenario_id=b
    )
    with pytest.raises(InvalidInputError, match="cycle: 'B' → 'A' → 'B'"):
        await svc.publish(user.id, b)


async def test_a_cycle_that_went_live_unchecked_is_stopped_when_it_runs(
    svc: Cellwright, user: Any
) -> None:
    b = await publish(svc, user, CHILD.replace("Create contact", "B"))
    a_text = caller(b).replace("trigger, app: manual, operation: run_manually", CALL)
    a = await publish(svc, user, a_text.replace(f"Caller of {b}", "A"))
    b_calls_a = caller(a).replace("trigger, app: manual, operation: run_manually", CALL)
    svc.import_scenario(
        user.id, documents.loads(b_calls_a.replace(f"Caller of {a}", "B")), scenario_id=b
    )
    svc.store.publish_scenario(user.id, b)  # went live without the check (older data)
    result = await run(svc, user, a, {"email": "ada@example.com"})
    assert result["status"] == "failed"
    assert "cycle: 'A' → 'B' → 'A'" in result["error"]["message"]


async def test_another_users_scenario_is_not_found(svc: Cellwright, user: Any) -> None:
    other = svc.store.create_user("eve@example.com", name="Eve")
    theirs = await publish(svc, other, CHILD)
    saved = svc.import_scenario(user.id, documents.loads(caller(theirs)))
    with pytest.raises(InvalidInputError, match="not found among your scenarios"):
        await svc.publish(user.id, saved.id)
    result = await run(svc, user, saved.id, {"email": "ada@example.com"})  # the draft
    assert result["status"] == "failed"
    assert "was not found among your scenarios" in result["error"]["message"]
    assert svc.list_executions(other.id, scenario_id=theirs) == []


async def test_inputs_are_checked_against_the_declared_inputs(svc: Cellwright, user: Any) -> None:
    child = await publish(svc, user, CHILD)
    unknown = svc.import_scenario(
        user.id, documents.loads(caller(child, inputs='{email: "a@b.c", colour: red}'))
    )
    with pytest.raises(InvalidInputError, match="'colour' is not one of its inputs"):
        await svc.publish(user.id, unknown.id)
    missing = svc.import_scenario(user.id, documents.loads(caller(child, inputs="{score: 1}")))
    with pytest.raises(InvalidInputError, match="requires the input"):
        await svc.publish(user.id, missing.id)
    typed = svc.import_scenario(
        user.id, documents.loads(caller(child, inputs='{email: "a@b.c", score: lots}'))
    )
    with pytest.raises(InvalidInputError, match="'score' must be a number"):
        await svc.publish(user.id, typed.id)
    # a mapped value is checked when the call runs
    mapped = await publish(
        svc, user, caller(child, inputs='{email: "a@b.c", score: "{{ trigger.score }}"}')
    )
    result = await run(svc, user, mapped, {"score": "many"})
    assert result["status"] == "failed" and result["error"]["code"] == "invalid_input"
    assert "'score' must be a number" in result["error"]["message"]
    assert svc.list_executions(user.id, scenario_id=child) == []  # nothing was started


async def test_a_scenario_without_the_called_trigger_cannot_be_called(
    svc: Cellwright, user: Any
) -> None:
    manual = CHILD.replace(
        "kind: trigger\n    app: scenario\n    operation: called\n    inputs:\n      inputs:\n"
        "        - {name: email, type: text, required: true}\n"
        "        - {name: score, type: number}\n",
        "kind: trigger\n    app: manual\n    operation: run_manually\n",
    )
    child = await publish(svc, user, manual)
    saved = svc.import_scenario(user.id, documents.loads(caller(child)))
    with pytest.raises(InvalidInputError, match="When called by another scenario"):
        await svc.publish(user.id, saved.id)


async def test_running_the_cell_on_its_own_calls_the_scenario(svc: Cellwright, user: Any) -> None:
    child = await publish(svc, user, CHILD)
    doc = documents.loads(caller(child))
    result = await svc.run_cell(user.id, doc, "call", {"trigger": {"email": "nb@example.com"}})
    assert result.ok, result.error
    assert result.output["output"]["contact"] == "nb@example.com"
    called = svc.execution(user.id, result.output["execution_id"])
    assert called["status"] == "completed" and called["parent_execution_id"] is None


async def test_the_rest_api_shows_both_links_and_filters_by_parent(
    svc: Cellwright, user: Any, client: httpx.AsyncClient
) -> None:
    child = await publish(svc, user, CHILD)
    parent = await publish(svc, user, caller(child))
    result = await run(svc, user, parent, {"email": "ada@example.com"})
    child_run = cells(result)["call"]["output"]["execution_id"]
    got = (await client.get(f"/api/v1/executions/{child_run}")).json()
    assert got["parent_execution_id"] == result["id"]
    got = (await client.get(f"/api/v1/executions/{result['id']}")).json()
    assert [c["id"] for c in got["children"]] == [child_run]
    page = await client.get("/api/v1/executions", params={"parent_execution_id": result["id"]})
    assert [e["id"] for e in page.json()["items"]] == [child_run]
    assert page.json()["total"] == 1


async def test_a_temporary_failure_of_the_called_run_is_retried_with_a_new_call(
    svc: Cellwright, user: Any, probe: Any
) -> None:
    child = await publish(svc, user, "settings: {retry_count: 0}\n" + CHILD)
    parent = await publish(svc, user, "settings: {retry_count: 1}\n" + caller(child))
    probe.fail("work", NetworkError("connection reset"))  # the first call only
    result = await run(svc, user, parent, {"email": "ada@example.com"})
    assert result["status"] == "completed", result["error"]
    calls = svc.list_executions(user.id, parent_execution_id=result["id"])
    assert sorted(c["status"] for c in calls) == ["completed", "failed"]
    failed = next(c for c in result["cells"] if c["status"] == "failed")
    assert failed["cell_id"] == "call" and failed["error"]["code"] == "network_error"
    returned = cells(result)["call"]["output"]
    assert returned["status"] == "completed" and returned["output"]["contact"] == "ada@example.com"


async def test_a_called_run_the_caller_stops_waiting_for_is_ended(
    svc: Cellwright, user: Any, probe: Any
) -> None:
    child = await publish(svc, user, CHILD)
    parent = await publish(
        svc, user, "settings: {cell_timeout_seconds: 0.3, retry_count: 0}\n" + caller(child)
    )
    probe.sleeps["work"] = 30
    result = await run(svc, user, parent, {"email": "ada@example.com"})
    assert result["status"] == "failed" and result["error"]["code"] == "timeout"
    [called] = svc.list_executions(user.id, parent_execution_id=result["id"])
    assert called["status"] == "failed" and "stopped waiting" in called["error"]["message"]


async def test_the_api_lists_what_a_callable_scenario_expects(
    svc: Cellwright, user: Any, client: httpx.AsyncClient
) -> None:
    child = await publish(svc, user, CHILD)
    got = await client.get(f"/api/v1/scenarios/{child}/called-inputs")
    assert got.status_code == 200
    assert got.json() == [
        {"name": "email", "type": "text", "required": True, "description": None},
        {"name": "score", "type": "number", "required": False, "description": None},
    ]
    other = svc.store.create_user("eve@example.com", name="Eve")
    theirs = await publish(svc, other, CHILD)
    assert (await client.get(f"/api/v1/scenarios/{theirs}/called-inputs")).status_code == 404
    plain = svc.import_scenario(user.id, documents.loads(caller(child)))
    refused = await client.get(f"/api/v1/scenarios/{plain.id}/called-inputs")
    assert refused.status_code in (400, 409, 422) and "not published" in refused.text


async def test_a_declared_input_of_an_unknown_type_is_refused_when_saved(
    svc: Cellwright, user: Any
) -> None:
    bad = CHILD.replace("type: number", "type: decimal")
    with pytest.raises(InvalidInputError, match=r"inputs\.1\.type"):
        svc.import_scenario(user.id, documents.loads(bad))
    twice = CHILD.replace("name: score", "name: email")
    with pytest.raises(InvalidInputError, match="email appear twice"):
        svc.import_scenario(user.id, documents.loads(twice))


async def test_a_resumed_caller_finds_the_run_it_started_instead_of_calling_again(
    svc: Cellwright, user: Any, probe: Any
) -> None:
    child = await publish(svc, user, CHILD)
    calls = svc.subscenarios.bound(user.id, execution_id=None, idempotency_key="run-1:call:0")
    first = await calls.call(child, {"email": "ada@example.com", "score": 2}, wait=True)
    # the caller's process died before it recorded the cell: its resumed run calls again
    again = await calls.call(child, {"email": "ada@example.com", "score": 2}, wait=True)
    assert again.execution_id == first.execution_id and probe.calls["work"] == 1
    assert again.output == first.output == {"contact": "ada@example.com", "doubled": 4.0}


async def test_a_resumed_caller_waits_for_its_call_that_another_process_runs(
    svc: Cellwright, user: Any
) -> None:
    child = await publish(svc, user, CHILD)
    version = svc.scenario(user.id, child).live_version
    running, _ = svc.store.create_execution(  # started by the caller's earlier process
        scenario_id=child,
        scenario_version=version,
        user_id=user.id,
        trigger={"email": "ada@example.com"},
        idempotency_key="call:run-2:call:0",
        claim_owner="another-process",
        lease_seconds=60,
    )
    calls = svc.subscenarios.bound(user.id, execution_id=None, idempotency_key="run-2:call:0")
    waiting = asyncio.ensure_future(calls.call(child, {"email": "ada@example.com"}, wait=True))
    await asyncio.sleep(0.3)
    assert not waiting.done()  # the other process still holds it
    svc.store.record_node_result(
        running.id, cell_id="give", status="completed", output={"contact": "from elsewhere"}
    )
    svc.store.finish_execution(running.id, status="completed")
    result = await asyncio.wait_for(waiting, 10)
    assert result.execution_id == running.id and result.output == {"contact": "from elsewhere"}


async def test_waiting_for_a_scenario_that_parks_is_refused_but_a_call_without_waiting_works(
    svc: Cellwright, user: Any, helpers: Any
) -> None:
    parks = CHILD.replace(
        "  - id: give\n",
        "  - {id: cool, kind: action, app: delay, operation: delay_for,"
        " inputs: {amount: 1, unit: seconds}}\n  - id: give\n",
    )
    child = await publish(svc, user, parks)
    waits = svc.import_scenario(user.id, documents.loads(caller(child)))
    with pytest.raises(InvalidInputError, match="cool"):
        await svc.publish(user.id, waits.id)
    await publish(svc, user, caller(child, wait=False))
