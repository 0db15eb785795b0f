"""Loops and aggregates: running a loop cell's items, folding their results.

A loop cell (``kind: loop``) renders its ``items`` to a list and runs its cells once
per item. Inside an item the context is the loop's own (``trigger``, ``steps`` of the
cells before the loop, ``execution``) plus ``item``, ``index`` and
``loops.<loop id>.item/index`` for every enclosing loop; the item's cells add their
outputs to a copy of ``steps``, so items never see one another. What runs next inside
an item is :mod:`cells.flow`'s decision (a filter stops the item, a failure fails it).

:func:`run_loop` drives the items; how one cell of an item runs is the caller's
(``RunStep``): the engine's runner records and resumes each cell run, the workspace's
"Run cell" and Step just run it (:func:`cells.run.run_cell`). Items run in order, or
``concurrency`` at a time; the first failed item (lowest index) fails the loop, no new
item starts after a failure, and items already running finish.

The loop's output is ``{"count": n, "items": [{"index", "item", "steps", "stopped"}]}``;
an aggregate cell (``kind: aggregate``) folds it with :func:`fold`.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cells import flow, mapping
from cells.mapping import CellBudget
from cells.models import (
    LOOP_BODY,
    AggregateCell,
    AggregateMode,
    ConditionCell,
    LoopCell,
    StepCell,
    TriggerCell,
)
from connectors.sdk import CellwrightError, InvalidInputError
from connectors.sdk.errors import error_from_exception

__all__ = [
    "DEFAULT_MAX_ITEMS",
    "ItemFailedError",
    "ItemRun",
    "LoopRun",
    "RunStep",
    "aggregate",
    "body_ids",
    "cells_of",
    "fold",
    "item_context",
    "item_path",
    "loop_items",
    "run_loop",
]

DEFAULT_MAX_ITEMS = 1000


RunStep = Callable[[StepCell, dict[str, Any], flow.Scope, str], Awaitable[flow.CellOutcome]]
"""Runs (or restores) one cell of an item — ``(cell, item context, scope, item path)`` —
puts its output into ``context["steps"][cell.id]`` and returns its outcome; raises to
fail the item."""


class ItemFailedError(CellwrightError):
    """A cell of a loop's item failed and the item stopped."""

    code = "item_failed"


@dataclass
class ItemRun:
    """One item of a loop: what it ran and how it ended."""

    index: int
    item: Any
    path: str
    """The item's place: its index, after the enclosing loops' (``"2/5"``)."""
    steps: dict[str, Any] = field(default_factory=dict)
    """The outputs of the loop's cells for this item (router branches included)."""
    status: str = "completed"  # "completed" | "failed"
    stopped: bool = False
    """A filter among the loop's cells did not pass: the item's remaining cells did not run."""
    error: dict[str, Any] | None = None
    exception: BaseException | None = field(default=None, repr=False)
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    ended_at: datetime | None = None
    duration_ms: float | None = None

    @property
    def ok(self) -> bool:
        return self.status == "completed"

    def output(self) -> dict[str, Any]:
        """What the item's record holds as its output (and what resuming reads back)."""
        return {"steps": self.steps, "stopped": self.stopped}

    def summary(self) -> dict[str, Any]:
        """The item in the loop's output."""
        return {
            "index": self.index,
            "item": self.item,
            "steps": self.steps,
            "stopped": self.stopped,
        }


@dataclass
class LoopRun:
    """A loop's items, in index order (those that ran before a failure stopped it)."""

    loop: LoopCell
    count: int
    items: list[ItemRun]
    failed: ItemRun | None = None

    def output(self) -> dict[str, Any]:
        return {"count": self.count, "items": [run.summary() for run in self.items]}

    def error(self) -> dict[str, Any]:
        """The loop's error: the failed item's, naming the loop, the item and the cell."""
        assert self.failed is not None
        inner = dict(self.failed.error or {"code": "error", "message": "failed"})
        message = inner.get("message", "failed")
        data: dict[str, Any] = {
            "code": inner.get("code", "error"),
            "message": f"Loop '{self.loop.id}', item {self.failed.index}: {message}",
            "item": self.failed.index,
        }
        failed_cell = inner.get("cell_id") or (inner.get("details") or {}).get("cell_id")
        if failed_cell:
            data["item_cell_id"] = failed_cell
        if inner.get("details"):
            data["details"] = inner["details"]
        return data


def item_path(parent: str | None, index: int) -> str:
    """An item's place: ``"3"`` in a top-level loop, ``"2/5"`` inside item 2 of an outer one."""
    return f"{parent}/{index}" if parent else str(index)


def item_context(
    context: Mapping[str, Any], loop: LoopCell, index: int, item: Any
) -> dict[str, Any]:
    """The context one item's cells run with (a fresh ``steps`` over the loop's)."""
    loops = {**(context.get("loops") or {}), loop.id: {"item": item, "index": index}}
    return {
        **context,
        "item": item,
        "index": index,
        "loops": loops,
        "steps": dict(context.get("steps") or {}),
    }


def body_ids(loop: LoopCell) -> tuple[str, ...]:
    """The cells whose outputs an item keeps: the loop's cells and their router branches'
    (a nested loop's own cells stay in that loop's items)."""

    def ids(cells: Sequence[Any]) -> Iterator[str]:
        for cell in cells:
            yield cell.id
            if isinstance(cell, ConditionCell):
                for branch in cell.branches or []:
                    yield from ids(branch.cells)
            route = flow.error_route(cell) if not isinstance(cell, TriggerCell) else None
            if route is not None:
                yield from ids(route.cells)

    return tuple(ids(loop.cells))


def cells_of(loop: LoopCell) -> dict[str, StepCell]:
    """Every cell inside ``loop`` (branches and nested loops included), by id."""
    found: dict[str, StepCell] = {}

    def visit(cells: Sequence[Any]) -> None:
        for cell in cells:
            if not isinstance(cell, TriggerCell):
                found[cell.id] = cell
            if isinstance(cell, ConditionCell):
                for branch in cell.branches or []:
                    visit(branch.cells)
            if isinstance(cell, LoopCell):
                visit(cell.cells)
            route = flow.error_route(cell) if not isinstance(cell, TriggerCell) else None
            if route is not None:
                visit(route.cells)

    visit(loop.cells)
    return found


async def loop_items(
    loop: LoopCell,
    context: Mapping[str, Any],
    *,
    max_items: int = DEFAULT_MAX_ITEMS,
    limits: CellBudget | None = None,
) -> list[Any]:
    """The loop's list, rendered and checked: a list of at most ``max_items`` items."""
    value = await mapping.render_async(
        loop.items, context, cell_id=loop.id, field="items", limits=limits
    )
    if not isinstance(value, list):
        kind = "null" if value is None else type(value).__name__
        shown = json.dumps(value, default=str)[:80]
        raise InvalidInputError(
            f"Loop '{loop.id}': 'items' must be a list, but it is {kind} ({shown}). "
            "Map a list, e.g. {{ trigger.body.line_items }}, or use | default([]) "
            "when it may be missing.",
            errors=[{"field": "items", "message": f"must be a list, got {kind}"}],
            cell_id=loop.id,
        )
    if len(value) > max_items:
        raise InvalidInputError(
            f"Loop '{loop.id}': the list has {len(value):,} items, more than the limit of"
            f" {max_items:,} (scenario setting max_loop_items). No item ran; split the list or"
            " raise the limit.",
            errors=[{"field": "items", "message": f"{len(value)} items; the limit is {max_items}"}],
            cell_id=loop.id,
            size=len(value),
            limit=max_items,
        )
    return value


def _describe(exc: BaseException) -> dict[str, Any]:
    error = getattr(exc, "error", None)  # the runner's stop carries its recorded error
    if isinstance(error, dict):
        return dict(error)
    outcome = getattr(exc, "outcome", None)
    if isinstance(getattr(outcome, "error", None), dict):
        return dict(outcome.error)  # type: ignore[union-attr]
    return error_from_exception(exc).to_dict()


async def run_loop(
    loop: LoopCell,
    context: Mapping[str, Any],
    items: list[Any],
    *,
    run_step: RunStep,
    cells: Mapping[str, StepCell],
    scope: flow.Scope = (),
    path: str | None = None,
    finished: Callable[[str], ItemRun | None] | None = None,
    on_item: Callable[[ItemRun], Awaitable[None]] | None = None,
    describe: Callable[[BaseException], dict[str, Any]] = _describe,
) -> LoopRun:
    """Run ``loop``'s cells for each of ``items`` (see the module docstring).

    ``finished(path)``: an item already run to the end (a resumed run), which is not
    run again. ``on_item``: called with each item that ran, when it ends (to record it).
    An exception ``run_step`` raises fails its item; it is kept in ``ItemRun.exception``
    and ``describe`` turns it into the item's recorded error.
    """
    kept = body_ids(loop)
    inner_scope = (*scope, (loop.id, LOOP_BODY))
    runs: list[ItemRun | None] = [None] * len(items)
    failures: list[ItemRun] = []

    async def one(index: int) -> None:
        here = item_path(path, index)
        restored = finished(here) if finished is not None else None
        if restored is not None:
            restored.item = items[index]
            runs[index] = restored
            return
        run = ItemRun(index=index, item=items[index], path=here)
        ctx = item_context(context, loop, index, items[index])
        t0 = time.perf_counter()
        plan = flow.body(loop, scope)
        try:
            while (pending := plan.next) is not None:
                cell = cells[pending.cell_id]
                ended = await run_step(cell, ctx, pending.scope, here)
                decision = flow.advance(plan, cell, ended)
                if decision.stops_run:
                    raise ItemFailedError(f"Cell '{cell.id}' failed.", cell_id=cell.id)
                if decision.effect.startswith("filter_stopped") and pending.scope == inner_scope:
                    run.stopped = True
                plan = decision.plan
            if plan.fails_with is not None:  # an error route ran with `then: stop`
                raise ItemFailedError(f"Cell '{plan.fails_with}' failed.", cell_id=plan.fails_with)
        except Exception as exc:  # the item fails; the loop reports it
            run.status, run.exception, run.error = "failed", exc, describe(exc)
        steps = ctx["steps"]
        run.steps = {cell_id: steps[cell_id] for cell_id in kept if cell_id in steps}
        run.ended_at = datetime.now(UTC)
        run.duration_ms = (time.perf_counter() - t0) * 1000
        runs[index] = run
        if not run.ok:
            failures.append(run)
        if on_item is not None:
            await on_item(run)

    if loop.concurrency == 1 or len(items) <= 1:
        for index in range(len(items)):
            await one(index)
            if failures:
                break
    else:
        indexes = iter(range(len(items)))

        async def worker() -> None:
            for index in indexes:  # shared: each index is taken once
                if failures:
                    return
                await one(index)

        async with asyncio.TaskGroup() as group:
            for _ in range(min(loop.concurrency, len(items))):
                group.create_task(worker())
    done = [run for run in runs if run is not None]
    failed = min(failures, key=lambda r: r.index) if failures else None
    return LoopRun(loop=loop, count=len(items), items=done, failed=failed)


