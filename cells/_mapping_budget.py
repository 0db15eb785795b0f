"""The work budget of one mapping evaluation: loop steps, nesting depth, time and data.

The size limits (``_mapping_limits``) stop memory bombs, but CPU time needs its own
cap: ``{% for a in range(100000) %}{% for b in range(100000) %}…`` or a macro that
calls itself twice per level is tiny to write and would block the event loop, and so
every other run and the workspace, for hours. Each evaluation of a template string
therefore gets a :class:`WorkBudget` (carried by its :class:`BudgetedContext`), and
:func:`instrument` rewrites every parsed template so that the work goes through it:

* each ``{% for %}`` iterates through :meth:`WorkBudget.iterate` (the template's own
  iterable; the levels of a ``recursive`` loop are wrapped where ``loop(…)`` is
  called, see ``MappingEnvironment.call``);
* the filters that walk their input item by item (``ITERATING_FILTERS``: ``map``,
  ``select``, ``sort``…) get it through :meth:`WorkBudget.iterate` as well;
* every other filter first checks the clock, and so does every filter that ``map``
  applies to an item (``MappingEnvironment.call_filter``), so slow filters over large
  text stop too;
* every macro call and recursive-loop call is a step and one level of nesting.

* every ``~`` goes through an internal filter that measures its parts first;
* what each evaluation builds (text operations, lists and objects turned into text) is
  charged to :meth:`WorkBudget.charge`, up to ``MAX_MADE`` characters in all.

A step is one item taken by a loop or such a filter, or one macro call. Past
``MAX_STEPS`` steps, ``MAX_SECONDS`` of work or ``MAX_DEPTH`` levels the evaluation
fails with :class:`ExpressionError`, which the mapping module reports like any other
mapping error (cell, field, expression).

Time is CPU time of the rendering thread (:data:`clock`), so a busy server does not
make an expression fail. Besides its own second, an evaluation may be given a
:class:`CellBudget`: the seconds left to its cell and its run (the settings
``mapping_cell_seconds`` and ``mapping_run_seconds``), so forty heavy fields cannot
add up to forty seconds. The limits are documented in docs/mapping.md.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

from jinja2 import nodes
from jinja2.runtime import Context, Undefined
from jinja2.utils import pass_context
from jinja2.visitor import NodeTransformer

from cells._mapping_filters import ExpressionError
from cells._mapping_limits import check_size, check_value
from cells._mapping_sizes import MAX_MADE, measure

MAX_STEPS = 100_000
"""Loop steps one evaluation may take (items through loops and list filters, macro calls).

Jinja's own sandbox caps ``range()`` at 100,000 items, so one loop over the largest
range still runs; a loop over a payload of 10,000 items piped through two or three
filters uses 20,000–40,000. A step of a typical loop body costs 1–3 µs, so the cap
alone keeps an evaluation around 0.1–0.3 s; ``MAX_SECONDS`` catches expensive steps.
"""
MAX_SECONDS = 1.0
"""CPU seconds one evaluation may use."""
MAX_DEPTH = 50
"""Nested macro calls and recursive-loop levels; far below Python's recursion limit
(each level takes about six interpreter frames), far above any real tree walk."""
_CLOCK_EVERY = 16
"""Steps between two clock readings. Filters read the clock themselves, so a step
without one costs at most a few milliseconds (a method over a megabyte of text); 16 of
them stay well under the deadline's precision, and a reading every 16 steps costs
about 3 ns per step, against about 50 ns for the step counting itself."""

STEPS_FILTER = "cellwright:steps"
"""Internal filter that routes an iterable through the budget. The colon makes it a
name no template can write; only :func:`instrument` inserts it."""
CLOCK_FILTER = "cellwright:clock"
"""Internal filter that checks the clock and returns its input unchanged."""
TEXT_FILTER = "cellwright:text"
"""Internal filter before a filter that turns its input into text: checks the clock and
charges the input's size to the evaluation."""
CONCAT_FILTER = "cellwright:concat"
"""Internal filter that replaces ``~``: measures the parts before joining them."""
LIMITS_KEY = "cellwright:limits"
"""Key of the :class:`CellBudget` in an evaluation's variables (no template can name it)."""

clock = time.thread_time
"""The clock of every time limit: CPU seconds of the current thread. Mapping work
runs in worker threads (``cells.mapping``); waiting for the interpreter lock while
other threads run is not counted. Tests replace it to control time."""

ITERATING_FILTERS = frozenset(
    {
        "batch",
        "groupby",
        "join",
        "list",
        "map",
        "max",
        "min",
        "reject",
        "rejectattr",
        "select",
        "selectattr",
        "slice",
        "sort",
        "sum",
        "unique",
    }
)
"""Builtin filters that walk their input item by item, so any iterable can replace it.
(``reverse``, ``first``, ``last``, ``dictsort``, ``items``, ``flatten``… need the real
list, string or object; they are bounded by its size.)"""

LIGHT_FILTERS = ITERATING_FILTERS | frozenset(
    {
        "abs",
        "attr",
        "count",
        "d",
        "default",
        "dictsort",
        "first",
        "flatten",
        "float",
        "from_json",
        "int",
        "items",
        "last",
        "length",
        "pick",
        "random",
        "reverse",
        "round",
    }
)
"""Filters that never turn a list or object into text (the rest do, or may: ``string``,
``tojson``, ``upper``, ``md5``…, so their input's size is charged first)."""

_T = TypeVar("_T")


class RunBudget:
    """Seconds of mapping work one run may use, in all and per cell."""

    __slots__ = ("cell_seconds", "run_seconds", "used")

    def __init__(self, *, run_seconds: float, cell_seconds: float) -> None:
        self.run_seconds = run_seconds
        self.cell_seconds = cell_seconds
        self.used = 0.0

    def cell(self) -> CellBudget:
        """A fresh per-cell allowance that also draws on this run's."""
        return CellBudget(self)


class CellBudget:
    """Seconds of mapping work left to one cell and to its run."""

    __slots__ = ("run", "used")

    def __init__(self, run: RunBudget) -> None:
        self.run = run
        self.used = 0.0

    def allowance(self) -> tuple[float, str]:
        """The time an evaluation may take now, and which budget sets it."""
        run = self.run
        cell_left = run.cell_seconds - self.used
        run_left = run.run_seconds - run.used
        if run_left < cell_left and run_left < MAX_SECONDS:
            return run_left, "run"
        if cell_left < MAX_SECONDS:
            return cell_left, "cell"
        return MAX_SECONDS, "evaluation"

    def spend(self, seconds: float) -> None:
        """Count ``seconds`` of work against the cell and the run."""
        self.used += seconds
        self.run.used += seconds

    def too_long(self, reason: str) -> str:
        """The message for a cell or run that used up its time."""
        if reason == "run":
            return (
                f"the mappings of this run used more than {self.run.run_seconds:g} s of work"
                " in all (setting mapping_run_seconds); simplify the expressions or filter"
                " the data first"
            )
        return (
            f"the mappings of this cell used more than {self.run.cell_seconds:g} s of work"
            " in all (setting mapping_cell_seconds); simplify the expressions or filter"
            " the data first"
        )


class WorkBudget:
    """Steps, nesting depth, deadline and data built of one evaluation."""

    __slots__ = ("deadline", "depth", "limits", "made", "next_check", "reason", "started", "steps")

    def __init__(self, limits: CellBudget | None = None) -> None:
        self.steps = 0
        self.depth = 0
        self.made = 0
        self.next_check = min(_CLOCK_EVERY, MAX_STEPS + 1)
        self.limits = limits
        allowance, self.reason = (
            (MAX_SECONDS, "evaluation") if limits is None else limits.allowance()
        )
        self.started = clock()
        self.deadline = self.started + allowance

    def iterate(self, iterable: Iterable[_T]) -> Iterator[_T]:
        """Yield the items of ``iterable``, counting one step each."""
        for item in iterable:
            self.steps += 1
            if self.steps >= self.next_check:
                self.checkpoint()
            yield item

    def step(self) -> None:
        """Count one step (a macro call)."""
        self.steps += 1
        if self.steps >= self.next_check:
            self.checkpoint()

    def checkpoint(self) -> None:
        """Fail past ``MAX_STEPS`` or the deadline; schedule the next check."""
        if self.steps > MAX_STEPS:
            raise ExpressionError(
                f"this expression did too much work (more than {MAX_STEPS:,} loop steps);"
                " simplify the loop or filter the data first"
            )
        self.check_clock()
        self.next_check = min(self.steps + _CLOCK_EVERY, MAX_STEPS + 1)

    def check_clock(self) -> None:
        """Fail once the evaluation passed ``MAX_SECONDS`` or its cell's or run's time."""
        if clock() > self.deadline:
            if self.limits is not None and self.reason != "evaluation":
                raise ExpressionError(self.limits.too_long(self.reason))
            raise ExpressionError(
                f"this expression took too long (more than {MAX_SECONDS:g} s of work);"
                " simplify the loop or filter the data first"
            )

    def charge(self, size: int, what: str) -> None:
        """Count ``size`` characters about to be built; fail past ``MAX_MADE`` in all."""
        self.made += size
        if self.made > MAX_MADE:
            raise ExpressionError(
                f"{what}: this expression built more than {MAX_MADE:,} characters of text"
                " and data in all; build the text once (with join) or filter the data first"
            )

    def finish(self) -> None:
        """Count this evaluation's time against its cell and run."""
        if self.limits is not None:
            self.limits.spend(clock() - self.started)

    def enter(self) -> None:
        """Start a macro call or a recursive-loop level: one step, one level deeper."""
        self.step()
        if self.depth >= MAX_DEPTH:
            raise ExpressionError(
                f"macros or recursive loops are nested more than {MAX_DEPTH} levels deep;"
                " make sure the recursion stops"
            )
        self.depth += 1

    def leave(self) -> None:
        """End a macro call or a recursive-loop level."""
        self.depth -= 1


class BudgetedContext(Context):
    """Jinja's template context with the :class:`WorkBudget` of its evaluation.

    ``Template.new_context`` builds one per evaluation, so the budget starts afresh
    each time; macros and loops of that evaluation share it. The budget is made on
    first use (the first loop step, filter or macro call): most expressions are a
    plain path and never need one.
    """

    _budget: WorkBudget | None = None

    @property
    def budget(self) -> WorkBudget:
        """This evaluation's budget, made on first use."""
        budget = self._budget
        if budget is None:
            budget = self._budget = WorkBudget(self.parent.get(LIMITS_KEY))
        return budget

    def finish_budget(self) -> None:
        """Count the evaluation's time against its cell and run, if it used a budget."""
        if self._budget is not None:
            self._budget.finish()


def charge_text(context: Context, value: Any, what: str) -> None:
    """Charge what turning ``value`` into text will build (strings cost their length).

    A list or object larger than ``MAX_VALUE`` is refused first: ``[big, big]``
    nested a few times is tiny in memory but huge as text.
    """
    if isinstance(context, BudgetedContext):
        if isinstance(value, str):
            size = len(value)
        else:
            size = measure(value)
            check_value(size, what)
        context.budget.charge(size, what)


@pass_context
def _steps_filter(context: BudgetedContext, value: Any) -> Any:
    # An undefined value passes unchanged, so the filter after it reports it as usual.
    if isinstance(value, Undefined):
        return value
    return context.budget.iterate(value)


@pass_context
def _clock_filter(context: BudgetedContext, value: Any) -> Any:
    context.budget.check_clock()
    return value


@pass_context
def _text_filter(context: BudgetedContext, value: Any) -> Any:
    context.budget.check_clock()
    if not isinstance(value, Undefined):
        charge_text(context, value, "turning a value into text")
    return value


@pass_context
def _concat_filter(context: BudgetedContext, parts: list[Any]) -> str:
    # What Jinja's ``str_join`` does for ``a ~ b``, after measuring: ``str()`` of a big
    # list would otherwise build its text first and be refused only afterwards.
    memo: dict[int, int] = {}
    size = sum(len(part) if isinstance(part, str) else measure(part, memo) for part in parts)
    check_size(size, "'~'")
    context.budget.charge(size, "'~'")
    return "".join([str(part) for part in parts])


INTERNAL_FILTERS = {
    STEPS_FILTER: _steps_filter,
    CLOCK_FILTER: _clock_filter,
    TEXT_FILTER: _text_filter,
    CONCAT_FILTER: _concat_filter,
}


def instrument(tree: nodes.Template) -> nodes.Template:
    """Route the loops, filters and ``~`` of a parsed template through the budget.

    Changes ``tree`` in place. Being context filters, the inserted nodes also keep
    Jinja from folding constant expressions at compile time, so no work escapes the
    budget by running early.
    """
    found: list[nodes.Node] = list(tree.find_all((nodes.For, nodes.Filter)))
    for node in found:
        if isinstance(node, nodes.For):
            node.iter = _wrap(node.iter, STEPS_FILTER, tree)
        elif isinstance(node, nodes.Filter) and node.node is not None:
            # ``node.node`` is None in ``{% filter %}`` blocks: their body is text.
            if node.name in ITERATING_FILTERS:
                name = STEPS_FILTER
            elif node.name in LIGHT_FILTERS:
                name = CLOCK_FILTER
            else:
                name = TEXT_FILTER
            node.node = _wrap(node.node, name, tree)
    _ReplaceConcat(tree).visit(tree)
    return tree


class _ReplaceConcat(NodeTransformer):
    """``a ~ b ~ c`` becomes ``[a, b, c] | cellwright:concat``."""

    def __init__(self, tree: nodes.Template) -> None:
        self.tree = tree

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        parts = nodes.List(node.nodes, lineno=node.lineno)
        parts.environment = self.tree.environment
        return _wrap(parts, CONCAT_FILTER, self.tree)


def _wrap(expr: nodes.Node, name: str, tree: nodes.Template) -> nodes.Filter:
    wrapped = nodes.Filter(expr, name, [], [], None, None, lineno=expr.lineno)
    wrapped.environment = tree.environment
    return wrapped
