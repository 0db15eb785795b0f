"""The notebook's state and view, headless, against a real Cellwright."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings

from cells.models import LOOP_BODY
from connectors.sdk import CellwrightError
from tests.flow_strategies import TRIGGER, rule, scenarios, transformer
from workspace.views.notebook_state import NotebookState
from workspace.views.widgets import SchemaForm

pytestmark = pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")

DOC: dict[str, Any] = {
    "name": "Orders",
    "cells": [
        {"id": "hook", "kind": "trigger", "app": "webhook", "operation": "catch_hook"},
        {
            "id": "upper",
            "kind": "transformer",
            "app": "formatter",
            "operation": "text",
            "inputs": {"value": "{{ trigger.body.name }}", "transform": "upper"},
        },
        {
            "id": "route",
            "kind": "condition",
            "branches": [
                {
                    "name": "big",
                    "rules": {
                        "all": [{"left": "{{ trigger.body.amount }}", "op": "gt", "right": 10}]
                    },
                    "cells": [
                        {
                            "id": "big_fields",
                            "kind": "transformer",
                            "app": "formatter",
                            "operation": "set_fields",
                            "inputs": {"fields": {"size": "big"}},
                        },
                    ],
                },
                {
                    "name": "small",
                    "fallback": True,
                    "cells": [
                        {
                            "id": "small_fields",
                            "kind": "transformer",
                            "app": "formatter",
                            "operation": "set_fields",
                            "inputs": {"fields": {"size": "small"}},
                        },
                    ],
                },
            ],
        },
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
    assert [c["id"] for c, _ in state.walk()] == [
        "hook",
        "upper",
        "route",
        "big_fields",
        "small_fields",
    ]
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
    state.trigger_text = (
        '{"body": {"name": "ada", "amount": 3}, "method": "POST", "headers": {}, "query": {}}'
    )
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
    form = SchemaForm(
        state.operation(state.cell("upper")).input_schema(), state.cell("upper")["inputs"]
    )
    assert form.mark_errors(result["error"]["details"]["errors"]) == {
        "transform": form.errors["transform"]
    }


async def test_test_run_saves_and_records_results(state: NotebookState) -> None:
    state.set_meta(name="Orders v2")
    state.trigger_text = (
        '{"body": {"name": "bob", "amount": 50}, "method": "POST", "headers": {}, "query": {}}'
    )
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


async def test_publish_makes_the_saved_version_live(
    svc: Any, user: Any, state: NotebookState
) -> None:
    assert (state.version, state.live_version, state.can_publish) == (1, None, True)
    assert state.info == "Not published yet · version 1 saved — publish (or enable) to make it live"
    await state.enable()  # enabling a scenario never published publishes it
    assert (state.live_version, state.can_publish, state.info) == (1, False, "Version 1 is live")
    state.set_meta(description="changed")
    assert (
        state.info == "Unsaved changes" and not state.can_publish
    )  # the saved version is the live one
    with pytest.raises(CellwrightError, match="Save your changes before publishing the scenario"):
        await state.publish()
    state.save()
    assert (state.version, state.live_version, state.can_publish) == (2, 1, True)
    assert state.info == "Version 2 saved · version 1 is live — publish to make your changes live"
    assert (
        svc.scenario(user.id, state.scenario_id).live_version == 1
    )  # saving changed nothing that runs
    published = await state.publish()
    assert (
        published.live_version == 2 and svc.scenario(user.id, state.scenario_id).live_version == 2
    )
    assert (state.live_version, state.can_publish, state.info, state.status) == (
        2,
        False,
        "Version 2 is live",
        "active",
    )


async def test_a_failed_publish_shows_the_paused_scenario(svc: Any, user: Any, probe: Any) -> None:
    from cells import document as documents
    from connectors.sdk import UpstreamError

    text = (
        "name: Hooked\ncells:\n"
        "  - {id: hook, kind: trigger, app: probe, "
        "operation: hook, inputs: {response: RESPONSE}}\n"
    )
    scenario = svc.import_scenario(user.id, documents.loads(text.replace("RESPONSE", "async")))
    await svc.enable(user.id, scenario.id)
    state = NotebookState(svc, user, scenario.id)
    state.update_cell("hook", inputs={"response": "sync"})
    state.save()
    probe.fail("subscribe", UpstreamError("the vendor is down", status=503))
    with pytest.raises(CellwrightError, match="the scenario was paused"):
        await state.publish()
    assert (state.status, state.live_version) == ("paused", 2)


async def test_publish_button_and_info_line(svc: Any, user: Any, scenario: Any) -> None:
    from workspace.views.notebook import Notebook

    nb = Notebook(svc, user, scenario.id, nav=lambda *a, **k: None)
    assert "publish" in nb.publish_button.css_classes and not nb.publish_button.disabled
    assert "Not published yet" in nb.info.object
    await nb._publish()
    assert (
        nb.banner.kind == "ok"
        and nb.banner.message
        == "Published version 1: enable the scenario to run it on its trigger."
    )
    assert nb.publish_button.disabled and "Version 1 is live" in nb.info.object
    card = nb.open_cell("upper")
    card.form.widgets["value"].value = "{{ trigger.body.email }}"
    assert "Unsaved changes" in nb.info.object and nb.publish_button.disabled
    await nb._save()
    assert (
        nb.banner.message
        == "Saved version 2. Version 1 is still live: publish to make your changes live."
    )
    assert not nb.publish_button.disabled
    assert (
        "Version 2 saved · version 1 is live — publish to make your changes live" in nb.info.object
    )
    card.form.widgets["value"].value = "{{ trigger.body.name }}"
    await nb._publish()  # unsaved changes: asks to save first
    assert nb.banner.kind == "error" and "Save your changes before publishing" in nb.banner.message
    await nb._save()
    await nb._toggle_enabled()
    # enabling runs what is live; it does not publish the saved changes
    assert nb.banner.message == (
        "Enabled: version 1 now runs on its trigger. "
        "Version 3 is saved but not live: publish it to run it."
    )
    assert "Version 3 saved · version 1 is live" in nb.info.object
    await nb._publish()
    assert nb.banner.message == "Published version 3: it runs on its trigger from now on."
    assert nb.publish_button.disabled and "Version 3 is live" in nb.info.object


def test_invalid_document_is_refused_on_save(state: NotebookState) -> None:
    state.update_cell("upper", inputs={"value": "{{ steps.nowhere.x }}", "transform": "upper"})
    with pytest.raises(CellwrightError, match="nowhere"):
        state.save()
    assert state.dirty


def test_bad_trigger_json_is_a_clear_error(state: NotebookState) -> None:
    state.trigger_text = "{not json"
    with pytest.raises(CellwrightError, match="not valid JSON"):
        state.trigger_payload()


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ('{"n": NaN}', "NaN is not a JSON number"),
        ('{"a": "\\ud800"}', "half of a UTF-16 surrogate pair"),
        ('{"n": 1e400}', "beyond what a 64-bit float holds"),
    ],
)
def test_trigger_data_must_be_standard_json_like_a_webhooks(
    state: NotebookState, text: str, named: str
) -> None:
    state.trigger_text = text
    with pytest.raises(CellwrightError, match=named) as info:
        state.trigger_payload()
    assert info.value.message.startswith("The trigger data ")


def test_schema_form_fields() -> None:
    schema = {
        "properties": {
            "mode": {"enum": ["a", "b"], "default": "a", "description": "Pick one."},
            "count": {"type": "integer"},
            "flag": {"type": "boolean", "default": False},
            "extra": {"type": "object"},
            "secret": {
                "anyOf": [
                    {"type": "string", "format": "password", "writeOnly": True},
                    {"type": "null"},
                ]
            },
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


def test_fifty_cell_notebook_is_one_component_until_a_cell_opens(svc: Any, user: Any) -> None:
    """How long it takes in a browser is measured by benchmarks/bench_ui.py."""
    from cells import document as documents
    from workspace.views.notebook import Notebook

    cells = [{"id": "hook", "kind": "trigger", "app": "webhook", "operation": "catch_hook"}]
    cells += [
        {
            "id": f"c{i}",
            "kind": "transformer",
            "app": "formatter",
            "operation": "text",
            "inputs": {"value": f"{{{{ trigger.body.n{i} }}}}", "transform": "upper"},
        }
        for i in range(49)
    ]
    scenario = svc.import_scenario(user.id, documents.parse({"name": "Big", "cells": cells}))
    nb = Notebook(svc, user, scenario.id, nav=lambda *a, **k: None)
    nb.__panel__().get_root()  # the Bokeh models the browser receives
    assert len(nb.cards) == 0 and kinds(nb) == [
        "CellList",
        "Column",
    ]  # one component for 50 cells (+ "add a step")
    assert [i["id"] for i in nb._lists[0].items][:3] == ["hook", "c0", "c1"] and nb._lists[0].items[
        -1
    ]["title"] == "50. c48 — Formatter · Text"
    nb._lists[0]._handle_msg({"open": "c10"})  # the browser's click
    card = nb.cards["c10"]
    assert card.expanded and card.form is not None and "value" in card.form.widgets
    assert (
        kinds(nb) == ["CellList", "Column", "CellList", "Column"]
        and nb.cells_box[1] is card._layout
    )
    assert (
        card.toggle.autofocus and card.toggle.expanded
    )  # the pressed button is gone: its editor's header takes the focus
    card.toggle.expanded = False  # its own toggle (the browser's click): back into one list
    assert not card.expanded and kinds(nb) == ["CellList", "Column"] and nb.open_ids == set()
    assert nb._lists[0].focus_id == "c10"  # … whose button for that cell takes the focus


def test_moving_or_deleting_a_cell_keeps_the_keyboard_focus_nearby(
    svc: Any, user: Any, scenario: Any
) -> None:
    from workspace.views.notebook import Notebook

    nb = Notebook(svc, user, scenario.id, nav=lambda *a, **k: None)
    gate = nb.act(lambda: nb.state.add_cell("condition", after="upper"), open_new=True)
    card = nb.cards[gate]
    assert card.toggle.autofocus  # a new step opens with the focus on its header
    card.toggle.autofocus = False  # (the browser turns it off once it has moved the focus)
    card._move(-1)
    moved = nb.cards[gate]
    assert (
        moved is not card and moved.number == "2" and moved.toggle.autofocus
    )  # rebuilt in its new place, focused
    nb.open_cell("upper", focus=False)
    assert not nb.cards["upper"].toggle.autofocus
    nb.cards["upper"]._delete()
    assert (
        "upper" not in nb.state.ids() and nb.cards[gate].toggle.autofocus
    )  # the cell above takes the focus


def test_run_settings_and_branches_are_named_disclosures(
    svc: Any, user: Any, scenario: Any
) -> None:
    from workspace.views.components import Disclosure
    from workspace.views.notebook import Notebook

    nb = Notebook(svc, user, scenario.id, nav=lambda *a, **k: None)
    toggle, body = nb.settings.objects
    assert (
        isinstance(toggle, Disclosure)
        and toggle.label.startswith("Run settings")
        and not toggle.expanded
    )
    assert not body.visible and not body.shown  # built when first opened
    toggle.expanded = True
    assert body.visible and body.objects
    form = body.objects[0]
    toggle.expanded = False
    toggle.expanded = True
    assert body.objects[0] is form  # built once
    router = nb.open_cell("route")
    branches = [o for o in router.body.objects if "branch" in getattr(o, "css_classes", [])]
    assert [b.objects[0].label for b in branches] == ["Branch: big", "Branch: small"]
    assert all(b.objects[0].expanded and b.objects[1].visible for b in branches)


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


def _lists(obj: Any) -> bool:
    from workspace.views.components import CellList

    return isinstance(obj, CellList)


def _find(layout: Any, css_class: str) -> Any:
    """The first component under ``layout`` carrying ``css_class``."""
    for obj in layout.select(lambda o: css_class in (getattr(o, "css_classes", None) or [])):
        return obj
    raise AssertionError(f"no .{css_class}")


async def test_trigger_cells_show_where_events_go(svc: Any, user: Any, scenario: Any) -> None:
    """The Webhook trigger shows the scenario's URL; a Slack trigger its connection's
    Events Request URL (a Slack app has one, shared by every scenario on the connection)."""
    from workspace.views.notebook import Notebook

    state = NotebookState(svc, user, scenario.id)
    label, url, note = state.trigger_url(state.cell("hook")) or ("", "", "")
    assert (
        label == "Webhook URL (send events here once the scenario is enabled)"
        and url == state.webhook_url
        and not note
    )
    nb = Notebook(svc, user, scenario.id, nav=lambda *a, **k: None)
    card = nb.open_cell("hook")
    assert (
        card is not None
        and f'<code class="webhook-url">{state.webhook_url}</code>' in card.trigger_url.object
    )

    slack = await svc.create_connection(user.id, "slack", credentials={}, sandbox=True)
    events_url = svc.connection_events_url(user.id, slack.id)
    doc = {
        "name": "Slack",
        "cells": [
            {
                "id": "said",
                "kind": "trigger",
                "app": "slack",
                "operation": "new_message",
                "inputs": {"channel": "C0SANDBOX01"},
            },
            {
                "id": "upper",
                "kind": "transformer",
                "app": "formatter",
                "operation": "text",
                "inputs": {"value": "{{ trigger.text }}", "transform": "upper"},
            },
        ],
    }
    from cells import document as documents

    saved = svc.import_scenario(user.id, documents.parse(doc))
    slack_state = NotebookState(svc, user, saved.id)
    assert slack_state.trigger_url(slack_state.cell("said")) is None  # no connection chosen yet
    assert slack_state.trigger_url(slack_state.cell("upper")) is None  # not a trigger
    nb = Notebook(svc, user, saved.id, nav=lambda *a, **k: None)
    card = nb.open_cell("said")
    assert card is not None and card.trigger_url.object == ""
    _find(card.body, "cell-connection").value = slack.id  # the user picks the Slack connection
    assert nb.state.cell("said")["connection"] == slack.id
    text = card.trigger_url.object
    assert (
        f'Events Request URL of this connection: <code class="webhook-url">{events_url}</code>'
        in text
    )
    assert (
        "Event Subscriptions" in text and saved.webhook_token not in text
    )  # the connection's URL, not the scenario's
    label, url, note = nb.state.trigger_url(nb.state.cell("said")) or ("", "", "")
    assert (label, url) == (
        "Events Request URL of this connection",
        events_url,
    ) and "once it is enabled" in note
    other = svc.store.create_user("eve@example.com")
    assert (
        NotebookState(svc, other).trigger_url(nb.state.cell("said")) is None
    )  # never another user's URL


async def test_step_mode_runs_one_cell_at_a_time_following_the_router(state: NotebookState) -> None:
    state.trigger_text = (
        '{"body": {"name": "eve", "amount": 50}, "method": "POST", "headers": {}, "query": {}}'
    )
    first = await state.step()
    assert (
        first is not None and first["cell_id"] == "upper" and first["output"] == {"result": "EVE"}
    )
    assert state.step_next == "route" and [r["cell_id"] for r in state.step_log] == ["upper"]
    assert "big_fields" not in state.results  # nothing else ran
    await state.step()
    assert state.step_message == "Router 'route' took: big." and state.step_next == "big_fields"
    third = await state.step()
    assert (
        third is not None
        and third["cell_id"] == "big_fields"
        and third["output"] == {"size": "big"}
    )
    assert (
        state.step_next is None
        and "small_fields" not in state.results
        and "Every cell has run" in state.step_message
    )
    assert await state.step() is None
    state.step_reset()
    assert state.step_log == [] and state.step_next is None
    assert (await state.step())["cell_id"] == "upper"  # type: ignore[index]


async def test_step_mode_stops_at_a_failing_filter_and_a_failing_cell(state: NotebookState) -> None:
    gate = state.add_cell("condition", after="upper")
    state.update_cell(
        gate, rules={"all": [{"left": "{{ trigger.body.amount }}", "op": "gt", "right": 100}]}
    )
    state.trigger_text = (
        '{"body": {"name": "eve", "amount": 50}, "method": "POST", "headers": {}, "query": {}}'
    )
    await state.step()
    result = await state.step()
    assert result is not None and result["output"]["passed"] is False
    assert state.step_next is None and "did not pass: the run stops here" in state.step_message
    assert await state.step() is None and "route" not in state.results

    state.delete(gate)
    state.update_cell("upper", inputs={"value": "x", "transform": "shout"})
    state.step_reset()
    failed = await state.step()
    assert (
        failed is not None
        and failed["status"] == "failed"
        and state.step_next is None
        and "stops here" in state.step_message
    )


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=scenarios())
@example(
    data={
        "name": "Mixed",
        "cells": [
            TRIGGER,
            {
                "id": "route",
                "kind": "condition",
                "match": "all",
                "branches": [
                    {
                        "name": "one",
                        "rules": rule(True),
                        "cells": [
                            transformer("soft", ok=False, on_error="continue"),
                            {
                                "id": "inner",
                                "kind": "condition",
                                "match": "first",
                                "branches": [
                                    {
                                        "name": "p",
                                        "rules": rule(True),
                                        "cells": [
                                            {
                                                "id": "gate",
                                                "kind": "condition",
                                                "rules": rule(False),
                                            },
                                            transformer("never"),
                                        ],
                                    },
                                    {
                                        "name": "q",
                                        "rules": rule(True),
                                        "cells": [transformer("not_first")],
                                    },
                                ],
                            },
                            transformer("after_inner"),
                        ],
                    },
                    {"name": "two", "rules": rule(False), "cells": [transformer("not_taken")]},
                    {"name": "else", "fallback": True, "cells": [transformer("no_fallback")]},
                ],
            },
            transformer("hard", ok=False),
            transformer("after_failure"),
        ],
    }
)
async def test_step_runs_what_a_run_runs(svc: Any, user: Any, data: dict[str, Any]) -> None:
    """Random small scenarios (filters, nested routers, failing cells with on_error):
    stepping through one runs the cells a real run runs, in the same order, with the same
    statuses — the runner and Step both follow ``cells.flow``."""
    from cells import document as documents

    saved = svc.import_scenario(user.id, documents.parse(data))
    execution = await svc.run_now(user.id, saved.id, {})
    state = NotebookState(svc, user, saved.id)
    state.trigger_text = "{}"
    while await state.step() is not None:
        pass
    ran = [(c["cell_id"], c["status"]) for c in execution["cells"][1:]]  # after the trigger
    assert [(r["cell_id"], r["status"]) for r in state.step_log] == ran
    failed = execution["status"] == "failed"
    assert failed == ("the run stops here. Fix the cell" in state.step_message)
    if data["name"] == "Mixed":  # the explicit example: every rule at work once
        assert [cell_id for cell_id, _ in ran] == [
            "route",
            "soft",
            "inner",
            "gate",
            "after_inner",
            "hard",
        ] and failed


async def test_step_buttons_show_each_result(svc: Any, user: Any, scenario: Any) -> None:
    from workspace.views.notebook import Notebook

    nb = Notebook(svc, user, scenario.id, nav=lambda *a, **k: None)
    assert not nb.step_panel.visible and not nb.step_reset_button.visible
    nb.state.trigger_text = (
        '{"body": {"name": "eve", "amount": 1}, "method": "POST", "headers": {}, "query": {}}'
    )
    await nb._step()
    assert (
        nb.step_panel.visible
        and nb.step_reset_button.visible
        and nb.step_button.name == "Step: route"
    )
    assert (
        "upper" in nb.step_panel[0].object
        and "Next: <strong>route</strong>" in nb.step_panel[0].object
    )
    assert nb.step_panel[1][1][1].object == {"result": "EVE"}  # the output tree of the last step
    assert "[completed]" in nb._lists[0].items[1]["title"]  # the collapsed header shows the status
    await nb._step()
    assert "took: small" in nb.step_panel[0].object
    await nb._step()
    assert nb.step_button.disabled and "Nothing left to run" in nb.step_panel[0].object
    nb._step_reset()
    assert (
        not nb.step_panel.visible and nb.step_button.name == "Step" and not nb.step_button.disabled
    )


async def test_enabling_a_scenario_never_published_updates_the_page_once(
    svc: Any, user: Any, scenario: Any
) -> None:
    """Enabling publishes too: status and live version change together (one batch of events)."""
    from workspace.views.notebook import Notebook

    nb = Notebook(svc, user, scenario.id, nav=lambda *a, **k: None)
    await nb._toggle_enabled()
    assert nb.banner.kind == "ok" and nb.state.status == "active" and nb.state.live_version == 1
    assert "Version 1 is live" in nb.info.object and nb.enable_button.name == "Disable"


def test_add_step_dialog_never_shows_an_empty_operation_list(
    svc: Any, user: Any, scenario: Any
) -> None:
    import panel as pn

    from workspace.views.cell_card import AddStep
    from workspace.views.notebook import Notebook

    nb = Notebook(svc, user, scenario.id, nav=lambda *a, **k: None)
    add = AddStep(nb, after="upper", label="Add a step after upper")
    add._show(None)
    selects = {w.css_classes[0]: w for w in add.form.select(pn.widgets.Select)}
    app, op = selects["new-app"], selects["new-operation"]
    assert app.value == next(iter(app.options.values()))
    assert op.options and op.value in op.options.values()  # the first app's operations, one picked
    app.value = "formatter"
    assert op.value == "set_fields" and "Lookup table" in op.options


async def test_run_cell_says_when_samples_stand_in_for_cells_that_have_not_run(
    state: NotebookState,
) -> None:
    state.update_cell(
        "big_fields",
        inputs={
            "fields": {"name": "{{ steps.upper.result }}", "amount": "{{ trigger.body.amount }}"}
        },
    )
    result = await state.run_cell("big_fields")
    assert result["status"] == "completed"
    assert result["stand_ins"] == ["trigger", "upper"]  # neither has run: both samples were used
    state.trigger_text = (
        '{"body": {"name": "ada", "amount": 30}, "method": "POST", "headers": {}, "query": {}}'
    )
    await state.run_cell("upper")
    result = await state.run_cell("big_fields")
    assert result["stand_ins"] == [] and result["output"] == {"name": "ADA", "amount": 30}
    assert (await state.run_cell("upper"))["stand_ins"] == []  # real trigger data now


async def test_the_sample_note_is_shown_above_the_result(
    svc: Any, user: Any, scenario: Any
) -> None:
    from workspace.views.notebook import Notebook

    nb = Notebook(svc, user, scenario.id, nav=lambda *a, **k: None)
    nb.open_cell("upper")
    card = nb.cards["upper"]
    await card._run()
    note = card.result[0].object
    assert "Sample data stood in for the trigger" in note and "has not run yet" in note


async def test_a_secret_typed_in_the_notebook_is_stored_in_the_vault_and_kept_on_edits(
    svc: Any, user: Any
) -> None:
    """The password box shows "stored — type to replace"; editing another field keeps the
    stored secret; after saving, the edited document and its export hold the reference."""
    from cells import document as documents
    from workspace.views.notebook import Notebook

    token = "sk-NOTEBOOK-TOKEN-5521"
    cells = [
        {"id": "hook", "kind": "trigger", "app": "webhook", "operation": "catch_hook"},
        {
            "id": "call",
            "kind": "action",
            "app": "http",
            "operation": "request",
            "inputs": {"url": "https://api.example.com/a"},
        },
    ]
    scenario = svc.import_scenario(user.id, documents.parse({"name": "Token", "cells": cells}))
    nb = Notebook(svc, user, scenario.id, nav=lambda *a, **k: None)
    card = nb.open_cell("call")
    card.form.widgets["bearer_token"].value = token
    await nb._save()
    ref = nb.state.cell("call")["inputs"]["bearer_token"]
    assert (
        set(ref) == {"$secret"}
        and token not in nb.state.export()
        and token not in str(nb.state.doc)
    )
    assert svc.scenario(user.id, scenario.id).document["cells"][1]["inputs"]["bearer_token"] == ref
    reopened = Notebook(svc, user, scenario.id, nav=lambda *a, **k: None).open_cell("call")
    box = reopened.form.widgets["bearer_token"]
    assert box.value == "" and box.placeholder == "stored — type to replace"
    reopened.form.widgets["url"].value = "https://api.example.com/b"  # an edit of another field
    assert reopened.state.cell("call")["inputs"] == {
        "url": "https://api.example.com/b",
        "bearer_token": ref,
    }


def test_tags_are_edited_in_the_notebook_and_saved(
    svc: Any, user: Any, state: NotebookState
) -> None:
    from workspace.views.notebook import Notebook

    nb = Notebook(svc, user, state.scenario_id, nav=lambda *a, **k: None)
    nb.tags.value = "Billing,  slack , "
    assert nb.state.dirty
    nb.state.save()
    assert svc.scenario(user.id, state.scenario_id).tags == ["billing", "slack"]
    assert (
        Notebook(svc, user, state.scenario_id, nav=lambda *a, **k: None).tags.value
        == "billing, slack"
    )
    nb.tags.value = ""
    nb.state.save()
    assert svc.scenario(user.id, state.scenario_id).tags == []


LOOP_DOC = {
    "name": "Loop",
    "cells": [
        {"id": "hook", "kind": "trigger", "app": "webhook", "operation": "catch_hook"},
        {
            "id": "each",
            "kind": "loop",
            "items": "{{ trigger.body.names }}",
            "cells": [
                {
                    "id": "shout",
                    "kind": "transformer",
                    "app": "formatter",
                    "operation": "text",
                    "inputs": {"value": "{{ item }}", "transform": "upper"},
                }
            ],
        },
        {
            "id": "all",
            "kind": "aggregate",
            "loop": "each",
            "mode": "join",
            "value": "{{ steps.shout.result }}",
        },
    ],
}


async def test_a_loop_renders_opens_and_steps(svc: Any, user: Any) -> None:
    from cells import document as documents
    from workspace.views.notebook import Notebook

    saved = svc.import_scenario(user.id, documents.parse(LOOP_DOC))
    nb = Notebook(svc, user, saved.id, nav=lambda *a, **k: None)
    nb.__panel__().get_root()
    titles = [i["title"] for i in nb._lists[0].items]
    assert len(titles) == 3 and "each" in titles[1] and "all" in titles[2]
    assert "For each item of {{ trigger.body.names }} (1 cell)" in titles[1]
    assert "Aggregate · join over 'each'" in titles[2]
    for cell_id in ("each", "all"):
        nb._lists[0]._handle_msg({"open": cell_id})
        assert nb.cards[cell_id].expanded
    each_card = nb.cards["each"]
    _find(each_card._layout, "loop-concurrency").value = 2
    _find(each_card._layout, "loop-items").value = "{{ trigger.body.people }}"
    assert nb.state.cell("each")["concurrency"] == 2
    # the loop's cells are listed inside it; a step is added inside like anywhere else
    assert [i["id"] for i in _find(each_card._layout, "inner-each").select(_lists)[0].items] == [
        "shout"
    ]
    extra = nb.act(
        lambda: nb.state.add_cell(
            "action", app="formatter", operation="text", branch=("each", "[each item]")
        ),
        open_new=True,
    )
    assert [c["id"] for c in nb.state.cell("each")["cells"]] == [extra, "shout"]
    assert extra in nb.cards and nb.cards[extra].expanded  # opened inside the loop's card
    assert "{{ item }}" in dict(nb.state.references(extra)).values()  # the loop's item
    nb.state.delete(extra)
    _find(nb.cards["all"]._layout, "aggregate-mode").value = "count"
    assert nb.state.cell("all")["mode"] == "count"
    nb.state.parsed()  # still a valid document
    state = NotebookState(svc, user, saved.id)
    state.trigger_text = (
        '{"body": {"names": ["ada", "eve"]}, "method": "POST", "headers": {}, "query": {}}'
    )
    seen: list[Any] = []
    state.param.watch(lambda e: seen.append(e.new), "step_items")
    first = await state.step()
    assert first is not None and first["cell_id"] == "each" and first["status"] == "completed"
    # the items showed as they ended, then the live view closed
    assert [(s["count"], [i["item"] for i in s["items"]]) for s in seen[:-1]] == [
        (2, []),
        (2, ["ada"]),
        (2, ["ada", "eve"]),
    ]
    assert seen[-1] is None
    assert [i["steps"]["shout"]["result"] for i in first["output"]["items"]] == ["ADA", "EVE"]
    second = await state.step()
    assert second is not None and second["output"] == {"result": "ADA, EVE", "count": 2}
    assert state.step_next is None


def test_loops_and_aggregates_are_added_like_any_step(state: NotebookState) -> None:
    state.trigger_text = '{"body": {"order": {"lines": [{"sku": "a"}, {"sku": "b"}]}}}'
    with pytest.raises(CellwrightError, match="add a loop first"):
        state.add_cell("aggregate", after=state.cells[-1]["id"])
    loop = state.add_cell("loop", after=state.cells[-1]["id"])
    assert state.cell(loop)["items"] == "{{ trigger.body.order.lines }}"  # the first list
    inner = state.add_cell("action", app="formatter", operation="text", branch=(loop, LOOP_BODY))
    total = state.add_cell("aggregate", after=loop)
    assert state.cell(total)["loop"] == loop and state.cell(total)["value"] == "{{ item }}"
    assert state.loop_of(inner) == loop and state.loop_of(total) is None
    # after the loop, its cells' outputs are not offered (an aggregate collects them)
    assert not any(inner in ref for _, ref in state.references(total))
    assert state.context_for(inner)["item"] == {"sku": "a"}
    state.parsed()  # a valid document


ROUTE_DOC: dict[str, Any] = {
    "name": "Routed",
    "cells": [
        {"id": "hook", "kind": "trigger", "app": "webhook", "operation": "catch_hook"},
        {
            "id": "shout",
            "kind": "transformer",
            "app": "formatter",
            "operation": "text",
            "inputs": {"value": "x", "transform": "shout"},  # refused: no such transform
            "on_error": {
                "cells": [
                    {
                        "id": "why",
                        "kind": "transformer",
                        "app": "formatter",
                        "operation": "set_fields",
                        "inputs": {
                            "fields": {"code": "{{ error.code }}", "at": "{{ error.cell_id }}"}
                        },
                    }
                ],
                "then": "continue",
                "fallback": {"result": "fallback for {{ error.cell_id }}"},
            },
        },
        {
            "id": "after",
            "kind": "transformer",
            "app": "formatter",
            "operation": "text",
            "inputs": {"value": "{{ steps.shout.result }}", "transform": "upper"},
        },
    ],
}


async def test_a_cell_with_an_error_route_renders_edits_and_steps(svc: Any, user: Any) -> None:
    from cells import document as documents
    from workspace.views.notebook import Notebook

    saved = svc.import_scenario(user.id, documents.parse(ROUTE_DOC))
    nb = Notebook(svc, user, saved.id, nav=lambda *a, **k: None)
    nb.__panel__().get_root()
    card = nb.open_cell("shout")
    assert _find(card._layout, "cell-on-error").value == "route"
    assert _find(card._layout, "route-then").value == "continue"
    fallback = _find(card._layout, "route-fallback")
    assert fallback.visible and '"fallback for {{ error.cell_id }}"' in fallback.value
    assert [i["id"] for i in _find(card._layout, "inner-shout").select(_lists)[0].items] == ["why"]
    fallback.value = "{{ error.message }}"  # not JSON: text with a mapping
    assert nb.state.cell("shout")["on_error"]["fallback"] == "{{ error.message }}"
    fallback.value = '{"result": "{{ error.code }}"}'
    assert nb.state.cell("shout")["on_error"]["fallback"] == {"result": "{{ error.code }}"}
    _find(card._layout, "route-then").value = "handled"
    assert nb.state.cell("shout")["on_error"]["then"] == "handled"
    assert "fallback" not in nb.state.cell("shout")["on_error"] and not fallback.visible
    assert nb.state.cell("shout")["on_error"]["cells"][0]["id"] == "why"  # kept
    # the route's cells see the error: the reference picker offers it
    assert "{{ error.message }}" in dict(nb.state.references("why")).values()
    nb.state.parsed()  # still a valid document
    _find(card._layout, "route-then").value = "continue"
    after_card = nb.open_cell("after")
    _find(after_card._layout, "cell-on-error").value = "route"
    assert nb.state.cell("after")["on_error"] == {"cells": [], "then": "stop"}
    added = nb.act(
        lambda: nb.state.add_cell(
            "action", app="formatter", operation="text", branch=("after", "[on error]")
        ),
        open_new=True,
    )
    assert nb.state.cell("after")["on_error"]["cells"][0]["id"] == added
    assert nb.cards[added].expanded
    _find(nb.cards["after"]._layout, "cell-on-error").value = "fail"
    assert "on_error" not in nb.state.cell("after")
    state = NotebookState(svc, user, saved.id)
    state.trigger_text = '{"body": {}, "method": "POST", "headers": {}, "query": {}}'
    failed = await state.step()
    assert failed is not None and failed["status"] == "failed"
    assert state.step_next == "why" and "its error route runs" in state.step_message
    why = await state.step()
    assert why is not None and why["output"] == {"code": "invalid_input", "at": "shout"}
    after = await state.step()
    assert after is not None and after["output"] == {"result": "FALLBACK FOR SHOUT"}
    assert state.step_next is None


async def test_stepping_a_stop_route_ends_saying_the_run_fails(svc: Any, user: Any) -> None:
    from cells import document as documents

    doc = {**ROUTE_DOC, "cells": [dict(c) for c in ROUTE_DOC["cells"]]}
    doc["cells"][1]["on_error"] = {**doc["cells"][1]["on_error"], "then": "stop"}
    del doc["cells"][1]["on_error"]["fallback"]
    saved = svc.import_scenario(user.id, documents.parse(doc))
    state = NotebookState(svc, user, saved.id)
    state.trigger_text = '{"body": {}, "method": "POST", "headers": {}, "query": {}}'
    await state.step()
    why = await state.step()
    assert why is not None and why["status"] == "completed"
    assert state.step_next is None and "the run fails with 'shout's error" in state.step_message


async def test_step_through_a_delay_does_not_wait_and_says_what_a_run_would_do(
    svc: Any, user: Any
) -> None:
    from cells import document as documents

    data = {
        "name": "Slow",
        "cells": [
            {"id": "go", "kind": "trigger", "app": "manual", "operation": "run_manually"},
            {
                "id": "pause",
                "kind": "action",
                "app": "delay",
                "operation": "delay_for",
                "inputs": {"amount": 3, "unit": "hours"},
            },
            {"id": "ask", "kind": "action", "app": "delay", "operation": "wait_for_call"},
        ],
    }
    state = NotebookState(svc, user, svc.import_scenario(user.id, documents.parse(data)).id)
    state.trigger_text = "{}"
    paused = await state.step()
    assert paused is not None and paused["output"]["preview"] is True
    assert paused["output"]["waited_seconds"] == 10800
    assert "A run waits 10800 s here" in state.step_message
    asked = await state.step()
    assert asked is not None and asked["status"] == "completed"
    assert "waits here for a call" in state.step_message
