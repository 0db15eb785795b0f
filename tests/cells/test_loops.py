"""Loop and aggregate cells: the file format, what runs next, and the folds."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cells import document as documents
from cells import flow, loops
from cells.document import DocumentError
from cells.models import LOOP_BODY, AggregateCell, LoopCell, ScenarioDocument
from cells.run import run_cell
from connectors.registry import APPS, Registry
from connectors.sdk import App, InvalidInputError, NetworkPolicy, OperationContext, build_http

TRIGGER = {"id": "start", "kind": "trigger", "app": "manual", "operation": "run_manually"}


def fields(cell_id: str, **values: str) -> dict[str, Any]:
    return {
        "id": cell_id,
        "kind": "transformer",
        "app": "formatter",
        "operation": "set_fields",
        "inputs": {"fields": values},
    }


def loop(cell_id: str, items: Any, *cells: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"id": cell_id, "kind": "loop", "items": items, "cells": list(cells), **extra}


def doc(*cells: dict[str, Any], **extra: Any) -> ScenarioDocument:
    return documents.parse({"name": "Loops", "cells": [TRIGGER, *cells], **extra})


NESTED = [
    loop(
        "orders",
        "{{ trigger.orders }}",
        fields("tag", order="{{ item.id }}"),
        loop("lines", "{{ item.lines }}", fields("line", text="{{ steps.tag.order }}-{{ item }}")),
        {
            "id": "joined",
            "kind": "aggregate",
            "loop": "lines",
            "mode": "join",
            "value": "{{ steps.line.text }}",
        },
    ),
    {"id": "all", "kind": "aggregate", "loop": "orders", "value": "{{ steps.joined.result }}"},
]


def test_a_loop_round_trips_and_walks_with_its_cells() -> None:
    scenario = doc(*NESTED)
    text = documents.dump(scenario)
    assert documents.dump(documents.loads(text)) == text
    assert "kind: loop" in text and "kind: aggregate" in text
    walked = [(cell.id, parents) for cell, parents in scenario.walk()]
    assert walked[2:5] == [
        ("tag", (("orders", LOOP_BODY),)),
        ("lines", (("orders", LOOP_BODY),)),
        ("line", (("orders", LOOP_BODY), ("lines", LOOP_BODY))),
    ]
    rows = {row["cell_id"]: row for row in documents.node_rows(scenario)}
    assert rows["line"]["parent_cell_id"] == "lines" and rows["line"]["type"] == "transformer"
    assert rows["all"]["type"] == "aggregate"
    jsonschema.validate(json.loads(json.dumps(scenario.to_data())), documents.json_schema())


def test_ids_are_unique_across_nesting() -> None:
    with pytest.raises(DocumentError, match="two cells use the id 'tag'") as caught:
        doc(loop("each", "{{ trigger.x }}", fields("tag", a="1")), fields("tag", b="2"))
    assert caught.value.errors[0]["field"] == "cells[2] (id 'tag').id"


def test_a_trigger_inside_a_loop_is_refused() -> None:
    with pytest.raises(DocumentError, match="only the first cell may be one"):
        doc(loop("each", "{{ trigger.x }}", {**TRIGGER, "id": "again"}))


def test_cells_after_a_loop_cannot_use_its_cells_but_an_aggregate_can() -> None:
    inner = loop("each", "{{ trigger.x }}", fields("post", a="{{ item }}"))
    with pytest.raises(DocumentError, match="inside loop 'each': use an aggregate cell"):
        doc(inner, fields("after", a="{{ steps.post.a }}"))
    ok = doc(
        inner, {"id": "agg", "kind": "aggregate", "loop": "each", "value": "{{ steps.post.a }}"}
    )
    assert isinstance(ok.find("agg"), AggregateCell)
    with pytest.raises(DocumentError, match="refers to steps.later"):
        doc(loop("each", "{{ steps.later.x }}", fields("post", a="1")), fields("later", x="1"))


def test_an_aggregate_names_a_loop_that_runs_before_it() -> None:
    with pytest.raises(DocumentError, match="collects loop 'ghost', which is not a loop cell") as e:
        doc(
            loop("each", "{{ trigger.x }}", fields("post", a="1")),
            {"id": "agg", "kind": "aggregate", "loop": "ghost"},
        )
    assert "Loops before it: each" in str(e.value)
    with pytest.raises(DocumentError, match="collects loop 'post'"):
        doc(fields("post", a="1"), {"id": "agg", "kind": "aggregate", "loop": "post"})


def test_an_aggregate_groups_only_with_a_key() -> None:
    inner = loop("each", "{{ trigger.x }}", fields("post", a="1"))
    with pytest.raises(DocumentError, match="give a 'key'"):
        doc(inner, {"id": "agg", "kind": "aggregate", "loop": "each", "mode": "group"})
    with pytest.raises(DocumentError, match="'key' is for mode: group"):
        doc(inner, {"id": "agg", "kind": "aggregate", "loop": "each", "key": "{{ item }}"})


def test_a_loop_needs_cells_and_a_bounded_concurrency() -> None:
    with pytest.raises(DocumentError, match="cells"):
        doc(loop("each", "{{ trigger.x }}"))
    with pytest.raises(DocumentError, match="concurrency"):
        doc(loop("each", "{{ trigger.x }}", fields("a", b="1"), concurrency=50))


def test_an_item_plan_and_a_filter_inside_it() -> None:
    scenario = doc(
        loop(
            "each",
            "{{ trigger.x }}",
            {
                "id": "gate",
                "kind": "condition",
                "rules": {"all": [{"left": 1, "op": "equals", "right": 2}]},
            },
            fields("post", a="1"),
        ),
        fields("after", a="1"),
    )
    top = flow.start(scenario)
    assert [p.cell_id for p in top.pending] == ["each", "after"]
    each = scenario.find("each")
    assert isinstance(each, LoopCell)
    plan = flow.body(each)
    assert plan.pending == (
        flow.Pending("gate", (("each", LOOP_BODY),)),
        flow.Pending("post", (("each", LOOP_BODY),)),
    )
    cells = flow.steps_by_id(scenario)
    decision = flow.advance(plan, cells["gate"], flow.Filtered(False))
    assert decision.plan.pending == () and decision.message.endswith("this item stops here.")
    assert flow.advance(top, each, flow.COMPLETED).plan.next == flow.Pending("after")
    assert flow.advance(top, each, flow.FAILED).stops_run


# -- folds ---------------------------------------------------------------------------------


def test_fold_modes_and_their_errors() -> None:
    assert loops.fold("sum", [1, "2.5", None, " 3 "]) == 6.5
    assert loops.fold("join", ["a", 1, None, True, {"k": 1}], separator="/") == 'a/1//true/{"k": 1}'
    assert loops.fold("count", [0, None, False, "", 1]) == 3
    assert loops.fold("group", [1, 2, 3], keys=["x", 1, "x"]) == {"x": [1, 3], "1": [2]}
    with pytest.raises(InvalidInputError, match="item 7's value 'abc' is not a number"):
        loops.fold("sum", [1, "abc"], cell_id="t", indexes=[3, 7])
    with pytest.raises(InvalidInputError, match="item 0's value true is not a number"):
        loops.fold("sum", [True])
    with pytest.raises(InvalidInputError, match=r"item 0's value \{\"a\": 1\} is not a number"):
        loops.fold("sum", [{"a": 1}])


def test_an_aggregate_of_a_loop_that_did_not_run_fails_clearly() -> None:
    cell = AggregateCell(id="agg", kind="aggregate", loop="each")
    with pytest.raises(InvalidInputError, match="loop 'each' did not run before it"):
        loops.aggregate(cell, {"steps": {}})


async def make_context(cell: Any, app: App, *, idempotency_key: str) -> OperationContext:
    return OperationContext(
        http=build_http(app_key=app.key, policy=NetworkPolicy.build()),
        idempotency_key=idempotency_key,
        cell_id=cell.id,
    )


REGISTRY = Registry(list(APPS))


async def run_scenario_cells(scenario: ScenarioDocument, trigger: dict[str, Any]) -> dict[str, Any]:
    """Run the steps at the top with run_cell (as the notebook's Step does); their outputs."""
    context: dict[str, Any] = {"trigger": trigger, "steps": {}}
    for cell in scenario.cells[1:]:
        assert not isinstance(cell, type(scenario.trigger))
        result = await run_cell(
            cell, context, apps=REGISTRY, make_context=make_context, idempotency_key="k"
        )
        assert result.ok, result.error
        context["steps"][cell.id] = result.output
    return dict(context["steps"])


async def test_run_cell_runs_nested_loops_and_aggregates() -> None:
    steps = await run_scenario_cells(
        doc(*NESTED), {"orders": [{"id": "a", "lines": [1, 2]}, {"id": "b", "lines": []}]}
    )
    assert steps["all"] == {"result": ["a-1, a-2", ""], "count": 2}
    assert steps["orders"]["items"][0]["steps"]["joined"]["result"] == "a-1, a-2"


async def test_run_loop_honours_its_concurrency_and_stops_after_a_failure() -> None:
    cell = LoopCell.model_validate(
        {
            "id": "each",
            "kind": "loop",
            "items": "{{ trigger.n }}",
            "concurrency": 3,
            "cells": [fields("s")],
        }
    )
    running = peak = 0
    started: list[int] = []

    async def step(each: Any, ctx: dict[str, Any], scope: Any, path: str) -> flow.CellOutcome:
        nonlocal running, peak
        started.append(ctx["index"])
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        running -= 1
        if ctx["index"] == 4:
            raise InvalidInputError("bad item")
        ctx["steps"][each.id] = {"i": ctx["index"]}
        return flow.COMPLETED

    items = list(range(20))
    ran = await loops.run_loop(
        cell, {"trigger": {}, "steps": {}}, items, run_step=step, cells={"s": cell.cells[0]}
    )  # type: ignore[dict-item]
    assert peak == 3
    assert ran.failed is not None and ran.failed.index == 4
    assert ran.error()["message"] == "Loop 'each', item 4: bad item"
    assert len(started) < 20  # no new item started after the failure
    assert [r.index for r in ran.items] == sorted(r.index for r in ran.items)


# -- the aggregate equals a plain fold -----------------------------------------------------

ITEM = st.fixed_dictionaries(
    {
        "n": st.one_of(st.integers(-(10**6), 10**6), st.floats(-1e6, 1e6, allow_nan=False)),
        "tag": st.sampled_from(["a", "b", "c", "ü"]),
        "keep": st.booleans(),
    }
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(items=st.lists(ITEM, max_size=12), separator=st.sampled_from([", ", "|", ""]))
def test_aggregates_equal_a_plain_python_fold(items: list[dict[str, Any]], separator: str) -> None:
    scenario = doc(
        loop(
            "each",
            "{{ trigger.items }}",
            {
                "id": "gate",
                "kind": "condition",
                "rules": {"all": [{"left": "{{ item.keep }}", "op": "equals", "right": True}]},
            },
            fields("double", n="{{ item.n * 2 }}", tag="{{ item.tag }}"),
        ),
        {"id": "as_list", "kind": "aggregate", "loop": "each", "value": "{{ steps.double.n }}"},
        {
            "id": "as_sum",
            "kind": "aggregate",
            "loop": "each",
            "mode": "sum",
            "value": "{{ steps.double.n }}",
        },
        {
            "id": "as_text",
            "kind": "aggregate",
            "loop": "each",
            "mode": "join",
            "separator": separator,
            "value": "{{ steps.double.tag }}",
        },
        {
            "id": "as_count",
            "kind": "aggregate",
            "loop": "each",
            "mode": "count",
            "value": "{{ item.n > 0 }}",
        },
        {
            "id": "as_groups",
            "kind": "aggregate",
            "loop": "each",
            "mode": "group",
            "key": "{{ item.tag }}",
            "value": "{{ index }}",
        },
    )
    steps = asyncio.run(run_scenario_cells(scenario, {"items": items}))
    kept = [(i, item) for i, item in enumerate(items) if item["keep"]]
    total: int | float = 0
    groups: dict[str, list[int]] = {}
    for i, item in kept:
        total = total + item["n"] * 2
        groups.setdefault(item["tag"], []).append(i)
    assert steps["as_list"] == {"result": [item["n"] * 2 for _, item in kept], "count": len(kept)}
    assert steps["as_sum"]["result"] == total
    assert steps["as_text"]["result"] == separator.join(item["tag"] for _, item in kept)
    assert steps["as_count"]["result"] == sum(1 for _, item in kept if item["n"] > 0)
    assert steps["as_groups"]["result"] == groups


async def test_loop_items_must_be_a_list_within_the_limit() -> None:
    cell = LoopCell.model_validate(
        {"id": "each", "kind": "loop", "items": "{{ trigger.x }}", "cells": [fields("s")]}
    )
    with pytest.raises(InvalidInputError, match=r"'items' must be a list, but it is null \(null\)"):
        await loops.loop_items(cell, {"trigger": {"x": None}})
    with pytest.raises(
        InvalidInputError, match="the list has 3 items, more than the limit of 2"
    ) as e:
        await loops.loop_items(cell, {"trigger": {"x": [1, 2, 3]}}, max_items=2)
    assert e.value.details["size"] == 3 and e.value.details["limit"] == 2
    assert await loops.loop_items(cell, {"trigger": {"x": [1, 2]}}, max_items=2) == [1, 2]


async def test_run_cell_of_a_loop_with_a_router_a_failing_item_and_on_error_continue() -> None:
    scenario = doc(
        loop(
            "each",
            "{{ trigger.items }}",
            {
                "id": "route",
                "kind": "condition",
                "branches": [
                    {
                        "name": "big",
                        "rules": {"all": [{"left": "{{ item.n }}", "op": "gt", "right": 1}]},
                        "cells": [fields("big", n="{{ item.n }}")],
                    }
                ],
            },
            {**fields("maybe", n="{{ item.missing }}"), "on_error": "continue"},
            fields("must", n="{{ item.n + 1 }}"),
        ),
    )
    each = scenario.find("each")
    assert isinstance(each, LoopCell)
    assert loops.body_ids(each) == ("route", "big", "maybe", "must")
    assert set(loops.cells_of(each)) == {"route", "big", "maybe", "must"}
    result = await run_cell(
        each,
        {"trigger": {"items": [{"n": 1}, {"n": 2}]}, "steps": {}},
        apps=REGISTRY,
        make_context=make_context,
        idempotency_key="k",
    )
    assert result.ok, result.error
    first, second = result.output["items"]
    assert "big" not in first["steps"] and second["steps"]["big"] == {"n": 2}
    assert first["steps"]["maybe"]["error"]["code"] == "mapping_error"
    broken = await run_cell(
        each,
        {"trigger": {"items": [{"n": 1}, {"n": "x"}]}, "steps": {}},
        apps=REGISTRY,
        make_context=make_context,
        idempotency_key="k",
    )
    assert not broken.ok and broken.error is not None
    assert broken.error["item"] == 1 and broken.error["item_cell_id"] == "must"
    assert broken.error["code"] == "mapping_error" and "details" in broken.error
    assert broken.exception is not None


async def test_run_loop_restores_finished_items_and_reports_each_item() -> None:
    cell = LoopCell.model_validate(
        {"id": "each", "kind": "loop", "items": [], "cells": [fields("s")]}
    )
    seen: list[loops.ItemRun] = []

    async def step(each: Any, ctx: dict[str, Any], scope: Any, path: str) -> flow.CellOutcome:
        ctx["steps"][each.id] = {"i": ctx["index"]}
        return flow.FAILED if ctx["index"] == 2 else flow.COMPLETED

    async def on_item(run: loops.ItemRun) -> None:
        seen.append(run)

    def finished(path: str) -> loops.ItemRun | None:
        if path == "7/0":
            return loops.ItemRun(index=0, item=None, path=path, steps={"s": {"i": "kept"}})
        return None

    ran = await loops.run_loop(
        cell,
        {"steps": {}},
        ["a", "b", "c", "d"],
        run_step=step,
        cells={"s": cell.cells[0]},  # type: ignore[dict-item]
        path="7",
        finished=finished,
        on_item=on_item,
    )
    assert [r.path for r in seen] == ["7/1", "7/2"]  # 0 restored; 3 never started
    assert ran.items[0].item == "a" and ran.items[0].steps == {"s": {"i": "kept"}}
    assert ran.failed is not None and ran.failed.path == "7/2"
    assert ran.failed.error is not None and ran.failed.error["code"] == "item_failed"
    assert ran.error()["item_cell_id"] == "s"
    assert ran.output()["count"] == 4 and len(ran.output()["items"]) == 3
    assert seen[0].output() == {"steps": {"s": {"i": 1}}, "stopped": False}


async def test_a_heavy_aggregate_runs_in_a_worker() -> None:
    cell = AggregateCell(
        id="agg",
        kind="aggregate",
        loop="each",
        mode="list",
        value="{{ item | map('upper') | list }}",
    )
    from cells.run import run_aggregate_cell

    context = {"steps": {"each": {"count": 1, "items": [{"index": 0, "item": ["a"], "steps": {}}]}}}
    result = await run_aggregate_cell(cell, context)
    assert result.ok and result.output == {"result": [["A"]], "count": 1}


def test_an_item_error_from_a_stop_carrying_an_outcome() -> None:
    class Stop(Exception):
        def __init__(self) -> None:
            self.outcome = type("O", (), {"error": {"code": "timeout", "message": "late"}})()

    assert loops._describe(Stop()) == {"code": "timeout", "message": "late"}
    assert "x" in loops._describe(ValueError("x"))["message"]
