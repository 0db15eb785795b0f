"""Connections: status, last used, usage; create (form from the chosen auth kind's schema,
"Connect with <App>" for OAuth sign-in, or a sandbox connection), test, rename, update
credentials, reconnect (OAuth: new tokens, same connection), delete. OAuth sign-in
leaves the workspace through ``/oauth/<app>/start``
(``workspace.oauth``) and lands back on ``/?page=connections&id=<new connection>``."""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from typing import Any

import panel as pn
import param

from connectors.sdk import CellwrightError, InvalidInputError
from engine.oauth_connect import TOKEN_KEYS, check_sign_in_fields, oauth_kind, sign_in_fields
from workspace.views.components import Slot
from workspace.views.widgets import Banner, SchemaForm, attempt, badge, handler, html, when

KIND_LABELS = {
    "api_key": "API key",
    "basic": "User name and password",
    "custom": "Credentials",
    "none": "No sign-in",
}

LINK_CSS = """
a.oauth-connect { display: inline-block; background: #1d4ed8; color: #ffffff; border-radius: 6px; \
padding: 8px 14px;
  font-weight: 600; text-decoration: none; font-size: 14px; }
a.oauth-connect:hover { background: #1e40af; }
a.oauth-connect:focus-visible { outline: 3px solid #fbbf24; outline-offset: 2px; }
a.oauth-connect[aria-disabled="true"] { background: #6b7280; cursor: not-allowed; }
a.oauth-reconnect { display: inline-block; border: 1px solid #1d4ed8; color: #1d4ed8; \
background: #ffffff; border-radius: 4px;
  padding: 5px 10px; font-size: 14px; text-decoration: none; white-space: nowrap; }
a.oauth-reconnect:hover { background: #eff6ff; }
a.oauth-reconnect:focus-visible { outline: 3px solid #fbbf24; outline-offset: 2px; }
"""


def times(count: int) -> str:
    """``used 3 times`` / ``used once`` / ``never used``."""
    return "never used" if not count else "used once" if count == 1 else f"used {count:,} times"


class ConnectionsState(param.Parameterized):
    rows = param.List(default=[])

    def __init__(self, svc: Any, user: Any, **params: Any) -> None:
        super().__init__(**params)
        self.svc = svc
        self.user = user
        self.refresh()

    def refresh(self) -> None:
        self.rows = [c.to_dict() for c in self.svc.connections.for_user(self.user.id)]

    def events_url(self, conn: dict[str, Any]) -> tuple[str, str, str] | None:
        """(label, URL, what to do with it) for a connection whose app's vendor sends all
        its events to one URL (a Slack app's Events Request URL); None for other apps."""
        app = self.svc.apps.get(conn["app_id"]) if conn["app_id"] in self.svc.apps else None
        hook = app.connection_webhook if app is not None else None
        if hook is None:
            return None
        url = self.svc.connection_events_url(self.user.id, conn["id"])
        return (hook.label, url, hook.instructions) if url else None

    def apps_needing_connections(self) -> list[Any]:
        return [a for a in self.svc.apps if a.needs_connection]

    def auth_choices(self, app_key: str) -> dict[str, str]:
        """How ``app_key`` can connect: label → auth kind type (the app's default first)."""
        app = self.svc.apps.get(app_key)
        out: dict[str, str] = {}
        for kind in app.auth_kinds:
            if kind.type == "oauth2":
                grant = getattr(kind, "grant", "authorization_code")
                label = (
                    f"Sign in with {app.name} (OAuth)"
                    if grant == "authorization_code"
                    else f"Connect {app.name} with the server's OAuth client"
                )
            else:
                label = KIND_LABELS.get(kind.type, kind.type)
            out[label] = kind.type
        return out

    def oauth_setup(self, app_key: str) -> tuple[bool, str]:
        """(ready, what the operator must set) for the app's OAuth sign-in."""
        from engine.oauth_connect import oauth_client, oauth_kind

        app = self.svc.apps.get(app_key)
        try:
            oauth_kind(app)
        except CellwrightError as exc:
            return False, exc.message
        try:
            oauth_client(self.svc, app)
        except CellwrightError:
            callback = f"{self.svc.settings.resolved_public_url()}/oauth/callback"
            prefix = f"CELLWRIGHT_OAUTH_CLIENTS__{app.key}__"
            return False, (
                f"Signing in with {app.name} is not set up on this server yet. Your administrator "
                f"registers an OAuth app with {app.name} (redirect URL {callback}) and sets "
                f"{prefix}CLIENT_ID and {prefix}CLIENT_SECRET. Until then, use another way to "
                "connect (if the app has one) or a sandbox connection."
            )
        return True, ""

    def sign_in_schema(self, app_key: str) -> dict[str, Any]:
        """What the user types before "Connect with <App>": the OAuth kind's required
        non-secret fields (Shopify: the shop's domain). Empty for most apps."""
        schema = sign_in_fields(oauth_kind(self.svc.apps.get(app_key)))
        asked = {k: v for k, v in schema["properties"].items() if k in schema["required"]}
        return {"type": "object", "properties": asked, "required": list(asked)}

    def sign_in_problems(self, app_key: str, fields: dict[str, Any]) -> dict[str, str]:
        """field → what is wrong with it, as the server will judge it when the link is opened."""
        app = self.svc.apps.get(app_key)
        try:
            check_sign_in_fields(app, oauth_kind(app), fields)
        except InvalidInputError as exc:
            return {str(e["field"]): str(e["message"]) for e in exc.errors}
        return {}

    def can_reconnect(self, conn: dict[str, Any]) -> bool:
        """Whether ``conn`` signed in with its app (OAuth authorization code) and the app's
        OAuth client is set up, so "Reconnect" can replace its tokens."""
        if conn.get("is_sandbox") or conn["app_id"] not in self.svc.apps:
            return False
        app = self.svc.apps.get(conn["app_id"])
        kind = app.auth_for((conn.get("metadata") or {}).get("auth_type"))
        if (
            kind.type != "oauth2"
            or getattr(kind, "grant", "authorization_code") != "authorization_code"
        ):
            return False
        return self.oauth_setup(app.key)[0]

    async def create(
        self,
        app_key: str,
        credentials: dict[str, Any],
        name: str | None = None,
        sandbox: bool = False,
        auth_type: str | None = None,
    ) -> Any:
        connection = await self.svc.create_connection(
            self.user.id,
            app_key,
            credentials=credentials,
            name=name or None,
            sandbox=sandbox,
            auth_type=auth_type,
        )
        self.refresh()
        return connection

    async def test(self, connection_id: str) -> Any:
        connection = await self.svc.test_connection(self.user.id, connection_id)
        self.refresh()
        return connection

    async def rename(self, connection_id: str, name: str) -> Any:
        connection = await self.svc.update_connection(
            self.user.id, connection_id, name=name.strip()
        )
        self.refresh()
        return connection

    async def update_credentials(self, connection_id: str, credentials: dict[str, Any]) -> Any:
        connection = await self.svc.update_connection(
            self.user.id, connection_id, credentials=credentials
        )
        self.refresh()
        return connection

    def delete(self, connection_id: str) -> None:
        self.svc.delete_connection(self.user.id, connection_id)
        self.refresh()


class Connections(pn.viewable.Viewer):
    """``focus``: a connection to point at (the landing page after signing in with an app)."""

    def __init__(
        self,
        svc: Any,
        user: Any,
        nav: Callable[..., Any],
        app_key: str | None = None,
        *,
        focus: str | None = None,
        csrf: str = "",
        **params: Any,
    ) -> None:
        super().__init__(**params)
        self.svc = svc
        self.csrf = csrf
        self.focus = focus
        self.state = ConnectionsState(svc, user)
        self.banner = Banner()
        apps = self.state.apps_needing_connections()
        options = {a.name: a.key for a in apps}
        if app_key is None and focus:  # back from signing in with an app: keep that app chosen
            app_key = next(
                (c.app_id for c in svc.connections.for_user(user.id) if c.id == focus), None
            )
        self.app_select = pn.widgets.Select(
            name="App to connect",
            options=options,
            value=app_key
            if app_key in options.values()
            else (next(iter(options.values())) if options else None),
            width=260,
            css_classes=["new-connection-app"],
        )
        self.form_box = Slot(
            sizing_mode="stretch_width", margin=0, css_classes=["new-connection-form"]
        )
        self.kind_select: pn.widgets.Select | None = None
        self.kind_box = Slot(sizing_mode="stretch_width", margin=0)
        self.oauth_name = pn.widgets.TextInput(
            name="Connection name (optional)", width=360, css_classes=["new-connection-name"]
        )
        self.oauth_link = html("", css_classes=["oauth-link"], stylesheets=[LINK_CSS])
        self.sign_in_form: SchemaForm | None = None
        """The OAuth kind's fields typed before signing in (Shopify's shop), if it has any."""
        self._typed: dict[str, str] = {}
        self.oauth_name.param.watch(lambda e: self._update_link(e.new), ["value", "value_input"])
        self.app_select.param.watch(lambda e: self._build_form(), "value")
        self.list = pn.Column(
            sizing_mode="stretch_width", margin=0, css_classes=["connection-list"]
        )
        self.editor = Slot(sizing_mode="stretch_width", margin=0)
        self.state.param.watch(lambda e: self._render(), "rows")
        self._build_form()
        self._render()
        if focus:
            found = svc.connections.find(user.id, focus)
            if found is not None:
                self._report(found, "Connected")
        create_section: list[Any] = [html("<h2>New connection</h2>")]
        if apps:
            create_section += [self.app_select, self.form_box]
        else:
            create_section.append(
                html('<p class="cw-muted">Every installed app works without a connection.</p>')
            )
        self._layout = pn.Column(
            html("<h1>Connections</h1>"),
            self.banner,
            self.list,
            self.editor,
            *create_section,
            sizing_mode="stretch_width",
        )

    # -- the create form ------------------------------------------------------------------

    def _build_form(self) -> None:
        key = self.app_select.value
        if not key:
            self.form_box[:] = []
            return
        app = self.svc.apps.get(key)
        self.oauth_name.placeholder = f"e.g. {app.name} — marketing team"
        choices = self.state.auth_choices(key)
        parts: list[Any] = [self.oauth_name]
        self.kind_select = None
        if len(choices) > 1:
            self.kind_select = pn.widgets.Select(
                name="How to connect",
                options=choices,
                value=app.auth.type,
                width=360,
                css_classes=["new-connection-kind"],
            )
            self.kind_select.param.watch(lambda e: self._build_kind(), "value")
            parts.append(self.kind_select)
        parts.append(self.kind_box)
        self._build_kind()
        if app.sandbox is not None:
            sandbox = pn.widgets.Button(
                name=f"Create a {app.name} sandbox connection",
                button_type="success",
                css_classes=["create-sandbox"],
            )

            async def do_sandbox(_: Any) -> None:
                connection = await attempt(
                    self.banner,
                    lambda: self.state.create(
                        key, {}, self.oauth_name.value or f"{app.name} sandbox", sandbox=True
                    ),
                )
                if connection is not None:
                    self._report(connection, "Sandbox connection created")

            sandbox.on_click(do_sandbox)
            parts.append(
                html(
                    '<p class="cw-muted">Or try the app without an account: a sandbox connection '
                    "talks to Cellwright's built-in simulator of it.</p>"
                )
            )
            parts.append(sandbox)
        self.form_box[:] = parts

    def _build_kind(self) -> None:
        key = self.app_select.value
        app = self.svc.apps.get(key)
        kind_type = self.kind_select.value if self.kind_select is not None else app.auth.type
        kind = app.auth_for(kind_type)
        auth_type = None if kind is app.auth else kind.type
        self.auth_form = None
        if (
            kind.type == "oauth2"
            and getattr(kind, "grant", "authorization_code") == "authorization_code"
        ):
            ready, message = self.state.oauth_setup(key)
            if not ready:
                self.oauth_link.object = ""
                self.kind_box[:] = [
                    html(
                        '<div class="cw-banner info oauth-unconfigured" '
                        f'role="note">{escape(message)}</div>'
                    )
                ]
                return
            asked = self.state.sign_in_schema(key)
            extra = [
                f
                for f in (kind.describe().get("fields_schema") or {}).get("properties", {})
                if f not in TOKEN_KEYS and f not in asked["properties"]
            ]
            note = f"You sign in on {app.name}'s own page, then come back here."
            if extra:
                note += (
                    " Settings such as "
                    + ", ".join(e.replace("_", " ") for e in extra)
                    + " can be added afterwards with Edit."
                )
            parts: list[Any] = [html(f'<p class="cw-muted">{escape(note)}</p>')]
            self.sign_in_form, self._typed = None, {}
            if asked["properties"]:
                self.sign_in_form = self._sign_in_form(asked)
                parts.append(self.sign_in_form)
            self._update_link(self.oauth_name.value)
            self.kind_box[:] = [*parts, self.oauth_link]
            return
        form = SchemaForm(kind.describe().get("fields_schema") or {}, prefix="auth")
        self.auth_form = form
        create = pn.widgets.Button(
            name="Create and test connection",
            button_type="primary",
            css_classes=["create-connection"],
        )

        async def do_create(_: Any) -> None:
            try:
                credentials = form.values()
            except ValueError as exc:
                self.banner.error(str(exc))
                return
            connection = await attempt(
                self.banner,
                lambda: self.state.create(
                    key, credentials, self.oauth_name.value, auth_type=auth_type
                ),
            )
            if connection is not None:
                self._report(connection, "Connection created")

        create.on_click(do_create)
        self.kind_box[:] = [form, create]

    def _sign_in_form(self, schema: dict[str, Any]) -> SchemaForm:
        """The fields to type before leaving (Shopify: the shop's domain). The link follows
        every keystroke (``value_input``: a click must not race the field's blur); an error
        shows once a field is left (``value``), and goes as soon as the text is right."""
        form = SchemaForm(schema, prefix="oauth")
        for name, widget in form.widgets.items():
            examples = schema["properties"][name].get("examples") or []
            if examples and isinstance(widget, pn.widgets.TextInput):
                widget.placeholder = f"e.g. {examples[0]}"

            def typed(event: Any, name: str = name) -> None:
                self._typed[name] = str(event.new or "").strip()
                self._update_link(self.oauth_name.value, show_errors=event.name == "value")

            widget.param.watch(typed, ["value", "value_input"])
        return form

    def _update_link(self, name: str | None, *, show_errors: bool = False) -> None:
        key = self.app_select.value
        if not key or self.kind_select is None and self.svc.apps.get(key).auth.type != "oauth2":
            return
        if self.kind_select is not None and self.kind_select.value != "oauth2":
            return
        from workspace.oauth import start_path

        app = self.svc.apps.get(key)
        fields = {k: v for k, v in self._typed.items() if v}
        problems = self.state.sign_in_problems(key, fields) if self.sign_in_form is not None else {}
        if self.sign_in_form is not None:
            typed_wrong = {
                k: v for k, v in problems.items() if fields.get(k)
            }  # an empty field is a hint, not an error
            shown = (
                typed_wrong
                if show_errors
                else {k: v for k, v in self.sign_in_form.errors.items() if k in typed_wrong}
            )
            if shown != self.sign_in_form.errors:
                self.sign_in_form.errors = shown
        if problems:
            missing = [
                self.sign_in_form.label(k).removesuffix(" (required)")
                for k in problems
                if not fields.get(k) and self.sign_in_form and k in self.sign_in_form.specs
            ]
            hint = (
                f"Fill in {', '.join(missing)} above first."
                if missing
                else "Correct the field above first."
            )
            self.oauth_link.object = (
                '<a class="oauth-connect" role="link" aria-disabled="true">Connect with '
                f"{escape(app.name)}</a>"
                f' <span class="cw-muted oauth-hint">{escape(hint)}</span>'
            )
            return
        href = start_path(key, name=(name or "").strip() or None, csrf=self.csrf, fields=fields)
        self.oauth_link.object = (
            f'<a class="oauth-connect" href="{escape(href)}">Connect with {escape(app.name)}</a>'
        )

    def _report(self, connection: Any, what: str) -> None:
        if connection.status == "active":
            self.banner.ok(f"{what}: '{connection.name}' works.")
        else:
            self.banner.show(
                f"{what}, but its test failed: {connection.status_message or 'no details'}. "
                "Update its credentials below.",
                "warn",
            )

    # -- the list ---------------------------------------------------------------------------

    def _render(self) -> None:
        rows = self.state.rows
        if not rows:
            self.list[:] = [html('<p class="cw-muted">No connections yet. Create one below.</p>')]
            return
        items: list[Any] = []
        for c in rows:
            app_name = (
                self.svc.apps.get(c["app_id"]).name if c["app_id"] in self.svc.apps else c["app_id"]
            )
            info = (
                f"<strong>{escape(c['name'])}</strong> {badge(c['status'])} "
                f'<span class="cw-muted">· {escape(app_name)}'
                f"{' · sandbox' if c['is_sandbox'] else ''} · last used "
                f"{when(c.get('last_used'))} · {times(c.get('usage_count', 0))}</span>"
                + (
                    f'<br><span style="color:#7f1d1d">{escape(c["status_message"])}</span>'
                    if c.get("status_message")
                    else ""
                )
            )
            events = self.state.events_url(c)
            if events is not None:
                label, url, instructions = events
                info += (
                    f'<br><span class="events-url">{escape(label)}: <code>{escape(url)}'
                    f"</code> — {escape(instructions)}</span>"
                )
            test = pn.widgets.Button(
                name="Test",
                button_type="light",
                width=70,
                align="center",
                css_classes=["test-connection"],
            )
            edit = pn.widgets.Button(
                name="Edit",
                button_type="light",
                width=70,
                align="center",
                css_classes=["edit-connection"],
            )
            delete = pn.widgets.Button(
                name="Delete",
                button_type="danger",
                width=80,
                align="center",
                css_classes=["delete-connection"],
            )
            test.on_click(handler(self._test, c["id"]))
            edit.on_click(lambda e, conn=c: self._edit(conn))
            delete.on_click(handler(self._delete, c["id"]))
            actions: list[Any] = [test, edit]
            if self.state.can_reconnect(c):
                from workspace.oauth import start_path

                href = start_path(c["app_id"], csrf=self.csrf, connection_id=c["id"])
                actions.append(
                    html(
                        f'<a class="oauth-reconnect" href="{escape(href)}" aria-label="Reconnect '
                        f'{escape(c["name"])}">Reconnect</a>',
                        align="center",
                        css_classes=["reconnect-connection"],
                        stylesheets=[LINK_CSS],
                    )
                )
            new = c["id"] == self.focus
            css = ["connection-row", f"connection-{c['id']}"] + (["connection-new"] if new else [])
            styles = {"border-bottom": "1px solid #e5e7eb"} | (
                {"background": "#f0fdf4", "border-left": "4px solid #15803d"} if new else {}
            )
            items.append(
                pn.Row(
                    html(info, align="center", sizing_mode="stretch_width"),
                    *actions,
                    delete,
                    sizing_mode="stretch_width",
                    css_classes=css,
                    styles=styles,
                )
            )
        self.list[:] = items

    async def _test(self, connection_id: str) -> None:
        connection = await attempt(self.banner, lambda: self.state.test(connection_id))
        if connection is not None:
            self._report(connection, "Tested")

    async def _delete(self, connection_id: str) -> None:
        await attempt(
            self.banner, lambda: self.state.delete(connection_id), success="Connection deleted."
        )

    def _edit(self, conn: dict[str, Any]) -> None:
        app = self.svc.apps.get(conn["app_id"])
        name = pn.widgets.TextInput(
            name="Connection name", value=conn["name"], width=360, css_classes=["rename-connection"]
        )
        rename = pn.widgets.Button(
            name="Rename", button_type="primary", align="end", css_classes=["save-rename"]
        )

        async def do_rename(_: Any) -> None:
            await attempt(
                self.banner, lambda: self.state.rename(conn["id"], name.value), success="Renamed."
            )

        rename.on_click(do_rename)
        parts: list[Any] = [html(f"<h2>Edit {escape(conn['name'])}</h2>"), pn.Row(name, rename)]
        kind = app.auth_for((conn.get("metadata") or {}).get("auth_type"))
        schema = dict(kind.describe().get("fields_schema") or {})
        if kind.type == "oauth2":  # the provider's token set is kept; only typed fields change
            schema["properties"] = {
                k: v for k, v in (schema.get("properties") or {}).items() if k not in TOKEN_KEYS
            }
        if schema.get("properties") or kind.type != "oauth2":
            form = SchemaForm(schema, prefix="update-auth")
            update = pn.widgets.Button(
                name="Save new credentials and test",
                button_type="primary",
                css_classes=["update-credentials"],
            )

            async def do_update(_: Any) -> None:
                try:
                    credentials = form.values()
                except ValueError as exc:
                    self.banner.error(str(exc))
                    return
                connection = await attempt(
                    self.banner, lambda: self.state.update_credentials(conn["id"], credentials)
                )
                if connection is not None:
                    self._report(connection, "Credentials updated")

            update.on_click(do_update)
            parts += [
                html(
                    '<p class="cw-muted">Secrets are never shown: type new values to replace the '
                    "stored ones.</p>"
                ),
                form,
                update,
            ]
        if kind.type == "oauth2":
            parts.append(
                html(
                    f'<p class="cw-muted">This connection signed in with {escape(app.name)}; its '
                    'tokens are renewed automatically. If it stops working, use "Reconnect" in its '
                    "row: you sign in with "
                    f"{escape(app.name)} again and this connection gets new tokens "
                    "(scenarios using it keep working, nothing to switch).</p>"
                )
            )
        close = pn.widgets.Button(name="Close", button_type="light")
        close.on_click(lambda e: self.editor.clear())
        parts.append(close)
        self.editor[:] = parts

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout
