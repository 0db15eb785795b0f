"""One suite over the whole registry (STYLE.md item 9): every app inherits it."""

from __future__ import annotations

import fnmatch
import re
from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from cells.models import ActionCell
from cells.run import run_operation_cell
from connectors.registry import APPS, Registry, default_registry
from connectors.sdk import Action, App, InstantTrigger, PollingTrigger, ScheduleTrigger
from connectors.sdk.sandboxing import sandbox_context

SNAKE = re.compile(r"^[a-z][a-z0-9_]*$")
OPERATIONS = [(app, op) for app in APPS for op in (*app.triggers, *app.actions)]
IDS = [f"{app.key}.{op.key}" for app, op in OPERATIONS]


def undescribed(model: type[BaseModel]) -> list[str]:
    """Top-level fields without a description (nested models are checked on their own)."""
    missing = []
    for name, info in model.model_fields.items():
        if not (info.description and info.description.strip()):
            missing.append(name)
    return missing


def test_registry_keys_are_unique_snake_case() -> None:
    keys = [app.key for app in APPS]
    assert len(keys) == len(set(keys))
    for app in APPS:
        assert SNAKE.match(app.key), app.key
        op_keys = [op.key for op in (*app.triggers, *app.actions)]
        assert len(op_keys) == len(set(op_keys)), f"{app.key} has duplicate operation keys"
        for key in op_keys:
            assert SNAKE.match(key), f"{app.key}.{key}"


def test_registry_refuses_duplicate_apps() -> None:
    with pytest.raises(ValueError, match="Two apps"):
        Registry([APPS[0], APPS[0]])


def test_lookup_errors_list_what_exists() -> None:
    registry = default_registry()
    with pytest.raises(Exception, match="Known apps"):
        registry.get("nope")
    with pytest.raises(Exception, match="has no operation"):
        registry.get("webhook").operation("nope")


@pytest.mark.parametrize(("app", "op"), OPERATIONS, ids=IDS)
def test_operation_is_described_and_has_a_valid_sample(app: App, op: Any) -> None:
    assert op.name and op.description and len(op.description) > 15, "describe the operation for the UI and the assistant"
    assert not undescribed(op.input), f"input fields without a description: {undescribed(op.input)}"
    if op.output.model_config.get("extra") != "allow" or op.output.model_fields:
        assert not undescribed(op.output), f"output fields without a description: {undescribed(op.output)}"
    assert op.sample, "every operation ships a sample"
    op.output.model_validate(dict(op.sample))
    assert op.input_schema()["type"] == "object"
    assert op.output_schema()["type"] == "object"


@pytest.mark.parametrize("app", APPS, ids=[a.key for a in APPS])
def test_app_metadata(app: App) -> None:
    assert app.name and app.description and app.category
    described = app.describe()
    assert described["key"] == app.key
    assert app.triggers or app.actions
    if not app.builtin:
        assert len(app.triggers) >= 3, "every vendor app offers at least 3 triggers"
        assert len(app.actions) >= 5, "every vendor app offers at least 5 actions"
        assert app.sandbox, "every vendor app ships a simulator"
        assert app.auth.test is not None, "every vendor app declares a cheap validation call"


@pytest.mark.parametrize("app", [a for a in APPS if isinstance(a.base_url, str)], ids=lambda a: a.key)
def test_declared_hosts_cover_the_base_url(app: App) -> None:
    assert isinstance(app.base_url, str)
    host = httpx.URL(app.base_url).host
    assert app.allowed_hosts, f"{app.key} must declare the hosts it calls"
    assert any(fnmatch.fnmatch(host, pattern) for pattern in app.allowed_hosts), (host, app.allowed_hosts)


SANDBOXED = [(app, op) for app in APPS if app.sandbox for op in app.actions]


@pytest.mark.parametrize(("app", "op"), SANDBOXED, ids=[f"{a.key}.{o.key}" for a, o in SANDBOXED])
async def test_action_runs_against_its_sandbox(app: App, op: Action) -> None:
    assert op.example is not None, f"{app.key}.{op.key} needs an `example` input that works against the sandbox"
    ctx = sandbox_context(app, app.sandbox_credentials)
    cell = ActionCell(kind="action", id="probe", app=app.key, operation=op.key, connection="sandbox", inputs=dict(op.example))

    async def make(cell: Any, app: App, *, idempotency_key: str) -> Any:
        ctx.idempotency_key = idempotency_key
        return ctx

    result = await run_operation_cell(cell, {"trigger": {}, "steps": {}}, apps=default_registry(), make_context=make, idempotency_key="conformance-1")
    assert result.status == "completed", result.error


POLLING = [(app, op) for app in APPS if app.sandbox for op in app.triggers if isinstance(op, PollingTrigger)]


@pytest.mark.parametrize(("app", "op"), POLLING, ids=[f"{a.key}.{o.key}" for a, o in POLLING])
async def test_polling_trigger_fetches_from_its_sandbox(app: App, op: PollingTrigger) -> None:
    ctx = sandbox_context(app, app.sandbox_credentials)
    inputs = op.input.model_validate(dict(op.example or {}))
    items = await op.fetch(ctx, inputs, None)
    assert isinstance(items, list)
    for item in items:
        op.item_key(item)  # every item has its dedupe key
        op.output.model_validate(dict(item))


def test_trigger_kinds_are_known() -> None:
    for app in APPS:
        for op in app.triggers:
            assert isinstance(op, InstantTrigger | PollingTrigger | ScheduleTrigger) or op.trigger_type == "manual"
