"""The scenarios list: a row per scenario under column headers (name and tags, status,
last run, success rate, actions), filtered by name and tag; create, import, duplicate,
enable/disable, export, delete, open."""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from typing import Any

import panel as pn
import param

from cells import document as documents
from workspace.views.components import ScenarioTable
from workspace.views.widgets import (
    CSS,
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
    slug = "-".join("".join(c if c.isalnum() else " " for c in name.lower()).split()) or "scenario"
    return f"{slug}.yaml"


# Column widths of the list (px, margins included), shared by the headers and the rows
# so they line up; on narrow screens the rows wrap and each cell names itself instead.
COLUMNS = (("Name", 300), ("Status", 190), ("Last run", 150), ("Success", 90), ("Actions", 0))

LIST_CSS = """
.cw-head { display: flex; font-size: 13px; font-weight: 600; color: #374151; \
border-bottom: 2px solid #d1d5db; padding: 4px 0; }
.cw-head span { flex: none; padding-left: 10px; box-sizing: border-box; }
.cw-label { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); \
white-space: nowrap; }
.cw-tag { display: inline-block; font-size: 12px; padding: 0 8px; margin: 0 4px 2px 0; \
border-radius: 999px; background: #e0e7ff; color: #1e3a8a; }
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
        everything = self.svc.scenarios.for_user(self.user.id)
        self.total = len(everything)
        self.tags = sorted({t for s in everything for t in s.tags})
        filtered = bool(self.search.strip() or self.tag)
        scenarios = (
            self.svc.scenarios.for_user(self.user.id, name=self.search, tag=self.tag or None)
            if filtered
            else everything
        )
        rates = self._success_rates()
        self.rows = [
            {
                "id": s.id,
                "name": s.name,
                "status": s.status,
                "status_reason": s.status_reason,
                "version": s.version,
                "live_version": s.live_version,
                "last_run": s.last_run.isoformat() if s.last_run else None,
                "tags": list(s.tags),
                "success_rate": rates.get(s.id),
                "updated_at": s.updated_at.isoformat(),
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
        scenario = self.svc.import_scenario(self.user.id, doc, imported=True)
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
        """(file name, YAML) of the scenario's latest saved version, as ``cellwright export``
        writes it."""
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
        await self.svc.delete_scenario(self.user.id, scenario_id)
        self.refresh()


class ScenarioList(pn.viewable.Viewer):
    def __init__(self, svc: Any, user: Any, nav: Callable[..., Any], **params: Any) -> None:
        super().__init__(**params)
        self.state = ScenarioListState(svc, user)
        self.nav = nav
        self.banner = Banner()
        self.new_name = pn.widgets.TextInput(
            name="New scenario name",
            placeholder="e.g. New orders to Slack",
            width=300,
            css_classes=["new-scenario-name"],
        )
        create = pn.widgets.Button(
            name="Create blank scenario",
            button_type="primary",
            align="end",
            css_classes=["create-scenario"],
        )
        create.on_click(self._create)
        from_template = pn.widgets.Button(
            name="Start from a template",
            button_type="light",
            align="end",
            css_classes=["from-template"],
        )
        from_template.on_click(lambda e: self.nav("templates"))
        self.upload = pn.widgets.FileInput(
            accept=".yaml,.yml,.json",
            name="Import a scenario file (YAML or JSON)",
            css_classes=["import-file"],
            multiple=False,
        )
        import_button = pn.widgets.Button(
            name="Import file", button_type="light", align="end", css_classes=["import-scenario"]
        )
        import_button.on_click(self._import)
        self.search = pn.widgets.TextInput(
            name="Search by name",
            placeholder="Part of a name",
            width=260,
            css_classes=["search-scenarios"],
        )
        self.search.param.watch(lambda e: setattr(self.state, "search", e.new), "value_input")
        self.tag = pn.widgets.Select(name="Tag", width=200, css_classes=["filter-tag"])
        self.tag.param.watch(lambda e: setattr(self.state, "tag", e.new or ""), "value")
        self.count = html("", width=220, align="end")
        self.list = pn.Column(sizing_mode="stretch_width", margin=0, css_classes=["scenario-list"])
        self.head = html("", stylesheets=[LIST_CSS], margin=(0, 0))
        self.table = ScenarioTable(
            self._action, name_width=COLUMNS[0][1], stylesheets=[CSS, LIST_CSS]
        )
        self.state.param.watch(lambda e: self._render(), "rows")
        self._render()
        self._layout = pn.Column(
            html("<h1>Scenarios</h1>"),
            pn.FlexBox(
                self.new_name,
                create,
                from_template,
                self.upload,
                import_button,
                align_items="flex-end",
                sizing_mode="stretch_width",
            ),
            pn.FlexBox(
                self.search,
                self.tag,
                self.count,
                align_items="flex-end",
                sizing_mode="stretch_width",
                css_classes=["scenario-filters"],
            ),
            self.banner,
            self.list,
            sizing_mode="stretch_width",
        )

    def _render(self) -> None:
        rows, s = self.state.rows, self.state
        self.tag.options = {"All tags": "", **{t: t for t in s.tags}}
        self.tag.value = s.tag if s.tag in s.tags else ""
        shown = (
            f"{len(rows)} of {s.total} scenarios"
            if len(rows) != s.total
            else f"{s.total} scenario{'' if s.total == 1 else 's'}"
        )
        self.count.object = (
            f'<p class="cw-muted" aria-live="polite" style="margin:0 0 8px">{shown}</p>'
        )
        if not rows:
            empty = (
                "No scenarios match this search."
                if s.total
                else "No scenarios yet. Create a blank one, start from a template, or import a "
                "file."
            )
            self.list[:] = [html(f'<p class="cw-muted">{empty}</p>')]
            return
        head = "".join(
            f'<span style="width:{w}px">{label}</span>' if w else f"<span>{label}</span>"
            for label, w in COLUMNS
        )
        self.head.object = f'<div class="cw-head" aria-hidden="true">{head}</div>'
        self.table.rows = [self._row(row) for row in rows]
        self.list[:] = [self.head, self.table]

    def _row(self, row: dict[str, Any]) -> dict[str, Any]:
        """One scenario as the table draws it: cells as wide as the headers above them."""
        rate = row["success_rate"]
        widths = [w for _, w in COLUMNS]  # as the headers': padding included
        chips = "".join(f'<span class="cw-tag">{escape(t)}</span>' for t in row["tags"])
        # why the system paused it (runs failed in a row), under the name until enabled again
        reason = row.get("status_reason")
        under = (f'<div class="cw-status-reason">{escape(reason)}</div>' if reason else "") + (
            f'<span class="cw-label">Tags: </span>{chips}' if chips else ""
        )
        return {
            "id": row["id"],
            "name": row["name"],
            "tags_html": under,
            "toggle": "Disable" if row["status"] == "active" else "Enable",
            "cells": [
                [
                    "Status",
                    f'{badge(row["status"])} <span class="cw-muted">{escape(versions(row))}</span>',
                    widths[1],
                ],
                ["Last run", escape(when(row["last_run"])), widths[2]],
                ["Success", "—" if rate is None else f"{rate:.0%}", widths[3]],
            ],
        }

    def _action(self, action: str, scenario_id: str) -> None:
        """A button of the table, pressed."""
        name = next((r["name"] for r in self.state.rows if r["id"] == scenario_id), "")
        if action == "open":
            self.nav("scenario", scenario_id)
        elif action == "toggle":
            pn.state.execute(handler(self._do, lambda: self.state.toggle(scenario_id)))
        elif action == "duplicate":
            pn.state.execute(
                handler(self._do, lambda: self.state.duplicate(scenario_id), "Duplicated.")
            )
        elif action == "export":
            text = self._export(scenario_id).read()
            if text:
                self.table.download(export_name(name), text)
        elif action == "delete":
            self._confirm_delete(scenario_id, name)

    def _export(self, scenario_id: str) -> Any:
        import io

        try:
            return io.StringIO(self.state.export(scenario_id)[1])
        except Exception as exc:  # deleted meanwhile, or a bug: say so, download nothing
            self.banner.error(exc)
            return io.StringIO("")

    def _confirm_delete(self, scenario_id: str, name: str) -> None:
        yes = pn.widgets.Button(
            name=f"Yes, delete {name}", button_type="danger", css_classes=["confirm-delete"]
        )
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
        text = (
            self.upload.value.decode("utf-8", "replace")
            if isinstance(self.upload.value, bytes)
            else str(self.upload.value)
        )
        scenario = await attempt(
            self.banner, lambda: self.state.import_text(text, self.upload.filename or "file")
        )
        if scenario is not None:
            self.nav("scenario", scenario.id)

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout
