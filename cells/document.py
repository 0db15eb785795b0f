"""Reading and writing scenario documents (YAML or JSON).

``load`` turns text into a validated ``ScenarioDocument`` or raises ``DocumentError``
with one line per problem, each naming the place in the file. ``dump`` writes the
canonical YAML: export → import → export is byte-identical.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from cells.models import ConditionCell, OperationCell, ScenarioDocument
from connectors.sdk import InvalidInputError


class DocumentError(InvalidInputError):
    """A scenario file that cannot be loaded."""

    code = "invalid_document"


def _location(loc: tuple[Any, ...], data: Any) -> str:
    """``cells[2].inputs.title`` — with the cell's id when there is one."""
    parts: list[str] = []
    node = data
    for item in loc:
        if isinstance(item, int):
            label = f"[{item}]"
            if (
                isinstance(node, list)
                and item < len(node)
                and isinstance(node[item], dict)
                and "id" in node[item]
            ):
                label = f"[{item}] (id '{node[item]['id']}')"
            parts.append(label)
            node = node[item] if isinstance(node, list) and item < len(node) else None
        else:
            if (
                isinstance(item, str)
                and item in ("trigger", "action", "transformer", "condition")
                and parts
            ):
                continue  # pydantic's discriminator tag, not a place in the file
            if item in ("word", "route") and parts and parts[-1] == ".on_error":
                continue  # the tag of on_error's two forms, not a place in the file
            parts.append(("." if parts else "") + str(item))
            node = node.get(item) if isinstance(node, dict) else None
    return "".join(parts) or "(document)"


def parse(data: Any, *, source: str = "scenario") -> ScenarioDocument:
    """Validate already-parsed data."""
    if not isinstance(data, dict):
        raise DocumentError(
            f"{source}: a scenario document is a mapping with 'name' and 'cells', "
            f"got {type(data).__name__}."
        )
    try:
        return ScenarioDocument.model_validate(data)
    except ValidationError as exc:
        errors = []
        for err in exc.errors(include_url=False, include_input=False):
            message = err["msg"].removeprefix("Value error, ")
            where = (err.get("ctx") or {}).get("where")
            errors.append(
                {"field": where or _location(tuple(err["loc"]), data), "message": message}
            )
        lines = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:8])
        more = f" (+{len(errors) - 8} more)" if len(errors) > 8 else ""
        raise DocumentError(f"{source}: {lines}{more}", errors=errors) from None


class _Loader(yaml.SafeLoader):
    """YAML read the way JSON (and YAML 1.2) reads it: only ``true``/``false`` are
    booleans (a branch named ``on`` or a value ``no`` stays text) and ``2024-05-01``
    stays text, so a file, its stored form and its export hold the same values."""


_DROPPED = ("tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:bool")
_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in _DROPPED]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def loads(text: str, *, source: str = "scenario") -> ScenarioDocument:
    """Parse YAML or JSON text (JSON is YAML, but JSON errors read better as JSON)."""
    stripped = text.lstrip()
    try:
        if stripped.startswith(("{", "[")):
            data = json.loads(text)
        else:
            data = yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader
    except json.JSONDecodeError as exc:
        raise DocumentError(
            f"{source}: not valid JSON — {exc.msg} at line {exc.lineno}, column {exc.colno}."
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise DocumentError(f"{source}: not valid YAML — {problem}{where}.") from None
    return parse(data, source=source)


def load(path: str | Path) -> ScenarioDocument:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DocumentError(f"{path}: no such file.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DocumentError(f"{path}: cannot read it ({exc}).") from None
    return loads(text, source=str(path))


class _Dumper(yaml.SafeDumper):
    """PyYAML drops NEL/LS/PS inside single-quoted or plain scalars: quote those
    strings with double quotes, where they are escaped, so export never loses them."""


_LINE_BREAKS = ("\x85", "\u2028", "\u2029")


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = '"' if any(c in value for c in _LINE_BREAKS) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def dump(doc: ScenarioDocument) -> str:
    """The canonical YAML of a document."""
    return yaml.dump(doc.to_data(), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)


def json_schema() -> dict[str, Any]:
    """The published JSON Schema of scenario documents."""
    schema = ScenarioDocument.model_json_schema(by_alias=True)
    schema["$id"] = "https://cellwright.dev/schema/scenario-1.json"
    schema["title"] = "Cellwright scenario"
    return schema


def node_rows(doc: ScenarioDocument) -> list[dict[str, Any]]:
    """The ``nodes`` table rows for a document (the document stays the source of truth)."""
    rows: list[dict[str, Any]] = []
    positions: dict[tuple[str | None, str | None], int] = {}
    for cell, parents in doc.walk():
        parent_cell_id, branch = parents[-1] if parents else (None, None)
        slot = (parent_cell_id, branch)
        position = positions.get(slot, 0)
        positions[slot] = position + 1
        row: dict[str, Any] = {
            "cell_id": cell.id,
            "name": cell.name,
            "type": cell.kind,
            "position": position,
            "parent_cell_id": parent_cell_id,
            "branch": branch,
            "app_id": None,
            "connection_id": None,
            "operation": None,
            "config": {},
            "input_mappings": {},
            "output_mappings": {},
            "conditions": None,
        }
        if isinstance(cell, OperationCell):
            row.update(
                app_id=cell.app,
                connection_id=cell.connection,
                operation=cell.operation,
                input_mappings=cell.inputs,
            )
            if cell.kind != "trigger":
                on_error = getattr(cell, "on_error", "fail")
                row["config"] = {
                    "on_error": on_error
                    if isinstance(on_error, str)
                    else {"then": on_error.then, "cells": [c.id for c in on_error.cells]}
                }
        elif isinstance(cell, ConditionCell):
            dumped = cell.model_dump(mode="json", exclude={"branches"}, exclude_none=True)
            row["conditions"] = (
                [dumped.get("rules")]
                if cell.rules
                else [
                    {
                        "branch": b.name,
                        "fallback": b.fallback,
                        "rules": b.model_dump(mode="json")["rules"],
                    }
                    for b in cell.branches or []
                ]
            )
            row["config"] = {"match": cell.match, "mode": "router" if cell.is_router else "filter"}
        rows.append(row)
    return rows
