"""The runner, end to end on a real store and a real HTTP sink on loopback."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from cells import document as documents
from cells.run import idempotency_key
from connectors.registry import Registry
from connectors.sdk import NetworkError, RateLimitedError, UpstreamError
from engine.service import Cellwright
from engine.settings import Settings
from tests.services import running_service

HOOK = "  - {id: hook, kind: trigger, app: webhook, operation: catch_hook}\n"
MANUAL = "  - {id: start, kind: trigger, app: manual, operation: run_manually}\n"


def event(body: Any) -> dict[str, Any]:
    return {
        "method": "POST",
        "headers": {"content-type": "application/json"},
        "query": {},
        "body": body,
    }


def scenario(cells: str, *, trigger: str = MANUAL, settings: str = "") -> str:
    return f"name: Test\n{settings}cells:\n{trigger}{cells}"


async def run_text(
    svc: Cellwright,
    user: Any,
    text: str,
    payload: dict[str, Any] | None = None,
    timeout: float = 10,
) -> dict[str, Any]:  # noqa: ASYNC109
    saved = svc.import_scenario(user.id, documents.loads(text))
    result: dict[str, Any] = await svc.run_now(user.id, saved.id, payload or {}, timeout=timeout)
    return result


ORDER_FLOW = """\
name: Orders
cells:
  - id: hook
    kind: trigger
    app: webhook
    operation: catch_hook
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
          - id: notify
            kind: action
            app: http
            operation: request
            inputs:
              method: POST
              url: "SINK/orders"
              body_type: json
              body:
                total: "{{ steps.compute.total }}"
                name_upper: "{{ steps.compute.name_upper }}"
      - name: small
        fallback: true
        cells:
          - id: note_small
            kind: transformer
            app: formatter
            operation: set_fields
            inputs: {fields: {small: true}}
  - id: after
    kind: transformer
    app: formatter
    operation: set_fields
    inputs: {fields: {status: "{{ steps.notify.status | default('none') }}"}}
"""


async def test_webhook_formatter_router_http_records_every_cell_in_order(
    svc: Cellwright, user: Any, sink: Any
) -> None:
    text = ORDER_FLOW.replace("SINK", sink.url)
    big = await run_text(svc, user, text, event({"id": 1, "amount": 42, "name": "alice"}))
    assert big["status"] == "completed", big["error"]
    assert [c["cell_id"] for c in big["cells"]] == ["hook", "compute", "route", "notify", "after"]
    hook, compute, route, notify, after = big["cells"]
    assert hook["output"]["body"] == {"id": 1, "amount": 42, "name": "alice"}
    assert compute["input"] == {"fields": {"total": 50.4, "name_upper": "ALICE"}}
    assert compute["output"] == {"total": 50.4, "name_upper": "ALICE"}
    assert route["output"]["branches"] == ["big"]
    assert notify["input"]["url"] == sink.url + "/orders" and notify["output"]["status"] == 200
    assert after["output"] == {"status": 200}
    for cell in big["cells"]:
        assert cell["status"] == "completed"
        assert cell["start_time"] <= cell["end_time"]
        assert cell["duration_ms"] is not None and cell["duration_ms"] >= 0
    assert [c["seq"] for c in big["cells"]] == [0, 1, 2, 3, 4]
    [seen] = sink.hits("/orders")
    assert seen.body == {"total": 50.4, "name_upper": "ALICE"}
    assert seen.headers["content-type"] == "application/json"

    small = await run_text(svc, user, text, event({"id": 2, "amount": 20, "name": "bob"}))
    assert [c["cell_id"] for c in small["cells"]] == [
        "hook",
        "compute",
        "route",
        "note_small",
        "after",
    ]
    assert small["cells"][2]["output"]["branches"] == ["small"]
    assert small["cells"][-1]["output"] == {"status": "none"}
    assert len(sink.hits("/orders")) == 1
    assert big["start_time"] <= big["end_time"] and big["duration_ms"] >= 0


async def test_a_filter_stops_the_run_quietly(svc: Cellwright, user: Any, probe: Any) -> None:
    text = scenario(
        "  - {id: gate, kind: condition, "
        "rules: {all: [{left: '{{ trigger.go }}', op: equals, right: true}]}}\n"
        "  - {id: later, kind: action, app: probe, operation: count}\n"
    )
    stopped = await run_text(svc, user, text, {"go": False})
    assert stopped["status"] == "completed" and stopped["error"] is None
    assert [c["cell_id"] for c in stopped["cells"]] == ["start", "gate"]
    assert stopped["cells"][1]["output"]["passed"] is False
    assert probe.calls["later"] == 0
    passed = await run_text(svc, user, text, {"go": True})
    assert [c["cell_id"] for c in passed["cells"]] == ["start", "gate", "later"]


async def test_a_filter_inside_a_branch_stops_only_that_branch(
    svc: Cellwright, user: Any, probe: Any
) -> None:
    text = scenario(
        "  - id: route\n    kind: condition\n    branches:\n"
        "      - name: one\n        rules: {all: [{left: 1, op: equals, right: 1}]}\n"
        "        cells:\n"
        "          - {id: a1, kind: action, app: probe, operation: count}\n"
        "          - {id: stop_one, kind: condition, "
        "rules: {all: [{left: 1, op: equals, right: 2}]}}\n"
        "          - {id: a2, kind: action, app: probe, operation: count}\n"
        "      - name: two\n        rules: {all: [{left: 1, op: equals, right: 1}]}\n"
        "        cells:\n"
        "          - {id: b1, kind: action, app: probe, operation: count}\n"
        "  - {id: after, kind: action, app: probe, operation: count}\n"
    )
    result = await run_text(svc, user, text)
    assert result["status"] == "completed"
    assert [c["cell_id"] for c in result["cells"]] == [
        "start",
        "route",
        "a1",
        "stop_one",
        "b1",
        "after",
    ]
    assert probe.calls == {"a1": 1, "b1": 1, "after": 1}


async def test_on_error_continue_records_the_error_and_goes_on(
    svc: Cellwright, user: Any, probe: Any
) -> None:
    probe.fail("flaky", UpstreamError("vendor said no", status=400))
    text = scenario(
        "  - {id: flaky, kind: action, app: probe, operation: count, on_error: continue}\n"
        "  - {id: next, kind: action, app: probe, operation: count, "
        "inputs: {value: '{{ steps.flaky.error.code }}'}}\n"
    )
    result = await run_text(svc, user, text)
    assert result["status"] == "completed"
    flaky, nxt = result["cells"][1:]
    assert flaky["status"] == "failed" and flaky["error"]["code"] == "upstream_error"
    assert flaky["error"]["continued"] is True
    assert nxt["output"]["value"] == "upstream_error"


async def test_a_mapping_error_fails_the_run_naming_cell_field_and_expression(
    svc: Cellwright, user: Any
) -> None:
    text = scenario(
        "  - {id: shape, kind: transformer, app: formatter, operation: set_fields, "
        "inputs: {fields: {x: '{{ trigger.order.total }}'}}}\n"
    )
    result = await run_text(svc, user, text, {"order": {"amount": 3}})
    assert result["status"] == "failed"
    error = result["error"]
    assert error["cell_id"] == "shape" and error["code"] == "mapping_error"
    assert (
        "shape" in error["message"]
        and "fields.x" in error["message"]
        and "trigger.order.total" in error["message"]
    )
    assert "amount" in error["message"]  # what was there instead
    assert result["cells"][-1]["status"] == "failed"


def http_cell(url: str, cell_id: str = "call") -> str:
    return (
        f"  - {{id: {cell_id}, kind: action, app: http, operation: request, "
        f"inputs: {{method: POST, url: '{url}', body_type: json, body: {{n: 1}}}}}}\n"
    )


async def test_a_5xx_is_retried_with_backoff_then_succeeds(
    svc: Cellwright, user: Any, sink: Any, helpers: Any
) -> None:
    url = sink.plan(
        "/flaky", helpers.Reply(503, {"error": "busy"}), helpers.Reply(200, {"done": True})
    )
    result = await run_text(svc, user, scenario(http_cell(url)))
    assert result["status"] == "completed", result["error"]
    assert len(sink.hits("/flaky")) == 2
    calls = [c for c in result["cells"] if c["cell_id"] == "call"]
    assert [(c["status"], c["attempt"]) for c in calls] == [("failed", 0), ("completed", 1)]
    assert (
        calls[0]["error"]["code"] == "upstream_error"
        and calls[0]["error"]["details"]["status"] == 503
    )
    assert calls[1]["output"]["body"] == {"done": True}
    assert result["attempt"] == 1
    assert [c["cell_id"] for c in result["cells"]].count(
        "start"
    ) == 1  # the trigger is not run again


async def test_a_429_honours_retry_after(
    svc: Cellwright, user: Any, sink: Any, helpers: Any
) -> None:
    url = sink.plan(
        "/limited",
        helpers.Reply(429, {"message": "slow down"}, {"Retry-After": "1"}),
        helpers.Reply(200, {}),
    )
    started = time.monotonic()
    result = await run_text(svc, user, scenario(http_cell(url)))
    elapsed = time.monotonic() - started
    assert result["status"] == "completed"
    assert elapsed >= 0.95, elapsed  # retry_base is 0.05 s: the wait came from Retry-After
    first = result["cells"][1]
    assert (
        first["error"]["code"] == "rate_limited" and first["error"]["details"]["retry_after"] == 1.0
    )


async def test_retries_stop_at_the_scenario_retry_count(
    svc: Cellwright, user: Any, sink: Any, helpers: Any
) -> None:
    url = sink.plan("/down", helpers.Reply(503, {"message": "down"}))
    result = await run_text(
        svc, user, scenario(http_cell(url), settings="settings: {retry_count: 3}\n")
    )
    assert result["status"] == "failed"
    assert len(sink.hits("/down")) == 4  # the first try and three retries
    assert result["error"]["cell_id"] == "call" and result["error"]["code"] == "upstream_error"
    assert "HTTP 503" in result["error"]["message"]
    assert result["attempt"] == 3


async def test_each_cell_gets_its_own_retries(svc: Cellwright, user: Any, probe: Any) -> None:
    probe.fail("a", NetworkError("x"), NetworkError("x"))
    probe.fail("b", NetworkError("y"), NetworkError("y"))
    text = scenario(
        "  - {id: a, kind: action, app: probe, operation: count}\n"
        "  - {id: b, kind: action, app: probe, operation: count}\n",
        settings="settings: {retry_count: 2}\n",
    )
    result = await run_text(svc, user, text)
    assert result["status"] == "completed", result["error"]
    assert probe.calls == {"a": 3, "b": 3}


async def test_a_permanent_error_fails_at_once_with_a_clear_message(
    svc: Cellwright, user: Any, sink: Any, helpers: Any
) -> None:
    url = sink.plan("/bad", helpers.Reply(400, {"message": "amount must be positive"}))
    text = scenario(
        http_cell(url) + "  - {id: never, kind: action, app: probe, operation: count}\n"
    )
    result = await run_text(svc, user, text)
    assert result["status"] == "failed"
    assert len(sink.hits("/bad")) == 1
    assert result["error"]["cell_id"] == "call"
    assert result["error"]["message"] == "http: HTTP 400 — amount must be positive"
    assert [c["cell_id"] for c in result["cells"]] == ["start", "call"]


async def test_the_idempotency_key_is_identical_across_retries_of_a_cell(
    svc: Cellwright, user: Any, probe: Any
) -> None:
    probe.fail(
        "pay", RateLimitedError("later", retry_after=0.05), UpstreamError("oops", status=502)
    )
    text = scenario(
        "  - {id: pay, kind: action, app: probe, operation: count}\n"
        "  - {id: ship, kind: action, app: probe, operation: count}\n"
    )
    result = await run_text(svc, user, text)
    assert result["status"] == "completed"
    keys = [(cell, key) for cell, key, _ in probe.keys]
    pay_keys = {key for cell, key in keys if cell == "pay"}
    assert len([k for k in keys if k[0] == "pay"]) == 3
    assert pay_keys == {idempotency_key(result["id"], "pay")}
    assert {key for cell, key in keys if cell == "ship"} == {idempotency_key(result["id"], "ship")}
    assert pay_keys.isdisjoint({idempotency_key(result["id"], "ship")})
    assert {execution for _, _, execution in probe.keys} == {result["id"]}


async def test_the_run_is_capped_by_the_scenario_timeout(
    svc: Cellwright, user: Any, probe: Any
) -> None:
    text = scenario(
        "  - {id: a, kind: action, app: probe, operation: count, inputs: {sleep: 0.2}}\n"
        "  - {id: b, kind: action, app: probe, operation: count, inputs: {sleep: 60}}\n"
        "  - {id: c, kind: action, app: probe, operation: count}\n",
        settings="settings: {timeout_seconds: 0.5}\n",
    )
    started = time.monotonic()
    result = await run_text(svc, user, text)
    # cut at the limit, not after the 60 s call (a loaded machine may take seconds more)
    assert time.monotonic() - started < 30
    assert result["status"] == "failed"
    assert result["error"]["code"] == "timeout" and result["error"]["cell_id"] == "b"
    assert "time limit (0.5 s)" in result["error"]["message"]
    assert probe.calls["c"] == 0
    assert result["attempt"] == 0  # hitting the run's limit is not retried


async def test_the_operator_cap_applies_when_the_scenario_sets_none(
    make_settings: Callable[..., Settings], registry: Registry, probe: Any
) -> None:
    async with running_service(make_settings(execution_timeout_seconds=0.3), registry) as svc:
        user = svc.local_user()
        text = scenario(
            "  - {id: a, kind: action, app: probe, operation: count, inputs: {sleep: 0.2}}\n"
            "  - {id: b, kind: action, app: probe, operation: count, inputs: {sleep: 0.2}}\n"
            "  - {id: c, kind: action, app: probe, operation: count}\n"
        )
        result = await run_text(svc, user, text)
        assert result["status"] == "failed" and result["error"]["cell_id"] == "b"
        explicit = await run_text(
            svc,
            user,
            text.replace("name: Test\n", "name: Test\nsettings: {timeout_seconds: 300}\n"),
        )
        assert (
            explicit["status"] == "completed"
        )  # the scenario's own limit wins, even the default value


async def test_the_limit_checked_before_a_cell(svc: Cellwright, user: Any, probe: Any) -> None:
    # a run resumed after its working time is used up fails before running anything else
    saved = svc.import_scenario(
        user.id,
        documents.loads(
            scenario(
                "  - {id: a, kind: action, app: probe, operation: count}\n",
                settings="settings: {timeout_seconds: 1}\n",
            )
        ),
    )
    execution, _ = svc.store.create_execution(
        scenario_id=saved.id, scenario_version=saved.version, user_id=user.id, trigger={}
    )
    old = svc.store.claim_execution(execution.id, "dead-process", 0.001)
    assert old is not None
    now = datetime.now(UTC)
    svc.store.record_node_result(
        execution.id,
        cell_id="start",
        status="completed",
        start_time=now,
        end_time=now,
        duration_ms=1500,
        output={},
    )
    await asyncio.sleep(0.05)
    svc.executor.submit(execution.id)
    result = await svc.executor.wait(execution.id, 5)
    assert result is not None and result.status == "failed"
    assert result.error == {
        "code": "timeout",
        "message": "The run passed its time limit (1 s) before cell 'a'.",
        "cell_id": "a",
    }
    assert probe.calls["a"] == 0


async def test_downtime_does_not_count_against_the_limit(
    svc: Cellwright, user: Any, probe: Any
) -> None:
    # a run left behind by a dead process is resumed with its working time, not wall time
    saved = svc.import_scenario(
        user.id,
        documents.loads(
            scenario(
                "  - {id: a, kind: action, app: probe, operation: count}\n",
                settings="settings: {timeout_seconds: 1}\n",
            )
        ),
    )
    execution, _ = svc.store.create_execution(
        scenario_id=saved.id, scenario_version=saved.version, user_id=user.id, trigger={}
    )
    assert svc.store.claim_execution(execution.id, "dead-process", 0.001) is not None
    await asyncio.sleep(1.05)  # longer than the whole limit
    svc.executor.submit(execution.id)
    result = await svc.executor.wait(execution.id, 5)
    assert result is not None and result.status == "completed"
    assert probe.calls["a"] == 1


async def test_a_50_cell_transformer_scenario_runs(svc: Cellwright, user: Any) -> None:
    cells = (
        "  - {id: c1, kind: transformer, app: formatter, "
        "operation: set_fields, inputs: {fields: {n: '{{ trigger.n + 1 }}'}}}\n"
    )
    cells += "".join(
        f"  - {{id: c{i}, kind: transformer, app: formatter, operation: set_fields, "
        f"inputs: {{fields: {{n: '{{{{ steps.c{i - 1}.n + 1 }}}}'}}}}}}\n"
        for i in range(2, 50)
    )
    result = await run_text(svc, user, scenario(cells), {"n": 0})
    assert result["status"] == "completed", result["error"]
    assert len(result["cells"]) == 50
    assert result["cells"][-1]["output"] == {"n": 49}  # how fast: benchmarks/bench_engine.py


async def test_an_auth_failure_marks_the_connection(svc: Cellwright, user: Any) -> None:
    connection = await svc.create_connection(
        user.id, "keyed", credentials={"api_key": "good-key"}, sandbox=True
    )
    assert connection.status == "active" and connection.name == "Keyed: sandbox-user"
    text = scenario(
        "  - {id: who, kind: action, app: keyed, "
        f"operation: whoami, connection: {connection.id}}}\n"
    )
    ok = await run_text(svc, user, text)
    assert ok["status"] == "completed" and ok["cells"][1]["output"] == {"user": "sandbox-user"}
    svc.store.update_connection(user.id, connection.id, credentials={"api_key": "revoked-key"})
    failed = await run_text(svc, user, text)
    assert failed["status"] == "failed" and failed["error"]["code"] == "auth_invalid"
    assert "revoked-key" not in str(failed)
    marked = svc.store.get_connection(user.id, connection.id)
    assert marked.status == "error" and "HTTP 401" in marked.status_message
    assert marked.usage_count == 2


async def test_a_bad_trigger_payload_fails_at_the_trigger(svc: Cellwright, user: Any) -> None:
    result = await run_text(
        svc,
        user,
        scenario("  - {id: a, kind: action, app: probe, operation: count}\n", trigger=HOOK),
        {"headers": "not a mapping"},
    )
    assert result["status"] == "failed" and result["error"]["cell_id"] == "hook"
    assert result["error"]["code"] == "invalid_output"


async def test_an_unloadable_scenario_version_fails_the_execution(
    svc: Cellwright, user: Any
) -> None:
    saved = svc.import_scenario(
        user.id,
        documents.loads(scenario("  - {id: a, kind: action, app: probe, operation: count}\n")),
    )
    broken = svc.store.save_scenario(
        user.id, {"name": "broken", "cells": [{"id": "x", "kind": "nope"}]}, scenario_id=saved.id
    )
    execution, _ = svc.store.create_execution(
        scenario_id=saved.id, scenario_version=broken.version, user_id=user.id, trigger={}
    )
    svc.executor.submit(execution.id)
    outcome = await svc.executor.wait(execution.id, 5)
    assert outcome is not None and outcome.status == "failed"
    assert outcome.error is not None and outcome.error["code"] == "configuration_error"
    assert svc.store.get_execution(None, execution.id).status == "failed"


async def test_finished_runs_reach_the_analytics_log(
    make_settings: Callable[..., Settings], registry: Registry
) -> None:
    async with running_service(make_settings(analytics=True), registry) as svc:
        user = svc.local_user()
        ok = await run_text(
            svc, user, scenario("  - {id: a, kind: action, app: probe, operation: count}\n")
        )
        bad = await run_text(
            svc, user, scenario("  - {id: b, kind: action, app: probe, operation: bad_output}\n")
        )
        assert (ok["status"], bad["status"]) == ("completed", "failed")
        svc.analytics.flush()
        rates = svc.analytics.success_rate(user.id)
        assert int(rates["runs"].sum()) == 2 and int(rates["failed"].sum()) == 1


async def test_a_router_whose_rules_break_fails_the_run_at_the_router(
    svc: Cellwright, user: Any, probe: Any
) -> None:
    text = scenario(
        "  - id: route\n    kind: condition\n    branches:\n"
        "      - {name: big, rules: {all: [{left: '{{ trigger.order.total }}', op: gt, "
        "right: 1}]}, cells: [{id: a, kind: action, app: probe, operation: count}]}\n"
    )
    result = await run_text(svc, user, text, {"order": {}})
    assert result["status"] == "failed"
    assert result["error"]["cell_id"] == "route" and result["error"]["code"] == "mapping_error"
    assert probe.calls["a"] == 0


async def test_a_resumed_sync_run_still_answers_with_its_recorded_respond_cell(
    svc: Cellwright, user: Any
) -> None:
    text = scenario(
        "  - {id: reply, kind: transformer, app: webhook, "
        "operation: respond, inputs: {status: 202, body: recorded}}\n"
        "  - {id: tail, kind: action, app: probe, operation: count}\n"
    )
    saved = svc.import_scenario(user.id, documents.loads(text))
    execution, _ = svc.store.create_execution(
        scenario_id=saved.id, scenario_version=saved.version, user_id=user.id, trigger={}
    )
    svc.store.record_node_result(execution.id, cell_id="start", status="completed", output={})
    svc.store.record_node_result(
        execution.id,
        cell_id="reply",
        status="completed",
        output={"status": 202, "body": "recorded", "headers": {}},
    )
    svc.executor.submit(execution.id)
    outcome = await svc.executor.wait(execution.id, 5)
    assert outcome is not None and outcome.status == "completed"
    assert outcome.response == {"status": 202, "body": "recorded", "headers": {}}
    assert outcome.last_output == {"value": None, "calls": 1}
