"""One suite over the whole registry (STYLE.md item 9): every app inherits it."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from cells.models import ActionCell
from cells.run import run_operation_cell
from connectors.registry import APPS, Registry, default_registry
from connectors.sdk import Action, App, InstantTrigger, PollingTrigger, ScheduleTrigger
from connectors.sdk.conformance import app_problems, operation_problems, option_problems
from connectors.sdk.options import fetch_options, field_sources, source_for
from connectors.sdk.sandboxing import sandbox_context

OPERATIONS = [(app, op) for app in APPS for op in (*app.triggers, *app.actions)]
IDS = [f"{app.key}.{op.key}" for app, op in OPERATIONS]


@pytest.mark.parametrize("app", APPS, ids=[a.key for a in APPS])
def test_app_conforms(app: App) -> None:
    """Keys, names, descriptions, samples, schemas and hosts (the checks an app loaded
    from configuration must pass too: connectors/sdk/conformance.py)."""
    assert app_problems(app) == []
    assert app.describe()["key"] == app.key


def test_every_shipped_app_and_planned_app_has_its_own_logo() -> None:
    """The directory, cells, templates and flow diagram show each app's real logo (an SVG
    shipped in connectors/icons), never the neutral plug an installed app may fall back to."""
    from connectors.icons import GENERIC, icon_svg
    from connectors.planned import PLANNED

    for app in APPS:
        assert app.icon != GENERIC, f"{app.key} declares no icon of its own"
        svg = icon_svg(app.icon)
        assert svg is not None and svg.startswith("<svg") and "viewBox" in svg, app.key
    for key in PLANNED:  # templates show the logos of apps still to come
        assert icon_svg(key) is not None, key


def test_an_icon_that_cannot_be_shown_is_a_conformance_problem() -> None:
    """A misspelt icon name, a path or a broken SVG document is refused with a sentence
    naming what an icon may be; an app's own SVG document is accepted."""
    base = {
        "key": "acme",
        "name": "Acme",
        "description": "An app.",
        "category": "Testing",
        "actions": (APPS[4].actions[0],),
    }
    for bad in ("slak", "../../etc/passwd", "<svg><path d='M0 0'/>"):
        problems = app_problems(App(**base, icon=bad))
        assert (
            len(problems) == 1
            and "neither a shipped icon" in problems[0]
            and "slack" in problems[0]
        ), bad
    own = (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1"><rect width="1" '
        'height="1"/></svg>'
    )
    assert (
        app_problems(App(**base, icon=own)) == [] and app_problems(App(**base)) == []
    )  # the default: the plug
    assert App(**base, icon=own).describe(full=False)["icon"] == "inline"


@pytest.mark.parametrize(("app", "op"), OPERATIONS, ids=IDS)
def test_operation_conforms(app: App, op: Any) -> None:
    assert operation_problems(op) == []


def test_the_checks_find_problems() -> None:
    """The conformance checks are not vacuous: a sloppy app fails each of them."""

    class Loose(BaseModel):
        thing: str

    sloppy = Action(
        key="Bad-Key",
        name="",
        description="short",
        input=Loose,
        output=Loose,
        sample={"other": 1},
        perform=lambda ctx, inputs: {},
    )
    problems = operation_problems(sloppy)
    assert any("snake_case" in p for p in problems) and any("no name" in p for p in problems)
    assert any("describe it" in p for p in problems) and any(
        "input fields without a description: thing" in p for p in problems
    )
    assert any("output fields" in p for p in problems) and any(
        "does not fit" in p for p in problems
    )
    app = App(
        key="shop",
        name="Shop",
        description="A shop.",
        category="Commerce",
        base_url="https://api.shop.example",
        allowed_hosts=("other.example",),
        actions=(APPS[4].actions[0], APPS[4].actions[0]),
    )
    problems = app_problems(app)
    assert any("two operations use the key" in p for p in problems) and any(
        "do not cover" in p for p in problems
    )


def test_each_check_says_what_is_wrong() -> None:
    """The remaining checks, one sentence each: blank identity, nothing offered, hosts, a
    missing sample, schemas that do not generate or are not objects."""
    from pydantic import ConfigDict, Field, RootModel

    blank = App(
        key="blank", name=" ", description="", category="", base_url="https://api.blank.example"
    )
    assert app_problems(blank) == [
        "it has no name",
        "it has no description",
        "it has no category",
        "it offers no trigger and no action",
        "it has a base_url but declares no allowed_hosts",
    ]

    class Opaque:
        pass

    class Unschemable(BaseModel):
        model_config = ConfigDict(arbitrary_types_allowed=True)
        thing: Opaque = Field(description="Has no JSON Schema.")

    class Listed(RootModel[list[int]]):
        pass

    odd = Action(
        key="odd",
        name="Odd",
        description="An action with odd models.",
        input=Unschemable,
        output=Listed,
        sample={},
        perform=lambda ctx, inputs: {},
    )
    problems = operation_problems(odd)
    assert "it has no sample output (every operation ships one)" in problems
    assert any(p.startswith("its input model has no JSON Schema: ") for p in problems)
    assert "its output model's JSON Schema is not an object" in problems


