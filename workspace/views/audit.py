"""The audit trail page: who did what, when, from where — filtered, paged, downloaded.

A user sees their own entries; an administrator sees everyone's, can filter by actor
and checks the hash chain (what ``cellwright audit verify`` does). The downloads are
the REST API's files (``workspace.audit_export``), of the entries the filters match.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import panel as pn
import param

from connectors.sdk import ConfigurationError
from workspace.audit_export import to_csv, to_json
from workspace.views.executions import RANGES
from workspace.views.widgets import Banner, attempt, html, table, when

PAGE_SIZE = 50
#: the most entries one download holds (newest first)
EXPORT_LIMIT = 10_000
GROUPS = [
    "any",
    "auth",
    "user",
    "api_key",
    "connection",
    "scenario",
    "execution",
    "alert_rule",
    "alert",
    "retention",
]
COLUMNS = [
    ("at", "When (UTC)"),
    ("action", "Action"),
    ("who", "By"),
    ("source", "From"),
    ("ip", "Address"),
    ("object", "Object"),
    ("details", "Details"),
]


class AuditState(param.Parameterized):
    """The filters and the current page of the entries the user may read."""

    group = param.Selector(default="any", objects=GROUPS, doc="A group of actions.")
    time_range = param.Selector(default="Any time", objects=list(RANGES))
    object_id = param.String(default="", doc="Only entries about this object id.")
    actor = param.String(default="", doc="Only entries by this user (administrators).")
    page = param.Integer(default=0, bounds=(0, None))
    items = param.List(default=[])

    def __init__(self, svc: Any, user: Any, **params: Any) -> None:
        super().__init__(**params)
        self.svc = svc
        self.user = user
        self.param.watch(
            lambda *_: self._filters_changed(), ["group", "time_range", "object_id", "actor"]
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
            "action": None if self.group == "any" else self.group,
            "object_id": self.object_id.strip() or None,
            "actor_id": (self.actor.strip() or None) if self.user.is_admin else None,
            "since": datetime.now(UTC) - span if span else None,
        }

    def refresh(self) -> None:
        # one more than a page: whether there is a next one
        self.items = self.svc.accounts.audit_trail(
            self.user, limit=PAGE_SIZE + 1, offset=self.page * PAGE_SIZE, **self.filters()
        )

    @property
    def has_next(self) -> bool:
        return len(self.items) > PAGE_SIZE

    def export(self, fmt: str) -> str:
        entries = self.svc.accounts.audit_trail(self.user, limit=EXPORT_LIMIT, **self.filters())
        return to_csv(entries) if fmt == "csv" else to_json(entries)

    def verify(self) -> str:
        """What the chain check found, in a sentence (administrators only)."""
        if not self.user.is_admin:
            raise ConfigurationError("Only administrators can check the audit trail.")
        verdict = self.svc.accounts.verify_audit_chain()
        if verdict.intact:
            return (
                f"The audit trail is intact: {verdict.checked} entries, head hash "
                f"{verdict.head_hash or '—'}."
            )
        return (
            f"The audit trail is broken at entry #{verdict.broken_seq} "
            f"(id {verdict.broken_id}): {verdict.reason}."
        )


def _row(entry: Any, names: dict[str, str]) -> dict[str, Any]:
    def who(user_id: str | None) -> str:
        return names.get(user_id or "", user_id or "—")

    details = entry.details or {}
    return {
        "at": when(entry.at.isoformat()),
        "action": entry.action,
        "who": who(entry.actor_id),
        "source": entry.source,
        "ip": entry.ip or "—",
        "object": f"{entry.object_type} {entry.object_id or ''}".strip(),
        "details": ", ".join(f"{k}: {v}" for k, v in details.items()) if details else "",
    }


class AuditPage(pn.viewable.Viewer):
    def __init__(self, svc: Any, user: Any, nav: Callable[..., Any], **params: Any) -> None:
        super().__init__(**params)
        self.user = user
        self.banner = Banner()
        self.state = AuditState(svc, user)
        self.names = (
            {u.id: u.email for u in svc.accounts.list_users()}
            if user.is_admin
            else {user.id: user.email}
        )
        group = pn.widgets.Select.from_param(
            self.state.param.group, name="Actions", width=160, css_classes=["audit-group"]
        )
        span = pn.widgets.Select.from_param(
            self.state.param.time_range, name="Time range", width=170, css_classes=["audit-range"]
        )
        obj = pn.widgets.TextInput(
            name="Object id", placeholder="e.g. a scenario's id", width=260, max_length=64
        )
        obj.param.watch(lambda e: setattr(self.state, "object_id", e.new), "value")
        filters: list[Any] = [group, span, obj]
        if user.is_admin:
            actor = pn.widgets.Select(
                name="By",
                options={"Anyone": "", **{email: i for i, email in self.names.items()}},
                width=220,
                css_classes=["audit-actor"],
            )
            actor.param.watch(lambda e: setattr(self.state, "actor", e.new), "value")
            filters.append(actor)
        downloads = [
            pn.widgets.FileDownload(
                callback=lambda f=fmt: io.StringIO(self.state.export(f)),
                filename=f"audit.{fmt}",
                label=f"Download {fmt.upper()}",
                button_type="light",
                width=150,
                css_classes=[f"audit-download-{fmt}"],
            )
            for fmt in ("csv", "json")
        ]
        tools: list[Any] = [*downloads]
        if user.is_admin:
            check = pn.widgets.Button(
                name="Check the hash chain", button_type="light", css_classes=["audit-verify"]
            )
            check.on_click(self._verify)
            tools.append(check)
        self.prev = pn.widgets.Button(name="Newer", button_type="light", css_classes=["prev-page"])
        self.next = pn.widgets.Button(name="Older", button_type="light", css_classes=["next-page"])
        self.prev.on_click(lambda e: setattr(self.state, "page", max(0, self.state.page - 1)))
        self.next.on_click(lambda e: setattr(self.state, "page", self.state.page + 1))
        self.list = html("", css_classes=["audit-list"])
        self.state.param.watch(lambda *_: self._render(), ["items"])
        self._render()
        scope = (
            "Every user's entries (you are an administrator)."
            if user.is_admin
            else "Your own entries: sign-ins, and changes to your account and objects."
        )
        self._layout = pn.Column(
            html(f'<h1>Audit trail</h1><p class="cw-muted">{scope}</p>'),
            pn.FlexBox(*filters, align_items="flex-end", sizing_mode="stretch_width"),
            pn.FlexBox(*tools, align_items="center", sizing_mode="stretch_width"),
            self.banner,
            self.list,
            pn.Row(self.prev, self.next),
            sizing_mode="stretch_width",
        )

    async def _verify(self, _: Any = None) -> None:
        message = await attempt(self.banner, self.state.verify)
        if message:
            self.banner.show(message, "ok" if "intact" in message else "error")

    def _render(self) -> None:
        s = self.state
        rows = [_row(e, self.names) for e in s.items[:PAGE_SIZE]]
        self.list.object = table(
            rows,
            COLUMNS,
            caption=f"Audit entries, newest first (page {s.page + 1})",
            empty="No audit entries match these filters.",
        )
        self.prev.disabled = s.page == 0
        self.next.disabled = not s.has_next

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout
