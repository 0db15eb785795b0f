"""The schema the user gives, as a pydantic model; JSON and labels out of replies."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from connectors.ai.structured import (
    SchemaError,
    check_answer,
    json_in,
    match_label,
    model_from_fields,
    model_from_json_schema,
)


def test_fields_become_a_model_with_types_descriptions_and_optional_fields() -> None:
    model = model_from_fields(
        [
            {"name": "when", "type": "date", "description": "The day."},
            {"name": "n", "type": "integer"},
            {"name": "tags", "type": "string_list", "required": False},
            {"name": "ok", "type": "boolean", "required": True},
        ]
    )
    schema = model.model_json_schema()
    assert schema["required"] == ["when", "n", "ok"]
    assert schema["properties"]["when"] == {
        "description": "The day.",
        "format": "date",
        "title": "When",
        "type": "string",
    }
    parsed = model.model_validate({"when": "2026-01-02", "n": "3", "ok": True, "extra": 1})
    assert parsed.model_dump() == {"when": date(2026, 1, 2), "n": 3, "tags": None, "ok": True}


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ([], "fields: give at least one field."),
        ([{"name": "a b"}], "fields.0.name: 'a b' is not a field name"),
        ([{"name": "a"}, {"name": "a"}], "fields.1.name: the field 'a' is listed twice."),
        ([{"name": "a", "type": "money"}], "fields.0.type: 'money' is not one of string, integer"),
    ],
)
def test_bad_fields_are_refused_naming_the_field(fields: list[Any], message: str) -> None:
    with pytest.raises(SchemaError) as caught:
        model_from_fields(fields)
    assert str(caught.value).startswith(message)


def test_a_json_schema_becomes_a_model() -> None:
    model = model_from_json_schema(
        {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "properties": {
                "kind": {"enum": ["a", "b"]},
                "at": {"type": "string", "format": "date-time"},
                "items": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {"sku": {"type": "string"}, "qty": {"type": "integer"}},
                        "required": ["sku"],
                    },
                },
                "note": {"type": ["string", "null"]},
            },
            "required": ["kind", "items"],
            "additionalProperties": False,
        }
    )
    data, problems = check_answer(
        model, '{"kind": "b", "items": [{"sku": "X"}], "at": "2026-01-02T03:04:05Z"}'
    )
    assert problems == []
    assert data == {
        "kind": "b",
        "at": "2026-01-02T03:04:05Z",
        "items": [{"sku": "X", "qty": None}],
        "note": None,
    }
    data, problems = check_answer(model, '{"kind": "c", "items": [{"qty": 1}]}')
    assert data is None
    assert problems == ["kind: Input should be 'a' or 'b'", "items.0.sku: Field required"]


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ({"type": "array"}, 'json_schema: must be {"type": "object", "properties": {...}}.'),
        ({"properties": {}}, "json_schema.properties: an object needs at least one property."),
        (
            {"properties": {"a": {"type": "string"}}, "required": ["b"]},
            "json_schema.required: b are not properties.",
        ),
        (
            {"properties": {"a": {"$ref": "#/x"}}},
            "json_schema.properties.a: $ref not supported",
        ),
        (
            {"properties": {"a": {"type": "array"}}},
            "json_schema.properties.a.items: an array needs an items schema.",
        ),
        (
            {"properties": {"a": {"type": ["string", "integer"]}}},
            'json_schema.properties.a.type: give one type (optionally with "null").',
        ),
        (
            {"properties": {"a": {"type": "tuple"}}},
            "json_schema.properties.a.type: 'tuple' is not supported",
        ),
        (
            {"properties": {"a": {"enum": [{"x": 1}]}}},
            "json_schema.properties.a.enum: values must be strings, numbers or booleans.",
        ),
        (
            {"properties": {"a-b": {"type": "string"}}},
            "json_schema.properties.a-b: 'a-b' is not a field name",
        ),
        (
            {
                "properties": {
                    "a": {"type": "object", "properties": {"b": {"format": 1, "minimum": 2}}}
                }
            },
            "json_schema.properties.a.properties.b: minimum not supported",
        ),
    ],
)
def test_unsupported_json_schema_is_refused_naming_where(
    schema: dict[str, Any], message: str
) -> None:
    with pytest.raises(SchemaError) as caught:
        model_from_json_schema({"type": "object", **schema})
    assert str(caught.value).startswith(message)


def test_deep_nesting_is_refused() -> None:
    inner: dict[str, Any] = {"type": "string"}
    for _ in range(10):
        inner = {"type": "object", "properties": {"a": inner}}
    with pytest.raises(SchemaError, match="nested deeper than 8 levels"):
        model_from_json_schema(inner)


@pytest.mark.parametrize(
    ("reply", "value"),
    [
        ('{"a": 1}', {"a": 1}),
        ('```json\n{"a": 1}\n```', {"a": 1}),
        ('Here it is: {"a": {"b": 2}} — done.', {"a": {"b": 2}}),
        ("[1, 2]", [1, 2]),
    ],
)
def test_json_is_found_in_replies(reply: str, value: Any) -> None:
    assert json_in(reply) == value


@pytest.mark.parametrize("reply", ["no json here", "{broken", "{'a': 1}"])
def test_replies_without_json_are_refused(reply: str) -> None:
    with pytest.raises(ValueError, match="not a JSON object"):
        json_in(reply)


def test_check_answer_names_a_reply_that_is_not_an_object() -> None:
    model = model_from_fields([{"name": "a"}])
    assert check_answer(model, "[1]") == (None, ["(answer): expected a JSON object, got list"])
    assert check_answer(model, "nothing") == (
        None,
        ["(answer): the answer is not a JSON object; reply with one JSON object only"],
    )


@pytest.mark.parametrize(
    ("reply", "label"),
    [
        ("billing", "billing"),
        ("  Billing.\n", "billing"),
        ('"Bug Report"', "Bug report"),
        ("Label: account", "account"),
        ("**other**", "other"),
        ("`billing`", "billing"),
        ("billing or bug", None),
        ("not billing", None),
        ("", None),
    ],
)
def test_a_reply_names_a_label_only_exactly(reply: str, label: str | None) -> None:
    assert match_label(reply, ["billing", "Bug report", "account", "other"]) == label
