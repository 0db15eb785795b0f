"""The flow diagram as data: a pure function of the document and the last results."""

from __future__ import annotations

from typing import Any

from connectors.registry import default_registry
from workspace.views.flow_graph import build_flow

APPS = default_registry()


def step(cell_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": cell_id,
        "kind": "transformer",
        "app": "formatter",
        "operation": "text",
        "inputs": {},
        **extra,
    }


ROUTED: list[dict[str, Any]] = [
    {"id": "hook", "kind": "trigger", "app": "webhook", "operation": "catch_hook"},
    {"id": "only_paid", "kind": "condition", "rules": {"all": []}},
    {
        "id": "route",
        "kind": "condition",
        "branches": [
            {
                "name": "big",
                "rules": {"all": []},
                "cells": [
                    {
                        "id": "tell",
                        "kind": "action",
                        "app": "slack",
                        "operation": "send_message",
                        "name": "Tell the team",
                    },
                    step("shout"),
                ],
            },
            {"name": "small", "rules": {"all": []}, "cells": []},
            {"name": "rest", "fallback": True, "cells": [step("quiet")]},
        ],
    },
    step("after"),
]


def test_trigger_steps_router_fork_and_join() -> None:
    graph = build_flow(ROUTED, {}, APPS)
    where = {n.id: (n.col, n.row) for n in graph.nodes}
    assert where["hook"] == (0, 0) and where["only_paid"] == (0, 1) and where["route"] == (0, 2)
    # one column per branch, side by side under the router; the empty branch says so
    assert (
        where["tell"] == (0, 3)
        and where["shout"] == (0, 4)
        and where["empty:route:small"] == (1, 3)
        and where["quiet"] == (2, 3)
    )
    assert (
        where["after"] == (0, 5) and graph.cols == 3 and graph.rows == 6
    )  # joins below the longest branch
    edges = {(e.source, e.target): e.label for e in graph.edges}
    assert edges[("route", "tell")] == "big" and edges[("route", "empty:route:small")] == "small"
    assert edges[("route", "quiet")] == "rest (otherwise)"  # the fallback branch says it is one
    assert edges[("only_paid", "route")] == "if it passes"  # a filter is a gate
    assert {s for s, t in edges if t == "after"} == {"shout", "empty:route:small", "quiet"}
    kinds = {n.id: n.kind for n in graph.nodes}
    assert (
        kinds["hook"] == "trigger"
        and kinds["only_paid"] == "filter"
        and kinds["route"] == "router"
        and kinds["tell"] == "step"
    )
    tell = graph.node("tell")
    assert (
        tell.label == "Tell the team"
        and tell.detail == "Slack · Send message"
        and tell.number == "3.1"
    )
    assert (
        tell.icon == "/static/icons/apps/slack.svg"
        and graph.node("route").icon == "/static/icons/router.svg"
    )
    assert (
        graph.node("hook").detail.startswith("Trigger: Webhook")
        and graph.node("route").detail == "Router · 3 branches"
    )
    assert all(n.status == "" for n in graph.nodes)  # before any run: no status at all


def test_nodes_show_the_last_run() -> None:
    results = {
        "hook": {"status": "completed"},
        "route": {"status": "completed"},
        "tell": {"status": "failed"},
    }
    alone = build_flow(
        ROUTED, {"shout": {"status": "completed"}}, APPS
    )  # one cell run on its own: the others say nothing
    assert {n.id: n.status for n in alone.nodes if n.status} == {"shout": "completed"}
    graph = build_flow(ROUTED, results, APPS, whole_run=True)
    status = {n.id: n.status for n in graph.nodes}
    assert status["hook"] == "completed" and status["tell"] == "failed"
    assert (
        status["quiet"] == "not run" and status["shout"] == "not run"
    )  # a run left them out: said in words
    data = graph.to_dict()
    assert {"nodes", "edges", "cols", "rows"} <= set(data) and data["nodes"][0]["id"] == "hook"


def test_fifty_cells_collapse_long_straight_runs() -> None:
    cells = [
        {"id": "hook", "kind": "trigger", "app": "webhook", "operation": "catch_hook"},
        *(step(f"c{i}") for i in range(49)),
    ]
    graph = build_flow(cells, {}, APPS)
    assert [n.id for n in graph.nodes] == [
        "hook",
        "c0",
        "c1",
        "more:c2",
        "c47",
        "c48",
    ] and graph.rows == 6
    more = graph.node("more:c2")
    assert (
        more.label == "45 more steps"
        and more.hidden[0] == "c2"
        and more.hidden[-1] == "c46"
        and more.number == "4–48"
    )
    assert graph.node("c48").number == "50"
    opened = build_flow(cells, {}, APPS, expanded={"more:c2"})
    assert len(opened.nodes) == 50 and opened.rows == 50
    failed = build_flow(cells, {"c20": {"status": "failed"}}, APPS, whole_run=True)
    assert (
        failed.node("c20").status == "failed" and len(failed.nodes) == 50
    )  # a failure is never hidden


def test_a_router_in_a_branch_widens_its_column() -> None:
    inner = {
        "id": "inner",
        "kind": "condition",
        "branches": [
            {"name": "a", "rules": {"all": []}, "cells": [step("a1")]},
            {"name": "b", "fallback": True, "cells": [step("b1")]},
        ],
    }
    cells = [
        ROUTED[0],
        {
            "id": "outer",
            "kind": "condition",
            "branches": [
                {"name": "x", "rules": {"all": []}, "cells": [inner]},
                {"name": "y", "fallback": True, "cells": [step("y1")]},
            ],
        },
    ]
    graph = build_flow(cells, {}, APPS)
    where = {n.id: (n.col, n.row) for n in graph.nodes}
    assert (
        where["a1"] == (0, 3)
        and where["b1"] == (1, 3)
        and where["y1"] == (2, 2)
        and graph.cols == 3
    )
    assert graph.node("a1").number == "2.1.1"


def test_delay_cells_say_what_they_wait_for_and_a_parked_one_shows_waiting() -> None:
    cells: list[dict[str, Any]] = [
        {"id": "hook", "kind": "trigger", "app": "webhook", "operation": "catch_hook"},
        {
            "id": "cool_off",
            "kind": "action",
            "app": "delay",
            "operation": "delay_for",
            "inputs": {"amount": 15, "unit": "minutes"},
        },
        {
            "id": "approval",
            "kind": "action",
            "app": "delay",
            "operation": "wait_for_call",
            "inputs": {"timeout": 2, "timeout_unit": "days", "on_timeout": "continue"},
        },
    ]
    parked = {
        "hook": {"status": "completed"},
        "cool_off": {"status": "completed"},
        "approval": {"status": "running", "output": {"resumes_at": "2026-03-30T09:00:00+00:00"}},
    }
    graph = build_flow(cells, parked, APPS, whole_run=True)
    assert graph.node("cool_off").detail == "Delay · Delay for 15 minutes"
    assert graph.node("approval").detail == (
        "Delay · Wait for a call (timeout 2 days, then continue)"
    )
    assert graph.node("approval").status == "waiting"
    assert graph.node("approval").icon.endswith("delay.svg")


def test_a_run_scenario_step_names_the_scenario_it_calls() -> None:
    cells = [
        {"id": "t", "kind": "trigger", "app": "manual", "operation": "run_manually"},
        {
            "id": "call",
            "kind": "action",
            "app": "scenario",
            "operation": "run_scenario",
            "inputs": {"scenario_id": "s1"},
        },
        {
            "id": "gone",
            "kind": "action",
            "app": "scenario",
            "operation": "run_scenario",
            "inputs": {"scenario_id": "s9"},
        },
    ]
    graph = build_flow(cells, {}, APPS, scenario_names={"s1": "Create contact"})
    assert graph.node("call").detail == "Scenarios · Run scenario → Create contact"
    assert graph.node("gone").detail == "Scenarios · Run scenario → s9"  # not one of yours
