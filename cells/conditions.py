"""Condition rules: ``left op right`` comparisons grouped with ``all`` / ``any``.

Both sides are mapping values (usually ``"{{ trigger.body.status }}"``), rendered
against the run context before comparing. Coercion is explicit and documented in
docs/mapping.md: numeric operators need numbers on both sides, ``equals`` compares
numbers numerically and anything else as text, date operators parse ISO 8601 / epoch
values. A side that cannot be coerced makes the rule false with a reason; it never
raises. Only a broken rule (bad template, invalid regular expression, one that runs
longer than ``REGEX_TIMEOUT``) raises MappingError.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import StrEnum
from functools import lru_cache
from typing import Annotated, Any

import regex
from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

from cells._coerce import dump_json, is_empty, parse_datetime, parse_number, show, to_text
from cells.mapping import CellBudget, render
from connectors.sdk.errors import MappingError

MAX_PATTERN = 1_000
"""Longest regular expression ``matches_regex`` accepts, in characters."""
MAX_REGEX_INPUT = 100_000
"""Longest text ``matches_regex`` searches; longer text makes the rule false."""
REGEX_TIMEOUT = 0.25
"""Seconds one ``matches_regex`` search may run. A pattern with nested repetition such
as ``(a|aa)+$`` can backtrack for hours on a short text, blocking every other run;
real patterns on real text take microseconds."""


class Operator(StrEnum):
    """How a rule compares its left side with its right side."""

    EQUALS = "equals"
    NOT_EQUALS = "not_equals"
    CONTAINS = "contains"
    NOT_CONTAINS = "not_contains"
    STARTS_WITH = "starts_with"
    ENDS_WITH = "ends_with"
    GT = "gt"
    GTE = "gte"
    LT = "lt"
    LTE = "lte"
    EXISTS = "exists"
    NOT_EXISTS = "not_exists"
    IS_EMPTY = "is_empty"
    IS_NOT_EMPTY = "is_not_empty"
    IN_LIST = "in_list"
    NOT_IN_LIST = "not_in_list"
    MATCHES_REGEX = "matches_regex"
    BEFORE = "before"
    AFTER = "after"


# These look only at the left side, and a path that does not resolve is an answer
# ("it does not exist"), not an error.
UNARY_OPERATORS = frozenset(
    {Operator.EXISTS, Operator.NOT_EXISTS, Operator.IS_EMPTY, Operator.IS_NOT_EMPTY}
)


class Rule(BaseModel):
    """One comparison: ``left op right``."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"left": "{{ trigger.body.status }}", "op": "equals", "right": "open"},
                {"left": "{{ trigger.body.total }}", "op": "gte", "right": 100},
            ]
        },
    )

    left: Any = Field(
        description="The value to test, usually a mapping such as {{ trigger.body.status }}.",
    )
    op: Operator = Field(description="The comparison to make.")
    right: Any = Field(
        default=None,
        description=(
            "The value to compare with (may be a mapping). Ignored by exists, not_exists,"
            " is_empty and is_not_empty; a list or comma-separated text for in_list."
        ),
    )
    case_sensitive: bool = Field(
        default=True,
        description="Compare text with case (equals, contains, starts/ends_with, in_list, regex).",
    )


def _item_kind(value: Any) -> str:
    if isinstance(value, RuleGroup | list):
        return "group"
    if isinstance(value, Mapping) and ("all" in value or "any" in value):
        return "group"
    return "rule"


RuleItem = Annotated[
    Annotated[Rule, Tag("rule")] | Annotated["RuleGroup", Tag("group")],
    Discriminator(_item_kind),
]


class RuleGroup(BaseModel):
    """Rules combined with ``all`` (every one passes) or ``any`` (at least one passes).

    Items are rules or nested groups. A bare JSON list is shorthand for ``all``.
    """

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "all": [
                        {"left": "{{ trigger.body.status }}", "op": "equals", "right": "open"},
                        {
                            "any": [
                                {"left": "{{ trigger.body.total }}", "op": "gt", "right": 100},
                                {"left": "{{ trigger.body.vip }}", "op": "equals", "right": True},
                            ]
                        },
                    ]
                }
            ]
        },
    )

    all: list[RuleItem] | None = Field(
        default=None, description="Passes when every item passes (an empty list passes)."
    )
    any: list[RuleItem] | None = Field(
        default=None, description="Passes when at least one item passes (an empty list fails)."
    )

    @model_validator(mode="before")
    @classmethod
    def _bare_list_means_all(cls, data: Any) -> Any:
        return {"all": data} if isinstance(data, list) else data

    @model_validator(mode="after")
    def _exactly_one(self) -> RuleGroup:
        if (self.all is None) == (self.any is None):
            got = "both" if self.all is not None else "neither"
            raise ValueError(f"a rule group needs exactly one of 'all' or 'any' (got {got})")
        return self


class Evaluation(BaseModel):
    """The outcome of a rule group, with the reasoning shown to the user."""

    passed: bool = Field(description="Whether the group passed.")
    rules: list[dict[str, Any]] = Field(
        description=(
            "Each evaluated rule in order: path (e.g. all[1].any[0]), left, op and right as"
            " rendered, result, and reason when false. Rules skipped by short-circuit"
            " (after the first failure in all, the first success in any) are not listed."
        )
    )


def evaluate(
    group: RuleGroup,
    context: Mapping[str, Any],
    *,
    cell_id: str,
    limits: CellBudget | None = None,
) -> Evaluation:
    """Render and evaluate ``group`` against the run context.

    ``limits``: the seconds of mapping work left to the cell and its run.
    Raises MappingError for a broken rule: a template that fails to render (except a
    missing path under exists/is_empty and their negations), or a regular expression
    that is invalid, longer than ``MAX_PATTERN`` or slower than ``REGEX_TIMEOUT``.
    """
    explained: list[dict[str, Any]] = []
    passed = _evaluate_group(group, "", context, cell_id, explained, limits)
    return Evaluation(passed=passed, rules=explained)


def _evaluate_group(
    group: RuleGroup,
    path: str,
    context: Mapping[str, Any],
    cell_id: str,
    explained: list[dict[str, Any]],
    limits: CellBudget | None,
) -> bool:
    need_all = group.all is not None
    items = group.all if group.all is not None else group.any or []
    for index, item in enumerate(items):
        item_path = f"{path}.{'all' if need_all else 'any'}[{index}]".lstrip(".")
        if isinstance(item, RuleGroup):
            result = _evaluate_group(item, item_path, context, cell_id, explained, limits)
        else:
            result = _evaluate_rule(item, item_path, context, cell_id, explained, limits)
        if result != need_all:
            return result  # all: first failure decides; any: first success decides
    return need_all


def _evaluate_rule(
    rule: Rule,
    path: str,
    context: Mapping[str, Any],
    cell_id: str,
    explained: list[dict[str, Any]],
    limits: CellBudget | None,
) -> bool:
    unary = rule.op in UNARY_OPERATORS
    left = render(
        rule.left,
        context,
        cell_id=cell_id,
        field=f"{path}.left",
        missing_as_none=unary,
        limits=limits,
    )
    right = (
        None
        if unary
        else render(rule.right, context, cell_id=cell_id, field=f"{path}.right", limits=limits)
    )
    try:
        result, reason = compare(left, rule.op, right, case_sensitive=rule.case_sensitive)
    except _BrokenRule as exc:
        raise MappingError(
            f"Cell {cell_id!r}, rule {path} ({rule.op.value}): {exc}",
            cell_id=cell_id,
            field=path,
        ) from None
    entry: dict[str, Any] = {
        "path": path,
        "left": left,
        "op": rule.op.value,
        "right": right,
        "result": result,
    }
    if not result:
        entry["reason"] = reason
    explained.append(entry)
    return result


class _BrokenRule(Exception):
    """The rule itself is wrong (not the data): reported as a MappingError."""


Outcome = tuple[bool, str]


def compare(left: Any, op: Operator, right: Any, *, case_sensitive: bool = True) -> Outcome:
    """Apply ``op`` to already-rendered values; return (result, explanation).

    The explanation describes the outcome either way, e.g. ``'abc' is not a number``.
    """
    operator = _OPERATORS[Operator(op)]
    return operator(left, right, case_sensitive)


def _fold(text: str, case_sensitive: bool) -> str:
    return text if case_sensitive else text.casefold()


def _text(value: Any) -> str:
    # Lists and dicts compare by content, so key order must not matter.
    if isinstance(value, dict | list | tuple):
        return dump_json(value, sort_keys=True)
    return to_text(value)


def _equals(left: Any, right: Any, case_sensitive: bool) -> Outcome:
    left_number, right_number = parse_number(left), parse_number(right)
    if left_number is not None and right_number is not None:
        same, how = left_number == right_number, "as numbers"
    else:
        same = _fold(_text(left), case_sensitive) == _fold(_text(right), case_sensitive)
        how = "as text"
    verb = "equals" if same else "does not equal"
    return same, f"{show(left)} {verb} {show(right)} ({how})"


def _contains(left: Any, right: Any, case_sensitive: bool) -> Outcome:
    if isinstance(left, list | tuple):
        found = any(_equals(item, right, case_sensitive)[0] for item in left)
        return found, f"the list {'includes' if found else 'does not include'} {show(right)}"
    if isinstance(left, Mapping):
        wanted = _fold(_text(right), case_sensitive)
        found = any(_fold(_text(key), case_sensitive) == wanted for key in left)
        return found, f"the object {'has' if found else 'has no'} key {show(right)}"
    found = _fold(_text(right), case_sensitive) in _fold(_text(left), case_sensitive)
    return found, f"{show(left)} {'contains' if found else 'does not contain'} {show(right)}"


def _text_edge(method: str, verb: str) -> Callable[[Any, Any, bool], Outcome]:
    def check(left: Any, right: Any, case_sensitive: bool) -> Outcome:
        if isinstance(left, Mapping | list | tuple):
            return False, f"{verb} needs text on the left, got {_kind(left)}"
        text, edge = _fold(_text(left), case_sensitive), _fold(_text(right), case_sensitive)
        ok = bool(getattr(text, method)(edge))
        return ok, f"{show(left)} {'does' if ok else 'does not'} {verb} {show(right)}"

    return check


def _numeric(symbol: str, words: str) -> Callable[[Any, Any, bool], Outcome]:
    test: Callable[[Any, Any], bool] = {
        ">": lambda a, b: a > b,
        ">=": lambda a, b: a >= b,
        "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b,
    }[symbol]

    def check(left: Any, right: Any, case_sensitive: bool) -> Outcome:
        first, second = parse_number(left), parse_number(right)
        if first is None or second is None:
            return False, f"{show(left if first is None else right)} is not a number"
        ok = test(first, second)
        return ok, f"{first} is {'' if ok else 'not '}{words} {second}"

    return check


def _dates(after: bool) -> Callable[[Any, Any, bool], Outcome]:
    def check(left: Any, right: Any, case_sensitive: bool) -> Outcome:
        first, second = parse_datetime(left), parse_datetime(right)
        if first is None or second is None:
            return False, f"{show(left if first is None else right)} is not a date"
        ok = first > second if after else first < second
        word = "after" if after else "before"
        return ok, f"{first.isoformat()} is {'' if ok else 'not '}{word} {second.isoformat()}"

    return check


def _exists(left: Any, right: Any, case_sensitive: bool) -> Outcome:
    if left is None:
        return False, "the value is missing or null"
    return True, f"the value exists ({show(left)})"


def _empty(left: Any, right: Any, case_sensitive: bool) -> Outcome:
    if is_empty(left):
        return True, f"the value is empty ({show(left)})"
    return False, f"{show(left)} is not empty"


def _list_items(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return list(value)
    if isinstance(value, str):
        return [item.strip() for item in value.split(",")]
    return [value]


def _in_list(left: Any, right: Any, case_sensitive: bool) -> Outcome:
    items = _list_items(right)
    found = any(_equals(left, item, case_sensitive)[0] for item in items)
    return found, f"{show(left)} is {'' if found else 'not '}in {show(items)}"


@lru_cache(maxsize=256)
def _compile_pattern(pattern: str, case_sensitive: bool) -> regex.Pattern[str]:
    # The ``regex`` package (its default V0 syntax is Python's ``re`` syntax plus a
    # few extensions) because, unlike ``re``, it can stop a search after a timeout.
    if len(pattern) > MAX_PATTERN:
        raise _BrokenRule(f"the regular expression is longer than {MAX_PATTERN:,} characters")
    try:
        return regex.compile(pattern, 0 if case_sensitive else regex.IGNORECASE)
    except regex.error as exc:
        raise _BrokenRule(f"invalid regular expression {show(pattern)}: {exc}") from None


def _matches(left: Any, right: Any, case_sensitive: bool) -> Outcome:
    pattern = _compile_pattern(_text(right), case_sensitive)
    if isinstance(left, Mapping | list | tuple):
        return False, f"matches_regex needs text on the left, got {_kind(left)}"
    text = _text(left)
    if len(text) > MAX_REGEX_INPUT:
        return False, f"the text is longer than {MAX_REGEX_INPUT:,} characters"
    try:
        ok = pattern.search(text, timeout=REGEX_TIMEOUT) is not None
    except TimeoutError:
        raise _BrokenRule(
            f"the pattern took too long on this text (over {REGEX_TIMEOUT:g} s); it may"
            " backtrack catastrophically — simplify it"
        ) from None
    return ok, f"{show(left)} {'matches' if ok else 'does not match'} {show(pattern.pattern)}"


def _kind(value: Any) -> str:
    return "an object" if isinstance(value, Mapping) else "a list"


def _negate(operator: Callable[[Any, Any, bool], Outcome]) -> Callable[[Any, Any, bool], Outcome]:
    def check(left: Any, right: Any, case_sensitive: bool) -> Outcome:
        result, reason = operator(left, right, case_sensitive)
        return not result, reason

    return check


_OPERATORS: dict[Operator, Callable[[Any, Any, bool], Outcome]] = {
    Operator.EQUALS: _equals,
    Operator.NOT_EQUALS: _negate(_equals),
    Operator.CONTAINS: _contains,
    Operator.NOT_CONTAINS: _negate(_contains),
    Operator.STARTS_WITH: _text_edge("startswith", "start with"),
    Operator.ENDS_WITH: _text_edge("endswith", "end with"),
    Operator.GT: _numeric(">", "greater than"),
    Operator.GTE: _numeric(">=", "greater than or equal to"),
    Operator.LT: _numeric("<", "less than"),
    Operator.LTE: _numeric("<=", "less than or equal to"),
    Operator.EXISTS: _exists,
    Operator.NOT_EXISTS: _negate(_exists),
    Operator.IS_EMPTY: _empty,
    Operator.IS_NOT_EMPTY: _negate(_empty),
    Operator.IN_LIST: _in_list,
    Operator.NOT_IN_LIST: _negate(_in_list),
    Operator.MATCHES_REGEX: _matches,
    Operator.BEFORE: _dates(after=False),
    Operator.AFTER: _dates(after=True),
}
