"""The scenario notebook: cells top to bottom, trigger first; edit, run and test them.

Cells are collapsed by default: each run of collapsed cells is ONE lightweight component
(:class:`CellList`, a list of native buttons), so a 50-cell scenario is a handful of
Bokeh models. Opening a cell builds its full editor (:class:`CellCard`: header, Run,
form, result) in its place. The state lives in :class:`NotebookState`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from html import escape
from typing import Any

import panel as pn
import param
import yaml

from workspace.views.components import CellList, Disclosure, LeaveGuard, section
from workspace.views.notebook_state import NotebookState
from workspace.views.widgets import (
    Banner,
    SchemaForm,
    attempt,
    badge,
    error_dict_message,
    html,
    json_tree,
)

CARD_STYLE = {"border": "1px solid #d1d5db", "border-radius": "8px", "background": "#ffffff"}

OPERATORS = [
    "equals", "not_equals", "contains", "not_contains", "starts_with", "ends_with", "gt", "gte", "lt", "lte",
    "exists", "not_exists", "is_empty", "is_not_empty", "in_list", "not_in_list", "matches_regex", "before", "after",
]
UNARY = {"exists", "not_exists", "is_empty", "is_not_empty"}


def cell_title(state: NotebookState, cell_id: str, number: str) -> str:
    """``3. name — App · Operation  [status]``: a cell's header text (the arrow is CSS)."""
    cell = state.cell(cell_id)
    result = state.results.get(cell_id)
    status = f"  [{result['status']}]" if result else ""
    name = cell.get("name") or cell["id"]
    if cell.get("kind") == "condition":
        what = "Router" if cell.get("branches") is not None else "Filter"
    else:
        op = state.operation(cell)
        app = state.svc.apps.get(cell["app"]).name if cell.get("app") in state.svc.apps else cell.get("app", "?")
        what = f"{app} · {op.name if op is not None else cell.get('operation')}"
    return f"{number}. {name} — {what}{status}"


class RulesEditor(pn.viewable.Viewer):
    """Rules ``left op right`` joined by all/any; nested groups are edited as YAML."""

    def __init__(self, rules: dict[str, Any] | None, on_change: Callable[[dict[str, Any]], None], *, label: str, **params: Any) -> None:
        super().__init__(**params)
        self.on_change = on_change
        self.label = label
        rules = rules or {"all": []}
        self.mode = "all" if "all" in rules else "any"
        items = rules.get(self.mode) or []
        self.nested = any(not isinstance(i, dict) or "left" not in i for i in items)
        self.banner = Banner()
        self._layout = pn.Column(sizing_mode="stretch_width", margin=0)
        if self.nested:
            self.text = pn.widgets.TextAreaInput(name=f"{label}: rules (YAML)", value=yaml.safe_dump(rules, sort_keys=False), height=140, sizing_mode="stretch_width", css_classes=["rules-yaml"])
            self.text.param.watch(self._yaml_changed, "value")
            self._layout[:] = [self.text, self.banner]
        else:
            self.rows: list[dict[str, Any]] = [dict(i) for i in items]
            self.match = pn.widgets.Select(name=f"{label}: pass when", options={"every rule passes (all)": "all", "any rule passes (any)": "any"}, value=self.mode, width=260, css_classes=["rules-match"])
            self.match.param.watch(lambda e: self._emit(), "value")
            self._rows_box = pn.Column(sizing_mode="stretch_width", margin=0)
            add = pn.widgets.Button(name="Add a rule", button_type="light", css_classes=["rules-add"], description=None)
            add.on_click(lambda e: self._add())
            self._layout[:] = [self.match, self._rows_box, add, self.banner]
            self._render_rows()

    def _render_rows(self) -> None:
        rows = []
        for index, rule in enumerate(self.rows):
            n = index + 1
            left = pn.widgets.TextInput(name=f"Rule {n}: value to test", value=str(rule.get("left", "")), placeholder="{{ trigger.body.status }}", sizing_mode="stretch_width", css_classes=[f"rule-left-{n}"])
            op = pn.widgets.Select(name=f"Rule {n}: comparison", options=OPERATORS, value=str(rule.get("op", "equals")), width=150, css_classes=[f"rule-op-{n}"])
            right_value = rule.get("right")
            right = pn.widgets.TextInput(name=f"Rule {n}: compared with", value="" if right_value is None else (right_value if isinstance(right_value, str) else json.dumps(right_value)), sizing_mode="stretch_width", css_classes=[f"rule-right-{n}"])
            remove = pn.widgets.Button(name=f"Remove rule {n}", button_type="light", width=130, align="end")

            def changed(*_: Any, i: int = index, left: Any = left, op: Any = op, right: Any = right) -> None:
                rule = {"left": left.value, "op": op.value}
                if op.value not in UNARY and right.value != "":
                    try:
                        rule["right"] = json.loads(right.value) if right.value.strip()[:1] in "[{0123456789-tfn" else right.value
                    except ValueError:
                        rule["right"] = right.value
                self.rows[i] = rule
                self._emit()

            for w in (left, op, right):
                w.param.watch(changed, "value")
            remove.on_click(lambda e, i=index: self._remove(i))
            rows.append(pn.Row(left, op, right, remove, sizing_mode="stretch_width", margin=0))
        self._rows_box[:] = rows or [html('<p class="cw-muted">No rules yet: the condition always passes.</p>')]

    def _add(self) -> None:
        self.rows.append({"left": "", "op": "equals", "right": ""})
        self._render_rows()
        self._emit()

    def _remove(self, index: int) -> None:
        del self.rows[index]
        self._render_rows()
        self._emit()

    def _emit(self) -> None:
        rules = [r for r in self.rows if r.get("left") not in (None, "")]
        self.on_change({self.match.value: rules})

    def _yaml_changed(self, event: Any) -> None:
        try:
            data = yaml.safe_load(event.new)
        except yaml.YAMLError as exc:
            self.banner.error(f"The rules are not valid YAML: {exc}")
            return
        if not isinstance(data, dict) or not ({"all", "any"} & set(data)):
            self.banner.error("Rules are a mapping with 'all:' or 'any:' and a list of rules.")
            return
        self.banner.clear()
        self.on_change(data)

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout


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
        cell = self.state.cell(cell_id)
        self.is_trigger = cell.get("kind") == "trigger"
        self.toggle = Disclosure(label=self._title(), css_classes=["cell-toggle", f"cell-toggle-{cell_id}"])
        self.toggle.param.watch(lambda e: self.param.update(expanded=e.new), "expanded")
        self.run: pn.widgets.Button | None = None
        self.body = pn.Column(sizing_mode="stretch_width", margin=(0, 0, 0, 24))
        self.result = pn.Column(sizing_mode="stretch_width", margin=0)
        # collapsed, a card is two models (this column and the toggle): a 50-cell scenario opens fast
        self._layout = pn.Column(self.toggle, sizing_mode="stretch_width", css_classes=["cell-card", f"cell-{cell_id}"], styles=CARD_STYLE, margin=(4, 0))
        self.param.watch(self._toggle, "expanded")

    def _title(self) -> str:
        return cell_title(self.state, self.cell_id, self.number)

    def refresh_header(self) -> None:
        self.toggle.param.update(label=self._title(), expanded=self.expanded)

    def _open(self) -> None:
        """Build the header row, banner and editor (first time the card is opened)."""
        header: list[Any] = [self.toggle]
        if not self.is_trigger:
            self.run = pn.widgets.Button(name="Run cell", button_type="primary", width=100, align="center", css_classes=["run-cell", f"run-{self.cell_id}"])
            self.run.on_click(self._run)
            header.append(self.run)
        self._layout[:] = [pn.Row(*header, sizing_mode="stretch_width", margin=0), self.banner, self.body]

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
        name = pn.widgets.TextInput(name="Cell label", value=cell.get("name") or "", placeholder=cell["id"], sizing_mode="stretch_width", css_classes=["cell-name"])
        name.param.watch(lambda e: self._edit(name=e.new or None), "value")
        parts.append(name)
        if cell.get("kind") == "condition":
            parts.extend(self._condition_editor(cell))
        else:
            parts.extend(self._operation_editor(cell, svc))
        if not self.is_trigger:
            up = pn.widgets.Button(name="Move up", button_type="light", width=100, css_classes=["cell-up"])
            down = pn.widgets.Button(name="Move down", button_type="light", width=110, css_classes=["cell-down"])
            delete = pn.widgets.Button(name="Delete cell", button_type="danger", width=110, css_classes=["cell-delete"])
            up.on_click(lambda e: self._move(-1))
            down.on_click(lambda e: self._move(+1))
            delete.on_click(lambda e: self._delete())
            parts.append(pn.Row(up, down, delete, margin=(6, 0)))
            parts.append(self.result)
        parts.append(AddStep(self.nb, after=self.cell_id, label=f"Add a step after {cell.get('name') or cell['id']}"))
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

    def _operation_editor(self, cell: dict[str, Any], svc: Any) -> list[Any]:
        parts: list[Any] = []
        want_trigger = self.is_trigger
        apps = {a.name: a.key for a in svc.apps if (a.triggers if want_trigger else a.actions)}
        app_select = pn.widgets.Select(name="App", options=apps, value=cell.get("app") if cell.get("app") in apps.values() else None, width=240, css_classes=["cell-app"])
        app = svc.apps.get(cell["app"]) if cell.get("app") in svc.apps else None
        ops = {o.name: o.key for o in ((app.triggers if want_trigger else app.actions) if app else ())}
        op_select = pn.widgets.Select(name="Trigger" if want_trigger else "Operation", options=ops, value=cell.get("operation") if cell.get("operation") in ops.values() else None, width=280, css_classes=["cell-operation"])

        def app_changed(event: Any) -> None:
            new_app = svc.apps.get(event.new)
            first = (new_app.triggers if want_trigger else new_app.actions)[0]
            self._edit(app=event.new, operation=first.key)
            self._rebuild()

        app_select.param.watch(app_changed, "value")
        op_select.param.watch(lambda e: (self._edit(operation=e.new), self._rebuild()), "value")
        row: list[Any] = [app_select, op_select]
        if app is not None and app.needs_connection:
            conns = {c.name + (" (sandbox)" if c.is_sandbox else ""): c.id for c in svc.store.list_connections(self.state.user.id, app_id=app.key)}
            options = {"(choose a connection)": "", **conns}
            conn = pn.widgets.Select(name="Connection", options=options, value=cell.get("connection") if cell.get("connection") in conns.values() else "", width=260, css_classes=["cell-connection"])
            conn.param.watch(lambda e: self._edit(connection=e.new or None), "value")
            row.append(conn)
        if cell.get("kind") in ("action", "transformer"):
            on_error = pn.widgets.Select(name="When it fails", options={"stop the run": "fail", "record and continue": "continue"}, value=cell.get("on_error", "fail"), width=200, css_classes=["cell-on-error"])
            on_error.param.watch(lambda e: self._edit(on_error=None if e.new == "fail" else e.new), "value")
            row.append(on_error)
        parts.append(pn.FlexBox(*row, sizing_mode="stretch_width", margin=0))
        if app is not None and app.needs_connection and len(row) > 2 and not row[2].options.get(next(iter(row[2].options))) and len(row[2].options) == 1:
            parts.append(html(f'<p class="cw-muted">No {escape(app.name)} connection yet: create one on the Connections page.</p>'))
        op = self.state.operation(cell)
        if op is None:
            parts.append(html('<p class="cw-muted">Pick an app and an operation.</p>'))
            return parts
        if op.description:
            parts.append(html(f'<p class="cw-muted">{escape(op.description)}</p>'))
        self.form = SchemaForm(op.input_schema(), cell.get("inputs") or {}, prefix=f"in-{self.cell_id}")
        self.form.param.watch(self._form_changed, "changed")
        parts.append(self.form)
        if self.is_trigger:
            parts.extend(self._trigger_extras(cell, op))
        else:
            parts.append(self._reference_picker())
        return parts

    def _form_changed(self, *_: Any) -> None:
        assert self.form is not None
        try:
            values = self.form.values()
        except ValueError:
            return
        self._edit(inputs=values)

    def _reference_picker(self) -> Any:
        refs = self.state.references(self.cell_id)
        options = {label: ref for label, ref in refs} or {"(no earlier data)": ""}
        fields = list(self.form.specs) if self.form else []
        pick = pn.widgets.Select(name="Insert a reference to earlier data", options=options, sizing_mode="stretch_width", css_classes=["ref-pick"])
        target = pn.widgets.Select(name="into field", options=fields, width=200, css_classes=["ref-target"])
        insert = pn.widgets.Button(name="Insert reference", button_type="default", width=150, align="end", css_classes=["ref-insert"])

        def do_insert(_: Any) -> None:
            if self.form is not None and pick.value and target.value:
                self.form.insert(target.value, pick.value)
                self._form_changed()

        insert.on_click(do_insert)
        return pn.Row(pick, target, insert, sizing_mode="stretch_width", margin=(4, 0), css_classes=["ref-picker"])

    def _trigger_extras(self, cell: dict[str, Any], op: Any) -> list[Any]:
        parts: list[Any] = []
        if self.state.webhook_url and getattr(op, "trigger_type", "") == "instant" and cell.get("app") == "webhook":
            parts.append(html(f'<p>Webhook URL (send events here once the scenario is enabled): <code class="webhook-url">{escape(self.state.webhook_url)}</code></p>'))
        sample = json.dumps(dict(op.sample), indent=2)
        data = pn.widgets.TextAreaInput(
            name="Test data for this trigger (JSON; empty = the sample below)", value=self.state.trigger_text, placeholder=sample[:400],
            height=120, sizing_mode="stretch_width", css_classes=["trigger-data"],
        )
        data.param.watch(lambda e: setattr(self.state, "trigger_text", e.new), "value")
        parts.append(data)
        parts.append(pn.Column(html("<strong>Sample output of this trigger</strong>"), json_tree(dict(op.sample), name="Trigger sample", depth=1), sizing_mode="stretch_width"))
        return parts

    def _condition_editor(self, cell: dict[str, Any]) -> list[Any]:
        parts: list[Any] = []
        if cell.get("branches") is None:
            parts.append(html('<p class="cw-muted">A filter: the run continues only when the rules pass; otherwise it stops quietly.</p>'))
            parts.append(RulesEditor(cell.get("rules"), lambda rules: self._edit(rules=rules), label="Filter"))
            return parts
        match = pn.widgets.Select(name="Branches to run", options={"every branch whose rules pass": "all", "only the first branch that passes": "first"}, value=cell.get("match", "all"), width=300)
        match.param.watch(lambda e: self._edit(match=None if e.new == "all" else e.new), "value")
        parts.append(match)
        for branch in cell.get("branches") or []:
            parts.append(self.nb.branch_view(self.cell_id, branch, self.number))
        add = pn.widgets.Button(name="Add a branch", button_type="light", css_classes=["add-branch"])
        add.on_click(lambda e: self.nb.act(lambda: self.state.add_branch(self.cell_id), self.banner))
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
        error = result.get("error")
        if error:
            self.banner.show(error_dict_message(error), "error")
            field_errors = (error.get("details") or {}).get("errors") or []
            if self.form is not None and field_errors:
                self.form.mark_errors(field_errors)
        else:
            ms = result.get("duration_ms")
            self.banner.ok(f"Ran in {ms:.0f} ms." if ms is not None else "Ran.")
        parts.append(pn.Row(
            pn.Column(html("<strong>Input</strong>"), json_tree(result.get("input"), name="Input", css_classes=["cell-input"]), sizing_mode="stretch_width"),
            pn.Column(html("<strong>Output</strong>"), json_tree(result.get("output"), name="Output", css_classes=["cell-output"]), sizing_mode="stretch_width"),
            sizing_mode="stretch_width", css_classes=["cell-result"],
        ))
        self.result[:] = parts

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout


class AddStep(pn.viewable.Viewer):
    """The "add a step here" control between two cells."""

    def __init__(self, notebook: Notebook, *, after: str | None = None, branch: tuple[str, str] | None = None, label: str, **params: Any) -> None:
        super().__init__(**params)
        self.nb = notebook
        self.after = after
        self.branch = branch
        self.open = pn.widgets.Button(name=label, button_type="light", css_classes=["add-step", f"add-after-{after or (branch[0] + '-' + branch[1].replace(' ', '_') if branch else 'trigger')}"], margin=(0, 0, 0, 24))
        self.open.on_click(self._show)
        self.form = pn.Column(visible=False, sizing_mode="stretch_width", margin=(0, 0, 0, 24))
        self._layout = pn.Column(self.open, self.form, sizing_mode="stretch_width", margin=0)

    def _show(self, _: Any) -> None:
        if not self.form.objects:
            svc = self.nb.state.svc
            kinds = {"App action or transformer": "operation", "Filter (continue only if…)": "filter", "Router (branches)": "router"}
            kind = pn.widgets.Select(name="Kind of step", options=kinds, value="operation", width=240, css_classes=["new-kind"])
            apps = {a.name: a.key for a in svc.apps if a.actions}
            app = pn.widgets.Select(name="App", options=apps, width=220, css_classes=["new-app"])
            op = pn.widgets.Select(name="Operation", options={}, width=260, css_classes=["new-operation"])

            def app_changed(*_: Any) -> None:
                chosen = svc.apps.get(app.value) if app.value else None
                op.options = {a.name: a.key for a in chosen.actions} if chosen else {}

            app.param.watch(app_changed, "value")
            app_changed()
            kind.param.watch(lambda e: (setattr(app, "visible", e.new == "operation"), setattr(op, "visible", e.new == "operation")), "value")
            add = pn.widgets.Button(name="Add step", button_type="primary", width=110, align="end", css_classes=["new-add"])
            cancel = pn.widgets.Button(name="Cancel", button_type="light", width=90, align="end")

            def do_add(_: Any) -> None:
                def create() -> str:
                    if kind.value == "operation":
                        return self.nb.state.add_cell("action", app=app.value, operation=op.value, after=self.after, branch=self.branch)
                    return self.nb.state.add_cell("condition", router=kind.value == "router", after=self.after, branch=self.branch)

                self.form.visible = False
                self.nb.act(create, self.nb.banner, open_new=True)

            add.on_click(do_add)
            cancel.on_click(lambda e: setattr(self.form, "visible", False))
            self.form[:] = [pn.FlexBox(kind, app, op, add, cancel, sizing_mode="stretch_width", margin=0)]
        self.form.visible = True

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout


class Notebook(pn.viewable.Viewer):
    """The page of one scenario."""

    def __init__(self, svc: Any, user: Any, scenario_id: str, nav: Callable[..., Any], **params: Any) -> None:
        super().__init__(**params)
        self.nav = nav
        self.state = NotebookState(svc, user, scenario_id)
        self.banner = Banner("notebook-banner")
        self.cards: dict[str, CellCard] = {}
        self.open_ids: set[str] = set()
        self._lists: list[CellList] = []
        self.guard = LeaveGuard(dirty=False, width=0, height=0, margin=0)
        self.state.param.watch(lambda e: self._dirty_changed(), "dirty")
        self.state.param.watch(lambda *_: self._update_info(), ["version", "live_version", "status"])
        self.state.param.watch(lambda e: self.render_cells(), "structure")
        doc = self.state.doc
        self.name_input = pn.widgets.TextInput(name="Scenario name", value=doc.get("name", ""), width=360, css_classes=["scenario-name"])
        self.name_input.param.watch(lambda e: self.state.set_meta(name=e.new), "value")
        self.description = pn.widgets.TextInput(name="Description", value=doc.get("description", ""), sizing_mode="stretch_width", css_classes=["scenario-description"])
        self.description.param.watch(lambda e: self.state.set_meta(description=e.new), "value")
        self.save_button = pn.widgets.Button(name="Save", button_type="primary", width=90, css_classes=["save"])
        self.save_button.on_click(self._save)
        self.publish_button = pn.widgets.Button(name="Publish", button_type="success", width=100, css_classes=["publish"])
        self.publish_button.on_click(self._publish)
        self.test_button = pn.widgets.Button(name="Test run", button_type="success", width=100, css_classes=["test-run"])
        self.test_button.on_click(self._test_run)
        self.step_button = pn.widgets.Button(name="Step", button_type="default", width=90, css_classes=["step"])
        self.step_button.on_click(self._step)
        self.step_reset_button = pn.widgets.Button(name="Reset steps", button_type="light", width=110, css_classes=["step-reset"], visible=False)
        self.step_reset_button.on_click(self._step_reset)
        self.step_panel = pn.Column(sizing_mode="stretch_width", margin=0, css_classes=["step-panel"], visible=False)
        self.enable_button = pn.widgets.Button(name="", width=100, css_classes=["toggle-enabled"])
        self.enable_button.on_click(self._toggle_enabled)
        self.export = pn.widgets.FileDownload(callback=self._export, filename=self._filename(), label="Export YAML", button_type="light", width=130, css_classes=["export"], embed=False)
        self.history = pn.widgets.Button(name="Executions", button_type="light", width=110)
        self.history.on_click(lambda e: self.nav("executions", scenario=self.state.scenario_id))
        self.info = html("")
        self.run_summary = pn.Column(sizing_mode="stretch_width", margin=0)
        self.settings = self._settings_card()
        self.cells_box = pn.Column(sizing_mode="stretch_width", margin=0, css_classes=["cells"])
        self._update_info()
        self.render_cells()
        self._layout = pn.Column(
            self.guard,
            pn.FlexBox(self.name_input, self.save_button, self.publish_button, self.test_button, self.step_button, self.step_reset_button, self.enable_button, self.export, self.history, align_items="flex-end", sizing_mode="stretch_width"),
            self.description, self.info, self.banner, self.run_summary, self.step_panel, self.settings, self.cells_box,
            sizing_mode="stretch_width", css_classes=["notebook"],
        )

    @property
    def dirty(self) -> bool:
        return self.state.dirty

    def _filename(self) -> str:
        slug = "".join(c if c.isalnum() else "-" for c in self.state.doc.get("name", "scenario").lower()).strip("-") or "scenario"
        return f"{slug}.yaml"

    def _export(self) -> Any:
        import io

        try:
            return io.StringIO(self.state.export())
        except Exception as exc:
            self.banner.error(exc)
            return io.StringIO("")

    def _settings_card(self) -> Any:
        """Run settings in a closed section; its form is built the first time it is opened."""

        def build(body: pn.Column) -> None:
            if body.objects:
                return
            from cells.models import ScenarioSettings

            form = SchemaForm(ScenarioSettings.model_json_schema(), self.state.doc.get("settings") or {}, prefix="settings")

            def changed(*_: Any) -> None:
                try:
                    self.state.set_meta(settings=form.values())
                except ValueError:
                    pass

            form.param.watch(changed, "changed")
            body[:] = [form]

        return section("Run settings: retries, alerts, time limits", css_classes=["scenario-settings"], on_open=build, margin=(4, 0))

    def _dirty_changed(self) -> None:
        self.guard.dirty = self.state.dirty
        self._update_info()

    def _update_info(self) -> None:
        s = self.state
        self.info.object = f'<p class="scenario-info">{badge(s.status)} <span class="{"cw-unsaved" if s.dirty else "cw-muted"}">{escape(s.info)}</span></p>'
        self.publish_button.disabled = not s.can_publish
        self.enable_button.name = "Disable" if s.status == "active" else "Enable"
        self.enable_button.button_type = "warning" if s.status == "active" else "primary"

    # -- cells ----------------------------------------------------------------------------

    def branch_view(self, router_id: str, branch: dict[str, Any], number: str) -> Any:
        state = self.state
        items: list[Any] = []
        name = pn.widgets.TextInput(name="Branch name", value=branch["name"], width=240)
        original = branch["name"]

        def renamed(event: Any) -> None:
            self.act(lambda: state.update_branch(router_id, original, name=event.new), self.banner)

        name.param.watch(renamed, "value")
        items.append(name)
        if branch.get("fallback"):
            items.append(html('<p class="cw-muted">Fallback: runs when no other branch matched.</p>'))
        else:
            items.append(RulesEditor(branch.get("rules"), lambda rules: state.update_branch(router_id, original, rules=rules), label=f"Branch {branch['name']}"))
        items.append(AddStep(self, branch=(router_id, branch["name"]), label=f"Add a step at the start of branch {branch['name']}"))
        items.extend(self.cell_items(branch.get("cells") or [], f"{number}."))
        remove = pn.widgets.Button(name=f"Delete branch {branch['name']}", button_type="light")
        remove.on_click(lambda e: self.act(lambda: state.delete_branch(router_id, original), self.banner))
        items.append(remove)
        return section(f"Branch: {branch['name']}", *items, expanded=True, css_classes=["branch", f"branch-{router_id}-{branch['name'].replace(' ', '_')}"], margin=(4, 0))

    def _card(self, cell_id: str, number: str) -> CellCard:
        """The full editor of an open cell (built once, reused while its place is the same)."""
        card = self.cards.get(cell_id)
        if card is None or card.number != number:
            card = CellCard(self, cell_id, number)
            self.cards[cell_id] = card
        if not card.expanded:
            card.expanded = True
        return card

    def cell_items(self, cells: list[dict[str, Any]], prefix: str = "") -> list[Any]:
        """Open cells as editors; each run of collapsed cells between them as one ``CellList``."""
        items: list[Any] = []
        pending: list[dict[str, str]] = []

        def flush() -> None:
            if pending:
                listing = CellList(self.open_cell, items=list(pending), css_classes=["cell-list"])
                self._lists.append(listing)
                items.append(listing)
                pending.clear()

        for index, cell in enumerate(cells):
            number = f"{prefix}{index + 1}"
            if cell["id"] in self.open_ids:
                flush()
                items.append(self._card(cell["id"], number))
            else:
                pending.append({"id": cell["id"], "number": number, "title": cell_title(self.state, cell["id"], number)})
        flush()
        return items

    def open_cell(self, cell_id: str, *, focus: bool = True) -> CellCard | None:
        """Open a cell's editor (and the routers it sits in); returns its card.

        With ``focus`` its header takes the keyboard focus: the button the user pressed
        was replaced by the editor."""
        for cell, parents in self.state.walk():
            if cell["id"] == cell_id:
                self.open_ids.update({cell_id, *(router for router, _ in parents)})
                self.render_cells()
                if focus:
                    self.focus_cell(cell_id)
                return self.cards.get(cell_id)
        return None

    def card_toggled(self, card: CellCard) -> None:
        """A card's own toggle closed it: it goes back into the lightweight list (focused there)."""
        if not card.expanded and card.cell_id in self.open_ids:
            self.open_ids.discard(card.cell_id)
            self.render_cells()
            self.focus_cell(card.cell_id)

    def focus_cell(self, cell_id: str) -> None:
        """Move the keyboard focus to a cell's header, open or collapsed."""
        card = self.cards.get(cell_id)
        if cell_id in self.open_ids and card is not None:
            card.toggle.autofocus = True
            return
        for listing in self._lists:
            if any(item["id"] == cell_id for item in listing.items):
                listing.focus_id = cell_id
                return

    def render_cells(self) -> None:
        ids = self.state.ids()
        self.cards = {k: v for k, v in self.cards.items() if k in ids}
        self.open_ids &= ids
        self._lists = []
        # routers rebuild their branches: drop their cached editors
        for cell_id, card in list(self.cards.items()):
            if cell_id in self.open_ids and self.state.cell(cell_id).get("branches") is not None and card.body.objects:
                card.body[:] = []
                card._toggle()
        cells = self.state.cells
        items = self.cell_items(cells)
        items.append(AddStep(self, after=cells[-1]["id"], label="Add a step at the end"))
        self.cells_box[:] = items

    def refresh_headers(self) -> None:
        for card in self.cards.values():
            card.refresh_header()
        ids = self.state.ids()
        for listing in self._lists:
            listing.items = [
                {**item, "title": cell_title(self.state, item["id"], item["number"])} for item in listing.items if item["id"] in ids
            ]

    def act(self, action: Callable[[], Any], banner: Banner | None = None, *, open_new: bool = False) -> Any:
        """Run a structural edit; show what went wrong instead of raising."""
        target = banner or self.banner
        try:
            result = action()
        except Exception as exc:
            target.error(exc)
            return None
        target.clear()
        if open_new and isinstance(result, str):
            self.open_cell(result)
        return result

    # -- scenario actions -----------------------------------------------------------------

    async def _save(self, _: Any = None) -> None:
        scenario = await attempt(self.banner, self.state.save)
        if scenario is not None:
            live = scenario.live_version
            still = f" Version {live} is still live: publish to make your changes live." if live is not None and live != scenario.version else ""
            self.banner.ok(f"Saved version {scenario.version}.{still}")
            self.export.filename = self._filename()

    async def _publish(self, _: Any = None) -> None:
        scenario = await attempt(self.banner, self.state.publish)
        if scenario is not None:
            running = "it runs on its trigger from now on." if scenario.status == "active" else "enable the scenario to run it on its trigger."
            self.banner.ok(f"Published version {scenario.live_version}: {running}")

    async def _test_run(self, _: Any = None) -> None:
        self.test_button.loading = True
        try:
            execution = await attempt(self.banner, self.state.test_run)
        finally:
            self.test_button.loading = False
        if execution is None:
            return
        self.refresh_headers()
        for card in self.cards.values():
            if card.body.objects:
                card._show_result()
        ok = execution["status"] == "completed"
        message = "Test run completed." if ok else f"Test run failed: {error_dict_message(execution.get('error'))}"
        self.banner.show(message, "ok" if ok else "error")
        open_it = pn.widgets.Button(name="Open this execution", button_type="light", css_classes=["open-execution"])
        open_it.on_click(lambda e: self.nav("execution", execution["id"]))
        self.run_summary[:] = [open_it]

    async def _step(self, _: Any = None) -> None:
        """Step mode: run the next cell; show what it got and gave, and what comes next."""
        self.step_button.loading = True
        try:
            result = await attempt(self.banner, self.state.step)
        finally:
            self.step_button.loading = False
        self.refresh_headers()
        for card in self.cards.values():
            if card.body.objects:
                card._show_result()
        self._render_steps(result)

    def _step_reset(self, _: Any = None) -> None:
        self.state.step_reset()
        self.banner.clear()
        self._render_steps(None)

    def _render_steps(self, last: dict[str, Any] | None) -> None:
        s = self.state
        log = s.step_log
        started = bool(log) or s.step_next is not None or bool(s.step_message)
        self.step_reset_button.visible = started
        self.step_panel.visible = started
        if not started:
            self.step_button.param.update(name="Step", disabled=False)
            self.step_panel[:] = []
            return
        self.step_button.name = f"Step: {s.step_next}" if s.step_next else "Step"
        self.step_button.disabled = s.step_next is None
        rows = "".join(
            f'<li>{badge(r["status"])} <strong>{escape(r["cell_id"])}</strong>'
            + (f' <span class="cw-muted">{r["duration_ms"]:.0f} ms</span>' if r.get("duration_ms") is not None else "")
            + (f' — {escape(error_dict_message(r["error"]))}' if r.get("error") else "")
            + "</li>"
            for r in log
        )
        after = f'Next: <strong>{escape(s.step_next)}</strong>.' if s.step_next else "Nothing left to run."
        parts: list[Any] = [html(
            f'<section aria-label="Step-by-step run"><h2 style="font-size:16px;margin:4px 0">Step-by-step run</h2>'
            f'<ol class="step-log">{rows}</ol><p role="status" class="step-status">{escape(s.step_message)} {after}</p></section>'
        )]
        if last is not None:
            parts.append(pn.Row(
                pn.Column(html(f"<strong>Input of {escape(last['cell_id'])}</strong>"), json_tree(last.get("input"), name="Step input", css_classes=["step-input"]), sizing_mode="stretch_width"),
                pn.Column(html(f"<strong>Output of {escape(last['cell_id'])}</strong>"), json_tree(last.get("output"), name="Step output", css_classes=["step-output"]), sizing_mode="stretch_width"),
                sizing_mode="stretch_width",
            ))
        self.step_panel[:] = parts

    async def _toggle_enabled(self, _: Any = None) -> None:
        action = self.state.disable if self.state.status == "active" else self.state.enable
        scenario = await attempt(self.banner, action)
        if scenario is not None:
            behind = f" Version {scenario.version} is saved but not live: publish it to run it." if scenario.live_version != scenario.version else ""
            self.banner.ok(f"Enabled: version {scenario.live_version} now runs on its trigger.{behind}" if scenario.status == "active" else "Disabled: the scenario no longer runs.")
            self._update_info()

    async def save_and_leave(self) -> bool:
        return await attempt(self.banner, self.state.save) is not None

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout
