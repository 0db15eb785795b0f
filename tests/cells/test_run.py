"""Running one cell on its own: render, validate, call, validate the output, time it."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from typing import Any

import pytest

from cells import _mapping_budget as budget
from cells.mapping import RunBudget
from cells.models import ActionCell, ConditionCell, OperationCell, TransformerCell, TriggerCell
from cells.run import (
    CellResult,
    _light_rules,
    idempotency_key,
    run_cell,
    run_condition_cell,
    run_condition_cell_async,
    run_operation_cell,
    trigger_result,
    validation_error,
)
from connectors.registry import Registry
from connectors.sdk import App, NetworkPolicy, OperationContext, UpstreamError, build_http

CONTEXT = {
    "trigger": {"body": {"n": 3, "name": "ada"}},
    "steps": {"prev": {"value": [1, 2]}},
    "execution": {"id": "e1"},
}


@pytest.fixture
async def make_context() -> AsyncIterator[Any]:
    seen: list[OperationContext] = []

    async def make(cell: OperationCell, app: App, *, idempotency_key: str) -> OperationContext:
        http = build_http(app_key=app.key, policy=NetworkPolicy.build(allow_private=True))
        ctx = OperationContext(
            http=http, idempotency_key=idempotency_key, cell_id=cell.id, execution_id="e1"
        )
        seen.append(ctx)
        return ctx

    yield make
    for ctx in seen:
        await ctx.http.aclose()


def action(**inputs: Any) -> ActionCell:
    return ActionCell(id="a", kind="action", app="probe", operation="count", inputs=inputs)


async def run(
    cell: OperationCell,
    registry: Registry,
    make_context: Any,
    *,
    context: dict[str, Any] = CONTEXT,
    timeout: float = 5.0,
) -> CellResult:  # noqa: ASYNC109
    return await run_operation_cell(
        cell,
        context,
        apps=registry,
        make_context=make_context,
        idempotency_key="cw-key",
        timeout=timeout,
    )


async def test_an_action_runs_with_rendered_inputs_and_timings(
    registry: Registry, make_context: Any, probe: Any
) -> None:
    result = await run(action(value="{{ trigger.body.n * 2 }}"), registry, make_context)
    assert result.ok, result.error
    assert result.input == {"value": 6, "sleep": 0.0}  # typed, defaults filled in
    assert result.output == {"value": 6, "calls": 1}
    assert result.ended_at is not None and result.ended_at >= result.started_at
    assert result.duration_ms is not None and result.duration_ms >= 0
    assert probe.keys == [("a", "cw-key", "e1")]
    data = result.to_dict()
    assert data["status"] == "completed" and data["ended_at"] and data["error"] is None


async def test_a_mapping_error_names_cell_field_and_expression(
    registry: Registry, make_context: Any, probe: Any
) -> None:
    result = await run(action(value="{{ trigger.body.missing_field }}"), registry, make_context)
    assert result.status == "failed"
    assert result.error is not None and result.error["code"] == "mapping_error"
    message = result.error["message"]
    assert "'a'" in message and "value" in message and "trigger.body.missing_field" in message
    assert "name" in message  # what was available
    assert probe.calls["a"] == 0


async def test_invalid_inputs_name_the_field(registry: Registry, make_context: Any) -> None:
    result = await run(action(value=1, sleep="soon", extra=True), registry, make_context)
    assert result.status == "failed" and result.error is not None
    assert result.error["code"] == "invalid_input"
    assert result.error["message"].startswith("Cell 'a': invalid input — ")
    fields = {e["field"] for e in result.error["details"]["errors"]}
    assert fields == {"sleep", "extra"}
    assert result.input == {"value": 1, "sleep": "soon", "extra": True}  # what was rendered


def test_validation_error_summarises_many_fields() -> None:
    from pydantic import BaseModel, ValidationError

    class Many(BaseModel):
        a: int
        b: int
        c: int
        d: int
        e: int
        f: int
        g: int

    with pytest.raises(ValidationError) as info:
        Many.model_validate({})
    error = validation_error("cell", info.value)
    assert error.message.endswith("(+2 more)")
    assert error.details["cell_id"] == "cell"
    assert len(error.errors) == 7


async def test_an_app_that_needs_a_connection_says_so(
    registry: Registry, make_context: Any
) -> None:
    cell = ActionCell(id="who", kind="action", app="keyed", operation="whoami")
    result = await run(cell, registry, make_context)
    assert result.error is not None and result.error["code"] == "configuration_error"
    assert "needs a Keyed connection" in result.error["message"]


async def test_unknown_app_or_operation(registry: Registry, make_context: Any) -> None:
    result = await run(
        ActionCell(id="x", kind="action", app="nope", operation="y"), registry, make_context
    )
    assert result.error is not None and "no app 'nope'" in result.error["message"]
    result = await run(
        ActionCell(id="x", kind="action", app="probe", operation="items"), registry, make_context
    )
    assert result.error is not None and "is a trigger, not an action" in result.error["message"]


async def test_a_slow_operation_is_stopped_at_the_cell_timeout(
    registry: Registry, make_context: Any
) -> None:
    result = await run(action(sleep=2), registry, make_context, timeout=0.05)
    assert result.error is not None
    assert result.error["code"] == "timeout"
    assert "longer than 0.05 s" in result.error["message"]
    assert result.duration_ms is not None and result.duration_ms < 1500
    assert isinstance(result.exception, Exception) and result.exception.retryable


async def test_output_that_breaks_the_model_fails_clearly(
    registry: Registry, make_context: Any
) -> None:
    cell = ActionCell(id="bad", kind="action", app="probe", operation="bad_output")
    result = await run(cell, registry, make_context)
    assert result.error is not None and result.error["code"] == "invalid_output"
    assert "Cell 'bad'" in result.error["message"] and "calls" in result.error["message"]


async def test_errors_raised_by_an_operation_are_recorded_with_their_code(
    registry: Registry, make_context: Any, probe: Any
) -> None:
    probe.fail(
        "a", UpstreamError("vendor said no", status=400, body={"e": 1}), RuntimeError("boom")
    )
    first = await run(action(), registry, make_context)
    assert first.error == {
        "code": "upstream_error",
        "message": "vendor said no",
        "details": {"status": 400, "body": {"e": 1}},
    }
    assert first.exception is not None and not first.exception.retryable
    second = await run(action(), registry, make_context)
    assert second.error == {"code": "error", "message": "RuntimeError: boom"}


async def test_secret_inputs_are_masked_in_the_record(
    registry: Registry, make_context: Any, sink: Any
) -> None:
    cell = ActionCell(
        id="h",
        kind="action",
        app="http",
        operation="request",
        inputs={"url": sink.url + "/s", "bearer_token": "tok-very-secret"},
    )
    result = await run(cell, registry, make_context)
    assert result.ok, result.error
    assert "tok-very-secret" not in repr(result.to_dict())
    assert sink.hits("/s")[0].headers["authorization"] == "Bearer tok-very-secret"


async def test_a_transformer_runs_through_run_cell(registry: Registry, make_context: Any) -> None:
    cell = TransformerCell(
        id="t",
        kind="transformer",
        app="formatter",
        operation="set_fields",
        inputs={
            "fields": {
                "first": "{{ steps.prev.value[0] }}",
                "name": "{{ trigger.body.name | upper }}",
            }
        },
    )
    result = await run_cell(
        cell, CONTEXT, apps=registry, make_context=make_context, idempotency_key="k"
    )
    assert result.output == {"first": 1, "name": "ADA"}


def test_a_filter_passes_or_stops() -> None:
    cell = ConditionCell(
        id="f",
        kind="condition",
        rules={"all": [{"left": "{{ trigger.body.n }}", "op": "gt", "right": 2}]},
    )
    result, taken = run_condition_cell(cell, CONTEXT)
    assert result.ok and result.output["passed"] is True and taken == []
    result, _ = run_condition_cell(cell, {**CONTEXT, "trigger": {"body": {"n": 1}}})
    assert result.ok and result.output["passed"] is False
    assert result.output["rules"][0]["result"] is False


def router(match: str = "all") -> ConditionCell:
    return ConditionCell.model_validate(
        {
            "id": "r",
            "kind": "condition",
            "match": match,
            "branches": [
                {
                    "name": "big",
                    "rules": {"all": [{"left": "{{ trigger.body.n }}", "op": "gte", "right": 3}]},
                },
                {
                    "name": "odd",
                    "rules": {
                        "all": [{"left": "{{ trigger.body.n % 2 }}", "op": "equals", "right": 1}]
                    },
                },
                {"name": "else", "fallback": True},
            ],
        }
    )


@pytest.mark.parametrize(
    ("n", "match", "branches"),
    [
        (3, "all", ["big", "odd"]),
        (3, "first", ["big"]),
        (1, "all", ["odd"]),
        (2, "all", ["else"]),
        (4, "first", ["big"]),
    ],
)
def test_a_router_picks_branches(n: int, match: str, branches: list[str]) -> None:
    result, taken = run_condition_cell(router(match), {**CONTEXT, "trigger": {"body": {"n": n}}})
    assert taken == branches
    assert result.output["branches"] == branches
    assert set(result.output["evaluations"]) == {"big", "odd"}


async def test_a_broken_rule_fails_the_condition_with_its_cell(
    registry: Registry, make_context: Any
) -> None:
    cell = ConditionCell(
        id="f",
        kind="condition",
        rules={"all": [{"left": "{{ trigger.body.nothing.deeper }}", "op": "gt", "right": 1}]},
    )
    result = await run_cell(
        cell, CONTEXT, apps=registry, make_context=make_context, idempotency_key="k"
    )
    assert result.status == "failed" and result.error is not None
    assert "'f'" in result.error["message"]


def test_trigger_results_validate_the_payload(registry: Registry) -> None:
    cell = TriggerCell(id="hook", kind="trigger", app="webhook", operation="catch_hook")
    ok = trigger_result(
        cell, {"method": "POST", "headers": {}, "query": {}, "body": {"a": 1}}, apps=registry
    )
    assert ok.ok and ok.output["body"] == {"a": 1}
    bad = trigger_result(cell, {"headers": "not a mapping"}, apps=registry)
    assert bad.status == "failed" and bad.error is not None
    assert bad.error["code"] == "invalid_output" and "Cell 'hook'" in bad.error["message"]


def test_idempotency_keys_are_stable_per_execution_cell_and_item() -> None:
    key = idempotency_key("e1", "a")
    assert key == idempotency_key("e1", "a", 0)
    assert key.startswith("cw-") and len(key) == 43
    assert (
        len(
            {
                key,
                idempotency_key("e2", "a"),
                idempotency_key("e1", "b"),
                idempotency_key("e1", "a", 1),
            }
        )
        == 4
    )


async def test_rules_use_the_cells_mapping_budget_off_the_event_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    readings = itertools.count()
    monkeypatch.setattr(budget, "clock", lambda: next(readings) * 0.05)
    heavy = "{% for i in range(160) %}{% endfor %}{{ trigger.body.n }}"
    rules = {
        "all": [{"left": heavy, "op": "gte", "right": 1}, {"left": heavy, "op": "gte", "right": 1}]
    }
    cell = ConditionCell.model_validate({"id": "gate", "kind": "condition", "rules": rules})
    limits = RunBudget(run_seconds=10, cell_seconds=0.8).cell()
    result, _ = await run_condition_cell_async(cell, CONTEXT, limits=limits)
    assert result.status == "failed"
    assert result.error is not None and result.error["code"] == "mapping_error"
    assert result.error["message"].startswith("Cell 'gate', field 'all[1].left': ")
    assert (
        "the mappings of this cell used more than 0.8 s of work in all" in result.error["message"]
    )
    # a regular expression is work too: such rules are not evaluated on the event loop
    regex = ConditionCell.model_validate(
        {
            "id": "re",
            "kind": "condition",
            "rules": {
                "all": [{"left": "{{ trigger.body.name }}", "op": "matches_regex", "right": "^a"}]
            },
        }
    )
    plain = ConditionCell.model_validate(
        {
            "id": "eq",
            "kind": "condition",
            "rules": {"all": [{"left": "{{ trigger.body.name }}", "op": "equals", "right": "ada"}]},
        }
    )
    assert not _light_rules(regex) and _light_rules(plain)
    assert (await run_condition_cell_async(regex, CONTEXT))[0].output["passed"] is True
