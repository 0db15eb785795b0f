"""The requirements' second example, end to end: a form posts a lead to a webhook → a
lead score is computed → the HubSpot contact is upserted → the Mailchimp subscriber is
added with a nurture tag → only when the score passes 50, a HubSpot task for sales,
associated with the contact.

Real components only: a uvicorn server whose ``/hooks/{token}`` URL the form posts to,
the store on ``tmp_path``, the runner, and sandbox connections to the HubSpot and
Mailchimp simulators. The scenario is the shipped ``lead_generation`` template, used as
the gallery uses it (its asked audience picked from the connection's dropdown).
"""

from __future__ import annotations

from typing import Any

import httpx

from connectors.hubspot import app as hubspot
from connectors.mailchimp import app as mailchimp
from connectors.mailchimp.api import subscriber_hash
from connectors.sdk.sandboxing import shared_sandbox
from engine.service import Cellwright
from workspace.server import create_app
from workspace.templates import get_template
from workspace.views.templates import GalleryState

HOT = {
    "email": "Ada@Example.com",
    "first_name": "ada",
    "last_name": "lovelace",
    "company": "Analytical Engines",
    "budget": 5000,
    "phone": "+44 20 7946 0000",
}  # 40 + 30 + 20 = 90
COLD = {"email": "bob@example.net", "first_name": "bob", "last_name": "brown"}  # 0


def contact(portal: Any, email: str) -> Any:
    found = [r for r in portal.kind("contacts").values() if r.value("email") == email]
    assert len(found) == 1, f"{len(found)} contacts for {email}"
    return found[0]


async def test_a_hot_and_a_cold_lead_through_webhook_hubspot_and_mailchimp(
    make_settings: Any, registry: Any, helpers: Any
) -> None:
    svc = Cellwright(make_settings(), apps=registry)
    with helpers.ThreadedServer(
        create_app(svc), lifespan="on"
    ) as server:  # the lifespan starts the service
        svc.settings.public_url = server.url
        user = svc.store.create_user("sales@example.com", name="Sales")
        connections = {}
        for key in ("hubspot", "mailchimp"):
            connection = await svc.create_connection(user.id, key, credentials={}, sandbox=True)
            assert connection.status == "active", connection.status_message
            connections[key] = connection.id
        template = get_template("lead_generation")
        gallery = GalleryState(svc, user)
        [ask] = template.asks
        audiences = await gallery.options(template.key, ask, connections, {})
        audience = str(audiences[0].value)
        scenario = gallery.use(template.key, connections, inputs={ask.key: audience})
        await svc.enable(user.id, scenario.id)
        url = svc.webhook_url(svc.scenario(user.id, scenario.id))

        tasks_before = set(
            shared_sandbox("hubspot", str(hubspot.sandbox)).state.hubspot.kind("tasks")
        )
        async with httpx.AsyncClient(timeout=10) as form:
            hot = await form.post(url, json=HOT, headers={"Idempotency-Key": "form-1"})
            cold = await form.post(url, json=COLD, headers={"Idempotency-Key": "form-2"})
            again = await form.post(
                url, json=HOT, headers={"Idempotency-Key": "form-1"}
            )  # the form retried
        assert hot.status_code == cold.status_code == again.status_code == 202, (
            hot.text,
            cold.text,
            again.text,
        )
        assert again.json()["execution_id"] == hot.json()["execution_id"]  # no second run

        hot_run = await helpers.finished(svc, hot.json()["execution_id"], timeout=20)
        cold_run = await helpers.finished(svc, cold.json()["execution_id"], timeout=20)
        assert hot_run["status"] == cold_run["status"] == "completed", (
            hot_run["error"],
            cold_run["error"],
        )
        assert len(svc.list_executions(user.id, scenario_id=scenario.id)) == 2
        status = {
            run["id"]: {c["cell_id"]: c["status"] for c in run["cells"]}
            for run in (hot_run, cold_run)
        }
        assert status[hot_run["id"]]["task"] == "completed"
        assert "task" not in status[cold_run["id"]] or status[cold_run["id"]]["task"] == "skipped"
        lead = next(c for c in hot_run["cells"] if c["cell_id"] == "lead")
        assert lead["output"]["score"] == 90 and lead["output"]["email"] == "ada@example.com"

        portal = shared_sandbox("hubspot", str(hubspot.sandbox)).state.hubspot
        ada, bob = contact(portal, "ada@example.com"), contact(portal, "bob@example.net")
        assert (ada.value("firstname"), ada.value("lastname"), ada.value("company")) == (
            "Ada",
            "Lovelace",
            "Analytical Engines",
        )
        new_tasks = [portal.kind("tasks")[t] for t in set(portal.kind("tasks")) - tasks_before]
        assert len(new_tasks) == 1  # only the hot lead's
        [task] = new_tasks
        assert "Ada" in (task.value("hs_task_subject") or "") and "90" in (
            task.value("hs_task_subject") or ""
        )
        assert ("tasks", task.id, "contacts", ada.id) in portal.associations
        assert not any(a[0] == "tasks" and a[3] == bob.id for a in portal.associations)

        account = shared_sandbox("mailchimp", str(mailchimp.sandbox)).state.mailchimp
        for email, first in (("ada@example.com", "Ada"), ("bob@example.net", "Bob")):
            member = account.members[audience][subscriber_hash(email)]
            assert member["merge_fields"]["FNAME"] == first
            assert "nurture" in [t["name"] for t in member["tags"]]
