"""The work budget of one mapping evaluation: loop steps, nesting depth and time.

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

A step is one item taken by a loop or such a filter, or one macro call. Past
``MAX_STEPS`` steps, ``MAX_SECONDS`` of work or ``MAX_DEPTH`` levels the evaluation
fails with :class:`ExpressionError`, which the mapping module reports like any other
mapping error (cell, field, expression). The limits are documented in docs/mapping.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from time import perf_counter
from typing import Any, TypeVar

from jinja2 import nodes
from jinja2.runtime import Context, Undefined
from jinja2.utils import pass_context

from cells._mapping_filters import ExpressionError

MAX_STEPS = 100_000
"""Loop steps one evaluation may take (items through loops and list filters, macro calls).

Jinja's own sandbox caps ``range()`` at 100,000 items, so one loop over the largest
range still runs; a loop over a payload of 10,000 items piped through two or three
filters uses 20,000–40,000. A step of a typical loop body costs 1–3 µs, so the cap
alone keeps an evaluation around 0.1–0.3 s; ``MAX_SECONDS`` catches expensive steps.
"""
MAX_SECONDS = 1.0
"""Wall-clock time one evaluation may run (the event loop is blocked meanwhile)."""
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

_T = TypeVar("_T")


class WorkBudget:
    """Steps, nesting depth and deadline of one evaluation."""

    __slots__ = ("deadline", "depth", "next_check", "steps")

    def __init__(self) -> None:
        self.steps = 0
        self.depth = 0
        self.next_check = min(_CLOCK_EVERY, MAX_STEPS + 1)
        self.deadline = perf_counter() + MAX_SECONDS

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
        """Fail once the evaluation has run longer than ``MAX_SECONDS``."""
        if perf_counter() > self.deadline:
            raise ExpressionError(
                f"this expression took too long (more than {MAX_SECONDS:g} s of work);"
                " simplify the loop or filter the data first"
            )

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
            budget = self._budget = WorkBudget()
        return budget


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


INTERNAL_FILTERS = {STEPS_FILTER: _steps_filter, CLOCK_FILTER: _clock_filter}


def instrument(tree: nodes.Template) -> nodes.Template:
    """Route the loops and filters of a parsed template through the budget (in place).

    Being context filters, the inserted nodes also keep Jinja from folding constant
    expressions at compile time, so no work escapes the budget by running early.
    """
    found: list[nodes.Node] = list(tree.find_all((nodes.For, nodes.Filter)))
    for node in found:
        if isinstance(node, nodes.For):
            node.iter = _wrap(node.iter, STEPS_FILTER, tree)
        elif isinstance(node, nodes.Filter) and node.node is not None:
            # ``node.node`` is None in ``{% filter %}`` blocks: their body is text.
            name = STEPS_FILTER if node.name in ITERATING_FILTERS else CLOCK_FILTER
            node.node = _wrap(node.node, name, tree)
    return tree


def _wrap(expr: nodes.Node, name: str, tree: nodes.Template) -> nodes.Filter:
    wrapped = nodes.Filter(expr, name, [], [], None, None, lineno=expr.lineno)
    wrapped.environment = tree.environment
    return wrapped
