"""What the served OpenAPI description says beyond the pydantic models: the apps this
server has.

The models take any app key (a scenario document is portable between servers, and
``/api/v1/schema/scenario.json`` describes the format). The running server knows its
registry, so its OpenAPI description names the app keys it accepts and, per app, the
trigger or action keys a cell may use: a client generated from it (or a fuzzer) sends
what the server takes. Anything else is still answered with a documented 422.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from fastapi import FastAPI

from connectors.sdk import App

__all__ = ["constrain_apps", "describe_registered_apps"]


def describe_registered_apps(app: FastAPI, apps: Iterable[App]) -> None:
    """Make ``app.openapi()`` name the registered apps and their operations (see
    ``constrain_apps``)."""
    build: Callable[[], dict[str, Any]] = app.openapi
    registered = list(apps)
    done: set[int] = set()

    def openapi() -> dict[str, Any]:
        schema = build()  # cached by FastAPI after the first call: constrain it once
        if id(schema) not in done:
            constrain_apps(schema, registered)
            done.add(id(schema))
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def constrain_apps(schema: dict[str, Any], apps: list[App]) -> None:
    """Set ``enum``s on the app fields of ``schema`` (an OpenAPI document), in place:
    ``ConnectionIn.app``; a trigger cell's ``app`` and ``operation`` (one of that app's
    triggers); an action or transformer cell's (one of that app's actions)."""
    components = schema.get("components", {}).get("schemas", {})
    keys = sorted(each.key for each in apps)
    connection_in = components.get("ConnectionIn", {}).get("properties", {})
    if "app" in connection_in:
        connection_in["app"]["enum"] = keys
    triggers = {each.key: sorted(op.key for op in each.triggers) for each in apps if each.triggers}
    actions = {each.key: sorted(op.key for op in each.actions) for each in apps if each.actions}
    for name, operations in (
        ("TriggerCell", triggers),
        ("ActionCell", actions),
        ("TransformerCell", actions),
    ):
        cell = components.get(name)
        if cell is None or not operations:
            continue
        cell["properties"]["app"]["enum"] = sorted(operations)
        cell["properties"]["operation"]["description"] = (
            cell["properties"]["operation"].get("description", "")
            + " One of the app's operations of this kind."
        )
        # which operation keys go with which app: one alternative per app
        cell["anyOf"] = [
            {"properties": {"app": {"const": key}, "operation": {"enum": ops}}}
            for key, ops in sorted(operations.items())
        ]
