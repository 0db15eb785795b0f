"""The history pages link a called run (sub-scenario) and the run that called it."""

from __future__ import annotations

from typing import Any

import panel as pn
import pytest

from cells import document as documents
from tests.engine.test_subscenarios import CHILD, caller

pytestmark = pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")


def buttons(view: Any, css: str) -> list[Any]:
    return [b for b in view.select(pn.widgets.Button) if css in b.css_classes]


async def test_the_execution_pages_link_caller_and_called_runs(svc: Any, user: Any) -> None:
    from workspace.views.executions import ExecutionList, ExecutionPage

    child = svc.import_scenario(user.id, documents.loads(CHILD))
    await svc.publish(user.id, child.id)
    parent = svc.import_scenario(user.id, documents.loads(caller(child.id)))
    result = await svc.run_now(user.id, parent.id, {"email": "ada@example.com"}, timeout=20)
    called = next(c for c in result["cells"] if c["cell_id"] == "call")["output"]["execution_id"]

    went: list[tuple[str, str]] = []
    page = ExecutionPage(svc, user, result["id"], nav=lambda *a: went.append(a))
    [open_child] = buttons(page.links, "open-child-run")
    assert open_child.name == "Create contact (completed)"
    [from_cell] = buttons(page.cells, "open-called-run")  # on the Run scenario cell
    from_cell.clicks += 1
    open_child.clicks += 1
    assert went == [("execution", called), ("execution", called)]

    went.clear()
    child_page = ExecutionPage(svc, user, called, nav=lambda *a: went.append(a))
    [open_parent] = buttons(child_page.links, "open-parent-run")
    open_parent.clicks += 1
    assert went == [("execution", result["id"])]
    assert not buttons(child_page.links, "open-child-run")

    listing = ExecutionList(svc, user, nav=lambda *a, **k: None)
    listing.state.parent_execution_id = result["id"]
    assert [e["id"] for e in listing.state.items] == [called]
    assert "called by another run" in listing.rows[0][1].object


async def test_the_notebook_runs_and_steps_a_run_scenario_cell_for_real(
    svc: Any, user: Any
) -> None:
    from workspace.views.notebook_state import NotebookState

    child = svc.import_scenario(user.id, documents.loads(CHILD))
    await svc.publish(user.id, child.id)
    parent = svc.import_scenario(user.id, documents.loads(caller(child.id)))
    state = NotebookState(svc, user, parent.id)
    state.trigger_text = '{"email": "nb@example.com"}'
    ran = await state.run_cell("call")
    assert ran["status"] == "completed", ran["error"]
    assert ran["output"]["output"]["contact"] == "nb@example.com"
    assert svc.execution(user.id, ran["output"]["execution_id"])["status"] == "completed"

    stepped = await state.step()
    assert stepped is not None and stepped["cell_id"] == "call"
    assert stepped["output"]["execution_id"] != ran["output"]["execution_id"]  # a new call
    after = await state.step()
    assert after is not None and after["cell_id"] == "use"
    assert after["input"]["value"]["output"]["contact"] == "nb@example.com"


async def test_a_run_scenario_cell_shows_the_inputs_its_scenario_expects(
    svc: Any, user: Any
) -> None:
    from workspace.views.notebook import Notebook

    child = svc.import_scenario(user.id, documents.loads(CHILD))
    await svc.publish(user.id, child.id)
    parent = svc.import_scenario(user.id, documents.loads(caller(child.id)))
    nb = Notebook(svc, user, parent.id, nav=lambda *a, **k: None)
    nb.__panel__()
    nb.open_cell("call")
    card = nb.cards["call"]
    assert card.call_note is not None
    note = card.call_note.object
    assert "<code>email</code> — text (required)" in note and "<code>score</code> — number" in note

    other = svc.store.create_user("eve@example.com", name="Eve")
    theirs = svc.import_scenario(other.id, documents.loads(CHILD))
    assert "No scenario" in card._call_note({"inputs": {"scenario_id": theirs.id}})
    assert "Pick the scenario" in card._call_note({"inputs": {}})
