"""Condition rules: models, operators, coercion, explanations."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from cells.conditions import (
    MAX_PATTERN,
    MAX_REGEX_INPUT,
    REGEX_TIMEOUT,
    Evaluation,
    Operator,
    Rule,
    RuleGroup,
    compare,
    evaluate,
)
from connectors.sdk.errors import MappingError

CONTEXT: dict[str, Any] = {
    "trigger": {
        "body": {"status": "Open", "total": "1,234.50", "tags": ["vip", "new"], "blank": "  "},
        "count": 3,
        "nothing": None,
        "when": "2024-01-02T10:00:00Z",
    },
    "steps": {"lookup": {"found": True, "ids": [1, 2, 3]}},
    "execution": {"id": "run-1"},
}


def check(left: Any, op: str, right: Any = None, case_sensitive: bool = True) -> tuple[bool, str]:
    return compare(left, Operator(op), right, case_sensitive=case_sensitive)


def passes(*rules: dict[str, Any], context: dict[str, Any] | None = None) -> bool:
    group = RuleGroup.model_validate(list(rules))
    return evaluate(group, CONTEXT if context is None else context, cell_id="filter").passed


# --- models --------------------------------------------------------------------------


def test_bare_list_means_all_and_nests() -> None:
    group = RuleGroup.model_validate(
        [{"left": 1, "op": "equals", "right": 1}, [{"left": 1, "op": "exists"}], {"any": []}]
    )
    assert group.any is None and group.all is not None
    assert isinstance(group.all[0], Rule)
    assert isinstance(group.all[1], RuleGroup) and group.all[1].all is not None
    assert isinstance(group.all[2], RuleGroup) and group.all[2].any == []


def test_group_round_trips_through_json() -> None:
    data = {"any": [{"left": "{{ x }}", "op": "gt", "right": 2}, {"all": []}]}
    group = RuleGroup.model_validate(data)
    again = RuleGroup.model_validate_json(group.model_dump_json(exclude_none=True))
    assert again == group
    assert group.model_dump(exclude_none=True) == {
        "any": [{"left": "{{ x }}", "op": "gt", "right": 2, "case_sensitive": True}, {"all": []}]
    }


@pytest.mark.parametrize(
    ("data", "got"),
    [({"all": [], "any": []}, "both"), ({}, "neither"), ({"all": None}, "neither")],
)
def test_group_needs_exactly_one_of_all_or_any(data: dict[str, Any], got: str) -> None:
    with pytest.raises(ValidationError) as info:
        RuleGroup.model_validate(data)
    assert f"a rule group needs exactly one of 'all' or 'any' (got {got})" in str(info.value)


def test_nested_group_errors_are_located() -> None:
    with pytest.raises(ValidationError) as info:
        RuleGroup.model_validate({"all": [{"any": [{"left": 1, "op": "nope"}]}]})
    errors = info.value.errors()
    assert errors[0]["loc"] == ("all", 0, "group", "any", 0, "rule", "op")
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        Rule.model_validate({"left": 1, "op": "exists", "rigth": 2})
    with pytest.raises(ValidationError, match="Field required"):
        Rule.model_validate({"op": "exists"})


def test_json_schema_describes_every_field() -> None:
    schema = RuleGroup.model_json_schema()
    rule = schema["$defs"]["Rule"]
    for name in ("left", "op", "right", "case_sensitive"):
        assert rule["properties"][name]["description"]
    assert schema["$defs"]["Operator"]["enum"] == [op.value for op in Operator]
    assert len(Operator) == 19
    group = schema["$defs"]["RuleGroup"]
    assert group["properties"]["all"]["description"]
    assert group["examples"]
    assert Evaluation.model_json_schema()["properties"]["rules"]["description"]


# --- equals / not_equals -------------------------------------------------------------


@pytest.mark.parametrize(
    ("left", "right", "expected", "how"),
    [
        ("42", 42, True, "as numbers"),
        ("1,234.50", 1234.5, True, "as numbers"),
        (Decimal("2.50"), "2.5", True, "as numbers"),
        ("007", 7, True, "as numbers"),
        (1, 1.0, True, "as numbers"),
        ("abc", "abc", True, "as text"),
        ("abc", "ABC", False, "as text"),
        (True, "true", True, "as text"),
        (True, 1, False, "as text"),
        (False, 0, False, "as text"),
        (None, "", True, "as text"),
        (None, None, True, "as text"),
        ([1, "a"], [1, "a"], True, "as text"),
        ({"a": 1, "b": 2}, {"b": 2, "a": 1}, True, "as text"),
        ({1: "a", "b": 2}, {1: "a", "b": 2}, True, "as text"),
        ("12", "12.5", False, "as numbers"),
    ],
)
def test_equals(left: Any, right: Any, expected: bool, how: str) -> None:
    result, reason = check(left, "equals", right)
    assert result is expected
    assert reason.endswith(f"({how})")
    assert check(left, "not_equals", right)[0] is (not expected)


def test_equals_reasons_and_case() -> None:
    assert check("open", "equals", "closed") == (False, "'open' does not equal 'closed' (as text)")
    assert check("42", "equals", 42) == (True, "'42' equals 42 (as numbers)")
    assert check("Open", "equals", "OPEN", case_sensitive=False)[0]
    assert check("Straße", "equals", "STRASSE", case_sensitive=False)[0]


# --- text operators ------------------------------------------------------------------


def test_contains_on_text_lists_and_objects() -> None:
    assert check("Hello world", "contains", "lo w") == (True, "'Hello world' contains 'lo w'")
    assert check("Hello", "contains", "HELLO") == (False, "'Hello' does not contain 'HELLO'")
    assert check("Hello", "contains", "HELLO", case_sensitive=False)[0]
    assert check(12345, "contains", 234)[0]
    assert check(["a", "B"], "contains", "b") == (False, "the list does not include 'b'")
    assert check(["a", "B"], "contains", "b", case_sensitive=False) == (
        True,
        "the list includes 'b'",
    )
    assert check(["1", "2"], "contains", 2)[0]
    assert check({"id": 1}, "contains", "id") == (True, "the object has key 'id'")
    assert check({"id": 1}, "contains", "ID") == (False, "the object has no key 'ID'")
    assert check({"id": 1}, "contains", "ID", case_sensitive=False)[0]
    assert check(None, "contains", "x") == (False, "null does not contain 'x'")
    assert check(["a"], "not_contains", "b")[0]
    assert not check("abc", "not_contains", "b")[0]


def test_starts_and_ends_with() -> None:
    assert check("invoice-42", "starts_with", "invoice") == (
        True,
        "'invoice-42' does start with 'invoice'",
    )
    assert check("invoice-42", "starts_with", "INV") == (
        False,
        "'invoice-42' does not start with 'INV'",
    )
    assert check("invoice-42", "starts_with", "INV", case_sensitive=False)[0]
    assert check("report.PDF", "ends_with", ".pdf", case_sensitive=False)[0]
    assert check(1234, "ends_with", 34)[0]
    assert check(["a"], "starts_with", "a") == (
        False,
        "start with needs text on the left, got a list",
    )
    assert check({"a": 1}, "ends_with", "a") == (
        False,
        "end with needs text on the left, got an object",
    )


# --- numbers -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("op", "left", "right", "expected"),
    [
        ("gt", 5, 3, True),
        ("gt", 3, 3, False),
        ("gte", 3, 3, True),
        ("lt", "1,000", "999.5", False),
        ("lte", "2.5", 2.5, True),
        ("lt", -1, "0", True),
        ("gt", Decimal("1.5"), 1, True),
    ],
)
def test_numeric_operators(op: str, left: Any, right: Any, expected: bool) -> None:
    assert check(left, op, right)[0] is expected


def test_numeric_reasons() -> None:
    assert check(3, "gt", 5) == (False, "3 is not greater than 5")
    assert check(5, "gt", 3) == (True, "5 is greater than 3")
    assert check(3, "lte", 2) == (False, "3 is not less than or equal to 2")
    assert check("abc", "gt", 1) == (False, "'abc' is not a number")
    assert check(1, "lt", "abc") == (False, "'abc' is not a number")
    assert check(True, "gte", 0) == (False, "true is not a number")
    assert check(None, "lt", 0) == (False, "null is not a number")
    assert check([1], "gt", 0) == (False, "[1] is not a number")


# --- existence and emptiness ---------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "empty"),
    [
        (None, True),
        ("", True),
        ("   \n\t", True),
        ([], True),
        ({}, True),
        (" x ", False),
        (0, False),
        (False, False),
        ([None], False),
        ({"a": None}, False),
    ],
)
def test_is_empty(value: Any, empty: bool) -> None:
    assert check(value, "is_empty")[0] is empty
    assert check(value, "is_not_empty")[0] is (not empty)


def test_exists() -> None:
    assert check(0, "exists") == (True, "the value exists (0)")
    assert check("", "exists")[0]
    assert check(None, "exists") == (False, "the value is missing or null")
    assert check(None, "not_exists")[0]


@pytest.mark.parametrize(
    ("op", "left", "expected"),
    [
        ("exists", "{{ trigger.body.status }}", True),
        ("exists", "{{ trigger.body.missing }}", False),
        ("exists", "{{ trigger.missing.deeper }}", False),
        ("exists", "{{ steps.not_run.id }}", False),
        ("exists", "{{ trigger.nothing }}", False),
        ("not_exists", "{{ trigger.missing.deeper }}", True),
        ("is_empty", "{{ trigger.missing }}", True),
        ("is_empty", "{{ trigger.body.blank }}", True),
        ("is_not_empty", "{{ trigger.missing }}", False),
        ("is_not_empty", "{{ trigger.body.tags }}", True),
    ],
)
def test_unary_operators_treat_a_missing_path_as_missing(
    op: str, left: str, expected: bool
) -> None:
    assert passes({"left": left, "op": op, "right": "{{ ignored.entirely }}"}) is expected


def test_other_operators_fail_on_a_missing_path() -> None:
    with pytest.raises(MappingError) as info:
        passes({"left": "{{ trigger.body.stauts }}", "op": "equals", "right": "Open"})
    assert info.value.message == (
        "Cell 'filter', field 'all[0].left': {{ trigger.body.stauts }} — 'trigger.body' has no"
        " 'stauts'. Available: blank, status, tags, total. Did you mean 'status'?"
    )
    with pytest.raises(MappingError, match=r"field 'all\[0\].any\[0\].right'"):
        passes({"any": [{"left": 1, "op": "equals", "right": "{{ steps.nope }}"}]})


# --- lists ---------------------------------------------------------------------------


def test_in_list() -> None:
    assert check("b", "in_list", ["a", "b"]) == (True, '\'b\' is in ["a", "b"]')
    assert check("b", "in_list", "a, b ,c")[0]
    assert check("B", "in_list", "a,b") == (False, '\'B\' is not in ["a", "b"]')
    assert check("B", "in_list", "a,b", case_sensitive=False)[0]
    assert check(2, "in_list", "1,2,3")[0]
    assert check("2.0", "in_list", [1, 2])[0]
    assert check("x", "in_list", "x")[0]
    assert check(3, "in_list", 3)[0]
    assert check("a", "in_list", None) == (False, "'a' is not in []")
    assert check("a", "not_in_list", None)[0]
    assert check("d", "not_in_list", "a,b,c")[0]
    assert not check("a", "not_in_list", ("a",))[0]


# --- regex ---------------------------------------------------------------------------


def test_matches_regex() -> None:
    assert check("order #123", "matches_regex", r"#\d+") == (True, "'order #123' matches '#\\\\d+'")
    assert check("abc", "matches_regex", "^b") == (False, "'abc' does not match '^b'")
    assert check("ABC", "matches_regex", "^abc$", case_sensitive=False)[0]
    assert not check("ABC", "matches_regex", "^abc$")[0]
    assert check(12345, "matches_regex", r"^\d{5}$")[0]
    assert check(["a"], "matches_regex", "a") == (
        False,
        "matches_regex needs text on the left, got a list",
    )
    long_text = "a" * (MAX_REGEX_INPUT + 1)
    assert check(long_text, "matches_regex", "a") == (
        False,
        "the text is longer than 100,000 characters",
    )


def test_bad_regex_is_a_mapping_error_naming_the_rule() -> None:
    with pytest.raises(MappingError) as info:
        passes(
            {"left": "x", "op": "equals", "right": "x"},
            {"left": "x", "op": "matches_regex", "right": "(a"},
        )
    assert info.value.message == (
        "Cell 'filter', rule all[1] (matches_regex): invalid regular expression '(a':"
        " missing ) at position 2"
    )
    assert info.value.details == {"cell_id": "filter", "field": "all[1]"}
    with pytest.raises(
        MappingError,
        match=r"rule all\[0\] \(matches_regex\): the regular expression is longer than 1,000",
    ):
        passes({"left": "x", "op": "matches_regex", "right": "a" * (MAX_PATTERN + 1)})


@pytest.mark.parametrize("pattern", [r"(a|aa)+$", r"(a|a)*$"])
def test_a_catastrophic_regex_is_stopped_with_a_clear_message(pattern: str) -> None:
    started = time.perf_counter()
    with pytest.raises(MappingError) as info:
        passes({"left": "a" * 100 + "b", "op": "matches_regex", "right": pattern})
    # A guard that the search is stopped (unbounded, it runs for years), not a target.
    assert time.perf_counter() - started < 5
    assert info.value.message == (
        f"Cell 'filter', rule all[0] (matches_regex): the pattern took too long on this text"
        f" (over {REGEX_TIMEOUT:g} s); it may backtrack catastrophically — simplify it"
    )
    assert info.value.details == {"cell_id": "filter", "field": "all[0]"}


@pytest.mark.parametrize(
    ("text", "pattern", "expected"),
    [
        ("Order 42", r"(?P<id>\d+)", True),  # Python's re syntax is unchanged
        ("Order 42", r"(?i)^order", True),
        ("ab", r"(?<=a)b", True),
        ("Grüße", r"^\p{L}+$", True),  # the regex package adds Unicode properties
    ],
)
def test_regex_syntax(text: str, pattern: str, expected: bool) -> None:
    assert check(text, "matches_regex", pattern)[0] is expected


# --- dates ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("left", "op", "right", "expected"),
    [
        ("2024-01-01", "before", "2024-01-02", True),
        ("2024-01-02T00:00:00", "after", "2024-01-01T23:59:59Z", True),
        ("2024-01-02T01:00:00+02:00", "before", "2024-01-02T00:00:00Z", True),
        ("2024-01-02T00:00:00", "before", "2024-01-02T00:00:00+00:00", False),
        ("2024-01-02T00:00:00", "after", "2024-01-02T00:00:00+00:00", False),
        (1700000000, "before", "2023-11-14T22:13:21Z", True),
        (1700000000000, "after", "2023-11-14T22:13:19Z", True),
        ("1700000000", "after", 1600000000, True),
        ("Tue, 02 Jan 2024 03:04:05 GMT", "before", "2024-01-02T03:04:06Z", True),
        (datetime(2024, 1, 1), "before", date(2024, 1, 2), True),
        (
            datetime(2024, 1, 1, 1, tzinfo=timezone(timedelta(hours=2))),
            "before",
            "2024-01-01T00:00:00Z",
            True,
        ),
    ],
)
def test_date_operators(left: Any, op: str, right: Any, expected: bool) -> None:
    assert check(left, op, right)[0] is expected


def test_date_reasons() -> None:
    assert check("2024-01-02", "before", "2024-01-01") == (
        False,
        "2024-01-02T00:00:00+00:00 is not before 2024-01-01T00:00:00+00:00",
    )
    assert check("soon", "after", "2024-01-01") == (False, "'soon' is not a date")
    assert check("2024-01-01", "after", True) == (False, "true is not a date")
    assert check(None, "before", "2024-01-01") == (False, "null is not a date")


# --- evaluate ------------------------------------------------------------------------


def test_evaluate_explains_each_rule_as_rendered() -> None:
    group = RuleGroup.model_validate(
        {
            "all": [
                {
                    "left": "{{ trigger.body.status }}",
                    "op": "equals",
                    "right": "open",
                    "case_sensitive": False,
                },
                {
                    "any": [
                        {
                            "left": "{{ trigger.body.total }}",
                            "op": "gt",
                            "right": "{{ trigger.count * 1000 }}",
                        },
                        {"left": "{{ trigger.body.tags }}", "op": "contains", "right": "vip"},
                    ]
                },
                {"left": "{{ trigger.when }}", "op": "before", "right": "2025-01-01"},
            ]
        }
    )
    result = evaluate(group, CONTEXT, cell_id="filter")
    assert result.passed is True
    assert result.rules == [
        {"path": "all[0]", "left": "Open", "op": "equals", "right": "open", "result": True},
        {
            "path": "all[1].any[0]",
            "left": "1,234.50",
            "op": "gt",
            "right": 3000,
            "result": False,
            "reason": "1234.5 is not greater than 3000",
        },
        {
            "path": "all[1].any[1]",
            "left": ["vip", "new"],
            "op": "contains",
            "right": "vip",
            "result": True,
        },
        {
            "path": "all[2]",
            "left": "2024-01-02T10:00:00Z",
            "op": "before",
            "right": "2025-01-01",
            "result": True,
        },
    ]


def test_short_circuit_lists_only_evaluated_rules_and_guards_later_ones() -> None:
    guarded = RuleGroup.model_validate(
        [
            {"left": "{{ trigger.body.amount }}", "op": "exists"},
            {"left": "{{ trigger.body.amount }}", "op": "gt", "right": 10},
        ]
    )
    result = evaluate(guarded, CONTEXT, cell_id="filter")
    assert result.passed is False
    assert result.rules == [
        {
            "path": "all[0]",
            "left": None,
            "op": "exists",
            "right": None,
            "result": False,
            "reason": "the value is missing or null",
        }
    ]
    any_group = RuleGroup.model_validate(
        {"any": [{"left": 1, "op": "equals", "right": 1}, {"left": "{{ nope }}", "op": "equals"}]}
    )
    result = evaluate(any_group, CONTEXT, cell_id="filter")
    assert result.passed and [rule["path"] for rule in result.rules] == ["any[0]"]


def test_empty_groups() -> None:
    assert evaluate(RuleGroup(all=[]), CONTEXT, cell_id="c") == Evaluation(passed=True, rules=[])
    assert evaluate(RuleGroup(any=[]), CONTEXT, cell_id="c") == Evaluation(passed=False, rules=[])


def test_native_values_flow_into_rules() -> None:
    assert passes({"left": "{{ steps.lookup.found }}", "op": "equals", "right": True})
    assert passes({"left": "{{ steps.lookup.ids }}", "op": "contains", "right": "2"})
    assert passes(
        {"left": "{{ trigger.count }}", "op": "in_list", "right": "{{ steps.lookup.ids }}"}
    )
    assert passes({"left": "Status: {{ trigger.body.status }}", "op": "ends_with", "right": "Open"})


def test_compare_accepts_operator_names() -> None:
    assert compare(1, "equals", "1") == (True, "1 equals '1' (as numbers)")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        compare(1, "is", 1)  # type: ignore[arg-type]


# --- properties ----------------------------------------------------------------------

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10)
    | st.sampled_from(["42", "4.2e1", "1,234", " 7 ", "abc", "ABC", "", "true"])
)
values = (
    scalars
    | st.lists(scalars, max_size=3)
    | st.dictionaries(st.text(max_size=3), scalars, max_size=3)
)
numbers = st.integers(-(10**6), 10**6) | st.floats(-1e6, 1e6, allow_nan=False)


@given(values, values, st.booleans())
def test_not_equals_is_the_negation_of_equals(left: Any, right: Any, case: bool) -> None:
    assert check(left, "not_equals", right, case)[0] is (not check(left, "equals", right, case)[0])


@given(values, values, st.booleans())
def test_negated_operators(left: Any, right: Any, case: bool) -> None:
    for positive, negative in [
        ("contains", "not_contains"),
        ("in_list", "not_in_list"),
        ("exists", "not_exists"),
        ("is_empty", "is_not_empty"),
    ]:
        assert check(left, negative, right, case)[0] is (not check(left, positive, right, case)[0])


@given(values, values)
def test_equals_is_symmetric(left: Any, right: Any) -> None:
    assert check(left, "equals", right)[0] is check(right, "equals", left)[0]


@given(numbers, numbers)
def test_numeric_antisymmetry(a: float, b: float) -> None:
    assert not (check(a, "gt", b)[0] and check(b, "gt", a)[0])
    assert check(a, "gt", b)[0] is check(b, "lt", a)[0]
    assert check(a, "gte", b)[0] is check(b, "lte", a)[0]
    assert check(a, "gte", b)[0] is (check(a, "gt", b)[0] or check(a, "equals", b)[0])
    assert check(a, "gt", b)[0] is (not check(a, "lte", b)[0])


@given(st.integers(-(10**12), 10**12))
def test_formatted_numbers_equal_their_value(n: int) -> None:
    assert check(f"{n:,}", "equals", n)[0]
    assert check(f"{n:,}.00", "gte", n)[0] and check(f"{n:,}.00", "lte", n)[0]


@given(st.lists(st.booleans(), max_size=6), st.booleans())
def test_groups_agree_with_python_all_and_any(outcomes: list[bool], use_all: bool) -> None:
    rules = [{"left": "yes" if ok else "no", "op": "equals", "right": "yes"} for ok in outcomes]
    group = RuleGroup.model_validate({"all" if use_all else "any": rules})
    result = evaluate(group, {}, cell_id="c")
    assert result.passed is (all(outcomes) if use_all else any(outcomes))
    # Short-circuit: exactly the rules up to the deciding one were evaluated, truthfully.
    assert [rule["result"] for rule in result.rules] == outcomes[: len(result.rules)]
    assert all(("reason" in rule) is (not rule["result"]) for rule in result.rules)


@given(st.lists(st.lists(st.booleans(), max_size=3), max_size=3))
def test_nested_any_of_all(matrix: list[list[bool]]) -> None:
    group = RuleGroup.model_validate(
        {
            "any": [
                {"all": [{"left": ok, "op": "equals", "right": True} for ok in row]}
                for row in matrix
            ]
        }
    )
    assert evaluate(group, {}, cell_id="c").passed is any(all(row) for row in matrix)


@given(st.datetimes(timezones=st.just(UTC)), st.datetimes(timezones=st.just(UTC)))
def test_before_and_after_are_mirror_images(a: datetime, b: datetime) -> None:
    assert check(a.isoformat(), "before", b)[0] is check(b, "after", a.isoformat())[0]
    assert not (check(a, "before", b)[0] and check(a, "after", b)[0])
