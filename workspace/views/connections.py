"""Connections: status, last used, usage; create (form from the app's auth schema, or a
sandbox connection), test, rename, update credentials, delete."""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from typing import Any

import panel as pn
import param

from workspace.views.widgets import Banner, SchemaForm, attempt, badge, handler, html, when

OAUTH_NOTE = (
    "Connecting with OAuth (signing in on the app's own page) is not available in the workspace yet. "
    "Until it is, use a sandbox connection to try the app, or create the connection through the REST API with a token."
)


class ConnectionsState(param.Parameterized):
    rows = param.List(default=[])

    def __init__(self, svc: Any, user: Any, **params: Any) -> None:
        super().__init__(**params)
        self.svc = svc
        self.user = user
        self.refresh()

    def refresh(self) -> None:
        self.rows = [c.to_dict() for c in self.svc.store.list_connections(self.user.id)]

    def apps_needing_connections(self) -> list[Any]:
        return [a for a in self.svc.apps if a.needs_connection]

    async def create(self, app_key: str, credentials: dict[str, Any], name: str | None = None, sandbox: bool = False) -> Any:
        connection = await self.svc.create_connection(self.user.id, app_key, credentials=credentials, name=name or None, sandbox=sandbox)
        self.refresh()
        return connection

    async def test(self, connection_id: str) -> Any:
        connection = await self.svc.test_connection(self.user.id, connection_id)
        self.refresh()
        return connection

    async def rename(self, connection_id: str, name: str) -> Any:
        connection = await self.svc.update_connection(self.user.id, connection_id, name=name.strip())
        self.refresh()
        return connection

    async def update_credentials(self, connection_id: str, credentials: dict[str, Any]) -> Any:
        connection = await self.svc.update_connection(self.user.id, connection_id, credentials=credentials)
        self.refresh()
        return connection

    def delete(self, connection_id: str) -> None:
        self.svc.delete_connection(self.user.id, connection_id)
        self.refresh()


class Connections(pn.viewable.Viewer):
    def __init__(self, svc: Any, user: Any, nav: Callable[..., Any], app_key: str | None = None, **params: Any) -> None:
        super().__init__(**params)
        self.svc = svc
        self.state = ConnectionsState(svc, user)
        self.banner = Banner()
        apps = self.state.apps_needing_connections()
        options = {a.name: a.key for a in apps}
        self.app_select = pn.widgets.Select(name="App to connect", options=options, value=app_key if app_key in options.values() else (next(iter(options.values())) if options else None), width=260, css_classes=["new-connection-app"])
        self.form_box = pn.Column(sizing_mode="stretch_width", margin=0, css_classes=["new-connection-form"])
        self.app_select.param.watch(lambda e: self._build_form(), "value")
        self.list = pn.Column(sizing_mode="stretch_width", margin=0, css_classes=["connection-list"])
        self.editor = pn.Column(sizing_mode="stretch_width", margin=0)
        self.state.param.watch(lambda e: self._render(), "rows")
        self._build_form()
        self._render()
        create_section: list[Any] = [html("<h2>New connection</h2>")]
        if apps:
            create_section += [self.app_select, self.form_box]
        else:
            create_section.append(html('<p class="cw-muted">Every installed app works without a connection.</p>'))
        self._layout = pn.Column(
            html("<h1>Connections</h1>"), self.banner, self.list, self.editor, *create_section, sizing_mode="stretch_width",
        )

    # -- the create form ------------------------------------------------------------------

    def _build_form(self) -> None:
        key = self.app_select.value
        if not key:
            self.form_box[:] = []
            return
        app = self.svc.apps.get(key)
        described = app.auth.describe()
        name = pn.widgets.TextInput(name="Connection name (optional)", placeholder=f"e.g. {app.name} — marketing team", width=360, css_classes=["new-connection-name"])
        parts: list[Any] = [name]
        buttons: list[Any] = []
        form: SchemaForm | None = None
        self.auth_form: SchemaForm | None = None
        if app.auth.type == "oauth2":
            parts.append(html(f'<div class="cw-banner info" role="note">{escape(OAUTH_NOTE)}</div>'))
            buttons.append(pn.widgets.Button(name=f"Sign in with {app.name} (not available yet)", disabled=True, css_classes=["oauth-placeholder"]))
        else:
            form = SchemaForm(described.get("fields_schema") or {}, prefix="auth")
            self.auth_form = form
            parts.append(form)
            create = pn.widgets.Button(name="Create and test connection", button_type="primary", css_classes=["create-connection"])

            async def do_create(_: Any) -> None:
                try:
                    credentials = form.values()
                except ValueError as exc:
                    self.banner.error(str(exc))
                    return
                connection = await attempt(self.banner, lambda: self.state.create(key, credentials, name.value))
                if connection is not None:
                    self._report(connection, "Connection created")
                elif isinstance(getattr(self.banner, "message", None), str):
                    pass

            create.on_click(do_create)
            buttons.append(create)
        if app.sandbox is not None:
            sandbox = pn.widgets.Button(name=f"Create a {app.name} sandbox connection", button_type="success", css_classes=["create-sandbox"])

            async def do_sandbox(_: Any) -> None:
                connection = await attempt(self.banner, lambda: self.state.create(key, {}, name.value or f"{app.name} sandbox", sandbox=True))
                if connection is not None:
                    self._report(connection, "Sandbox connection created")

            sandbox.on_click(do_sandbox)
            buttons.append(sandbox)
            parts.append(html('<p class="cw-muted">A sandbox connection talks to Cellwright\'s built-in simulator of the app: no account needed.</p>'))
        parts.append(pn.Row(*buttons))
        self.form_box[:] = parts

    def _report(self, connection: Any, what: str) -> None:
        if connection.status == "active":
            self.banner.ok(f"{what}: '{connection.name}' works.")
        else:
            self.banner.show(f"{what}, but its test failed: {connection.status_message or 'no details'}. Update its credentials below.", "warn")

    # -- the list ---------------------------------------------------------------------------

    def _render(self) -> None:
        rows = self.state.rows
        if not rows:
            self.list[:] = [html('<p class="cw-muted">No connections yet. Create one below.</p>')]
            return
        items: list[Any] = []
        for c in rows:
            app_name = self.svc.apps.get(c["app_id"]).name if c["app_id"] in self.svc.apps else c["app_id"]
            info = (
                f'<strong>{escape(c["name"])}</strong> {badge(c["status"])} <span class="cw-muted">· {escape(app_name)}'
                f'{" · sandbox" if c["is_sandbox"] else ""} · last used {when(c.get("last_used"))} · used {c.get("usage_count", 0)} times</span>'
                + (f'<br><span style="color:#7f1d1d">{escape(c["status_message"])}</span>' if c.get("status_message") else "")
            )
            test = pn.widgets.Button(name="Test", button_type="light", width=70, align="center", css_classes=["test-connection"])
            edit = pn.widgets.Button(name="Edit", button_type="light", width=70, align="center", css_classes=["edit-connection"])
            delete = pn.widgets.Button(name="Delete", button_type="danger", width=80, align="center", css_classes=["delete-connection"])
            test.on_click(handler(self._test, c["id"]))
            edit.on_click(lambda e, conn=c: self._edit(conn))
            delete.on_click(handler(self._delete, c["id"]))
            items.append(pn.Row(html(info, align="center"), test, edit, delete, sizing_mode="stretch_width", css_classes=["connection-row"], styles={"border-bottom": "1px solid #e5e7eb"}))
        self.list[:] = items

    async def _test(self, connection_id: str) -> None:
        connection = await attempt(self.banner, lambda: self.state.test(connection_id))
        if connection is not None:
            self._report(connection, "Tested")

    async def _delete(self, connection_id: str) -> None:
        await attempt(self.banner, lambda: self.state.delete(connection_id), success="Connection deleted.")

    def _edit(self, conn: dict[str, Any]) -> None:
        app = self.svc.apps.get(conn["app_id"])
        name = pn.widgets.TextInput(name="Connection name", value=conn["name"], width=360, css_classes=["rename-connection"])
        rename = pn.widgets.Button(name="Rename", button_type="primary", align="end", css_classes=["save-rename"])

        async def do_rename(_: Any) -> None:
            await attempt(self.banner, lambda: self.state.rename(conn["id"], name.value), success="Renamed.")

        rename.on_click(do_rename)
        parts: list[Any] = [html(f"<h2>Edit {escape(conn['name'])}</h2>"), pn.Row(name, rename)]
        if app.auth.type != "oauth2":
            form = SchemaForm(app.auth.describe().get("fields_schema") or {}, prefix="update-auth")
            update = pn.widgets.Button(name="Save new credentials and test", button_type="primary", css_classes=["update-credentials"])

            async def do_update(_: Any) -> None:
                try:
                    credentials = form.values()
                except ValueError as exc:
                    self.banner.error(str(exc))
                    return
                connection = await attempt(self.banner, lambda: self.state.update_credentials(conn["id"], credentials))
                if connection is not None:
                    self._report(connection, "Credentials updated")

            update.on_click(do_update)
            parts += [html('<p class="cw-muted">Secrets are never shown: type new values to replace the stored ones.</p>'), form, update]
        else:
            parts.append(html(f'<div class="cw-banner info" role="note">{escape(OAUTH_NOTE)}</div>'))
        close = pn.widgets.Button(name="Close", button_type="light")
        close.on_click(lambda e: self.editor.clear())
        parts.append(close)
        self.editor[:] = parts

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout
