"""Demo data: on first start with an empty store, a demo user, three scenarios that
run offline, and a few executions, so a new user sees results within a minute."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cells import document as documents

SCENARIOS = Path(__file__).parent / "demo_scenarios"
DEMO_EMAIL = "demo@cellwright.local"
DEMO_PASSWORD = "demo"  # noqa: S105 - a published demo account on a local install

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


def demo_documents(server_url: str) -> list[tuple[str, documents.ScenarioDocument]]:
    out = []
    for path in sorted(SCENARIOS.glob("*.yaml")):
        text = path.read_text(encoding="utf-8").replace("__SERVER__", server_url.rstrip("/"))
        out.append((path.name, documents.loads(text, source=path.name)))
    return out


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
    key, _ = svc.store.create_api_key(user.id, "demo")
    return (
        f"Demo data created. Sign in as {DEMO_EMAIL} / password '{DEMO_PASSWORD}'.\n"
        f"Demo API key (shown once): {key}\n"
        f"Admin user: {admin.email} (set a password with the workspace's Settings page)."
    )
