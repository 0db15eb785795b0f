"""The scenarios list: a row per scenario under column headers (name and tags, status,
last run, success rate, actions), filtered by name and tag; create, import, duplicate,
enable/disable, export, delete, open."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from html import escape
from typing import Any

import panel as pn
import param

from cells import document as documents
from workspace.views.widgets import (
    CSS,
    LIST_BUTTON_CSS,
    SHRINK_CSS,
    Banner,
    attempt,
    badge,
    handler,
    html,
    when,
)

BLANK_TRIGGER = {"id": "start", "kind": "trigger", "app": "webhook", "operation": "catch_hook"}


def versions(row: dict[str, Any]) -> str:
    """``live v4 · saved v5``: what runs, and the latest saved version when it differs."""
    live, saved = row.get("live_version"), row["version"]
    if live is None:
        return f"not published · saved v{saved}"
    return f"live v{live}" if live == saved else f"live v{live} · saved v{saved}"


def export_name(name: str) -> str:
    """The file name an export of scenario ``name`` is saved as."""
    slug = "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-") or "scenario"
    return f"{slug}.yaml"


# Column widths of the list (px, margins included), shared by the headers and the rows
# so they line up; on narrow screens the rows wrap and each cell names itself instead.
COLUMNS = (("Name", 300), ("Status", 200), ("Last run", 160), ("Success", 90), ("Actions", 0))

WRAP_ROW_CSS = ":host { flex-wrap: wrap !important; }"  # the actions wrap on a phone
LIST_CSS = """
.cw-head { display: flex; font-size: 13px; font-weight: 600; color: #374151; border-bottom: 2px solid #d1d5db; padding: 4px 0; }
.cw-head span { flex: none; padding-left: 10px; box-sizing: border-box; }
.cw-label { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
.cw-tag { display: inline-block; font-size: 12px; padding: 0 8px; margin: 0 4px 2px 0; border-radius: 999px; background: #e0e7ff; color: #1e3a8a; }
@media (max-width: 899px) {
  .cw-head { display: none; }
  .cw-label { position: static; width: auto; height: auto; clip: auto; color: #4b5563; }
}
"""


class ScenarioListState(param.Parameterized):
    """The signed-in user's scenarios (filtered by name and tag) and what can be done with them."""

    rows = param.List(default=[])
    search = param.String(default="", doc="Only scenarios whose name contains this text.")
    tag = param.String(default="", doc="Only scenarios with this tag ('' = any).")
    tags = param.List(default=[], doc="Every tag the user's scenarios use, for the tag filter.")
    total = param.Integer(default=0, doc="How many scenarios the user has, filters aside.")

    def __init__(self, svc: Any, user: Any, **params: Any) -> None:
        super().__init__(**params)
        self.svc = svc
        self.user = user
        self.param.watch(lambda *_: self.refresh(), ["search", "tag"])
        self.refresh()

    def refresh(self) -> None:
        everything = self.svc.store.list_scenarios(self.user.id)
        self.total = len(everything)
        self.tags = sorted({t for s in everything for t in s.tags})
        filtered = bool(self.search.strip() or self.tag)
        scenarios = self.svc.store.list_scenarios(self.user.id, name=self.search, tag=self.tag or None) if filtered else everything
        rates = self._success_rates()
        self.rows = [
            {
                "id": s.id, "name": s.name, "status": s.status, "version": s.version, "live_version": s.live_version,
                "last_run": s.last_run.isoformat() if s.last_run else None, "tags": list(s.tags),
                "success_rate": rates.get(s.id), "updated_at": s.updated_at.isoformat(),
            }
            for s in scenarios
        ]

    def _success_rates(self) -> dict[str, float]:
        analytics = getattr(self.svc, "analytics", None)
        if analytics is None:
            return {}
        try:
            frame = analytics.success_rate(self.user.id)
        except Exception:  # the dashboard log is optional for this list
            return {}
        return {str(r.scenario_id): float(r.success_rate) for r in frame.itertuples()}

    def create_blank(self, name: str) -> Any:
        name = name.strip() or "Untitled scenario"
        doc = documents.parse({"name": name, "cells": [dict(BLANK_TRIGGER)]})
        scenario = self.svc.import_scenario(self.user.id, doc)
        self.refresh()
        return scenario

    def import_text(self, text: str, source: str = "uploaded file") -> Any:
        doc = documents.loads(text, source=source)
        scenario = self.svc.import_scenario(self.user.id, doc)
        self.refresh()
        return scenario

    def duplicate(self, scenario_id: str) -> Any:
        doc = self.svc.document(self.user.id, scenario_id)
        data = doc.to_data()
        data["name"] = f"{data['name']} (copy)"
        scenario = self.svc.import_scenario(self.user.id, documents.parse(data))
        self.refresh()
        return scenario

    def export(self, scenario_id: str) -> tuple[str, str]:
        """(file name, YAML) of the scenario's latest saved version, as ``cellwright export`` writes it."""
        name = self.svc.scenario(self.user.id, scenario_id).name
        return export_name(name), self.svc.export_scenario(self.user.id, scenario_id)

    async def toggle(self, scenario_id: str) -> Any:
        scenario = self.svc.scenario(self.user.id, scenario_id)
        if scenario.status == "active":
            result = await self.svc.disable(self.user.id, scenario_id)
        else:
            result = await self.svc.enable(self.user.id, scenario_id)
        self.refresh()
        return result

    async def delete(self, scenario_id: str) -> None:
        scenario = self.svc.scenario(self.user.id, scenario_id)
        if scenario.status == "active":
            await self.svc.disable(self.user.id, scenario_id)
        await asyncio.to_thread(self.svc.store.delete_scenario, self.user.id, scenario_id)
        self.refresh()


class ScenarioList(pn.viewable.Viewer):
    def __init__(self, svc: Any, user: Any, nav: Callable[..., Any], **params: Any) -> None:
        super().__init__(**params)
        self.state = ScenarioListState(svc, user)
        self.nav = nav
        self.banner = Banner()
        self.new_name = pn.widgets.TextInput(name="New scenario name", placeholder="e.g. New orders to Slack", width=300, css_classes=["new-scenario-name"])
        create = pn.widgets.Button(name="Create blank scenario", button_type="primary", align="end", css_classes=["create-scenario"])
        create.on_click(self._create)
        from_template = pn.widgets.Button(name="Start from a template", button_type="light", align="end", css_classes=["from-template"])
        from_template.on_click(lambda e: self.nav("templates"))
        self.upload = pn.widgets.FileInput(accept=".yaml,.yml,.json", name="Import a scenario file (YAML or JSON)", css_classes=["import-file"], multiple=False)
        import_button = pn.widgets.Button(name="Import file", button_type="light", align="end", css_classes=["import-scenario"])
        import_button.on_click(self._import)
        self.search = pn.widgets.TextInput(name="Search by name", placeholder="Part of a name", width=260, css_classes=["search-scenarios"])
        self.search.param.watch(lambda e: setattr(self.state, "search", e.new), "value_input")
        self.tag = pn.widgets.Select(name="Tag", width=200, css_classes=["filter-tag"])
        self.tag.param.watch(lambda e: setattr(self.state, "tag", e.new or ""), "value")
        self.count = html("", width=220, align="end")
        self.list = pn.Column(sizing_mode="stretch_width", margin=0, css_classes=["scenario-list"])
        self.state.param.watch(lambda e: self._render(), "rows")
        self._render()
        self._layout = pn.Column(
            html("<h1>Scenarios</h1>"),
            pn.FlexBox(self.new_name, create, from_template, self.upload, import_button, align_items="flex-end", sizing_mode="stretch_width"),
            pn.FlexBox(self.search, self.tag, self.count, align_items="flex-end", sizing_mode="stretch_width", css_classes=["scenario-filters"]),
            self.banner, self.list, sizing_mode="stretch_width",
        )

    def _render(self) -> None:
        rows, s = self.state.rows, self.state
        self.tag.options = {"All tags": "", **{t: t for t in s.tags}}
        self.tag.value = s.tag if s.tag in s.tags else ""
        shown = f"{len(rows)} of {s.total} scenarios" if len(rows) != s.total else f"{s.total} scenario{'' if s.total == 1 else 's'}"
        self.count.object = f'<p class="cw-muted" aria-live="polite" style="margin:0 0 8px">{shown}</p>'
        if not rows:
            empty = "No scenarios match this search." if s.total else "No scenarios yet. Create a blank one, start from a template, or import a file."
            self.list[:] = [html(f'<p class="cw-muted">{empty}</p>')]
            return
        head = "".join(f'<span style="width:{w}px">{label}</span>' if w else f"<span>{label}</span>" for label, w in COLUMNS)
        items: list[Any] = [html(f'<div class="cw-head" aria-hidden="true">{head}</div>', stylesheets=[LIST_CSS], margin=(0, 0))]
        items += [self._row(row) for row in rows]
        self.list[:] = items

    def _row(self, row: dict[str, Any]) -> pn.FlexBox:
        """One scenario: cells as wide as the headers above them; wrapped on narrow screens."""
        rate = row["success_rate"]
        widths = [w - 20 for _, w in COLUMNS]  # less the 10 px margins either side

        def cell(label: str, text: str, width: int) -> pn.pane.HTML:
            return html(f'<span class="cw-label">{label}: </span>{text}', width=width, align="center", stylesheets=[CSS, LIST_CSS])

        open_button = pn.widgets.Button(name=row["name"], button_type="light", css_classes=["open-scenario"], width=widths[0], description=None, stylesheets=[LIST_BUTTON_CSS])
        open_button.on_click(lambda e, i=row["id"]: self.nav("scenario", i))
        name: Any = open_button
        if row["tags"]:
            chips = "".join(f'<span class="cw-tag">{escape(t)}</span>' for t in row["tags"])
            name = pn.Column(open_button, html(f'<span class="cw-label">Tags: </span>{chips}', width=widths[0], stylesheets=[CSS, LIST_CSS], margin=(0, 10)), width=widths[0] + 20, margin=0)
        toggle = pn.widgets.Button(name="Disable" if row["status"] == "active" else "Enable", button_type="light", width=90, css_classes=["toggle-scenario"])
        toggle.on_click(handler(self._do, lambda i=row["id"]: self.state.toggle(i)))
        dup = pn.widgets.Button(name="Duplicate", button_type="light", width=100)
        dup.on_click(handler(self._do, lambda i=row["id"]: self.state.duplicate(i), "Duplicated."))
        export = pn.widgets.FileDownload(
            callback=lambda i=row["id"]: self._export(i), filename=export_name(row["name"]), label="Export", button_type="light",
            width=80, embed=False, css_classes=["export-scenario"],
        )
        delete = pn.widgets.Button(name="Delete", button_type="danger", width=80, css_classes=["delete-scenario"])
        delete.on_click(lambda e, i=row["id"], n=row["name"]: self._confirm_delete(i, n))
        return pn.FlexBox(
            name,
            cell("Status", f'{badge(row["status"])} <span class="cw-muted">{versions(row)}</span>', widths[1]),
            cell("Last run", when(row["last_run"]), widths[2]),
            cell("Success", "—" if rate is None else f"{rate:.0%}", widths[3]),
            pn.Row(toggle, dup, export, delete, margin=0, stylesheets=[SHRINK_CSS, WRAP_ROW_CSS]),
            align_items="center", sizing_mode="stretch_width", css_classes=["scenario-row"], styles={"border-bottom": "1px solid #e5e7eb"},
        )

    def _export(self, scenario_id: str) -> Any:
        import io

        try:
            return io.StringIO(self.state.export(scenario_id)[1])
        except Exception as exc:  # deleted meanwhile, or a bug: say so, download nothing
            self.banner.error(exc)
            return io.StringIO("")

    def _confirm_delete(self, scenario_id: str, name: str) -> None:
        yes = pn.widgets.Button(name=f"Yes, delete {name}", button_type="danger", css_classes=["confirm-delete"])
        no = pn.widgets.Button(name="Keep it", button_type="light")
        self.banner.show(f"Delete '{name}' and its history? This cannot be undone.", "warn")
        box = pn.Row(yes, no)

        async def go(_: Any) -> None:
            self.list.remove(box) if box in self.list.objects else None
            await self._do(lambda: self.state.delete(scenario_id), f"Deleted '{name}'.")

        yes.on_click(go)
        no.on_click(lambda e: (self.banner.clear(), self.list.remove(box)))
        self.list.insert(0, box)

    async def _do(self, action: Callable[[], Any], success: str | None = None) -> None:
        await attempt(self.banner, action, success=success)

    async def _create(self, _: Any) -> None:
        scenario = await attempt(self.banner, lambda: self.state.create_blank(self.new_name.value))
        if scenario is not None:
            self.nav("scenario", scenario.id)

    async def _import(self, _: Any) -> None:
        if not self.upload.value:
            self.banner.show("Choose a YAML or JSON file first.", "warn")
            return
        text = self.upload.value.decode("utf-8", "replace") if isinstance(self.upload.value, bytes) else str(self.upload.value)
        scenario = await attempt(self.banner, lambda: self.state.import_text(text, self.upload.filename or "file"))
        if scenario is not None:
            self.nav("scenario", scenario.id)

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout
