"""The template gallery: pick a template, pick its connections, answer what it asks (a
channel, a board: chosen from the connection's real values), get a draft scenario."""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from typing import Any

import panel as pn
import param

from connectors.icons import icon_url
from connectors.planned import app_name
from connectors.sdk import Option
from workspace.templates import Ask, Template, get_template, load_templates
from workspace.views.components import Slot
from workspace.views.options import OptionsPicker
from workspace.views.widgets import SHRINK_CSS, WRAP_BUTTON_CSS, Banner, attempt, badge, html, logo


class GalleryState(param.Parameterized):
    selected = param.String(default=None, allow_None=True)

    def __init__(self, svc: Any, user: Any, **params: Any) -> None:
        super().__init__(**params)
        self.svc = svc
        self.user = user
        self.templates = load_templates()

    def entries(self) -> list[dict[str, Any]]:
        return [
            {
                "key": t.key,
                "title": t.title,
                "summary": t.summary,
                "category": t.category,
                "apps": t.apps,
                "app_names": [app_name(a, self.svc.apps) for a in t.apps],
                "missing": [app_name(a, self.svc.apps) for a in t.missing_apps(self.svc.apps)],
                "available": t.available(self.svc.apps),
                "connections": t.connections,
                "asks": t.asks,
            }
            for t in self.templates
        ]

    def connection_options(self, app_key: str) -> dict[str, str]:
        return self.svc.connections.choices(self.user.id, app_key)

    async def options(
        self, key: str, ask: Ask, connections: dict[str, str], answers: dict[str, Any] | None = None
    ) -> list[Option]:
        """The choices for one asked field, through the connection picked for its app;
        ``answers`` (by ``Ask.key``) are what the other asked fields hold so far."""
        values = get_template(key).cell_inputs(ask.cell)
        values.update(
            {
                a.split(".", 1)[1]: v
                for a, v in (answers or {}).items()
                if a.startswith(f"{ask.cell}.") and v not in (None, "")
            }
        )
        connection = connections.get(ask.connection_app) if ask.connection_app else None
        result: list[Option] = await self.svc.options(
            self.user.id, ask.app, ask.operation, ask.field, connection or None, values
        )
        return result

    def use(
        self,
        key: str,
        connections: dict[str, str],
        name: str | None = None,
        inputs: dict[str, Any] | None = None,
    ) -> Any:
        """Create a draft scenario from the template, its asked fields filled from ``inputs``."""
        template: Template = get_template(key)
        missing = template.missing_apps(self.svc.apps)
        if missing:
            from connectors.sdk import ConfigurationError

            names = ", ".join(app_name(a, self.svc.apps) for a in missing)
            raise ConfigurationError(
                f"This template needs apps that are not built yet: {names}. It is coming soon."
            )
        doc = template.document(
            connections,
            server_url=self.svc.settings.resolved_public_url(),
            name=name or None,
            inputs=inputs,
        )
        return self.svc.import_scenario(self.user.id, doc)


class Gallery(pn.viewable.Viewer):
    def __init__(
        self,
        svc: Any,
        user: Any,
        nav: Callable[..., Any],
        selected: str | None = None,
        **params: Any,
    ) -> None:
        super().__init__(**params)
        self.nav = nav
        self.svc = svc
        self.state = GalleryState(svc, user, selected=selected)
        self.banner = Banner()
        self.use_box = Slot(sizing_mode="stretch_width", margin=0, css_classes=["use-template"])
        self.asked: dict[str, tuple[pn.widgets.TextInput, OptionsPicker]] = {}
        """The open dialog's asked fields (``Ask.key`` → its text input and dropdown)."""
        cards: list[Any] = []
        for entry in self.state.entries():
            status = (
                badge("soon").replace(">soon<", ">coming soon<") if not entry["available"] else ""
            )
            apps = ", ".join(
                f"{logo(icon_url(key))} {escape(name)}"
                for key, name in zip(entry["apps"], entry["app_names"], strict=True)
            )
            soon = (
                f'<p class="cw-muted">Coming soon: needs {escape(", ".join(entry["missing"]))}, '
                "not built yet.</p>"
                if entry["missing"]
                else ""
            )
            body = html(
                f'<h2 style="font-size:18px;margin:4px 0">{escape(entry["title"])} {status}</h2>'
                f'<p>{escape(entry["summary"])}</p><p class="cw-muted">Apps: {apps}</p>{soon}'
            )
            use = pn.widgets.Button(
                name=f"Use template: {entry['title']}"
                if entry["available"]
                else f"Coming soon: {entry['title']}",
                button_type="primary" if entry["available"] else "light",
                disabled=not entry["available"],
                css_classes=["use", f"use-{entry['key']}"],
                sizing_mode="stretch_width",
                stylesheets=[WRAP_BUTTON_CSS],
            )
            use.on_click(lambda e, k=entry["key"]: self.select(k))
            cards.append(
                pn.Column(
                    body,
                    use,
                    width=380,
                    styles={
                        "border": "1px solid #d1d5db",
                        "border-radius": "8px",
                        "background": "#ffffff",
                        "padding": "8px",
                    },
                    css_classes=["template", f"template-{entry['key']}"],
                    margin=6,
                    stylesheets=[SHRINK_CSS],
                )
            )
        self._layout = pn.Column(
            html(
                "<h1>Templates</h1><p>Start from a working scenario; you will be asked for the "
                "connections it needs and what only you know, such as a channel or a board.</p>"
            ),
            self.banner,
            self.use_box,
            pn.FlexBox(*cards, sizing_mode="stretch_width"),
            sizing_mode="stretch_width",
        )
        if selected:
            self.select(selected)

    def select(self, key: str) -> None:
        entry = next((e for e in self.state.entries() if e["key"] == key), None)
        if entry is None:
            self.banner.error(f"There is no template '{key}'.")
            return
        self.state.selected = key
        self.asked = {}
        name = pn.widgets.TextInput(
            name="Name of the new scenario",
            value=entry["title"],
            width=360,
            css_classes=["template-name"],
        )
        connections: dict[str, pn.widgets.Select] = {}
        parts: list[Any] = [html(f"<h2>Use “{escape(entry['title'])}”</h2>"), name]
        for app_key in entry["connections"]:
            options = self.state.connection_options(app_key)
            app_name = self.svc.apps.get(app_key).name if app_key in self.svc.apps else app_key
            if options:
                connections[app_key] = pn.widgets.Select(
                    name=f"{app_name} connection",
                    options=options,
                    width=360,
                    css_classes=[f"template-conn-{app_key}"],
                )
                parts.append(connections[app_key])
            else:
                connect = pn.widgets.Button(
                    name=f"Connect {app_name} first",
                    button_type="light",
                    css_classes=[f"template-connect-{app_key}"],
                )
                connect.on_click(lambda e, a=app_key: self.nav("connections", app=a))
                parts.append(
                    pn.Row(
                        html(f"<p>No {escape(app_name)} connection yet.</p>", width=260), connect
                    )
                )
        answers: dict[str, pn.widgets.TextInput] = {}
        pickers: list[tuple[Ask, OptionsPicker]] = []
        for ask in entry["asks"]:
            text, picker = self._ask(key, ask, connections, answers)
            answers[ask.key] = text
            self.asked[ask.key] = (text, picker)
            pickers.append((ask, picker))
            parts += [text, picker]
        for (
            app_key,
            select,
        ) in connections.items():  # the choices are listed through the chosen connection
            refresh = [p for a, p in pickers if a.connection_app == app_key]
            if refresh:
                select.param.watch(lambda e, ps=refresh: pn.state.execute(_refresher(ps)), "value")
        if pickers:
            pn.state.execute(_refresher([p for _, p in pickers]))
        create = pn.widgets.Button(
            name="Create draft scenario",
            button_type="primary",
            css_classes=["create-from-template"],
            disabled=len(connections) < len(entry["connections"]),
        )
        cancel = pn.widgets.Button(name="Cancel", button_type="light")

        async def do_create(_: Any) -> None:
            chosen = {k: w.value for k, w in connections.items()}
            inputs = {k: w.value.strip() for k, w in answers.items()}
            scenario = await attempt(
                self.banner, lambda: self.state.use(key, chosen, name.value, inputs)
            )
            if scenario is not None:
                self.nav("scenario", scenario.id)

        create.on_click(do_create)
        cancel.on_click(lambda e: self.use_box.clear())
        parts.append(pn.Row(create, cancel))
        self.use_box[:] = [
            pn.Column(
                *parts,
                styles={
                    "border": "2px solid #1d4ed8",
                    "border-radius": "8px",
                    "padding": "8px",
                    "background": "#ffffff",
                },
                sizing_mode="stretch_width",
            )
        ]

    def _ask(
        self,
        key: str,
        ask: Ask,
        connections: dict[str, pn.widgets.Select],
        answers: dict[str, pn.widgets.TextInput],
    ) -> tuple[pn.widgets.TextInput, OptionsPicker]:
        """One asked field: a text input (an ID, or a {{ }} reference) and the dropdown of
        the chosen connection's real values under it."""
        css = f"template-ask-{ask.cell}-{ask.field}"
        text = pn.widgets.TextInput(
            name=f"{ask.label} (required)",
            placeholder="choose below, or type an ID",
            width=360,
            css_classes=[css],
        )

        async def load() -> list[Option]:
            chosen = {k: w.value for k, w in connections.items()}
            return await self.state.options(
                key, ask, chosen, {k: w.value for k, w in answers.items()}
            )

        picker = OptionsPicker(
            ask.label,
            lambda value: setattr(text, "value", str(value)),
            load=load,
            current=lambda: text.value,
            css=f"{css}-options",
            width=360,
        )
        text.param.watch(lambda e: picker.reflect(e.new), "value")
        return text, picker

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout


def _refresher(pickers: list[OptionsPicker]) -> Any:
    """An async callback fetching the choices of ``pickers`` again (for ``pn.state.execute``)."""

    async def refresh() -> None:
        for picker in pickers:
            await picker.refresh()

    return refresh
