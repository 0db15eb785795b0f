"""The scenario document model: cell kinds, validation that names the place, walking."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from cells.models import (
    ActionCell,
    ConditionCell,
    ScenarioDocument,
    ScenarioSettings,
    TransformerCell,
    TriggerCell,
)

TRIGGER = {"id": "hook", "kind": "trigger", "app": "webhook", "operation": "catch_hook"}
RULE = {"all": [{"left": "{{ trigger.body.n }}", "op": "gt", "right": 1}]}


def doc(*cells: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"name": "Test", "cells": [TRIGGER, *cells], **extra}


def action(cell_id: str, **extra: Any) -> dict[str, Any]:
    return {"id": cell_id, "kind": "action", "app": "probe", "operation": "count", **extra}


def errors(data: dict[str, Any]) -> list[dict[str, Any]]:
    with pytest.raises(ValidationError) as info:
        ScenarioDocument.model_validate(data)
    return info.value.errors()


def test_cell_kinds_are_discriminated_by_kind() -> None:
    parsed = ScenarioDocument.model_validate(
        doc(
            action("a"),
            {
                "id": "t",
                "kind": "transformer",
                "app": "formatter",
                "operation": "set_fields",
                "inputs": {"fields": {}},
            },
            {"id": "f", "kind": "condition", "rules": RULE},
        )
    )
    kinds = [type(c) for c in parsed.cells]
    assert kinds == [TriggerCell, ActionCell, TransformerCell, ConditionCell]
    assert parsed.trigger.id == "hook"
    assert [c.id for c in parsed.steps] == ["a", "t", "f"]
    assert parsed.cells[3].is_router is False
    assert parsed.settings == ScenarioSettings()


def test_walk_and_find_descend_into_branches_in_run_order() -> None:
    parsed = ScenarioDocument.model_validate(
        doc(
            {
                "id": "route",
                "kind": "condition",
                "branches": [
                    {
                        "name": "big",
                        "rules": RULE,
                        "cells": [
                            action("a1"),
                            {
                                "id": "inner",
                                "kind": "condition",
                                "branches": [
                                    {"name": "deep", "fallback": True, "cells": [action("d1")]}
                                ],
                            },
                        ],
                    },
                    {"name": "other", "fallback": True, "cells": [action("b1")]},
                ],
            },
            action("after"),
        )
    )
    walked = [(c.id, parents) for c, parents in parsed.walk()]
    assert walked == [
        ("hook", ()),
        ("route", ()),
        ("a1", (("route", "big"),)),
        ("inner", (("route", "big"),)),
        ("d1", (("route", "big"), ("inner", "deep"))),
        ("b1", (("route", "other"),)),
        ("after", ()),
    ]
    assert parsed.find("d1").id == "d1"
    assert parsed.find("nope") is None


def test_the_first_cell_must_be_the_trigger() -> None:
    [err] = errors({"name": "x", "cells": [action("a")]})
    assert err["ctx"]["where"] == "cells[0] (id 'a').kind"
    assert "first cell must be the trigger" in err["msg"]


def test_an_empty_scenario_is_refused() -> None:
    [err] = errors({"name": "x", "cells": []})
    assert err["loc"] == ("cells",)


def test_only_the_first_cell_may_be_a_trigger() -> None:
    [err] = errors(doc(action("a"), {**TRIGGER, "id": "again"}))
    assert err["ctx"] == {"where": "cells[2] (id 'again').kind", "cell_id": "again"}
    assert "only the first cell" in err["msg"]


def test_duplicate_ids_name_the_second_cell_even_inside_a_branch() -> None:
    [err] = errors(
        doc(
            action("a"),
            {
                "id": "r",
                "kind": "condition",
                "branches": [{"name": "b", "rules": RULE, "cells": [action("a")]}],
            },
        )
    )
    assert err["ctx"]["where"] == "cells[2] (id 'r').branches[0].cells[0] (id 'a').id"
    assert "two cells use the id 'a'" in err["msg"]


@pytest.mark.parametrize(
    ("cells", "where", "ref"),
    [
        (
            [action("a", inputs={"value": "{{ steps.b.value }}"}), action("b")],
            "cells[1] (id 'a').inputs",
            "b",
        ),
        (
            [action("a", inputs={"value": "{{ steps.ghost.value }}"})],
            "cells[1] (id 'a').inputs",
            "ghost",
        ),
        (
            [
                {
                    "id": "f",
                    "kind": "condition",
                    "rules": {"all": [{"left": "{{ steps.f.x }}", "op": "exists"}]},
                }
            ],
            "cells[1] (id 'f').rules",
            "f",
        ),
        (
            [
                {
                    "id": "r",
                    "kind": "condition",
                    "branches": [
                        {
                            "name": "b",
                            "rules": {"all": [{"left": "{{ steps.later.x }}", "op": "exists"}]},
                        }
                    ],
                },
                action("later"),
            ],
            "cells[1] (id 'r').branches[0].rules",
            "later",
        ),
    ],
)
def test_steps_references_must_point_to_earlier_cells(
    cells: list[dict[str, Any]], where: str, ref: str
) -> None:
    [err] = errors(doc(*cells))
    assert err["ctx"]["where"] == where
    assert f"steps.{ref}" in err["msg"]
    assert "Cells before it: hook" in err["msg"]


def test_cells_after_a_router_may_use_branch_outputs_and_branches_see_earlier_cells() -> None:
    ScenarioDocument.model_validate(
        doc(
            action("a"),
            {
                "id": "r",
                "kind": "condition",
                "branches": [
                    {
                        "name": "b",
                        "rules": {"all": [{"left": "{{ steps.a.value }}", "op": "exists"}]},
                        "cells": [action("in_b", inputs={"value": "{{ steps.r.branches }}"})],
                    }
                ],
            },
            action("after", inputs={"value": "{{ steps.in_b.value | default(0) }}"}),
        )
    )


def test_a_branch_cell_cannot_use_a_sibling_branch() -> None:
    [err] = errors(
        doc(
            {
                "id": "r",
                "kind": "condition",
                "branches": [
                    {"name": "one", "rules": RULE, "cells": [action("x")]},
                    {
                        "name": "two",
                        "fallback": True,
                        "cells": [action("y", inputs={"value": "{{ steps.x.value }}"})],
                    },
                ],
            }
        )
    )
    assert err["ctx"]["where"] == "cells[1] (id 'r').branches[1].cells[0] (id 'y').inputs"


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        (
            {"rules": RULE, "branches": [{"name": "b", "fallback": True}]},
            "either 'rules' (a filter) or 'branches' (a router)",
        ),
        ({}, "either 'rules' (a filter) or 'branches' (a router)"),
        ({"branches": []}, "needs at least one branch"),
        (
            {"branches": [{"name": "a", "fallback": True}, {"name": "b", "fallback": True}]},
            "2 fallback branches",
        ),
        (
            {"branches": [{"name": "plain"}]},
            "branch 'plain' of router 'r' needs rules, or 'fallback: true'",
        ),
        (
            {"branches": [{"name": "same", "rules": RULE}, {"name": "same", "fallback": True}]},
            "two branches with the same name",
        ),
    ],
)
def test_router_and_filter_shapes(condition: dict[str, Any], message: str) -> None:
    [err] = errors(doc({"id": "r", "kind": "condition", **condition}))
    assert message in err["msg"]
    assert err["loc"][:2] == ("cells", 1)


def test_unknown_fields_kinds_and_bad_ids_are_refused() -> None:
    assert errors(doc(action("a", colour="red")))[0]["loc"] == ("cells", 1, "action", "colour")
    assert errors(doc({"id": "a", "kind": "bogus"}))[0]["type"] == "union_tag_invalid"
    assert errors(doc(action("1a")))[0]["loc"] == ("cells", 1, "action", "id")
    assert errors(doc(action("a", on_error="explode")))[0]["loc"][:4] == (
        "cells",
        1,
        "action",
        "on_error",
    )


def test_settings_are_bounded() -> None:
    assert errors(doc(settings={"retry_count": 11}))[0]["loc"] == ("settings", "retry_count")
    assert errors(doc(settings={"timeout_seconds": 0}))[0]["loc"] == ("settings", "timeout_seconds")


def test_to_data_is_canonical_and_keeps_explicit_settings() -> None:
    parsed = ScenarioDocument.model_validate(
        {
            "schema": "cellwright/scenario@1",
            "name": "x",
            "settings": {"timeout_seconds": 300},
            "cells": [{**TRIGGER, "inputs": {}}, action("a", on_error="fail")],
        }
    )
    data = parsed.to_data()
    assert list(data) == ["schema", "name", "settings", "cells"]
    assert data["settings"] == {"timeout_seconds": 300}  # the default value, but written down
    assert data["cells"][1] == {"id": "a", "kind": "action", "app": "probe", "operation": "count"}
    again = ScenarioDocument.model_validate(data)
    assert again == parsed
    assert again.to_data() == data
    assert "timeout_seconds" in again.settings.model_fields_set


def test_schema_version_is_checked() -> None:
    assert errors({**doc(), "schema": "cellwright/scenario@9"})[0]["loc"] == ("schema",)
