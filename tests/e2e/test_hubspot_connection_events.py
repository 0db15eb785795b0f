"""One HubSpot app feeds every HubSpot instant trigger of its connection, end to end.

A HubSpot app has one webhook target URL for the events of every portal that installed
it, so the URL belongs to the HubSpot connection (``/hooks/apps/hubspot/<token>``) and
each connection keeps its own portal's events. Real components only: a uvicorn server in
a thread, the store on ``tmp_path``, the shared HubSpot sandbox (as ``cellwright serve``
mounts it), whose webhook deliveries are POSTed, v3-signed, over HTTP.
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from cells import document as documents
from connectors.hubspot import sandbox as sb
from connectors.hubspot.auth import SANDBOX_CREDENTIALS
from connectors.registry import default_registry
from connectors.sdk.sandboxing import SANDBOX_BASE, shared_sandbox
from engine.service import Cellwright
from engine.settings import Settings
from workspace.server import create_app

OPERATOR_SECRET = "operator-hubspot-client-secret"  # noqa: S105 - a test value


@pytest.fixture
def settings(make_settings: Any) -> Settings:
    """The operator's OAuth client for HubSpot: its
    secret signs the webhooks of OAuth connections."""
    return make_settings(
        oauth_clients={
            "hubspot": {"client_id": "operator-client", "client_secret": OPERATOR_SECRET}
        }
    )  # type: ignore[no-any-return]


def scenario(name: str, connection_id: str, operation: str, inputs: str = "{}") -> Any:
    return documents.loads(
        f"name: {name}\ncells:\n"
        f"  - {{id: hs, kind: trigger, app: hubspot, operation: {operation}, "
        f"connection: {connection_id}, inputs: {inputs}}}\n"
        "  - {id: count, kind: action, app: probe, operation: count, "
        "inputs: {value: '{{ trigger.object_id }}'}}\n"
    )


def hubspot_sandbox() -> Any:
    app = default_registry().get("hubspot")
    assert app.sandbox is not None
    return shared_sandbox(app.key, app.sandbox)


async def as_developer(asgi: Any, method: str, path: str, body: dict[str, Any]) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=asgi), base_url=SANDBOX_BASE
    ) as client:
        answer = await client.request(
            method,
            f"/webhooks/2026-03/{sb.APP_ID}/{path}",
            params={"hapikey": sb.DEVELOPER_KEY},
            json=body,
        )
        assert answer.status_code < 300, answer.text


async def as_user(asgi: Any, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {SANDBOX_CREDENTIALS['access_token']}"}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=asgi), base_url=SANDBOX_BASE, headers=headers
    ) as client:
        answer = await client.request(method, path, json=body)
        assert answer.status_code < 300, answer.text
        return answer.json()  # type: ignore[no-any-return]


async def post(delivery: sb.Delivery) -> httpx.Response:
    async with httpx.AsyncClient(timeout=10) as client:
        return await client.post(delivery.url, content=delivery.body, headers=delivery.headers)


async def test_the_connection_url_fans_a_portals_events_out_to_its_scenarios(
    svc: Cellwright, user: Any, probe: Any, helpers: Any
) -> None:
    with helpers.ThreadedServer(create_app(svc, start=False)) as server:
        svc.settings.public_url = server.url
        hubspot = await svc.create_connection(user.id, "hubspot", credentials={}, sandbox=True)
        assert hubspot.status == "active", hubspot.status_message
        assert hubspot.metadata["portal_id"] == sb.PORTAL_ID  # recorded by the connection test
        url = svc.connection_events_url(user.id, hubspot.id)
        assert url is not None and url.startswith(f"{server.url}/hooks/apps/hubspot/")

        contacts = svc.import_scenario(
            user.id, scenario("New contacts", hubspot.id, "new_contact_instant")
        )
        won = svc.import_scenario(
            user.id,
            scenario("Won deals", hubspot.id, "deal_stage_changed_instant", "{stage: closedwon}"),
        )
        for each in (contacts, won):
            await svc.enable(user.id, each.id)

        # the HubSpot app's developer points the app at the connection's URL and subscribes
        asgi = hubspot_sandbox()
        await as_developer(asgi, "PUT", "settings", {"targetUrl": url})
        await as_developer(
            asgi, "POST", "subscriptions", {"eventType": "contact.creation", "active": True}
        )
        await as_developer(
            asgi,
            "POST",
            "subscriptions",
            {"eventType": "deal.propertyChange", "propertyName": "dealstage", "active": True},
        )

        # people use HubSpot: a new contact, a deal won, a deal lost
        made = await as_user(
            asgi,
            "POST",
            "/crm/objects/2026-03/contacts",
            {"properties": {"email": "e2e@example.com"}},
        )
        await as_user(
            asgi,
            "PATCH",
            "/crm/objects/2026-03/deals/2001",
            {"properties": {"dealstage": "closedwon"}},
        )
        await as_user(
            asgi,
            "PATCH",
            "/crm/objects/2026-03/deals/2001",
            {"properties": {"dealstage": "closedlost"}},
        )
        [delivery] = sb.deliveries(asgi)
        answer = await post(delivery)
        assert answer.status_code == 200 and answer.json()["accepted"] == 2, answer.text
        done = [await helpers.finished(svc, i) for i in answer.json()["execution_ids"]]
        assert {(d["scenario_id"], d["cells"][1]["output"]["value"]) for d in done} == {
            (contacts.id, made["id"]),
            (won.id, "2001"),
        }
        assert all(d["status"] == "completed" for d in done)

        # HubSpot retries the same batch: no second run
        again = await post(sb.signed(delivery.url, json.loads(delivery.body)))
        assert again.status_code == 200 and sorted(again.json()["execution_ids"]) == sorted(
            answer.json()["execution_ids"]
        )

        # another portal's events arrive at the same URL
        # (one app, many installs): acknowledged, not run
        elsewhere = await post(
            sb.signed(url, [sb.event("contact.creation", 777, portal_id=99_000_001, event_id=5)])
        )
        assert elsewhere.status_code == 200 and elsewhere.json() == {
            "accepted": 0,
            "execution_ids": [],
        }

        # forged or stale deliveries are refused and store nothing
        count = svc.store.count_executions(user.id)
        forged = await post(
            sb.signed(
                url, [sb.event("contact.creation", 778, event_id=6)], secret="not-the-client-secret"
            )
        )
        assert forged.status_code == 401 and forged.json()["error"] == "webhook_unverified"
        stale = sb.signed(
            url,
            [sb.event("contact.creation", 779, event_id=7)],
            timestamp_ms=int(time.time() * 1000) - 301_000,
        )
        assert (await post(stale)).status_code == 401
        assert svc.store.count_executions(user.id) == count


async def test_an_oauth_connection_verifies_with_the_operators_client_secret(
    svc: Cellwright, user: Any, helpers: Any
) -> None:
    with helpers.ThreadedServer(create_app(svc, start=False)) as server:
        svc.settings.public_url = server.url
        # a connection made by signing in (its token set stored; no client secret with it)
        connection = svc.store.create_connection(
            user.id,
            "hubspot",
            "HubSpot: portal 24681357",
            {"access_token": "CO-token", "refresh_token": "na1-r", "expires_at": 9e9},
            is_sandbox=False,
            status="active",
            metadata={"auth_type": "oauth2", "portal_id": sb.PORTAL_ID},
        )
        svc.ingress.forget()
        url = svc.connection_events_url(user.id, connection.id) or ""
        new = svc.import_scenario(
            user.id, scenario("New contacts", connection.id, "new_contact_instant")
        )
        await svc.enable(user.id, new.id)

        signed_by_operator = await post(
            sb.signed(
                url, [sb.event("contact.creation", 1001, event_id=11)], secret=OPERATOR_SECRET
            )
        )
        assert (
            signed_by_operator.status_code == 200 and signed_by_operator.json()["accepted"] == 1
        ), signed_by_operator.text
        other_secret = await post(sb.signed(url, [sb.event("contact.creation", 1001, event_id=12)]))
        assert other_secret.status_code == 401
        for execution in svc.store.list_executions(user.id):
            await helpers.finished(svc, execution.id)
