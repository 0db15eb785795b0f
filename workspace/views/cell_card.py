"""One cell of the notebook, opened: :class:`CellCard` (header with Run cell, the cell's
form built from its operation's schema, a reference picker, move/delete, its last
result as input/output trees) and :class:`AddStep` (the "add a step here" control).

Collapsed cells are not cards: :class:`~workspace.views.components.CellList` shows
them, titled by :func:`cell_title`.
"""

from __future__ import annotations

import json
from html import escape
from typing import TYPE_CHECKING, Any

import panel as pn
import param

from cells.models import ERROR_ROUTE, LOOP_BODY, MAX_LOOP_CONCURRENCY
from connectors.sdk import CellwrightError
from workspace.views.components import Disclosure, ReferencePicker, Slot
from workspace.views.flow_graph import cell_icon
from workspace.views.notebook_state import NotebookState
from workspace.views.rules import RulesEditor
from workspace.views.widgets import (
    Banner,
    SchemaForm,
    attempt,
    error_dict_message,
    html,
    json_tree,
)

if TYPE_CHECKING:
    from workspace.views.notebook import Notebook

CARD_STYLE = {"border": "1px solid #d1d5db", "border-radius": "8px", "background": "#ffffff"}


def cell_title(state: NotebookState, cell_id: str, number: str) -> str:
    """``3. name — App · Operation  [status]``: a cell's header text (the arrow is CSS)."""
    cell = state.cell(cell_id)
    result = state.results.get(cell_id)
    status = f"  [{result['status']}]" if result else ""
    name = cell.get("name") or cell["id"]
    if cell.get("kind") == "condition":
        what = "Router" if cell.get("branches") is not None else "Filter"
    elif cell.get("kind") == "loop":
        count = len(cell.get("cells") or [])
        what = (
            f"For each item of {cell.get('items', '?')} ({count} cell{'s' if count != 1 else ''})"
        )
    elif cell.get("kind") == "aggregate":
        what = f"Aggregate · {cell.get('mode', 'list')} over '{cell.get('loop', '?')}'"
    else:
        op = state.operation(cell)
        app = (
            state.svc.apps.get(cell["app"]).name
            if cell.get("app") in state.svc.apps
            else cell.get("app", "?")
        )
        what = f"{app} · {op.name if op is not None else cell.get('operation')}"
    return f"{number}. {name} — {what}{status}"


def _short(value: Any, limit: int = 80) -> str:
    text = json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def items_table(output: dict[str, Any], limit: int = 50) -> str:
    """A loop's output, one row per item: ``item 2/3``, the item, what its cells gave."""
    items = output.get("items") or []
    count = int(output.get("count") or len(items))
    rows = []
    for run in items[:limit]:
        steps = run.get("steps") or {}
        gave = "<br>".join(
            f"<strong>{escape(str(cell_id))}</strong>: <code>{escape(_short(value))}</code>"
            for cell_id, value in steps.items()
        )
        if run.get("status") == "failed":
            gave += (
                ' <span style="color:#b91c1c">failed: '
                f"{escape(error_dict_message(run.get('error')))}"
                "</span>"
            )
        if run.get("stopped"):
            gave += ' <span class="cw-muted">(a filter stopped this item)</span>'
        rows.append(
            f'<tr><th scope="row">item {int(run.get("index", 0)) + 1}/{count}</th>'
            f"<td><code>{escape(_short(run.get('item')))}</code></td><td>{gave or '—'}</td></tr>"
        )
    more = (
        f'<p class="cw-muted">…and {len(items) - limit} more items.</p>'
        if len(items) > limit
        else ""
    )
    return (
        f"<p><strong>Each item ({count})</strong></p>"
        '<table class="loop-item-results" style="border-collapse:collapse;width:100%;'
        'table-layout:fixed;overflow-wrap:anywhere"><thead><tr>'
        '<th scope="col" style="width:7em;text-align:left">Item</th>'
        '<th scope="col" style="width:30%;text-align:left">Value</th>'
        '<th scope="col" style="text-align:left">Its cells gave</th></tr></thead><tbody>'
        + "".join(rows)
        + "</tbody></table>"
        + more
    )


class CellCard(pn.viewable.Viewer):
    """One cell: a header (toggle, status, Run) and an editor built on first open."""

    expanded = param.Boolean(default=False)

    def __init__(self, notebook: Notebook, cell_id: str, number: str, **params: Any) -> None:
        super().__init__(**params)
        self.nb = notebook
        self.state = notebook.state
        self.cell_id = cell_id
        self.number = number
        self.banner = Banner("cell-banner")
        self.form: SchemaForm | None = None
        self.call_note: Any = None  # a Run scenario cell: the inputs its scenario expects
        self.trigger_url: Any = None  # the trigger's URL line, once built
        cell = self.state.cell(cell_id)
        self.is_trigger = cell.get("kind") == "trigger"
        self.toggle = Disclosure(
            label=self._title(),
            icon=cell_icon(cell),
            css_classes=["cell-toggle", f"cell-toggle-{cell_id}"],
        )
        self.toggle.param.watch(lambda e: self.param.update(expanded=e.new), "expanded")
        self.run: pn.widgets.Button | None = None
        self.body = pn.Column(sizing_mode="stretch_width", margin=(0, 0, 0, 24))
        self.result = Slot(sizing_mode="stretch_width", margin=0)
        # collapsed, a card is two models (this column and the toggle): a 50-cell scenario
        # opens fast
        self._layout = pn.Column(
            self.toggle,
            sizing_mode="stretch_width",
            css_classes=["cell-card", f"cell-{cell_id}"],
            styles=CARD_STYLE,
            margin=(4, 0),
        )
        self.param.watch(self._toggle, "expanded")

    def _title(self) -> str:
        return cell_title(self.state, self.cell_id, self.number)

    def refresh_header(self) -> None:
        self.toggle.param.update(
            label=self._title(),
            icon=cell_icon(self.state.cell(self.cell_id)),
            expanded=self.expanded,
        )

    def _open(self) -> None:
        """Build the header row, banner and editor (first time the card is opened)."""
        header: list[Any] = [self.toggle]
        if not self.is_trigger:
            self.run = pn.widgets.Button(
                name="Run cell",
                button_type="primary",
                width=100,
                align="center",
                css_classes=["run-cell", f"run-{self.cell_id}"],
            )
            self.run.on_click(self._run)
            header.append(self.run)
        self._layout[:] = [
            pn.Row(*header, sizing_mode="stretch_width", margin=0),
            self.banner,
            self.body,
        ]

    def _toggle(self, *_: Any) -> None:
        if self.expanded and len(self._layout) == 1:
            self._open()
        if self.expanded and not self.body.objects:
            self.build()
        self.body.visible = self.expanded
        self.refresh_header()
        self.nb.card_toggled(self)

    # -- the editor ---------------------------------------------------------------------

    def build(self) -> None:
        cell = self.state.cell(self.cell_id)
        svc = self.state.svc
        parts: list[Any] = []
        name = pn.widgets.TextInput(
            name="Cell label",
            value=cell.get("name") or "",
            placeholder=cell["id"],
            sizing_mode="stretch_width",
            css_classes=["cell-name"],
        )
        name.param.watch(lambda e: self._edit(name=e.new or None), "value")
        parts.append(name)
        if cell.get("kind") == "condition":
            parts.extend(self._condition_editor(cell))
        elif cell.get("kind") == "loop":
            parts.extend(self._loop_editor(cell))
        elif cell.get("kind") == "aggregate":
            parts.extend(self._aggregate_editor(cell))
        else:
            parts.extend(self._operation_editor(cell, svc))
        if not self.is_trigger:
            up = pn.widgets.Button(
                name="Move up", button_type="light", width=100, css_classes=["cell-up"]
            )
            down = pn.widgets.Button(
                name="Move down", button_type="light", width=110, css_classes=["cell-down"]
            )
            delete = pn.widgets.Button(
                name="Delete cell", button_type="danger", width=110, css_classes=["cell-delete"]
            )
            up.on_click(lambda e: self._move(-1))
            down.on_click(lambda e: self._move(+1))
            delete.on_click(lambda e: self._delete())
            parts.append(pn.Row(up, down, delete, margin=(6, 0)))
            parts.append(self.result)
        parts.append(
            AddStep(
                self.nb,
                after=self.cell_id,
                label=f"Add a step after {cell.get('name') or cell['id']}",
            )
        )
        self.body[:] = parts
        self._show_result()

    def _move(self, offset: int) -> None:
        self.nb.act(lambda: self.state.move(self.cell_id, offset), self.banner)
        self.nb.focus_cell(self.cell_id)  # its editor was rebuilt in the new place

    def _delete(self) -> None:
        order = [cell["id"] for cell, _ in self.state.walk()]
        before = order[max(order.index(self.cell_id) - 1, 0)]
        self.nb.act(lambda: self.state.delete(self.cell_id), self.banner)
        if self.cell_id not in self.state.ids():
            self.nb.focus_cell(before)  # the cell above takes the focus

    def _edit(self, **changes: Any) -> None:
        try:
            self.state.update_cell(self.cell_id, **changes)
        except Exception as exc:
            self.banner.error(exc)
            return
        self.refresh_header()
        if (
            "connection" in changes and self.trigger_url is not None
        ):  # a Slack trigger's URL is its connection's
            self.trigger_url.object = self._trigger_url_html(self.state.cell(self.cell_id))
        if (
            "connection" in changes and self.form is not None and self.form.pickers
        ):  # choices come through it
            pn.state.execute(self.form.refresh_options)

    async def _load_options(self, field: str, values: dict[str, Any]) -> Any:
        return await self.state.options(self.cell_id, field, values)

    def _operation_editor(self, cell: dict[str, Any], svc: Any) -> list[Any]:
        parts: list[Any] = []
        want_trigger = self.is_trigger
        apps = {a.name: a.key for a in svc.apps if (a.triggers if want_trigger else a.actions)}
        app_select = pn.widgets.Select(
            name="App",
            options=apps,
            value=cell.get("app") if cell.get("app") in apps.values() else None,
            width=240,
            css_classes=["cell-app"],
        )
        app = svc.apps.get(cell["app"]) if cell.get("app") in svc.apps else None
        ops = {
            o.name: o.key for o in ((app.triggers if want_trigger else app.actions) if app else ())
        }
        op_select = pn.widgets.Select(
            name="Trigger" if want_trigger else "Operation",
            options=ops,
            value=cell.get("operation") if cell.get("operation") in ops.values() else None,
            width=280,
            css_classes=["cell-operation"],
        )

        def app_changed(event: Any) -> None:
            new_app = svc.apps.get(event.new)
            first = (new_app.triggers if want_trigger else new_app.actions)[0]
            self._edit(app=event.new, operation=first.key)
            self._rebuild()

        app_select.param.watch(app_changed, "value")
        op_select.param.watch(lambda e: (self._edit(operation=e.new), self._rebuild()), "value")
        row: list[Any] = [app_select, op_select]
        if app is not None and app.needs_connection:
            conns = svc.connections.choices(self.state.user.id, app.key)
            options = {"(choose a connection)": "", **conns}
            conn = pn.widgets.Select(
                name="Connection",
                options=options,
                value=cell.get("connection") if cell.get("connection") in conns.values() else "",
                width=260,
                css_classes=["cell-connection"],
            )
            conn.param.watch(lambda e: self._edit(connection=e.new or None), "value")
            row.append(conn)
        route_editor: Any = None
        if cell.get("kind") in ("action", "transformer"):
            current = cell.get("on_error", "fail")
            on_error = pn.widgets.Select(
                name="When it fails",
                options={
                    "stop the run": "fail",
                    "record and continue": "continue",
                    "run an error route": "route",
                },
                value="route" if isinstance(current, dict) else current,
                width=200,
                css_classes=["cell-on-error"],
            )

            def on_error_changed(event: Any) -> None:
                if event.new == "route":
                    self._edit(on_error={"cells": [], "then": "stop"})
                else:
                    self._edit(on_error=None if event.new == "fail" else event.new)
                self._rebuild()

            on_error.param.watch(on_error_changed, "value")
            row.append(on_error)
            if isinstance(current, dict):
                route_editor = self._route_editor(current)
        parts.append(pn.FlexBox(*row, sizing_mode="stretch_width", margin=0))
        if (
            app is not None
            and app.needs_connection
            and len(row) > 2
            and not row[2].options.get(next(iter(row[2].options)))
            and len(row[2].options) == 1
        ):
            parts.append(
                html(
                    f'<p class="cw-muted">No {escape(app.name)} connection yet: create one on the '
                    "Connections page.</p>"
                )
            )
        op = self.state.operation(cell)
        if op is None:
            parts.append(html('<p class="cw-muted">Pick an app and an operation.</p>'))
            return parts
        if op.description:
            parts.append(html(f'<p class="cw-muted">{escape(op.description)}</p>'))
        schema = op.input_schema()
        self.form = SchemaForm(
            schema,
            cell.get("inputs") or {},
            prefix=f"in-{self.cell_id}",
            load_options=self._load_options,
            option_needs=self.state.option_needs(cell, schema),
        )
        self.form.param.watch(self._form_changed, "changed")
        parts.append(self.form)
        if (cell.get("app"), cell.get("operation")) == ("scenario", "run_scenario"):
            self.call_note = html(self._call_note(cell), css_classes=["called-inputs"])
            parts.append(self.call_note)
        if self.form.pickers:
            pn.state.execute(self.form.refresh_options)
        if self.is_trigger:
            parts.extend(self._trigger_extras(cell, op))
        else:
            parts.append(self._reference_picker())
        if route_editor is not None:  # after the cell's own fields: what runs when it fails
            parts.append(route_editor)
        return parts

    def _form_changed(self, *_: Any) -> None:
        assert self.form is not None
        stored = self.state.cell(self.cell_id).get("inputs") or {}
        # an empty password box means "keep the stored secret", not "remove it"
        keep = {name: stored[name] for name in self.form.secret_names() if name in stored}
        try:
            values = self.form.values(keep_secrets=keep)
        except ValueError:
            return
        self._edit(inputs=values)
        if self.call_note is not None:
            self.call_note.object = self._call_note(self.state.cell(self.cell_id))

    def _call_note(self, cell: dict[str, Any]) -> str:
        """What the scenario a Run scenario cell calls expects (its declared inputs)."""
        target = (cell.get("inputs") or {}).get("scenario_id")
        if not isinstance(target, str) or not target.strip() or "{{" in target:
            return '<p class="cw-muted">Pick the scenario to run to see the inputs it expects.</p>'
        try:
            specs = self.state.svc.callable_inputs(self.state.user.id, target.strip())
        except CellwrightError as exc:
            return f'<p class="cw-muted">{escape(exc.message)}</p>'
        if not specs:
            return '<p class="cw-muted">The scenario expects no inputs.</p>'
        items = "".join(
            f"<li><code>{escape(s['name'])}</code> — {escape(s['type'])}"
            + (" (required)" if s["required"] else "")
            + (f": {escape(s['description'])}" if s.get("description") else "")
            + "</li>"
            for s in specs
        )
        return f'<p class="cw-muted">The scenario expects these inputs:</p><ul>{items}</ul>'

    def _reference_picker(self) -> Any:
        form = self.form

        def insert(field: str, reference: str) -> None:
            if form is not None and field in form.specs:
                form.insert(field, reference)
                self._form_changed()

        fields = (
            [
                [name, form.label(name), "cursor" if form.inserts_at_cursor(name) else "form"]
                for name in form.specs
            ]
            if form
            else []
        )
        refs = [list(pair) for pair in self.state.references(self.cell_id)]
        return ReferencePicker(
            insert,
            ref_options=refs,
            field_options=fields,
            field_class=f"{form.prefix}-" if form else "",
        )

    def _trigger_url_html(self, cell: dict[str, Any]) -> str:
        shown = self.state.trigger_url(
            cell
        )  # the scenario's webhook URL, or the connection's (Slack)
        if shown is None:
            return ""
        label, url, note = shown
        return (
            f'<p>{escape(label)}: <code class="webhook-url">{escape(url)}'
            f"</code>{' — ' + escape(note) if note else ''}</p>"
        )

    def _trigger_extras(self, cell: dict[str, Any], op: Any) -> list[Any]:
        parts: list[Any] = []
        self.trigger_url = html(self._trigger_url_html(cell), css_classes=["trigger-url"])
        parts.append(self.trigger_url)
        given = cell.get("test_data")  # a template's example of what the trigger delivers
        sample = json.dumps(given if isinstance(given, dict) else dict(op.sample), indent=2)
        empty = "the scenario's test data" if isinstance(given, dict) else "the sample below"
        data = pn.widgets.TextAreaInput(
            name=f"Test data for this trigger (JSON; empty = {empty})",
            value=self.state.trigger_text,
            placeholder=sample[:400],
            height=120,
            sizing_mode="stretch_width",
            css_classes=["trigger-data"],
        )
        data.param.watch(lambda e: setattr(self.state, "trigger_text", e.new), "value")
        parts.append(data)
        parts.append(
            pn.Column(
                html("<strong>Sample output of this trigger</strong>"),
                json_tree(dict(op.sample), name="Trigger sample", depth=1),
                sizing_mode="stretch_width",
            )
        )
        return parts

    def _loop_editor(self, cell: dict[str, Any]) -> list[Any]:
        """A loop: its list, how many items at a time, and its cells (added like any step)."""
        items = pn.widgets.TextInput(
            name="Items (a list, e.g. {{ trigger.body.line_items }})",
            value=cell.get("items")
            if isinstance(cell.get("items"), str)
            else json.dumps(cell.get("items")),
            sizing_mode="stretch_width",
            css_classes=["loop-items"],
        )
        items.param.watch(lambda e: self._edit(items=e.new), "value")
        concurrency = pn.widgets.Select(  # a select: a spinner's arrows have no names
            name="Items at the same time",
            options={
                "one after another": 1,
                **{f"{n} at a time": n for n in range(2, MAX_LOOP_CONCURRENCY + 1)},
            },
            value=int(cell.get("concurrency") or 1),
            width=200,
            css_classes=["loop-concurrency"],
        )
        concurrency.param.watch(
            lambda e: self._edit(concurrency=None if e.new == 1 else e.new), "value"
        )
        note = html(
            '<p class="cw-muted">Runs its cells once per item; they see <code>item</code>, '
            "<code>index</code> (from 0) and the cells above the loop. Collect the items' "
            "results with an aggregate step after the loop.</p>"
        )
        name = cell.get("name") or cell["id"]
        inside = self.nb.inner_view(
            self.cell_id,
            LOOP_BODY,
            f"{self.number}.",
            heading=f"For each item, run ({len(cell.get('cells') or [])} cells):",
            label=f"Add a step inside loop {name}",
            empty="No cells yet: add the step to run for each item.",
        )
        return [note, items, concurrency, inside]

    def _route_editor(self, route: dict[str, Any]) -> Any:
        """An error route: its cells (run with ``error`` in scope), then what happens
        (stop, handled, continue) and, with continue, the failing cell's fallback output."""
        then = pn.widgets.Select(
            name="After the error route",
            options={
                "stop the run (it fails)": "stop",
                "end the run as handled": "handled",
                "continue with a fallback output": "continue",
            },
            value=route.get("then", "stop"),
            width=260,
            css_classes=["route-then"],
        )
        given = route.get("fallback")
        fallback = pn.widgets.TextInput(
            name="Fallback output (JSON or text; may map {{ error.message }})",
            value="" if given is None else given if isinstance(given, str) else json.dumps(given),
            placeholder='e.g. {"result": "unknown"}',
            sizing_mode="stretch_width",
            visible=then.value == "continue",
            css_classes=["route-fallback"],
        )

        def changed(*_: Any) -> None:
            current = dict(self.state.cell(self.cell_id).get("on_error") or {})
            current["then"] = then.value
            text = fallback.value.strip()
            if then.value == "continue" and text:
                try:
                    current["fallback"] = json.loads(text)
                except ValueError:
                    current["fallback"] = text  # text, possibly with {{ }} mappings
            else:
                current.pop("fallback", None)
            fallback.visible = then.value == "continue"
            self._edit(on_error=current)

        then.param.watch(changed, "value")
        fallback.param.watch(changed, "value")
        name = self.state.cell(self.cell_id).get("name") or self.cell_id
        inside = self.nb.inner_view(
            self.cell_id,
            ERROR_ROUTE,
            f"{self.number}.",
            heading="Run these cells (they see error.message, error.code, error.cell_id):",
            label=f"Add a step to the error route of {name}",
            empty="No cells yet: the route only decides what happens next.",
        )
        return pn.Column(
            html(
                '<p style="margin:4px 0"><strong>Error route</strong> '
                '<span class="cw-muted">— runs when this cell fails for good (after its '
                "retries)</span></p>"
            ),
            inside,
            pn.FlexBox(then, fallback, sizing_mode="stretch_width", margin=0),
            sizing_mode="stretch_width",
            margin=(4, 0, 4, 12),
            styles={"border-left": "3px solid #f59e0b", "padding-left": "8px"},
            css_classes=["error-route"],
        )

    def _aggregate_editor(self, cell: dict[str, Any]) -> list[Any]:
        """An aggregate: which loop, how to fold, what each item gives."""
        loops = [c["id"] for c, _ in self.state.walk() if c.get("kind") == "loop"]
        loop = pn.widgets.Select(
            name="Loop",
            options=loops,
            value=cell.get("loop") if cell.get("loop") in loops else None,
            width=200,
            css_classes=["aggregate-loop"],
        )
        loop.param.watch(lambda e: self._edit(loop=e.new), "value")
        mode = pn.widgets.Select(
            name="Result",
            options={
                "a list": "list",
                "text, joined": "join",
                "the sum": "sum",
                "a count": "count",
                "groups by key": "group",
            },
            value=cell.get("mode", "list"),
            width=200,
            css_classes=["aggregate-mode"],
        )
        mode.param.watch(lambda e: self._edit(mode=None if e.new == "list" else e.new), "value")
        value = pn.widgets.TextInput(
            name="Each item's value",
            value=str(cell.get("value", "{{ item }}")),
            sizing_mode="stretch_width",
            css_classes=["aggregate-value"],
        )
        value.param.watch(lambda e: self._edit(value=e.new), "value")
        separator = pn.widgets.TextInput(
            name="Separator (text)",
            value=cell.get("separator", ", "),
            width=160,
            css_classes=["aggregate-separator"],
        )
        separator.param.watch(lambda e: self._edit(separator=e.new), "value")
        key = pn.widgets.TextInput(
            name="Group by (groups)",
            value=cell.get("key") or "",
            width=240,
            css_classes=["aggregate-key"],
        )
        key.param.watch(lambda e: self._edit(key=e.new or None), "value")

        def shown(*_: Any) -> None:  # the separator joins text; the key makes groups
            separator.visible = mode.value == "join"
            key.visible = mode.value == "group"

        mode.param.watch(shown, "value")
        shown()
        return [
            pn.FlexBox(loop, mode, separator, key, sizing_mode="stretch_width", margin=0),
            value,
        ]

    def _condition_editor(self, cell: dict[str, Any]) -> list[Any]:
        parts: list[Any] = []
        if cell.get("branches") is None:
            parts.append(
                html(
                    '<p class="cw-muted">A filter: the run continues only when the rules pass; '
                    "otherwise it stops quietly.</p>"
                )
            )
            parts.append(
                RulesEditor(
                    cell.get("rules"), lambda rules: self._edit(rules=rules), label="Filter"
                )
            )
            return parts
        match = pn.widgets.Select(
            name="Branches to run",
            options={
                "every branch whose rules pass": "all",
                "only the first branch that passes": "first",
            },
            value=cell.get("match", "all"),
            width=300,
        )
        match.param.watch(lambda e: self._edit(match=None if e.new == "all" else e.new), "value")
        parts.append(match)
        for branch in cell.get("branches") or []:
            parts.append(self.nb.branch_view(self.cell_id, branch, self.number))
        add = pn.widgets.Button(
            name="Add a branch", button_type="light", css_classes=["add-branch"]
        )
        add.on_click(
            lambda e: self.nb.act(lambda: self.state.add_branch(self.cell_id), self.banner)
        )
        parts.append(add)
        return parts

    def _rebuild(self) -> None:
        self.body[:] = []
        self.form = None
        self.build()

    # -- running --------------------------------------------------------------------------

    async def _run(self, _: Any = None) -> None:
        if self.run is not None:
            self.run.loading = True
        try:
            result = await attempt(self.banner, lambda: self.state.run_cell(self.cell_id))
        finally:
            if self.run is not None:
                self.run.loading = False
        if result is None:
            return
        if not self.expanded:
            self.expanded = True
        self._show_result()
        self.refresh_header()
        self.nb.refresh_headers()

    def _show_result(self) -> None:
        result = self.state.results.get(self.cell_id)
        if not result:
            self.result[:] = []
            return
        parts: list[Any] = []
        stand_ins = result.get("stand_ins") or []
        if stand_ins:
            names = ", ".join("the trigger" if c == "trigger" else c for c in stand_ins)
            parts.append(
                html(
                    '<div class="cw-banner warn sample-note" role="status">Sample data stood in '
                    f"for {escape(names)}, "
                    "which ha"
                    + ("s" if len(stand_ins) == 1 else "ve")
                    + " not run yet. Run "
                    + ("it" if len(stand_ins) == 1 else "them")
                    + " first, or paste test data into the trigger, to use real data.</div>"
                )
            )
        error = result.get("error")
        if error:
            self.banner.show(error_dict_message(error), "error")
            field_errors = (error.get("details") or {}).get("errors") or []
            if self.form is not None and field_errors:
                self.form.mark_errors(field_errors)
        else:
            ms = result.get("duration_ms")
            self.banner.ok(f"Ran in {ms:.0f} ms." if ms is not None else "Ran.")
        output = result.get("output")
        if self.state.cell(self.cell_id).get("kind") == "loop" and isinstance(output, dict):
            parts.append(html(items_table(output), css_classes=["loop-results"]))
        parts.append(
            pn.Row(
                pn.Column(
                    html("<strong>Input</strong>"),
                    json_tree(result.get("input"), name="Input", css_classes=["cell-input"]),
                    sizing_mode="stretch_width",
                ),
                pn.Column(
                    html("<strong>Output</strong>"),
                    json_tree(result.get("output"), name="Output", css_classes=["cell-output"]),
                    sizing_mode="stretch_width",
                ),
                sizing_mode="stretch_width",
                css_classes=["cell-result"],
            )
        )
        self.result[:] = parts

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout


class AddStep(pn.viewable.Viewer):
    """The "add a step here" control between two cells."""

    def __init__(
        self,
        notebook: Notebook,
        *,
        after: str | None = None,
        branch: tuple[str, str] | None = None,
        label: str,
        **params: Any,
    ) -> None:
        super().__init__(**params)
        self.nb = notebook
        self.after = after
        self.branch = branch
        if branch is not None and branch[1] == LOOP_BODY:
            where = f"add-in-loop-{branch[0]}"
        elif branch is not None and branch[1] == ERROR_ROUTE:
            where = f"add-in-route-{branch[0]}"
        else:
            branch_id = f"{branch[0]}-{branch[1].replace(' ', '_')}" if branch else "trigger"
            where = f"add-after-{after or branch_id}"
        self.open = pn.widgets.Button(
            name=label,
            button_type="light",
            css_classes=["add-step", where],
            margin=(0, 0, 0, 24),
        )
        self.open.on_click(self._show)
        self.form = Slot(visible=False, sizing_mode="stretch_width", margin=(0, 0, 0, 24))
        self._layout = pn.Column(self.open, self.form, sizing_mode="stretch_width", margin=0)

    def _show(self, _: Any) -> None:
        if not self.form.shown:
            svc = self.nb.state.svc
            kinds = {
                "App action or transformer": "operation",
                "Filter (continue only if…)": "filter",
                "Router (branches)": "router",
                "Loop (for each item of a list)": "loop",
                "Aggregate (collect a loop's results)": "aggregate",
            }
            kind = pn.widgets.Select(
                name="Kind of step",
                options=kinds,
                value="operation",
                width=240,
                css_classes=["new-kind"],
            )
            apps = {a.name: a.key for a in svc.apps if a.actions}
            first = next(iter(apps.values()), None)
            app = pn.widgets.Select(
                name="App", options=apps, value=first, width=220, css_classes=["new-app"]
            )
            op = pn.widgets.Select(
                name="Operation",
                options=self._operations(first),
                width=260,
                css_classes=["new-operation"],
            )

            def app_changed(*_: Any) -> None:
                options = self._operations(app.value)
                op.param.update(
                    options=options, value=next(iter(options.values()), None)
                )  # never an empty list

            app.param.watch(app_changed, "value")
            kind.param.watch(
                lambda e: (
                    setattr(app, "visible", e.new == "operation"),
                    setattr(op, "visible", e.new == "operation"),
                ),
                "value",
            )
            add = pn.widgets.Button(
                name="Add step",
                button_type="primary",
                width=110,
                align="end",
                css_classes=["new-add"],
            )
            cancel = pn.widgets.Button(name="Cancel", button_type="light", width=90, align="end")

            def do_add(_: Any) -> None:
                def create() -> str:
                    if kind.value == "operation":
                        return self.nb.state.add_cell(
                            "action",
                            app=app.value,
                            operation=op.value,
                            after=self.after,
                            branch=self.branch,
                        )
                    if kind.value in ("loop", "aggregate"):
                        return self.nb.state.add_cell(
                            kind.value, after=self.after, branch=self.branch
                        )
                    return self.nb.state.add_cell(
                        "condition",
                        router=kind.value == "router",
                        after=self.after,
                        branch=self.branch,
                    )

                self.form.visible = False
                self.nb.act(create, self.nb.banner, open_new=True)

            add.on_click(do_add)
            cancel.on_click(lambda e: setattr(self.form, "visible", False))
            self.form[:] = [
                pn.FlexBox(kind, app, op, add, cancel, sizing_mode="stretch_width", margin=0)
            ]
        self.form.visible = True

    def _operations(self, app_key: str | None) -> dict[str, str]:
        chosen = self.nb.state.svc.apps.get(app_key) if app_key else None
        return {a.name: a.key for a in chosen.actions} if chosen else {}

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout


__all__ = ["AddStep", "CellCard", "cell_title"]
