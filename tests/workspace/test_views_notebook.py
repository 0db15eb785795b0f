"""The notebook's state and view, headless, against a real Cellwright."""

from __future__ import annotations

import time
from typing import Any

import pytest

from connectors.sdk import CellwrightError
from workspace.views.notebook_state import NotebookState
from workspace.views.widgets import SchemaForm

pytestmark = pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")

DOC: dict[str, Any] = {
    "name": "Orders",
    "cells": [
        {"id": "hook", "kind": "trigger", "app": "webhook", "operation": "catch_hook"},
        {"id": "upper", "kind": "transformer", "app": "formatter", "operation": "text", "inputs": {"value": "{{ trigger.body.name }}", "transform": "upper"}},
        {"id": "route", "kind": "condition", "branches": [
            {"name": "big", "rules": {"all": [{"left": "{{ trigger.body.amount }}", "op": "gt", "right": 10}]}, "cells": [
                {"id": "big_fields", "kind": "transformer", "app": "formatter", "operation": "set_fields", "inputs": {"fields": {"size": "big"}}},
            ]},
            {"name": "small", "fallback": True, "cells": [
                {"id": "small_fields", "kind": "transformer", "app": "formatter", "operation": "set_fields", "inputs": {"fields": {"size": "small"}}},
            ]},
        ]},
    ],
}


@pytest.fixture
def scenario(svc: Any, user: Any) -> Any:
    from cells import document as documents

    return svc.import_scenario(user.id, documents.parse(DOC))


@pytest.fixture
def state(svc: Any, user: Any, scenario: Any) -> NotebookState:
    return NotebookState(svc, user, scenario.id)


def test_loads_saved_document(state: NotebookState) -> None:
    assert [c["id"] for c, _ in state.walk()] == ["hook", "upper", "route", "big_fields", "small_fields"]
    assert state.dirty is False and state.version == 1 and state.status == "draft"
    assert state.webhook_url and "/hooks/" in state.webhook_url


def test_add_move_delete_mark_dirty(state: NotebookState) -> None:
    new = state.add_cell("action", app="formatter", operation="lookup", after="upper")
    assert new == "lookup" and state.dirty
    assert [c["id"] for c in state.cells] == ["hook", "upper", "lookup", "route"]
    assert state.cell("lookup")["kind"] == "transformer"  # the operation decides the kind
    state.move("lookup", -1)
    assert [c["id"] for c in state.cells][:3] == ["hook", "lookup", "upper"]
    with pytest.raises(CellwrightError, match="top"):
        state.move("lookup", -1)  # the trigger stays first
    with pytest.raises(CellwrightError, match="trigger"):
        state.delete("hook")
    state.delete("lookup")
    assert "lookup" not in state.ids()


def test_cells_in_branches(state: NotebookState) -> None:
    first = state.add_cell("action", app="formatter", operation="text", branch=("route", "big"))
    assert state.branch("route", "big")["cells"][0]["id"] == first
    name = state.add_branch("route")
    names = [b["name"] for b in state.cell("route")["branches"]]
    assert names[-1] == "small" and name in names  # the fallback stays last
    state.delete_branch("route", name)
    with pytest.raises(CellwrightError):
        state.move("big_fields", 1)


def test_references_list_earlier_outputs_only(state: NotebookState) -> None:
    refs = dict((ref, label) for label, ref in state.references("big_fields"))
    assert "{{ trigger.body.email }}" in refs  # the webhook's sample
    assert "{{ steps.upper.result }}" in refs  # the formatter's sample
    assert not any("small_fields" in r for r in refs)  # a sibling branch never runs first
    assert not any("big_fields" in r for r in state.references("small_fields")[0][1])


async def test_run_cell_uses_outputs_above(state: NotebookState) -> None:
    state.trigger_text = '{"body": {"name": "ada", "amount": 3}, "method": "POST", "headers": {}, "query": {}}'
    result = await state.run_cell("upper")
    assert result["status"] == "completed"
    assert result["input"]["value"] == "ada" and result["output"] == {"result": "ADA"}
    assert state.results["upper"]["output"] == {"result": "ADA"}
    assert ("{{ steps.upper.result }}") in [r for _, r in state.references("route")]


