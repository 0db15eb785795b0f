"""Shopify: every action and trigger against the sandbox shop, failures included."""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx
import pytest
from pydantic import BaseModel, ValidationError
from starlette.applications import Starlette

from connectors.sdk import (
    AuthError,
    IncomingRequest,
    InvalidInputError,
    RateLimitedError,
    UpstreamError,
    WebhookVerificationError,
)
from connectors.sdk.options import fetch_options
from connectors.sdk.sandboxing import sandbox_context
from connectors.shopify import api, app, triggers
from connectors.shopify import sandbox as sb

HOOK = "https://cellwright.example/hooks/tok-123"
SECRET = sb.WEBHOOK_SECRET


@pytest.fixture
def shop() -> Starlette:
    return sb.create_app()


@pytest.fixture
def ctx(shop: Starlette) -> Any:
    return sandbox_context(app, app.sandbox_credentials, asgi_app=shop)


async def run(ctx: Any, key: str, **inputs: Any) -> dict[str, Any]:
    """Run an action as the runner does: validate inputs, perform, validate output."""
    op = app.action(key)
    output = await op.perform(ctx, op.input.model_validate(inputs))
    data = output.model_dump(mode="json") if isinstance(output, BaseModel) else output
    return op.output.model_validate(data).model_dump(mode="json")


async def control(shop: Starlette, path: str, body: dict[str, Any]) -> Any:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=shop), base_url="http://sandbox.invalid"
    ) as client:
        response = await client.post(f"/__sandbox__/{path}", json=body)
        response.raise_for_status()
        return response.json()


def incoming(delivery: sb.Delivery, **override: str) -> IncomingRequest:
    headers = {k.lower(): v for k, v in delivery.headers.items()} | {
        k.replace("_", "-"): v for k, v in override.items()
    }
    return IncomingRequest("POST", headers, {}, delivery.body)


# -- connecting ---------------------------------------------------------------------------------


async def test_connection_test_names_the_shop(ctx: Any) -> None:
    assert app.auth.test is not None
    result = await app.auth.test(ctx)
    assert (
        result["label"] == "Cellwright Sandbox (cellwright-sandbox.myshopify.com)"
        and result["currency"] == "EUR"
    )


@pytest.mark.parametrize(
    ("typed", "host"),
    [
        ("acme", "acme.myshopify.com"),
        ("https://Acme.myshopify.com/admin", "acme.myshopify.com"),
        (" acme.myshopify.com ", "acme.myshopify.com"),
    ],
)
def test_the_shop_domain_is_normalised(typed: str, host: str) -> None:
    assert api.base_url({"shop": typed}) == f"https://{host}"


@pytest.mark.parametrize(
    "typed", ["", "shop.example.com", "acme.myshopify.com.evil.example", "-x.myshopify.com"]
)
def test_a_shop_that_is_not_a_myshopify_domain_is_refused_naming_the_field(typed: str) -> None:
    with pytest.raises(InvalidInputError, match="is not a Shopify shop domain") as caught:
        api.base_url({"shop": typed})
    assert caught.value.details["errors"][0]["field"] == "shop"


async def test_a_wrong_token_is_an_auth_error_without_the_token(shop: Starlette) -> None:
    ctx = sandbox_context(
        app, {**app.sandbox_credentials, "access_token": "shpat_wrong_token_123"}, asgi_app=shop
    )
    with pytest.raises(AuthError, match="refused the access token") as caught:
        await app.auth.test(ctx)  # type: ignore[misc]
    assert "shpat_wrong_token_123" not in str(
        caught.value.to_dict() if hasattr(caught.value, "to_dict") else caught.value
    )


async def test_requests_carry_the_token_header_and_the_pinned_version(shop: Starlette) -> None:
    seen: list[httpx.Request] = []
    inner = httpx.ASGITransport(app=shop)

    class Spy(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            seen.append(request)
            return await inner.handle_async_request(request)

    http = app.auth.httpx_auth(app.sandbox_credentials)
    async with httpx.AsyncClient(
        transport=Spy(), auth=http, base_url="http://sandbox.invalid"
    ) as client:
        await client.post(api.ENDPOINT, json={"query": "{ shop { name } }"})
    assert seen[0].url.path == "/admin/api/2026-10/graphql.json"
    assert (
        seen[0].headers["x-shopify-access-token"] == sb.SANDBOX_TOKEN
        and "authorization" not in seen[0].headers
    )


# -- actions ------------------------------------------------------------------------------------


async def test_create_and_update_a_product(ctx: Any) -> None:
    made = await run(
        ctx, "create_product", title="Mittens", vendor="Knits", tags=["winter"], status="ACTIVE"
    )
    assert (
        made["id"].startswith("gid://shopify/Product/")
        and made["handle"] == "mittens"
        and made["tags"] == ["winter"]
    )
    assert len(made["variants"]) == 1 and made["variants"][0]["inventory_item_id"].startswith(
        "gid://shopify/InventoryItem/"
    )
    changed = await run(
        ctx, "update_product", product_id=made["legacy_id"], title="Warm mittens", status="DRAFT"
    )
    assert (changed["id"], changed["title"], changed["status"], changed["vendor"]) == (
        made["id"],
        "Warm mittens",
        "DRAFT",
        "Knits",
    )


async def test_user_errors_become_invalid_input_naming_the_field(ctx: Any) -> None:
    with pytest.raises(
        InvalidInputError, match="Shopify refused productUpdate: product_id: Product does not exist"
    ) as caught:
        await run(ctx, "update_product", product_id="gid://shopify/Product/1", title="x")
    assert caught.value.details["errors"] == [
        {"field": "product_id", "message": "Product does not exist", "code": None}
    ]
    with pytest.raises(InvalidInputError, match="email: Email is invalid"):
        await run(ctx, "create_customer", email="not-an-address")
    with pytest.raises(
        InvalidInputError, match=r"line_items\.0\.variant_id: Product variant does not exist"
    ):
        await run(
            ctx, "create_draft_order", line_items=[{"variant_id": "gid://shopify/ProductVariant/1"}]
        )


def test_an_id_of_the_wrong_kind_is_refused_before_calling_shopify() -> None:
    with pytest.raises(
        ValidationError, match="product_id must be a Shopify ID like gid://shopify/Product/<number>"
    ):
        app.action("update_product").input.model_validate(
            {"product_id": "gid://shopify/Order/5001"}
        )
    with pytest.raises(ValidationError, match="delta must not be 0"):
        app.action("adjust_inventory").input.model_validate(
            {"inventory_item_id": "9001", "location_id": "6001", "delta": 0}
        )


async def test_create_customer_with_marketing_consent(ctx: Any) -> None:
    made = await run(
        ctx,
        "create_customer",
        email="grace@example.com",
        first_name="Grace",
        accepts_email_marketing=True,
    )
    assert made["display_name"] == "Grace" and made["email"] == "grace@example.com"
    shop_customers = [
        c
        for c in ctx.http.client._transport.app.state.sandbox.shop.customers.values()
        if c["email"] == "grace@example.com"
    ]
    assert shop_customers[0]["marketingState"] == "SUBSCRIBED"
    with pytest.raises(InvalidInputError, match="Email has already been taken"):
        await run(ctx, "create_customer", email="grace@example.com")


async def test_tags_are_added_and_the_order_updated(ctx: Any) -> None:
    await run(ctx, "add_tags", resource_id="gid://shopify/Order/5001", tags=["priority", "gift"])
    order = await run(ctx, "update_order", order_id="5001", note="Gift wrap")
    assert (
        order["tags"] == ["priority", "gift"]
        and order["note"] == "Gift wrap"
        and order["name"] == "#1001"
    )
    assert (
        order["financial_status"] == "paid"
        and order["line_items"][0]["variant_id"] == "gid://shopify/ProductVariant/8001"
    )
    with pytest.raises(InvalidInputError, match="resource_id: Customer does not exist"):
        await run(ctx, "add_tags", resource_id="gid://shopify/Customer/1", tags=["x"])


async def test_a_draft_order_is_created_and_completed_into_a_paid_order(ctx: Any) -> None:
    draft = await run(
        ctx,
        "create_draft_order",
        email="grace@example.com",
        customer_id="2001",
        line_items=[{"variant_id": "8002", "quantity": 2}, {"title": "Gift box", "price": "3.50"}],
    )
    assert (draft["status"], draft["total_price"], draft["customer_id"]) == (
        "OPEN",
        "51.50",
        "gid://shopify/Customer/2001",
    )
    done = await run(ctx, "complete_draft_order", draft_order_id=draft["id"])
    assert (
        done["status"] == "COMPLETED"
        and done["order_id"].startswith("gid://shopify/Order/")
        and done["order_name"]
    )
    with pytest.raises(InvalidInputError, match="draft_order_id: This order has already been paid"):
        await run(ctx, "complete_draft_order", draft_order_id=draft["id"])


async def test_inventory_is_adjusted_and_bad_locations_are_named(ctx: Any) -> None:
    adjusted = await run(
        ctx,
        "adjust_inventory",
        inventory_item_id="gid://shopify/InventoryItem/9001",
        location_id="gid://shopify/Location/6001",
        delta=-3,
        reason="damaged",
    )
    [change] = adjusted["changes"]
    assert (change["delta"], change["quantity_after_change"], change["location_name"]) == (
        -3,
        7,
        "Main warehouse",
    )
    with pytest.raises(
        InvalidInputError, match="location_id: The item is not stocked at the location"
    ) as caught:
        await run(ctx, "adjust_inventory", inventory_item_id="9001", location_id="6002", delta=1)
    assert caught.value.details["errors"][0]["code"] == "ITEM_NOT_STOCKED_AT_LOCATION"


async def test_a_fulfilment_ships_the_order_once(ctx: Any) -> None:
    made = await run(
        ctx,
        "create_fulfillment",
        fulfillment_order_id="3001",
        tracking_number="1Z",
        tracking_company="UPS",
    )
    assert (made["name"], made["status"], made["total_quantity"], made["order_name"]) == (
        "#1001-F1",
        "SUCCESS",
        1,
        "#1001",
    )
    order = await run(ctx, "update_order", order_id="5001")
    assert order["fulfillment_status"] == "fulfilled"
    with pytest.raises(
        InvalidInputError,
        match="fulfillment_order_id: Fulfillment order 3001 has an unfulfillable status= closed",
    ):
        await run(ctx, "create_fulfillment", fulfillment_order_id="3001")


# -- honest failures ----------------------------------------------------------------------------


async def test_a_missing_scope_is_access_denied_naming_the_scope(shop: Starlette) -> None:
    ctx = sandbox_context(
        app, {**app.sandbox_credentials, "access_token": sb.READ_ONLY_TOKEN}, asgi_app=shop
    )
    assert (await app.auth.test(ctx))["shop"] == sb.SHOP_DOMAIN  # type: ignore[misc]
    poll = app.trigger("new_order_polling")
    assert len(await poll.fetch(ctx, poll.input.model_validate({}), None)) == 1  # type: ignore[attr-defined]  # reading is allowed
    with pytest.raises(
        AuthError, match="Access denied for productCreate field. .*`write_products` access scope"
    ):
        await run(ctx, "create_product", title="x")


async def test_a_throttled_call_waits_exactly_for_the_bucket_then_succeeds(
    ctx: Any, shop: Starlette, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox = shop.state.sandbox
    clock = [1000.0]
    sandbox.clock = lambda: clock[0]
    waits: list[float] = []

    async def sleep(seconds: float) -> None:  # the sandbox's time moves on instead of ours
        waits.append(seconds)
        clock[0] += seconds

    monkeypatch.setattr(api, "sleep", sleep)
    await control(shop, "bucket", {"available": 2, "restore_rate": 50})
    result = await run(
        ctx, "add_tags", resource_id="gid://shopify/Order/5001", tags=["x"]
    )  # a mutation costs 10
    assert waits == [0.16] and result["tags_added"] == ["x"]  # (10 - 2) / 50 points a second


async def test_a_long_throttle_goes_back_to_the_engine_with_retry_after(
    shop: Starlette, ctx: Any
) -> None:
    shop.state.sandbox.clock = lambda: 1000.0  # time stands still: the bucket stays empty
    await control(shop, "bucket", {"available": 0, "restore_rate": 0.5})
    with pytest.raises(RateLimitedError, match="query cost budget is spent") as caught:
        await run(ctx, "add_tags", resource_id="gid://shopify/Order/5001", tags=["x"])
    assert caught.value.retry_after == 20.0


def test_throttle_wait_reads_throttle_status() -> None:
    cost = {
        "requestedQueryCost": 101,
        "throttleStatus": {"maximumAvailable": 2000, "currentlyAvailable": 1, "restoreRate": 100},
    }
    assert api.throttle_wait(cost) == 1.0
    assert (
        api.throttle_wait(None) is None
        and api.throttle_wait({"throttleStatus": {"restoreRate": 0}}) is None
    )


async def test_an_unknown_api_version_is_a_clear_404(
    ctx: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(api, "ENDPOINT", "/admin/api/2030-13/graphql.json")
    with pytest.raises(UpstreamError, match="does not serve API version") as caught:
        await run(ctx, "add_tags", resource_id="gid://shopify/Order/5001", tags=["x"])
    assert caught.value.status == 404 and caught.value.retryable is False


async def test_a_retired_version_falls_forward_and_is_logged(
    ctx: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(api, "ENDPOINT", "/admin/api/2024-01/graphql.json")
    with caplog.at_level(logging.WARNING, "cellwright.connector"):
        await run(ctx, "add_tags", resource_id="gid://shopify/Order/5001", tags=["x"])
    assert "the shop answered with 2026-01" in caplog.text


async def test_a_query_over_the_single_query_cost_limit_is_refused(ctx: Any) -> None:
    query = "{ orders(first: 250) { nodes { lineItems(first: 250) { nodes { id } } } } }"
    with pytest.raises(
        UpstreamError,
        match=r"exceeds the single query max cost limit \(1000\). \[MAX_COST_EXCEEDED\]",
    ):
        await api.gql(ctx, query)


# -- pagination and polling ---------------------------------------------------------------------


async def test_polling_follows_short_pages_to_the_end(ctx: Any, shop: Starlette) -> None:
    for n in range(4):
        await control(shop, "checkout", {"email": f"buyer{n}@example.com"})
    await control(
        shop, "short_pages", {"sizes": [1, 2]}
    )  # pages shorter than asked, cursors still given
    poll = app.trigger("new_order_polling")
    items = await poll.fetch(ctx, poll.input.model_validate({"max_items": 50}), None)  # type: ignore[attr-defined]
    assert [i["name"] for i in items] == [
        "#1005",
        "#1004",
        "#1003",
        "#1002",
        "#1001",
    ]  # newest first, none lost
    assert all(poll.output.model_validate(i) for i in items)


async def test_polling_since_the_cursor_and_an_empty_page(ctx: Any, shop: Starlette) -> None:
    poll = app.trigger("new_customer_polling")
    inputs = poll.input.model_validate({})
    first = await poll.fetch(ctx, inputs, None)  # type: ignore[attr-defined]
    assert [c["email"] for c in first] == ["ada@example.com"]
    assert await poll.fetch(ctx, inputs, first[0]["created_at"]) == []  # type: ignore[attr-defined]
    await run(ctx, "create_customer", email="new@example.com")
    later = await poll.fetch(ctx, inputs, first[0]["created_at"])  # type: ignore[attr-defined]
    assert [c["email"] for c in later] == ["new@example.com"] and poll.item_key(later[0]) == later[
        0
    ]["id"]


async def test_option_sources_list_locations_products_variants_and_items(ctx: Any) -> None:
    locations = await fetch_options(app.option_source("locations"), ctx, {})
    assert [(o.value, o.label) for o in locations] == [
        ("gid://shopify/Location/6001", "Main warehouse"),
        ("gid://shopify/Location/6002", "Pop-up store"),
    ]
    variants = await fetch_options(app.option_source("variants"), ctx, {})
    assert [o.label for o in variants] == [
        "Classic scarf – Blue (SKU SCARF-B)",
        "Classic scarf – Red (SKU SCARF-R)",
        "Wool beanie (SKU BEANIE)",
    ]
    items = await fetch_options(app.option_source("inventory_items"), ctx, {})
    assert items[0].value == "gid://shopify/InventoryItem/9001"
    products = await fetch_options(app.option_source("products"), ctx, {})
    assert products[0].label == "Classic scarf (7001)"


# -- webhooks -----------------------------------------------------------------------------------


async def subscribed(ctx: Any, key: str) -> dict[str, Any]:
    trigger = app.trigger(key)
    assert trigger.subscribe is not None
    return dict(await trigger.subscribe(ctx, None, HOOK))


async def test_subscribing_and_unsubscribing(ctx: Any, shop: Starlette) -> None:
    state = await subscribed(ctx, "new_order")
    hooks = shop.state.sandbox.shop.webhooks
    assert [(h["topic"], h["uri"]) for h in hooks.values()] == [("ORDERS_CREATE", HOOK)]
    with pytest.raises(
        InvalidInputError, match="webhook_url: Address for this topic has already been taken"
    ):
        await subscribed(ctx, "new_order")
    trigger = app.trigger("new_order")
    assert trigger.unsubscribe is not None
    await trigger.unsubscribe(ctx, None, state)
    await trigger.unsubscribe(ctx, None, state)  # already gone: fine
    await trigger.unsubscribe(ctx, None, {})
    assert hooks == {}


async def test_orders_placed_after_subscribing_are_delivered_signed(
    ctx: Any, shop: Starlette
) -> None:
    await control(shop, "checkout", {"email": "before@example.com"})
    state = await subscribed(ctx, "new_order")
    paid_state = await subscribed(ctx, "order_paid")
    await control(shop, "checkout", {"email": "grace@example.com", "quantity": 2})
    deliveries = sb.deliveries(shop)
    assert sb.deliveries(shop) == []  # each goes out once
    assert sorted(d.headers["X-Shopify-Topic"] for d in deliveries) == [
        "orders/create",
        "orders/paid",
    ]
    new_order = app.trigger("new_order")
    for delivery in deliveries:
        request = incoming(delivery)
        new_order.verify(request, None, state, app.sandbox_credentials)  # type: ignore[misc]
        assert {"x-shopify-shop-domain", "x-shopify-webhook-id", "x-shopify-api-version"} <= set(
            request.headers
        )
    created = next(d for d in deliveries if d.headers["X-Shopify-Topic"] == "orders/create")
    [event] = (await new_order.parse(incoming(created), None, state)).events
    assert (event["email"], event["total_price"], event["line_items"][0]["quantity"]) == (
        "grace@example.com",
        "48.00",
        2,
    )
    assert (
        event["webhook_id"] == created.headers["X-Shopify-Webhook-Id"]
        and new_order.dedupe_key == "webhook_id"
    )
    new_order.output.model_validate(event)
    assert (
        await app.trigger("order_paid").parse(incoming(created), None, paid_state)
    ).events == []  # not its topic


async def test_customers_and_products_created_are_delivered(ctx: Any, shop: Starlette) -> None:
    await subscribed(ctx, "new_customer")
    await subscribed(ctx, "new_product")
    await run(ctx, "create_customer", email="lin@example.com", first_name="Lin", tags=["vip"])
    await run(ctx, "create_product", title="Socks", tags=["a", "b"])
    by_topic = {d.headers["X-Shopify-Topic"]: d for d in sb.deliveries(shop)}
    [customer] = (
        await app.trigger("new_customer").parse(incoming(by_topic["customers/create"]), None, {})
    ).events
    [product] = (
        await app.trigger("new_product").parse(incoming(by_topic["products/create"]), None, {})
    ).events
    assert (customer["first_name"], customer["tags"], customer["id"][:23]) == (
        "Lin",
        ["vip"],
        "gid://shopify/Customer/",
    )
    assert (product["title"], product["tags"], product["status"]) == ("Socks", ["a", "b"], "DRAFT")
    app.trigger("new_customer").output.model_validate(customer)
    app.trigger("new_product").output.model_validate(product)


async def test_deliver_posts_to_the_subscribed_url(ctx: Any, shop: Starlette) -> None:
    state = await subscribed(ctx, "new_product")
    await run(ctx, "create_product", title="Hat")
    received: list[httpx.Request] = []

    def hooks(request: httpx.Request) -> httpx.Response:
        received.append(request)
        incoming_request = IncomingRequest("POST", dict(request.headers), {}, request.content)
        app.trigger("new_product").verify(incoming_request, None, state, app.sandbox_credentials)  # type: ignore[misc]
        return httpx.Response(200)

    async with httpx.AsyncClient(transport=httpx.MockTransport(hooks)) as client:
        responses = await sb.deliver(shop, client)
    assert [r.status_code for r in responses] == [200] and str(received[0].url) == HOOK


async def test_a_tampered_body_or_wrong_secret_is_refused(ctx: Any, shop: Starlette) -> None:
    state = await subscribed(ctx, "new_order")
    await control(shop, "checkout", {"email": "grace@example.com"})
    [delivery] = sb.deliveries(shop)
    verify = app.trigger("new_order").verify
    assert verify is not None
    tampered = sb.Delivery(delivery.url, delivery.headers, delivery.body.replace(b"24.00", b"0.01"))
    with pytest.raises(WebhookVerificationError, match="does not match the body"):
        verify(incoming(tampered), None, state, app.sandbox_credentials)
    with pytest.raises(WebhookVerificationError, match="does not match the body"):
        verify(incoming(delivery), None, state, {"client_secret": "another-apps-secret"})
    with pytest.raises(WebhookVerificationError, match="has no X-Shopify-Hmac-Sha256"):
        verify(IncomingRequest("POST", {}, {}, delivery.body), None, state, app.sandbox_credentials)
    with pytest.raises(WebhookVerificationError, match="client secret is not configured"):
        verify(incoming(delivery), None, state, {"access_token": "x"})
    verify(
        incoming(delivery), None, state, {"client_secret": SECRET}
    )  # an OAuth connection's: the operator's


def test_the_signature_is_base64_hmac_sha256_of_the_raw_body() -> None:
    # Shopify's documented scheme: base64(HMAC-SHA256(client secret, raw body)); the expected value
    # from `printf '{"id":1}' | openssl dgst -sha256 -hmac hush -binary | base64`.
    assert triggers.signature(b'{"id":1}', "hush") == "VnKUjZsLuN5iZWjn5EntcBVCF9kMN43LglzCE1/GSeY="
    assert sb.sign(b'{"id":1}', "hush") == triggers.signature(b'{"id":1}', "hush")


async def test_a_delivery_without_a_resource_is_a_clear_error() -> None:
    request = IncomingRequest(
        "POST", {"x-shopify-topic": "orders/create"}, {}, json.dumps({"nope": 1}).encode()
    )
    with pytest.raises(InvalidInputError, match="orders/create webhook has no resource with an id"):
        await app.trigger("new_order").parse(request, None, {})


async def test_a_duplicate_webhook_id_runs_the_scenario_once(
    svc: Any, user: Any, anon: httpx.AsyncClient
) -> None:
    """Shopify retries a delivery with the same X-Shopify-Webhook-Id: one run, not two."""
    from cells import document as documents
    from connectors.sdk.sandboxing import shared_sandbox

    connection = await svc.create_connection(user.id, "shopify", credentials={}, sandbox=True)
    text = (
        "name: Orders\ncells:\n"
        "  - {id: t, kind: trigger, app: shopify, "
        f"operation: new_order, connection: {connection.id}}}\n"
    )
    scenario = await svc.enable(user.id, svc.import_scenario(user.id, documents.loads(text)).id)
    shop = shared_sandbox("shopify", app.sandbox)
    # this run's subscription only (the sandbox is shared by the process)
    shop.state.sandbox.shop.webhooks = {
        k: v
        for k, v in shop.state.sandbox.shop.webhooks.items()
        if v["uri"].endswith(scenario.webhook_token)
    }
    await control(shop, "checkout", {"email": "grace@example.com"})
    [delivery] = sb.deliveries(shop)
    path = httpx.URL(delivery.url).path
    first = await anon.post(path, content=delivery.body, headers=delivery.headers)
    again = await anon.post(path, content=delivery.body, headers=delivery.headers)
    assert (first.status_code, again.status_code) == (202, 202)
    assert svc.store.count_executions(user.id) == 1
    forged = await anon.post(
        path, content=delivery.body.replace(b"grace", b"mallory"), headers=delivery.headers
    )
    assert forged.status_code == 401 and svc.store.count_executions(user.id) == 1
    another = {
        **delivery.headers,
        "X-Shopify-Webhook-Id": "another-delivery",
    }  # a different delivery runs
    assert (await anon.post(path, content=delivery.body, headers=another)).status_code == 202
    assert svc.store.count_executions(user.id) == 2


def _answer(status: int, body: Any) -> httpx.Response:
    request = httpx.Request("POST", "https://acme.myshopify.com/admin/api/2026-10/graphql.json")
    return (
        httpx.Response(status, json=body, request=request)
        if body is not None
        else httpx.Response(status, request=request)
    )


def test_other_shopify_errors_are_upstream_errors_with_the_message() -> None:
    frozen = api.error_parser(
        _answer(402, {"errors": "Unavailable Shop"}), {"errors": "Unavailable Shop"}
    )
    assert (
        isinstance(frozen, UpstreamError)
        and frozen.message == "Shopify: Unavailable Shop (HTTP 402)"
    )
    body = {
        "errors": [
            {"message": "Field 'x' doesn't exist", "extensions": {"code": "undefinedField"}},
            {"message": "y"},
        ]
    }
    graph = api.error_parser(_answer(200, body), body)
    assert (
        isinstance(graph, UpstreamError)
        and graph.message == "Shopify: Field 'x' doesn't exist [undefinedField] (2 errors)"
    )
    assert api.error_parser(_answer(200, {"data": {}}), {"data": {}}) is None
    assert (
        api.error_parser(_answer(502, None), "Bad gateway") is None
    )  # the HTTP client maps the status
    missing = api.error_parser(_answer(404, None), "Not Found")
    assert isinstance(missing, UpstreamError) and missing.status == 404


async def test_an_answer_without_data_or_payload_is_an_upstream_error(ctx: Any) -> None:
    with pytest.raises(UpstreamError, match="returned no result for productCreate"):
        api.result({"productCreate": None}, "productCreate")


async def test_unsubscribe_reports_other_refusals(
    ctx: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def refuse(*args: Any, **kwargs: Any) -> dict[str, Any]:
        return {
            "webhookSubscriptionDelete": {
                "userErrors": [{"field": ["id"], "message": "Access denied"}]
            }
        }

    monkeypatch.setattr(triggers, "gql", refuse)
    with pytest.raises(InvalidInputError, match="Access denied"):
        await triggers.unsubscribe(
            ctx, None, {"subscription_id": "gid://shopify/WebhookSubscription/1"}
        )
