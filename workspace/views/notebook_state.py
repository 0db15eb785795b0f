"""The scenario notebook's state, free of widgets: a document being edited, the last
result of each cell, and every action the notebook offers (each one a ``Cellwright``
call). The notebook view renders this; tests drive it headlessly.
"""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import Any

import param

from cells import document as documents
from cells import flow, secrets
from cells.loops import ItemRun
from cells.mapping import has_template, referenced_steps, render
from cells.models import ERROR_ROUTE, LOOP_BODY, LoopCell
from connectors.sdk import ConfigurationError, InvalidInputError, MappingError, jsontext
from connectors.sdk.options import field_sources

KINDS = ("action", "transformer", "condition", "loop", "aggregate")


def _unique_id(base: str, taken: set[str]) -> str:
    base = "".join(c if c.isalnum() or c in "_-" else "_" for c in base).strip("_") or "cell"
    if not base[0].isalpha():
        base = f"c_{base}"
    base = base[:56]
    if base not in taken:
        return base
    n = 2
    while f"{base}_{n}" in taken:
        n += 1
    return f"{base}_{n}"


def inner_lists(cell: dict[str, Any]) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """``(name, cells)`` of the lists of cells inside ``cell``: a router's branches (by
    name), a loop's cells (``LOOP_BODY``) and an error route's cells (``ERROR_ROUTE``)."""
    for branch in cell.get("branches") or []:
        yield branch["name"], branch.setdefault("cells", [])
    if cell.get("kind") == "loop":
        yield LOOP_BODY, cell.setdefault("cells", [])
    if isinstance(cell.get("on_error"), dict):
        yield ERROR_ROUTE, cell["on_error"].setdefault("cells", [])


def walk(
    cells: list[dict[str, Any]], parents: tuple[tuple[str, str], ...] = ()
) -> Iterator[tuple[dict[str, Any], tuple[tuple[str, str], ...]]]:
    """Every cell (dict) in run order with its parents: ``(router id, branch name)``,
    ``(loop id, LOOP_BODY)`` or ``(failing cell id, ERROR_ROUTE)``."""
    for cell in cells:
        yield cell, parents
        for name, inner in inner_lists(cell):
            yield from walk(inner, (*parents, (cell["id"], name)))


def flatten(value: Any, prefix: str, depth: int = 3) -> Iterator[tuple[str, Any]]:
    """``(path, value)`` for every field of ``value``, ``depth`` levels deep."""
    if isinstance(value, dict) and depth > 0:
        for key, inner in value.items():
            key_s = str(key)
            path = f"{prefix}.{key_s}" if key_s.isidentifier() else f"{prefix}[{json.dumps(key_s)}]"
            yield path, inner
            yield from flatten(inner, path, depth - 1)
    elif isinstance(value, list) and value and depth > 0:
        yield f"{prefix}[0]", value[0]
        yield from flatten(value[0], f"{prefix}[0]", depth - 1)


class NotebookState(param.Parameterized):
    """One scenario open in the notebook."""

    doc = param.Dict(
        default={}, doc="The document being edited (the scenario document's JSON form)."
    )
    dirty = param.Boolean(default=False, doc="True when there are unsaved changes.")
    results = param.Dict(default={}, doc="Last result of each cell (cell id → CellResult dict).")
    trigger_text = param.String(
        default="", doc="Pasted trigger data (JSON); empty means the trigger's sample."
    )
    status = param.String(default="draft")
    #: why the system set the status (paused after failed runs in a row), else None
    status_reason = param.String(default=None, allow_None=True)
    version = param.Integer(default=0, doc="The latest saved version (0: not saved yet).")
    live_version = param.Integer(
        default=None,
        allow_None=True,
        doc="The published version, the one the trigger runs (None: never published).",
    )
    structure = param.Event(doc="Fires when cells are added, moved, deleted or change operation.")
    revision = param.Integer(
        default=0, doc="Counts every edit (the flow diagram redraws when what it shows changed)."
    )
    last_execution = param.Dict(default=None, allow_None=True)
    step_log = param.List(
        default=[], doc="Step mode: the results of the cells stepped so far, in order."
    )
    step_next = param.String(
        default=None,
        allow_None=True,
        doc="Step mode: the cell the next step runs (None: not started, or done).",
    )
    step_message = param.String(
        default="", doc="Step mode: what happened (a filter stopped, a router took branches…)."
    )
    step_items = param.Dict(
        default=None,
        allow_None=True,
        doc="Step mode: the loop being stepped, live: ``{loop, count, items}`` (each item "
        "as it ends, as in a loop's output); None when no loop is running.",
    )

    def __init__(self, svc: Any, user: Any, scenario_id: str | None = None, **params: Any) -> None:
        super().__init__(**params)
        self.svc = svc
        self.user = user
        self.scenario_id = scenario_id
        self.webhook_url: str | None = None
        self._step_plan: flow.Plan | None = None
        self._step_context: dict[str, Any] = {}
        self._step_errors: dict[str, dict[str, Any]] = {}  # failing cell id -> its route's `error`
        if scenario_id is not None:
            self.load()

    # -- loading and saving -------------------------------------------------------------

    def load(self) -> None:
        assert self.scenario_id is not None
        scenario = self.svc.scenario(self.user.id, self.scenario_id)
        self.webhook_url = self.svc.webhook_url(scenario)
        self.param.update(
            doc=copy.deepcopy(scenario.document),
            dirty=False,
            status=scenario.status,
            status_reason=scenario.status_reason,
            version=scenario.version,
            live_version=scenario.live_version,
        )
        self.structure = True

    def parsed(self) -> documents.ScenarioDocument:
        """The document, validated (DocumentError lists every problem with its place)."""
        doc = documents.parse(self.doc, source="scenario")
        self.svc.validate(doc)
        return doc

    def save(self) -> Any:
        """Store a new version (or create the scenario). It does not run until published."""
        doc = self.parsed()
        scenario = self.svc.import_scenario(self.user.id, doc, scenario_id=self.scenario_id)
        self.scenario_id = scenario.id
        self._take_secret_refs(scenario.document)
        self.webhook_url = self.svc.webhook_url(scenario)
        self._show(scenario, dirty=False)
        return scenario

    def _take_secret_refs(self, stored: dict[str, Any]) -> None:
        """Typed secrets now live in the vault: keep the stored references (``{"$secret": id}``)
        in the edited document instead of the text, so an export or the next save never
        carries the value (edited in place: nothing to re-render)."""
        saved = {
            cell["id"]: cell.get("inputs") or {} for cell, _ in walk(stored.get("cells") or [])
        }
        for cell, _ in self.walk():
            inputs = cell.get("inputs")
            for name, value in saved.get(cell["id"], {}).items():
                if inputs is not None and secrets.is_ref(value):
                    inputs[name] = value

    def _show(self, scenario: Any, **extra: Any) -> None:
        self.param.update(
            version=scenario.version,
            live_version=scenario.live_version,
            status=scenario.status,
            status_reason=scenario.status_reason,
            **extra,
        )

    @property
    def can_publish(self) -> bool:
        """The latest saved version is not the live one."""
        return (
            self.scenario_id is not None and self.version > 0 and self.version != self.live_version
        )

    @property
    def info(self) -> str:
        """Where the scenario stands: unsaved changes, a saved draft, what is live."""
        if self.dirty:
            return "Unsaved changes"
        if self.scenario_id is None or not self.version:
            return "Not saved yet"
        if self.live_version is None:
            return (
                f"Not published yet · version {self.version} saved — publish (or enable) to "
                "make it live"
            )
        if self.live_version == self.version:
            return f"Version {self.version} is live"
        return (
            f"Version {self.version} saved · version {self.live_version} is live — publish to "
            "make your changes live"
        )

    async def publish(self) -> Any:
        """Make the saved version live: the one the trigger runs (``Cellwright.publish``)."""
        self._require_saved("publishing")
        assert self.scenario_id is not None
        try:
            scenario = await self.svc.publish(self.user.id, self.scenario_id, self.version)
        except Exception:
            # a trigger that cannot be re-armed pauses the scenario: show what is true now
            self._show(await asyncio.to_thread(self.svc.scenario, self.user.id, self.scenario_id))
            raise
        self._show(scenario)
        return scenario

    def export(self) -> str:
        text = documents.dump(self.parsed())
        if self.scenario_id:
            self.svc.scenarios.record_export(self.user.id, self.scenario_id)
        return text

    async def enable(self) -> Any:
        self._require_saved("enabling")
        scenario = await self.svc.enable(self.user.id, self.scenario_id)
        self._show(scenario)
        return scenario

    async def disable(self) -> Any:
        self._require_saved("disabling")
        scenario = await self.svc.disable(self.user.id, self.scenario_id)
        self._show(scenario)
        return scenario

    def _require_saved(self, what: str) -> None:
        if self.scenario_id is None or self.dirty:
            raise ConfigurationError(f"Save your changes before {what} the scenario.")

    # -- reading cells --------------------------------------------------------------------

    @property
    def cells(self) -> list[dict[str, Any]]:
        cells: list[dict[str, Any]] = self.doc.setdefault("cells", [])
        return cells

    def walk(self) -> list[tuple[dict[str, Any], tuple[tuple[str, str], ...]]]:
        return list(walk(self.cells))

    def ids(self) -> set[str]:
        return {c["id"] for c, _ in self.walk()}

    def cell(self, cell_id: str) -> dict[str, Any]:
        for cell, _ in walk(self.cells):
            if cell["id"] == cell_id:
                return cell
        raise ConfigurationError(f"The scenario has no cell '{cell_id}'.")

    def _container(self, cell_id: str) -> tuple[list[dict[str, Any]], int]:
        def search(cells: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int] | None:
            for index, cell in enumerate(cells):
                if cell["id"] == cell_id:
                    return cells, index
                for _, inner in inner_lists(cell):
                    found = search(inner)
                    if found:
                        return found
            return None

        found = search(self.cells)
        if found is None:
            raise ConfigurationError(f"The scenario has no cell '{cell_id}'.")
        return found

    def cells_in(self, parent_id: str, name: str) -> list[dict[str, Any]]:
        """The cells of a router's branch ``name``, of a loop (``LOOP_BODY``) or of a
        cell's error route (``ERROR_ROUTE``)."""
        parent = self.cell(parent_id)
        for inner_name, inner in inner_lists(parent):
            if inner_name == name:
                return inner
        if name == LOOP_BODY:
            raise ConfigurationError(f"'{parent_id}' is not a loop.")
        if name == ERROR_ROUTE:
            raise ConfigurationError(
                f"'{parent_id}' has no error route: set 'When it fails' to 'run an error route'."
            )
        raise ConfigurationError(f"Router '{parent_id}' has no branch '{name}'.")

    def loop_of(self, cell_id: str) -> str | None:
        """The innermost loop ``cell_id`` sits in, or None."""
        for cell, parents in self.walk():
            if cell["id"] == cell_id:
                loops = [p for p, name in parents if name == LOOP_BODY]
                return loops[-1] if loops else None
        return None

    def branch(self, router_id: str, name: str) -> dict[str, Any]:
        for branch in self.cell(router_id).get("branches") or []:
            if branch["name"] == name:
                return branch
        raise ConfigurationError(f"Router '{router_id}' has no branch '{name}'.")

    def operation(self, cell: dict[str, Any]) -> Any:
        """The app operation of an operation cell, or None (unknown app: see validate)."""
        if "app" not in cell or cell["app"] not in self.svc.apps:
            return None
        try:
            return self.svc.apps.get(cell["app"]).operation(cell["operation"])
        except ConfigurationError:
            return None

    def trigger_url(self, cell: dict[str, Any]) -> tuple[str, str, str] | None:
        """(what it is, URL, what to do with it) for a trigger cell whose events arrive at
        a URL: the Webhook app's is the scenario's URL; an app whose vendor sends all of a
        connection's events to one URL (Slack) has the chosen connection's. None otherwise
        (and before a connection is chosen)."""
        op = self.operation(cell)
        if getattr(op, "trigger_type", "") != "instant":
            return None
        if cell.get("app") == "webhook":
            return (
                (
                    "Webhook URL (send events here once the scenario is enabled)",
                    self.webhook_url,
                    "",
                )
                if self.webhook_url
                else None
            )
        hook = self.svc.apps.get(cell["app"]).connection_webhook
        if hook is None or not cell.get("connection"):
            return None
        url = self.svc.connection_events_url(self.user.id, cell["connection"])
        if url is None:
            return None
        return (
            f"{hook.label} of this connection",
            url,
            f"{hook.instructions} This scenario gets them once it is enabled; a changed trigger "
            "counts once published.",
        )

    # -- editing --------------------------------------------------------------------------

    def _changed(self, structural: bool = False) -> None:
        self.dirty = True
        self.revision += 1
        if structural:
            self.structure = True

    def set_meta(self, **changes: Any) -> None:
        """Name, description or settings of the scenario."""
        for key, value in changes.items():
            if key == "settings":
                if value:
                    self.doc["settings"] = value
                else:
                    self.doc.pop("settings", None)
            else:
                self.doc[key] = value
        self._changed()

    def add_cell(
        self,
        kind: str,
        *,
        app: str | None = None,
        operation: str | None = None,
        after: str | None = None,
        branch: tuple[str, str] | None = None,
        router: bool = False,
        cell_id: str | None = None,
    ) -> str:
        """Insert a step after ``after`` (or first in ``branch``: a router's branch, a
        loop's cells or an error route, see :meth:`cells_in`; or right after the trigger)."""
        if kind not in KINDS:
            raise ConfigurationError(
                "A step is an action, a transformer, a condition, a loop or an aggregate, "
                f"not '{kind}'."
            )
        cell: dict[str, Any] = {"kind": kind}
        if kind == "loop":
            base = "loop"
            cell.update(items=self._first_list(), cells=[])
        elif kind == "aggregate":
            base = "aggregate"
            loop = self._loop_before(after, branch)
            if loop is None:
                raise ConfigurationError(
                    "An aggregate collects the results of a loop above it: add a loop first."
                )
            cell.update(loop=loop, value="{{ item }}")
        elif kind == "condition":
            base = "router" if router else "filter"
            if router:
                cell["branches"] = [
                    {
                        "name": "branch 1",
                        "rules": {"all": [{"left": "{{ trigger }}", "op": "exists"}]},
                        "cells": [],
                    },
                    {"name": "otherwise", "fallback": True, "cells": []},
                ]
            else:
                cell["rules"] = {"all": [{"left": "{{ trigger }}", "op": "exists"}]}
        else:
            if not app or not operation:
                raise ConfigurationError("Pick an app and an operation for the new step.")
            op = self.svc.apps.get(app).action(operation)
            cell.update(app=app, operation=operation, inputs={})
            kind = op.kind
            cell["kind"] = kind
            base = operation
        cell = {"id": cell_id or _unique_id(base, self.ids()), **cell}
        if after is not None:
            container, index = self._container(after)
            container.insert(index + 1, cell)
        elif branch is not None:
            self.cells_in(*branch).insert(0, cell)
        else:
            self.cells.insert(1, cell)
        self._changed(structural=True)
        return str(cell["id"])

    def _first_list(self) -> str:
        """A mapping of the first list in the trigger's data: what a new loop goes through."""
        try:
            payload = self.trigger_payload()
        except InvalidInputError:
            payload = {}
        for path, value in flatten(payload, "trigger"):
            if isinstance(value, list):
                return "{{ " + path + " }}"
        return "{{ trigger.body.items }}"

    def _loop_before(self, after: str | None, branch: tuple[str, str] | None) -> str | None:
        """The last loop that runs before a step inserted after ``after`` (or first in
        ``branch``) at the same level or above: the one a new aggregate collects."""
        anchor = after or (branch[0] if branch else None)
        found: str | None = None
        for cell, _ in self.walk():
            if cell.get("kind") == "loop" and cell["id"] != anchor:
                found = cell["id"]
            if cell["id"] == anchor:
                if cell.get("kind") == "loop" and after is not None:
                    found = cell["id"]
                break
        return found

    def move(self, cell_id: str, delta: int) -> None:
        container, index = self._container(cell_id)
        target = index + delta
        lowest = 1 if container is self.cells else 0
        if container[index].get("kind") == "trigger":
            raise ConfigurationError("The trigger always comes first.")
        if not lowest <= target < len(container):
            raise ConfigurationError(
                "The cell is already at the " + ("top." if delta < 0 else "bottom.")
            )
        container[index], container[target] = container[target], container[index]
        self._changed(structural=True)

    def move_to(self, cell_id: str, index: int) -> None:
        """Put a cell at position ``index`` of its own list (the top level or its branch),
        as dragging it there does. The trigger stays first."""
        container, current = self._container(cell_id)
        lowest = 1 if container is self.cells else 0
        if container[current].get("kind") == "trigger":
            raise ConfigurationError("The trigger always comes first.")
        if not lowest <= index < len(container):
            raise ConfigurationError(
                "The trigger always comes first."
                if index < lowest
                else "A cell moves only within its own list of steps."
            )
        if index != current:
            container.insert(index, container.pop(current))
            self._changed(structural=True)

    def drop(self, cell_id: str, target_id: str, *, after: bool) -> None:
        """Move ``cell_id`` just before (or ``after``) ``target_id`` in the same list of steps."""
        container, current = self._container(cell_id)
        others, target = self._container(target_id)
        if others is not container:
            raise ConfigurationError(
                f"'{cell_id}' can move only among the steps of its own list (the top level or its "
                f"branch), not next to '{target_id}'. To move it elsewhere, add a step there and "
                "delete this one."
            )
        index = target + (1 if after else 0)
        self.move_to(cell_id, index - 1 if current < index else index)

    def delete(self, cell_id: str) -> None:
        container, index = self._container(cell_id)
        if container[index].get("kind") == "trigger":
            raise ConfigurationError(
                "The trigger cannot be deleted; change its app or operation instead."
            )
        del container[index]
        self.results = {k: v for k, v in self.results.items() if k != cell_id}
        self._changed(structural=True)

    def update_cell(self, cell_id: str, **changes: Any) -> None:
        """Change fields of a cell. A new app or operation resets the inputs."""
        cell = self.cell(cell_id)
        structural = False
        if "id" in changes and changes["id"] != cell_id:
            new_id = changes["id"]
            if new_id in self.ids():
                raise ConfigurationError(f"Another cell already uses the id '{new_id}'.")
            structural = True
        for key in ("app", "operation"):
            if key in changes and changes[key] != cell.get(key):
                structural = True
                cell["inputs"] = {}
                if key == "app":
                    cell.pop("connection", None)
        for key, value in changes.items():
            if value is None or value == "":
                cell.pop(key, None)
            else:
                cell[key] = value
        if cell.get("kind") in ("action", "transformer") and "operation" in cell and structural:
            op = self.operation(cell)
            if op is not None:
                cell["kind"] = op.kind
        self._changed(structural=structural)

    def add_branch(self, router_id: str, name: str | None = None) -> str:
        cell = self.cell(router_id)
        names = {b["name"] for b in cell.get("branches") or []}
        name = name or next(f"branch {n}" for n in range(1, 1000) if f"branch {n}" not in names)
        branch = {
            "name": name,
            "rules": {"all": [{"left": "{{ trigger }}", "op": "exists"}]},
            "cells": [],
        }
        branches = cell.setdefault("branches", [])
        fallback_at = next((i for i, b in enumerate(branches) if b.get("fallback")), len(branches))
        branches.insert(fallback_at, branch)
        self._changed(structural=True)
        return name

    def update_branch(self, router_id: str, name: str, **changes: Any) -> None:
        branch = self.branch(router_id, name)
        for key, value in changes.items():
            if value is None:
                branch.pop(key, None)
            else:
                branch[key] = value
        self._changed(structural="name" in changes)

    def delete_branch(self, router_id: str, name: str) -> None:
        cell = self.cell(router_id)
        if len(cell.get("branches") or []) <= 1:
            raise ConfigurationError(
                "A router needs at least one branch; delete the router instead."
            )
        cell["branches"] = [b for b in cell["branches"] if b["name"] != name]
        self._changed(structural=True)

    # -- data flowing between cells ------------------------------------------------------

    def trigger_payload(self) -> dict[str, Any]:
        """Pasted JSON, else the trigger's last output, else its test data, else its sample."""
        text = self.trigger_text.strip()
        if text:
            try:
                data = jsontext.loads(
                    text, what="The trigger data"
                )  # standard JSON, as webhooks and the API take it
            except InvalidInputError as exc:
                raise InvalidInputError(
                    exc.message, errors=[{"field": "trigger_data", "message": exc.message}]
                ) from None
            if not isinstance(data, dict):
                raise InvalidInputError(
                    "The trigger data must be a JSON object ({...}).",
                    errors=[{"field": "trigger_data", "message": "not an object"}],
                )
            return data
        trigger = self.cells[0] if self.cells else {}
        last = self.results.get(trigger.get("id", ""))
        if last and last.get("output") is not None:
            return dict(last["output"])
        if isinstance(trigger.get("test_data"), dict):
            return dict(trigger["test_data"])
        op = self.operation(trigger)
        return dict(op.sample) if op is not None else {}

    def output_of(self, cell: dict[str, Any]) -> Any:
        """A cell's last output, else its operation's sample (what later cells may map)."""
        last = self.results.get(cell["id"])
        if last is not None and _ran(last):
            return last["output"]
        if cell.get("kind") == "trigger":
            return self.trigger_payload()
        if cell.get("kind") == "condition":
            return {"passed": True} if cell.get("rules") is not None else {"branches": []}
        op = self.operation(cell)
        return dict(op.sample) if op is not None else {}

    def before(self, cell_id: str) -> list[dict[str, Any]]:
        """The cells that run before ``cell_id`` (its data sources)."""
        out: list[dict[str, Any]] = []
        target_parents: tuple[tuple[str, str], ...] | None = None
        ordered = self.walk()
        for cell, parents in ordered:
            if cell["id"] == cell_id:
                target_parents = parents
                break
        if target_parents is None:
            raise ConfigurationError(f"The scenario has no cell '{cell_id}'.")
        for cell, parents in ordered:
            if cell["id"] == cell_id:
                break
            # a cell in a sibling branch (same router, other branch) never runs before this one
            if any(p != t and p[0] == t[0] for p, t in zip(parents, target_parents, strict=False)):
                continue
            # a loop's cells are seen only inside the loop (after it, through an aggregate)
            if any(p[1] == LOOP_BODY and p not in target_parents for p in parents):
                continue
            out.append(cell)
        return out

    def context_for(self, cell_id: str) -> dict[str, Any]:
        trigger = self.trigger_payload()
        steps = {
            c["id"]: (trigger if c.get("kind") == "trigger" else self.output_of(c))
            for c in self.before(cell_id)
        }
        context: dict[str, Any] = {"trigger": trigger, "steps": steps}
        context.update(self._scope_extras(cell_id, context))
        return context

    def _scope_extras(self, cell_id: str, context: dict[str, Any]) -> dict[str, Any]:
        """What a cell inside a loop or an error route also sees when run on its own: the
        loop's first item (``item``, ``index``) and its failing cell's ``error`` (the last
        one when the failing cell has run, else an example)."""
        extras: dict[str, Any] = {}
        parents = next((p for c, p in self.walk() if c["id"] == cell_id), ())
        loops = [p for p, name in parents if name == LOOP_BODY]
        if loops:
            extras.update(item=self._first_item(loops[-1], context), index=0)
        failing = flow.route_of(parents)
        if failing is not None:
            last = self.results.get(failing) or {}
            recorded = last.get("error") or {
                "code": "example",
                "message": f"(an example error: '{failing}' has not failed yet)",
            }
            extras["error"] = flow.route_error(failing, recorded)
        return extras

    def _first_item(self, loop_id: str, context: dict[str, Any]) -> Any:
        """The first item of a loop: from its last run, else its list rendered now."""
        last = self.results.get(loop_id) or {}
        ran = (last.get("output") or {}).get("items") if _ran(last) else None
        if ran:
            return ran[0].get("item")
        items = self.cell(loop_id).get("items")
        try:
            value = render(items, context, cell_id=loop_id, field="items")
        except MappingError:
            return None
        return value[0] if isinstance(value, list) and value else None

    def references(self, cell_id: str) -> list[tuple[str, str]]:
        """``(label, reference)`` for every field of every earlier cell's output."""
        out: list[tuple[str, str]] = []
        sources = [
            ("trigger" if cell.get("kind") == "trigger" else f"steps.{cell['id']}", cell)
            for cell in self.before(cell_id)
        ]
        extras = self._scope_extras(cell_id, {"trigger": self.trigger_payload(), "steps": {}})
        found: list[tuple[str, Any]] = [
            (name, extras[name]) for name in ("item", "index", "error") if name in extras
        ]
        found.extend((source, self.output_of(cell)) for source, cell in sources)
        for source, data in found:
            if source in extras:
                out.append(self._reference(source, data))
            out.extend(self._reference(path, value) for path, value in flatten(data, source))
        return out

    @staticmethod
    def _reference(path: str, value: Any) -> tuple[str, str]:
        if isinstance(value, dict | list):
            text = "{…}" if isinstance(value, dict) else "[…]"
        else:
            text = json.dumps(value, default=str, ensure_ascii=False)
        return f"{path} = {text if len(text) <= 40 else text[:39] + '…'}", "{{ " + path + " }}"

    # -- choices of ID fields ---------------------------------------------------------------

    def option_needs(
        self, cell: dict[str, Any], schema: dict[str, Any]
    ) -> dict[str, tuple[str, ...]]:
        """Field → the fields its choices depend on (a monday.com group needs the board)."""
        app = self.svc.apps.get(cell["app"]) if cell.get("app") in self.svc.apps else None
        if app is None:
            return {}
        return {
            name: app.option_source(key).needs
            for name, key in field_sources(schema).items()
            if "." not in name
        }

    async def options(self, cell_id: str, field: str, values: dict[str, Any]) -> list[Any]:
        """The choices of one of a cell's fields, through the cell's connection
        (``Cellwright.options``)."""
        cell = self.cell(cell_id)
        result: list[Any] = await self.svc.options(
            self.user.id, cell["app"], cell["operation"], field, cell.get("connection"), values
        )
        return result

    # -- running --------------------------------------------------------------------------

    def stand_ins(self, cell_id: str) -> list[str]:
        """The earlier cells ``cell_id`` maps from whose *sample* output stands in for a
        real one, because they have not run yet ("trigger" for the trigger's sample)."""
        cell = self.cell(cell_id)
        mapped = {
            "inputs": cell.get("inputs"),
            "rules": cell.get("rules"),
            "branches": [b.get("rules") for b in cell.get("branches") or []],
        }
        try:
            used = referenced_steps(mapped)
        except MappingError:
            used = set()  # Run cell reports the syntax error itself
        out: list[str] = []
        for earlier in self.before(cell_id):
            if earlier.get("kind") == "trigger":
                trigger_used = earlier["id"] in used or _mentions_trigger(mapped)
                ran = (
                    self.trigger_text.strip()
                    or (self.results.get(earlier["id"]) or {}).get("output") is not None
                )
                if trigger_used and not ran:
                    out.append("trigger")
            elif earlier["id"] in used and not _ran(self.results.get(earlier["id"])):
                out.append(earlier["id"])
        return out

    async def run_cell(self, cell_id: str) -> dict[str, Any]:
        """Run one step with the outputs of the cells above (``Cellwright.run_cell``); the
        result's ``stand_ins`` names the earlier cells whose samples were used instead."""
        doc = await asyncio.to_thread(self.parsed)
        stand_ins = self.stand_ins(cell_id)
        result = await self.svc.run_cell(self.user.id, doc, cell_id, self.context_for(cell_id))
        data: dict[str, Any] = {**result.to_dict(), "stand_ins": stand_ins}
        self.results = {**self.results, cell_id: data}
        return data

    async def test_run(self) -> dict[str, Any]:
        """Run the whole scenario with the trigger data (saving unsaved changes first)."""
        payload = self.trigger_payload()
        if self.dirty or self.scenario_id is None:
            await asyncio.to_thread(self.save)
        assert self.scenario_id is not None
        execution: dict[str, Any] = await self.svc.run_now(self.user.id, self.scenario_id, payload)
        self.results = {**self.results, **{c["cell_id"]: c for c in execution.get("cells") or []}}
        self.last_execution = execution
        return execution

    # -- step mode ------------------------------------------------------------------------

    def step_reset(self) -> None:
        """Forget the step-by-step run; the next step starts again after the trigger."""
        self._step_plan = None
        self._step_context = {}
        self.param.update(step_log=[], step_next=None, step_message="")

    def _step_begin(self, doc: documents.ScenarioDocument) -> None:
        payload = self.trigger_payload()
        trigger = self.cells[0] if self.cells else {}
        self._step_context = {"trigger": payload, "steps": {trigger.get("id", "trigger"): payload}}
        self._step_errors = {}
        self._step_plan = flow.start(doc)
        self.param.update(step_log=[], step_message="")

    def _step_route(
        self, cell: Any, context: dict[str, Any], recorded: dict[str, Any], message: str
    ) -> str:
        """A stepped cell failed into its error route: keep the ``error`` its route's
        cells see and give the cell its output (the fallback with ``then: continue``)."""
        route = flow.error_route(cell)
        assert route is not None
        error = flow.route_error(cell.id, recorded)
        self._step_errors[cell.id] = error
        output: Any = {"error": recorded}
        if route.then == "continue":
            try:
                output = render(
                    route.fallback, {**context, "error": error}, cell_id=cell.id, field="fallback"
                )
            except MappingError as exc:
                self._step_plan = flow.Plan()
                return f"'{cell.id}' failed and its fallback cannot be computed: {exc}"
        self._step_context["steps"][cell.id] = output
        return message

    def _live_items(
        self, loop: LoopCell, context: dict[str, Any]
    ) -> Callable[[ItemRun], Awaitable[None]]:
        """Show a stepped loop's items as they end (``step_items``)."""
        try:
            listed = render(loop.items, context, cell_id=loop.id, field="items")
        except MappingError:
            listed = None  # the loop's own run says what is wrong
        count = len(listed) if isinstance(listed, list) else None
        self.step_items = {"loop": loop.id, "count": count, "items": []}

        async def ended(run: ItemRun) -> None:
            live = self.step_items
            if live is not None:
                entry = {**run.summary(), "status": run.status, "error": run.error}
                items = sorted([*live["items"], entry], key=lambda i: int(i["index"]))
                self.step_items = {**live, "items": items}
                await asyncio.sleep(0)  # let the page show it before the next item

        return ended

    async def step(self) -> dict[str, Any] | None:
        """Run the next cell with the trigger data and the outputs gathered so far, as a
        run would (``cells.flow`` decides what runs next, for runs and steps alike).
        Returns the cell's result, or None when there is nothing left to run."""
        doc = None
        if self._step_plan is None:
            doc = await asyncio.to_thread(self.parsed)
            self._step_begin(doc)
        plan = self._step_plan
        assert plan is not None
        pending = plan.next
        if pending is None:
            self.param.update(
                step_next=None,
                step_message=self.step_message or "Every cell has run. Reset to start again.",
            )
            return None
        cell_id = pending.cell_id
        failing = flow.route_of(pending.scope)  # a cell of that cell's error route
        if cell_id not in self.ids() and (failing is None or failing not in self._step_errors):
            self.param.update(
                step_next=None,
                step_message="The scenario changed since the first step: reset, then step again.",
            )
            self._step_plan = flow.Plan()
            return None
        if doc is None:
            doc = await asyncio.to_thread(self.parsed)
        context = self._step_context
        if failing is not None:
            context = {**context, "error": self._step_errors[failing]}
        cell = flow.steps_by_id(doc)[cell_id]
        on_item = self._live_items(cell, context) if isinstance(cell, LoopCell) else None
        try:
            result_obj = await self.svc.run_cell(
                self.user.id, doc, cell_id, context, on_item=on_item
            )
        finally:
            self.step_items = None
        result: dict[str, Any] = result_obj.to_dict()
        ok = result["status"] == "completed"
        decision = flow.advance(plan, cell, flow.outcome(cell, ok=ok, output=result.get("output")))
        self._step_plan = decision.plan
        self.results = {**self.results, cell_id: result}
        if ok or decision.effect == "continued":
            self._step_context["steps"][cell_id] = (
                result.get("output") if ok else {"error": result.get("error")}
            )
        message = decision.message
        if ok and getattr(cell, "app", None) == "delay":
            message = f"{message} {delay_note(result.get('output') or {})}".strip()
        if decision.effect == "error_route":
            message = self._step_route(cell, context, result.get("error") or {}, message)
        if decision.stops_run:
            message += " Fix the cell, then reset and step again."
        after = self._step_plan
        following = after.next if after is not None else None
        if following is None and decision.plan.fails_with is not None:
            message = (
                f"{message} The error route has run: the run fails with "
                f"'{decision.plan.fails_with}'s error."
            ).strip()
        if following is None and not message:
            message = "Every cell has run. Reset to start again."
        self.param.update(
            step_log=[*self.step_log, result],
            step_next=following.cell_id if following else None,
            step_message=message,
        )
        return result


def _ran(result: dict[str, Any] | None) -> bool:
    return (
        result is not None
        and result.get("status") == "completed"
        and result.get("output") is not None
    )


def _mentions_trigger(value: Any) -> bool:
    """Whether any ``{{ }}`` in ``value`` names ``trigger`` (a cheap, conservative test)."""
    return has_template(value) and "trigger" in json.dumps(value, default=str)


def delay_note(output: Mapping[str, Any]) -> str:
    """What a delay cell would do in a run; Step (like Run cell) does not wait."""
    if "waited_seconds" in output:
        return (
            f"A run waits {float(output['waited_seconds']):g} s here (until"
            f" {output.get('resumed_at')}); Step goes on at once."
        )
    return (
        "A run waits here for a call to its resume URL (execution.resume_url) or its"
        " timeout; Step goes on at once, with no call."
    )
