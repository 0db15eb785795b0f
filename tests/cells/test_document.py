"""Scenario files: YAML and JSON in, canonical YAML out, errors that name the place."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cells import document as documents
from cells.document import DocumentError

SCENARIO = """\
schema: cellwright/scenario@1
name: "Orders: route by size ✓"
description: |
  Two lines,
  with "quotes" and: colons.
settings:
  retry_count: 3
  timeout_seconds: 120
cells:
  - id: hook
    kind: trigger
    app: webhook
    operation: catch_hook
    inputs:
      response: sync
  - id: compute
    kind: transformer
    name: Compute the total
    app: formatter
    operation: set_fields
    inputs:
      fields:
        total: "{{ trigger.body.amount * 1.2 }}"
        day: 2024-05-01
        flags: [yes, no, null, 1.5e3, 2.5e+3, "007"]
        on: off
        really: True
  - id: route
    kind: condition
    match: first
    branches:
      - name: big
        rules:
          all:
            - left: "{{ steps.compute.total }}"
              op: gt
              right: 50
        cells:
          - id: notify
            kind: action
            app: http
            operation: request
            on_error: continue
            inputs:
              method: POST
              url: "http://127.0.0.1:9/x"
              body_type: json
              body: {total: "{{ steps.compute.total }}"}
          - id: nested
            kind: condition
            branches:
              - name: deep
                fallback: true
                cells:
                  - id: deep_cell
                    kind: transformer
                    app: formatter
                    operation: text
                    inputs: {value: "x", transform: upper}
      - name: small
        fallback: true
        cells:
          - id: answer
            kind: transformer
            app: webhook
            operation: respond
            inputs: {body: "{{ steps.compute }}"}
  - id: done
    kind: condition
    rules:
      any:
        - left: "{{ steps.notify.status | default(0) }}"
          op: equals
          right: 200
"""


def errors_of(text: str) -> DocumentError:
    with pytest.raises(DocumentError) as info:
        documents.loads(text, source="f.yaml")
    return info.value


def test_yaml_and_json_load_to_the_same_document(tmp_path: Path) -> None:
    from_yaml = documents.loads(SCENARIO)
    path = tmp_path / "s.json"
    path.write_text(json.dumps(from_yaml.to_data(), indent=2), encoding="utf-8")
    from_json = documents.load(path)
    assert from_json == from_yaml
    assert from_yaml.name == "Orders: route by size ✓"
    assert from_yaml.settings.retry_count == 3


def test_yaml_reads_like_json_dates_and_yes_no_stay_text() -> None:
    parsed = documents.loads(SCENARIO)
    assert parsed.find("compute").inputs["fields"]["day"] == "2024-05-01"
    fields = parsed.find("compute").inputs["fields"]
    assert fields["flags"] == ["yes", "no", None, "1.5e3", 2500.0, "007"]
    assert fields["on"] == "off" and fields["really"] is True


def test_export_import_export_is_byte_identical_and_loads_to_the_same_document(
    tmp_path: Path,
) -> None:
    original = documents.loads(SCENARIO)
    first = documents.dump(original)
    second = documents.dump(documents.loads(first))
    assert first == second
    assert documents.loads(first) == original
    assert first.startswith("schema: cellwright/scenario@1\nname: ")
    path = tmp_path / "out.yaml"
    path.write_text(first, encoding="utf-8")
    assert documents.load(path) == original


json_leaf = (
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(blacklist_characters="{}", blacklist_categories=("Cs",)), max_size=30)
    | st.sampled_from(
        [
            "\x85",
            "a\u2028b",
            "yes",
            "null",
            "1e3",
            "2024-01-01",
            " lead",
            "trail ",
            "#x",
            "a: b",
            "- x",
            "\ufeffbom",
            "\t",
            "",
        ]
    )
)
json_value = st.recursive(
    json_leaf,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.text(st.characters(blacklist_categories=("Cs",)), max_size=10), inner, max_size=4
        )
    ),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    value=json_value,
    name=st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=40).filter(
        str.strip
    ),
)
def test_round_trip_holds_for_any_json_input(value: Any, name: str) -> None:
    data = {
        "name": name,
        "cells": [
            {"id": "t", "kind": "trigger", "app": "manual", "operation": "run_manually"},
            {
                "id": "a",
                "kind": "action",
                "app": "probe",
                "operation": "count",
                "inputs": {"value": value},
            },
        ],
    }
    parsed = documents.parse(data)
    text = documents.dump(parsed)
    again = documents.loads(text)
    assert again == parsed
    assert documents.dump(again) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "name: x\ncells:\n  - id: t\n   kind: trigger\n",
            "not valid YAML — expected <block end>, "
            "but found '<block mapping start>' at line 4, column 4.",
        ),
        ('{"name": "x",\n "cells": [}\n', "not valid JSON — Expecting value at line 2, column 12."),
        ("name: [unclosed\n", "not valid YAML"),
        ("", "a scenario document is a mapping with 'name' and 'cells', got NoneType."),
        ("- a\n- b\n", "got list"),
        ("[1, 2]", "got list"),
    ],
)
def test_syntax_errors_say_where(text: str, expected: str) -> None:
    err = errors_of(text)
    assert err.message.startswith("f.yaml: ")
    assert expected in err.message
    assert err.code == "invalid_document"


@pytest.mark.parametrize(
    ("cells", "field", "words"),
    [
        (
            "  - {id: t, kind: trigger, app: webhook, operation: catch_hook}\n"
            "  - {id: a, kind: bogus, app: x, operation: y}\n",
            "cells[1] (id 'a')",
            "'bogus'",
        ),
        (
            "  - {id: a, kind: action, app: probe, operation: count}\n",
            "cells[0] (id 'a').kind",
            "must be the trigger",
        ),
        (
            "  - {id: t, kind: trigger, app: webhook, operation: catch_hook}\n"
            "  - {id: t2, kind: trigger, app: webhook, operation: catch_hook}\n",
            "cells[1] (id 't2').kind",
            "only the first cell",
        ),
        (
            "  - {id: t, kind: trigger, app: webhook, operation: catch_hook}\n"
            "  - {id: a, kind: action, app: probe, operation: count}\n"
            "  - {id: a, kind: action, app: probe, operation: count}\n",
            "cells[2] (id 'a').id",
            "two cells use the id 'a'",
        ),
        (
            "  - {id: t, kind: trigger, app: webhook, operation: catch_hook}\n"
            "  - {id: a, kind: action, app: probe, operation: count, "
            "inputs: {value: '{{ steps.b.calls }}'}}\n"
            "  - {id: b, kind: action, app: probe, operation: count}\n",
            "cells[1] (id 'a').inputs",
            "refers to steps.b",
        ),
        (
            "  - {id: t, kind: trigger, app: webhook, operation: catch_hook}\n"
            "  - {id: r, kind: condition, branches: [{name: only, cells: []}]}\n",
            "cells[1] (id 'r')",
            "branch 'only' of router 'r' needs rules, or 'fallback: true'",
        ),
        (
            "  - {id: t, kind: trigger, app: webhook, operation: catch_hook}\n"
            "  - {id: r, kind: condition, branches: [{name: b, "
            "fallback: true, cells: [{id: x, kind: action, app: probe}]}]}\n",
            "cells[1] (id 'r').branches[0].cells[0] (id 'x').operation",
            "Field required",
        ),
        ("  - {app: webhook, operation: catch_hook}\n", "cells[0]", "discriminator 'kind'"),
    ],
)
def test_validation_errors_name_the_cell_and_field(cells: str, field: str, words: str) -> None:
    err = errors_of(f"name: x\ncells:\n{cells}")
    [item] = err.errors
    assert item["field"] == field
    assert words in item["message"]
    assert f"f.yaml: {field}: " in err.message


def test_many_errors_are_summarised() -> None:
    cells = "".join(f"  - {{id: a{i}, kind: action, app: probe}}\n" for i in range(10))
    err = errors_of(
        "name: x\ncells:\n  - {id: t, kind: trigger, app: webhook, operation: catch_hook}\n"
        f"{cells}"
    )
    assert len(err.errors) == 10
    assert err.message.endswith("(+2 more)")


def test_load_reports_missing_and_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(DocumentError, match="no such file"):
        documents.load(tmp_path / "missing.yaml")
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes(b"name: \xe9\xff\n")
    with pytest.raises(DocumentError, match="cannot read it"):
        documents.load(bad)
    with pytest.raises(DocumentError, match="cannot read it"):
        documents.load(tmp_path)


def test_node_rows_for_nested_routers() -> None:
    rows = {row["cell_id"]: row for row in documents.node_rows(documents.loads(SCENARIO))}
    assert list(rows) == [
        "hook",
        "compute",
        "route",
        "notify",
        "nested",
        "deep_cell",
        "answer",
        "done",
    ]
    place = {
        k: (r["parent_cell_id"], r["branch"], r["position"], r["type"]) for k, r in rows.items()
    }
    assert place == {
        "hook": (None, None, 0, "trigger"),
        "compute": (None, None, 1, "transformer"),
        "route": (None, None, 2, "condition"),
        "notify": ("route", "big", 0, "action"),
        "nested": ("route", "big", 1, "condition"),
        "deep_cell": ("nested", "deep", 0, "transformer"),
        "answer": ("route", "small", 0, "transformer"),
        "done": (None, None, 3, "condition"),
    }
    assert rows["hook"]["config"] == {}
    assert rows["notify"]["config"] == {"on_error": "continue"}
    assert rows["notify"]["app_id"] == "http" and rows["notify"]["operation"] == "request"
    assert rows["compute"]["name"] == "Compute the total"
    assert rows["route"]["config"] == {"match": "first", "mode": "router"}
    assert rows["route"]["conditions"][0]["branch"] == "big"
    assert rows["route"]["conditions"][1] == {"branch": "small", "fallback": True, "rules": None}
    assert rows["done"]["config"] == {"match": "all", "mode": "filter"}
    assert rows["done"]["conditions"][0]["any"][0]["op"] == "equals"


def test_json_schema_generates_and_validates_documents() -> None:
    schema = documents.json_schema()
    assert schema["$id"].endswith("scenario-1.json")
    assert schema["title"] == "Cellwright scenario"
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    exported = yaml.safe_load(documents.dump(documents.loads(SCENARIO)))
    assert list(validator.iter_errors(exported)) == []
    assert list(validator.iter_errors({"name": "x", "cells": [{"id": "a", "kind": "nope"}]}))
    json.dumps(schema)


RULES = {"all": [{"left": "{{ trigger.n }}", "op": "equals", "right": 1}]}


@pytest.mark.parametrize(
    ("condition", "valid"),
    [
        ({"rules": RULES}, True),
        ({"branches": [{"name": "one", "rules": RULES}, {"name": "rest", "fallback": True}]}, True),
        (
            {"rules": RULES, "branches": [{"name": "one", "rules": RULES}]},
            False,
        ),  # both: filter or router?
        ({}, False),  # neither
        ({"rules": None, "branches": None}, False),
        ({"branches": []}, False),
        ({"branches": [{"name": "one"}]}, False),  # a branch without rules that is not the fallback
        ({"branches": [{"name": "a", "fallback": True}, {"name": "b", "fallback": True}]}, False),
        ({"rules": RULES, "branches": None}, True),
    ],
)
def test_the_json_schema_says_what_a_condition_cell_allows(
    condition: dict[str, Any], valid: bool
) -> None:
    """The published schema and the import agree: a filter has rules, a router branches (at
    least one, each with rules or the one fallback), never both."""
    doc = {
        "name": "x",
        "cells": [
            {"id": "start", "kind": "trigger", "app": "manual", "operation": "run_manually"},
            {"id": "c", "kind": "condition", **condition},
        ],
    }
    schema_errors = list(jsonschema.Draft202012Validator(documents.json_schema()).iter_errors(doc))
    assert (schema_errors == []) is valid, schema_errors
    if valid:
        documents.parse(doc)
    else:
        with pytest.raises(DocumentError):
            documents.parse(doc)


def test_tags_are_normalised_exported_and_imported() -> None:
    text = (
        "name: x\ntags: [Billing, ' slack  alerts ', billing]\ncells:\n"
        "  - {id: t, kind: trigger, app: webhook, operation: catch_hook}\n"
    )
    doc = documents.loads(text)
    assert doc.tags == ["billing", "slack alerts"]  # lower-cased, spaces collapsed, one of each
    exported = documents.dump(doc)
    assert "tags:\n- billing\n- slack alerts\n" in exported
    assert exported.index("name:") < exported.index("tags:") < exported.index("cells:")
    assert (
        documents.loads(exported) == doc and documents.dump(documents.loads(exported)) == exported
    )
    untagged = documents.loads(
        "name: x\ncells:\n  - {id: t, kind: trigger, app: webhook, operation: catch_hook}\n"
    )
    assert "tags" not in documents.dump(untagged)


@pytest.mark.parametrize(
    ("tags", "words"),
    [
        ("['  ']", "a tag is empty"),
        (f"[{'x' * 41}]", "longer than 40 characters"),
        (str(list(range(21))), "at most 20 items"),
    ],
)
def test_bad_tags_say_what_to_do(tags: str, words: str) -> None:
    err = errors_of(
        f"name: x\ntags: {tags}\ncells:\n"
        "  - {id: t, kind: trigger, app: webhook, operation: catch_hook}\n"
    )
    assert err.errors[0]["field"].startswith("tags")
    assert words in err.errors[0]["message"]
