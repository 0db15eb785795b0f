"""Object, list and untyped fields take JSON whose strings may hold {{ }} mappings.

The defect this guards against: a Set fields cell typed as
``{"total": "{{ trigger.body.amount * 1.2 }}"}`` was kept as a string ("fields: Input
should be a valid dictionary"), and an HTTP body typed the same way reached the server
as a JSON string.
"""

from __future__ import annotations

from typing import Any

import pytest

from cells import document as documents
from connectors.formatter.schemas import SetFieldsInput
from connectors.http.schemas import RequestInput
from connectors.sdk.jsontext import InvalidJsonText, is_lone_mapping, parse_json_text
from workspace.views.notebook_state import NotebookState
from workspace.views.widgets import SchemaForm, json_input

pytestmark = pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")

FIELDS = '{\n  "total": "{{ trigger.body.amount * 1.2 }}",\n  "currency": "EUR"\n}'


def set_fields_form(value: str) -> SchemaForm:
    form = SchemaForm(SetFieldsInput.model_json_schema())
    form.widgets["fields"].value = value
    return form


def test_an_object_field_with_mappings_stays_an_object() -> None:
    assert set_fields_form(FIELDS).values() == {
        "fields": {"total": "{{ trigger.body.amount * 1.2 }}", "currency": "EUR"}
    }


def test_a_field_that_is_one_reference_maps_the_whole_value() -> None:
    assert set_fields_form("{{ steps.order }}").values() == {"fields": "{{ steps.order }}"}


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('{"total": {{ trigger.body.amount }}}', "must stand inside double quotes"),
        ('{\n  "currency": "EUR",\n}', "Line 3, column 1"),
        ("{'a': 1}", "double"),
        ("total: 3", "Line 1, column 1"),
        ('["a"]', "an object like"),
        ("{{ a }} and {{ b }}", "Not valid JSON"),
    ],
)
def test_broken_json_says_where_at_the_field(text: str, fragment: str) -> None:
    form = set_fields_form(text)
    with pytest.raises(ValueError):
        form.values()
    message = form.errors["fields"]
    assert fragment in message
    assert "dictionary" not in message  # never pydantic's sentence
    shown = form._error_panes["fields"]
    assert shown.visible and fragment.split()[0] in shown.object


def test_untyped_body_field_takes_json_or_plain_text() -> None:
    form = SchemaForm(RequestInput.model_json_schema())
    body = form.widgets["body"]
    body.value = '{"customer": "{{ steps.set_fields.customer }}"}'
    assert form.values()["body"] == {"customer": "{{ steps.set_fields.customer }}"}
    body.value = "Order {{ trigger.body.id }} is paid"  # text for a raw body
    assert form.values()["body"] == "Order {{ trigger.body.id }} is paid"
    body.value = '{"customer": '  # looks like JSON, is broken: say so
    with pytest.raises(ValueError):
        form.values()
    assert "Line 1" in form.errors["body"]


def test_list_field() -> None:
    spec = {"type": "array"}
    assert json_input('["{{ trigger.id }}", 2]', spec) == ["{{ trigger.id }}", 2]
    with pytest.raises(ValueError, match="a list like"):
        json_input('{"a": 1}', spec)


def test_insert_reference_adds_a_key_to_an_object_field() -> None:
    form = set_fields_form('{"currency": "EUR"}')
    form.insert("fields", "{{ trigger.body.amount }}")
    form.insert("fields", "{{ steps.other.amount }}")
    form.insert("fields", "{{ trigger.body['first name'] }}")
    assert form.values()["fields"] == {
        "currency": "EUR",
        "amount": "{{ trigger.body.amount }}",
        "amount_2": "{{ steps.other.amount }}",
        "value": "{{ trigger.body['first name'] }}",
    }
    empty = set_fields_form("")
    empty.insert("fields", "{{ trigger.body.email }}")
    assert empty.values()["fields"] == {"email": "{{ trigger.body.email }}"}


def test_insert_reference_into_a_text_field_appends() -> None:
    form = SchemaForm(RequestInput.model_json_schema())
    form.widgets["url"].value = "https://example.com/orders/"
    form.insert("url", "{{ trigger.body.id }}")
    assert form.values()["url"] == "https://example.com/orders/ {{ trigger.body.id }}"


def test_json_text_errors_name_line_and_column() -> None:
    with pytest.raises(InvalidJsonText) as caught:
        parse_json_text('{"a": 1,\n "b" 2}')
    assert (caught.value.line, caught.value.column) == (2, 6)
    assert "colon" in str(caught.value)
    assert (
        is_lone_mapping(" {{ x.y }} ")
        and not is_lone_mapping("{{ a }}{{ b }}")
        and not is_lone_mapping('{"a": "{{ b }}"}')
    )


async def test_run_cell_with_an_object_field_typed_as_json(svc: Any, user: Any) -> None:
    """The issue's reproduction: the demo's "compute" cell gets a "currency" key typed as
    JSON text, and Run cell gives an object with the mapped total."""
    doc = {
        "name": "Orders",
        "cells": [
            {"id": "hook", "kind": "trigger", "app": "webhook", "operation": "catch_hook"},
            {
                "id": "compute",
                "kind": "transformer",
                "app": "formatter",
                "operation": "set_fields",
                "inputs": {"fields": {"total": "{{ trigger.body.amount * 1.2 }}"}},
            },
        ],
    }
    scenario = svc.import_scenario(user.id, documents.parse(doc))
    state = NotebookState(svc, user, scenario.id)
    state.trigger_text = '{"body": {"amount": 10}, "method": "POST", "headers": {}, "query": {}}'
    form = SchemaForm(
        state.operation(state.cell("compute")).input_schema(), state.cell("compute")["inputs"]
    )
    shown = form.widgets["fields"].value
    assert shown.startswith("{\n")  # shown as JSON the user edits
    form.widgets["fields"].value = shown.replace("{\n", '{\n  "currency": "EUR",\n', 1)
    state.update_cell("compute", inputs=form.values())
    result = await state.run_cell("compute")
    assert result["status"] == "completed", result.get("error")
    assert result["output"] == {"total": 12.0, "currency": "EUR"}
