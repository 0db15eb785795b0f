"""Checks of a document against the registry: every problem listed, one per cell."""

from __future__ import annotations

import pytest

from cells.checks import incomplete, operation_errors
from cells.models import ScenarioDocument
from connectors.registry import default_registry
from connectors.sdk import MappingError

HOOK = {"id": "hook", "kind": "trigger", "app": "webhook", "operation": "catch_hook"}


def doc(*cells: dict, trigger: dict = HOOK) -> ScenarioDocument:
    """The document model only (``documents.parse`` would refuse a bad expression at once)."""
    return ScenarioDocument.model_validate({"name": "Checked", "cells": [trigger, *cells]})


def test_a_sound_document_has_no_problems() -> None:
    sound = doc(
        {
            "id": "up",
            "kind": "transformer",
            "app": "formatter",
            "operation": "text",
            "inputs": {"value": "{{ trigger.body.x | upper }}", "transform": "upper"},
        },
        {
            "id": "gate",
            "kind": "condition",
            "rules": {"all": [{"left": "{{ steps.up.result }}", "op": "exists"}]},
        },
    )
    assert list(operation_errors(sound, default_registry())) == []


def test_every_unknown_app_operation_and_wrong_kind_is_listed() -> None:
    bad = doc(
        {"id": "a", "kind": "action", "app": "nope", "operation": "x"},
        {"id": "b", "kind": "action", "app": "formatter", "operation": "nope"},
        {
            "id": "c",
            "kind": "action",
            "app": "webhook",
            "operation": "catch_hook",
        },  # a trigger used as an action
        trigger={
            "id": "hook",
            "kind": "trigger",
            "app": "schedule",
            "operation": "every",
            "inputs": {"unknown_field": 1},
        },
    )
    messages = [e.message for e in operation_errors(bad, default_registry())]
    assert len(messages) == 4, messages
    assert (
        "There is no app 'nope'" in messages[1]
        and "nope" in messages[2]
        and "catch_hook" in messages[3]
    )


def test_the_document_model_itself_refuses_expressions_that_do_not_compile() -> None:
    """Why there is no separate mapping check: a
    document with a broken expression does not parse."""
    for cells in (
        [
            {
                "id": "up",
                "kind": "transformer",
                "app": "formatter",
                "operation": "text",
                "inputs": {"value": "{{ x | no_such_filter }}"},
            }
        ],
        [
            {
                "id": "gate",
                "kind": "condition",
                "rules": {"all": [{"left": "{{ trigger.body.x ", "op": "exists"}]},
            }
        ],
        [
            {
                "id": "route",
                "kind": "condition",
                "branches": [
                    {
                        "name": "big",
                        "rules": {"all": [{"left": "{{ 1 + }}", "op": "exists"}]},
                        "cells": [],
                    },
                    {"name": "else", "fallback": True, "cells": []},
                ],
            }
        ],
    ):
        with pytest.raises(MappingError, match="syntax error"):
            doc(*cells)


def test_incomplete_lists_missing_connections_and_required_inputs() -> None:
    from cells.checks import incomplete

    gappy = doc(
        {
            "id": "post",
            "kind": "action",
            "app": "slack",
            "operation": "send_message",
            "name": "Announce",
            "inputs": {"channel": "  "},
        },
        {
            "id": "mapped",
            "kind": "action",
            "app": "slack",
            "operation": "send_message",
            "connection": "c1",
            "inputs": {"channel": "{{ trigger.body.channel }}", "text": "{{ trigger.body.text }}"},
        },  # a mapping fills a field
        {
            "id": "up",
            "kind": "transformer",
            "app": "formatter",
            "operation": "text",
            "inputs": {"transform": "upper"},
        },
        {
            "id": "ghost",
            "kind": "action",
            "app": "nope",
            "operation": "x",
        },  # unknown apps and operations: operation_errors says so
        {"id": "typo", "kind": "action", "app": "formatter", "operation": "nope"},
    )
    gaps = incomplete(gappy, default_registry())
    assert [(g["cell_id"], g["field"]) for g in gaps] == [
        ("post", "connection"),
        ("post", "channel"),
        ("up", "value"),
    ]
    assert gaps[0]["message"] == "Cell 'Announce' needs a Slack connection."
    assert gaps[1]["message"].startswith("Cell 'Announce': fill in 'channel'")
    complete = doc(
        {
            "id": "up",
            "kind": "transformer",
            "app": "formatter",
            "operation": "text",
            "inputs": {"value": "x", "transform": "upper"},
        }
    )
    assert incomplete(complete, default_registry()) == []


def test_a_static_value_of_the_wrong_type_is_listed_with_its_cell_and_field() -> None:
    """Publishing refuses what the run would refuse; a mapped value is known only then."""
    typed = doc(
        {
            "id": "cut",
            "kind": "transformer",
            "app": "formatter",
            "operation": "text",
            "name": "Cut it",
            "inputs": {
                "value": "{{ trigger.body.text }}",
                "transform": "truncate",
                "max_length": "abc",  # not a number
                "colour": "red",  # not an input of the operation
            },
        },
        {
            "id": "lax",
            "kind": "transformer",
            "app": "formatter",
            "operation": "text",
            "inputs": {
                "value": "x",
                "transform": "truncate",
                "max_length": "12",  # lax, as at run time: text of a number is a number
            },
        },
        {
            "id": "mapped",
            "kind": "transformer",
            "app": "formatter",
            "operation": "text",
            "inputs": {
                "value": "x",
                "transform": "truncate",
                "max_length": "{{ trigger.body.n }}",  # its type is known only at run time
            },
        },
    )
    gaps = incomplete(typed, default_registry())
    assert [(g["cell_id"], g["field"]) for g in gaps] == [("cut", "max_length"), ("cut", "colour")]
    by_field = {g["field"]: g["message"] for g in gaps}
    assert by_field["max_length"].startswith("Cell 'Cut it': 'max_length' has a wrong value: ")
    assert "valid integer" in by_field["max_length"]
    assert by_field["colour"] == "Cell 'Cut it': 'colour' is not one of its inputs."
