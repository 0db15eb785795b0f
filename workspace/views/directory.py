"""The app directory: every app by category with filters, and one app's page."""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from typing import Any

import panel as pn
import param

from workspace.views.components import section
from workspace.views.widgets import Check, _resolve, field_kind, html, logo
from workspace.views.wording import counted

AUTH_LABELS = {
    "none": "No account needed",
    "api_key": "API key",
    "basic": "Username and password",
    "oauth2": "OAuth (sign in with the app)",
    "custom": "Custom",
}


class DirectoryState(param.Parameterized):
    """Filters over the registry and what they leave."""

    search = param.String(default="")
    category = param.String(default="")
    auth = param.String(default="")
    has_trigger = param.Boolean(default=False)
    has_action = param.Boolean(default=False)
    apps = param.List(default=[])

    def __init__(self, svc: Any, **params: Any) -> None:
        super().__init__(**params)
        self.svc = svc
        self.catalog = [app.describe(full=False) for app in svc.apps]
        self.param.watch(
            lambda *_: self.refresh(), ["search", "category", "auth", "has_trigger", "has_action"]
        )
        self.refresh()

    @property
    def categories(self) -> list[str]:
        return sorted({a["category"] for a in self.catalog})

    @property
    def auth_types(self) -> list[str]:
        return sorted({a["auth"] for a in self.catalog})

    def refresh(self) -> None:
        term = self.search.strip().lower()
        out = []
        for app in self.catalog:
            if (
                term
                and term not in app["name"].lower()
                and term not in app["description"].lower()
                and term not in app["key"]
            ):
                continue
            if self.category and app["category"] != self.category:
                continue
            if self.auth and app["auth"] != self.auth:
                continue
            if self.has_trigger and not app["triggers"]:
                continue
            if self.has_action and not app["actions"]:
                continue
            out.append(app)
        self.apps = sorted(out, key=lambda a: (a["category"], a["name"]))


class Directory(pn.viewable.Viewer):
    def __init__(self, svc: Any, user: Any, nav: Callable[..., Any], **params: Any) -> None:
        super().__init__(**params)
        self.nav = nav
        self.state = DirectoryState(svc)
        search = pn.widgets.TextInput(
            name="Search apps",
            placeholder="name or description",
            width=260,
            css_classes=["app-search"],
        )
        search.param.watch(lambda e: setattr(self.state, "search", e.new), "value_input")
        category = pn.widgets.Select(
            name="Category",
            options={"All categories": "", **{c: c for c in self.state.categories}},
            width=200,
            css_classes=["app-category"],
        )
        category.param.watch(lambda e: setattr(self.state, "category", e.new), "value")
        auth = pn.widgets.Select(
            name="Sign-in type",
            options={"Any": "", **{AUTH_LABELS.get(a, a): a for a in self.state.auth_types}},
            width=220,
            css_classes=["app-auth"],
        )
        auth.param.watch(lambda e: setattr(self.state, "auth", e.new), "value")
        trig = Check("Has triggers", css_classes=["app-has-trigger"])
        trig.param.watch(lambda e: setattr(self.state, "has_trigger", trig.checked), "value")
        act = Check("Has actions", css_classes=["app-has-action"])
        act.param.watch(lambda e: setattr(self.state, "has_action", act.checked), "value")
        self.list = pn.Column(sizing_mode="stretch_width", margin=0, css_classes=["app-list"])
        self.state.param.watch(lambda e: self._render(), "apps")
        self._render()
        self._layout = pn.Column(
            html("<h1>App directory</h1>"),
            pn.FlexBox(
                search,
                category,
                auth,
                pn.Column(trig, act, margin=(18, 10, 0, 10)),
                align_items="flex-end",
            ),
            self.list,
            sizing_mode="stretch_width",
        )

    def _render(self) -> None:
        apps = self.state.apps
        if not apps:
            self.list[:] = [
                html('<p class="cw-muted" role="status">No app matches these filters.</p>')
            ]
            return
        items: list[Any] = [
            html(f'<p class="cw-muted" role="status">{counted(len(apps), "app")}</p>')
        ]
        category = None
        for app in apps:
            if app["category"] != category:
                category = app["category"]
                # a heading inside the list, the size of the page's other section headings
                items.append(
                    html(f'<h2 style="font-size:18px;margin:16px 0 4px">{escape(category)}</h2>')
                )
            open_it = pn.widgets.Button(
                name=f"{app['name']}",
                button_type="light",
                width=180,
                align="center",
                css_classes=["open-app", f"app-{app['key']}"],
            )
            open_it.on_click(lambda e, k=app["key"]: self.nav("app", k))
            summary = (
                f"{logo(app['icon_url'])} {escape(app['description'])} "
                f'<span class="cw-muted">· {escape(AUTH_LABELS.get(app["auth"], app["auth"]))} · '
                f"{counted(len(app['triggers']), 'trigger')} · "
                f"{counted(len(app['actions']), 'action')}"
                f"{' · sandbox available' if app['has_sandbox'] else ''}</span>"
            )
            items.append(
                pn.Row(
                    open_it,
                    html(summary, align="center"),
                    sizing_mode="stretch_width",
                    styles={"border-bottom": "1px solid #e5e7eb"},
                )
            )
        self.list[:] = items

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout


def fields_table(schema: dict[str, Any], caption: str) -> str:
    props = schema.get("properties") or {}
    if not props:
        return '<p class="cw-muted">No input fields.</p>'
    required = set(schema.get("required") or [])
    rows = []
    for name, spec in props.items():
        spec = _resolve(schema, spec)
        kind = field_kind(spec)
        if kind == "enum":
            kind = "one of: " + ", ".join(str(v) for v in spec["enum"])
        rows.append(
            f"<tr><td><code>{escape(name)}</code></td><td>{escape(kind)}</td>"
            f"<td>{'required' if name in required else 'optional'}</td>"
            f"<td>{escape(spec.get('description') or '')}</td></tr>"
        )
    return (
        f'<table class="cw-table"><caption>{escape(caption)}</caption><thead><tr>'
        '<th scope="col">Field</th><th scope="col">Type</th>'
        '<th scope="col">Required</th><th scope="col">Description</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


class AppPage(pn.viewable.Viewer):
    def __init__(
        self, svc: Any, user: Any, key: str, nav: Callable[..., Any], **params: Any
    ) -> None:
        super().__init__(**params)
        app = svc.apps.get(key)  # unknown key: ConfigurationError, shown by the shell
        self.described = app.describe()
        d = self.described
        connect = pn.widgets.Button(
            name=f"Connect {d['name']}",
            button_type="primary",
            css_classes=["connect-app"],
            disabled=d["auth"] == "none",
        )
        connect.on_click(lambda e: nav("connections", app=key))
        back = pn.widgets.Button(name="Back to the directory", button_type="light")
        back.on_click(lambda e: nav("directory"))
        note = (
            "This app needs no connection: use it in any scenario."
            if d["auth"] == "none"
            else f"Sign-in: {AUTH_LABELS.get(d['auth'], d['auth'])}."
        )
        sandbox = " · a sandbox connection is available (no account needed)"
        parts: list[Any] = [
            html(
                f"<h1>{logo(d['icon_url'], 32)} {escape(d['name'])}</h1>"
                f"<p>{escape(d['description'])}</p>"
                f'<p class="cw-muted">{escape(d["category"])} · '
                f"{escape(note)}{sandbox if d['has_sandbox'] else ''}</p>"
            ),
            pn.Row(connect, back),
        ]
        for title, ops in (("Triggers", d["triggers"]), ("Actions", d["actions"])):
            parts.append(
                html(f"<h2>{title}</h2>" + ("" if ops else '<p class="cw-muted">None.</p>'))
            )
            for op in ops:
                extra = f" · {escape(op.get('trigger_type', ''))}" if op.get("trigger_type") else ""
                parts.append(
                    section(
                        f"{op['name']} ({op['kind']}{extra})",
                        html(
                            f"<p>{escape(op['description'])}</p>"
                            + fields_table(op["input_schema"], f"Input fields of {op['name']}")
                        ),
                        css_classes=["operation", f"op-{op['key']}"],
                    )
                )
        self._layout = pn.Column(*parts, sizing_mode="stretch_width")

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout
