"""Headless tests of the workspace pages' state, against a real Cellwright."""

from __future__ import annotations

from typing import Any

import panel as pn
import pytest

from cells import document as documents
from connectors.sdk import CellwrightError
from tests.conftest import wait_for

pytestmark = pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")

SIMPLE = {
    "name": "Echo",
    "cells": [
        {"id": "hook", "kind": "trigger", "app": "webhook", "operation": "catch_hook"},
        {
            "id": "shout",
            "kind": "transformer",
            "app": "formatter",
            "operation": "text",
            "inputs": {"value": "{{ trigger.body.name }}", "transform": "upper"},
        },
    ],
}


def test_scenario_list_create_duplicate_import_delete(svc: Any, user: Any) -> None:
    from workspace.views.scenarios import ScenarioList, ScenarioListState

    state = ScenarioListState(svc, user)
    assert state.rows == []
    blank = state.create_blank("  ")
    assert blank.name == "Untitled scenario" and len(state.rows) == 1
    copy = state.duplicate(blank.id)
    assert copy.name == "Untitled scenario (copy)"
    imported = state.import_text(documents.dump(documents.parse(SIMPLE)))
    assert {r["name"] for r in state.rows} == {
        "Untitled scenario",
        "Untitled scenario (copy)",
        "Echo",
    }
    with pytest.raises(CellwrightError, match="cells"):
        state.import_text("name: broken\ncells: []\n")
    other = svc.store.create_user("eve@example.com")
    assert ScenarioListState(svc, other).rows == []  # only the signed-in user's objects
    view = ScenarioList(svc, user, nav=lambda *a, **k: None)
    assert (
        len(view.list.objects) == 2 and len(view.table.rows) == 3
    )  # the column headers, then one table
    assert imported.id in {r["id"] for r in view.state.rows}
    # export from the list: the same YAML as `cellwright export`, which imports back unchanged
    name, text = state.export(imported.id)
    assert name == "echo.yaml" and text == svc.export_scenario(user.id, imported.id)
    assert documents.dump(documents.loads(text)) == text
    assert view._export(imported.id).read() == text
    assert view._export("no-such-scenario").read() == "" and view.banner.kind == "error"
    with pytest.raises(CellwrightError):
        ScenarioListState(svc, other).export(imported.id)  # not someone else's


async def test_scenario_list_toggle_and_delete(svc: Any, user: Any) -> None:
    from workspace.views.scenarios import ScenarioList, ScenarioListState, versions

    state = ScenarioListState(svc, user)
    scenario = state.import_text(documents.dump(documents.parse(SIMPLE)))
    assert versions(state.rows[0]) == "not published · saved v1"
    await state.toggle(scenario.id)
    assert (
        state.rows[0]["status"] == "active" and state.rows[0]["live_version"] == 1
    )  # enabling published it
    assert versions(state.rows[0]) == "live v1"
    svc.import_scenario(user.id, documents.parse(SIMPLE), scenario_id=scenario.id)
    state.refresh()
    assert versions(state.rows[0]) == "live v1 · saved v2"
    view = ScenarioList(svc, user, nav=lambda *a, **k: None)
    assert "live v1 · saved v2" in view.table.rows[0]["cells"][0][1]
    await state.delete(scenario.id)
    assert state.rows == []


async def test_executions_filter_page_and_rerun(svc: Any, user: Any, helpers: Any) -> None:
    from workspace.views.executions import (
        PAGE_SIZE,
        ExecutionList,
        ExecutionListState,
        ExecutionPage,
        ExecutionState,
    )

    scenario = svc.import_scenario(user.id, documents.parse(SIMPLE))
    for i in range(PAGE_SIZE + 3):
        await svc.run_now(
            user.id,
            scenario.id,
            {"body": {"name": f"n{i}"}, "method": "POST", "headers": {}, "query": {}},
        )
    failed = await svc.run_now(
        user.id, scenario.id, {"body": {}, "method": "POST", "headers": {}, "query": {}}
    )
    assert failed["status"] == "failed"
    state = ExecutionListState(svc, user)
    assert state.total == PAGE_SIZE + 4 and state.pages == 2 and len(state.items) == PAGE_SIZE
    state.page = 1
    assert len(state.items) == 4
    state.status = "failed"
    assert state.page == 0 and state.total == 1 and state.items[0]["id"] == failed["id"]
    state.time_range = "Last hour"
    assert state.total == 1
    view = ExecutionList(svc, user, nav=lambda *a, **k: None, scenario_id=scenario.id)
    assert view.state.scenario_id == scenario.id and view.state.total == PAGE_SIZE + 4

    detail = ExecutionState(svc, user, failed["id"])
    assert detail.cell_order() == ["hook", "shout"] and not detail.live
    page = ExecutionPage(svc, user, failed["id"], nav=lambda *a, **k: None)
    assert "shout" in page.banner.message and not page.from_failed.disabled
    # fix the cell, then run the latest version with the same trigger data
    fixed = documents.parse(
        {
            **SIMPLE,
            "cells": [
                SIMPLE["cells"][0],
                {
                    **SIMPLE["cells"][1],
                    "inputs": {
                        "value": "{{ trigger.body.name | default('anon') }}",
                        "transform": "upper",
                    },
                },
            ],
        }
    )
    svc.import_scenario(user.id, fixed, scenario_id=scenario.id)
    assert ExecutionState(svc, user, failed["id"]).newer_version == 2
    new = await detail.run_latest()
    done = await helpers.finished(svc, new.id)
    assert done["status"] == "completed" and done["cells"][-1]["output"] == {"result": "ANON"}
    rerun = await detail.rerun()  # from the failed cell, on the fixed (latest) version
    done = await helpers.finished(svc, rerun.id)
    assert done["status"] == "completed" and done["scenario_version"] == 2
    assert [c["cell_id"] for c in done["cells"]][-1] == SIMPLE["cells"][1]["id"]
    other = svc.store.create_user("eve@example.com")
    with pytest.raises(CellwrightError):
        ExecutionState(svc, other, failed["id"])


async def test_execution_lists_search_trigger_data_and_show_names(svc: Any, user: Any) -> None:
    from workspace.views.executions import ExecutionList, ExecutionPage

    scenario = svc.import_scenario(user.id, documents.parse(SIMPLE))
    ada = await svc.run_now(
        user.id,
        scenario.id,
        {"body": {"name": "Ada Lovelace"}, "method": "POST", "headers": {}, "query": {}},
    )
    await svc.run_now(
        user.id,
        scenario.id,
        {"body": {"name": "Grace"}, "method": "POST", "headers": {}, "query": {}},
    )
    view = ExecutionList(svc, user, nav=lambda *a, **k: None)
    assert view.state.total == 2
    view.state.search = "ada LOVE"
    assert view.state.total == 1 and [e["id"] for e in view.state.items] == [ada["id"]]
    row = view.rows[0][1].object
    assert (
        "<strong>Echo</strong>" in row and scenario.id not in row
    )  # the scenario's name, not its id
    view.state.search = "nobody"
    assert "No executions match" in view.rows[0].object

    # a completed execution offers no "rerun from the failed cell"; cells count attempts from 1
    page = ExecutionPage(svc, user, ada["id"], nav=lambda *a, **k: None)
    assert not page.from_failed.visible and page.from_start.visible
    texts = [
        o.object
        for cell in page.cells
        for o in cell.select(pn.pane.HTML)
        if isinstance(o.object, str)
    ]
    assert any("attempt 1" in t for t in texts) and not any("attempt 0" in t for t in texts)
    assert "latest saved version (v1, the one this execution ran)" in page.rerun_note.object


def test_scenario_list_has_headers_and_filters_by_name_and_tag(svc: Any, user: Any) -> None:
    from workspace.views.scenarios import ScenarioList

    svc.import_scenario(
        user.id,
        documents.parse({**SIMPLE, "name": "Refunds to Slack", "tags": ["billing", "slack"]}),
    )
    svc.import_scenario(
        user.id, documents.parse({**SIMPLE, "name": "New leads", "tags": ["sales"]})
    )
    svc.import_scenario(user.id, documents.parse({**SIMPLE, "name": "Untagged"}))
    view = ScenarioList(svc, user, nav=lambda *a, **k: None)
    head = view.list[0].object
    assert all(
        f">{label}</span>" in head for label in ("Name", "Status", "Last run", "Success", "Actions")
    )
    assert list(view.tag.options) == ["All tags", "billing", "sales", "slack"]
    assert "3 scenarios" in view.count.object

    view.search.value_input = "REFUND"  # as typed: filters on every key
    assert [r["name"] for r in view.state.rows] == ["Refunds to Slack"]
    assert "1 of 3 scenarios" in view.count.object
    assert 'class="cw-tag">billing</span>' in view.table.rows[0]["tags_html"]
    view.search.value_input = ""
    view.tag.value = "sales"
    assert [r["name"] for r in view.state.rows] == ["New leads"]
    view.search.value_input = "refund"
    assert view.state.rows == [] and "No scenarios match" in view.list[0].object


def test_labels_and_counts_read_as_people_write_them(svc: Any, user: Any) -> None:
    from workspace.views.directory import Directory
    from workspace.views.settings import SettingsPage
    from workspace.views.widgets import SchemaForm
    from workspace.views.wording import counted, field_label

    assert [counted(n, "trigger") for n in (0, 1, 2)] == ["0 triggers", "1 trigger", "2 triggers"]
    assert field_label("api_key", {"title": "Api Key"}) == "API key"  # pydantic's generated title
    assert field_label("base_url", {"title": "Base Url"}) == "Base URL"
    assert (
        field_label("channel", {"title": "Slack channel"}) == "Slack channel"
    )  # an author's own title
    form = SchemaForm(
        {"properties": {"api_key": {"type": "string", "title": "Api Key"}}, "required": ["api_key"]}
    )
    assert form.label("api_key") == "API key (required)"
    text = " ".join(
        o.object
        for o in Directory(svc, user, nav=lambda *a, **k: None).list
        if isinstance(getattr(o, "object", None), str)
    )
    rows = [
        o.object
        for row in Directory(svc, user, nav=lambda *a, **k: None).list
        if isinstance(row, pn.Row)
        for o in row
        if isinstance(o, pn.pane.HTML)
    ]
    assert "1 triggers" not in " ".join(rows) and "1 actions" not in " ".join(rows)
    assert any(" 1 trigger " in r or " 1 trigger<" in r or "· 1 trigger ·" in r for r in rows)
    assert (
        '<h2 style="font-size:18px' in text
    )  # category headings no bigger than the page's sections
    svc.store.create_api_key(user.id, "demo")
    page = SettingsPage(svc, user, nav=lambda *a, **k: None)
    assert [b.name for b in page.keys_box.select(pn.widgets.Button)] == ["Revoke key “demo”"]


def test_directory_filters(svc: Any) -> None:
    from workspace.views.directory import AppPage, DirectoryState, fields_table

    state = DirectoryState(svc)
    everything = len(state.apps)
    state.search = "format"
    assert [a["key"] for a in state.apps] == ["formatter"]
    state.search = ""
    state.has_trigger = True
    assert all(a["triggers"] for a in state.apps) and len(state.apps) < everything
    state.param.update(has_trigger=False, category="Built-in")
    assert state.apps and all(a["category"] == "Built-in" for a in state.apps)
    state.param.update(category="", auth="api_key")
    assert {a["key"] for a in state.apps} >= {"keyed"}
    page = AppPage(svc, None, "http", nav=lambda *a, **k: None)
    assert page.described["actions"][0]["key"] == "request"
    assert "<code>url</code>" in fields_table(page.described["actions"][0]["input_schema"], "x")
    with pytest.raises(CellwrightError):
        AppPage(svc, None, "nope", nav=lambda *a, **k: None)


def test_usage_counts_read_as_words() -> None:
    from workspace.views.connections import times

    assert [times(n) for n in (0, 1, 2, 1234)] == [
        "never used",
        "used once",
        "used 2 times",
        "used 1,234 times",
    ]


async def test_connections_sandbox_test_rename_delete(svc: Any, user: Any) -> None:
    from workspace.views.connections import Connections, ConnectionsState

    state = ConnectionsState(svc, user)
    assert "keyed" in {a.key for a in state.apps_needing_connections()}
    conn = await state.create("keyed", {"api_key": "good-key"}, sandbox=True)
    assert conn.status == "active" and conn.is_sandbox and state.rows[0]["id"] == conn.id
    bad = await state.create("keyed", {"api_key": "wrong"}, name="Bad key")
    assert bad.status == "error"
    fixed = await state.update_credentials(bad.id, {"api_key": "good-key"})
    assert fixed.status in ("active", "error")  # the sandbox decides; the call went through
    renamed = await state.rename(conn.id, " Team key ")
    assert renamed.name == "Team key"
    scenario = svc.import_scenario(
        user.id,
        documents.parse(
            {
                "name": "Uses it",
                "cells": [
                    {"id": "hook", "kind": "trigger", "app": "webhook", "operation": "catch_hook"},
                    {
                        "id": "who",
                        "kind": "action",
                        "app": "keyed",
                        "operation": "whoami",
                        "connection": conn.id,
                    },
                ],
            }
        ),
    )
    await svc.enable(user.id, scenario.id)
    with pytest.raises(CellwrightError, match="Uses it"):
        state.delete(conn.id)
    await svc.disable(user.id, scenario.id)
    state.delete(conn.id)
    assert conn.id not in {r["id"] for r in state.rows}
    view = Connections(svc, user, nav=lambda *a, **k: None, app_key="keyed")
    assert view.app_select.value == "keyed"
    assert (
        "events-url" not in view.list.objects[0].objects[0].object
    )  # one URL per scenario for this app
    assert view.auth_form is not None
    assert [type(w).__name__ for w in view.auth_form.widgets.values()] == [
        "PasswordInput"
    ]  # secrets are write-only


async def test_a_slack_connection_row_shows_its_events_request_url(svc: Any, user: Any) -> None:
    from workspace.views.connections import Connections, ConnectionsState

    state = ConnectionsState(svc, user)
    slack = await state.create("slack", {}, name="Team Slack", sandbox=True)
    keyed = await state.create("keyed", {"api_key": "good-key"}, sandbox=True)
    url = svc.connection_events_url(user.id, slack.id)
    assert url is not None and "/hooks/apps/slack/" in url
    label, shown, instructions = state.events_url(
        next(r for r in state.rows if r["id"] == slack.id)
    ) or ("", "", "")
    assert (label, shown) == (
        "Events Request URL",
        url,
    ) and "paste it in your Slack app's Event Subscriptions" in instructions
    assert state.events_url(next(r for r in state.rows if r["id"] == keyed.id)) is None
    view = Connections(svc, user, nav=lambda *a, **k: None)
    rows = {r.css_classes[1]: r.objects[0].object for r in view.list.objects}
    assert (
        "Events Request URL: "
        f"<code>{url}</code> — paste it in your Slack app&#x27;s Event Subscriptions"
        in rows[f"connection-{slack.id}"]
    )
    assert "Events Request URL" not in rows[f"connection-{keyed.id}"]
    other = svc.store.create_user("eve@example.com")
    assert (
        ConnectionsState(svc, other).rows == []
        and svc.connection_events_url(other.id, slack.id) is None
    )


def test_template_catalog_is_complete_and_valid(svc: Any) -> None:
    from cells.mapping import check_syntax
    from workspace.templates import load_templates

    templates = load_templates()
    keys = {t.key for t in templates}
    assert {"monday_to_wordpress", "lead_generation"} <= keys and len(templates) >= 8
    monday = next(t for t in templates if t.key == "monday_to_wordpress")
    assert monday.apps == ["monday", "wordpress"] and monday.connections == ["monday", "wordpress"]
    only_approved = next(c for c in monday.data["cells"] if c.get("kind") == "condition")
    assert "Approved" in str(only_approved["rules"])
    lead = next(t for t in templates if t.key == "lead_generation")
    assert any(
        c.get("kind") == "condition" and "score" in str(c.get("rules")) for c in lead.data["cells"]
    )
    import importlib.util

    from connectors.planned import PLANNED

    for t in templates:
        doc = t.document(
            {app: "conn-id" for app in t.connections},
            server_url="http://example.test",
            inputs={a.key: "1" for a in t.asks},
        )
        for cell, _ in doc.walk():
            check_syntax(getattr(cell, "inputs", {}), cell_id=cell.id)
            if getattr(cell, "app", None):
                if cell.app in svc.apps:
                    svc.apps.get(cell.app).operation(cell.operation)
                else:  # a planned app: the operation it will offer
                    assert PLANNED[cell.app].has_operation(cell.operation), (
                        t.key,
                        cell.app,
                        cell.operation,
                    )
        if t.available(svc.apps):
            svc.validate(doc)
    assert all(t.available(svc.apps) for t in templates), "every template's apps are built"
    assert not set(PLANNED) & set(svc.apps.keys()), "a built app must leave connectors/planned.py"
    from connectors.registry import BUILTIN_APPS, Registry

    lead = next(t for t in templates if t.key == "lead_generation")
    assert lead.missing_apps(Registry(BUILTIN_APPS)) == [
        "hubspot",
        "mailchimp",
    ]  # shown as coming soon without them
    assert all(
        importlib.util.find_spec(f"connectors.{a}") is not None for t in templates for a in t.apps
    )


def test_gallery_uses_template_with_connections(svc: Any, user: Any) -> None:
    from workspace.views.templates import Gallery, GalleryState

    state = GalleryState(svc, user)
    entries = {e["key"]: e for e in state.entries()}
    assert entries["order_routing"]["available"] and entries["order_routing"]["connections"] == []
    scenario = state.use("order_routing", {}, name="My orders")
    assert scenario.status == "draft" and scenario.name == "My orders"
    import json

    text = json.dumps(scenario.document)
    assert f"{svc.settings.resolved_public_url()}/demo/echo" in text and "__SERVER__" not in text
    with pytest.raises(CellwrightError, match="connection"):
        state.use("form_to_wordpress_draft", {})
    gallery = Gallery(svc, user, nav=lambda *a, **k: None, selected="form_to_wordpress_draft")
    assert gallery.state.selected == "form_to_wordpress_draft"
    assert entries["lead_generation"]["available"] and entries["lead_generation"][
        "connections"
    ] == ["hubspot", "mailchimp"]
    assert all(
        e["available"] and not e["missing"] for e in entries.values()
    )  # all eight apps are built


def test_settings_api_keys_users_password(svc: Any, user: Any) -> None:
    from workspace.auth import hash_password, verify_password
    from workspace.views.settings import SettingsPage, SettingsState

    state = SettingsState(svc, user)
    key = state.create_key("ci")
    assert key.startswith("cw_") and svc.store.user_for_api_key(key).id == user.id
    assert key not in str(state.keys)  # only the prefix is kept
    state.revoke_key(state.keys[0]["id"])
    assert svc.store.user_for_api_key(key) is None
    with pytest.raises(CellwrightError):
        state.revoke_key(state.keys[0]["id"])
    with pytest.raises(CellwrightError, match="administrators"):
        state.add_user("bob@example.com", "Bob", "long-enough-pw", False)
    admin = svc.store.create_user(
        "root@example.com", password_hash=hash_password("old-password-1"), is_admin=True
    )
    admin_state = SettingsState(svc, admin)
    with pytest.raises(CellwrightError, match="at least"):
        admin_state.add_user("bob@example.com", "Bob", "short", False)
    bob = admin_state.add_user("bob@example.com", "Bob", "long-enough-pw", False)
    assert verify_password(svc.store.get_user(bob.id).password_hash, "long-enough-pw")
    with pytest.raises(CellwrightError, match="current password"):
        admin_state.change_password("nope", "new-password-1", "new-password-1")
    with pytest.raises(CellwrightError, match="differ"):
        admin_state.change_password("old-password-1", "new-password-1", "new-password-2")
    admin_state.change_password("old-password-1", "new-password-1", "new-password-1")
    assert verify_password(svc.store.get_user(admin.id).password_hash, "new-password-1")
    page = SettingsPage(svc, admin, nav=lambda *a, **k: None)
    assert page.keys_box.objects


async def test_analytics_dashboard(make_settings: Any, registry: Any) -> None:
    from engine.service import Cellwright
    from workspace.views.analytics import AnalyticsState, Dashboard

    svc = Cellwright(make_settings(analytics=True), apps=registry)
    await svc.start(scheduler=False)
    try:
        user = svc.store.create_user("ana@example.com")
        scenario = svc.import_scenario(user.id, documents.parse(SIMPLE))
        await svc.run_now(
            user.id,
            scenario.id,
            {"body": {"name": "x"}, "method": "POST", "headers": {}, "query": {}},
        )
        await svc.run_now(
            user.id, scenario.id, {"body": {}, "method": "POST", "headers": {}, "query": {}}
        )
        state = AnalyticsState(svc, user)
        frames = state.load()
        assert frames["summary"]["runs"] == 2 and frames["summary"]["failed"] == 1
        assert not frames["errors"].empty
        dash = Dashboard(svc, user)
        assert "<strong>2</strong> runs" in dash.summary.object
        assert (
            dash.built == {"runs"} and dash.panes["runs"].objects and not dash.panes["apps"].objects
        )  # only the open tab is built
        dash.tabs.active = 4  # top errors: built when opened
        assert (
            dash.built == {"runs", "errors"}
            and "Most frequent errors" in dash.panes["errors"][1].object
        )
        dash._render(
            state.load()
        )  # new data (another time range): stale charts are rebuilt when shown
        assert dash.built == {"errors"}
        state.time_range = "Last 24 hours"
        assert (await state.aload())["summary"]["runs"] == 2
    finally:
        await svc.stop()
        svc.close()


async def test_alert_rules_are_kept_per_user_and_list_matching_failures(
    svc: Any, user: Any
) -> None:
    from workspace.views.alerts import AlertRules
    from workspace.views.settings import SettingsPage

    scenario = svc.import_scenario(user.id, documents.parse(SIMPLE))
    rules = AlertRules(svc, user)
    with pytest.raises(CellwrightError, match="https://"):
        rules.add(None, webhook_url="ftp://x")
    with pytest.raises(CellwrightError, match="Choose where"):
        rules.add(None, notify_workspace=False)
    with pytest.raises(CellwrightError):
        rules.add("not-a-scenario")
    rule = rules.add(scenario.id, webhook_url="https://hooks.example.com/t")
    assert AlertRules(svc, user).rules == [rule]  # stored (in the store, per user)
    other = svc.store.create_user("bob@example.com")
    assert AlertRules(svc, other).rules == []

    failed = await svc.run_now(
        user.id, scenario.id, {"body": {}, "method": "POST", "headers": {}, "query": {}}
    )
    assert failed["status"] == "failed"
    assert [e["id"] for e in rules.notifications()] == [failed["id"]]

    page = SettingsPage(svc, user, nav=lambda *a, **k: None)
    assert "Recent alerts" in page.alert_feed.object and scenario.name in page.alert_feed.object
    assert "hooks.example.com" in page.alerts_box[0][0].object
    rules.delete(rule["id"])
    assert AlertRules(svc, user).rules == [] and rules.notifications() == []


async def test_notify_on_error_failures_are_listed_without_a_rule(svc: Any, user: Any) -> None:
    from workspace.views.alerts import AlertRules

    doc = documents.parse(SIMPLE)
    doc.settings.notify_on_error = True
    scenario = svc.import_scenario(user.id, doc)
    rules = AlertRules(svc, user)
    assert rules.rules == [] and rules.notifications() == []
    failed = await svc.run_now(
        user.id, scenario.id, {"body": {}, "method": "POST", "headers": {}, "query": {}}
    )
    assert failed["status"] == "failed"
    await svc.runner.alerts.drain()
    assert [e["id"] for e in rules.notifications()] == [failed["id"]]


