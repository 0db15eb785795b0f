"""Mailchimp triggers: audience webhooks (URL check, form deliveries, the URL's secret) and
polling, against the sandbox and through Cellwright's webhook ingress."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest
from starlette.applications import Starlette

from cells import document as documents
from connectors.mailchimp import app, sandbox
from connectors.mailchimp.api import subscriber_hash
from connectors.mailchimp.auth import SANDBOX_KEY
from connectors.mailchimp.triggers import decode_form, event_item
from connectors.sdk import (
    IncomingRequest,
    InstantTrigger,
    OperationContext,
    PollingTrigger,
    UpstreamError,
    WebhookVerificationError,
)
from connectors.sdk.sandboxing import sandbox_context, shared_sandbox
from tests.conftest import finished, wait_for

AUDIENCE = "a1b2c3d4e5"
HOOK = "https://cw.example/hooks/tok_123"


@pytest.fixture
def mc() -> Starlette:
    return sandbox.create_app()


def context(asgi: Starlette) -> OperationContext:
    return sandbox_context(app, {"api_key": SANDBOX_KEY}, asgi_app=asgi)


def instant(key: str) -> InstantTrigger:
    trigger = app.trigger(key)
    assert isinstance(trigger, InstantTrigger)
    return trigger


def polling(key: str) -> PollingTrigger:
    trigger = app.trigger(key)
    assert isinstance(trigger, PollingTrigger)
    return trigger


def incoming(delivery: sandbox.Delivery) -> IncomingRequest:
    url = urlsplit(delivery.url)
    headers = {k.lower(): v for k, v in delivery.headers.items()}
    return IncomingRequest(
        delivery.method, headers, dict(parse_qsl(url.query)), delivery.body, path=url.path
    )


async def act(asgi: Starlette, op: str, data: dict[str, Any]) -> Any:
    action = app.action(op)
    return await action.perform(context(asgi), action.input.model_validate(data))


# -- subscribing -----------------------------------------------------------------------------------


async def test_subscribe_registers_a_secret_url_and_mailchimp_checks_it(mc: Starlette) -> None:
    trigger = instant("new_subscriber")
    inputs = trigger.input.model_validate({"list_id": AUDIENCE})
    state = await trigger.subscribe(context(mc), inputs, HOOK)  # type: ignore[misc]
    [hook] = mc.state.mailchimp.webhooks[AUDIENCE].values()
    assert (
        state == {"id": hook["id"], "list_id": AUDIENCE, "secret": state["secret"]}
        and len(state["secret"]) >= 32
    )
    assert hook["url"] == f"{HOOK}?secret={state['secret']}"
    assert hook["events"] == {
        "subscribe": True,
        "unsubscribe": False,
        "profile": False,
        "cleaned": False,
        "upemail": False,
        "campaign": False,
    }
    assert hook["sources"] == {"user": True, "admin": True, "api": True}

    [check] = sandbox.deliveries(mc)  # the GET Mailchimp sends when the webhook is saved
    assert (check.method, check.url, check.body) == ("GET", hook["url"], b"")
    request = incoming(check)
    trigger.verify(request, inputs, state, {})  # type: ignore[misc]
    reply = await trigger.parse(request, inputs, state)
    assert reply.response is not None and reply.response[0] == 200 and reply.events == []

    await trigger.unsubscribe(context(mc), inputs, state)  # type: ignore[misc]
    assert mc.state.mailchimp.webhooks[AUDIENCE] == {}
    await trigger.unsubscribe(context(mc), inputs, state)  # type: ignore[misc]  # already gone: fine


async def test_unsubscribing_reports_other_failures(mc: Starlette) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=mc), base_url="http://sandbox.invalid"
    ) as http:
        await http.post(
            "/__sandbox__/fail", json={"path": "/webhooks/wh1", "method": "DELETE", "status": 500}
        )
    with pytest.raises(UpstreamError) as info:
        await instant("new_subscriber").unsubscribe(
            context(mc), None, {"id": "wh1", "list_id": AUDIENCE}
        )  # type: ignore[misc]
    assert info.value.status == 500 and info.value.retryable


# -- deliveries ------------------------------------------------------------------------------------

DELIVERY = urlencode(
    [
        ("type", "subscribe"),
        ("fired_at", "2026-03-26 21:35:57"),
        ("data[id]", "8a25ff1d98"),
        ("data[list_id]", AUDIENCE),
        ("data[email]", "api@mailchimp.com"),
        ("data[email_type]", "html"),
        ("data[merges][EMAIL]", "api@mailchimp.com"),
        ("data[merges][FNAME]", "Mailchimp"),
        ("data[merges][LNAME]", "API"),
        ("data[merges][INTERESTS]", "Group1,Group2"),
        ("data[merges][GROUPINGS][0][id]", "1"),
        ("data[merges][GROUPINGS][0][name]", "Colours"),
        ("data[merges][GROUPINGS][0][groups]", "Blue"),
        ("data[ip_opt]", "10.20.10.30"),
        ("data[ip_signup]", "10.20.10.30"),
    ]
).encode()


async def test_a_form_delivery_becomes_a_clean_nested_event() -> None:
    trigger = instant("new_subscriber")
    request = IncomingRequest(
        "POST",
        {"content-type": "application/x-www-form-urlencoded"},
        {"secret": "s3cret"},
        DELIVERY,
    )
    trigger.verify(request, None, {"secret": "s3cret"}, {})  # type: ignore[misc]
    [event] = (await trigger.parse(request, None, {})).events
    assert event == {
        "type": "subscribe",
        "fired_at": "2026-03-26 21:35:57",
        "id": "8a25ff1d98",
        "list_id": AUDIENCE,
        "email": "api@mailchimp.com",
        "email_type": "html",
        "ip_opt": "10.20.10.30",
        "ip_signup": "10.20.10.30",
        "merges": {
            "EMAIL": "api@mailchimp.com",
            "FNAME": "Mailchimp",
            "LNAME": "API",
            "INTERESTS": "Group1,Group2",
            "GROUPINGS": [{"id": "1", "name": "Colours", "groups": "Blue"}],
        },
        "event_key": "subscribe:8a25ff1d98:2026-03-26 21:35:57",
    }
    trigger.output.model_validate(event)


async def test_each_trigger_takes_only_its_events() -> None:
    unsub = urlencode(
        {
            "type": "unsubscribe",
            "fired_at": "2026-03-26 21:40:57",
            "data[action]": "unsub",
            "data[reason]": "manual",
            "data[id]": "8a25ff1d98",
            "data[email]": "api@mailchimp.com",
            "data[list_id]": AUDIENCE,
        }
    ).encode()
    upemail = urlencode(
        {
            "type": "upemail",
            "fired_at": "2026-03-26 22:15:09",
            "data[list_id]": AUDIENCE,
            "data[new_id]": "51aa6d3c2c",
            "data[new_email]": "new@mailchimp.com",
            "data[old_email]": "old@mailchimp.com",
        }
    ).encode()
    for key, body, wanted in [
        ("new_subscriber", unsub, None),
        ("unsubscribed", unsub, "unsubscribe"),
        ("unsubscribed", DELIVERY, None),
        ("subscriber_updated", upemail, "upemail"),
        ("subscriber_updated", DELIVERY, None),
    ]:
        events = (await instant(key).parse(IncomingRequest("POST", {}, {}, body), None, {})).events
        assert [e["type"] for e in events] == ([wanted] if wanted else []), key
    [moved] = (
        await instant("subscriber_updated").parse(
            IncomingRequest("POST", {}, {}, upemail), None, {}
        )
    ).events
    assert (moved["id"], moved["email"], moved["old_email"]) == (
        "51aa6d3c2c",
        "new@mailchimp.com",
        "old@mailchimp.com",
    )
    assert moved["merges"] == {}


@pytest.mark.parametrize(
    ("query", "state", "message"),
    [
        ({}, {"secret": "s3cret"}, "Missing or wrong secret"),
        ({"secret": "guess"}, {"secret": "s3cret"}, "Missing or wrong secret"),
        ({"secret": "s3cret"}, {}, "no webhook secret"),
    ],
)
async def test_a_delivery_without_the_right_secret_is_refused(
    query: dict[str, str], state: dict[str, str], message: str
) -> None:
    trigger = instant("new_subscriber")
    with pytest.raises(WebhookVerificationError, match=message):
        trigger.verify(IncomingRequest("POST", {}, query, DELIVERY), None, state, {})  # type: ignore[misc]
    # the URL check arrives before the secret is stored (Mailchimp sends it while the
    # webhook is being created): it is answered, and runs nothing
    check = IncomingRequest("GET", {}, query, b"")
    trigger.verify(check, None, state, {})  # type: ignore[misc]
    reply = await trigger.parse(check, None, state)
    assert reply.response is not None and reply.response[0] == 200 and reply.events == []


def test_decoding_keeps_odd_forms_readable() -> None:
    assert decode_form(b"a=1&a[b]=2&c[]=x&c[]=y") == {"a": {"b": "2"}, "c": ["x", "y"]}
    assert (
        event_item({"type": "cleaned", "fired_at": "t", "data": {"email": "x@y.z", "merges": "?"}})[
            "merges"
        ]
        == {}
    )


async def test_member_changes_in_the_sandbox_are_delivered(mc: Starlette) -> None:
    states = {}
    for key in ("new_subscriber", "unsubscribed", "subscriber_updated"):
        states[key] = await instant(key).subscribe(
            context(mc), instant(key).input.model_validate({"list_id": AUDIENCE}), f"{HOOK}/{key}"
        )  # type: ignore[misc]
    sandbox.deliveries(mc)  # the three URL checks
    await act(
        mc,
        "add_or_update_subscriber",
        {"list_id": AUDIENCE, "email": "ada@example.com", "merge_fields": {"FNAME": "Ada"}},
    )
    await act(
        mc,
        "add_or_update_subscriber",
        {"list_id": AUDIENCE, "email": "ada@example.com", "merge_fields": {"FNAME": "Ada L."}},
    )
    await act(mc, "unsubscribe", {"list_id": AUDIENCE, "email": "ada@example.com"})
    got: dict[str, list[str]] = {}
    for delivery in sandbox.deliveries(mc):
        key = urlsplit(delivery.url).path.rsplit("/", 1)[1]
        request = incoming(delivery)
        instant(key).verify(request, None, states[key], {})  # type: ignore[misc]
        assert request.content_type == "application/x-www-form-urlencoded"
        got.setdefault(key, []).extend(
            e["email"] for e in (await instant(key).parse(request, None, states[key])).events
        )
    assert got == {
        "new_subscriber": ["ada@example.com"],
        "subscriber_updated": ["ada@example.com"],
        "unsubscribed": ["ada@example.com"],
    }


async def test_deliver_sends_the_check_and_the_events_to_the_registered_url(mc: Starlette) -> None:
    received: list[httpx.Request] = []

    def endpoint(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(200)

    trigger = instant("new_subscriber")
    await trigger.subscribe(context(mc), trigger.input.model_validate({"list_id": AUDIENCE}), HOOK)  # type: ignore[misc]
    sandbox.signup(mc, AUDIENCE, "lin@example.com")
    async with httpx.AsyncClient(transport=httpx.MockTransport(endpoint)) as client:
        answers = await sandbox.deliver(mc, client)
    assert [a.status_code for a in answers] == [200, 200]
    assert [(r.method, r.url.path) for r in received] == [
        ("GET", "/hooks/tok_123"),
        ("POST", "/hooks/tok_123"),
    ]
    assert received[1].headers["content-type"] == "application/x-www-form-urlencoded"
    assert b"data%5Bemail%5D=lin%40example.com" in received[1].content
    assert sandbox.deliveries(mc) == []  # each request is sent once


# -- through Cellwright's ingress ------------------------------------------------------------------


async def test_end_to_end_a_signup_runs_the_scenario_that_tags_the_subscriber(
    svc: Any, user: Any, anon: httpx.AsyncClient
) -> None:
    connection = await svc.create_connection(user.id, "mailchimp", credentials={}, sandbox=True)
    assert connection.status == "active" and connection.metadata["dc"] == "us21"
    text = f"""name: Welcome
