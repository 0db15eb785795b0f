"""The checks every app passes without a network: what the conformance suite asserts
over the shipped registry (tests/connectors/test_conformance.py), and what an app
loaded from configuration must pass before the server starts with it.

Behaviour against a sandbox (every action's ``example``, every polling trigger's
``fetch``) is left to the test suite: it needs the app's simulator.
"""

from __future__ import annotations

import fnmatch
from typing import Any

import httpx
from pydantic import BaseModel

from connectors.icons import icon_problem
from connectors.sdk.app import App
from connectors.sdk.operations import KEY_PATTERN, Operation
from connectors.sdk.options import field_sources

MIN_DESCRIPTION = 16
"""Operation descriptions become UI help and the assistant's tool descriptions."""


def undescribed(model: type[BaseModel]) -> list[str]:
    """Top-level fields without a description (nested models are checked on their own)."""
    return [
        name
        for name, info in model.model_fields.items()
        if not (info.description and info.description.strip())
    ]


def app_problems(app: App) -> list[str]:
    """What is wrong with ``app``, one sentence each; empty when it conforms."""
    problems: list[str] = []
    if not KEY_PATTERN.match(app.key):
        problems.append(
            f"its key '{app.key}' is not snake_case (a-z, 0-9, _; starting with a letter)"
        )
    for attribute in ("name", "description", "category"):
        if not str(getattr(app, attribute) or "").strip():
            problems.append(f"it has no {attribute}")
    icon = icon_problem(app.icon)
    if icon:
        problems.append(icon)
    operations: tuple[Operation, ...] = (*app.triggers, *app.actions)
    if not operations:
        problems.append("it offers no trigger and no action")
    keys = [op.key for op in operations]
    for key in sorted({k for k in keys if keys.count(k) > 1}):
        problems.append(f"two operations use the key '{key}'")
    for op in operations:
        problems += [f"{app.key}.{op.key}: {problem}" for problem in operation_problems(op)]
    problems += option_problems(app)
    if isinstance(app.base_url, str):
        host = httpx.URL(app.base_url).host
        if not app.allowed_hosts:
            problems.append("it has a base_url but declares no allowed_hosts")
        elif not any(fnmatch.fnmatch(host, pattern) for pattern in app.allowed_hosts):
            problems.append(
                f"its allowed_hosts {list(app.allowed_hosts)} do not cover its base_url's "
                f"host '{host}'"
            )
    return problems


def option_problems(app: App) -> list[str]:
    """Option sources: every field names a declared source, every source is used and
    what it needs is a field of each operation using it (and has a sandbox example)."""
    problems: list[str] = []
    declared = {source.key: source for source in app.options}
    used: set[str] = set()
    for op in (*app.triggers, *app.actions):
        try:
            sources = field_sources(op.input_schema())
        except Exception:  # noqa: S112 - operation_problems reports the schema that does not generate
            continue
        fields = set(op.input.model_fields)
        for path, key in sources.items():
            used.add(key)
            source = declared.get(key)
            if source is None:
                problems.append(
                    f"{app.key}.{op.key}: the field '{path}' names the option source '{key}', "
                    "which the app does not declare"
                )
                continue
            for need in source.needs:
                if need not in fields:
                    problems.append(
                        f"{app.key}.{op.key}: the option source '{key}' of '{path}' needs "
                        f"'{need}', which is not a field of the operation"
                    )
    for key, source in declared.items():
        if not KEY_PATTERN.match(key):
            problems.append(f"the option source key '{key}' is not snake_case")
        if key not in used:
            problems.append(f"the option source '{key}' is used by no field")
        missing = [need for need in source.needs if need not in source.example]
        if missing:
            problems.append(
                f"the option source '{key}' has no example value for {', '.join(missing)} "
                "(the conformance suite runs it against the sandbox)"
            )
    return problems


def operation_problems(op: Operation) -> list[str]:
    """What is wrong with one trigger or action; empty when it conforms."""
    problems: list[str] = []
    if not KEY_PATTERN.match(op.key):
        problems.append("the key is not snake_case")
    if not op.name:
        problems.append("it has no name")
    if len(op.description or "") < MIN_DESCRIPTION:
        problems.append(
            f"describe it in at least {MIN_DESCRIPTION} characters (it is the UI's help "
            "and the assistant's tool description)"
        )
    missing = undescribed(op.input)
    if missing:
        problems.append(f"input fields without a description: {', '.join(missing)}")
    if op.output.model_config.get("extra") != "allow" or op.output.model_fields:
        missing = undescribed(op.output)
        if missing:
            problems.append(f"output fields without a description: {', '.join(missing)}")
    if not op.sample:
        problems.append("it has no sample output (every operation ships one)")
    else:
        try:
            op.output.model_validate(dict(op.sample))
        except Exception as exc:  # a ValidationError; anything else is as much a problem
            problems.append(f"its sample does not fit its output model: {_first_line(exc)}")
    for which, schema in (("input", op.input_schema), ("output", op.output_schema)):
        try:
            generated: dict[str, Any] = schema()
        except Exception as exc:
            problems.append(f"its {which} model has no JSON Schema: {_first_line(exc)}")
            continue
        if generated.get("type") != "object":
            problems.append(f"its {which} model's JSON Schema is not an object")
    return problems


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return " ".join(text.splitlines()[:3]) if text else type(exc).__name__