async def test_scenario_table_buttons_reach_their_scenario(
    svc: Any, user: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The list is one browser component: its buttons send {action, id}, and each action
    does what the row's button says, for that row only."""
    from workspace.views.scenarios import ScenarioList

    scenario = svc.import_scenario(
        user.id, documents.parse({**SIMPLE, "name": "Refunds <to> Slack"})
    )
    went: list[tuple[Any, ...]] = []
    view = ScenarioList(svc, user, nav=lambda *a: went.append(a))
    row = view.table.rows[0]
    assert (
        row["name"] == "Refunds <to> Slack" and row["toggle"] == "Enable"
    )  # the name is set as text in the browser
    assert "&lt;" not in row["name"] and "<to>" not in str(row["cells"])

    view.table._handle_msg({"action": "open", "id": scenario.id})
    assert went == [("scenario", scenario.id)]
    view.table._handle_msg({"action": "open", "id": "someone-elses"})  # not a row it shows: ignored
    view.table._handle_msg({"action": "format-disk", "id": scenario.id})
    view.table._handle_msg("open")
    assert went == [("scenario", scenario.id)]

    sent: list[Any] = []
    monkeypatch.setattr(view.table, "_send_msg", sent.append)
    view.table._handle_msg({"action": "export", "id": scenario.id})
    assert sent == [
        {
            "download": {
                "filename": "refunds-to-slack.yaml",
                "text": svc.export_scenario(user.id, scenario.id),
            }
        }
    ]

    view.table._handle_msg({"action": "delete", "id": scenario.id})  # asks first
    assert "This cannot be undone" in view.banner.message and svc.store.list_scenarios(user.id)

    view.table._handle_msg({"action": "toggle", "id": scenario.id})  # runs on the page's event loop
    await wait_for(lambda: svc.scenario(user.id, scenario.id).status == "active")
    await wait_for(lambda: view.table.rows[0]["toggle"] == "Disable")
    view.table._handle_msg({"action": "duplicate", "id": scenario.id})
    await wait_for(lambda: len(view.table.rows) == 2)
    assert view.banner.message == "Duplicated."


async def test_an_execution_page_lists_a_loops_items_and_shows_the_failed_ones(
    svc: Any, user: Any
) -> None:
    from workspace.views.executions import ExecutionPage

    doc = {
        "name": "Loop",
        "cells": [
            {"id": "start", "kind": "trigger", "app": "manual", "operation": "run_manually"},
            {
                "id": "each",
                "kind": "loop",
                "items": "{{ trigger.names }}",
                "cells": [
                    {
                        "id": "shout",
                        "kind": "transformer",
                        "app": "formatter",
                        "operation": "text",
                        "inputs": {"value": "{{ item.name }}", "transform": "upper"},
                    }
                ],
            },
        ],
    }
    scenario = svc.import_scenario(user.id, documents.parse(doc))
    ok = await svc.run_now(user.id, scenario.id, {"names": [{"name": "ada"}, {"name": "eve"}]})
    page = ExecutionPage(svc, user, ok["id"], nav=lambda *a, **k: None)
    assert "each — items: 2 of 2 completed" in items_label(page)
    # item 2 of 2, recorded (and named in errors) by its index from 0
    assert '2/2 <span class="cw-muted">(index 1)</span></td><td>completed</td>' in items_html(page)
    failed = await svc.run_now(user.id, scenario.id, {"names": [{"name": "ada"}, {"nom": "x"}]})
    assert failed["status"] == "failed"
    page = ExecutionPage(svc, user, failed["id"], nav=lambda *a, **k: None)
    assert "item 1" in page.banner.message
    assert "each — items: 1 of 2 completed" in items_label(page)
    assert '2/2 <span class="cw-muted">(index 1)</span></td><td>failed</td>' in items_html(page)
    assert "shout, item 2/2" in items_html(page)  # the failed item's cell run, in full
    sections = [o for o in page.cells if "execution-cell" in (o.css_classes or [])]
    assert len(sections) == 2  # the trigger's and the loop's: item runs are in the items list


def _items(page: Any) -> Any:
    [items] = [o for o in page.cells if "items-each" in (o.css_classes or [])]
    return items


def items_label(page: Any) -> str:
    from workspace.views.components import Disclosure

    return " ".join(d.label for d in _items(page).select(Disclosure))


def items_html(page: Any) -> str:
    return " ".join(
        str(getattr(o, "object", "")) + str(getattr(o, "name", ""))
        for o in _items(page).select(lambda o: hasattr(o, "object") or hasattr(o, "name"))
    )


async def test_a_scenario_paused_after_failures_shows_why_until_enabled(
    svc: Any, user: Any, probe: Any
) -> None:
    from html import escape

    from connectors.sdk import UpstreamError
    from workspace.views.notebook import Notebook
    from workspace.views.scenarios import ScenarioList, ScenarioListState

    text = (
        "name: Fragile\nsettings: {pause_after_failures: 1}\ncells:\n"
        "  - {id: start, kind: trigger, app: manual, operation: run_manually}\n"
        "  - {id: boom, kind: action, app: probe, operation: count}\n"
    )
    scenario = await svc.enable(user.id, svc.import_scenario(user.id, documents.loads(text)).id)
    probe.fail("boom", UpstreamError("the vendor said no", status=400))
    await svc.trigger(scenario, {}, wait=10)
    await svc.runner.alerts.drain()
    reason = svc.scenario(user.id, scenario.id).status_reason
    assert reason and "the vendor said no" in reason

    view = ScenarioList(svc, user, nav=lambda *a, **k: None)
    [row] = view.table.rows
    assert f'<div class="cw-status-reason">{escape(reason)}</div>' in row["tags_html"]
    assert 'cw-badge error">error' in row["cells"][0][1] and row["toggle"] == "Enable"
    nb = Notebook(svc, user, scenario.id, nav=lambda *a, **k: None)
    assert escape(reason) in nb.info.object and nb.enable_button.name == "Enable"

    state = ScenarioListState(svc, user)
    await state.toggle(scenario.id)  # enabling again clears the status and the reason
    assert (state.rows[0]["status"], state.rows[0]["status_reason"]) == ("active", None)
    nb.state.load()
    assert "cw-status-reason" not in nb.info.object


async def test_an_execution_page_says_what_a_waiting_run_waits_for(svc: Any, user: Any) -> None:
    from workspace.views.executions import ExecutionPage

    manual = "  - {id: go, kind: trigger, app: manual, operation: run_manually}\n"
    timed = svc.import_scenario(
        user.id,
        documents.loads(
            f"name: Later\ncells:\n{manual}  - {{id: pause, kind: action, app: delay,"
            " operation: delay_for, inputs: {amount: 1, unit: hours}}\n"
        ),
    )
    asked = svc.import_scenario(
        user.id,
        documents.loads(
            f"name: Ask\ncells:\n{manual}  - {{id: approve, kind: action, app: delay,"
            " operation: wait_for_call}\n"
        ),
    )
    later, _ = await svc.trigger(timed, {})
    ask, _ = await svc.trigger(asked, {})
    for execution in (later, ask):
        await wait_for(lambda e=execution: svc.execution(user.id, e.id)["status"] == "waiting")
    page = ExecutionPage(svc, user, later.id, nav=lambda *a, **k: None)
    assert "pause" in page.head.object and "resumes at" in page.head.object
    asking = ExecutionPage(svc, user, ask.id, nav=lambda *a, **k: None)
    url = svc.execution(user.id, ask.id)["resume_url"]
    assert "approve" in asking.head.object and "for a call at" in asking.head.object
    assert "times out at" in asking.head.object
    assert url in asking.head.object
    for view in (page, asking):
        view.dispose()


async def test_an_execution_page_says_which_cells_an_error_route_ran(svc: Any, user: Any) -> None:
    from workspace.views.components import Disclosure
    from workspace.views.executions import ExecutionPage

    doc = {
        "name": "Routed",
        "cells": [
            {"id": "start", "kind": "trigger", "app": "manual", "operation": "run_manually"},
            {
                "id": "parse",
                "kind": "transformer",
                "app": "formatter",
                "operation": "numbers",
                "inputs": {"value": "not a number", "operation": "parse"},
                "on_error": {
                    "cells": [
                        {
                            "id": "why",
                            "kind": "transformer",
                            "app": "formatter",
                            "operation": "set_fields",
                            "inputs": {"fields": {"why": "{{ error.code }}"}},
                        }
                    ],
                    "then": "continue",
                    "fallback": {"result": 0},
                },
            },
        ],
    }
    scenario = svc.import_scenario(user.id, documents.parse(doc))
    ran = await svc.run_now(user.id, scenario.id, {})
    assert ran["status"] == "completed"
    page = ExecutionPage(svc, user, ran["id"], nav=lambda *a, **k: None)
    sections = {
        " ".join(d.label for d in o.select(Disclosure)): o
        for o in page.cells
        if "execution-cell" in (o.css_classes or [])
    }
    assert any(t.startswith("why — completed") and "error route of parse" in t for t in sections)
    [failed] = [o for t, o in sections.items() if t.startswith("parse — failed")]
    notes = " ".join(str(getattr(o, "object", "")) for o in failed.select(lambda o: True))
    assert "Its error route ran (why); then the run continued with the fallback output." in notes
