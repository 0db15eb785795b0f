"""Settings: API keys (create, see once, revoke), password, data retention and your data
(``workspace.views.privacy``), users (admins)."""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from typing import Any

import panel as pn
import param

from connectors.sdk import ConfigurationError, InvalidInputError
from workspace.auth import hash_password, verify_password
from workspace.views.privacy import PrivacySections
from workspace.views.widgets import (
    SHRINK_CSS,
    Banner,
    Check,
    attempt,
    badge,
    error_dict_message,
    handler,
    html,
    table,
    when,
)

MIN_PASSWORD = 10


class SettingsState(param.Parameterized):
    keys = param.List(default=[])
    users = param.List(default=[])

    def __init__(self, svc: Any, user: Any, **params: Any) -> None:
        super().__init__(**params)
        self.svc = svc
        self.user = user
        self.refresh()

    def refresh(self) -> None:
        self.keys = [k.to_dict() for k in self.svc.accounts.list_api_keys(self.user.id)]
        if self.user.is_admin:
            self.users = [u.to_dict() for u in self.svc.accounts.list_users()]

    def create_key(self, name: str) -> str:
        """A new API key; the plaintext is returned once and never stored."""
        plaintext, _ = self.svc.accounts.create_api_key(self.user.id, name.strip() or "workspace")
        self.refresh()
        return str(plaintext)

    def revoke_key(self, key_id: str) -> None:
        if not self.svc.accounts.revoke_api_key(self.user.id, key_id):
            raise ConfigurationError("That key does not exist or is already revoked.")
        self.refresh()

    def change_password(self, current: str, new: str, repeat: str) -> None:
        from workspace.sessions import set_password

        fresh = self.svc.accounts.get_user(self.user.id)
        if not verify_password(fresh.password_hash, current):
            raise InvalidInputError(
                "Your current password is not right.",
                errors=[{"field": "current", "message": "wrong password"}],
            )
        _check_password(new, repeat)
        set_password(self.svc.accounts, self.user.id, new)
        path = self.svc.settings.ensure_data_dir() / "admin-password.txt"
        if self.user.is_admin:
            path.unlink(missing_ok=True)

    def add_user(self, email: str, name: str, password: str, is_admin: bool) -> Any:
        if not self.user.is_admin:
            raise ConfigurationError("Only administrators can add users.")
        if "@" not in email:
            raise InvalidInputError(
                "Enter the new user's e-mail address.",
                errors=[{"field": "email", "message": "not an e-mail address"}],
            )
        _check_password(password, password)
        user = self.svc.accounts.create_user(
            email, name=name, password_hash=hash_password(password), is_admin=is_admin
        )
        self.refresh()
        return user


def _check_password(new: str, repeat: str) -> None:
    if len(new) < MIN_PASSWORD:
        raise InvalidInputError(
            f"Choose a password of at least {MIN_PASSWORD} characters.",
            errors=[{"field": "new", "message": "too short"}],
        )
    if new != repeat:
        raise InvalidInputError(
            "The two new passwords differ; type the same one twice.",
            errors=[{"field": "repeat", "message": "differs"}],
        )


class SettingsPage(pn.viewable.Viewer):
    def __init__(self, svc: Any, user: Any, nav: Callable[..., Any], **params: Any) -> None:
        super().__init__(**params)
        self.state = SettingsState(svc, user)
        self.banner = Banner()
        # API keys
        self.keys_box = pn.Column(sizing_mode="stretch_width", margin=0, css_classes=["api-keys"])
        self.key_name = pn.widgets.TextInput(
            name="Name of the new key",
            placeholder="e.g. CI script",
            width=280,
            css_classes=["api-key-name"],
        )
        create = pn.widgets.Button(
            name="Create API key",
            button_type="primary",
            align="end",
            css_classes=["create-api-key"],
        )
        create.on_click(self._create_key)
        self.shown_once = html("", css_classes=["new-api-key"])
        self.state.param.watch(lambda e: self._render_keys(), "keys")
        self._render_keys()
        # password
        current = pn.widgets.PasswordInput(
            name="Current password", width=280, css_classes=["pw-current"]
        )
        new = pn.widgets.PasswordInput(
            name=f"New password (at least {MIN_PASSWORD} characters)",
            width=280,
            css_classes=["pw-new"],
        )
        repeat = pn.widgets.PasswordInput(
            name="New password again", width=280, css_classes=["pw-repeat"]
        )
        change = pn.widgets.Button(
            name="Change password", button_type="primary", css_classes=["pw-change"]
        )

        async def do_change(_: Any) -> None:
            done = await attempt(
                self.banner,
                lambda: self.state.change_password(current.value, new.value, repeat.value) or True,
                success="Password changed. Other browsers signed in as you have been signed out; "
                "this one too — sign in again with the new password.",
            )
            if done:
                current.value = new.value = repeat.value = ""

        change.on_click(do_change)
        parts: list[Any] = [
            html("<h1>Settings</h1>"),
            self.banner,
            html(
                "<h2>API keys</h2><p>Use a key with the REST API: "
                "<code>Authorization: Bearer cw_…</code>. A key is shown once, when it is "
                "created.</p>"
            ),
            pn.FlexBox(self.key_name, create, align_items="flex-end"),
            self.shown_once,
            self.keys_box,
            *self._alerts_section(svc, user),
            html(
                "<h2>Account</h2><p>Signed in as "
                f"{escape(user.email)}{' (administrator)' if user.is_admin else ''}.</p>"
            ),
            current,
            new,
            repeat,
            change,
        ]
        self.privacy = PrivacySections(svc, user, self.banner)
        parts.append(self.privacy)
        if user.is_admin:
            parts += self._users_section()
        self._layout = pn.Column(*parts, sizing_mode="stretch_width")

    # -- alert rules ------------------------------------------------------------------------

    def _alerts_section(self, svc: Any, user: Any) -> list[Any]:
        from workspace.views.alerts import AlertRules

        self.alerts = AlertRules(svc, user)
        self._scenario_names = svc.scenarios.names(user.id)
        scenario = pn.widgets.Select(
            name="When this scenario fails",
            options={"Any scenario": "", **{n: i for i, n in self._scenario_names.items()}},
            width=300,
            css_classes=["alert-scenario"],
        )
        in_workspace = Check(
            "Show it in my workspace (Recent alerts below)", True, css_classes=["alert-workspace"]
        )
        webhook = pn.widgets.TextInput(
            name="…and POST it to this webhook URL (optional)",
            placeholder="https://hooks.example.com/…",
            width=420,
            css_classes=["alert-webhook"],
            stylesheets=[SHRINK_CSS],
        )
        self._email_connections = self.alerts.email_connections()
        email_connection = pn.widgets.Select(
            name="…and e-mail it through (an SMTP connection)",
            options={"No e-mail": "", **self._email_connections},
            width=300,
            css_classes=["alert-email-connection"],
        )
        email_to = pn.widgets.TextInput(
            name="…to these addresses (comma-separated)",
            placeholder="ops@example.com, oncall@example.com",
            width=360,
            css_classes=["alert-email-to"],
            stylesheets=[SHRINK_CSS],
        )
        add = pn.widgets.Button(
            name="Add alert rule", button_type="primary", align="end", css_classes=["alert-add"]
        )

        async def do_add(_: Any) -> None:
            rule = await attempt(
                self.banner,
                lambda: self.alerts.add(
                    scenario.value or None,
                    notify_workspace=in_workspace.checked,
                    webhook_url=webhook.value,
                    email_connection_id=email_connection.value or None,
                    email_to=email_to.value,
                ),
                success="Alert rule added.",
            )
            if rule is not None:
                webhook.value = ""
                email_to.value = ""
                self._render_alerts()

        add.on_click(do_add)
        self.alerts_box = pn.Column(
            sizing_mode="stretch_width", margin=0, css_classes=["alert-rules"]
        )
        self.alert_feed = html("", css_classes=["alert-feed"])
        self._render_alerts()
        return [
            html(
                "<h2>Alert rules</h2><p>Be told when a run fails: in the workspace, by a "
                "webhook, or by e-mail through one of your SMTP connections (add one on the "
                "Connections page). (A scenario's own <em>notify on error</em> setting is in its "
                "run settings.)</p>"
            ),
            pn.FlexBox(
                scenario,
                in_workspace,
                webhook,
                email_connection,
                email_to,
                add,
                align_items="flex-end",
                sizing_mode="stretch_width",
            ),
            self.alerts_box,
            self.alert_feed,
        ]

    def _render_alerts(self) -> None:
        rows: list[Any] = []
        for rule in self.alerts.rules:
            what = (
                escape(
                    self._scenario_names.get(rule.get("scenario_id") or "", "a deleted scenario")
                )
                if rule.get("scenario_id")
                else "any scenario"
            )
            where = [
                w
                for w in (
                    "the workspace" if rule.get("notify_workspace") else "",
                    f"<code>{escape(rule['webhook_url'])}</code>"
                    if rule.get("webhook_url")
                    else "",
                    self._email_target(rule),
                )
                if w
            ]
            remove = pn.widgets.Button(
                name="Delete rule",
                button_type="light",
                width=110,
                align="center",
                css_classes=["alert-delete"],
            )
            remove.on_click(
                lambda e, rid=rule["id"]: (self.alerts.delete(rid), self._render_alerts())
            )
            rows.append(
                pn.Row(
                    html(
                        f"When <strong>{what}</strong> fails → "
                        f"{' and '.join(where)}{self._last_delivery(rule)}",
                        align="center",
                    ),
                    remove,
                    sizing_mode="stretch_width",
                )
            )
        self.alerts_box[:] = rows or [html('<p class="cw-muted">No alert rules yet.</p>')]
        try:
            feed = self.alerts.notifications()
        except Exception as exc:  # the list is a convenience: say so, keep the page
            self.banner.error(exc)
            feed = []
        items = "".join(self._alert_item(e) for e in feed)
        self.alert_feed.object = (
            f'<h3 style="font-size:16px">Recent alerts</h3><ul>{items}</ul>'
            if items
            else '<h3 style="font-size:16px">Recent alerts</h3>'
            '<p class="cw-muted">No failures matched your rules.</p>'
        )

    def _email_target(self, rule: dict[str, Any]) -> str:
        """An e-mail rule's target: e-mail to a, b via the connection (empty otherwise)."""
        if not rule.get("email_connection_id"):
            return ""
        names = {cid: label for label, cid in self._email_connections.items()}
        via = names.get(rule["email_connection_id"], "a deleted connection")
        to = ", ".join(rule.get("email_to") or [])
        return f"e-mail to <code>{escape(to)}</code> via {escape(via)}"

    def _alert_item(self, e: dict[str, Any]) -> str:
        """One failed run in the "Recent alerts" list (a deleted scenario shows its id)."""
        scenario_id = e.get("scenario_id")
        name = self._scenario_names.get(scenario_id or "", scenario_id or "?")
        return (
            f"<li>{badge('failed')} <strong>{escape(name)}</strong> "
            f'<span class="cw-muted">{when(e.get("created_at"))}</span> — '
            f"{escape(error_dict_message(e.get('error')) or 'failed')}</li>"
        )

    def _last_delivery(self, rule: dict[str, Any]) -> str:
        """A webhook rule's last delivery and an e-mail rule's last e-mail, as further lines
        (nothing for a workspace-only rule)."""
        lines = []
        if rule.get("webhook_url"):
            lines.append(("Last delivery", self.alerts.deliveries.get(rule["id"])))
        if rule.get("email_connection_id"):
            lines.append(("Last e-mail", self.alerts.email_deliveries.get(rule["id"])))
        shown = ""
        for label, last in lines:
            if last is None:
                text = "none yet"
            else:
                summary = escape(last["summary"])
                text = (
                    f"{summary if last['delivered'] else f'<strong>{summary}</strong>'} · "
                    f"{when(last['at'])}"
                )
            shown += f'<br><span class="cw-muted alert-delivery">{label}: {text}</span>'
        return shown

    def _render_keys(self) -> None:
        rows = []
        for k in self.state.keys:
            state = f"revoked {when(k['revoked_at'])}" if k.get("revoked_at") else "active"
            label = html(
                f"<strong>{escape(k['name'])}</strong> <code>{escape(k['prefix'])}…</code> "
                f"<span class='cw-muted'>· created {when(k['created_at'])} · last used "
                f"{when(k.get('last_used_at'))} · {state}</span>",
                align="center",
            )
            row: list[Any] = [label]
            if not k.get("revoked_at"):
                revoke = pn.widgets.Button(
                    name=f"Revoke key “{k['name']}”",
                    button_type="danger",
                    width=200,
                    align="center",
                    css_classes=["revoke-key"],
                )
                revoke.on_click(handler(self._revoke, k["id"]))
                row.append(revoke)
            rows.append(pn.Row(*row, sizing_mode="stretch_width"))
        self.keys_box[:] = rows or [html('<p class="cw-muted">No API keys yet.</p>')]

    async def _create_key(self, _: Any) -> None:
        key = await attempt(self.banner, lambda: self.state.create_key(self.key_name.value))
        if key:
            self.shown_once.object = (
                '<div class="cw-banner ok" role="status">Your new key (copy it now — it will not '
                "be shown again): "
                f'<code class="api-key-value">{escape(key)}</code></div>'
            )
            self.key_name.value = ""

    async def _revoke(self, key_id: str) -> None:
        await attempt(
            self.banner,
            lambda: self.state.revoke_key(key_id),
            success="Key revoked: it no longer works.",
        )

    def _users_section(self) -> list[Any]:
        box = html("")

        def render(*_: Any) -> None:
            box.object = table(
                [
                    {**u, "role": "administrator" if u["is_admin"] else "user"}
                    for u in self.state.users
                ],
                [("email", "E-mail"), ("name", "Name"), ("role", "Role")],
                caption="Who can sign in",
            )

        self.state.param.watch(render, "users")
        render()
        email = pn.widgets.TextInput(name="E-mail", width=260, css_classes=["new-user-email"])
        name = pn.widgets.TextInput(name="Name", width=220, css_classes=["new-user-name"])
        password = pn.widgets.PasswordInput(
            name=f"Initial password (at least {MIN_PASSWORD} characters)",
            width=300,
            css_classes=["new-user-password"],
        )
        admin = Check("Administrator", css_classes=["new-user-admin"])
        add = pn.widgets.Button(name="Add user", button_type="primary", css_classes=["add-user"])

        async def do_add(_: Any) -> None:
            user = await attempt(
                self.banner,
                lambda: self.state.add_user(email.value, name.value, password.value, admin.checked),
            )
            if user is not None:
                self.banner.ok(
                    f"Added {user.email}. Give them their initial password; they can change it in "
                    "Settings."
                )
                email.value = name.value = password.value = ""

        add.on_click(do_add)
        return [
            html("<h2>Users</h2>"),
            box,
            html('<h3 style="font-size:15px;margin:8px 0 0">Add a user</h3>'),
            pn.FlexBox(email, name, password, admin, add, align_items="flex-end"),
        ]

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout
