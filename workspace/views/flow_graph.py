"""The flow diagram of a scenario, as data: a pure function of the document's cells and
the last results, laid out on a grid (no Panel here; tests build it headlessly).

Top to bottom: the trigger, then each step. A router forks into one column per branch,
each edge into a branch labelled with the branch's name; the cells after the router
join below the branches (they run after them). A filter is a gate: the edge below it
says "if it passes". A long straight run of plain steps is collapsed into one
"… N more steps" node (first and last two stay), so a 50-cell scenario fits on a
screen; expanding it is one click. A run holding a failed cell never collapses.

:class:`~workspace.views.flow.FlowDiagram` draws the result.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from connectors.icons import icon_url

RUN_LIMIT = 8
"""Straight runs longer than this collapse (keeping ``KEEP`` cells at each end)."""
KEEP = 2
ICON = "/static/icons/{name}.svg"


@dataclass(frozen=True)
class FlowNode:
    """One box of the diagram: a cell, an empty branch, or a collapsed run."""

    id: str
    """The cell id (an empty branch: ``empty:<router>:<branch>``; a run:
    ``more:<first hidden id>``)."""
    kind: str
    """``trigger`` | ``step`` | ``router`` | ``filter`` | ``empty`` | ``more``"""
    number: str
    label: str
    detail: str
    icon: str
    """URL of the logo or icon (decorative: ``detail`` names the app in words)."""
    status: str
    """The last result's status; ``not run`` when a whole run (test run, steps) left it
    out; empty otherwise (before any run, or beside a cell run on its own)."""
    col: int
    row: int
    hidden: tuple[str, ...] = ()
    """The cells a ``more`` node stands for."""


@dataclass(frozen=True)
class FlowEdge:
    source: str
    target: str
    label: str = ""
    """A branch's name, or "if it passes" below a filter."""


@dataclass(frozen=True)
class FlowGraph:
    nodes: list[FlowNode] = field(default_factory=list)
    edges: list[FlowEdge] = field(default_factory=list)
    cols: int = 1
    rows: int = 0

    def node(self, node_id: str) -> FlowNode:
        return next(n for n in self.nodes if n.id == node_id)

    def to_dict(self) -> dict[str, Any]:
        """What the browser component draws (plain JSON)."""
        return {
            "nodes": [asdict(n) for n in self.nodes],
            "edges": [asdict(e) for e in self.edges],
            "cols": self.cols,
            "rows": self.rows,
        }


def cell_icon(cell: Mapping[str, Any]) -> str:
    """URL of a cell's logo: its app's, or the router's or filter's icon."""
    if cell.get("kind") == "condition":
        return ICON.format(name="router" if cell.get("branches") is not None else "filter")
    if cell.get("kind") in ("loop", "aggregate"):
        return ICON.format(name=cell["kind"])
    return icon_url(str(cell.get("app") or "unknown"))


def _is_plain(cell: Mapping[str, Any]) -> bool:
    return cell.get("kind") not in ("trigger", "condition")


def _delay_summary(operation: str, inputs: Mapping[str, Any]) -> str:
    """What a delay cell waits for, in words: " 15 minutes", " until …", " (timeout 2 days)"."""
    if operation == "delay_for":
        return f" {inputs.get('amount', '?')} {inputs.get('unit', 'minutes')}"
    if operation == "delay_until":
        return f" {inputs.get('until', '?')}"
    if operation == "wait_for_call":
        timeout = f"{inputs.get('timeout', 1)} {inputs.get('timeout_unit', 'days')}"
        then = "continue" if inputs.get("on_timeout") == "continue" else "fail"
        return f" (timeout {timeout}, then {then})"
    return ""


class _Builder:
    def __init__(
        self,
        results: Mapping[str, Mapping[str, Any]],
        apps: Any,
        expanded: Collection[str],
        whole_run: bool,
        scenario_names: Mapping[str, str],
    ) -> None:
        self.scenario_names = scenario_names
        self.results = results
        self.apps = apps
        self.expanded = expanded
        self.whole_run = whole_run
        self.nodes: list[FlowNode] = []
        self.edges: list[FlowEdge] = []

    # -- what a node says -----------------------------------------------------------------

    def _status(self, cell_id: str) -> str:
        result = self.results.get(cell_id)
        if result:
            if result.get("status") == "running" and "resumes_at" in (result.get("output") or {}):
                return "waiting"  # a delay cell its run is parked at
            return str(result.get("status") or "")
        return "not run" if self.whole_run else ""

    def _describe(self, cell: Mapping[str, Any]) -> tuple[str, str, str]:
        """(kind, detail, icon URL) of a cell."""
        if cell.get("kind") == "condition":
            if cell.get("branches") is not None:
                count = len(cell.get("branches") or [])
                return (
                    "router",
                    f"Router · {count} branch{'es' if count != 1 else ''}",
                    cell_icon(cell),
                )
            return "filter", "Filter · continue only if…", cell_icon(cell)
        if cell.get("kind") == "loop":
            count = len(cell.get("cells") or [])
            return (
                "step",
                f"For each item · {count} cell{'s' if count != 1 else ''}",
                cell_icon(cell),
            )
        if cell.get("kind") == "aggregate":
            return (
                "step",
                f"Aggregate · {cell.get('mode', 'list')} of '{cell.get('loop')}'",
                cell_icon(cell),
            )
        key = str(cell.get("app") or "")
        app = self.apps.get(key) if key in self.apps else None
        app_name = app.name if app is not None else key or "?"
        op_key = str(cell.get("operation") or "")
        op_name = op_key
        if app is not None:
            op_name = next(
                (op.name for op in (*app.triggers, *app.actions) if op.key == op_key), op_key
            )
        kind = "trigger" if cell.get("kind") == "trigger" else "step"
        detail = f"{app_name} · {op_name}" if op_name else app_name
        if key == "delay":
            detail += _delay_summary(op_key, cell.get("inputs") or {})
        if (key, op_key) == ("scenario", "run_scenario"):  # a sub-scenario: which one it calls
            target = str((cell.get("inputs") or {}).get("scenario_id") or "")
            if target:
                detail += f" → {self.scenario_names.get(target, target)}"
        route = cell.get("on_error")
        if isinstance(route, dict):
            count = len(route.get("cells") or [])
            detail += (
                f" · on error: {count} cell{'s' if count != 1 else ''}, then "
                f"{route.get('then', 'stop')}"
            )
        return kind, ("Trigger: " + detail if kind == "trigger" else detail), cell_icon(cell)

    def _add(self, cell: Mapping[str, Any], number: str, col: int, row: int) -> FlowNode:
        kind, detail, icon = self._describe(cell)
        node = FlowNode(
            id=str(cell["id"]),
            kind=kind,
            number=number,
            label=str(cell.get("name") or cell["id"]),
            detail=detail,
            icon=icon,
            status=self._status(str(cell["id"])),
            col=col,
            row=row,
        )
        self.nodes.append(node)
        return node

    # -- layout ---------------------------------------------------------------------------

    def _link(self, exits: Sequence[tuple[str, str]], target: str) -> None:
        for source, label in exits:
            self.edges.append(FlowEdge(source, target, label))

    def _collapsible(self, run: Sequence[Mapping[str, Any]]) -> bool:
        if len(run) <= RUN_LIMIT:
            return False
        middle = run[KEEP:-KEEP]
        if f"more:{middle[0]['id']}" in self.expanded:
            return False
        return not any(self._status(str(c["id"])) == "failed" for c in middle)

    def container(
        self,
        cells: Sequence[Mapping[str, Any]],
        prefix: str,
        col: int,
        row: int,
        exits: list[tuple[str, str]],
    ) -> tuple[int, int, list[tuple[str, str]]]:
        """Lay ``cells`` out from (col, row), linked from ``exits``.

        Returns (width in columns, height in rows, the exits below it): each exit is a
        node id and the label of the edge that leaves it."""
        width, index = 1, 0
        top = row
        while index < len(cells):
            # a straight run of plain steps starting here
            end = index
            while end < len(cells) and _is_plain(cells[end]):
                end += 1
            run = cells[index:end]
            if run:
                exits, row = self._run(run, index, prefix, col, row, exits)
                index = end
                continue
            cell = cells[index]
            number = f"{prefix}{index + 1}"
            node = self._add(cell, number, col, row)
            self._link(exits, node.id)
            row += 1
            if node.kind == "router":
                exits, span, depth = self._branches(cell, number, col, row)
                width = max(width, span)
                row += depth
            elif node.kind == "filter":
                exits = [(node.id, "if it passes")]
            else:
                exits = [(node.id, "")]
            index += 1
        return width, row - top, exits

    def _run(
        self,
        run: Sequence[Mapping[str, Any]],
        index: int,
        prefix: str,
        col: int,
        row: int,
        exits: list[tuple[str, str]],
    ) -> tuple[list[tuple[str, str]], int]:
        """A straight run of plain steps (the ``index``-th cell first): collapsed in the
        middle when long, else one node each."""
        if self._collapsible(run):
            middle = run[KEEP:-KEEP]
            first, last = index + KEEP + 1, index + len(run) - KEEP
            placed: list[tuple[Mapping[str, Any] | None, int]] = [
                *((c, index + i) for i, c in enumerate(run[:KEEP])),
                (None, 0),
                *((c, index + len(run) - KEEP + i) for i, c in enumerate(run[-KEEP:])),
            ]
        else:
            middle, first, last = [], 0, 0
            placed = [(c, index + i) for i, c in enumerate(run)]
        for cell, at in placed:
            if cell is None:
                node = FlowNode(
                    id=f"more:{middle[0]['id']}",
                    kind="more",
                    number=f"{prefix}{first}–{prefix}{last}",
                    label=f"{len(middle)} more steps",
                    detail=f"{middle[0]['id']} … {middle[-1]['id']}: show them",
                    icon=ICON.format(name="more"),
                    status="",
                    col=col,
                    row=row,
                    hidden=tuple(str(c["id"]) for c in middle),
                )
                self.nodes.append(node)
            else:
                node = self._add(cell, f"{prefix}{at + 1}", col, row)
            self._link(exits, node.id)
            exits, row = [(node.id, "")], row + 1
        return exits, row

    def _branches(
        self, router: Mapping[str, Any], number: str, col: int, row: int
    ) -> tuple[list[tuple[str, str]], int, int]:
        exits: list[tuple[str, str]] = []
        span = depth = 0
        for branch in router.get("branches") or []:
            name = str(branch.get("name") or "")
            label = name + (
                " (otherwise)" if branch.get("fallback") and "otherwise" not in name.lower() else ""
            )
            cells = branch.get("cells") or []
            if cells:
                w, h, out = self.container(
                    cells, f"{number}.", col + span, row, [(str(router["id"]), label)]
                )
            else:
                empty = FlowNode(
                    id=f"empty:{router['id']}:{name}",
                    kind="empty",
                    number="",
                    label="No steps",
                    detail=f"Branch {name} is empty",
                    icon=ICON.format(name="empty"),
                    status="",
                    col=col + span,
                    row=row,
                )
                self.nodes.append(empty)
                self._link([(str(router["id"]), label)], empty.id)
                w, h, out = 1, 1, [(empty.id, "")]
            exits += out
            span += w
            depth = max(depth, h)
        return exits, max(span, 1), depth


def build_flow(
    cells: Sequence[Mapping[str, Any]],
    results: Mapping[str, Mapping[str, Any]],
    apps: Any,
    expanded: Collection[str] = (),
    *,
    whole_run: bool = False,
    scenario_names: Mapping[str, str] | None = None,
) -> FlowGraph:
    """The diagram of ``cells`` (the document's top-level list) with the last ``results``
    (cell id → result dict). ``apps`` is the registry (names and logos); ``expanded``
    holds the ids of ``more`` nodes the user opened; ``whole_run``: a test run or step run
    happened, so a cell without a result says "not run"; ``scenario_names`` (id → name)
    names the scenario each Run scenario cell calls."""
    builder = _Builder(results, apps, expanded, whole_run, scenario_names or {})
    width, height, _ = builder.container(cells, "", 0, 0, [])
    return FlowGraph(builder.nodes, builder.edges, cols=width, rows=height)


__all__ = ["FlowEdge", "FlowGraph", "FlowNode", "build_flow", "cell_icon"]
