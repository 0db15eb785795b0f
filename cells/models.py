"""The scenario document and its cell kinds.

A scenario is a document (YAML or JSON) that exports and imports without loss:
ordered cells, a trigger first, then actions, transformers and conditions. A condition
cell either filters (stops the run quietly when its rules fail) or routes (named
branches, each an ordered list of cells; nesting allowed). A loop cell runs its cells
once per item of a list; an aggregate cell after it folds the items' results.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)
from pydantic.config import JsonDict
from pydantic_core import PydanticCustomError

from cells.conditions import RuleGroup

CELL_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
MAX_TAGS = 20
MAX_TAG_LENGTH = 40
MAX_LOOP_CONCURRENCY = 10
"""The most items a loop runs at the same time."""
ERROR_ROUTE = "[on error]"
"""The "branch" name of an error route's cells in :data:`Parents` and flow scopes:
``(failing cell id, ERROR_ROUTE)``."""
LOOP_BODY = "[each item]"
"""The "branch" name of a loop's cells in :data:`Parents` and flow scopes: ``(loop id, LOOP_BODY)``
(only wording depends on it: a router branch of that name is still a branch)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class CellBase(_Strict):
    id: str = Field(
        description="Unique within the scenario; later cells refer to this cell's "
        "output as steps.<id>.",
        pattern=CELL_ID.pattern,
        examples=["create_post"],
    )
    name: str | None = Field(None, description="A label shown in the workspace.")
    notes: str | None = Field(None, description="Free text for whoever maintains the scenario.")


class OperationCell(CellBase):
    app: str = Field(description="The app key, e.g. 'slack'.")
    operation: str = Field(description="The trigger or action key within the app.")
    connection: str | None = Field(
        None, description="The id of the connection the cell uses (apps that need auth)."
    )
    inputs: dict[str, Any] = Field(
        default_factory=dict,
        description="Input fields; strings may hold {{ }} references to earlier cells.",
    )


class TriggerCell(OperationCell):
    """Starts the scenario. Its output is available as ``trigger`` and ``steps.<id>``."""

    kind: Literal["trigger"]
    test_data: dict[str, Any] | None = Field(
        None,
        description="What a test run in the workspace feeds the scenario when no other "
        "test data is given: an example of what this trigger delivers (templates ship one). "
        "Never used by real runs.",
    )


class ErrorRoute(_Strict):
    """What happens when a cell fails for good (after its retries): its ``cells`` run with
    ``error`` in scope, then the run stops, finishes as handled, or continues."""

    # the JSON Schema says what ``_fallback_with_continue`` checks
    model_config = ConfigDict(
        json_schema_extra={
            "if": {"required": ["fallback"]},
            "then": {"required": ["then"], "properties": {"then": {"const": "continue"}}},
        }
    )

    cells: list[Cell] = Field(
        default_factory=list,
        description="The cells run when the cell fails, in order (any kind but a trigger). "
        "They see error (code, message, cell_id, details), steps.<failing cell id> (the fallback "
        "with then: continue, else {error: ...}) and everything the failing cell saw.",
    )
    then: Literal["stop", "handled", "continue"] = Field(
        "stop",
        description="After the route's cells: stop (the run fails with the cell's error), handled "
        "(the run ends completed; nothing after the failing cell runs; inside a loop, the item "
        "ends), continue (the run goes on after the failing cell, whose output is 'fallback').",
    )
    fallback: Any = Field(
        None,
        description="then: continue — the failing cell's output for the cells after it (and its "
        "route's cells); may hold {{ }} mappings, with error in scope. Default: null.",
    )

    @model_validator(mode="after")
    def _fallback_with_continue(self) -> ErrorRoute:
        if "fallback" in self.model_fields_set and self.then != "continue":
            raise ValueError(
                f"'fallback' is the failing cell's output when the run continues; it needs "
                f"'then: continue' (then is '{self.then}')"
            )
        return self


def _on_error_form(value: Any) -> str:
    return "route" if isinstance(value, dict | ErrorRoute) else "word"


OnError = Annotated[
    Annotated[Literal["fail", "continue"], Tag("word")] | Annotated[ErrorRoute, Tag("route")],
    Discriminator(
        _on_error_form,
        custom_error_type="invalid_on_error",
        custom_error_message="on_error is 'fail', 'continue' or an error route "
        "{cells, then, fallback}",
    ),
]
_ON_ERROR = (
    "fail: the run fails with this cell. continue: record the error and go on. Or an error "
    "route: {cells: [...], then: stop | handled | continue, fallback: ...}."
)


class ActionCell(OperationCell):
    """Calls an app's action."""

    kind: Literal["action"]
    on_error: OnError = Field("fail", description=_ON_ERROR)


class TransformerCell(OperationCell):
    """Reshapes data (formatter, lookup table); needs no connection."""

    kind: Literal["transformer"]
    on_error: OnError = Field("fail", description=_ON_ERROR)


_PRESENT: JsonDict = {"not": {"type": "null"}}
_ABSENT: JsonDict = {"type": "null"}


class Branch(_Strict):
    """One route of a router: runs its cells when its rules pass."""

    # the JSON Schema says what ``ConditionCell._one_mode`` checks: rules, or fallback: true
    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {
                    "title": "A branch with rules",
                    "required": ["rules"],
                    "properties": {"rules": _PRESENT},
                },
                {
                    "title": "The fallback branch",
                    "required": ["fallback"],
                    "properties": {"fallback": {"const": True}},
                },
            ]
        }
    )

    name: str = Field(description="Shown in the workspace and in execution records.")
    rules: RuleGroup | None = Field(
        None, description="When the branch runs. Omit for the fallback branch."
    )
    fallback: bool = Field(False, description="Runs only when no other branch matched.")
    cells: list[Cell] = Field(default_factory=list, description="The branch's cells, in order.")


class ConditionCell(CellBase):
    """A filter (``rules``) or a router (``branches``)."""

    # the JSON Schema says what ``_one_mode`` checks: rules XOR branches (at least one,
    # at most one fallback); unique branch names are checked on import (JSON Schema cannot)
    model_config = ConfigDict(
        json_schema_extra={
            "oneOf": [
                {
                    "title": "Filter",
                    "required": ["rules"],
                    "properties": {"rules": _PRESENT, "branches": _ABSENT},
                },
                {
                    "title": "Router",
                    "required": ["branches"],
                    "properties": {
                        "rules": _ABSENT,
                        "branches": {
                            "type": "array",
                            "minItems": 1,
                            "minContains": 0,
                            "maxContains": 1,
                            "contains": {
                                "required": ["fallback"],
                                "properties": {"fallback": {"const": True}},
                            },
                        },
                    },
                },
            ]
        }
    )

    kind: Literal["condition"]
    rules: RuleGroup | None = Field(
        None, description="Filter: the run goes on only when these rules pass (not with branches)."
    )
    branches: list[Branch] | None = Field(
        None, description="Router: named branches, each with rules and cells (not with rules)."
    )
    match: Literal["all", "first"] = Field(
        "all", description="Router: run every matching branch, or only the first."
    )

    @model_validator(mode="after")
    def _one_mode(self) -> ConditionCell:
        if (self.rules is None) == (self.branches is None):
            raise ValueError(
                f"condition cell '{self.id}' needs either 'rules' (a filter) "
                "or 'branches' (a router), not both or neither"
            )
        if self.branches is not None:
            if not self.branches:
                raise ValueError(f"router '{self.id}' needs at least one branch")
            fallbacks = [b for b in self.branches if b.fallback]
            if len(fallbacks) > 1:
                raise ValueError(
                    f"router '{self.id}' has {len(fallbacks)} fallback branches; "
                    "at most one is allowed"
                )
            for branch in self.branches:
                if not branch.fallback and branch.rules is None:
                    raise ValueError(
                        f"branch '{branch.name}' of router '{self.id}' needs rules, "
                        "or 'fallback: true'"
                    )
            names = [b.name for b in self.branches]
            if len(set(names)) != len(names):
                raise ValueError(f"router '{self.id}' has two branches with the same name")
        return self

    @property
    def is_router(self) -> bool:
        return self.branches is not None