async def test_run_cell_reports_field_errors(state: NotebookState) -> None:
    state.update_cell("upper", inputs={"value": "x", "transform": "shout"})
    result = await state.run_cell("upper")
    assert result["status"] == "failed"
    fields = [e["field"] for e in result["error"]["details"]["errors"]]
    assert "transform" in fields
    form = SchemaForm(state.operation(state.cell("upper")).input_schema(), state.cell("upper")["inputs"])
    assert form.mark_errors(result["error"]["details"]["errors"]) == {"transform": form.errors["transform"]}


async def test_test_run_saves_and_records_results(state: NotebookState) -> None:
    state.set_meta(name="Orders v2")
    state.trigger_text = '{"body": {"name": "bob", "amount": 50}, "method": "POST", "headers": {}, "query": {}}'
    execution = await state.test_run()
    assert execution["status"] == "completed"
    assert state.dirty is False and state.version == 2
    assert state.results["big_fields"]["output"] == {"size": "big"}
    assert "small_fields" not in state.results


async def test_enable_requires_saved_changes(state: NotebookState) -> None:
    state.set_meta(description="changed")
    with pytest.raises(CellwrightError, match="Save"):
        await state.enable()
    state.save()
    assert (await state.enable()).status == "active"
    assert state.status == "active"
    assert (await state.disable()).status == "paused"


def test_invalid_document_is_refused_on_save(state: NotebookState) -> None:
    state.update_cell("upper", inputs={"value": "{{ steps.nowhere.x }}", "transform": "upper"})
    with pytest.raises(CellwrightError, match="nowhere"):
        state.save()
    assert state.dirty


def test_bad_trigger_json_is_a_clear_error(state: NotebookState) -> None:
    state.trigger_text = "{not json"
    with pytest.raises(CellwrightError, match="not valid JSON"):
        state.trigger_payload()


def test_schema_form_fields() -> None:
    schema = {
        "properties": {
            "mode": {"enum": ["a", "b"], "default": "a", "description": "Pick one."},
            "count": {"type": "integer"},
            "flag": {"type": "boolean", "default": False},
            "extra": {"type": "object"},
            "secret": {"anyOf": [{"type": "string", "format": "password", "writeOnly": True}, {"type": "null"}]},
        },
        "required": ["count"],
    }
    form = SchemaForm(schema, {"count": 3})
    assert form.label("count") == "Count (required)"
    assert form.values() == {"count": 3}
    form.widgets["mode"].value = "b"
    form.widgets["extra"].value = '{"a": 1}'
    form.widgets["flag"].checked = True
    assert form.values() == {"count": 3, "mode": "b", "extra": {"a": 1}, "flag": True}
    form.set_value("count", "{{ steps.x.n }}")  # a mapping is accepted in a number field
    assert form.values()["count"] == "{{ steps.x.n }}"
    form.widgets["extra"].value = "{broken"
    with pytest.raises(ValueError):
        form.values()
    assert "extra" in form.errors
    form.widgets["extra"].value = ""
    form.insert("mode", "{{ trigger.mode }}")  # an enum becomes text to hold a reference
    assert form.values()["mode"] == "{{ trigger.mode }}"


def kinds(nb: Any) -> list[str]:
    return [type(o).__name__ for o in nb.cells_box]


def test_fifty_cell_notebook_opens_under_a_second(svc: Any, user: Any) -> None:
    from cells import document as documents
    from workspace.views.notebook import Notebook

    cells = [{"id": "hook", "kind": "trigger", "app": "webhook", "operation": "catch_hook"}]
    cells += [{"id": f"c{i}", "kind": "transformer", "app": "formatter", "operation": "text", "inputs": {"value": f"{{{{ trigger.body.n{i} }}}}", "transform": "upper"}} for i in range(49)]
    scenario = svc.import_scenario(user.id, documents.parse({"name": "Big", "cells": cells}))
    small = svc.import_scenario(user.id, documents.parse({"name": "Warm-up", "cells": cells[:2]}))
    Notebook(svc, user, small.id, nav=lambda *a, **k: None).__panel__().get_root()  # first-use imports
    t0 = time.perf_counter()
    nb = Notebook(svc, user, scenario.id, nav=lambda *a, **k: None)
    nb.__panel__().get_root()  # the Bokeh models the browser receives
    assert time.perf_counter() - t0 < 1.0
    assert len(nb.cards) == 0 and kinds(nb) == ["CellList", "Column"]  # one component for 50 cells (+ "add a step")
    assert [i["id"] for i in nb._lists[0].items][:3] == ["hook", "c0", "c1"] and nb._lists[0].items[-1]["title"].startswith("▸ 50. c48")
    nb._lists[0]._handle_msg({"open": "c10"})  # the browser's click
    card = nb.cards["c10"]
    assert card.expanded and card.form is not None and "value" in card.form.widgets
    assert kinds(nb) == ["CellList", "Column", "CellList", "Column"] and nb.cells_box[1] is card._layout
    card.expanded = False  # its own toggle: back into one list
    assert kinds(nb) == ["CellList", "Column"] and nb.open_ids == set()


