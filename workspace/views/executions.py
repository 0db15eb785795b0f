"""Execution history (filters, paging) and one execution's page (cells, rerun, live updates)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from html import escape
from typing import Any

import panel as pn
import param

from storage import MAX_SEARCH_LENGTH
from workspace.views.components import section
from workspace.views.widgets import (
    Banner,
    attempt,
    badge,
    error_dict_message,
    handler,
    html,
    json_tree,
    when,
)
from workspace.views.wording import counted

RANGES = {
    "Any time": None,
    "Last hour": timedelta(hours=1),
    "Last 24 hours": timedelta(days=1),
    "Last 7 days": timedelta(days=7),
    "Last 30 days": timedelta(days=30),
}
STATUSES = ["any", "queued", "running", "waiting", "completed", "failed", "cancelled"]
LIVE = ("queued", "running", "waiting")
PAGE_SIZE = 20
# input and output share a row, each at least 300 px wide, else one above the other
WRAP_CSS = ":host { flex-wrap: wrap !important; }"
HALF_CSS = ":host { flex: 1 1 300px !important; min-width: 0 !important; }"


def item_labels(paths: list[str], total: int | None = None) -> dict[str, str]:
    """People's labels of recorded item paths (indexes from 0, ``"outer/inner"``):
    ``"2/5"`` is item 2 of 5; inside an outer loop's item 3, ``"3 › 2/5"``. ``total``:
    how many items the (top-level) loop had, when known (a failed loop stops early)."""
    counts: dict[str, int] = {}
    for path in paths:
        parent = path.rpartition("/")[0]
        counts[parent] = counts.get(parent, 0) + 1
    if total is not None:
        counts[""] = max(total, counts.get("", 0))
    labels: dict[str, str] = {}
    for path in paths:
        parent, _, last = path.rpartition("/")
        try:
            outer = [str(int(p) + 1) for p in parent.split("/")] if parent else []
            labels[path] = " › ".join([*outer, f"{int(last) + 1}/{counts[parent]}"])
        except ValueError:
            labels[path] = path
    return labels


class ExecutionListState(param.Parameterized):
    scenario_id = param.String(default=None, allow_None=True)
    status = param.Selector(default="any", objects=STATUSES)
    time_range = param.Selector(default="Any time", objects=list(RANGES))
    search = param.String(default="", doc="Only executions whose trigger data contains this text.")
    parent_execution_id = param.String(
        default=None, allow_None=True, doc="Only the runs this execution called (sub-scenarios)."
    )
    page = param.Integer(default=0, bounds=(0, None))
    items = param.List(default=[])
    total = param.Integer(default=0)

    def __init__(self, svc: Any, user: Any, **params: Any) -> None:
        super().__init__(**params)
        self.svc = svc
        self.user = user
        self.param.watch(
            lambda *_: self._filters_changed(),
            ["scenario_id", "status", "time_range", "search", "parent_execution_id"],
        )
        self.param.watch(lambda *_: self.refresh(), ["page"])
        self.refresh()

    def _filters_changed(self) -> None:
        if self.page:
            self.page = 0  # refreshes
        else:
            self.refresh()

    def filters(self) -> dict[str, Any]:
        span = RANGES[self.time_range]
        return {
            "scenario_id": self.scenario_id or None,
            "status": None if self.status == "any" else self.status,
            "since": datetime.now(UTC) - span if span else None,
            "until": None,
            "search": self.search.strip()[:MAX_SEARCH_LENGTH] or None,
            "parent_execution_id": self.parent_execution_id or None,
        }

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // PAGE_SIZE))

    def refresh(self) -> None:
        filters = self.filters()
        self.total = self.svc.executions.count(self.user.id, **filters)
        self.items = self.svc.list_executions(
            self.user.id, limit=PAGE_SIZE, offset=self.page * PAGE_SIZE, **filters
        )


class ExecutionList(pn.viewable.Viewer):
    def __init__(
        self,
        svc: Any,
        user: Any,
        nav: Callable[..., Any],
        scenario_id: str | None = None,
        **params: Any,
    ) -> None:
        super().__init__(**params)
        self.nav = nav
        self.banner = Banner()
        names = svc.scenarios.names(user.id)
        self.names = names
        self.state = ExecutionListState(
            svc, user, scenario_id=scenario_id if scenario_id in names else None
        )
        scenario = pn.widgets.Select(
            name="Scenario",
            options={"All scenarios": "", **{n: i for i, n in names.items()}},
            value=self.state.scenario_id or "",
            width=260,
            css_classes=["filter-scenario"],
        )
        scenario.param.watch(lambda e: setattr(self.state, "scenario_id", e.new or None), "value")
        status = pn.widgets.Select.from_param(
            self.state.param.status, name="Status", width=150, css_classes=["filter-status"]
        )
        span = pn.widgets.Select.from_param(
            self.state.param.time_range, name="Time range", width=170, css_classes=["filter-range"]
        )
        search = pn.widgets.TextInput(
            name="Search trigger data",
            placeholder="e.g. ada@example.com",
            width=240,
            max_length=MAX_SEARCH_LENGTH,
            css_classes=["search-executions"],
        )
        search.param.watch(
            lambda e: setattr(self.state, "search", e.new), "value"
        )  # on Enter or leaving the field: each search is a query
        refresh = pn.widgets.Button(
            name="Refresh", button_type="light", align="end", css_classes=["refresh-executions"]
        )
        refresh.on_click(lambda e: self.state.refresh())
        self.prev = pn.widgets.Button(
            name="Previous page", button_type="light", css_classes=["prev-page"]
        )
        self.next = pn.widgets.Button(
            name="Next page", button_type="light", css_classes=["next-page"]
        )
        self.prev.on_click(lambda e: setattr(self.state, "page", max(0, self.state.page - 1)))
        self.next.on_click(
            lambda e: setattr(self.state, "page", min(self.state.pages - 1, self.state.page + 1))
        )
        self.pager = html("", width=220, align="center")
        self.rows = pn.Column(sizing_mode="stretch_width", margin=0, css_classes=["execution-list"])
        self.state.param.watch(lambda *_: self._render(), ["items", "total"])
        self._render()
        self._layout = pn.Column(
            html("<h1>Executions</h1>"),
            pn.FlexBox(
                scenario,
                status,
                span,
                search,
                refresh,
                align_items="flex-end",
                sizing_mode="stretch_width",
            ),
            self.banner,
            self.rows,
            pn.FlexBox(
                self.prev, self.pager, self.next, align_items="center", sizing_mode="stretch_width"
            ),
            sizing_mode="stretch_width",
        )

    def _render(self) -> None:
        s = self.state
        self.pager.object = (
            f'<p aria-live="polite">Page {s.page + 1} of {s.pages} · '
            f"{counted(s.total, 'execution')}</p>"
        )
        self.prev.disabled = s.page == 0
        self.next.disabled = s.page >= s.pages - 1
        if not s.items:
            self.rows[:] = [html('<p class="cw-muted">No executions match these filters.</p>')]
            return
        rows = []
        for e in s.items:
            name = escape(self.names.get(e["scenario_id"], e["scenario_id"]))
            duration = e.get("duration_ms")
            error = escape(error_dict_message(e.get("error"))[:160])
            took = "—" if duration is None else f"{duration:.0f} ms"
            rerun = " · rerun" if e.get("rerun_of") else ""
            called = " · called by another run" if e.get("parent_execution_id") else ""
            text = (
                f"{badge(e['status'])} <strong>{name}</strong> "
                '<span class="cw-muted">· started '
                f"{when(e.get('start_time') or e.get('created_at'))}"
                f" · {took}{rerun}{called}</span>"
                + (f'<br><span style="color:#7f1d1d">{error}</span>' if error else "")
            )
            open_it = pn.widgets.Button(
                name="Open",
                button_type="light",
                width=80,
                align="center",
                css_classes=["open-execution", f"exec-{e['id']}"],
            )
            open_it.on_click(lambda ev, i=e["id"]: self.nav("execution", i))
            rows.append(
                pn.Row(
                    open_it,
                    html(text, align="center"),
                    sizing_mode="stretch_width",
                    css_classes=["execution-row", f"status-{e['status']}"],
                    styles={"border-bottom": "1px solid #e5e7eb"},
                )
            )
        self.rows[:] = rows

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout


class ExecutionState(param.Parameterized):
    data = param.Dict(default={})

    def __init__(self, svc: Any, user: Any, execution_id: str, **params: Any) -> None:
        super().__init__(**params)
        self.svc = svc
        self.user = user
        self.execution_id = execution_id
        self.refresh()

    def refresh(self) -> None:
        self.data = self.svc.execution(self.user.id, self.execution_id)

    @property
    def live(self) -> bool:
        return self.data.get("status") in LIVE

    def cell_order(self) -> list[str]:
        """Every cell of the scenario version the execution ran, in run order."""
        try:
            doc = self.svc.scenarios.version_document(
                self.user.id, self.data["scenario_id"], self.data["scenario_version"]
            )
            return [c.id for c, _ in doc.walk()]
        except Exception:  # an old version that no longer parses: fall back to the recorded cells
            return [c["cell_id"] for c in self.data.get("cells") or []]

    def loop_ids(self) -> dict[str, set[str]]:
        """The loop cells of the scenario version the execution ran, with the cells inside each."""
        from cells.loops import cells_of
        from cells.models import LoopCell

        try:
            doc = self.svc.scenarios.version_document(
                self.user.id, self.data["scenario_id"], self.data["scenario_version"]
            )
        except Exception:  # an old version that no longer parses: no per-item view
            return {}
        return {c.id: set(cells_of(c)) for c, _ in doc.walk() if isinstance(c, LoopCell)}

    def routes(self) -> dict[str, tuple[list[str], str]]:
        """The cells with an error route in the version the execution ran: their route's
        cells and what happens after (``then``)."""
        from cells.flow import error_route
        from cells.models import TriggerCell

        try:
            doc = self.svc.scenarios.version_document(
                self.user.id, self.data["scenario_id"], self.data["scenario_version"]
            )
        except Exception:  # an old version that no longer parses: no route notes
            return {}
        found: dict[str, tuple[list[str], str]] = {}
        for cell, _ in doc.walk():
            route = None if isinstance(cell, TriggerCell) else error_route(cell)
            if route is not None:
                found[cell.id] = ([c.id for c in route.cells], route.then)
        return found

    async def rerun(self, *, from_start: bool = False, from_cell: str | None = None) -> Any:
        """Rerun on the scenario's latest version, so a fixed cell runs fixed
        (``Cellwright.rerun``)."""
        return await self.svc.rerun(
            self.user.id, self.execution_id, from_start=from_start, from_cell=from_cell, latest=True
        )

    async def run_latest(self) -> Any:
        """Run the scenario's latest saved version (published or not) again with this
        execution's trigger data."""
        scenario = self.svc.scenario(self.user.id, self.data["scenario_id"])
        execution, _ = await self.svc.trigger(
            scenario, self.data.get("trigger") or {}, version=scenario.version
        )
        return execution

    @property
    def newer_version(self) -> int | None:
        scenario = self.svc.scenarios.find(self.user.id, self.data["scenario_id"])
        return (
            scenario.version
            if scenario is not None and scenario.version > self.data["scenario_version"]
            else None
        )


