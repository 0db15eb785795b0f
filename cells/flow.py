"""What runs next: the control-flow rules of a scenario, in one place.

A run walks the cells after the trigger in document order. The rules:

- a **router** runs the cells of the branches it took, branch after branch in document
  order, before the cells that follow it (nesting works the same way);
- which branches a router takes (:func:`branches_taken`): every branch whose rules pass
  (``match: all``) or only the first (``match: first``); the ``fallback`` branch when no
  other matched;
- a **filter** that does not pass stops the list it is in: the whole run at the top
  level, only its branch inside a router;
- a cell that **fails** stops the run, unless it is an action or transformer with
  ``on_error: continue`` (its error becomes its output and the run goes on) or with an
  **error route** (``on_error: {cells, then, fallback}``): the route's cells run next, in
  the scope ``(cell id, ERROR_ROUTE)``, then per ``then``: ``continue`` goes on with the
  cells after the failing one; ``handled`` drops them (the run, or the loop item, ends
  completed); ``stop`` drops them and the plan ends failed (:attr:`Plan.fails_with`).
  Retries come first: only a cell that failed for good reaches :func:`advance`. A
  condition whose rules cannot be evaluated always stops the run;
- a **loop** is one step of its list: it runs its cells once per item, each item
  following its own plan (:func:`body`), whose scope ends with ``(loop id, LOOP_BODY)``.
  Inside an item the same rules hold: a filter stops that item, a failure fails the
  item, and a failed item fails the loop (``cells/loops.py`` drives the items).

The engine's runner and the notebook's Step both follow a :class:`Plan` with
:func:`advance`; neither has its own copy of these rules. Pure: no I/O, no engine
imports — cells in, decisions out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from cells.models import (
    ERROR_ROUTE,
    LOOP_BODY,
    ActionCell,
    ConditionCell,
    ErrorRoute,
    LoopCell,
    ScenarioDocument,
    StepCell,
    TransformerCell,
    TriggerCell,
)

__all__ = [
    "COMPLETED",
    "FAILED",
    "CellOutcome",
    "Completed",
    "Decision",
    "Effect",
    "Failed",
    "Filtered",
    "Pending",
    "Plan",
    "Routed",
    "Scope",
    "advance",
    "body",
    "branches_taken",
    "in_loop_body",
    "continues_after_failure",
    "error_route",
    "route_error",
    "route_of",
    "outcome",
    "start",
    "steps_by_id",
]

Scope = tuple[tuple[str, str], ...]
"""Where a cell sits: its ``(router id, branch name)`` and ``(loop id, LOOP_BODY)``
parents, outermost first (``()`` at the top)."""


@dataclass(frozen=True)
class Pending:
    """A cell waiting to run, and the branch it runs in."""

    cell_id: str
    scope: Scope = ()


@dataclass(frozen=True)
class Plan:
    """The cells still to run, in order. Immutable: :func:`advance` returns the next plan."""

    pending: tuple[Pending, ...] = ()
    fails_with: str | None = None
    """The cell whose error route (``then: stop``) is running: once the pending cells
    have run, the run (or the loop item) fails with that cell's error."""

    @property
    def next(self) -> Pending | None:
        """The cell that runs next, or None when the run has nothing left to run."""
        return self.pending[0] if self.pending else None


@dataclass(frozen=True)
class Completed:
    """An action or transformer finished."""


@dataclass(frozen=True)
class Failed:
    """A cell failed (for good: retries are the runner's business, before this)."""


@dataclass(frozen=True)
class Filtered:
    """A filter was evaluated; ``passed`` says whether its rules held."""

    passed: bool


@dataclass(frozen=True)
class Routed:
    """A router was evaluated; ``branches`` are the names it took, as it reported them."""

    branches: tuple[str, ...]


CellOutcome = Completed | Failed | Filtered | Routed
COMPLETED = Completed()
FAILED = Failed()

Effect = Literal[
    "next",
    "continued",
    "failed",
    "error_route",
    "filter_stopped_run",
    "filter_stopped_branch",
    "routed",
]
"""What an outcome did to the run: ``next`` (go on), ``continued`` (failed, on_error:
continue), ``failed`` (the run stops, failed), ``error_route`` (failed; its error route
runs next), ``filter_stopped_run`` /
``filter_stopped_branch`` (a filter did not pass), ``routed`` (a router chose)."""


@dataclass(frozen=True)
class Decision:
    """What one cell's outcome means for the run."""

    plan: Plan
    """The cells still to run (empty when the run ends)."""
    effect: Effect
    skipped: tuple[Pending, ...] = ()
    """Cells that will not run because of this outcome, at the level they were dropped (a
    skipped router's branches are not listed again): the rest of a list a filter stopped,
    the cells of the branches a router did not take, or everything left after a failure
    (a broken router's branches included)."""
    message: str = ""
    """One sentence for people ("Filter 'gate' did not pass: the run stops here."); empty
    when the run simply goes on."""

    @property
    def stops_run(self) -> bool:
        """The run ends here, failed."""
        return self.effect == "failed"


def start(doc: ScenarioDocument) -> Plan:
    """The plan of a new run: the cells after the trigger, in order."""
    return Plan(tuple(Pending(cell.id) for cell in doc.cells if not isinstance(cell, TriggerCell)))


def body(loop: LoopCell, scope: Scope = ()) -> Plan:
    """The plan of one item of ``loop`` (which sits at ``scope``): its cells, in order."""
    inner = (*scope, (loop.id, LOOP_BODY))
    return Plan(tuple(Pending(cell.id, inner) for cell in loop.cells))


def in_loop_body(scope: Scope) -> bool:
    """Whether a cell at ``scope`` sits directly in a loop's cells (not in a branch)."""
    return bool(scope) and scope[-1][1] == LOOP_BODY


def steps_by_id(doc: ScenarioDocument) -> dict[str, StepCell]:
    """Every cell but the trigger, by id: what a :class:`Pending` names."""
    return {cell.id: cell for cell, _ in doc.walk() if not isinstance(cell, TriggerCell)}


def branches_taken(router: ConditionCell, passed: Mapping[str, bool]) -> list[str]:
    """The branches a router takes, given whether each rule-bearing branch's rules passed.

    ``match: all`` takes every passing branch, ``match: first`` only the first in
    document order; the fallback branch is taken when none passed. A router without a
    fallback may take no branch at all.
    """
    branches = router.branches or []
    matched = [b.name for b in branches if not b.fallback and passed.get(b.name, False)]
    if router.match == "first":
        matched = matched[:1]
    return matched or [b.name for b in branches if b.fallback]


def continues_after_failure(cell: StepCell) -> bool:
    """Whether the run goes on after ``cell`` failed: an action or transformer with
    ``on_error: continue``. A condition has no ``on_error``: broken rules stop the run."""
    return isinstance(cell, ActionCell | TransformerCell) and cell.on_error == "continue"


def error_route(cell: StepCell) -> ErrorRoute | None:
    """The error route of an action or transformer, if it has one."""
    if isinstance(cell, ActionCell | TransformerCell) and isinstance(cell.on_error, ErrorRoute):
        return cell.on_error
    return None


def route_error(cell_id: str, recorded: Mapping[str, Any] | None) -> dict[str, Any]:
    """The ``error`` an error route's cells see: ``code``, ``message``, ``cell_id`` (the
    failing cell) and ``details``, from the failing cell's recorded error."""
    data = recorded or {}
    return {
        "code": data.get("code", "error"),
        "message": data.get("message", "failed"),
        "cell_id": cell_id,
        "details": data.get("details") or {},
    }


def route_of(scope: Scope) -> str | None:
    """The failing cell whose error route a cell at ``scope`` runs in (the innermost), or None."""
    for cell_id, branch in reversed(scope):
        if branch == ERROR_ROUTE:
            return cell_id
    return None


def outcome(cell: StepCell, *, ok: bool, output: Any) -> CellOutcome:
    """A cell's outcome read from its result: ``ok`` (status completed) and its output
    (a filter's ``{"passed": ...}``, a router's ``{"branches": [...]}``)."""
    if not ok:
        return FAILED
    if isinstance(cell, ConditionCell):
        data = output or {}
        if cell.is_router:
            return Routed(tuple(data.get("branches") or ()))
        return Filtered(bool(data.get("passed")))
    return COMPLETED


def advance(plan: Plan, cell: StepCell, result: CellOutcome) -> Decision:
    """What runs after ``cell`` — the plan's next cell — ended with ``result``."""
    current = plan.next
    if current is None or current.cell_id != cell.id:
        raise ValueError(f"cell '{cell.id}' is not the next cell of the plan")
    if isinstance(result, Filtered | Routed) and not (
        isinstance(cell, ConditionCell) and cell.is_router == isinstance(result, Routed)
    ):
        raise ValueError(f"cell '{cell.id}' cannot have the outcome {result!r}")
    scope, rest = current.scope, plan.pending[1:]
    if isinstance(result, Failed):
        route = error_route(cell)
        if route is not None:
            inner = (*scope, (cell.id, ERROR_ROUTE))
            routed = tuple(Pending(c.id, inner) for c in route.cells)
            if route.then == "continue":
                return Decision(
                    Plan((*routed, *rest), plan.fails_with),
                    "error_route",
                    message=f"'{cell.id}' failed: its error route runs, then the run continues.",
                )
            ends = "the run stops, failed" if route.then == "stop" else "the run ends as handled"
            if route.then == "handled" and in_loop_body(scope):
                ends = "this item ends as handled"
            return Decision(
                Plan(routed, cell.id if route.then == "stop" else None),
                "error_route",
                skipped=rest,
                message=f"'{cell.id}' failed: its error route runs, then {ends}.",
            )
        if continues_after_failure(cell):
            return Decision(
                Plan(rest, plan.fails_with),
                "continued",
                message=f"'{cell.id}' failed; it records the error and the run continues.",
            )
        held = tuple(p for _, p in _branch_cells(cell, scope))  # a broken router's branches
        return Decision(
            Plan(),
            "failed",
            skipped=(*held, *rest),
            message=f"'{cell.id}' failed: the run stops here.",
        )
    if isinstance(result, Filtered) and not result.passed:
        # the rest of this list stops (and whatever its cells would have started)
        kept = tuple(p for p in rest if p.scope[: len(scope)] != scope)
        dropped = tuple(p for p in rest if p.scope[: len(scope)] == scope)
        where = (
            "the run stops here."
            if not scope
            else "this item stops here."
            if in_loop_body(scope)
            else "this branch stops here."
        )
        effect: Effect = "filter_stopped_run" if not scope else "filter_stopped_branch"
        return Decision(
            Plan(kept, plan.fails_with),
            effect,
            skipped=dropped,
            message=f"Filter '{cell.id}' did not pass: {where}",
        )
    if isinstance(result, Routed):
        cells = _branch_cells(cell, scope)
        inserted = tuple(p for name, p in cells if name in result.branches)
        skipped = tuple(p for name, p in cells if name not in result.branches)
        message = f"Router '{cell.id}' took: {', '.join(result.branches) or 'no branch'}."
        return Decision(
            Plan((*inserted, *rest), plan.fails_with), "routed", skipped=skipped, message=message
        )
    return Decision(Plan(rest, plan.fails_with), "next")


def _branch_cells(cell: StepCell, scope: Scope) -> list[tuple[str, Pending]]:
    """``(branch name, pending cell)`` for the cells of a router's
    branches (none for other cells)."""
    if not isinstance(cell, ConditionCell):
        return []
    return [
        (b.name, Pending(c.id, (*scope, (cell.id, b.name))))
        for b in cell.branches or []
        for c in b.cells
    ]
