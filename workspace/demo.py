"""Demo data: on first start with an empty store, a demo user, scenarios that run
offline, and a few executions, so a new user sees results within a minute.

Besides the three built-in-only scenarios (``demo_scenarios/``), the demo user gets
sandbox connections to monday.com and WordPress and the polling flagship template
(the ``monday_to_wordpress_polling`` template) wired to them: a vendor-app
scenario that works without an account. Sandboxes keep their state in memory, per
server process (a restart starts from the seeded board and site again).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cells import document as documents
from cells.models import ScenarioDocument
from connectors.sdk import PollingTrigger

SCENARIOS = Path(__file__).parent / "demo_scenarios"
DEMO_EMAIL = "demo@cellwright.local"
DEMO_PASSWORD = "demo"  # noqa: S105 - a published demo account on a local install
SANDBOX_APPS = ("monday", "wordpress")
SANDBOX_TEMPLATE = "monday_to_wordpress_polling"
SANDBOX_SCENARIO_NAME = "Demo: monday.com to WordPress (sandbox)"

SAMPLE_EVENTS: dict[str, list[dict[str, Any]]] = {
    "order_router.yaml": [
        {
            "method": "POST",
            "headers": {"content-type": "application/json"},
            "query": {},
            "body": {"id": 1, "amount": 42, "name": "alice"},
        },
        {
            "method": "POST",
            "headers": {"content-type": "application/json"},
            "query": {},
            "body": {"id": 2, "amount": 20, "name": "bob"},
        },
    ],
    "lead_intake.yaml": [
        {
            "method": "POST",
            "headers": {"content-type": "application/json"},
            "query": {},
            "body": {"name": "ada lovelace", "email": "ada@example.com", "country": "FR"},
        },
        {
            "method": "POST",
            "headers": {"content-type": "application/json"},
            "query": {},
            "body": {"name": "no email", "country": "US"},
        },
    ],
}


def demo_documents(server_url: str) -> list[tuple[str, ScenarioDocument]]:
    out = []
    for path in sorted(SCENARIOS.glob("*.yaml")):
        text = path.read_text(encoding="utf-8").replace("__SERVER__", server_url.rstrip("/"))
        out.append((path.name, documents.loads(text, source=path.name)))
    return out


# -- the demo -----------------------------------------------------------------------------


def ensure_demo(svc: Any) -> str | None:
    """Create the demo data if the store has no users; return a line to print, or None."""
    if svc.accounts.list_users():
        return None
    from workspace.auth import hash_password

    # the demo user is the install's admin, so the CLI (which acts as the first admin)
    # sees the same scenarios and executions as the workspace
    user = svc.accounts.create_user(
        DEMO_EMAIL, name="Demo user", password_hash=hash_password(DEMO_PASSWORD), is_admin=True
    )
    for owner in (user,):
        for filename, doc in demo_documents(svc.settings.resolved_public_url()):
            scenario = svc.import_scenario(owner.id, doc)
            svc.scenarios.go_live_unarmed(
                owner.id, scenario.id
            )  # enabled as Cellwright.enable would, before any event loop
            for event in SAMPLE_EVENTS.get(filename, []):
                # queued now, run by the executor as soon as the server starts
                svc.executions.enqueue(scenario, event)
        sandbox_demo(svc, owner)
    key, _ = svc.accounts.create_api_key(user.id, "demo")
    return (
        f"Demo data created. Sign in as {DEMO_EMAIL} / password '{DEMO_PASSWORD}'.\n"
        f"Demo API key (shown once): {key}"
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
        connection = svc.connections.add_sandbox(
            owner.id, app, details={"demo": True}
        )  # validates the sandbox credentials
        connections[key] = connection.id
    from connectors.monday.sandbox import BOARD_ID
    from workspace.templates import get_template

    doc = get_template(SANDBOX_TEMPLATE).document(
        connections,
        server_url=svc.settings.resolved_public_url(),
        name=SANDBOX_SCENARIO_NAME,
        inputs={"new_item.board_id": BOARD_ID},  # the sandbox account's content board
    )
    scenario = svc.import_scenario(owner.id, doc)
    svc.scenarios.go_live_unarmed(owner.id, scenario.id)
    trigger = doc.trigger
    op = svc.apps.get(trigger.app).trigger(trigger.operation)
    if isinstance(op, PollingTrigger):
        item = op.output.model_validate(op.sample).model_dump(mode="json")
        svc.executions.enqueue(
            scenario, item, key=f"poll:{trigger.id}:{op.item_key(item)}"
        )  # engine.scheduler's key for this item
    return scenario