class LoopCell(CellBase):
    """For each: runs its ``cells`` once per item of a list, with
    ``item`` and ``index`` in scope."""

    kind: Literal["loop"]
    items: str | list[Any] = Field(
        description="The list to go through, usually a mapping such as "
        "{{ trigger.body.line_items }}.",
        examples=["{{ trigger.body.line_items }}"],
    )
    cells: list[Cell] = Field(
        min_length=1,
        description="The cells run for each item, in order (any kind but a trigger; "
        "loops may nest). They see item, index, loops.<loop id>.item/index for enclosing loops, "
        "and everything the cells before the loop see.",
    )
    concurrency: int = Field(
        1,
        ge=1,
        le=MAX_LOOP_CONCURRENCY,
        description=f"How many items run at the same time (1 to {MAX_LOOP_CONCURRENCY}); "
        "results keep the items' order.",
    )


AggregateMode = Literal["list", "join", "sum", "count", "group"]


class AggregateCell(CellBase):
    """Folds the results of a loop's items into one value (``steps.<id>.result``)."""

    kind: Literal["aggregate"]
    loop: str = Field(
        description="The id of the loop cell whose items are aggregated "
        "(it runs before this cell).",
        pattern=CELL_ID.pattern,
    )
    mode: AggregateMode = Field(
        "list",
        description="list: the values in order; join: the values as text joined by 'separator'; "
        "sum: their total; count: how many values are neither null nor false; group: "
        "the values grouped by 'key'.",
    )
    value: Any = Field(
        "{{ item }}",
        description="What each item contributes, evaluated per item with item, index and the "
        "item's step outputs in scope, e.g. {{ steps.post.ts }}.",
    )
    separator: str = Field(", ", description="join: the text between two values.")
    key: str | None = Field(
        None, description="group: what each item is grouped by, e.g. {{ item.currency }}."
    )

    @model_validator(mode="after")
    def _key_for_group(self) -> AggregateCell:
        if self.mode == "group" and self.key is None:
            raise ValueError(
                f"aggregate cell '{self.id}' groups its items: give a 'key', "
                "e.g. '{{ item.category }}'"
            )
        if self.mode != "group" and self.key is not None:
            raise ValueError(
                f"aggregate cell '{self.id}' has a 'key' but mode '{self.mode}'; "
                "'key' is for mode: group"
            )
        return self


AnyCell = TriggerCell | ActionCell | TransformerCell | ConditionCell | LoopCell | AggregateCell
"""Any cell kind, as a type (``Cell`` is the same union with pydantic's discriminator)."""
Cell = Annotated[AnyCell, Field(discriminator="kind")]
Parents = tuple[tuple[str, str], ...]
"""Where a cell sits: ((router id, branch name) or (loop id,
LOOP_BODY), ...) from the outermost in."""
StepCell = ActionCell | TransformerCell | ConditionCell | LoopCell | AggregateCell


class ScenarioSettings(_Strict):
    """Run-time behaviour of the whole scenario."""

    retry_count: int = Field(
        2,
        ge=0,
        le=10,
        description="How often a cell that failed with a temporary error (network, timeout, 429, "
        "5xx) is retried, with exponential backoff.",
    )
    notify_on_error: bool = Field(False, description="Alert when a run fails.")
    timeout_seconds: float = Field(
        300, gt=0, le=3600, description="The whole run is stopped after this many seconds."
    )
    cell_timeout_seconds: float = Field(
        60, gt=0, le=3600, description="A single cell is stopped after this many seconds."
    )
    max_loop_items: int = Field(
        1000,
        ge=1,
        le=100_000,
        description="A loop given a longer list fails before running any item (default: "
        "the server's loop_max_items, 1000).",
    )
    pause_after_failures: int = Field(
        5,
        ge=0,
        le=1000,
        description="The scenario is paused (status 'error') when this many runs in a row fail; "
        "0: never (default: the server's pause_after_failures, 5).",
    )


class ScenarioDocument(_Strict):
    """A scenario as a file: what ``cellwright import`` reads and ``export`` writes."""

    schema_: Literal["cellwright/scenario@1"] = Field(
        "cellwright/scenario@1", alias="schema", description="Document format version."
    )
    name: str = Field(min_length=1, max_length=200, description="The scenario's name.")
    description: str = Field("", description="What the scenario does.")
    tags: list[str] = Field(
        default_factory=list,
        max_length=MAX_TAGS,
        examples=[["billing", "slack"]],
        description=f"Labels to group and find scenarios by (lower-cased, at most {MAX_TAGS} "
        f"of up to {MAX_TAG_LENGTH} characters each).",
    )
    settings: ScenarioSettings = Field(default_factory=ScenarioSettings)
    cells: list[Cell] = Field(
        min_length=1, description="The trigger first, then the steps in order."
    )

    @field_validator("tags")
    @classmethod
    def _normal_tags(cls, tags: list[str]) -> list[str]:
        """Lower-cased, spaces collapsed, duplicates dropped:
        ``Billing`` and ``billing`` are one tag."""
        out: list[str] = []
        for tag in tags:
            tag = normal_tag(tag)
            if not tag:
                raise ValueError("a tag is empty; write a word such as 'billing', or remove it")
            if len(tag) > MAX_TAG_LENGTH:
                raise ValueError(
                    f"the tag '{tag[:MAX_TAG_LENGTH]}…' is longer than {MAX_TAG_LENGTH} "
                    "characters; shorten it"
                )
            if tag not in out:
                out.append(tag)
        return out

    @model_validator(mode="after")
    def _check(self) -> ScenarioDocument:
        first = self.cells[0]
        if not isinstance(first, TriggerCell):
            raise _invalid(
                "the first cell must be the trigger (kind: trigger); "
                f"'{first.id}' is of kind '{first.kind}'",
                f"{_label('cells', 0, first)}.kind",
                first.id,
            )
        seen: set[str] = set()
        for cell, where in _paths(self.cells, "cells"):
            if cell.id in seen:
                raise _invalid(
                    f"two cells use the id '{cell.id}'; ids must be unique in the scenario",
                    f"{where}.id",
                    cell.id,
                )
            seen.add(cell.id)
            if isinstance(cell, TriggerCell) and cell is not first:
                raise _invalid(
                    f"cell '{cell.id}' is a trigger; only the first cell may be one",
                    f"{where}.kind",
                    cell.id,
                )
        _check_references(self)
        _check_delays(self)
        return self

    @property
    def trigger(self) -> TriggerCell:
        first = self.cells[0]
        assert isinstance(first, TriggerCell)
        return first

    @property
    def steps(self) -> list[StepCell]:
        return [c for c in self.cells[1:] if not isinstance(c, TriggerCell)]

    def walk(self) -> Iterator[tuple[AnyCell, Parents]]:
        """Every cell in run order with its parents: ((router id, branch name), ...)."""
        yield from _walk(self.cells, ())

    def find(self, cell_id: str) -> AnyCell | None:
        for cell, _ in self.walk():
            if cell.id == cell_id:
                return cell
        return None

    def to_data(self) -> dict[str, Any]:
        """The canonical JSON-ready form (what is stored and exported).

        Defaults are left out, except run settings the author wrote down (an explicit
        ``timeout_seconds: 300`` still overrides the operator's default). Keys come in
        reading order: ``schema``, ``name``…, and each cell starts with ``id`` and ``kind``.
        """
        data = self.model_dump(
            mode="json", by_alias=True, exclude_defaults=True, exclude={"schema_", "settings"}
        )
        settings = self.settings.model_dump(mode="json", exclude_unset=True)
        out: dict[str, Any] = {"schema": "cellwright/scenario@1"}
        for key in ("name", "description", "tags"):
            if data.get(key):
                out[key] = data[key]
        if settings:
            out["settings"] = settings
        out["cells"] = [_ordered_cell(cell) for cell in data["cells"]]
        return out


def normal_tag(tag: str) -> str:
    """A tag as it is stored and matched: lower-case, single spaces, no outer spaces."""
    return " ".join(str(tag).split()).lower()


def _ordered_cell(cell: dict[str, Any]) -> dict[str, Any]:
    ordered: dict[str, Any] = {key: cell[key] for key in ("id", "kind") if key in cell}
    ordered.update((key, value) for key, value in cell.items() if key not in ordered)
    for branch in ordered.get("branches") or []:
        if "cells" in branch:
            branch["cells"] = [_ordered_cell(c) for c in branch["cells"]]
    if ordered.get("kind") == "loop" and "cells" in ordered:
        ordered["cells"] = [_ordered_cell(c) for c in ordered["cells"]]
    route = ordered.get("on_error")
    if isinstance(route, dict) and "cells" in route:
        route["cells"] = [_ordered_cell(c) for c in route["cells"]]
    return ordered


def _invalid(message: str, where: str, cell_id: str) -> PydanticCustomError:
    """A document error that carries its place in the file (``ctx.where``)."""
    return PydanticCustomError("invalid_scenario", message, {"where": where, "cell_id": cell_id})


def _label(prefix: str, index: int, cell: AnyCell) -> str:
    return f"{prefix}[{index}] (id '{cell.id}')"


def _paths(cells: list[AnyCell], prefix: str) -> Iterator[tuple[AnyCell, str]]:
    """Every cell in run order with its place in the file, e.g. ``cells[2] (id
    'route').branches[0].cells[1] (id 'x')``."""
    for index, cell in enumerate(cells):
        where = _label(prefix, index, cell)
        yield cell, where
        if isinstance(cell, ConditionCell) and cell.branches:
            for b, branch in enumerate(cell.branches):
                yield from _paths(branch.cells, f"{where}.branches[{b}].cells")
        if isinstance(cell, LoopCell):
            yield from _paths(cell.cells, f"{where}.cells")
        if isinstance(cell, ActionCell | TransformerCell) and isinstance(cell.on_error, ErrorRoute):
            yield from _paths(cell.on_error.cells, f"{where}.on_error.cells")


def _walk(cells: list[AnyCell], parents: Parents) -> Iterator[tuple[AnyCell, Parents]]:
    for cell in cells:
        yield cell, parents
        if isinstance(cell, ConditionCell) and cell.branches:
            for branch in cell.branches:
                yield from _walk(branch.cells, (*parents, (cell.id, branch.name)))
        if isinstance(cell, LoopCell):
            yield from _walk(cell.cells, (*parents, (cell.id, LOOP_BODY)))
        if isinstance(cell, ActionCell | TransformerCell) and isinstance(cell.on_error, ErrorRoute):
            yield from _walk(cell.on_error.cells, (*parents, (cell.id, ERROR_ROUTE)))


DELAY_APP = "delay"  # connectors/delay: its cells park the run (engine/delays.py)


def _check_delays(doc: ScenarioDocument) -> None:
    """Delay cells park the whole run: not inside a loop (its items run within one cell),
    and one "Wait for a call" per scenario (a run has one resume URL, taking one call)."""
    wheres = {cell.id: where for cell, where in _paths(doc.cells, "cells")}
    waits: list[str] = []
    for cell, parents in doc.walk():
        if getattr(cell, "app", None) != DELAY_APP or isinstance(cell, TriggerCell):
            continue
        operation = getattr(cell, "operation", "")
        loop = next((p[0] for p in parents if p[1] == LOOP_BODY), None)
        if loop is not None:
            raise _invalid(
                f"cell '{cell.id}' ({operation}) is inside loop '{loop}': a delay pauses the"
                " whole run, so put it before or after the loop",
                f"{wheres[cell.id]}.app",
                cell.id,
            )
        if operation == "wait_for_call":
            waits.append(cell.id)
            if len(waits) > 1:
                raise _invalid(
                    f"cells '{waits[0]}' and '{cell.id}' both wait for a call: a run has one"
                    " resume URL, which takes one call, so a scenario may have one"
                    " 'wait_for_call' cell",
                    f"{wheres[cell.id]}.operation",
                    cell.id,
                )


def _check_references(doc: ScenarioDocument) -> None:
    """Every ``steps.X`` must name a cell that runs before the referring cell.

    Inside a loop, the cells before the loop and the loop's earlier cells count; after
    the loop, only the loop itself (its cells ran once per item: an aggregate cell
    names the loop and may use them). An aggregate cell's ``loop`` must be a loop that
    runs before it.
    """
    from cells.mapping import referenced_steps

    bodies: dict[str, set[str]] = {}  # loop id -> what its items make available

    def refuse(cell: AnyCell, ref: str, available: set[str], field_where: str) -> None:
        hint = f" Cells before it: {', '.join(sorted(available))}." if available else ""
        inside = next((loop for loop, ids in bodies.items() if ref in ids), None)
        if inside is not None:
            hint = (
                f" It runs once per item inside loop '{inside}': use an aggregate cell"
                f" (loop: {inside}) to collect its results."
            )
        raise _invalid(
            f"cell '{cell.id}' refers to steps.{ref}, which is not a cell that "
            f"runs before it.{hint}",
            field_where,
            cell.id,
        )

    def visit(cells: list[AnyCell], available: set[str], prefix: str) -> set[str]:
        """Check ``cells``; return the ids they make available to later cells."""
        available = set(available)
        for index, cell in enumerate(cells):
            where = _label(prefix, index, cell)
            sources: list[tuple[str, Any, set[str]]] = []
            if isinstance(cell, OperationCell):
                sources.append((f"{where}.inputs", cell.inputs, available))
            if isinstance(cell, ConditionCell):
                sources.append((f"{where}.rules", cell.model_dump(include={"rules"}), available))
                for b, branch in enumerate(cell.branches or []):
                    sources.append(
                        (
                            f"{where}.branches[{b}].rules",
                            branch.model_dump(include={"rules"}),
                            available,
                        )
                    )
            if isinstance(cell, LoopCell):
                sources.append((f"{where}.items", cell.items, available))
            if isinstance(cell, AggregateCell):
                if cell.loop not in bodies or cell.loop not in available:
                    loops = [loop for loop in bodies if loop in available]
                    hint = f" Loops before it: {', '.join(loops)}." if loops else ""
                    raise _invalid(
                        f"aggregate cell '{cell.id}' collects loop '{cell.loop}', "
                        f"which is not a loop cell that runs before it.{hint}",
                        f"{where}.loop",
                        cell.id,
                    )
                inner_ids = available | bodies[cell.loop]
                sources.append((f"{where}.value", cell.value, inner_ids))
                sources.append((f"{where}.key", cell.key, inner_ids))
            for field_where, source, known in sources:
                for ref in sorted(referenced_steps(source)):
                    if ref not in known:
                        refuse(cell, ref, known, field_where)
            inner: set[str] = set()
            if isinstance(cell, ConditionCell) and cell.branches:
                for b, branch in enumerate(cell.branches):
                    # cells after the router may use a branch's outputs (with `default`
                    # for the branches that did not run)
                    inner |= visit(
                        branch.cells, available | {cell.id}, f"{where}.branches[{b}].cells"
                    )
            if isinstance(cell, LoopCell):
                body = visit(cell.cells, available, f"{where}.cells")
                bodies[cell.id] = body - available
            route = cell.on_error if isinstance(cell, ActionCell | TransformerCell) else None
            if isinstance(route, ErrorRoute):
                # the route sees what the failing cell saw, and the failing cell itself
                # (its fallback, or {error: ...}); after it, a continued run may use the
                # route's outputs (with `default`: the route runs only on failure)
                for ref in sorted(referenced_steps(route.fallback)):
                    if ref not in available:
                        refuse(cell, ref, available, f"{where}.on_error.fallback")
                routed = visit(route.cells, available | {cell.id}, f"{where}.on_error.cells")
                if route.then == "continue":
                    inner |= routed
            available |= inner | {cell.id}
        return available

    visit(doc.cells, set(), "cells")


Branch.model_rebuild()
ErrorRoute.model_rebuild()
ActionCell.model_rebuild()
TransformerCell.model_rebuild()
ConditionCell.model_rebuild()
LoopCell.model_rebuild()
ScenarioDocument.model_rebuild()
