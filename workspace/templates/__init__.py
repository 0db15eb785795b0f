"""Scenario templates: YAML scenario documents next to this module, and their catalog.

A template's cells name their connection as ``$<app key>`` (e.g. ``connection: $wordpress``);
using the template replaces each placeholder with a connection the user picks.
``__SERVER__`` in a URL becomes this server's public URL (the demo echo endpoint stands in
for the user's own systems until they change the URL). A template whose apps are not
installed (a planned app, ``connectors/planned.py``) is listed as "coming soon".

What only the user knows (which Slack channel, which monday.com board) is never
hard-coded: the template lists it under ``asks`` (``cell``, ``field``, ``label``) and
using the template fills each asked field with the user's answer, which the dialog
offers to pick from the field's choices (``Cellwright.options``) once the connection is
chosen.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from cells import document as documents
from connectors.sdk import ConfigurationError

HERE = Path(__file__).parent


@dataclass(frozen=True)
class Ask:
    """One input the template asks for: a field of one of its cells."""

    cell: str
    field: str
    label: str
    app: str
    operation: str
    connection_app: str | None
    """The app whose connection (``$app``) lists this field's choices; None without one."""

    @property
    def key(self) -> str:
        """``cell.field``: how answers are keyed."""
        return f"{self.cell}.{self.field}"


@dataclass(frozen=True)
class Template:
    key: str
    title: str
    summary: str
    category: str
    data: dict[str, Any] = field(repr=False)

    @property
    def apps(self) -> list[str]:
        """Every app the template's cells use, in order of first use."""
        seen: list[str] = []
        for cell in _walk(self.data["cells"]):
            app = cell.get("app")
            if app and app not in seen:
                seen.append(app)
        return seen

    @property
    def connections(self) -> list[str]:
        """App keys whose connection the user must pick (the ``$app`` placeholders)."""
        out: list[str] = []
        for cell in _walk(self.data["cells"]):
            conn = cell.get("connection")
            if isinstance(conn, str) and conn.startswith("$") and conn[1:] not in out:
                out.append(conn[1:])
        return out

    @property
    def asks(self) -> list[Ask]:
        """What the user must fill in when using the template, in the template's order."""
        cells = {cell["id"]: cell for cell in _walk(self.data["cells"])}
        out: list[Ask] = []
        for entry in self.data.get("asks") or []:
            cell = cells.get(entry["cell"])
            if cell is None:
                raise ConfigurationError(
                    f"Template '{self.key}' asks for a field of '{entry['cell']}', which is not "
                    "one of its cells."
                )
            conn = cell.get("connection")
            app = conn[1:] if isinstance(conn, str) and conn.startswith("$") else None
            out.append(
                Ask(
                    cell=cell["id"],
                    field=entry["field"],
                    label=entry["label"],
                    app=cell["app"],
                    operation=cell["operation"],
                    connection_app=app,
                )
            )
        return out

    def cell_inputs(self, cell_id: str) -> dict[str, Any]:
        """The inputs the template gives a cell (what its asked fields' choices may depend on)."""
        cell = next((c for c in _walk(self.data["cells"]) if c["id"] == cell_id), {})
        return dict(cell.get("inputs") or {})

    def missing_apps(self, registry: Any) -> list[str]:
        return [a for a in self.apps if a not in registry]

    def available(self, registry: Any) -> bool:
        return not self.missing_apps(registry)

    def document(
        self,
        connections: dict[str, str],
        *,
        server_url: str,
        name: str | None = None,
        inputs: Mapping[str, Any] | None = None,
    ) -> documents.ScenarioDocument:
        """The scenario document with connections, asked inputs (by ``Ask.key``) and the
        server URL filled in."""
        data = copy.deepcopy(self.data)
        data.pop("asks", None)
        if name:
            data["name"] = name
        missing = [app for app in self.connections if not connections.get(app)]
        if missing:
            raise ConfigurationError(f"Pick a connection for: {', '.join(missing)}.")
        answers = dict(inputs or {})
        unanswered = [ask.label for ask in self.asks if answers.get(ask.key) in (None, "", [])]
        if unanswered:
            raise ConfigurationError(f"Fill in: {'; '.join(unanswered)}.")
        by_cell = {ask.cell: [a for a in self.asks if a.cell == ask.cell] for ask in self.asks}
        for cell in _walk(data["cells"]):
            conn = cell.get("connection")
            if isinstance(conn, str) and conn.startswith("$"):
                cell["connection"] = connections[conn[1:]]
            for ask in by_cell.get(cell["id"], []):
                cell.setdefault("inputs", {})[ask.field] = answers[ask.key]
        text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True).replace(
            "__SERVER__", server_url.rstrip("/")
        )
        return documents.loads(text, source=f"template {self.key}")


def _walk(cells: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for cell in cells:
        out.append(cell)
        for branch in cell.get("branches") or []:
            out.extend(_walk(branch.get("cells") or []))
        if cell.get("kind") == "loop":
            out.extend(_walk(cell.get("cells") or []))
        if isinstance(cell.get("on_error"), dict):  # an error route
            out.extend(_walk(cell["on_error"].get("cells") or []))
    return out


#: key → (category, file); the order is the gallery's order
CATALOG: list[tuple[str, str]] = [
    ("monday_to_wordpress", "Content"),
    ("lead_generation", "Sales"),
    ("form_to_wordpress_draft", "Content"),
    ("wordpress_post_or_slack_alert", "Content"),
    ("order_routing", "Operations"),
    ("remember_last_order", "Operations"),
    ("clean_address", "Operations"),
    ("reusable_tidy_contact", "Operations"),
    ("monday_to_wordpress_polling", "Content"),
    ("webhook_to_stripe_customer", "Sales"),
    ("stripe_payment_to_slack", "Sales"),
    ("checkout_lines_to_slack", "Commerce"),
    ("daily_report", "Operations"),
    ("wordpress_to_slack", "Content"),
    ("slack_to_monday", "Operations"),
    ("shopify_orders_to_sheets", "Commerce"),
    ("mailchimp_subscriber_to_slack", "Marketing"),
    ("gmail_to_monday", "Operations"),
    ("support_triage", "Support"),
]


def load_templates() -> list[Template]:
    out = []
    for key, category in CATALOG:
        data = yaml.safe_load((HERE / f"{key}.yaml").read_text(encoding="utf-8"))
        out.append(
            Template(
                key=key,
                title=data["name"],
                summary=data.get("description", ""),
                category=category,
                data=data,
            )
        )
    return out


def get_template(key: str) -> Template:
    for template in load_templates():
        if template.key == key:
            return template
    raise ConfigurationError(f"There is no template '{key}'.")
