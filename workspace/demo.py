"""Demo data: on first start with an empty store, a demo user, scenarios that run
offline, and a few executions, so a new user sees results within a minute.

Besides the three built-in-only scenarios (``demo_scenarios/``), the demo user gets
sandbox connections to monday.com and WordPress and the polling flagship template
(``template_docs/monday_to_wordpress_polling.yaml``) wired to them: a vendor-app
scenario that works without an account. Sandboxes keep their state in memory, per
server process (a restart starts from the seeded board and site again).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from cells import document as documents
from cells.models import ScenarioDocument
from connectors.sdk import PollingTrigger

SCENARIOS = Path(__file__).parent / "demo_scenarios"
TEMPLATE_DOCS = Path(__file__).parent / "template_docs"
DEMO_EMAIL = "demo@cellwright.local"
DEMO_PASSWORD = "demo"  # noqa: S105 - a published demo account on a local install
SANDBOX_APPS = ("monday", "wordpress")
SANDBOX_TEMPLATE = "monday_to_wordpress_polling"
SANDBOX_SCENARIO_NAME = "Demo: monday.com to WordPress (sandbox)"

SAMPLE_EVENTS: dict[str, list[dict[str, Any]]] = {
    "order_router.yaml": [
        {"method": "POST", "headers": {"content-type": "application/json"}, "query": {}, "body": {"id": 1, "amount": 42, "name": "alice"}},
        {"method": "POST", "headers": {"content-type": "application/json"}, "query": {}, "body": {"id": 2, "amount": 20, "name": "bob"}},
    ],
    "lead_intake.yaml": [
        {"method": "POST", "headers": {"content-type": "application/json"}, "query": {}, "body": {"name": "ada lovelace", "email": "ada@example.com", "country": "FR"}},
        {"method": "POST", "headers": {"content-type": "application/json"}, "query": {}, "body": {"name": "no email", "country": "US"}},
    ],
}


def demo_documents(server_url: str) -> list[tuple[str, ScenarioDocument]]:
    out = []
    for path in sorted(SCENARIOS.glob("*.yaml")):
        text = path.read_text(encoding="utf-8").replace("__SERVER__", server_url.rstrip("/"))
        out.append((path.name, documents.loads(text, source=path.name)))
    return out


# -- template documents (template_docs/README.md describes the format) ----------------------


def template_data(key: str) -> dict[str, Any]:
    """The raw data of ``template_docs/<key>.yaml``, placeholders still in."""
    path = TEMPLATE_DOCS / f"{key}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in TEMPLATE_DOCS.glob("*.yaml")))
        raise ValueError(f"There is no template document '{key}'. Known: {known}.")
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data


def template_connections(data: Mapping[str, Any]) -> list[str]:
    """The app keys whose connection a template asks for (its ``$<app>`` placeholders)."""
    out: list[str] = []
    for cell in _cells(data.get("cells") or []):
        conn = cell.get("connection")
        if isinstance(conn, str) and conn.startswith("$") and conn[1:] not in out:
            out.append(conn[1:])
    return out


def fill_template(
    data: Mapping[str, Any], connections: Mapping[str, str], *, server_url: str, name: str | None = None
) -> ScenarioDocument:
    """A template with its ``$<app>`` connections and ``__SERVER__`` filled in, parsed."""
    filled = copy.deepcopy(dict(data))
    missing = [app for app in template_connections(filled) if not connections.get(app)]
    if missing:
        raise ValueError(f"The template needs a connection for: {', '.join(missing)}.")
    for cell in _cells(filled["cells"]):
        conn = cell.get("connection")
        if isinstance(conn, str) and conn.startswith("$"):
            cell["connection"] = connections[conn[1:]]
    if name:
        filled["name"] = name
    text = yaml.safe_dump(filled, sort_keys=False, allow_unicode=True).replace("__SERVER__", server_url.rstrip("/"))
    return documents.loads(text, source=f"template {filled['name']}")


def _cells(cells: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for cell in cells:
        out.append(cell)
        for branch in cell.get("branches") or []:
            out.extend(_cells(branch.get("cells") or []))
    return out


# -- the demo -----------------------------------------------------------------------------


def ensure_demo(svc: Any) -> str | None:
    """Create the demo data if the store has no users; return a line to print, or None."""
    if svc.store.list_users():
        return None
    from workspace.auth import hash_password

    admin = svc.local_user()
    user = svc.store.create_user(DEMO_EMAIL, name="Demo user", password_hash=hash_password(DEMO_PASSWORD), is_admin=False)
    for owner in (user,):
        for filename, doc in demo_documents(svc.settings.resolved_public_url()):
            scenario = svc.import_scenario(owner.id, doc)
            svc.store.set_scenario_status(owner.id, scenario.id, "active")
            for event in SAMPLE_EVENTS.get(filename, []):
                # queued now, run by the executor as soon as the server starts
                svc.store.create_execution(scenario_id=scenario.id, scenario_version=scenario.version, user_id=owner.id, trigger=event)
        sandbox_demo(svc, owner)
    key, _ = svc.store.create_api_key(user.id, "demo")
    return (
        f"Demo data created. Sign in as {DEMO_EMAIL} / password '{DEMO_PASSWORD}'.\n"
        f"Demo API key (shown once): {key}\n"
        f"Admin user: {admin.email} (set a password with the workspace's Settings page)."
    )


def sandbox_demo(svc: Any, owner: Any) -> Any:
    """Sandbox connections to monday.com and WordPress, and the polling flagship on them.

    The connections are stored directly (this runs before the server's event loop, and
    the sandboxes accept their published credentials; the health check re-validates
    them later). One run is queued with the sandbox board's Approved item, as the
    polling trigger delivers it, so the first start shows a WordPress post created;
    its idempotency key is the one polling would use, so that item never posts twice.
    Returns the scenario, or None when the apps or their sandboxes are not installed.
    """
    if not all(key in svc.apps and svc.apps.get(key).sandbox for key in SANDBOX_APPS):
        return None
    connections: dict[str, str] = {}
    for key in SANDBOX_APPS:
        app = svc.apps.get(key)
        credentials = dict(app.sandbox_credentials)
        app.auth.fields.model_validate(credentials)  # a broken sandbox credential set fails here, loudly
        connection = svc.store.create_connection(owner.id, key, f"{app.name} (sandbox)", credentials, is_sandbox=True, status="active")
        svc.store.audit(owner.id, "connection.create", "connection", connection.id, {"app": key, "sandbox": True, "demo": True})
        connections[key] = connection.id
    data = template_data(SANDBOX_TEMPLATE)
    doc = fill_template(data, connections, server_url=svc.settings.resolved_public_url(), name=SANDBOX_SCENARIO_NAME)
    scenario = svc.import_scenario(owner.id, doc)
    svc.store.set_scenario_status(owner.id, scenario.id, "active")
    trigger = doc.trigger
    op = svc.apps.get(trigger.app).trigger(trigger.operation)
    if isinstance(op, PollingTrigger):
        item = op.output.model_validate(op.sample).model_dump(mode="json")
        svc.store.create_execution(
            scenario_id=scenario.id, scenario_version=scenario.version, user_id=owner.id, trigger=item,
            idempotency_key=f"poll:{trigger.id}:{op.item_key(item)}",  # engine.scheduler's key for this item
        )
    return scenario
