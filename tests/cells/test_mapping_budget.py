"""The work budget: loops, list filters, macros and recursion cannot run away.

The time bounds below are generous guards that a runaway is *stopped* (without the
budget these templates run for hours); they are not performance targets.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any

import pytest

from cells import _mapping_budget as budget
from cells._mapping_budget import MAX_DEPTH, MAX_STEPS
from cells._mapping_env import MappingEnvironment
from cells._mapping_filters import ExpressionError
from cells.mapping import RunBudget, is_light, render, render_async, render_template
from connectors.sdk.errors import MappingError

CONTEXT: dict[str, Any] = {
    "trigger": {"items": [{"name": f"n{i}", "qty": i} for i in range(10_000)]},
    "steps": {},
    "execution": {"id": "run-1"},
}
TOO_MUCH_WORK = (
    f"this expression did too much work (more than {MAX_STEPS:,} loop steps);"
    " simplify the loop or filter the data first"
)
RUNAWAY_BOUND = 5.0  # seconds; a stopped runaway takes well under one


def r(source: str, context: dict[str, Any] | None = None) -> Any:
    return render_template(
        source, CONTEXT if context is None else context, cell_id="fmt", field="body"
    )


def error_of(source: str, context: dict[str, Any] | None = None) -> MappingError:
    started = time.perf_counter()
    with pytest.raises(MappingError) as info:
        r(source, context)
    assert time.perf_counter() - started < RUNAWAY_BOUND
    return info.value


# --- loop steps ------------------------------------------------------------------------


def test_nested_loops_stop_with_a_clear_message() -> None:
    source = "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}"
    error = error_of(source)
    assert error.message == f"Cell 'fmt', field 'body': {source} — {TOO_MUCH_WORK}"
    assert error.code == "mapping_error"
    assert error.details == {"cell_id": "fmt", "field": "body", "expression": source}


def test_a_loop_over_ten_thousand_items_still_works() -> None:
    text = r("{% for item in trigger['items'] %}{{ item.name }}={{ item.qty }};{% endfor %}")
    assert text.startswith("n0=0;n1=1;") and text.endswith("n9999=9999;")
    assert text.count(";") == 10_000


def test_a_loop_over_the_largest_range_is_within_the_budget() -> None:
    # Jinja's sandbox caps range() at MAX_STEPS items: one such loop must still run.
    assert r("{% for i in range(100000) %}{% endfor %}done") == "done"
    assert (
        "more than 100,000 loop steps"
        in error_of(
            "{% for i in range(100000) %}{% endfor %}{% for i in range(1) %}{% endfor %}"
        ).message
    )


def test_the_budget_is_per_evaluation() -> None:
    loop = "{% for i in range(60000) %}{% endfor %}ok"
    # Two fields of one cell, each under the limit, together over it.
    assert render({"a": loop, "b": [loop]}, CONTEXT, cell_id="fmt") == {"a": "ok", "b": ["ok"]}
    # The same compiled template, evaluated again.
    assert r(loop) == r(loop) == "ok"


def test_list_filters_count_every_item_they_take() -> None:
    # range → map → list: each stage takes every item once.
    assert r("{{ range(40000) | map('string') | list | length }}") == 40000
    error = error_of("{{ range(60000) | map('string') | list | length }}")
    assert error.message.endswith(TOO_MUCH_WORK)
    assert error_of("{{ range(100000) | select('in', range(100000) | list) | list }}")
    assert error_of("{% for x in range(100000) | selectattr('real') %}{% endfor %}")


def test_loop_filters_count_the_items_they_skip() -> None:
    assert (
        "loop steps"
        in error_of(
            "{% for a in range(1000) %}{% for b in range(1000) if b < 0 %}{% endfor %}{% endfor %}"
        ).message
    )


# --- macros and recursion ----------------------------------------------------------------


def test_a_macro_calling_itself_stops_at_the_depth_limit() -> None:
    source = "{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}"
    error = error_of(source)
    assert error.message.endswith(
        f"— macros or recursive loops are nested more than {MAX_DEPTH} levels deep;"
        " make sure the recursion stops"
    )


def test_a_recursive_loop_without_end_stops_at_the_depth_limit() -> None:
    error = error_of("{% for x in [1] recursive %}{{ loop([x]) }}{% endfor %}")
    assert f"nested more than {MAX_DEPTH} levels deep" in error.message


def test_shallow_but_exponential_recursion_runs_out_of_steps() -> None:
    # 100,000 macro calls take about half the deadline: on a busy machine (or under
    # coverage) the clock may stop them first — either way a clean error, never a hang
    stopped = (
        TOO_MUCH_WORK,
        "took too long (more than 1 s of work)",
        "s of work in all (setting mapping_",
    )
    macro = "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}"
    message = error_of(macro + "{{ f(40) }}").message
    assert any(why in message for why in stopped), message
    loop = "{% for x in [1, 2] recursive %}{% if loop.depth < 40 %}{{ loop([1, 2]) }}{% endif %}"
    message = error_of(loop + "{% endfor %}").message
    assert any(why in message for why in stopped), message


def test_real_recursion_still_works() -> None:
    tree = {"name": "a", "children": [{"name": "b", "children": [{"name": "c", "children": []}]}]}
    walk = (
        "{% for node in [tree] recursive %}{{ node.name }}"
        "{% if node.children %}({{ loop(node.children) }}){% endif %}{% endfor %}"
    )
    assert r(walk, {"tree": tree}) == "a(b(c))"
    deep = (
        "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{% else %}bottom{% endif %}{% "
        f"endmacro %}}{{{{ f({MAX_DEPTH - 1}) }}}}"
    )
    assert r(deep) == "bottom"
    call_block = "{% macro box() %}[{{ caller() }}]{% endmacro %}{% call box() %}in{% endcall %}"
    assert r(call_block) == "[in]"


def test_data_nested_too_deeply_is_a_clean_error() -> None:
    error = error_of("{{ ('[' * 100000) | from_json }}")
    assert error.message.endswith("— the data or the expression is nested too deeply to evaluate")


# --- time ----------------------------------------------------------------------------------


@pytest.fixture
def short_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(budget, "MAX_SECONDS", 0.001)


@pytest.mark.usefixtures("short_deadline")
@pytest.mark.parametrize(
    "source",
    [
        # cheap steps, but many of them
        "{% for i in range(100000) %}{{ i }}{% endfor %}",
        # few steps, each slow: the clock is read before every filter...
        "{{ trigger.text | urlize | urlize | urlize | urlize | urlize | urlize | length }}",
        # ...and before the filter map() applies to each item
        "{{ ([trigger.text] * 5) | map('urlize') | map('length') | list }}",
    ],
)
def test_slow_work_stops_at_the_deadline(source: str) -> None:
    context = {**CONTEXT, "trigger": {"text": "ab " * 50_000}}
    error = error_of(source, context)
    assert error.message.endswith(
        "— this expression took too long (more than 0.001 s of work);"
        " simplify the loop or filter the data first"
    )


# --- nothing else changes ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            "{% for x in 'ab' %}{{ loop.index }}/{{ loop.length }}{{ loop.last }} {% endfor %}",
            "1/2false 2/2true ",
        ),
        ("{% for x in [] %}{{ x }}{% else %}none{% endfor %}", "none"),
        ("{% for k, v in {'a': 1}.items() %}{{ k }}={{ v }}{% endfor %}", "a=1"),
        ("{% for x in range(6) if x is even %}{{ x }}{% endfor %}", "024"),
        ("{% for x in [3, 1, 2] | sort %}{{ x }}{% endfor %}", "123"),
        ("{% filter upper %}abc{% endfilter %}", "ABC"),
        ("{{ 'abc' | reverse }}", "cba"),
        ("{{ 'abc' | list }}", ["a", "b", "c"]),
        ("{{ [1, 2, 3] | map('string') | join('-') }}", "1-2-3"),
        ("{{ [3, 1, 2] | sort | first }}", 1),
        ("{{ [[1], [2]] | flatten | last }}", 2),
        ("{{ [{'a': 2}, {'a': 1}] | map(attribute='a') | max }}", 2),
        ("{{ [1, 2, 2] | unique | sum }}", 3),
        ("{{ [1, 2, 3] | batch(2) | list }}", [[1, 2], [3]]),
        ("{{ [{'k': 1}, {'k': 1}] | groupby('k') | map(attribute='grouper') | list }}", [1]),
        ("{{ [] | map('string') | list }}", []),
        ("{{ trigger.nope | default([1]) | map('string') | join }}", "1"),
        ("{{ trigger.nope | default('-') }}", "-"),
    ],
)
def test_loops_and_filters_behave_as_before(source: str, expected: Any) -> None:
    assert r(source, {"trigger": {}}) == expected


def test_undefined_input_of_a_list_filter_is_still_reported_as_missing() -> None:
    error = error_of("{{ trigger.nope | map('string') | join(',') }}", {"trigger": {}})
    assert error.message.endswith("'trigger' has no 'nope' (it is empty)")


def test_every_template_of_the_environment_is_instrumented() -> None:
    template = MappingEnvironment().from_string(
        "{% for a in range(100000) %}{% for b in range(2) %}{% endfor %}{% endfor %}"
    )
    with pytest.raises(ExpressionError, match="more than 100,000 loop steps"):
        template.render()


def test_each_context_makes_its_budget_on_first_use() -> None:
    template = MappingEnvironment().from_string("{{ 1 }}")
    first, second = template.new_context(), template.new_context()
    assert isinstance(first.budget, budget.WorkBudget)
    assert first.budget is first.budget and second.budget is not first.budget


def test_templates_cannot_name_the_internal_filters() -> None:
    error = error_of(f"{{{{ [1] | {budget.STEPS_FILTER} }}}}")
    assert "syntax error" in error.message


# --- time per cell and per run -------------------------------------------------------------

# Ten clock checks (160 loop steps) per field; the fake clock below makes each 0.05 s.
TEN_CHECKS = "{% for i in range(160) %}{% endfor %}ok"


@pytest.fixture
def fake_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every reading of the budget's clock is 0.05 s of work later than the last."""
    readings = itertools.count()
    monkeypatch.setattr(budget, "clock", lambda: next(readings) * 0.05)


@pytest.mark.usefixtures("fake_clock")
def test_a_cell_has_a_budget_over_all_its_fields() -> None:
    fields = {f"f{i}": TEN_CHECKS for i in range(4)}
    limits = RunBudget(run_seconds=100, cell_seconds=1.2).cell()
    with pytest.raises(MappingError) as info:
        render(fields, CONTEXT, cell_id="heavy", limits=limits)
    # each field alone is within its own second; the third passes the cell's 1.2 s
    assert info.value.message == (
        f"Cell 'heavy', field 'f2': {TEN_CHECKS} — the mappings of this cell used more than"
        " 1.2 s of work in all (setting mapping_cell_seconds); simplify the expressions or"
        " filter the data first"
    )
    # without a cell budget the same fields all run
    assert render(fields, CONTEXT, cell_id="heavy") == {f"f{i}": "ok" for i in range(4)}


@pytest.mark.usefixtures("fake_clock")
def test_a_run_has_a_budget_over_all_its_cells() -> None:
    run = RunBudget(run_seconds=1.5, cell_seconds=1.2)
    assert render({"a": TEN_CHECKS, "b": TEN_CHECKS}, CONTEXT, cell_id="one", limits=run.cell())
    with pytest.raises(MappingError) as info:
        render({"a": TEN_CHECKS, "b": TEN_CHECKS}, CONTEXT, cell_id="two", limits=run.cell())
    assert info.value.message == (
        f"Cell 'two', field 'a': {TEN_CHECKS} — the mappings of this run used more than"
        " 1.5 s of work in all (setting mapping_run_seconds); simplify the expressions or"
        " filter the data first"
    )


