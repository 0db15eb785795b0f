"""Answers a program can use: a pydantic model from the user's schema, JSON out of a
model's reply, one label out of a classification.

The schema comes as a list of fields (name, type, description, required) or as a JSON
Schema. Both become one pydantic model, built at run time, that validates the model's
answer; its validation messages go back to the model in the repair round. Only the
part of JSON Schema that maps to plain data is taken (object, array, string with
``enum``/``format: date|date-time``, integer, number, boolean, null, ``required``,
``description``); anything else is refused naming where it is, instead of being
silently ignored.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

FieldType = Literal["string", "integer", "number", "boolean", "date", "string_list"]
FIELD_TYPES: dict[str, Any] = {
    "string": str,
    "integer": int,
    "number": float,
    "boolean": bool,
    "date": date,
    "string_list": list[str],
}
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
MAX_DEPTH = 8
_SCALARS: dict[str, Any] = {"string": str, "integer": int, "number": float, "boolean": bool}
_KNOWN_KEYS = frozenset(
    {
        "type",
        "properties",
        "required",
        "items",
        "description",
        "title",
        "enum",
        "format",
        "additionalProperties",
        "default",
        "examples",
        "$schema",
    }
)


class SchemaError(ValueError):
    """The schema cannot be used; the message names where."""


class _Answer(BaseModel):
    model_config = ConfigDict(extra="ignore")


def model_from_fields(fields: Sequence[Mapping[str, Any]]) -> type[BaseModel]:
    """A model with one attribute per field (``name``, ``type``, ``description``, ``required``)."""
    definitions: dict[str, Any] = {}
    for index, spec in enumerate(fields):
        name = str(spec.get("name") or "")
        where = f"fields.{index}.name"
        if not NAME.match(name):
            raise SchemaError(
                f"{where}: '{name}' is not a field name (letters, digits and _, "
                "not starting with a digit)."
            )
        if name in definitions:
            raise SchemaError(f"{where}: the field '{name}' is listed twice.")
        kind = spec.get("type", "string")
        if kind not in FIELD_TYPES:
            raise SchemaError(
                f"fields.{index}.type: '{kind}' is not one of {', '.join(FIELD_TYPES)}."
            )
        annotation = FIELD_TYPES[kind]
        description = str(spec.get("description") or "") or None
        if spec.get("required", True):
            definitions[name] = (annotation, Field(description=description))
        else:
            definitions[name] = (annotation | None, Field(None, description=description))
    if not definitions:
        raise SchemaError("fields: give at least one field.")
    return _model("Extracted", definitions)


def model_from_json_schema(schema: Mapping[str, Any]) -> type[BaseModel]:
    """A model for a JSON Schema ``object`` (the supported part; see the module's doc)."""
    if schema.get("type", "object") != "object" or not isinstance(
        schema.get("properties"), Mapping
    ):
        raise SchemaError('json_schema: must be {"type": "object", "properties": {...}}.')
    model = _object("json_schema", schema, "Extracted", 0)
    return model


def _model(name: str, definitions: dict[str, Any]) -> type[BaseModel]:
    model: type[BaseModel] = create_model(name, __base__=_Answer, **definitions)
    return model


def _object(where: str, schema: Mapping[str, Any], name: str, depth: int) -> type[BaseModel]:
    _check_keys(where, schema)
    properties = schema.get("properties") or {}
    if not isinstance(properties, Mapping) or not properties:
        raise SchemaError(f"{where}.properties: an object needs at least one property.")
    required = schema.get("required") or []
    if not isinstance(required, list) or not all(isinstance(r, str) for r in required):
        raise SchemaError(f"{where}.required: must be a list of property names.")
    unknown = [r for r in required if r not in properties]
    if unknown:
        raise SchemaError(f"{where}.required: {', '.join(unknown)} are not properties.")
    definitions: dict[str, Any] = {}
    for key, spec in properties.items():
        here = f"{where}.properties.{key}"
        if not NAME.match(str(key)):
            raise SchemaError(f"{here}: '{key}' is not a field name (letters, digits and _).")
        if not isinstance(spec, Mapping):
            raise SchemaError(f"{here}: must be an object describing the property.")
        annotation = _annotation(here, spec, f"{name}_{key}", depth + 1)
        description = spec.get("description")
        description = str(description) if description else None
        if key in required:
            definitions[key] = (annotation, Field(description=description))
        else:
            definitions[key] = (annotation | None, Field(None, description=description))
    return _model(name, definitions)


def _annotation(where: str, spec: Mapping[str, Any], name: str, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise SchemaError(f"{where}: nested deeper than {MAX_DEPTH} levels.")
    _check_keys(where, spec)
    kind = spec.get("type")
    nullable = False
    if isinstance(kind, list):
        kinds = [k for k in kind if k != "null"]
        nullable = len(kinds) < len(kind)
        if len(kinds) != 1:
            raise SchemaError(f'{where}.type: give one type (optionally with "null").')
        kind = kinds[0]
    annotation: Any
    if "enum" in spec:
        values = spec["enum"]
        if not isinstance(values, list) or not values:
            raise SchemaError(f"{where}.enum: must be a non-empty list.")
        if not all(isinstance(v, str | int | float | bool) for v in values):
            raise SchemaError(f"{where}.enum: values must be strings, numbers or booleans.")
        annotation = Literal[tuple(values)]  # type: ignore[valid-type]
    elif kind in _SCALARS:
        annotation = _SCALARS[kind]
        if kind == "string" and spec.get("format") in ("date", "date-time"):
            annotation = date if spec["format"] == "date" else datetime
    elif kind == "array":
        items = spec.get("items")
        if not isinstance(items, Mapping):
            raise SchemaError(f"{where}.items: an array needs an items schema.")
        annotation = list[_annotation(f"{where}.items", items, name, depth + 1)]  # type: ignore[misc]
    elif kind == "object":
        annotation = _object(where, spec, name, depth)
    elif kind == "null":
        annotation = type(None)
    else:
        raise SchemaError(
            f"{where}.type: '{kind}' is not supported; use string, integer, number, boolean, "
            "array, object or null."
        )
    return annotation | None if nullable else annotation


def _check_keys(where: str, spec: Mapping[str, Any]) -> None:
    unsupported = sorted(str(k) for k in spec if k not in _KNOWN_KEYS)
    if unsupported:
        raise SchemaError(
            f"{where}: {', '.join(unsupported)} not supported (supported: type, properties, "
            "required, items, enum, format, description)."
        )


# -- reading answers -------------------------------------------------------------------

_FENCE = re.compile(r"^```[a-zA-Z0-9_-]*\s*\n?(.*?)\n?```$", re.DOTALL)


def json_in(text: str) -> Any:
    """The JSON value of a reply: bare, in a Markdown code fence, or the outermost
    ``{…}`` of a reply with words around it. ValueError when there is none."""
    stripped = text.strip()
    fenced = _FENCE.match(stripped)
    if fenced:
        stripped = fenced.group(1).strip()
    try:
        return json.loads(stripped)
    except ValueError:
        pass
    start, end = stripped.find("{"), stripped.rfind("}")
    if start != -1 and end > start:
        try:
            return json.loads(stripped[start : end + 1])
        except ValueError:
            pass
    raise ValueError("the answer is not a JSON object")


def check_answer(model: type[BaseModel], text: str) -> tuple[dict[str, Any] | None, list[str]]:
    """The validated data of a reply, or the problems to send back (``field: message``)."""
    try:
        value = json_in(text)
    except ValueError as exc:
        return None, [f"(answer): {exc}; reply with one JSON object only"]
    if not isinstance(value, dict):
        return None, ["(answer): expected a JSON object, got " + type(value).__name__]
    try:
        parsed = model.model_validate(value)
    except ValidationError as exc:
        return None, [
            f"{'.'.join(str(p) for p in err['loc']) or '(answer)'}: {err['msg']}"
            for err in exc.errors(include_url=False, include_input=False)
        ]
    data: dict[str, Any] = parsed.model_dump(mode="json")
    return data, []


def match_label(answer: str, labels: Sequence[str]) -> str | None:
    """The label a reply names: the whole reply, ignoring case, quotes, a trailing full
    stop and a leading ``Label:``. None when it is not exactly one of them."""
    text = answer.strip()
    text = re.sub(r"^(label|category|class)\s*:\s*", "", text, flags=re.IGNORECASE)
    text = text.strip().strip("`'\"*").strip().rstrip(".").strip().strip("`'\"*").strip()
    by_folded = {label.casefold(): label for label in labels}
    return by_folded.get(text.casefold())