cells:
  - id: t
    kind: trigger
    app: mailchimp
    operation: new_subscriber
    connection: {connection.id}
    inputs: {{list_id: {AUDIENCE}}}
  - id: tag
    kind: action
    app: mailchimp
    operation: add_tags
    connection: {connection.id}
    inputs:
      list_id: "{{{{ trigger.list_id }}}}"
      email: "{{{{ trigger.email }}}}"
      tags: [welcomed]
"""
    scenario = await svc.enable(user.id, svc.import_scenario(user.id, documents.loads(text)).id)
    mc = shared_sandbox("mailchimp", str(app.sandbox))
    token = scenario.webhook_token

    async def send(delivery: sandbox.Delivery, url: str | None = None) -> httpx.Response:
        target = urlsplit(url or delivery.url)
        return await anon.request(
            delivery.method,
            f"{target.path}?{target.query}",
            content=delivery.body or None,
            headers=delivery.headers,
        )

    outbox = mc.state.mailchimp.outbox
    await outbox.drain()  # the server hosts the sandbox: its requests reach /hooks/ in process
    mine = [(d.method, status) for d, status in outbox.sent if token in d.url]
    assert mine == [("GET", 200)]  # Mailchimp's check when saving the webhook

    email = f"{token[:8].lower()}@example.com"
    sandbox.signup(mc, AUDIENCE, email, {"FNAME": "Lin"})
    await outbox.drain()
    [(post, status)] = [(d, s) for d, s in outbox.sent if token in d.url and d.method == "POST"]
    assert status == 202
    execution = await wait_for(
        lambda: next(iter(svc.store.list_executions(user.id, scenario_id=scenario.id)), None)
    )
    run = await finished(svc, execution.id)
    assert run["status"] == "completed", run
    member = mc.state.mailchimp.members[AUDIENCE][subscriber_hash(email)]
    assert [t["name"] for t in member["tags"]] == ["welcomed"]

    tampered = await send(post, post.url.split("?")[0])
    assert tampered.status_code == 401 and tampered.json()["error"] == "webhook_unverified"
    again = await send(post)  # Mailchimp's retry of the same event starts no second run
    assert again.status_code == 202 and again.json()["execution_ids"] == [execution.id]
    assert len(svc.list_executions(user.id, scenario_id=scenario.id)) == 1

    await svc.disable(user.id, scenario.id)
    assert not any(token in h["url"] for h in mc.state.mailchimp.webhooks[AUDIENCE].values())


async def test_lead_generation_adds_a_subscriber_with_tags_on_the_sandbox(
    svc: Any, user: Any
) -> None:
    connection = await svc.create_connection(user.id, "mailchimp", credentials={}, sandbox=True)
    text = f"""name: Leads
cells:
  - {{id: form, kind: trigger, app: webhook, operation: catch_hook}}
  - id: nurture
    kind: action
    app: mailchimp
    operation: add_or_update_subscriber
    connection: {connection.id}
    inputs:
      list_id: {AUDIENCE}
      email: "{{{{ trigger.body.email }}}}"
      merge_fields: {{FNAME: "{{{{ trigger.body.name }}}}"}}
      tags: [nurture]
"""
    scenario = await svc.enable(user.id, svc.import_scenario(user.id, documents.loads(text)).id)
    email = f"lead-{scenario.id[-6:]}@example.com"
    run = await svc.run_now(user.id, scenario.id, {"body": {"email": email, "name": "Lin"}})
    assert run["status"] == "completed", run
    member = shared_sandbox("mailchimp", str(app.sandbox)).state.mailchimp.members[AUDIENCE][
        subscriber_hash(email)
    ]
    assert member["merge_fields"]["FNAME"] == "Lin" and [t["name"] for t in member["tags"]] == [
        "nurture"
    ]


# -- polling ---------------------------------------------------------------------------------------


async def test_polling_new_subscribers_then_changes(mc: Starlette) -> None:
    inputs = polling("new_subscriber_polling").input.model_validate({"list_id": AUDIENCE})
    first = await polling("new_subscriber_polling").fetch(context(mc), inputs, None)
    assert [m["email_address"] for m in first] == [
        "katherine@example.com",
        "alan@example.com",
        "grace@example.com",
    ]
    since = first[0]["timestamp_opt"]
    await act(mc, "add_or_update_subscriber", {"list_id": AUDIENCE, "email": "ada@example.com"})
    later = await polling("new_subscriber_polling").fetch(context(mc), inputs, since)
    assert [m["email_address"] for m in later][:1] == ["ada@example.com"] and len(
        later
    ) <= 2  # since one second earlier

    await act(mc, "unsubscribe", {"list_id": AUDIENCE, "email": "alan@example.com"})
    gone = await polling("unsubscribed_polling").fetch(context(mc), inputs, since)
    assert [m["email_address"] for m in gone] == ["alan@example.com"]
    changed = await polling("subscriber_updated_polling").fetch(context(mc), inputs, since)
    assert {m["email_address"] for m in changed} >= {"ada@example.com", "alan@example.com"}
    key = polling("subscriber_updated_polling").item_key(changed[0])
    assert (
        key == f"{changed[0]['id']}:{changed[0]['last_changed']}"
    )  # a member changed twice fires twice


async def test_polling_sent_campaigns(mc: Starlette) -> None:
    trigger = polling("new_campaign_sent")
    [sent] = await trigger.fetch(context(mc), None, None)
    assert sent["id"] == "c0ffee0000" and sent["status"] == "sent"
    await act(mc, "send_campaign", {"campaign_id": "c0ffee0001"})
    newer = await trigger.fetch(context(mc), None, sent["send_time"])
    assert [c["id"] for c in newer][0] == "c0ffee0001"