def _number(value: Any, cell_id: str, index: int) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise InvalidInputError(
            f"Aggregate '{cell_id}': item {index}'s value {json.dumps(value, default=str)[:60]} "
            "is not a number.",
            cell_id=cell_id,
            item=index,
        )
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            try:
                return float(text)
            except ValueError:
                raise InvalidInputError(
                    f"Aggregate '{cell_id}': item {index}'s value '{value[:60]}' is not a number.",
                    cell_id=cell_id,
                    item=index,
                ) from None
    return value


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, ensure_ascii=False, default=str)


def _key(value: Any) -> str:
    return _text(value)


def fold(
    mode: AggregateMode,
    values: Sequence[Any],
    *,
    keys: Sequence[Any] = (),
    separator: str = ", ",
    cell_id: str = "aggregate",
    indexes: Sequence[int] = (),
) -> Any:
    """Fold the items' values: ``list`` (as they are), ``join`` (as text, ``separator``
    between), ``sum`` (numbers; numeric text counts, null is skipped), ``count`` (values
    neither null nor false), ``group`` (``{key as text: [values]}`` in first-seen order)."""
    where = list(indexes) or list(range(len(values)))
    if mode == "list":
        return list(values)
    if mode == "join":
        return separator.join(_text(v) for v in values)
    if mode == "sum":
        total: int | float = 0
        for value, index in zip(values, where, strict=True):
            if value is not None:
                total += _number(value, cell_id, index)
        return total
    if mode == "count":
        return sum(1 for v in values if v is not None and v is not False)
    groups: dict[str, list[Any]] = {}
    for key, value in zip(keys, values, strict=True):
        groups.setdefault(_key(key), []).append(value)
    return groups


def aggregate(
    cell: AggregateCell, context: Mapping[str, Any], *, limits: CellBudget | None = None
) -> dict[str, Any]:
    """An aggregate cell's output: ``{"result": folded value, "count": items folded}``.

    Each item that ran to the end (``stopped`` items, which a filter stopped, are left
    out) contributes ``value`` (and ``key``), rendered with ``item``, ``index`` and the
    item's step outputs in scope.
    """
    loop_output = (context.get("steps") or {}).get(cell.loop)
    if not isinstance(loop_output, Mapping) or not isinstance(loop_output.get("items"), list):
        raise InvalidInputError(
            f"Aggregate '{cell.id}': loop '{cell.loop}' did not run before it, "
            "so there is nothing to collect.",
            cell_id=cell.id,
        )
    values: list[Any] = []
    keys: list[Any] = []
    indexes: list[int] = []
    steps = context.get("steps") or {}
    for entry in loop_output["items"]:
        if entry.get("stopped"):
            continue
        ctx = {
            **context,
            "item": entry.get("item"),
            "index": entry.get("index"),
            "steps": {**steps, **(entry.get("steps") or {})},
        }
        values.append(
            mapping.render(cell.value, ctx, cell_id=cell.id, field="value", limits=limits)
        )
        if cell.key is not None:
            keys.append(mapping.render(cell.key, ctx, cell_id=cell.id, field="key", limits=limits))
        indexes.append(int(entry.get("index", len(indexes))))
    result = fold(
        cell.mode, values, keys=keys, separator=cell.separator, cell_id=cell.id, indexes=indexes
    )
    return {"result": result, "count": len(values)}