def test_registry_refuses_duplicate_apps() -> None:
    with pytest.raises(ValueError, match="Two apps"):
        Registry([APPS[0], APPS[0]])


def test_lookup_errors_list_what_exists() -> None:
    registry = default_registry()
    with pytest.raises(Exception, match="Known apps"):
        registry.get("nope")
    with pytest.raises(Exception, match="has no operation"):
        registry.get("webhook").operation("nope")


@pytest.mark.parametrize("app", [a for a in APPS if not a.builtin], ids=lambda a: a.key)
def test_vendor_app_offers_enough(app: App) -> None:
    assert len(app.triggers) >= 3, "every vendor app offers at least 3 triggers"
    assert len(app.actions) >= 5, "every vendor app offers at least 5 actions"
    assert app.sandbox, "every vendor app ships a simulator"
    assert app.auth.test is not None, "every vendor app declares a cheap validation call"


SANDBOXED = [(app, op) for app in APPS if app.sandbox for op in app.actions]


@pytest.mark.parametrize(("app", "op"), SANDBOXED, ids=[f"{a.key}.{o.key}" for a, o in SANDBOXED])
async def test_action_runs_against_its_sandbox(app: App, op: Action) -> None:
    assert op.example is not None, (
        f"{app.key}.{op.key} needs an `example` input that works against the sandbox"
    )
    ctx = sandbox_context(app, app.sandbox_credentials)
    cell = ActionCell(
        kind="action",
        id="probe",
        app=app.key,
        operation=op.key,
        connection="sandbox",
        inputs=dict(op.example),
    )

    async def make(cell: Any, app: App, *, idempotency_key: str) -> Any:
        ctx.idempotency_key = idempotency_key
        return ctx

    result = await run_operation_cell(
        cell,
        {"trigger": {}, "steps": {}},
        apps=default_registry(),
        make_context=make,
        idempotency_key="conformance-1",
    )
    assert result.status == "completed", result.error


POLLING = [
    (app, op)
    for app in APPS
    if app.sandbox
    for op in app.triggers
    if isinstance(op, PollingTrigger)
]


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
            assert (
                isinstance(op, InstantTrigger | PollingTrigger | ScheduleTrigger)
                or op.trigger_type == "manual"
            )


OPTION_FIELDS = [
    (app, op, path)
    for app in APPS
    if app.sandbox
    for op in (*app.triggers, *app.actions)
    for path in field_sources(op.input_schema())
]


def _with_value(data: Any, path: str, value: Any) -> Any:
    """``data`` with the field at a dotted ``path`` set (through the first item of lists)."""
    head, _, rest = path.partition(".")
    if isinstance(data, list):
        return [_with_value(data[0], path, value), *data[1:]]
    copy = dict(data)
    copy[head] = _with_value(copy.get(head, {}), rest, value) if rest else value
    return copy


@pytest.mark.parametrize(
    ("app", "op", "path"), OPTION_FIELDS, ids=[f"{a.key}.{o.key}.{p}" for a, o, p in OPTION_FIELDS]
)
async def test_option_source_answers_from_its_sandbox(app: App, op: Any, path: str) -> None:
    """Every field with an option source gets real choices from the sandbox, and the
    operation accepts the first one in that field."""
    source = source_for(app, op, path)
    example = dict(op.example or {})
    options = await fetch_options(
        source, sandbox_context(app, app.sandbox_credentials), {**source.example, **example}
    )
    assert options, f"{app.key}.{source.key} offered nothing in the sandbox"
    assert all(isinstance(o.value, str | int) and str(o.value) and o.label.strip() for o in options)
    assert len({o.value for o in options}) == len(options), "options have unique values"
    op.input.model_validate(_with_value(example, path, options[0].value))


def test_option_checks_find_problems() -> None:
    """A field naming an undeclared source, a source nobody uses, and a source needing a
    field the operation lacks are each reported."""
    from pydantic import Field

    from connectors.sdk import Option, OptionSource, dynamic

    class Pick(BaseModel):
        board: str = Field(description="A board.", json_schema_extra=dynamic("boards"))
        group: str = Field(description="A group.", json_schema_extra=dynamic("groups"))

    async def nothing(ctx: Any, values: Any) -> list[Option]:
        return []

    op = Action(
        key="pick",
        name="Pick",
        description="Picks a board and a group.",
        input=Pick,
        sample={"x": 1},
        perform=lambda ctx, inputs: {},
    )
    app = App(
        key="picky",
        name="Picky",
        description="An app.",
        category="Test",
        actions=(op,),
        options=(
            OptionSource(key="groups", name="groups", fetch=nothing, needs=("board_id",)),
            OptionSource(key="spare", name="spare things", fetch=nothing),
        ),
    )
    assert option_problems(app) == [
        "picky.pick: the field 'board' names the option source 'boards', "
        "which the app does not declare",
        "picky.pick: the option source 'groups' of 'group' needs 'board_id', "
        "which is not a field of the operation",
        "the option source 'groups' has no example value for board_id "
        "(the conformance suite runs it against the sandbox)",
        "the option source 'spare' is used by no field",
    ]
