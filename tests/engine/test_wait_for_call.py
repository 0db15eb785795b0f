"""Wait for a call: the run parks until a request comes to its resume URL (through the
real ASGI server), with a timeout path; a URL takes one call and only its own run's."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from cells import document as documents
from engine.service import Cellwright

MANUAL = "  - {id: start, kind: trigger, app: manual, operation: run_manually}\n"


def save(svc: Cellwright, user: Any, cells: str) -> Any:
    return svc.import_scenario(user.id, documents.loads(f"name: T\ncells:\n{MANUAL}{cells}"))


def approval(
    timeout: str = "1", unit: str = "days", extra: str = "", after: str = "steps.wait.body.approved"
) -> str:
    return (
        # the message that carries the URL runs BEFORE the wait
        "  - {id: send, kind: action, app: probe, operation: count,"
        " inputs: {value: '{{ execution.resume_url }}'}}\n"
        "  - id: wait\n    kind: action\n    app: delay\n    operation: wait_for_call\n"
        f"    inputs: {{timeout: {timeout}, timeout_unit: {unit}{extra}}}\n"
        "  - {id: after, kind: action, app: probe, operation: count,"
        f" inputs: {{value: '{{{{ {after} }}}}'}}}}\n"
    )


def path_of(url: str) -> str:
    return urlsplit(url).path


def cell(result: dict[str, Any], cell_id: str) -> dict[str, Any]:
    return [c for c in result["cells"] if c["cell_id"] == cell_id][-1]


async def parked(svc: Cellwright, execution_id: str, helpers: Any) -> dict[str, Any]:
    waiting: dict[str, Any] = await helpers.wait_for(
        lambda: (e := svc.execution(None, execution_id))["status"] == "waiting" and e
    )
    return waiting


async def test_a_call_resumes_the_run_with_its_body(
    svc: Cellwright, user: Any, probe: Any, anon: httpx.AsyncClient, helpers: Any
) -> None:
    execution, _ = await svc.trigger(save(svc, user, approval()), {})
    waiting = await parked(svc, execution.id, helpers)
    url = waiting["waiting"]["resume_url"]
    assert waiting["waiting"]["for"] == "call" and waiting["waiting"]["cell_id"] == "wait"
    assert url == waiting["resume_url"] and "/hooks/resume/" in url
    # the earlier cell had the URL to send
    assert cell(waiting, "send")["input"]["value"] == url
    assert "resume_token" not in waiting and "resume_call" not in waiting
    answer = await anon.post(
        path_of(url) + "?decision=yes",
        json={"approved": True},
        headers={"Authorization": "Bearer approver-secret-token"},
    )
    assert answer.status_code == 202, answer.text
    result = await helpers.finished(svc, execution.id)
    assert result["status"] == "completed"
    output = cell(result, "wait")["output"]
    assert output["body"] == {"approved": True}
    assert output["query"] == {"decision": "yes"}
    assert output["method"] == "POST" and output["timed_out"] is False
    # a credential header is masked, in the output and everywhere in the record
    assert output["headers"]["authorization"] != "Bearer approver-secret-token"
    assert "approver-secret-token" not in str(result)
    assert cell(result, "after")["input"]["value"] is True
    assert probe.calls == {"send": 1, "after": 1}  # the cell before the wait ran once

    again = await anon.post(path_of(url), json={"approved": False})
    assert again.status_code == 410
    assert "no longer takes calls" in again.json()["message"]
    assert cell(svc.execution(None, execution.id), "wait")["output"]["body"] == {"approved": True}


async def test_an_unknown_url_is_not_found(anon: httpx.AsyncClient, svc: Cellwright) -> None:
    answer = await anon.post("/hooks/resume/not-a-real-token", json={})
    assert answer.status_code == 404
    assert "No run waits at this URL" in answer.json()["message"]


async def test_a_second_call_while_the_run_is_still_going_is_refused(
    svc: Cellwright, user: Any, probe: Any, anon: httpx.AsyncClient, helpers: Any
) -> None:
    probe.sleeps["after"] = 0.5  # still running after the first call
    execution, _ = await svc.trigger(save(svc, user, approval()), {})
    url = (await parked(svc, execution.id, helpers))["resume_url"]
    first = await anon.post(path_of(url), json={"approved": True})
    second = await anon.post(path_of(url), json={"approved": False})
    assert first.status_code == 202
    assert second.status_code == 410
    assert "already called" in second.json()["message"]
    result = await helpers.finished(svc, execution.id)
    assert cell(result, "wait")["output"]["body"] == {"approved": True}


async def test_a_call_that_comes_before_the_run_parks_is_not_lost(
    svc: Cellwright, user: Any, probe: Any, anon: httpx.AsyncClient, helpers: Any
) -> None:
    # the approver answers while the message cell is still running
    probe.sleeps["send"] = 0.5
    execution, _ = await svc.trigger(save(svc, user, approval()), {})
    await helpers.wait_for(lambda: probe.calls["send"] == 1)
    token = await helpers.wait_for(lambda: svc.store.get_execution(None, execution.id).resume_token)
    answer = await anon.post(f"/hooks/resume/{token}", json={"approved": True})
    assert answer.status_code == 202
    result = await helpers.finished(svc, execution.id)
    assert result["status"] == "completed"
    assert cell(result, "wait")["output"]["body"] == {"approved": True}


async def test_a_timeout_can_continue_with_timed_out(
    svc: Cellwright, user: Any, probe: Any, anon: httpx.AsyncClient, helpers: Any
) -> None:
    scenario = save(
        svc, user, approval("0.3", "seconds", ", on_timeout: continue", "steps.wait.timed_out")
    )
    execution, _ = await svc.trigger(scenario, {})
    url = (await parked(svc, execution.id, helpers))["resume_url"]
    result = await helpers.finished(svc, execution.id, timeout=10)
    assert result["status"] == "completed"
    assert cell(result, "wait")["output"]["timed_out"] is True
    assert cell(result, "after")["input"]["value"] is True
    assert probe.calls == {"send": 1, "after": 1}
    late = await anon.post(path_of(url), json={"approved": True})
    assert late.status_code == 410  # nothing can change a finished run


async def test_a_timeout_fails_the_cell_so_its_error_route_runs(
    svc: Cellwright, user: Any, probe: Any, helpers: Any
) -> None:
    cells = (
        "  - id: wait\n    kind: action\n    app: delay\n    operation: wait_for_call\n"
        "    inputs: {timeout: 0.3, timeout_unit: seconds}\n"
        "    on_error:\n      cells:\n"
        "        - {id: remind, kind: action, app: probe, operation: count,"
        " inputs: {value: '{{ error.code }}'}}\n"
        "      then: handled\n"
        "  - {id: after, kind: action, app: probe, operation: count}\n"
    )
    execution, _ = await svc.trigger(save(svc, user, cells), {})
    result = await helpers.finished(svc, execution.id, timeout=10)
    assert result["status"] == "completed"  # handled by the route
    assert cell(result, "wait")["status"] == "failed"
    assert cell(result, "wait")["error"]["code"] == "wait_timed_out"
    assert cell(result, "remind")["input"]["value"] == "wait_timed_out"
    assert probe.calls == {"remind": 1}


async def test_a_timeout_without_a_route_fails_the_run_and_says_what_to_do(
    svc: Cellwright, user: Any, helpers: Any
) -> None:
    cells = (
        "  - id: wait\n    kind: action\n    app: delay\n    operation: wait_for_call\n"
        "    inputs: {timeout: '{{ trigger.hours }}', timeout_unit: hours}\n"
    )
    execution, _ = await svc.trigger(save(svc, user, cells), {"hours": 0.0001})
    result = await helpers.finished(svc, execution.id, timeout=10)
    assert result["status"] == "failed"
    assert result["error"]["code"] == "wait_timed_out"
    assert "on_timeout: continue" in result["error"]["message"]


async def test_a_url_resumes_only_its_own_run_and_others_cannot_see_it(
    svc: Cellwright,
    user: Any,
    anon: httpx.AsyncClient,
    client: httpx.AsyncClient,
    helpers: Any,
) -> None:
    other = svc.store.create_user("bob@example.com", name="Bob")
    mine, _ = await svc.trigger(save(svc, user, approval()), {})
    theirs, _ = await svc.trigger(save(svc, other, approval()), {})
    my_url = (await parked(svc, mine.id, helpers))["resume_url"]
    their_url = (await parked(svc, theirs.id, helpers))["resume_url"]
    assert my_url != their_url
    # Ada's API key does not show Bob's run (nor its URL)
    assert (await client.get(f"/api/v1/executions/{theirs.id}")).status_code == 404
    shown = (await client.get(f"/api/v1/executions/{mine.id}")).json()
    assert shown["waiting"]["resume_url"] == my_url
    assert (await anon.post(path_of(my_url), json={"approved": True})).status_code == 202
    assert (await helpers.finished(svc, mine.id))["status"] == "completed"
    assert svc.store.get_execution(None, theirs.id).status == "waiting"  # untouched


def test_two_wait_cells_are_refused() -> None:
    cells = "".join(
        f"  - {{id: w{i}, kind: action, app: delay, operation: wait_for_call}}\n" for i in (1, 2)
    )
    with pytest.raises(documents.DocumentError) as caught:
        documents.loads(f"name: T\ncells:\n{MANUAL}{cells}")
    assert "'w1' and 'w2' both wait for a call" in caught.value.message


async def test_run_on_its_own_the_wait_does_not_wait(svc: Cellwright, user: Any) -> None:
    doc = documents.loads(f"name: T\ncells:\n{MANUAL}{approval()}")
    result = await svc.run_cell(user.id, doc, "wait", {"trigger": {}, "steps": {}})
    assert result.ok and result.output["preview"] is True
    sent = await svc.run_cell(user.id, doc, "send", {"trigger": {}, "steps": {}})
    assert "/hooks/resume/" in sent.input["value"]


async def test_the_owner_can_answer_through_the_api_and_nobody_else(
    svc: Cellwright, user: Any, client: httpx.AsyncClient, helpers: Any
) -> None:
    other = svc.store.create_user("bob@example.com", name="Bob")
    theirs, _ = await svc.trigger(save(svc, other, approval()), {})
    mine, _ = await svc.trigger(save(svc, user, approval()), {})
    await parked(svc, theirs.id, helpers)
    await parked(svc, mine.id, helpers)
    refused = await client.post(f"/api/v1/executions/{theirs.id}/resume", json={"body": {}})
    assert refused.status_code == 404
    assert svc.store.get_execution(None, theirs.id).status == "waiting"  # untouched
    answered = await client.post(
        f"/api/v1/executions/{mine.id}/resume", json={"body": {"approved": True}}
    )
    assert answered.status_code == 202, answered.text
    result = await helpers.finished(svc, mine.id)
    assert cell(result, "wait")["output"]["body"] == {"approved": True}
    again = await client.post(f"/api/v1/executions/{mine.id}/resume", json={"body": {}})
    assert again.status_code == 409
    assert "no longer takes calls" in again.json()["message"]
