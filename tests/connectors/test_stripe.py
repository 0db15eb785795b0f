"""Stripe: every action and trigger against the sandbox, failures included."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError
from starlette.applications import Starlette

from connectors.sdk import (
    AuthError,
    IncomingRequest,
    InvalidInputError,
    OperationContext,
    RateLimitedError,
    UpstreamError,
    WebhookVerificationError,
)
from connectors.sdk.http import build_http
from connectors.sdk.sandboxing import SANDBOX_BASE, sandbox_context
from connectors.stripe import app, sandbox
from connectors.stripe.api import STRIPE_VERSION, encode_form, form_pairs
from connectors.stripe.auth import StripeKeyFields
from connectors.stripe.triggers import verify_signature

KEY = {"api_key": "sk_test_cellwright"}
HOOK = "https://cw.example/hooks/tok_123"


@pytest.fixture
def stripe() -> Starlette:
    return sandbox.create_app()


def account(asgi: Starlette) -> sandbox.Account:
    return asgi.state.stripe  # type: ignore[no-any-return]


def context(
    asgi: Starlette, key: str = "cw-key-1", credentials: dict[str, Any] = KEY
) -> OperationContext:
    return sandbox_context(app, credentials, asgi_app=asgi, idempotency_key=key)


async def run(asgi: Starlette, op: str, data: dict[str, Any], key: str = "cw-key-1") -> Any:
    action = app.action(op)
    return await action.perform(context(asgi, key), action.input.model_validate(data))


async def fail_next(asgi: Starlette, **failure: Any) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=asgi), base_url="http://sandbox.invalid"
    ) as http:
        (await http.post("/__sandbox__/fail", json=failure)).raise_for_status()


def incoming(delivery: sandbox.Delivery) -> IncomingRequest:
    return IncomingRequest(
        "POST", {k.lower(): v for k, v in delivery.headers.items()}, {}, delivery.body
    )


# -- form encoding ---------------------------------------------------------------------


def test_form_encoding_uses_brackets() -> None:
    data = {
        "email": "ada@example.com",
        "metadata": {"plan": "pro", "seats": 3},
        "line_items": [{"price": "price_1", "quantity": 2}, {"price": "price_2", "quantity": 1}],
        "active": False,
        "description": None,
    }
    assert form_pairs(data) == [
        ("email", "ada@example.com"),
        ("metadata[plan]", "pro"),
        ("metadata[seats]", "3"),
        ("line_items[0][price]", "price_1"),
        ("line_items[0][quantity]", "2"),
        ("line_items[1][price]", "price_2"),
        ("line_items[1][quantity]", "1"),
        ("active", "false"),
    ]
    assert encode_form({"metadata": {"a b": "c&d"}}) == "metadata%5Ba+b%5D=c%26d"


_text = st.text(
    st.characters(blacklist_characters="[]", blacklist_categories=("Cs",)), min_size=1, max_size=8
)
_values = st.recursive(
    _text, lambda inner: st.dictionaries(_text, inner, min_size=1, max_size=3), max_leaves=6
)


@given(st.dictionaries(_text, _values, min_size=1, max_size=4))
def test_form_encoding_round_trips_through_the_sandbox_parser(data: dict[str, Any]) -> None:
    from urllib.parse import parse_qsl

    def listless(value: Any) -> bool:  # keys that look like list indexes decode as lists, by design
        return not isinstance(value, dict) or (
            not all(k.isdigit() for k in value) and all(listless(v) for v in value.values())
        )

    if not all(listless(v) for v in data.values()):
        return
    assert sandbox.decode_form(parse_qsl(encode_form(data), keep_blank_values=True)) == data


# -- auth ------------------------------------------------------------------------------


async def test_connection_test_names_the_account(stripe: Starlette) -> None:
    assert app.auth.test is not None
    result = await app.auth.test(context(stripe))
    assert result == {
        "label": "Cellwright Sandbox Shop (test mode)",
        "account_id": account(stripe).account_id,
    }
    restricted = await app.auth.test(context(stripe, credentials={"api_key": "rk_test_limited"}))
    assert restricted == {"label": "Stripe (test mode, restricted key)"}


async def test_a_refused_key_is_an_auth_error(stripe: Starlette) -> None:
    key = "sk_live_notforthesandbox1234"
    action = app.action("create_customer")
    with pytest.raises(AuthError, match="Invalid API Key provided") as info:
        await action.perform(context(stripe, credentials={"api_key": key}), action.input())
    assert info.value.code == "auth_invalid" and "check or reconnect" in info.value.message
    assert key not in info.value.message


async def test_a_missing_key_is_an_auth_error(stripe: Starlette) -> None:
    with pytest.raises(AuthError, match="did not provide an API key"):
        await app.auth.test(context(stripe, credentials={}))


def test_key_field_checks_the_prefix() -> None:
    assert StripeKeyFields(api_key="rk_live_abc123").api_key.get_secret_value() == "rk_live_abc123"  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="sk_live_, sk_test_"):
        StripeKeyFields(api_key="pk_test_publishable")  # type: ignore[arg-type]


def test_the_version_is_pinned() -> None:
    assert app.default_headers == {"Stripe-Version": STRIPE_VERSION}
    assert STRIPE_VERSION == "2026-07-29.dahlia"


# -- actions ---------------------------------------------------------------------------


async def test_create_customer_is_idempotent(stripe: Starlette) -> None:
    data = {"email": "ada@example.com", "name": "Ada Lovelace", "metadata": {"crm_id": "42"}}
    before = len(account(stripe).kind("customer"))
    first = await run(stripe, "create_customer", data, key="cw-run-7")
    again = await run(stripe, "create_customer", data, key="cw-run-7")  # a retried or resumed run
    assert again == first
    assert len(account(stripe).kind("customer")) == before + 1
    assert [e["type"] for e in account(stripe).events] == ["customer.created"]
    assert account(stripe).events[0]["request"]["idempotency_key"] == "cw-run-7"
    assert app.action("create_customer").output.model_validate(first).metadata == {"crm_id": "42"}

    with pytest.raises(UpstreamError, match="same parameters") as info:
        await run(stripe, "create_customer", {**data, "name": "Someone else"}, key="cw-run-7")
    assert info.value.status == 400 and not info.value.retryable
    other = await run(stripe, "create_customer", data, key="cw-run-8")
    assert other["id"] != first["id"]


async def test_a_failed_attempt_is_not_replayed(stripe: Starlette) -> None:
    await fail_next(stripe, path="/v1/customers", status=500)
    with pytest.raises(UpstreamError) as info:
        await run(stripe, "create_customer", {"email": "ada@example.com"}, key="cw-retry")
    assert info.value.retryable
    created = await run(stripe, "create_customer", {"email": "ada@example.com"}, key="cw-retry")
    assert created["email"] == "ada@example.com"


async def test_rate_limit_carries_retry_after(stripe: Starlette) -> None:
    await fail_next(stripe, path="/v1/products", status=429, headers={"Retry-After": "2"})
    with pytest.raises(RateLimitedError) as info:
        await run(stripe, "create_product", {"name": "Pro"})
    assert info.value.retry_after == 2 and info.value.retryable


async def test_update_customer(stripe: Starlette) -> None:
    customer = await run(
        stripe, "create_customer", {"email": "ada@example.com", "metadata": {"a": "1", "b": "2"}}
    )
    updated = await run(
        stripe,
        "update_customer",
        {"customer": customer["id"], "name": "Ada", "metadata": {"a": ""}},
        key="k2",
    )
    assert updated["id"] == customer["id"] and updated["name"] == "Ada"
    assert updated["metadata"] == {"b": "2"}  # an empty value removes a key
    assert account(stripe).events[-1]["data"]["previous_attributes"]["name"] is None
    with pytest.raises(UpstreamError, match="No such customer: 'cus_missing'") as info:
        await run(stripe, "update_customer", {"customer": "cus_missing", "name": "x"}, key="k3")
    assert info.value.status == 404


async def test_vendor_validation_names_the_field(stripe: Starlette) -> None:
    with pytest.raises(InvalidInputError, match="parameter 'email'") as info:
        await run(stripe, "create_customer", {"email": "not-an-email"})
    assert info.value.errors == [
        {
            "field": "email",
            "message": "Invalid email address: not-an-email",
            "type": "email_invalid",
        }
    ]


async def test_find_customer(stripe: Starlette) -> None:
    found = await run(stripe, "find_customer", {"email": "grace@example.com"})
    assert found.found and found.customer is not None and found.customer.name == "Grace Hopper"
    missing = await run(stripe, "find_customer", {"email": "nobody@example.com"})
    assert missing.model_dump() == {"found": False, "customer": None}


async def test_product_price_and_payment_link(stripe: Starlette) -> None:
    product = await run(stripe, "create_product", {"name": "Pro plan", "active": True}, key="p")
    price = await run(
        stripe,
        "create_price",
        {
            "product": product["id"],
            "currency": "EUR",
            "unit_amount": 1900,
            "recurring_interval": "month",
        },
        key="pr",
    )
    assert price["currency"] == "eur" and price["type"] == "recurring"
    assert price["recurring"]["interval"] == "month" and price["recurring"]["interval_count"] == 1
    one_time = await run(
        stripe,
        "create_price",
        {"product": product["id"], "currency": "eur", "unit_amount": 500},
        key="pr2",
    )
    assert one_time["type"] == "one_time" and one_time["recurring"] is None
    link = await run(
        stripe,
        "create_payment_link",
        {"line_items": [{"price": price["id"], "quantity": 2}]},
        key="pl",
    )
    assert link["url"].startswith("https://buy.stripe.com/") and link["currency"] == "eur"
    for op, data in (
        ("create_product", product),
        ("create_price", price),
        ("create_payment_link", link),
    ):
        app.action(op).output.model_validate(data)

    with pytest.raises(InvalidInputError, match="No such product: 'prod_nope'") as info:
        await run(
            stripe,
            "create_price",
            {"product": "prod_nope", "currency": "usd", "unit_amount": 1},
            key="pr3",
        )
    assert info.value.errors[0]["field"] == "product"
    with pytest.raises(InvalidInputError, match=r"line_items\[0\]\[price\]"):
        await run(
            stripe, "create_payment_link", {"line_items": [{"price": "price_nope"}]}, key="pl2"
        )


async def test_refunds(stripe: Starlette) -> None:
    intent = next(iter(account(stripe).kind("payment_intent").values()))
    partial = await run(
        stripe,
        "create_refund",
        {"payment_intent": intent["id"], "amount": 500, "reason": "requested_by_customer"},
        key="r1",
    )
    assert (
        partial["amount"] == 500
        and partial["status"] == "succeeded"
        and partial["charge"] == intent["latest_charge"]
    )
    with pytest.raises(InvalidInputError, match="greater than unrefunded amount") as info:
        await run(
            stripe, "create_refund", {"charge": intent["latest_charge"], "amount": 5000}, key="r2"
        )
    assert info.value.errors[0]["field"] == "amount"
    rest = await run(stripe, "create_refund", {"charge": intent["latest_charge"]}, key="r3")
    assert rest["amount"] == intent["amount"] - 500
    with pytest.raises(UpstreamError, match="already been refunded"):
        await run(stripe, "create_refund", {"charge": intent["latest_charge"]}, key="r4")
    assert {"refund.created", "charge.refunded"} <= {e["type"] for e in account(stripe).events}


@pytest.mark.parametrize(
    ("op", "data", "field"),
    [
        ("create_product", {}, "name"),
        ("update_customer", {"name": "x"}, "customer"),
        ("create_price", {"product": "prod_1", "currency": "usd"}, "unit_amount"),
        ("create_payment_link", {"line_items": []}, "line_items"),
        ("create_refund", {"amount": 5}, "payment_intent or charge"),
        ("create_customer", {"emial": "typo@example.com"}, "emial"),
    ],
)
def test_input_validation_names_the_field(op: str, data: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        app.action(op).input.model_validate(data)
    assert field in str(info.value)


# -- instant triggers --------------------------------------------------------------------


async def test_subscribe_receive_and_unsubscribe(stripe: Starlette) -> None:
    trigger = app.trigger("new_customer")
    assert trigger.subscribe and trigger.unsubscribe and trigger.verify
    state = await trigger.subscribe(context(stripe, key=""), None, HOOK)
    endpoint = account(stripe).kind("webhook_endpoint")[state["webhook_endpoint_id"]]
    assert endpoint["url"] == HOOK and endpoint["enabled_events"] == ["customer.created"]
    assert endpoint["api_version"] == STRIPE_VERSION and state["secret"].startswith("whsec_")

    customer = await run(stripe, "create_customer", {"email": "ada@example.com"})
    [delivery] = sandbox.deliveries(stripe)
    assert sandbox.deliveries(stripe) == []  # each event goes out once
    request = incoming(delivery)
    trigger.verify(request, None, state, KEY)
    reply = await trigger.parse(request, None, state)
    [event] = reply.events
    assert event["id"] == customer["id"] and event["event_type"] == "customer.created"
    assert trigger.output.model_validate(event).email == "ada@example.com"

    await trigger.unsubscribe(context(stripe), None, state)
    assert account(stripe).kind("webhook_endpoint") == {}
    await trigger.unsubscribe(context(stripe), None, state)  # deleted already: fine


async def test_enabling_sends_an_idempotency_key_and_a_lost_answer_makes_one_endpoint(
    stripe: Starlette,
) -> None:
    """Enabling has no run to take a key from: the POST gets its own key, and when the answer
    is lost on the way back the same request goes again with it, so Stripe replays the
    endpoint it made (stripe-python's retry) instead of leaving a second one."""
    sent: list[httpx.Request] = []

    class LoseFirstAnswer(httpx.AsyncBaseTransport):
        inner = httpx.ASGITransport(app=stripe)

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            await request.aread()
            sent.append(request)
            response = await self.inner.handle_async_request(request)
            if len(sent) == 1:
                raise httpx.ReadTimeout("the answer never came", request=request)
            return response

    http = build_http(
        app_key="stripe",
        base_url=SANDBOX_BASE,
        auth=app.auth.httpx_auth(KEY),
        headers=app.default_headers,
        error_parser=app.error_parser,
        transport=LoseFirstAnswer(),
    )
    ctx = OperationContext(http=http, credentials=KEY)
    trigger = app.trigger("new_customer")
    assert trigger.subscribe
    state = await trigger.subscribe(ctx, None, HOOK)
    keys = [r.headers.get("idempotency-key") for r in sent]
    assert len(keys) == 2 and keys[0] and keys[0] == keys[1]
    assert list(account(stripe).kind("webhook_endpoint")) == [state["webhook_endpoint_id"]]
    other = await trigger.subscribe(
        context(stripe, key=""), None, HOOK
    )  # enabling again later: a new key
    assert other["webhook_endpoint_id"] != state["webhook_endpoint_id"]


async def test_unsubscribe_reports_other_failures(stripe: Starlette) -> None:
    trigger = app.trigger("invoice_paid")
    assert trigger.subscribe and trigger.unsubscribe
    state = await trigger.subscribe(context(stripe), None, HOOK)
    await fail_next(
        stripe,
        path=f"/v1/webhook_endpoints/{state['webhook_endpoint_id']}",
        method="DELETE",
        status=500,
    )
    with pytest.raises(UpstreamError):
        await trigger.unsubscribe(context(stripe), None, state)


@pytest.mark.parametrize(
    ("key", "event_type"),
    [
        ("payment_succeeded", "payment_intent.succeeded"),
        ("checkout_completed", "checkout.session.completed"),
        ("invoice_paid", "invoice.paid"),
    ],
)
async def test_each_event_trigger_parses_its_event(
    stripe: Starlette, key: str, event_type: str
) -> None:
    trigger = app.trigger(key)
    assert trigger.subscribe and trigger.verify
    state = await trigger.subscribe(context(stripe), None, HOOK)
    sandbox.emit(stripe, "customer.created")  # not this trigger's: not delivered to its endpoint
    event = sandbox.emit(stripe, event_type)
    [delivery] = sandbox.deliveries(stripe)
    trigger.verify(incoming(delivery), None, state, KEY)
    [item] = (await trigger.parse(incoming(delivery), None, state)).events
    assert item["event_id"] == event["id"] and item["id"] == event["data"]["object"]["id"]
    trigger.output.model_validate(item)
    other = json.dumps({**event, "type": "customer.created"}).encode()
    assert (await trigger.parse(IncomingRequest("POST", {}, {}, other), None, state)).events == []


async def test_deliver_posts_signed_events(stripe: Starlette) -> None:
    trigger = app.trigger("payment_succeeded")
    assert trigger.subscribe and trigger.verify
    state = await trigger.subscribe(context(stripe), None, HOOK)
    sandbox.emit(stripe, "payment_intent.succeeded")
    received: list[httpx.Request] = []

    def hooks(request: httpx.Request) -> httpx.Response:
        received.append(request)
        trigger.verify(
            IncomingRequest("POST", dict(request.headers), {}, request.content), None, state, KEY
        )  # type: ignore[misc]
        return httpx.Response(200)

    async with httpx.AsyncClient(transport=httpx.MockTransport(hooks)) as client:
        responses = await sandbox.deliver(stripe, client)
    assert [r.status_code for r in responses] == [200] and str(received[0].url) == HOOK


# -- signatures, exactly as https://docs.stripe.com/webhooks#verify-manually -----------------

SECRET = "whsec_test_secret"
BODY = b'{\n  "id": "evt_1",\n  "object": "event",\n  "type": "customer.created"\n}'


def stripe_header(body: bytes, secret: str, t: int, extra: str = "") -> str:
    signed_payload = f"{t}.".encode() + body  # timestamp, ".", raw body
    signature = hmac.new(secret.encode(), signed_payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={signature}{extra}"


def test_a_stripe_signed_payload_is_accepted() -> None:
    now = int(time.time())
    verify_signature(BODY, stripe_header(BODY, SECRET, now), SECRET)
    rolled = (
        f"t={now},v1={'0' * 64}," + stripe_header(BODY, SECRET, now).split(",")[1] + ",v0=legacy"
    )
    verify_signature(BODY, rolled, SECRET)  # several v1 (secret rotation), unknown schemes ignored
    verify_signature(BODY, stripe_header(BODY, SECRET, now - 299), SECRET)
    assert sandbox.sign(BODY, SECRET, now) == stripe_header(BODY, SECRET, now)


@pytest.mark.parametrize(
    ("body", "header_secret", "age", "message"),
    [
        (BODY.replace(b"customer", b"charge"), SECRET, 0, "does not match"),
        (BODY, "whsec_other", 0, "does not match"),
        (BODY, SECRET, 301, "possible replay"),
    ],
    ids=["tampered-body", "wrong-secret", "too-old"],
)
def test_a_bad_signature_is_refused(
    body: bytes, header_secret: str, age: int, message: str
) -> None:
    header = stripe_header(BODY, header_secret, int(time.time()) - age)
    with pytest.raises(WebhookVerificationError, match=message):
        verify_signature(body, header, SECRET)


def test_a_timestamp_from_the_future_is_accepted_like_stripe_python() -> None:
    """stripe-python only refuses old timestamps: a receiving clock five minutes slow must
    not refuse every delivery."""
    now = int(time.time())
    verify_signature(BODY, stripe_header(BODY, SECRET, now + 400), SECRET)
    verify_signature(BODY, stripe_header(BODY, SECRET, now + 86_400), SECRET, now=now)


def test_the_header_is_read_as_stripe_python_reads_it() -> None:
    now = int(time.time())
    good = stripe_header(BODY, SECRET, now)
    t, v1 = good.split(",")
    verify_signature(BODY, f"{t},{t.replace(str(now), '1')},{v1}", SECRET)  # the first t counts
    verify_signature(BODY, f"{v1},{t}", SECRET)  # in any order
    with pytest.raises(WebhookVerificationError, match="no v1 signature"):
        verify_signature(BODY, f"{t}, {v1}", SECRET)  # a space after the comma: " v1" is not "v1"
    with pytest.raises(WebhookVerificationError, match="no timestamp"):
        verify_signature(BODY, f" {t},{v1}", SECRET)


@pytest.mark.parametrize("header", [None, "", "v1=abc", "t=123", "t=abc,v1=00", "t,v1=00"])
def test_a_malformed_header_is_refused(header: str | None) -> None:
    with pytest.raises(WebhookVerificationError, match="Missing or malformed"):
        verify_signature(BODY, header, SECRET)


def test_no_secret_in_state_is_refused() -> None:
    trigger = app.trigger("new_customer")
    assert trigger.verify
    request = IncomingRequest(
        "POST", {"stripe-signature": stripe_header(BODY, SECRET, int(time.time()))}, {}, BODY
    )
    with pytest.raises(WebhookVerificationError, match="no signing secret"):
        trigger.verify(request, None, {}, KEY)


# -- polling -------------------------------------------------------------------------------


async def test_polling_for_new_customers(stripe: Starlette) -> None:
    trigger = app.trigger("new_customer_polling")
    first = await trigger.fetch(context(stripe), None, None)  # type: ignore[attr-defined]
    assert [c["name"] for c in first] == ["Ada Lovelace", "Grace Hopper"]  # newest first
    cursor = max(c["created"] for c in first)
    acct = account(stripe)
    for i in range(105):  # more than one page of 100
        acct.add(sandbox.customer_object(acct, {"email": f"c{i}@example.com"}))
    later = await trigger.fetch(context(stripe), None, cursor)  # type: ignore[attr-defined]
    assert len(later) == 106  # the 105 new ones plus the one at the cursor second (deduped by id)
    assert {trigger.item_key(c) for c in later} >= {
        c["id"] for c in acct.kind("customer").values() if c["created"] > cursor
    }  # type: ignore[attr-defined]
    assert trigger.cursor_field == "created"  # type: ignore[attr-defined]


# -- catalog -------------------------------------------------------------------------------


@pytest.mark.parametrize("op", [*app.triggers, *app.actions], ids=lambda op: op.key)
def test_samples_and_schemas(op: Any) -> None:
    op.output.model_validate(op.sample)
    assert op.sample, f"{op.key} has an empty sample"
    for model in (op.input, op.output):
        schema = model.model_json_schema()
        _all_described(model, schema)


def _all_described(model: type[BaseModel], schema: dict[str, Any]) -> None:
    for name, prop in schema.get("properties", {}).items():
        assert prop.get("description"), f"{model.__name__}.{name} has no description"
    for sub in schema.get("$defs", {}).values():
        _all_described(model, sub)


def test_describe_lists_everything() -> None:
    described = app.describe()
    assert len(described["triggers"]) == 5 and len(described["actions"]) == 7
    assert described["auth_schema"]["type"] == "api_key"


@pytest.mark.parametrize("op", app.actions, ids=lambda op: op.key)
async def test_each_example_runs_against_a_fresh_sandbox(op: Any) -> None:
    ctx = sandbox_context(app, app.sandbox_credentials, idempotency_key="cw-example")
    result = await op.perform(ctx, op.input.model_validate(op.example))
    op.output.model_validate(result.model_dump() if isinstance(result, BaseModel) else result)


# -- signed deliveries that are not Stripe events ---------------------------------------------

EVENT = {
    "id": "evt_1",
    "type": "customer.created",
    "created": 1700000000,
    "data": {"object": {"id": "cus_1", "object": "customer"}},
}


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({k: v for k, v in EVENT.items() if k != "data"}, "has no data.object"),
        ({**EVENT, "data": {"object": "cus_1"}}, "has no data.object"),
        ({**EVENT, "data": []}, "has no data.object"),
        ({k: v for k, v in EVENT.items() if k != "id"}, "has no id"),
        ({**EVENT, "id": {"nested": True}}, "has no id"),
        ({**EVENT, "created": "yesterday"}, "has no created time"),
    ],
    ids=[
        "no-data",
        "object-is-a-string",
        "data-is-a-list",
        "no-id",
        "id-is-an-object",
        "created-is-text",
    ],
)
async def test_an_event_stripe_would_never_send_is_an_input_error(
    event: dict[str, Any], message: str
) -> None:
    """A signature proves who sent a delivery, not its shape: a clear 400, not a server error."""
    trigger = app.trigger("new_customer")
    request = IncomingRequest(
        "POST", {"content-type": "application/json"}, {}, json.dumps(event).encode()
    )
    with pytest.raises(InvalidInputError, match=message) as info:
        await trigger.parse(request, None, {})
    assert "it is not an event Stripe sends" in info.value.message
    [item] = (
        await trigger.parse(IncomingRequest("POST", {}, {}, json.dumps(EVENT).encode()), None, {})
    ).events
    assert (item["id"], item["event_id"], item["event_created"]) == ("cus_1", "evt_1", 1700000000)


async def test_signed_deliveries_that_cannot_be_read_are_refused_over_http(
    svc: Any, user: Any, anon: httpx.AsyncClient
) -> None:
    from cells import document as documents

    connection = await svc.create_connection(user.id, "stripe", credentials={}, sandbox=True)
    text = (
        "name: Stripe\ncells:\n"
        "  - {id: t, kind: trigger, app: stripe, "
        f"operation: new_customer, connection: {connection.id}}}\n"
    )
    scenario = await svc.enable(user.id, svc.import_scenario(user.id, documents.loads(text)).id)
    secret = svc.store.webhook_subscriptions(scenario.id)[0].state["secret"]

    async def deliver(body: bytes) -> httpx.Response:
        headers = {
            "content-type": "application/json",
            "stripe-signature": sandbox.sign(body, secret),
        }
        return await anon.post(f"/hooks/{scenario.webhook_token}", content=body, headers=headers)

    deep = (
        b'{"id": "evt_2", "type": "customer.created", "data": {"object": '
        + b"[" * 1000
        + b"]" * 1000
        + b"}}"
    )
    for body, message in [
        (deep, "nested more than 100 levels deep"),
        (
            json.dumps({k: v for k, v in EVENT.items() if k != "data"}).encode(),
            "has no data.object",
        ),
        (json.dumps({**EVENT, "data": {"object": "cus_1"}}).encode(), "has no data.object"),
        (json.dumps({k: v for k, v in EVENT.items() if k != "id"}).encode(), "has no id"),
    ]:
        refused = await deliver(body)
        assert refused.status_code == 400, refused.text
        assert refused.json()["error"] == "invalid_input" and message in refused.json()["message"]
    assert svc.store.count_executions(user.id) == 0
    assert (await deliver(json.dumps(EVENT).encode())).status_code == 202