class ExecutionPage(pn.viewable.Viewer):
    def __init__(
        self, svc: Any, user: Any, execution_id: str, nav: Callable[..., Any], **params: Any
    ) -> None:
        super().__init__(**params)
        self.nav = nav
        self.state = ExecutionState(svc, user, execution_id)
        self.banner = Banner()
        scenario = svc.scenarios.find(user.id, self.state.data["scenario_id"])
        self.scenario_name = scenario.name if scenario else self.state.data["scenario_id"]
        self.names: dict[str, str] = svc.scenarios.names(user.id)
        # sub-scenarios: the run that called this one, and the runs it called
        self.links = pn.FlexBox(css_classes=["execution-links"], align_items="center")
        self.head = html("")
        self.cells = pn.Column(
            sizing_mode="stretch_width", margin=0, css_classes=["execution-cells"]
        )
        order = self.state.cell_order()
        self.from_failed = pn.widgets.Button(
            name="Rerun from the failed cell", button_type="primary", css_classes=["rerun-failed"]
        )
        self.from_start = pn.widgets.Button(
            name="Rerun from the start", button_type="light", css_classes=["rerun-start"]
        )
        self.cell_pick = pn.widgets.Select(
            name="Rerun from this cell",
            options=order,
            value=order[0] if order else None,
            width=200,
            css_classes=["rerun-cell-pick"],
        )
        self.from_cell = pn.widgets.Button(
            name="Rerun from chosen cell",
            button_type="light",
            align="end",
            css_classes=["rerun-cell"],
        )
        self.from_failed.on_click(handler(self._rerun))
        self.from_start.on_click(handler(self._rerun, from_start=True))
        self.from_cell.on_click(handler(lambda: self._rerun(from_cell=self.cell_pick.value)))
        newer = self.state.newer_version
        ran = self.state.data["scenario_version"]
        latest = (
            f"v{newer}, newer than the v{ran} this execution ran"
            if newer
            else f"v{ran}, the one this execution ran"
        )
        self.rerun_note = html(
            '<p class="cw-muted rerun-note">Reruns from this page use the scenario’s latest '
            f"saved version ({latest}): fix the failed cell, save, then rerun from it. Cells "
            "before the one you rerun from keep their recorded outputs.</p>"
        )
        self.latest = pn.widgets.Button(
            name=f"Run again with the latest version (v{newer})"
            if newer
            else "Run again with the latest version",
            button_type="primary" if newer else "light",
            css_classes=["run-latest"],
        )
        self.latest.on_click(handler(self._run_latest))
        open_scenario = pn.widgets.Button(
            name="Open the scenario",
            button_type="light",
            css_classes=["open-scenario-from-execution"],
        )
        open_scenario.on_click(lambda e: self.nav("scenario", self.state.data["scenario_id"]))
        back = pn.widgets.Button(name="Back to history", button_type="light")
        back.on_click(lambda e: self.nav("executions"))
        self.state.param.watch(lambda e: self._render(), "data")
        self._render()
        self._callback: Any = None
        if self.state.live:
            self._callback = (
                pn.state.add_periodic_callback(self._poll, period=700, timeout=None)
                if pn.state.curdoc
                else None
            )
        self._layout = pn.Column(
            html(f"<h1>Execution of {self._escape(self.scenario_name)}</h1>"),
            self.head,
            self.banner,
            pn.FlexBox(
                self.from_failed,
                self.from_start,
                self.cell_pick,
                self.from_cell,
                self.latest,
                open_scenario,
                back,
                align_items="flex-end",
            ),
            self.rerun_note,
            self.links,
            self.cells,
            sizing_mode="stretch_width",
        )

    @staticmethod
    def _escape(text: str) -> str:
        from html import escape

        return escape(text)

    async def _poll(self) -> None:
        await attempt(None, self.state.refresh)
        if not self.state.live:
            self.dispose()

    def dispose(self) -> None:
        if self._callback is not None:
            self._callback.stop()
            self._callback = None

    def _waiting_note(self, waiting: dict[str, Any] | None) -> str:
        """What a waiting run waits for: a time, a call to its resume URL, or a retry."""
        if not waiting:
            return ""
        until = when(waiting.get("until"))
        if waiting["for"] == "call":
            url = self._escape(waiting.get("resume_url") or "")
            text = (
                f"Waiting at cell '{self._escape(waiting.get('cell_id') or '?')}' for a call at"
                f" <code>{url}</code> (times out at {until} UTC)."
            )
        elif waiting["for"] == "time":
            text = (
                f"Waiting at cell '{self._escape(waiting.get('cell_id') or '?')}': resumes at"
                f" {until} UTC."
            )
        else:
            text = f"Waiting to retry: resumes at {until} UTC."
        return f'<p class="execution-waiting" role="status" aria-live="polite">{text}</p>'

    def _render(self) -> None:
        d = self.state.data
        duration = d.get("duration_ms")
        trigger_note = f" · rerun of {d['rerun_of']}" if d.get("rerun_of") else ""
        self.head.object = (
            f'<p class="execution-status">{badge(d["status"])} '
            f'<span class="cw-muted">version {d["scenario_version"]} · started '
            f"{when(d.get('start_time'))}"
            f" · ended {when(d.get('end_time'))} · "
            f"{'—' if duration is None else f'{duration:.0f} ms'}{self._escape(trigger_note)}"
            "</span></p>"
            + (
                '<p role="status" aria-live="polite">'
                "Running… this page updates as cells finish.</p>"
                if self.state.live and not d.get("waiting")
                else ""
            )
            + self._waiting_note(d.get("waiting"))
        )
        if d.get("error"):
            self.banner.show(
                f"Failed at cell '{d['error'].get('cell_id', '?')}': "
                f"{error_dict_message(d['error'])}",
                "error",
            )
        else:
            self.banner.clear()
        self.links[:] = self._links(d)
        finished = not self.state.live
        # only a failed run has a failed cell to rerun from: hidden, not greyed out, otherwise
        self.from_failed.visible = d["status"] == "failed"
        self.from_failed.disabled = not finished
        self.from_start.disabled = self.from_cell.disabled = not finished
        if hasattr(self, "latest"):
            self.latest.disabled = not finished
        items: list[Any] = [
            section(
                "Trigger data",
                json_tree(d.get("trigger"), name="Trigger data", depth=2),
                css_classes=["execution-trigger"],
            )
        ]
        records = d.get("cells") or []
        loop_ids = self.state.loop_ids() if any(c.get("item") for c in records) else {}
        per_item = [c for c in records if c.get("item") is not None]
        shown_loops: set[str] = set()
        routes = self.state.routes() if any(self._routed(c) for c in records) else {}
        route_of = {inner: cell for cell, (cells, _) in routes.items() for inner in cells}
        for cell in [c for c in records if c.get("item") is None]:
            if cell["cell_id"] in loop_ids:
                shown_loops.add(cell["cell_id"])
                count = (cell.get("input") or {}).get("count")
                items.append(
                    self._items_section(
                        cell["cell_id"],
                        loop_ids[cell["cell_id"]],
                        per_item,
                        count if isinstance(count, int) else None,
                    )
                )
            duration = cell.get("duration_ms")
            title = f"{cell['cell_id']} — {cell['status']}" + (
                "" if duration is None else f" in {duration:.0f} ms"
            )
            if cell["cell_id"] in route_of:
                title += f" · error route of {route_of[cell['cell_id']]}"
            body: list[Any] = []
            if cell.get("error"):
                body.append(
                    html(
                        '<div class="cw-banner error" '
                        f'role="alert">{self._escape(error_dict_message(cell["error"]))}</div>'
                    )
                )
            if self._routed(cell) and cell["cell_id"] in routes:
                inner, then = routes[cell["cell_id"]]
                after = {
                    "stop": "the run failed with this error",
                    "handled": "the run ended as handled",
                    "continue": "the run continued with the fallback output",
                }.get(then, then)
                ran = ", ".join(inner) if inner else "no cells"
                body.append(
                    html(
                        f'<p class="route-note">Its error route ran ({self._escape(ran)}); '
                        f"then {self._escape(after)}.</p>"
                    )
                )
            body.append(
                pn.Row(  # side by side when there is room, one above the other on a phone
                    pn.Column(
                        html("<strong>Input</strong>"),
                        json_tree(cell.get("input"), name="Input"),
                        sizing_mode="stretch_width",
                        stylesheets=[HALF_CSS],
                    ),
                    pn.Column(
                        html("<strong>Output</strong>"),
                        json_tree(cell.get("output"), name="Output"),
                        sizing_mode="stretch_width",
                        stylesheets=[HALF_CSS],
                    ),
                    sizing_mode="stretch_width",
                    stylesheets=[WRAP_CSS],
                )
            )
            body.append(
                html(
                    f'<p class="cw-muted">Started {when(cell.get("start_time"))} · ended '
                    f"{when(cell.get('end_time'))} · attempt {cell.get('attempt', 0) + 1}</p>"
                )
            )
            called = _called_run(cell)
            if called is not None:  # a Run scenario cell: open the run it called
                body.append(self._open_button("Open the called run", called, "open-called-run"))
            items.append(
                section(
                    title,
                    *body,
                    expanded=not (cell["status"] == "completed" and len(d.get("cells") or []) > 3),
                    css_classes=[
                        "execution-cell",
                        f"cell-{cell['cell_id']}",
                        f"status-{cell['status']}",
                    ],
                    background="#fef2f2" if cell["status"] == "failed" else None,
                )
            )
        for loop_id in sorted(
            {c["cell_id"] for c in per_item if c["cell_id"] in loop_ids} - shown_loops
        ):  # a run stopped inside a loop: its items so far
            items.append(self._items_section(loop_id, loop_ids[loop_id], per_item))
        self.cells[:] = items

    def _open_button(self, label: str, execution_id: str, css: str) -> Any:
        button = pn.widgets.Button(
            name=label, button_type="light", css_classes=[css, f"exec-{execution_id}"]
        )
        button.on_click(lambda e: self.nav("execution", execution_id))
        return button

    def _links(self, d: dict[str, Any]) -> list[Any]:
        """ "Called by" (the caller's run) and "Called" (each run this one called)."""
        links: list[Any] = []
        parent = d.get("parent_execution_id")
        if parent:
            links.append(html('<span class="cw-muted">Called by</span>'))
            links.append(self._open_button(f"execution {parent}", parent, "open-parent-run"))
        children = d.get("children") or []
        if children:
            links.append(html('<span class="cw-muted">Called</span>'))
        for child in children[:50]:
            name = self.names.get(child["scenario_id"], child["scenario_id"])
            links.append(
                self._open_button(f"{name} ({child['status']})", child["id"], "open-child-run")
            )
        return links

    @staticmethod
    def _routed(cell: dict[str, Any]) -> bool:
        return bool((cell.get("error") or {}).get("routed"))

    def _items_section(
        self,
        loop_id: str,
        inside: set[str],
        per_item: list[dict[str, Any]],
        total: int | None = None,
    ) -> Any:
        """One line per item of a loop (its index, status, time, error), and each failed
        item's cell runs in full."""
        summaries = [c for c in per_item if c["cell_id"] == loop_id]
        labels = item_labels([row["item"] for row in summaries], total)
        lines = []
        for row in summaries[:1000]:
            duration = row.get("duration_ms")
            error = error_dict_message(row["error"]) if row.get("error") else ""
            lines.append(
                f'<tr class="status-{self._escape(row["status"])}">'
                f"<td>{self._escape(labels[row['item']])} "
                f'<span class="cw-muted">(index {self._escape(row["item"])})</span></td>'
                f"<td>{self._escape(row['status'])}</td>"
                f"<td>{'—' if duration is None else f'{duration:.1f} ms'}</td>"
                f"<td>{self._escape(error)}</td></tr>"
            )
        more = (
            f'<p class="cw-muted">{len(summaries) - 1000:,} more items are in the execution '
            "record.</p>"
            if len(summaries) > 1000
            else ""
        )
        table = html(
            '<table class="loop-items"><thead><tr><th scope="col">Item</th>'
            '<th scope="col">Status</th>'
            '<th scope="col">Time</th><th scope="col">Error</th></tr></thead><tbody>'
            + "".join(lines)
            + "</tbody></table>"
            + more
        )
        body: list[Any] = [table]
        failed = {row["item"] for row in summaries if row["status"] == "failed"}
        for row in per_item:  # the cell runs of the failed items (and of their inner loops)
            path = row["item"]
            if row["cell_id"] in inside and any(
                path == f or path.startswith(f"{f}/") for f in failed
            ):
                shown = ("cell_id", "item", "status", "input", "output", "error")
                body.append(
                    json_tree(
                        {k: row.get(k) for k in shown},
                        name=f"{row['cell_id']}, item {labels.get(path, path)}",
                    )
                )
        done = sum(1 for row in summaries if row["status"] == "completed")
        return section(
            f"{loop_id} — items: {done} of {len(summaries)} completed",
            *body,
            expanded=bool(failed),
            css_classes=["execution-items", f"items-{loop_id}"],
            background="#fef2f2" if failed else None,
        )

    async def _rerun(self, **how: Any) -> None:
        execution = await attempt(self.banner, lambda: self.state.rerun(**how))
        if execution is not None:
            self.nav("execution", execution.id)

    async def _run_latest(self) -> None:
        execution = await attempt(self.banner, self.state.run_latest)
        if execution is not None:
            self.nav("execution", execution.id)

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout


def _called_run(cell: dict[str, Any]) -> str | None:
    """The execution a Run scenario cell's record points at (its output, or its error
    when the called run failed), or None."""
    output, error = cell.get("output"), cell.get("error")
    if isinstance(output, dict) and isinstance(output.get("execution_id"), str):
        if set(output) >= {"execution_id", "status", "output"}:
            return str(output["execution_id"])
    if isinstance(error, dict) and isinstance(error.get("details"), dict):
        found = error["details"].get("execution_id")
        if isinstance(found, str) and error["details"].get("scenario_id"):
            return found
    return None
