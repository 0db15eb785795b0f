"""The scenario notebook: cells top to bottom, trigger first; edit, run and test them.

Cells are collapsed by default: each run of collapsed cells is ONE lightweight component
(:class:`CellList`, a list of native buttons), so a 50-cell scenario is a handful of
Bokeh models. Opening a cell builds its full editor (:class:`CellCard`: header, Run,
form, result) in its place. The state lives in :class:`NotebookState`.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from typing import Any

import panel as pn

from workspace.views.cell_card import AddStep, CellCard, cell_title, items_table
from workspace.views.components import CellList, LeaveGuard, Slot, section
from workspace.views.flow import FlowView
from workspace.views.flow_graph import cell_icon
from workspace.views.notebook_state import NotebookState
from workspace.views.rules import RulesEditor
from workspace.views.scenarios import export_name
from workspace.views.widgets import (
    Banner,
    SchemaForm,
    attempt,
    badge,
    error_dict_message,
    html,
    json_tree,
)


class Notebook(pn.viewable.Viewer):
    """The page of one scenario."""

    def __init__(
        self, svc: Any, user: Any, scenario_id: str, nav: Callable[..., Any], **params: Any
    ) -> None:
        super().__init__(**params)
        self.nav = nav
        self.state = NotebookState(svc, user, scenario_id)
        self.banner = Banner("notebook-banner")
        self.cards: dict[str, CellCard] = {}
        self.open_ids: set[str] = set()
        self._lists: list[CellList] = []
        self.guard = LeaveGuard(dirty=False, width=0, height=0, margin=0)
        self.state.param.watch(lambda e: self._dirty_changed(), "dirty")
        self.state.param.watch(
            lambda *_: self._update_info(), ["version", "live_version", "status", "status_reason"]
        )
        self.state.param.watch(lambda e: self.render_cells(), "structure")
        self.state.param.watch(lambda e: self._live_items(e.new), "step_items")
        doc = self.state.doc
        self.name_input = pn.widgets.TextInput(
            name="Scenario name",
            value=doc.get("name", ""),
            width=260,
            css_classes=["scenario-name"],
        )
        self.name_input.param.watch(lambda e: self.state.set_meta(name=e.new), "value")
        self.description = pn.widgets.TextInput(
            name="Description",
            value=doc.get("description", ""),
            sizing_mode="stretch_width",
            css_classes=["scenario-description"],
        )
        self.description.param.watch(lambda e: self.state.set_meta(description=e.new), "value")
        self.tags = pn.widgets.TextInput(
            name="Tags (comma-separated)",
            value=", ".join(doc.get("tags") or []),
            placeholder="e.g. billing, slack",
            width=320,
            css_classes=["scenario-tags"],
        )
        self.tags.param.watch(
            lambda e: self.state.set_meta(tags=[t.strip() for t in e.new.split(",") if t.strip()]),
            "value",
        )
        self.save_button = pn.widgets.Button(
            name="Save", button_type="primary", width=90, css_classes=["save"]
        )
        self.save_button.on_click(self._save)
        self.publish_button = pn.widgets.Button(
            name="Publish", button_type="success", width=100, css_classes=["publish"]
        )
        self.publish_button.on_click(self._publish)
        self.test_button = pn.widgets.Button(
            name="Test run", button_type="success", width=100, css_classes=["test-run"]
        )
        self.test_button.on_click(self._test_run)
        self.step_button = pn.widgets.Button(
            name="Step", button_type="default", width=90, css_classes=["step"]
        )
        self.step_button.on_click(self._step)
        self.step_reset_button = pn.widgets.Button(
            name="Reset steps",
            button_type="light",
            width=110,
            css_classes=["step-reset"],
            visible=False,
        )
        self.step_reset_button.on_click(self._step_reset)
        self.step_panel = Slot(
            sizing_mode="stretch_width", margin=0, css_classes=["step-panel"], visible=False
        )
        self.step_live = html("", css_classes=["step-live"], visible=False)
        self.enable_button = pn.widgets.Button(name="", width=100, css_classes=["toggle-enabled"])
        self.enable_button.on_click(self._toggle_enabled)
        self.export = pn.widgets.FileDownload(
            callback=self._export,
            filename=self._filename(),
            label="Export YAML",
            button_type="light",
            width=130,
            css_classes=["export"],
            embed=False,
        )
        self.history = pn.widgets.Button(
            name="Executions", button_type="light", width=110, css_classes=["scenario-history"]
        )
        self.history.on_click(lambda e: self.nav("executions", scenario=self.state.scenario_id))
        self.info = html("")
        self.run_summary = Slot(sizing_mode="stretch_width", margin=0)
        self.settings = self._settings_card()
        self.cells_box = pn.Column(sizing_mode="stretch_width", margin=0, css_classes=["cells"])
        self._update_info()
        self.render_cells()
        self.flow = FlowView(self)
        self._layout = pn.Column(
            self.guard,
            pn.FlexBox(
                self.name_input,
                self.save_button,
                self.publish_button,
                self.test_button,
                self.step_button,
                self.step_reset_button,
                self.enable_button,
                self.export,
                self.history,
                align_items="flex-end",
                sizing_mode="stretch_width",
            ),
            self.description,
            self.tags,
            self.info,
            self.banner,
            self.run_summary,
            self.step_live,
            self.step_panel,
            self.settings,
            self.flow.panel,
            self.cells_box,
            sizing_mode="stretch_width",
            css_classes=["notebook"],
        )

    @property
    def dirty(self) -> bool:
        return self.state.dirty

    def _filename(self) -> str:
        return export_name(self.state.doc.get("name", "scenario"))

    def _export(self) -> Any:
        import io

        try:
            return io.StringIO(self.state.export())
        except Exception as exc:
            self.banner.error(exc)
            return io.StringIO("")

    def _settings_card(self) -> Any:
        """Run settings in a closed section; its form is built the first time it is opened."""

        def build(body: Slot) -> None:
            if body.shown:
                return
            from cells.models import ScenarioSettings

            form = SchemaForm(
                ScenarioSettings.model_json_schema(),
                self.state.doc.get("settings") or {},
                prefix="settings",
            )

            def changed(*_: Any) -> None:
                try:
                    self.state.set_meta(settings=form.values())
                except ValueError:
                    pass

            form.param.watch(changed, "changed")
            body[:] = [form]

        return section(
            "Run settings: retries, alerts, time limits",
            css_classes=["scenario-settings"],
            on_open=build,
            margin=(4, 0),
        )

    def _dirty_changed(self) -> None:
        self.guard.dirty = self.state.dirty
        self._update_info()

    def _update_info(self) -> None:
        s = self.state
        reason = (
            f'<br><span class="cw-status-reason">{escape(s.status_reason)}</span>'
            if s.status_reason
            else ""
        )
        self.info.object = (
            f'<p class="scenario-info">{badge(s.status)} '
            f'<span class="{"cw-unsaved" if s.dirty else "cw-muted"}">{escape(s.info)}'
            f"</span>{reason}</p>"
        )
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
            items.append(
                html('<p class="cw-muted">Fallback: runs when no other branch matched.</p>')
            )
        else:
            items.append(
                RulesEditor(
                    branch.get("rules"),
                    lambda rules: state.update_branch(router_id, original, rules=rules),
                    label=f"Branch {branch['name']}",
                )
            )
        items.append(
            AddStep(
                self,
                branch=(router_id, branch["name"]),
                label=f"Add a step at the start of branch {branch['name']}",
            )
        )
        items.extend(
            self.cell_items(
                branch.get("cells") or [], f"{number}.", container=f"{router_id}/{branch['name']}"
            )
        )
        remove = pn.widgets.Button(name=f"Delete branch {branch['name']}", button_type="light")
        remove.on_click(
            lambda e: self.act(lambda: state.delete_branch(router_id, original), self.banner)
        )
        items.append(remove)
        return section(
            f"Branch: {branch['name']}",
            *items,
            expanded=True,
            css_classes=["branch", f"branch-{router_id}-{branch['name'].replace(' ', '_')}"],
            margin=(4, 0),
        )

    def inner_view(
        self, parent_id: str, name: str, prefix: str, *, heading: str, label: str, empty: str
    ) -> Any:
        """The cells inside a loop (``LOOP_BODY``) or an error route (``ERROR_ROUTE``) of
        ``parent_id``: an "add a step" control first, then the cells, as in a branch."""
        cells = self.state.cells_in(parent_id, name)
        items: list[Any] = [
            html(f'<p style="margin:4px 0"><strong>{escape(heading)}</strong></p>'),
            AddStep(self, branch=(parent_id, name), label=label),
        ]
        if cells:
            items.extend(self.cell_items(cells, prefix, container=f"{parent_id}/{name}"))
        else:
            items.append(html(f'<p class="cw-muted" style="margin:2px 24px">{escape(empty)}</p>'))
        return pn.Column(
            *items,
            sizing_mode="stretch_width",
            margin=(4, 0),
            css_classes=["inner-cells", f"inner-{parent_id}"],
        )

    def _card(self, cell_id: str, number: str) -> CellCard:
        """The full editor of an open cell (built once, reused while its place is the same)."""
        card = self.cards.get(cell_id)
        if card is None or card.number != number:
            card = CellCard(self, cell_id, number)
            self.cards[cell_id] = card
        if not card.expanded:
            card.expanded = True
        return card

    def cell_items(
        self, cells: list[dict[str, Any]], prefix: str = "", *, container: str = ""
    ) -> list[Any]:
        """Open cells as editors; each run of collapsed cells between them as one ``CellList``.

        ``container`` names the list of steps (top level, or ``router/branch``): a cell is
        dragged only among the cells of its own."""
        items: list[Any] = []
        pending: list[dict[str, Any]] = []

        def flush() -> None:
            if pending:
                listing = CellList(
                    self.open_cell, self.drop, items=list(pending), css_classes=["cell-list"]
                )
                self._lists.append(listing)
                items.append(listing)
                pending.clear()

        for index, cell in enumerate(cells):
            number = f"{prefix}{index + 1}"
            if cell["id"] in self.open_ids:
                flush()
                items.append(self._card(cell["id"], number))
            else:
                pending.append(
                    {
                        "id": cell["id"],
                        "number": number,
                        "title": cell_title(self.state, cell["id"], number),
                        "icon": cell_icon(cell),
                        "container": container,
                        "fixed": cell.get("kind") == "trigger",
                    }
                )
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

    def drop(self, cell_id: str, target_id: str, after: bool) -> None:
        """A cell dragged before (or after) another of its list: move it there, keep it focused."""
        self.act(lambda: self.state.drop(cell_id, target_id, after=after))
        self.focus_cell(cell_id)

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
        # routers, loops and cells with an error route rebuild the cells inside them
        for cell_id, card in list(self.cards.items()):
            cell = self.state.cell(cell_id)
            holds_cells = (
                cell.get("branches") is not None
                or cell.get("kind") == "loop"
                or isinstance(cell.get("on_error"), dict)
            )
            if cell_id in self.open_ids and holds_cells and card.body.objects:
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
                {**item, "title": cell_title(self.state, item["id"], item["number"])}
                for item in listing.items
                if item["id"] in ids
            ]

    def act(
        self, action: Callable[[], Any], banner: Banner | None = None, *, open_new: bool = False
    ) -> Any:
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
            still = (
                f" Version {live} is still live: publish to make your changes live."
                if live is not None and live != scenario.version
                else ""
            )
            self.banner.ok(f"Saved version {scenario.version}.{still}")
            self.export.filename = self._filename()

    async def _publish(self, _: Any = None) -> None:
        scenario = await attempt(self.banner, self.state.publish)
        if scenario is not None:
            running = (
                "it runs on its trigger from now on."
                if scenario.status == "active"
                else "enable the scenario to run it on its trigger."
            )
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
        message = (
            "Test run completed."
            if ok
            else f"Test run failed: {error_dict_message(execution.get('error'))}"
        )
        self.banner.show(message, "ok" if ok else "error")
        open_it = pn.widgets.Button(
            name="Open this execution", button_type="light", css_classes=["open-execution"]
        )
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

    def _live_items(self, live: dict[str, Any] | None) -> None:
        """A stepped loop's items so far, while it runs (hidden once it is done)."""
        if live is None:
            self.step_live.param.update(object="", visible=False)
            return
        done = len(live["items"])
        count = live["count"]
        of = f" of {count}" if count is not None else ""
        status = (
            f'<p role="status" class="step-live-status">Running loop '
            f"<strong>{escape(live['loop'])}</strong>: {done}{of} items done…</p>"
        )
        table = items_table({"count": count or done, "items": live["items"]}) if done else ""
        self.step_live.param.update(object=status + table, visible=True)

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
            self.step_button.param.update(name="Step", disabled=False, width=90)
            self.step_panel[:] = []
            return
        name = f"Step: {s.step_next}" if s.step_next else "Step"
        # wide enough for the next cell's id (a long one would be cut off)
        self.step_button.param.update(name=name, width=max(90, 28 + 8 * len(name)))
        self.step_button.disabled = s.step_next is None
        rows = "".join(
            f"<li>{badge(r['status'])} <strong>{escape(r['cell_id'])}</strong>"
            + (
                f' <span class="cw-muted">{r["duration_ms"]:.0f} ms</span>'
                if r.get("duration_ms") is not None
                else ""
            )
            + (f" — {escape(error_dict_message(r['error']))}" if r.get("error") else "")
            + "</li>"
            for r in log
        )
        after = (
            f"Next: <strong>{escape(s.step_next)}</strong>."
            if s.step_next
            else "Nothing left to run."
        )
        parts: list[Any] = [
            html(
                '<section aria-label="Step-by-step run">'
                '<h2 style="font-size:16px;margin:4px 0">Step-by-step run</h2>'
                f'<ol class="step-log">{rows}</ol><p role="status" '
                f'class="step-status">{escape(s.step_message)} {after}</p></section>'
            )
        ]
        output = last.get("output") if last is not None else None
        if last is not None and isinstance(output, dict) and "items" in output:
            cell_id = last["cell_id"]
            if cell_id in self.state.ids() and self.state.cell(cell_id).get("kind") == "loop":
                parts.append(html(items_table(output), css_classes=["step-items"]))
        if last is not None:
            parts.append(
                pn.Row(
                    pn.Column(
                        html(f"<strong>Input of {escape(last['cell_id'])}</strong>"),
                        json_tree(last.get("input"), name="Step input", css_classes=["step-input"]),
                        sizing_mode="stretch_width",
                    ),
                    pn.Column(
                        html(f"<strong>Output of {escape(last['cell_id'])}</strong>"),
                        json_tree(
                            last.get("output"), name="Step output", css_classes=["step-output"]
                        ),
                        sizing_mode="stretch_width",
                    ),
                    sizing_mode="stretch_width",
                )
            )
        self.step_panel[:] = parts

    async def _toggle_enabled(self, _: Any = None) -> None:
        action = self.state.disable if self.state.status == "active" else self.state.enable
        scenario = await attempt(self.banner, action)
        if scenario is not None:
            behind = (
                f" Version {scenario.version} is saved but not live: publish it to run it."
                if scenario.live_version != scenario.version
                else ""
            )
            self.banner.ok(
                f"Enabled: version {scenario.live_version} now runs on its trigger.{behind}"
                if scenario.status == "active"
                else "Disabled: the scenario no longer runs."
            )
            self._update_info()

    async def save_and_leave(self) -> bool:
        return await attempt(self.banner, self.state.save) is not None

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout
