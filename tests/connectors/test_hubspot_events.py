"""HubSpot webhook events: v3 signatures, fan-out by portal, and the sandbox's own deliveries."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from connectors.hubspot import app, events, sandbox
from connectors.hubspot.api import VERSION
from connectors.hubspot.auth import SANDBOX_CLIENT_SECRET, SANDBOX_CREDENTIALS
from connectors.sdk import IncomingRequest, InstantTrigger, WebhookVerificationError
from connectors.sdk.sandboxing import SANDBOX_BASE, sandbox_context

URL = "https://cw.example/hooks/apps/hubspot/tok_abc"
NOW_MS = 1_796_650_000_000
SECRET = {"client_secret": SANDBOX_CLIENT_SECRET}
OTHER_PORTAL = 99_000_001


@pytest.fixture(autouse=True)
def pinned_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(events, "clock", lambda: NOW_MS / 1000)


def received(
    delivery: sandbox.Delivery,
    *,
    host: str | None = None,
    body: bytes | None = None,
    **headers: str,
) -> IncomingRequest:
    """A delivery as Cellwright's server hands it to the trigger: lower-case headers, Host, path."""
    url = httpx.URL(delivery.url)
    seen = (
        {k.lower(): v for k, v in delivery.headers.items()}
        | {"host": host or url.netloc.decode()}
        | headers
    )
    return IncomingRequest(
        "POST", seen, dict(url.params), delivery.body if body is None else body, path=url.path
    )


def documented_v3(secret: str, method: str, uri: str, body: bytes, timestamp: int) -> str:
    """HubSpot's v3 recipe written out independently of the connector: base64 of
    HMAC-SHA256(client secret, method + URI + body + timestamp)."""
    source = f"{method}{uri}{body.decode()}{timestamp}".encode()
    return base64.b64encode(hmac.new(secret.encode(), source, hashlib.sha256).digest()).decode()


# -- v3 signatures ------------------------------------------------------------------------------


def test_a_v3_signature_over_method_uri_body_and_timestamp_is_accepted() -> None:
    body = json.dumps([sandbox.event("contact.creation", 1001)]).encode()
    headers = {
        "x-hubspot-signature-v3": documented_v3(SANDBOX_CLIENT_SECRET, "POST", URL, body, NOW_MS),
        "x-hubspot-request-timestamp": str(NOW_MS),
        "host": "cw.example",
        "content-type": "application/json",
    }
    events.verify_signature(
        IncomingRequest("POST", headers, {}, body, path="/hooks/apps/hubspot/tok_abc"), SECRET
    )


def test_a_tampered_body_is_refused() -> None:
    delivery = sandbox.signed(
        URL,
        [
            sandbox.event(
                "deal.propertyChange", 2001, propertyName="dealstage", propertyValue="closedlost"
            )
        ],
        timestamp_ms=NOW_MS,
    )
    tampered = delivery.body.replace(b"closedlost", b"closedwon")
    with pytest.raises(WebhookVerificationError, match="does not match"):
        events.verify_signature(received(delivery, body=tampered), SECRET)
    events.verify_signature(received(delivery), SECRET)  # the untouched one passes


def test_a_timestamp_older_than_five_minutes_is_refused() -> None:
    stale = sandbox.signed(
        URL, [sandbox.event("contact.creation", 1001)], timestamp_ms=NOW_MS - 300_001
    )
    with pytest.raises(WebhookVerificationError, match="more than 5 minutes"):
        events.verify_signature(received(stale), SECRET)
    events.verify_signature(
        received(sandbox.signed(URL, [], timestamp_ms=NOW_MS - 299_000)), SECRET
    )


def test_another_secret_another_url_or_missing_headers_are_refused() -> None:
    delivery = sandbox.signed(URL, [sandbox.event("contact.creation", 1001)], timestamp_ms=NOW_MS)
    with pytest.raises(WebhookVerificationError, match="does not match"):
        events.verify_signature(received(delivery), {"client_secret": "not-the-app-secret"})
    with pytest.raises(WebhookVerificationError, match="does not match"):  # replayed at another URL
        events.verify_signature(received(delivery, host="evil.example"), SECRET)
    bare = IncomingRequest(
        "POST", {"host": "cw.example"}, {}, delivery.body, path="/hooks/apps/hubspot/tok_abc"
    )
    with pytest.raises(WebhookVerificationError, match="Missing X-HubSpot-Signature-v3"):
        events.verify_signature(bare, SECRET)
    with pytest.raises(WebhookVerificationError, match="not a time in milliseconds"):
        events.verify_signature(
            received(delivery, **{"x-hubspot-request-timestamp": "yesterday"}), SECRET
        )


def test_without_a_client_secret_the_connection_says_where_to_put_one() -> None:
    delivery = sandbox.signed(URL, [], timestamp_ms=NOW_MS)
    with pytest.raises(
        WebhookVerificationError, match="CELLWRIGHT_OAUTH_CLIENTS__hubspot__CLIENT_SECRET"
    ):
        events.verify_signature(received(delivery), {"access_token": "pat-na1-x"})


def test_behind_a_proxy_the_forwarded_host_and_scheme_are_what_hubspot_signed() -> None:
    delivery = sandbox.signed(URL, [], timestamp_ms=NOW_MS)
    behind = received(
        delivery,
        host="127.0.0.1:8000",
        **{"x-forwarded-host": "cw.example", "x-forwarded-proto": "https"},
    )
    events.verify_signature(behind, SECRET)


# -- picking events: type, property, stage, portal ------------------------------------------------


BATCH = [
    sandbox.event("contact.creation", 1001, event_id=1, changeFlag="NEW"),
    sandbox.event("contact.creation", 1500, event_id=2, portal_id=OTHER_PORTAL),
    sandbox.event(
        "contact.propertyChange",
        1001,
        event_id=3,
        propertyName="lifecyclestage",
        propertyValue="customer",
    ),
    sandbox.event(
        "contact.propertyChange", 1001, event_id=4, propertyName="phone", propertyValue="123"
    ),
    sandbox.event("deal.creation", 2002, event_id=5),
    sandbox.event(
        "deal.propertyChange", 2001, event_id=6, propertyName="dealstage", propertyValue="closedwon"
    ),
    sandbox.event(
        "deal.propertyChange",
        2001,
        event_id=7,
        propertyName="dealstage",
        propertyValue="closedlost",
        portal_id=OTHER_PORTAL,
    ),
]


async def picked(key: str, inputs: dict[str, Any], state: dict[str, Any]) -> list[tuple[str, str]]:
    op = app.trigger(key)
    assert isinstance(op, InstantTrigger)
    reply = await op.parse(
        received(sandbox.signed(URL, BATCH, timestamp_ms=NOW_MS)),
        op.input.model_validate(inputs),
        state,
    )
    return [(e["event_id"], e["object_id"]) for e in reply.events]


async def test_each_trigger_takes_its_events_of_the_connections_portal() -> None:
    mine = {"portal_id": sandbox.PORTAL_ID}
    assert await picked("new_contact_instant", {}, mine) == [("1", "1001")]
    assert await picked("new_contact_instant", {}, {}) == [
        ("1", "1001"),
        ("2", "1500"),
    ]  # a scenario's own URL: no portal known
    assert await picked(
        "contact_property_changed_instant", {"property": "lifecyclestage"}, mine
    ) == [("3", "1001")]
    assert (
        await picked(
            "contact_property_changed_instant",
            {"property": "lifecyclestage", "value": "lead"},
            mine,
        )
        == []
    )
    assert await picked("new_deal_instant", {}, mine) == [("5", "2002")]
    assert await picked("deal_stage_changed_instant", {}, mine) == [("6", "2001")]
    assert await picked("deal_stage_changed_instant", {"stage": "closedlost"}, mine) == []
    assert await picked("deal_stage_changed_instant", {"stage": "closedlost"}, {}) == [
        ("7", "2001")
    ]


async def test_a_retried_event_keeps_its_dedupe_key() -> None:
    op = app.trigger("new_contact_instant")
    assert isinstance(op, InstantTrigger) and op.dedupe_key == "key"
    first, retry = ({**BATCH[0], "attemptNumber": n} for n in (0, 1))
    keys = [
        (
            await op.parse(received(sandbox.signed(URL, [e], timestamp_ms=NOW_MS)), op.input(), {})
        ).events[0]
        for e in (first, retry)
    ]
    assert keys[0]["key"] == keys[1]["key"] and keys[1]["attempt_number"] == 1


# -- the sandbox's own deliveries ----------------------------------------------------------------


async def developer(
    asgi: Starlette, method: str, path: str, body: dict[str, Any], key: str = sandbox.DEVELOPER_KEY
) -> httpx.Response:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=asgi), base_url=SANDBOX_BASE
    ) as client:
        return await client.request(
            method,
            f"/webhooks/{VERSION}/{sandbox.APP_ID}/{path}",
            params={"hapikey": key},
            json=body,
        )


async def test_sandbox_changes_are_posted_signed_to_the_apps_target_url(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hubspot = sandbox.create_app()
    assert (
        await developer(hubspot, "PUT", "settings", {"targetUrl": URL}, key="wrong")
    ).status_code == 401
    assert (
        await developer(
            hubspot,
            "PUT",
            "settings",
            {"targetUrl": URL, "throttling": {"maxConcurrentRequests": 5}},
        )
    ).status_code == 200
    for sub in (
        {"eventType": "contact.creation", "active": True},
        {"eventType": "deal.propertyChange", "propertyName": "dealstage", "active": True},
    ):
        assert (await developer(hubspot, "POST", "subscriptions", sub)).status_code == 201
    assert (
        await developer(hubspot, "POST", "subscriptions", {"eventType": "deal.propertyChange"})
    ).status_code == 400

    ctx = sandbox_context(app, SANDBOX_CREDENTIALS, asgi_app=hubspot)
    action = app.action("create_or_update_contact")
    made = await action.perform(ctx, action.input.model_validate({"email": "new@example.com"}))
    await action.perform(
        ctx, action.input.model_validate({"email": "ada@example.com", "firstname": "Augusta"})
    )  # no subscription
    await ctx.http.patch(
        f"/crm/objects/{VERSION}/deals/2001", json={"properties": {"dealstage": "contractsent"}}
    )

    [delivery] = sandbox.deliveries(hubspot)
    assert delivery.url == URL and delivery.headers["Content-Type"] == "application/json"
    sent = json.loads(delivery.body)
    assert [(e["subscriptionType"], e["objectId"]) for e in sent] == [
        ("contact.creation", int(made.id)),
        ("deal.propertyChange", 2001),
    ]
    assert {e["portalId"] for e in sent} == {sandbox.PORTAL_ID} and sent[1][
        "propertyValue"
    ] == "contractsent"
    assert sandbox.deliveries(hubspot) == []  # sent once

    monkeypatch.setattr(
        events, "clock", lambda: int(delivery.headers["X-HubSpot-Request-Timestamp"]) / 1000
    )
    incoming = received(delivery)
    events.CONNECTION_WEBHOOK.verify(incoming, SANDBOX_CREDENTIALS)
    stage = app.trigger("deal_stage_changed_instant")
    assert isinstance(stage, InstantTrigger)
    reply = await stage.parse(incoming, stage.input(), {"portal_id": sandbox.PORTAL_ID})
    assert [(e["object_id"], e["property_value"]) for e in reply.events] == [
        ("2001", "contractsent")
    ]


async def test_without_a_target_url_nothing_is_delivered() -> None:
    hubspot = sandbox.create_app()
    await developer(hubspot, "POST", "subscriptions", {"eventType": "contact.creation"})
    ctx = sandbox_context(app, SANDBOX_CREDENTIALS, asgi_app=hubspot)
    await ctx.http.post(
        f"/crm/objects/{VERSION}/contacts", json={"properties": {"email": "quiet@example.com"}}
    )
    assert sandbox.deliveries(hubspot) == []


def test_a_scenarios_own_url_verifies_the_same_way() -> None:
    op = app.trigger("new_contact_instant")
    assert isinstance(op, InstantTrigger) and op.verify is not None
    delivery = sandbox.signed(URL, [sandbox.event("contact.creation", 1001)], timestamp_ms=NOW_MS)
    op.verify(received(delivery), op.input(), {}, SECRET)
    with pytest.raises(WebhookVerificationError):
        op.verify(received(delivery), op.input(), {}, {"client_secret": "wrong"})
