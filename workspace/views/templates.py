"""The template gallery: pick a template, pick its connections, get a draft scenario."""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from typing import Any

import panel as pn
import param

from connectors.planned import app_name
from workspace.templates import Template, get_template, load_templates
from workspace.views.components import Slot
from workspace.views.widgets import SHRINK_CSS, WRAP_BUTTON_CSS, Banner, attempt, badge, html


class GalleryState(param.Parameterized):
    selected = param.String(default=None, allow_None=True)

    def __init__(self, svc: Any, user: Any, **params: Any) -> None:
        super().__init__(**params)
        self.svc = svc
        self.user = user
        self.templates = load_templates()

    def entries(self) -> list[dict[str, Any]]:
        return [
            {"key": t.key, "title": t.title, "summary": t.summary, "category": t.category, "apps": t.apps,
             "app_names": [app_name(a, self.svc.apps) for a in t.apps],
             "missing": [app_name(a, self.svc.apps) for a in t.missing_apps(self.svc.apps)],
             "available": t.available(self.svc.apps), "connections": t.connections}
            for t in self.templates
        ]

    def connection_options(self, app_key: str) -> dict[str, str]:
        return {c.name + (" (sandbox)" if c.is_sandbox else ""): c.id for c in self.svc.store.list_connections(self.user.id, app_id=app_key)}

    def use(self, key: str, connections: dict[str, str], name: str | None = None) -> Any:
        """Create a draft scenario from the template."""
        template: Template = get_template(key)
        missing = template.missing_apps(self.svc.apps)
        if missing:
            from connectors.sdk import ConfigurationError

            names = ", ".join(app_name(a, self.svc.apps) for a in missing)
            raise ConfigurationError(f"This template needs apps that are not built yet: {names}. It is coming soon.")
        doc = template.document(connections, server_url=self.svc.settings.resolved_public_url(), name=name or None)
        return self.svc.import_scenario(self.user.id, doc)


class Gallery(pn.viewable.Viewer):
    def __init__(self, svc: Any, user: Any, nav: Callable[..., Any], selected: str | None = None, **params: Any) -> None:
        super().__init__(**params)
        self.nav = nav
        self.svc = svc
        self.state = GalleryState(svc, user, selected=selected)
        self.banner = Banner()
        self.use_box = Slot(sizing_mode="stretch_width", margin=0, css_classes=["use-template"])
        cards: list[Any] = []
        for entry in self.state.entries():
            status = badge("soon").replace(">soon<", ">coming soon<") if not entry["available"] else ""
            apps = ", ".join(entry["app_names"])
            soon = f'<p class="cw-muted">Coming soon: needs {escape(", ".join(entry["missing"]))}, not built yet.</p>' if entry["missing"] else ""
            body = html(f'<h2 style="font-size:18px;margin:4px 0">{escape(entry["title"])} {status}</h2><p>{escape(entry["summary"])}</p><p class="cw-muted">Apps: {escape(apps)}</p>{soon}')
            use = pn.widgets.Button(
                name=f"Use template: {entry['title']}" if entry["available"] else f"Coming soon: {entry['title']}",
                button_type="primary" if entry["available"] else "light", disabled=not entry["available"],
                css_classes=["use", f"use-{entry['key']}"], sizing_mode="stretch_width", stylesheets=[WRAP_BUTTON_CSS],
            )
            use.on_click(lambda e, k=entry["key"]: self.select(k))
            cards.append(pn.Column(body, use, width=380, styles={"border": "1px solid #d1d5db", "border-radius": "8px", "background": "#ffffff", "padding": "8px"}, css_classes=["template", f"template-{entry['key']}"], margin=6, stylesheets=[SHRINK_CSS]))
        self._layout = pn.Column(
            html("<h1>Templates</h1><p>Start from a working scenario; you will be asked for the connections it needs.</p>"),
            self.banner, self.use_box, pn.FlexBox(*cards, sizing_mode="stretch_width"), sizing_mode="stretch_width",
        )
        if selected:
            self.select(selected)

    def select(self, key: str) -> None:
        entry = next((e for e in self.state.entries() if e["key"] == key), None)
        if entry is None:
            self.banner.error(f"There is no template '{key}'.")
            return
        self.state.selected = key
        name = pn.widgets.TextInput(name="Name of the new scenario", value=entry["title"], width=360, css_classes=["template-name"])
        pickers: dict[str, pn.widgets.Select] = {}
        parts: list[Any] = [html(f"<h2>Use “{escape(entry['title'])}”</h2>"), name]
        for app_key in entry["connections"]:
            options = self.state.connection_options(app_key)
            app_name = self.svc.apps.get(app_key).name if app_key in self.svc.apps else app_key
            if options:
                pickers[app_key] = pn.widgets.Select(name=f"{app_name} connection", options=options, width=360, css_classes=[f"template-conn-{app_key}"])
                parts.append(pickers[app_key])
            else:
                connect = pn.widgets.Button(name=f"Connect {app_name} first", button_type="light", css_classes=[f"template-connect-{app_key}"])
                connect.on_click(lambda e, a=app_key: self.nav("connections", app=a))
                parts.append(pn.Row(html(f"<p>No {escape(app_name)} connection yet.</p>", width=260), connect))
        create = pn.widgets.Button(name="Create draft scenario", button_type="primary", css_classes=["create-from-template"], disabled=len(pickers) < len(entry["connections"]))
        cancel = pn.widgets.Button(name="Cancel", button_type="light")

        async def do_create(_: Any) -> None:
            scenario = await attempt(self.banner, lambda: self.state.use(key, {k: w.value for k, w in pickers.items()}, name.value))
            if scenario is not None:
                self.nav("scenario", scenario.id)

        create.on_click(do_create)
        cancel.on_click(lambda e: self.use_box.clear())
        parts.append(pn.Row(create, cancel))
        self.use_box[:] = [pn.Column(*parts, styles={"border": "2px solid #1d4ed8", "border-radius": "8px", "padding": "8px", "background": "#ffffff"}, sizing_mode="stretch_width")]

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout
