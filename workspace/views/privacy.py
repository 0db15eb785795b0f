"""Settings → data retention, your data (download, delete the account) and, for
administrators, a data subject's erasure and users' own retention periods.

``PrivacyState`` holds what the sections do (tested headlessly); ``PrivacySections``
renders them. Everything goes through the service (``svc.privacy``, ``svc.retention``,
``svc.delete_account``), never the store.
"""

from __future__ import annotations

import asyncio
import io
from html import escape
from typing import Any

import panel as pn
import param

from connectors.sdk import ConfigurationError, InvalidInputError
from workspace.views.widgets import Banner, attempt, html, table, when

__all__ = ["PrivacySections", "PrivacyState"]

#: executions listed under a search (the count covers them all)
SHOWN_MATCHES = 20


class PrivacyState(param.Parameterized):
    """The user's retention policy, export and deletion; an administrator's erasure."""

    policy = param.Dict(default={})
    last_run = param.Dict(default=None, allow_None=True)
    #: the value searched last, its count and first matches (administrators)
    searched = param.String(default="")
    found = param.Integer(default=0)
    matches = param.List(default=[])
    deleted = param.Boolean(default=False)

    def __init__(self, svc: Any, user: Any, **params: Any) -> None:
        super().__init__(**params)
        self.svc = svc
        self.user = user
        self.refresh()

    def refresh(self) -> None:
        self.policy = self.svc.retention.policy(self.user.id).to_dict()
        last = self.svc.retention.last_run()
        self.last_run = (
            None if last is None else {"at": last.at.isoformat(), **(last.details or {})}
        )

    # -- your data ----------------------------------------------------------------------

    def export(self) -> io.BytesIO:
        """The user's archive (``account.export``) for the download button, which sends
        it whole (the REST API and the CLI stream it from a file instead)."""
        archive = io.BytesIO()
        self.svc.privacy.export(self.user.id, archive)
        archive.seek(0)
        return archive

    async def delete_account(self, typed_email: str) -> dict[str, int]:
        """Delete the account when ``typed_email`` is the user's address."""
        if typed_email.strip().lower() != self.user.email.lower():
            raise InvalidInputError(
                f"Type your e-mail address ({self.user.email}) to confirm.",
                errors=[{"field": "confirm", "message": "not your e-mail address"}],
            )
        counts: dict[str, int] = await self.svc.delete_account(self.user, self.user.id)
        self.deleted = True
        return counts

    # -- administrators -----------------------------------------------------------------

    def _admin(self, what: str) -> None:
        if not self.user.is_admin:
            raise ConfigurationError(f"Only administrators can {what}.")

    async def search(self, value: str) -> int:
        """Find ``value`` in every user's execution records (in a worker thread)."""
        self._admin("search every user's execution records")
        total, shown = await asyncio.to_thread(self.svc.privacy.find, value, limit=SHOWN_MATCHES)
        self.searched = value.strip()
        self.matches = [m.to_dict() for m in shown]
        self.found = total
        return int(total)

    async def erase(self) -> Any:
        """Erase the value searched last, everywhere (in a worker thread)."""
        self._admin("erase values from execution records")
        if not self.searched:
            raise InvalidInputError("Search for the value first, then erase it.")
        result = await asyncio.to_thread(self.svc.privacy.erase, self.user.id, self.searched)
        self.searched, self.found, self.matches = "", 0, []
        return result

    def set_policy(self, email: str, days: int | str | None, failed_days: int | str | None) -> Any:
        """Give the user with ``email`` their own periods (both None or empty: the
        server's); the periods as typed (whole days) or as numbers."""
        self._admin("change a user's retention period")
        days = _whole_days(days, "days")
        failed_days = _whole_days(failed_days, "failed_days")
        target = self.svc.accounts.get_user_by_email(email.strip())
        if target is None:
            raise InvalidInputError(
                f"No user with the e-mail address {email!r}.",
                errors=[{"field": "email", "message": "no such user"}],
            )
        policy = self.svc.retention.set_policy(
            self.user.id, target.id, retention_days=days, retention_failed_days=failed_days
        )
        self.refresh()
        return policy

    async def sweep(self) -> int:
        """Run the retention sweep now, batch by batch, the server answering between."""
        self._admin("delete old executions")
        deleted = await self.svc.retention.run_async(self.user.id)
        self.refresh()
        return deleted


def _whole_days(value: int | str | None, field: str) -> int | None:
    """A period typed into the form: empty means the server's setting."""
    if value is None or isinstance(value, int):
        return value
    text = value.strip()
    if not text:
        return None
    if not text.isdigit() or int(text) < 1:
        raise InvalidInputError(
            f"{text!r} is not a number of days: type a whole number, at least 1, or leave it"
            " empty for the server's setting.",
            errors=[{"field": field, "message": "a whole number of days, at least 1"}],
        )
    return int(text)