@pytest.mark.usefixtures("fake_clock")
def test_the_evaluation_limit_still_applies_within_a_generous_cell() -> None:
    limits = RunBudget(run_seconds=100, cell_seconds=100).cell()
    source = "{% for i in range(1000) %}{% endfor %}"
    with pytest.raises(MappingError) as info:
        render_template(source, CONTEXT, cell_id="c", field="f", limits=limits)
    assert info.value.message.endswith(
        "this expression took too long (more than 1 s of work);"
        " simplify the loop or filter the data first"
    )


def test_paths_and_comparisons_are_light_everything_else_is_heavy() -> None:
    assert is_light({"a": "{{ trigger.body.id }}", "b": ["Hi {{ trigger.name }}!", 3]})
    assert is_light("{{ trigger.n > 3 and not trigger.flag }}")
    # common arithmetic and one-pass filters over bounded values stay on the loop
    assert is_light(
        {
            "n": "{{ steps.c1.n + 1 }}",
            "d": "{{ trigger.name | default('x') | upper }}",
            "l": "{{ trigger.items | length }}",
        }
    )
    assert is_light("{{ -trigger.n - 2 if trigger.n is number else 0 }}")
    assert is_light(
        "{{ item * 2 }} {{ trigger.total / 3 }} {{ trigger.n // 2 }} {{ trigger.n % 7 }}"
    )
    for source in (
        "{{ trigger.items | map('upper') | list }}",
        "{{ trigger.items | sort }}",
        "{% for i in trigger.items %}{% endfor %}",
        "{{ trigger.a ~ trigger.b }}",
        "{{ trigger.a ** 2 }}",
        "{{ trigger.a.upper() }}",
        "{{ broken",
    ):
        assert not is_light({"x": source}), source


async def test_a_heavy_render_leaves_the_event_loop_free() -> None:
    """Other coroutines keep running while a heavy field renders (ticks, not seconds)."""
    heavy = {f"f{i}": "{% for i in range(90000) %}{{ i % 7 }}{% endfor %}" for i in range(3)}
    task = asyncio.ensure_future(render_async(heavy, CONTEXT, cell_id="heavy"))
    ticks = 0
    while not task.done():
        ticks += 1
        await asyncio.sleep(0)
    assert len((await task)["f0"]) == 90000
    # rendered on the loop, the task would finish within its first step (one tick)
    assert ticks > 20


async def test_light_values_render_on_the_event_loop() -> None:
    task = asyncio.ensure_future(
        render_async({"a": "{{ trigger.n }}"}, {"trigger": {"n": 1}}, cell_id="c")
    )
    await asyncio.sleep(0)
    assert task.done() and task.result() == {"a": 1}
