"""The ``Cellwright`` facade: connections, scenarios, enabling, "run cell", housekeeping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cells import document as documents
from connectors.sdk import ConfigurationError, InvalidInputError
from engine.service import Cellwright, Conflict, NotFound, open_app
from engine.settings import Settings

HOOKED = """\
name: Subscribed
cells:
  - {id: hook, kind: trigger, app: probe, operation: hook}
  - {id: a, kind: action, app: probe, operation: count, inputs: {value: "{{ trigger.n }}"}}
"""


def keyed_scenario(connection_id: str) -> Any:
    return documents.loads(
        "name: Uses a connection\ncells:\n"
        "  - {id: s, kind: trigger, app: manual, operation: run_manually}\n"
        "  - {id: who, kind: action, app: keyed, "
        f"operation: whoami, connection: {connection_id}}}\n"
    )


async def test_a_sandbox_connection_is_tested_and_named(svc: Cellwright, user: Any) -> None:
    connection = await svc.create_connection(
        user.id, "keyed", credentials={"api_key": "good-secret-1"}, sandbox=True
    )
    assert connection.status == "active" and connection.is_sandbox
    assert connection.name == "Keyed: sandbox-user"
    assert connection.metadata == {"plan": "free"}
    assert svc.store.connection_credentials(connection.id) == {"api_key": "good-secret-1"}
    assert "good-secret-1" not in repr(connection.to_dict())
    named = await svc.create_connection(
        user.id, "keyed", credentials={"api_key": "good-secret-2"}, name="Mine", sandbox=True
    )
    assert named.name == "Mine"


async def test_refused_credentials_leave_the_connection_in_error(
    svc: Cellwright, user: Any
) -> None:
    connection = await svc.create_connection(
        user.id, "keyed", credentials={"api_key": "wrong-key"}, sandbox=True
    )
    assert connection.status == "error"
    assert "HTTP 401" in connection.status_message and "wrong-key" not in connection.status_message
    fixed = await svc.update_connection(user.id, connection.id, credentials={"api_key": "good-now"})
    assert fixed.status == "active" and fixed.status_message is None
    renamed = await svc.update_connection(user.id, connection.id, name="Renamed")
    assert renamed.name == "Renamed" and renamed.status == "active"


async def test_an_unreachable_vendor_is_reported_on_the_connection(
    svc: Cellwright, user: Any
) -> None:
    connection = await svc.create_connection(user.id, "keyed", credentials={"api_key": "good-real"})
    assert connection.status == "error" and connection.status_message


async def test_connection_input_is_checked(svc: Cellwright, user: Any) -> None:
    with pytest.raises(ConfigurationError, match="No sandbox has no sandbox"):
        await svc.create_connection(
            user.id, "nosandbox", credentials={"api_key": "k"}, sandbox=True
        )
    with pytest.raises(InvalidInputError) as info:
        await svc.create_connection(user.id, "keyed", credentials={"token": "k"})
    assert {e["field"] for e in info.value.errors} == {"api_key", "token"}
    with pytest.raises(ConfigurationError, match="no app 'nope'"):
        await svc.create_connection(user.id, "nope", credentials={})
    plain = await svc.create_connection(user.id, "nosandbox", credentials={"api_key": "k1234"})
    assert plain.status == "active"  # no test call to run
    assert (await svc.test_connection(user.id, plain.id)).status == "active"
    with pytest.raises(NotFound):
        await svc.test_connection(user.id, "0" * 32)
    with pytest.raises(NotFound):
        await svc.update_connection(user.id, "0" * 32, name="x")


async def test_a_connection_used_by_an_enabled_scenario_cannot_be_deleted(
    svc: Cellwright, user: Any
) -> None:
    connection = await svc.create_connection(
        user.id, "keyed", credentials={"api_key": "good-1"}, sandbox=True
    )
    scenario = svc.import_scenario(user.id, keyed_scenario(connection.id))
    await svc.enable(user.id, scenario.id)
    with pytest.raises(Conflict, match="'Uses a connection'"):
        svc.delete_connection(user.id, connection.id)
    await svc.disable(user.id, scenario.id)
    svc.delete_connection(user.id, connection.id)
    assert svc.store.get_connection(user.id, connection.id) is None
    with pytest.raises(NotFound):
        svc.delete_connection(user.id, connection.id)


async def test_enabling_subscribes_once_and_disabling_unsubscribes(
    svc: Cellwright, user: Any, probe: Any
) -> None:
    scenario = svc.import_scenario(user.id, documents.loads(HOOKED))
    assert scenario.status == "draft" and scenario.webhook_token
    enabled = await svc.enable(user.id, scenario.id)
    assert enabled.status == "active"
    assert probe.subscribed == [svc.webhook_url(scenario)]
    [subscription] = svc.store.webhook_subscriptions(scenario.id)
    assert (
        subscription.external_id == "sub-1"
        and subscription.state["secret"] == "probe-signing-secret"
    )
    await svc.enable(user.id, scenario.id)
    assert len(probe.subscribed) == 1
    paused = await svc.disable(user.id, scenario.id)
    assert paused.status == "paused"
    assert probe.unsubscribed == [{"id": "sub-1", "secret": "probe-signing-secret"}]
    assert svc.store.webhook_subscriptions(scenario.id) == []
    audit = [entry.action for entry in reversed(svc.store.audit_entries(user.id))]
    assert audit == [
        "scenario.create",
        "scenario.publish",
        "scenario.enable",
        "scenario.enable",
        "scenario.disable",
    ]  # enabling publishes what was never live


def test_webhook_urls_use_the_public_url(make_settings: Any, registry: Any) -> None:
    app = Cellwright(make_settings(public_url="https://hooks.example.com/"), apps=registry)
    try:
        user = app.local_user()
        scenario = app.import_scenario(user.id, documents.loads(HOOKED))
        assert (
            app.webhook_url(scenario) == f"https://hooks.example.com/hooks/{scenario.webhook_token}"
        )
    finally:
        app.close()


def test_import_checks_apps_operations_and_trigger_inputs(svc: Cellwright, user: Any) -> None:
    base = "name: x\ncells:\n  - {id: t, kind: trigger, app: webhook, operation: catch_hook%s}\n%s"
    with pytest.raises(ConfigurationError, match="no app 'nope'"):
        svc.import_scenario(
            user.id,
            documents.loads(base % ("", "  - {id: a, kind: action, app: nope, operation: x}\n")),
        )
    with pytest.raises(ConfigurationError, match="has no operation 'x'"):
        svc.import_scenario(
            user.id,
            documents.loads(base % ("", "  - {id: a, kind: action, app: probe, operation: x}\n")),
        )
    with pytest.raises(ConfigurationError, match="'webhook.respond' is an action, not a trigger"):
        svc.import_scenario(
            user.id, documents.loads(base.replace("catch_hook", "respond") % ("", ""))
        )
    with pytest.raises(
        InvalidInputError,
        match="Cell 't': invalid trigger inputs — verification: Input should be 'none'",
    ):
        svc.import_scenario(
            user.id, documents.loads(base % (", inputs: {verification: maybe}", ""))
        )
    with pytest.raises(NotFound):
        svc.import_scenario(user.id, documents.loads(base % ("", "")), scenario_id="0" * 32)
    assert svc.store.list_scenarios(user.id) == []


def test_import_export_import_export_through_the_store_is_byte_identical(
    svc: Cellwright, user: Any
) -> None:
    text = (
        Path(__file__).parents[2] / "workspace" / "demo_scenarios" / "order_router.yaml"
    ).read_text(encoding="utf-8")
    original = documents.loads(text)
    first = svc.import_scenario(user.id, original)
    exported = svc.export_scenario(user.id, first.id)
    assert documents.loads(exported) == original
    second = svc.import_scenario(user.id, documents.loads(exported))
    assert svc.export_scenario(user.id, second.id) == exported
    assert svc.document(user.id, second.id) == original
    nodes = {n.cell_id: n for n in svc.store.list_nodes(second.id)}
    assert nodes["notify"].parent_cell_id == "route" and nodes["notify"].branch == "big order"
    other = svc.store.create_user("eve@example.com")
    with pytest.raises(NotFound):
        svc.export_scenario(other.id, second.id)


async def test_run_cell_runs_one_step_with_the_given_context(
    svc: Cellwright, user: Any, probe: Any
) -> None:
    doc = documents.loads(
        "name: x\ncells:\n  - {id: t, kind: trigger, app: manual, operation: run_manually}\n"
        "  - {id: a, kind: action, app: probe, "
        "operation: count, inputs: {value: '{{ trigger.n }}'}}\n"
        "  - {id: b, kind: transformer, app: formatter, operation: set_fields, "
        "inputs: {fields: {double: '{{ steps.a.value * 2 }}'}}}\n"
        "  - {id: f, kind: condition, "
        "rules: {all: [{left: '{{ steps.b.double }}', op: gt, right: 5}]}}\n"
    )
    result = await svc.run_cell(
        user.id, doc, "b", {"trigger": {"n": 99}, "steps": {"a": {"value": 4}}}
    )
    assert result.ok and result.output == {"double": 8}
    assert probe.calls["a"] == 0
    condition = await svc.run_cell(user.id, doc, "f", {"steps": {"b": {"double": 8}}})
    assert condition.output["passed"] is True
    action = await svc.run_cell(user.id, doc, "a", {"trigger": {"n": 3}})
    assert action.output == {"value": 3, "calls": 1}
    assert probe.keys[0][1].startswith("cw-") and probe.keys[0][2] is None
    with pytest.raises(ConfigurationError, match="trigger cell is not run on its own"):
        await svc.run_cell(user.id, doc, "t", {})
    with pytest.raises(NotFound, match="no cell 'zzz'"):
        await svc.run_cell(user.id, doc, "zzz", {})


async def test_run_cell_uses_the_users_connection(svc: Cellwright, user: Any) -> None:
    connection = await svc.create_connection(
        user.id, "keyed", credentials={"api_key": "good-2"}, sandbox=True
    )
    result = await svc.run_cell(user.id, keyed_scenario(connection.id), "who", {})
    assert result.ok and result.output == {"user": "sandbox-user"}
    other = svc.store.create_user("eve@example.com")
    theirs = await svc.run_cell(other.id, keyed_scenario(connection.id), "who", {})
    assert (
        theirs.status == "failed"
        and theirs.error is not None
        and theirs.error["code"] == "configuration_error"
    )


async def test_queries_are_scoped_to_the_owner(svc: Cellwright, user: Any) -> None:
    scenario = svc.import_scenario(user.id, documents.loads(HOOKED))
    result = await svc.run_now(user.id, scenario.id, {"n": 1}, timeout=5)
    assert svc.execution(user.id, result["id"])["status"] == "completed"
    other = svc.store.create_user("eve@example.com")
    with pytest.raises(NotFound):
        svc.execution(other.id, result["id"])
    with pytest.raises(NotFound):
        svc.scenario(other.id, scenario.id)
    with pytest.raises(NotFound):
        await svc.enable(other.id, scenario.id)
    assert svc.list_executions(other.id) == []
    assert [e["id"] for e in svc.list_executions(user.id, status="completed")] == [result["id"]]


async def test_retention_deletes_old_finished_executions(svc: Cellwright, user: Any) -> None:
    scenario = svc.import_scenario(user.id, documents.loads(HOOKED))
    await svc.run_now(user.id, scenario.id, {"n": 1}, timeout=5)
    assert svc.retention_sweep() == 0
    svc.settings.retention_days = 1
    from sqlalchemy import update

    from storage.models import ExecutionRow

    with svc.store._write() as session:  # age the execution by two days
        session.execute(
            update(ExecutionRow).values(created_at=datetime.now(UTC) - timedelta(days=2))
        )
    assert svc.retention_sweep() == 1
    assert svc.list_executions(user.id) == []


def test_the_local_user_is_created_once(svc: Cellwright) -> None:
    first = svc.local_user()
    assert first.is_admin and first.email == "admin@localhost"
    assert svc.local_user().id == first.id


def test_open_app_is_the_notebook_entry_point(tmp_path: Path) -> None:
    app = open_app(tmp_path / "nb", analytics=False)
    try:
        assert app.settings.data_dir == tmp_path / "nb"
        assert (tmp_path / "nb" / "cellwright.db").exists()
        assert "formatter" in app.apps
    finally:
        app.close()


def test_settings_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CELLWRIGHT_DATA_DIR", str(tmp_path / "env"))
    monkeypatch.setenv("CELLWRIGHT_MAX_CONCURRENT_EXECUTIONS", "7")
    monkeypatch.setenv("CELLWRIGHT_HTTP_ALLOWED_ORIGINS", '["http://127.0.0.1:9000"]')
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.data_dir == tmp_path / "env"
    assert settings.max_concurrent_executions == 7
    assert settings.http_allowed_origins == ["http://127.0.0.1:9000"]
    assert settings.resolved_public_url() == "http://127.0.0.1:8000"
    assert settings.ensure_data_dir().is_dir()
