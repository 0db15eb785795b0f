"""What runs next (``cells.flow``): the rules the runner and the notebook's Step share."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cells import flow
from cells.flow import COMPLETED, FAILED, Decision, Filtered, Pending, Plan, Routed
from cells.models import ConditionCell, ScenarioDocument
from tests.flow_strategies import TRIGGER, passes, rule, scenarios, succeeds, transformer


def doc(*cells: dict[str, Any]) -> ScenarioDocument:
    return ScenarioDocument.model_validate({"name": "Flow", "cells": [TRIGGER, *cells]})


def gate(cell_id: str, passes: bool = True) -> dict[str, Any]:
    return {"id": cell_id, "kind": "condition", "rules": rule(passes)}


def branch(
    name: str, *cells: dict[str, Any], passes: bool = True, fallback: bool = False
) -> dict[str, Any]:
    if fallback:
        return {"name": name, "fallback": True, "cells": list(cells)}
    return {"name": name, "rules": rule(passes), "cells": list(cells)}


def router(cell_id: str, *branches: dict[str, Any], match: str = "all") -> dict[str, Any]:
    return {"id": cell_id, "kind": "condition", "match": match, "branches": list(branches)}


def fate(cell: Any, broken: frozenset[str] = frozenset()) -> flow.CellOutcome:
    """The outcome a cell made by ``tests.flow_strategies`` has, read as a run records it."""
    if cell.id in broken:
        return flow.outcome(cell, ok=False, output=None)
    if isinstance(cell, ConditionCell) and cell.is_router:
        passed = {
            b.name: passes(b.rules.model_dump()) for b in cell.branches or [] if b.rules is not None
        }
        return flow.outcome(
            cell, ok=True, output={"branches": flow.branches_taken(cell, passed), "evaluations": {}}
        )
    if isinstance(cell, ConditionCell):
        assert cell.rules is not None
        return flow.outcome(
            cell, ok=True, output={"passed": passes(cell.rules.model_dump()), "rules": []}
        )
    data = cell.model_dump()
    return flow.outcome(cell, ok=succeeds(data), output={"n": 1} if succeeds(data) else None)


def drive(
    scenario: ScenarioDocument, broken: frozenset[str] = frozenset()
) -> tuple[list[str], bool, list[Decision]]:
    """Follow the plan cell by cell: (cells run, whether the run completed, every decision)."""
    cells = flow.steps_by_id(scenario)
    assert "start" not in cells  # the trigger is never a step
    plan, order, decisions = flow.start(scenario), [], []
    while (pending := plan.next) is not None:
        cell = cells[pending.cell_id]
        order.append(cell.id)
        decision = flow.advance(plan, cell, fate(cell, broken))
        decisions.append(decision)
        if decision.stops_run:
            return order, False, decisions
        plan = decision.plan
    return order, True, decisions


def ids(pending: tuple[Pending, ...]) -> list[str]:
    return [p.cell_id for p in pending]


def test_a_linear_scenario_runs_every_cell_in_order() -> None:
    order, completed, decisions = drive(doc(transformer("a"), transformer("b"), transformer("c")))
    assert order == ["a", "b", "c"] and completed
    assert [d.effect for d in decisions] == ["next"] * 3 and all(
        d.message == "" and not d.skipped for d in decisions
    )
    assert flow.start(doc()).next is None  # only a trigger: nothing to run


def test_a_filter_that_fails_at_the_top_stops_the_run_quietly() -> None:
    scenario = doc(
        transformer("a"),
        gate("gate", passes=False),
        transformer("b"),
        router("r", branch("x", transformer("x1"))),
    )
    order, completed, decisions = drive(scenario)
    assert order == ["a", "gate"] and completed  # stopped, not failed
    stop = decisions[-1]
    assert stop.effect == "filter_stopped_run" and not stop.stops_run and stop.plan.next is None
    assert ids(stop.skipped) == ["b", "r"]  # the router's branches are covered by the router
    assert stop.message == "Filter 'gate' did not pass: the run stops here."
    assert drive(doc(gate("gate"), transformer("b")))[0] == [
        "gate",
        "b",
    ]  # a passing filter lets the run go on


def test_a_filter_inside_a_branch_stops_only_that_branch() -> None:
    scenario = doc(
        router(
            "route",
            branch(
                "one",
                transformer("a1"),
                gate("stop_one", passes=False),
                transformer("a2"),
                router("inner", branch("i", transformer("i1"))),
            ),
            branch("two", transformer("b1")),
        ),
        transformer("after"),
    )
    order, completed, decisions = drive(scenario)
    assert order == ["route", "a1", "stop_one", "b1", "after"] and completed
    stop = decisions[2]
    assert stop.effect == "filter_stopped_branch" and ids(stop.skipped) == ["a2", "inner"]
    assert stop.message == "Filter 'stop_one' did not pass: this branch stops here."
    assert ids(stop.plan.pending) == ["b1", "after"]


@pytest.mark.parametrize(
    ("match", "passed", "taken"),
    [
        ("all", {"a": True, "b": True}, ["a", "b"]),
        ("first", {"a": True, "b": True}, ["a"]),
        ("first", {"a": False, "b": True}, ["b"]),
        ("all", {"a": False, "b": False}, ["else"]),  # the fallback, when nothing else matched
        ("first", {}, ["else"]),
        ("all", {"a": True}, ["a"]),  # the fallback only when no other branch matched
    ],
)
def test_which_branches_a_router_takes(
    match: str, passed: Mapping[str, bool], taken: list[str]
) -> None:
    cell = doc(
        router("r", branch("a"), branch("b"), branch("else", fallback=True), match=match)
    ).cells[1]
    assert isinstance(cell, ConditionCell)
    assert flow.branches_taken(cell, passed) == taken


def test_a_router_without_a_fallback_may_take_no_branch() -> None:
    scenario = doc(
        router(
            "r",
            branch("a", transformer("a1"), passes=False),
            branch("b", transformer("b1"), passes=False),
        ),
        transformer("after"),
    )
    cell = scenario.cells[1]
    assert (
        isinstance(cell, ConditionCell)
        and flow.branches_taken(cell, {"a": False, "b": False}) == []
    )
    order, completed, decisions = drive(scenario)
    assert order == ["r", "after"] and completed
    assert decisions[0].effect == "routed" and decisions[0].message == "Router 'r' took: no branch."
    assert ids(decisions[0].skipped) == ["a1", "b1"]


@pytest.mark.parametrize(
    ("match", "order", "message"),
    [
        ("all", ["r", "a1", "a2", "b1", "after"], "Router 'r' took: a, b."),
        ("first", ["r", "a1", "a2", "after"], "Router 'r' took: a."),
    ],
)
def test_a_router_runs_the_branches_it_took_in_order_then_what_follows(
    match: str, order: list[str], message: str
) -> None:
    scenario = doc(
        router(
            "r",
            branch("a", transformer("a1"), transformer("a2")),
            branch("b", transformer("b1")),
            branch("else", transformer("e1"), fallback=True),
            match=match,
        ),
        transformer("after"),
    )
    ran, completed, decisions = drive(scenario)
    assert ran == order and completed
    assert decisions[0].message == message and "e1" in ids(decisions[0].skipped)
    assert decisions[0].plan.pending[0] == Pending("a1", (("r", "a"),))


def test_the_fallback_branch_runs_when_nothing_matched() -> None:
    scenario = doc(
        router(
            "r",
            branch("a", transformer("a1"), passes=False),
            branch("else", transformer("e1"), fallback=True),
        )
    )
    order, _, decisions = drive(scenario)
    assert order == ["r", "e1"] and decisions[0].message == "Router 'r' took: else."


def test_nested_routers_finish_their_branches_before_the_outer_one_goes_on() -> None:
    scenario = doc(
        router(
            "outer",
            branch(
                "x",
                router(
                    "inner",
                    branch("p", transformer("p1"), gate("p_stop", passes=False), transformer("p2")),
                    branch("q", transformer("q1")),
                ),
                transformer("x_after"),
            ),
            branch("y", transformer("y1")),
        ),
        transformer("end"),
    )
    order, completed, decisions = drive(scenario)
    assert order == ["outer", "inner", "p1", "p_stop", "q1", "x_after", "y1", "end"] and completed
    assert decisions[1].plan.pending[0] == Pending("p1", (("outer", "x"), ("inner", "p")))
    assert decisions[3].effect == "filter_stopped_branch" and ids(decisions[3].skipped) == ["p2"]


def test_on_error_continue_goes_on_and_fail_stops_the_run() -> None:
    scenario = doc(
        transformer("soft", ok=False, on_error="continue"),
        transformer("hard", ok=False),
        transformer("never"),
    )
    order, completed, decisions = drive(scenario)
    assert order == ["soft", "hard"] and not completed
    assert (
        decisions[0].effect == "continued"
        and not decisions[0].stops_run
        and decisions[0].plan.next == Pending("hard")
    )
    assert decisions[0].message == "'soft' failed; it records the error and the run continues."
    stop = decisions[1]
    assert (
        stop.stops_run
        and stop.effect == "failed"
        and stop.plan.next is None
        and ids(stop.skipped) == ["never"]
    )
    assert stop.message == "'hard' failed: the run stops here."


def test_a_condition_whose_rules_break_always_stops_the_run() -> None:
    scenario = doc(router("r", branch("a", transformer("a1"))), gate("g"), transformer("after"))
    order, completed, decisions = drive(scenario, broken=frozenset({"g"}))
    assert order == ["r", "a1", "g"] and not completed and decisions[-1].effect == "failed"
    order, completed, decisions = drive(scenario, broken=frozenset({"r"}))
    assert order == ["r"] and not completed and ids(decisions[-1].skipped) == ["a1", "g", "after"]
    cell = scenario.cells[2]
    assert isinstance(cell, ConditionCell) and not flow.continues_after_failure(cell)


def test_outcomes_are_read_from_recorded_results() -> None:
    scenario = doc(
        transformer("a"),
        gate("g"),
        router("r", branch("z", transformer("z1")), branch("y", transformer("y1"))),
    )
    action, gate_cell, route = scenario.steps
    assert flow.outcome(action, ok=True, output={"n": 1}) is COMPLETED
    assert flow.outcome(action, ok=False, output=None) is FAILED
    assert flow.outcome(gate_cell, ok=True, output={"passed": True}) == Filtered(True)
    assert flow.outcome(gate_cell, ok=True, output=None) == Filtered(
        False
    )  # no output: it did not pass
    assert flow.outcome(route, ok=True, output={"branches": ["y", "z"]}) == Routed(("y", "z"))
    assert flow.outcome(route, ok=True, output={}) == Routed(())
    # the message keeps the router's own order; the branches run in document order
    decision = flow.advance(Plan((Pending("r"),)), route, Routed(("y", "z")))
    assert decision.message == "Router 'r' took: y, z."
    assert decision.plan.pending == (Pending("z1", (("r", "z"),)), Pending("y1", (("r", "y"),)))


def test_advance_refuses_a_cell_that_is_not_next_or_an_outcome_that_does_not_fit() -> None:
    scenario = doc(transformer("a"), gate("g"), router("r", branch("z")))
    action, gate_cell, route = scenario.steps
    plan = flow.start(scenario)
    with pytest.raises(ValueError, match="'g' is not the next cell"):
        flow.advance(plan, gate_cell, Filtered(True))
    with pytest.raises(ValueError, match="not the next cell"):
        flow.advance(Plan(), action, COMPLETED)
    after_a = flow.advance(plan, action, COMPLETED).plan
    with pytest.raises(ValueError, match="cannot have the outcome"):
        flow.advance(after_a, gate_cell, Routed(("z",)))
    after_g = flow.advance(after_a, gate_cell, Filtered(True)).plan
    with pytest.raises(ValueError, match="cannot have the outcome"):
        flow.advance(after_g, route, Filtered(True))
    with pytest.raises(ValueError, match="cannot have the outcome"):
        flow.advance(plan, action, Filtered(True))


def reference(scenario: ScenarioDocument, broken: frozenset[str]) -> tuple[list[str], bool]:
    """The runner's rules as it wrote them before ``cells.flow`` (recursive), as an oracle."""
    order: list[str] = []

    class Stopped(Exception):
        pass

    def run_list(cells: list[Any]) -> bool:
        for cell in cells:
            order.append(cell.id)
            result = fate(cell, broken)
            if isinstance(cell, ConditionCell):
                if result is FAILED:
                    raise Stopped
                if not cell.is_router:
                    if not result.passed:  # type: ignore[union-attr]
                        return False
                    continue
                for option in cell.branches or []:
                    if option.name in result.branches:  # type: ignore[union-attr]
                        run_list(option.cells)  # a filter inside a branch stops only that branch
                continue
            if result is FAILED and getattr(cell, "on_error", "fail") != "continue":
                raise Stopped
        return True

    try:
        run_list(scenario.cells[1:])
    except Stopped:
        return order, False
    return order, True


def inside(scenario: ScenarioDocument, cell_id: str) -> set[str]:
    """The ids of ``cell_id`` and every cell in its branches."""
    return {
        cell.id
        for cell, parents in scenario.walk()
        if cell.id == cell_id or any(router == cell_id for router, _ in parents)
    }


@settings(max_examples=300, deadline=None)
@given(data=scenarios(), pick=st.data())
def test_stepping_the_plan_runs_what_the_recursive_runner_ran(
    data: dict[str, Any], pick: st.DataObject
) -> None:
    scenario = ScenarioDocument.model_validate(data)
    conditions = sorted(cell.id for cell, _ in scenario.walk() if isinstance(cell, ConditionCell))
    broken = frozenset(pick.draw(st.sets(st.sampled_from(conditions))) if conditions else ())
    order, completed, decisions = drive(scenario, broken)
    assert (order, completed) == reference(scenario, broken)
    # every cell either ran or was skipped (itself or a router holding it), never both
    skipped = [p.cell_id for d in decisions for p in d.skipped]
    assert not set(order) & set(skipped) and len(set(order)) == len(order)
    covered = set(order).union(*(inside(scenario, cell_id) for cell_id in skipped))
    assert covered == {cell.id for cell, _ in scenario.walk()} - {"start"}