async def test_notebook_view_edits_flow_into_state(svc: Any, user: Any, scenario: Any) -> None:
    from workspace.views.notebook import Notebook

    nb = Notebook(svc, user, scenario.id, nav=lambda *a, **k: None)
    card = nb.open_cell("upper")
    card.form.widgets["value"].value = "{{ trigger.body.email }}"
    assert nb.state.cell("upper")["inputs"]["value"] == "{{ trigger.body.email }}"
    assert nb.dirty and nb.guard.dirty
    await card._run()
    assert nb.state.results["upper"]["output"] == {"result": "ADA@EXAMPLE.COM"}
    await nb._save()
    assert not nb.dirty and nb.state.version == 2


async def test_step_mode_runs_one_cell_at_a_time_following_the_router(state: NotebookState) -> None:
    state.trigger_text = '{"body": {"name": "eve", "amount": 50}, "method": "POST", "headers": {}, "query": {}}'
    first = await state.step()
    assert first is not None and first["cell_id"] == "upper" and first["output"] == {"result": "EVE"}
    assert state.step_next == "route" and [r["cell_id"] for r in state.step_log] == ["upper"]
    assert "big_fields" not in state.results  # nothing else ran
    await state.step()
    assert state.step_message == "Router 'route' took: big." and state.step_next == "big_fields"
    third = await state.step()
    assert third is not None and third["cell_id"] == "big_fields" and third["output"] == {"size": "big"}
    assert state.step_next is None and "small_fields" not in state.results and "Every cell has run" in state.step_message
    assert await state.step() is None
    state.step_reset()
    assert state.step_log == [] and state.step_next is None
    assert (await state.step())["cell_id"] == "upper"  # type: ignore[index]


async def test_step_mode_stops_at_a_failing_filter_and_a_failing_cell(state: NotebookState) -> None:
    gate = state.add_cell("condition", after="upper")
    state.update_cell(gate, rules={"all": [{"left": "{{ trigger.body.amount }}", "op": "gt", "right": 100}]})
    state.trigger_text = '{"body": {"name": "eve", "amount": 50}, "method": "POST", "headers": {}, "query": {}}'
    await state.step()
    result = await state.step()
    assert result is not None and result["output"]["passed"] is False
    assert state.step_next is None and "did not pass: the run stops here" in state.step_message
    assert await state.step() is None and "route" not in state.results

    state.delete(gate)
    state.update_cell("upper", inputs={"value": "x", "transform": "shout"})
    state.step_reset()
    failed = await state.step()
    assert failed is not None and failed["status"] == "failed" and state.step_next is None and "stops here" in state.step_message


async def test_step_buttons_show_each_result(svc: Any, user: Any, scenario: Any) -> None:
    from workspace.views.notebook import Notebook

    nb = Notebook(svc, user, scenario.id, nav=lambda *a, **k: None)
    assert not nb.step_panel.visible and not nb.step_reset_button.visible
    nb.state.trigger_text = '{"body": {"name": "eve", "amount": 1}, "method": "POST", "headers": {}, "query": {}}'
    await nb._step()
    assert nb.step_panel.visible and nb.step_reset_button.visible and nb.step_button.name == "Step: route"
    assert "upper" in nb.step_panel[0].object and "Next: <strong>route</strong>" in nb.step_panel[0].object
    assert nb.step_panel[1][1][1].object == {"result": "EVE"}  # the output tree of the last step
    assert "[completed]" in nb._lists[0].items[1]["title"]  # the collapsed header shows the status
    await nb._step()
    assert "took: small" in nb.step_panel[0].object
    await nb._step()
    assert nb.step_button.disabled and "Nothing left to run" in nb.step_panel[0].object
    nb._step_reset()
    assert not nb.step_panel.visible and nb.step_button.name == "Step" and not nb.step_button.disabled
