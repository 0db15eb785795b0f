"""The notebook's flow diagram and drag-and-drop reordering, headless, against a real Cellwright."""

from __future__ import annotations

from typing import Any

import pytest

from connectors.sdk import CellwrightError
from tests.workspace.test_views_notebook import DOC
from workspace.views.notebook_state import NotebookState

pytestmark = pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")


@pytest.fixture
def scenario(svc: Any, user: Any) -> Any:
    from cells import document as documents

    doc = {
        **DOC,
        "cells": [
            *DOC["cells"][:2],
            {
                "id": "tidy",
                "kind": "transformer",
                "app": "formatter",
                "operation": "text",
                "inputs": {"value": "x", "transform": "lower"},
            },
            *DOC["cells"][2:],
        ],
    }
    return svc.import_scenario(user.id, documents.parse(doc))


@pytest.fixture
def state(svc: Any, user: Any, scenario: Any) -> NotebookState:
    return NotebookState(svc, user, scenario.id)


def notebook(svc: Any, user: Any, scenario: Any) -> Any:
    from workspace.views.notebook import Notebook

    return Notebook(svc, user, scenario.id, nav=lambda *a, **k: None)


def top(state: NotebookState) -> list[str]:
    return [c["id"] for c in state.cells]


def test_move_to_keeps_the_rules_of_move(state: NotebookState) -> None:
    assert top(state) == ["hook", "upper", "tidy", "route"]
    state.move_to("route", 1)
    assert top(state) == ["hook", "route", "upper", "tidy"] and state.dirty
    with pytest.raises(CellwrightError, match="trigger always comes first"):
        state.move_to("upper", 0)
    with pytest.raises(CellwrightError, match="trigger always comes first"):
        state.move_to("hook", 2)
    with pytest.raises(CellwrightError, match="own list"):
        state.move_to("upper", 4)


def test_drop_before_or_after_a_cell_of_the_same_list(state: NotebookState) -> None:
    state.drop("route", "upper", after=False)
    assert top(state) == ["hook", "route", "upper", "tidy"]
    state.drop("route", "tidy", after=True)  # down past two cells
    assert top(state) == ["hook", "upper", "tidy", "route"]
    state.drop("upper", "tidy", after=True)
    assert top(state) == ["hook", "tidy", "upper", "route"]
    state.drop("upper", "hook", after=True)
    assert top(state) == ["hook", "upper", "tidy", "route"]
    with pytest.raises(CellwrightError, match="trigger always comes first"):
        state.drop("upper", "hook", after=False)
    with pytest.raises(CellwrightError, match="its own list"):
        state.drop("big_fields", "upper", after=True)  # out of its branch: refused, in words
    assert [c["id"] for c, _ in state.walk()] == [
        "hook",
        "upper",
        "tidy",
        "route",
        "big_fields",
        "small_fields",
    ]


def test_dragging_a_cell_in_the_list_moves_it_and_is_saved(
    svc: Any, user: Any, scenario: Any
) -> None:
    nb = notebook(svc, user, scenario)
    listing = nb._lists[0]
    items = {i["id"]: i for i in listing.items}
    assert (
        items["hook"]["fixed"] and not items["upper"]["fixed"] and items["upper"]["container"] == ""
    )
    assert (
        items["upper"]["icon"] == "/static/icons/apps/formatter.svg"
        and items["route"]["icon"] == "/static/icons/router.svg"
    )
    listing._handle_msg({"move": "route", "target": "upper", "after": False})  # the browser's drop
    assert top(nb.state) == ["hook", "route", "upper", "tidy"] and nb.state.dirty
    assert [i["id"] for i in nb._lists[0].items] == [
        "hook",
        "route",
        "upper",
        "tidy",
    ]  # redrawn in the new order
    assert nb._lists[0].focus_id == "route"  # the moved cell keeps the focus
    assert [n.id for n in nb.flow.graph.nodes][:3] == [
        "hook",
        "route",
        "big_fields",
    ]  # … and the diagram follows
    nb.state.save()
    assert [c["id"] for c in svc.scenario(user.id, scenario.id).document["cells"]] == [
        "hook",
        "route",
        "upper",
        "tidy",
    ]


def test_a_drop_out_of_its_branch_says_why(svc: Any, user: Any, scenario: Any) -> None:
    nb = notebook(svc, user, scenario)
    nb.open_cell("route", focus=False)
    branch_list = next(
        listing for listing in nb._lists if any(i["id"] == "big_fields" for i in listing.items)
    )
    assert branch_list.items[0]["container"] == "route/big"
    branch_list._handle_msg({"move": "big_fields", "target": "upper", "after": True})
    assert (
        nb.banner.kind == "error"
        and "own list" in nb.banner.message
        and [c["id"] for c in nb.state.cells] == ["hook", "upper", "tidy", "route"]
    )


async def test_the_diagram_opens_cells_and_shows_the_last_run(
    svc: Any, user: Any, scenario: Any
) -> None:
    nb = notebook(svc, user, scenario)
    flow = nb.flow
    graph = flow.diagram.graph
    assert [n["id"] for n in graph["nodes"]] == [
        "hook",
        "upper",
        "tidy",
        "route",
        "big_fields",
        "small_fields",
    ]
    assert {(e["source"], e["target"], e["label"]) for e in graph["edges"]} >= {
        ("route", "big_fields", "big"),
        ("route", "small_fields", "small (otherwise)"),
    }
    flow.diagram._handle_msg({"open": "small_fields"})  # the browser's click on a node
    assert {"small_fields", "route"} <= nb.open_ids and nb.cards[
        "small_fields"
    ].toggle.autofocus  # opened inside its router, focused
    nb.state.trigger_text = '{"body": {"name": "ada", "amount": 3}}'
    await nb._test_run()
    status = {n["id"]: n["status"] for n in flow.diagram.graph["nodes"]}
    assert (
        status["upper"] == "completed"
        and status["small_fields"] == "completed"
        and status["big_fields"] == "not run"
    )
    sent = flow.diagram.graph
    nb.state.update_cell(
        "upper", inputs={"value": "typed", "transform": "upper"}
    )  # typing: nothing the diagram shows
    assert flow.diagram.graph is sent
    nb.state.update_cell("upper", name="Shout")
    assert next(n for n in flow.diagram.graph["nodes"] if n["id"] == "upper")["label"] == "Shout"


def test_a_fifty_cell_diagram_collapses_and_expands(svc: Any, user: Any) -> None:
    from cells import document as documents
    from workspace.views.notebook import Notebook

    cells = [{"id": "hook", "kind": "trigger", "app": "webhook", "operation": "catch_hook"}]
    cells += [
        {
            "id": f"c{i}",
            "kind": "transformer",
            "app": "formatter",
            "operation": "text",
            "inputs": {"value": "x", "transform": "upper"},
        }
        for i in range(49)
    ]
    scenario = svc.import_scenario(user.id, documents.parse({"name": "Big", "cells": cells}))
    nb = Notebook(svc, user, scenario.id, nav=lambda *a, **k: None)
    assert [n["id"] for n in nb.flow.diagram.graph["nodes"]] == [
        "hook",
        "c0",
        "c1",
        "more:c2",
        "c47",
        "c48",
    ]
    nb.flow.diagram._handle_msg({"expand": "more:c2"})
    assert (
        len(nb.flow.diagram.graph["nodes"]) == 50 and nb.flow.diagram.focus_id == "c2"
    )  # the first shown step takes the focus