class PrivacySections(pn.viewable.Viewer):
    """The sections, in the order the settings page shows them."""

    def __init__(self, svc: Any, user: Any, banner: Banner, **params: Any) -> None:
        super().__init__(**params)
        self.state = PrivacyState(svc, user)
        self.banner = banner
        self.user = user
        self.policy_box = html("", css_classes=["retention-policy"])
        self.state.param.watch(lambda e: self._render_policy(), ["policy", "last_run"])
        self._render_policy()
        parts: list[Any] = [html("<h2>Data retention</h2>"), self.policy_box]
        if user.is_admin:
            parts += self._admin_retention()
        parts += self._your_data()
        if user.is_admin:
            parts += self._erasure()
        self._layout = pn.Column(*parts, sizing_mode="stretch_width", margin=0)

    def _render_policy(self) -> None:
        p = self.state.policy
        whose = "your own period" if p.get("own") else "the server's setting"
        failed = (
            f"; failed runs are kept <strong>{p['retention_failed_days']} days</strong>"
            if p.get("retention_failed_days") != p.get("retention_days")
            else ""
        )
        last = self.state.last_run
        ran = (
            "The sweep has not run yet."
            if last is None
            else f"Last run {when(last['at'])}: {int(last.get('deleted') or 0)} deleted."
        )
        self.policy_box.object = (
            f"<p>Your executions are deleted after <strong>{p.get('retention_days')} days</strong>"
            f"{failed} ({whose}). The server deletes them on a schedule. {ran}</p>"
        )

    def _admin_retention(self) -> list[Any]:
        sweep = pn.widgets.Button(
            name="Delete old executions now", button_type="light", css_classes=["retention-sweep"]
        )

        async def do_sweep(_: Any) -> None:
            count = await attempt(self.banner, self.state.sweep)
            if count is not None:
                self.banner.ok(f"Deleted {count} old executions.")

        sweep.on_click(do_sweep)
        email = pn.widgets.TextInput(name="User's e-mail", width=240, css_classes=["ret-email"])
        # text, not number spinners: their arrow buttons have no names for screen readers
        days = pn.widgets.TextInput(
            name="Days (empty: server's)",
            placeholder="e.g. 90",
            width=160,
            css_classes=["ret-days"],
        )
        failed = pn.widgets.TextInput(
            name="Failed runs, days",
            placeholder="e.g. 180",
            width=160,
            css_classes=["ret-failed"],
        )
        save = pn.widgets.Button(name="Set period", button_type="primary", css_classes=["ret-set"])

        async def do_save(_: Any) -> None:
            await attempt(
                self.banner,
                lambda: self.state.set_policy(email.value, days.value, failed.value),
                success="Retention period saved.",
            )

        save.on_click(do_save)
        return [
            sweep,
            html('<h3 style="font-size:15px;margin:8px 0 0">A user\'s own retention period</h3>'),
            pn.FlexBox(email, days, failed, save, align_items="flex-end"),
        ]

    def _your_data(self) -> list[Any]:
        download = pn.widgets.FileDownload(
            callback=self.state.export,
            filename="cellwright-data.zip",
            label="Download all my data (zip)",
            button_type="light",
            width=240,
            css_classes=["account-export"],
        )
        confirm = pn.widgets.TextInput(
            name="To delete your account, type your e-mail address",
            placeholder=self.user.email,
            width=320,
            css_classes=["account-delete-confirm"],
        )
        delete = pn.widgets.Button(
            name="Delete my account and all its data",
            button_type="danger",
            css_classes=["account-delete"],
        )

        async def do_delete(_: Any) -> None:
            done = await attempt(self.banner, lambda: self.state.delete_account(confirm.value))
            if done is not None:
                self.banner.ok("Your account and all its data are deleted. Goodbye.")
                if pn.state.location is not None:
                    pn.state.location.href = "/login"

        delete.on_click(do_delete)
        return [
            html(
                "<h2>Your data</h2><p>Download everything of yours: scenarios and their versions, "
                "executions with every cell's record, connections (without credentials), data "
                "stores, alert rules, API keys (names only) and the audit entries about you.</p>"
            ),
            download,
            html(
                "<p>Deleting your account removes all of it for good, here and in the analytics. "
                "The audit trail keeps its entries under your former, now anonymous, user id.</p>"
            ),
            pn.FlexBox(confirm, delete, align_items="flex-end"),
        ]

    def _erasure(self) -> list[Any]:
        value = pn.widgets.TextInput(
            name="Value to find (an e-mail address, a phone number…)",
            width=360,
            css_classes=["erasure-value"],
        )
        search = pn.widgets.Button(name="Search", button_type="light", css_classes=["erasure-find"])
        erase = pn.widgets.Button(
            name="Erase it everywhere",
            button_type="danger",
            disabled=True,
            css_classes=["erasure-erase"],
        )
        found = html("", css_classes=["erasure-found"])

        def render(*_: Any) -> None:
            erase.disabled = not self.state.found
            if not self.state.searched:
                found.object = ""
                return
            listed = table(
                [{**m, "created_at": when(m["created_at"])} for m in self.state.matches],
                [("id", "Execution"), ("status", "Status"), ("created_at", "Created")],
                caption="Executions holding it",
            )
            shown = listed if self.state.found else ""
            found.object = (
                f"<p><strong>{self.state.found}</strong> execution(s) hold "
                f"<code>{escape(self.state.searched)}</code>.</p>{shown}"
            )

        self.state.param.watch(render, ["found", "matches", "searched"])

        async def do_search(_: Any) -> None:
            await attempt(self.banner, lambda: self.state.search(value.value))

        async def do_erase(_: Any) -> None:
            result = await attempt(self.banner, self.state.erase)
            if result is not None:
                value.value = ""
                self.banner.ok(
                    f"Erased from {result.executions} execution(s) and {result.cells} cell "
                    "record(s), and from the analytics."
                )

        search.on_click(do_search)
        erase.on_click(do_erase)
        return [
            html(
                "<h2>Right to erasure</h2><p>Find a person's data in every user's execution "
                "records (trigger data, cell inputs, outputs and errors) and replace it with "
                "<code>[erased]</code>. The executions stay; the audit trail records the counts "
                "and a hash, never the value.</p>"
            ),
            pn.FlexBox(value, search, erase, align_items="flex-end"),
            found,
        ]

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout
