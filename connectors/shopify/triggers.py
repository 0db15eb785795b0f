"""Shopify triggers: webhook subscriptions (instant) and polling fallbacks.

Instant triggers subscribe the scenario's URL with ``webhookSubscriptionCreate`` when it is
enabled and delete the subscription when it is disabled
(https://shopify.dev/docs/apps/build/webhooks/subscribe/subscribe-using-api). Shopify signs
each delivery with ``X-Shopify-Hmac-Sha256``: the base64 HMAC-SHA256 of the raw body with
the app's client secret (https://shopify.dev/docs/apps/build/webhooks/verify-deliveries).
For a token connection that secret is the connection's ``client_secret`` field; for an
OAuth connection it is the operator's OAuth client secret, which the engine passes in the
same ``client_secret`` (never stored with the connection). Shopify retries a delivery with
the same ``X-Shopify-Webhook-Id`` (up to 8 times over 4 hours), so that id is each event's
``webhook_id`` and the engine's dedupe key: a retried delivery starts no second run.

Polling triggers ask ``orders``/``customers``/``products`` for what was created since the
last check (``query: "created_at:>…"``, newest first), following cursors.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from pydantic import BaseModel

from connectors.sdk import (
    IncomingRequest,
    InstantTrigger,
    InvalidInputError,
    OperationContext,
    PollingTrigger,
    UpstreamError,
    WebhookReply,
    WebhookVerificationError,
    load_sample,
    secret_value,
)
from connectors.shopify.api import gql, pages, result
from connectors.shopify.records import (
    CUSTOMER_FIELDS,
    ORDER_FIELDS,
    PRODUCT_FIELDS,
    customer_from_graphql,
    customer_from_rest,
    order_from_graphql,
    order_from_rest,
    product_from_graphql,
    product_from_rest,
)
from connectors.shopify.schemas import (
    CustomerEvent,
    NoTriggerInput,
    OrderEvent,
    PollInput,
    ProductEvent,
)

SUBSCRIBE = """mutation WebhookSubscribe(
  $topic: WebhookSubscriptionTopic!, $subscription: WebhookSubscriptionInput!
) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: $subscription) {
    webhookSubscription { id topic uri }
    userErrors { field message }
  }
}"""
UNSUBSCRIBE = """mutation WebhookUnsubscribe($id: ID!) {
  webhookSubscriptionDelete(id: $id) { deletedWebhookSubscriptionId userErrors { field message } }
}"""
NEW_ORDERS = (
    ORDER_FIELDS
    + """query NewOrders($first: Int!, $after: String, $query: String) {
  orders(first: $first, after: $after, query: $query, sortKey: CREATED_AT, reverse: true) {
    nodes { ...OrderFields } pageInfo { hasNextPage endCursor }
  }
}"""
)
NEW_CUSTOMERS = (
    CUSTOMER_FIELDS
    + """query NewCustomers($first: Int!, $after: String, $query: String) {
  customers(first: $first, after: $after, query: $query, sortKey: CREATED_AT, reverse: true) {
    nodes { ...CustomerFields } pageInfo { hasNextPage endCursor }
  }
}"""
)
NEW_PRODUCTS = (
    PRODUCT_FIELDS
    + """query NewProducts($first: Int!, $after: String, $query: String) {
  products(first: $first, after: $after, query: $query, sortKey: CREATED_AT, reverse: true) {
    nodes { ...ProductFields } pageInfo { hasNextPage endCursor }
  }
}"""
)

Reader = Callable[[Mapping[str, Any]], dict[str, Any]]


# -- subscribing ----------------------------------------------------------------------------------


def _subscriber(topic: str) -> Callable[[OperationContext, Any, str], Awaitable[Mapping[str, Any]]]:
    async def subscribe(ctx: OperationContext, inputs: Any, webhook_url: str) -> Mapping[str, Any]:
        variables = {"topic": topic, "subscription": {"uri": webhook_url, "format": "JSON"}}
        payload = result(
            await gql(ctx, SUBSCRIBE, variables),
            "webhookSubscriptionCreate",
            {"uri": "webhook_url", "callbackUrl": "webhook_url"},
        )
        made = payload.get("webhookSubscription") or {}
        if not made.get("id"):
            raise UpstreamError("Shopify did not create the webhook subscription.", body=payload)
        return {"subscription_id": made["id"], "topic": topic, "webhook_url": webhook_url}

    return subscribe


async def unsubscribe(ctx: OperationContext, inputs: Any, state: Mapping[str, Any]) -> None:
    """Delete the webhook subscription; one already gone (deleted after failures) is fine."""
    if not state.get("subscription_id"):
        return
    try:
        result(
            await gql(ctx, UNSUBSCRIBE, {"id": state["subscription_id"]}),
            "webhookSubscriptionDelete",
        )
    except InvalidInputError as error:
        if "does not exist" not in error.message:
            raise


# -- receiving ------------------------------------------------------------------------------------


def signature(body: bytes, secret: str) -> str:
    """``X-Shopify-Hmac-Sha256`` of ``body``: base64 of its HMAC-SHA256 with ``secret``."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def verify(
    request: IncomingRequest, inputs: Any, state: Mapping[str, Any], credentials: Mapping[str, Any]
) -> None:
    """Check ``X-Shopify-Hmac-Sha256`` against the raw body (constant-time)."""
    secret = secret_value(credentials.get("client_secret"))
    if not secret:
        raise WebhookVerificationError(
            "The Shopify app's client secret is not configured, so this webhook cannot be checked: "
            "add it to the connection (API secret key)."
        )
    given = request.header("x-shopify-hmac-sha256") or ""
    if not given:
        raise WebhookVerificationError(
            "The request has no X-Shopify-Hmac-Sha256 header: it does not come from Shopify."
        )
    if not hmac.compare_digest(given.encode(), signature(request.body, secret).encode()):
        raise WebhookVerificationError(
            "The X-Shopify-Hmac-Sha256 signature does not match the body: "
            "refused (wrong client secret, or a forged or altered request)."
        )


def _parser(
    topic: str, read: Reader
) -> Callable[[IncomingRequest, Any, Mapping[str, Any]], Awaitable[WebhookReply]]:
    async def parse(
        request: IncomingRequest, inputs: Any, state: Mapping[str, Any]
    ) -> WebhookReply:
        if (request.header("x-shopify-topic") or "") != topic:
            return WebhookReply()  # another topic's delivery: not this trigger's
        body = request.json()
        if not isinstance(body, Mapping) or body.get("id") is None:
            raise InvalidInputError(f"The Shopify {topic} webhook has no resource with an id.")
        event = {
            **read(body),
            "webhook_id": request.header("x-shopify-webhook-id"),
            "topic": topic,
            "shop_domain": request.header("x-shopify-shop-domain"),
            "triggered_at": request.header("x-shopify-triggered-at"),
        }
        return WebhookReply(events=[event])

    return parse


# -- polling --------------------------------------------------------------------------------------


Fetch = Callable[[OperationContext, PollInput, Any], Awaitable[list[Mapping[str, Any]]]]


def _poller(query: str, root: str, read: Reader, page_size: int) -> Fetch:
    async def fetch(
        ctx: OperationContext, inputs: PollInput, since: Any
    ) -> list[Mapping[str, Any]]:
        search = f"created_at:>'{since}'" if since else None  # Shopify's search syntax
        nodes = await pages(ctx, query, {"query": search}, root, inputs.max_items, page_size)
        return [read(node) for node in nodes]

    return fetch


# -- the list -------------------------------------------------------------------------------------

SETUP = (
    " Shopify's webhook is subscribed when the scenario is turned on and removed "
    "when it is turned off."
)


def _instant(
    key: str,
    name: str,
    description: str,
    topic: str,
    rest_topic: str,
    read: Reader,
    output: type[BaseModel],
) -> InstantTrigger:
    return InstantTrigger(
        key=key,
        name=name,
        description=description + SETUP,
        input=NoTriggerInput,
        output=output,
        sample=load_sample(__file__, key),
        example={},
        subscribe=_subscriber(topic),
        unsubscribe=unsubscribe,
        verify=verify,
        parse=_parser(rest_topic, read),
        dedupe_key="webhook_id",
    )


def _polling(
    key: str,
    name: str,
    description: str,
    query: str,
    root: str,
    read: Reader,
    output: type[BaseModel],
    page_size: int,
) -> PollingTrigger:
    return PollingTrigger(
        key=key,
        name=name,
        description=description,
        input=PollInput,
        output=output,
        sample=load_sample(__file__, key),
        example={"max_items": 10},
        fetch=_poller(query, root, read, page_size),
        dedupe_key="id",
        cursor_field="created_at",
    )


TRIGGERS: tuple[InstantTrigger | PollingTrigger, ...] = (
    _instant(
        "new_order",
        "New order",
        "Fires at once when an order is placed.",
        "ORDERS_CREATE",
        "orders/create",
        order_from_rest,
        OrderEvent,
    ),
    _instant(
        "order_paid",
        "Order paid",
        "Fires when an order is paid in full.",
        "ORDERS_PAID",
        "orders/paid",
        order_from_rest,
        OrderEvent,
    ),
    _instant(
        "new_customer",
        "New customer",
        "Fires when a customer account is created.",
        "CUSTOMERS_CREATE",
        "customers/create",
        customer_from_rest,
        CustomerEvent,
    ),
    _instant(
        "new_product",
        "New product",
        "Fires when a product is created.",
        "PRODUCTS_CREATE",
        "products/create",
        product_from_rest,
        ProductEvent,
    ),
    _polling(
        "new_order_polling",
        "New order (polling)",
        "Checks for new orders every few minutes. Use it where Shopify cannot reach "
        "Cellwright's webhook URL.",
        NEW_ORDERS,
        "orders",
        order_from_graphql,
        OrderEvent,
        page_size=10,
    ),  # 10 × 88 points
    _polling(
        "new_customer_polling",
        "New customer (polling)",
        "Checks for new customers every few minutes, where webhooks cannot reach Cellwright.",
        NEW_CUSTOMERS,
        "customers",
        customer_from_graphql,
        CustomerEvent,
        page_size=50,
    ),  # 50 × 3
    _polling(
        "new_product_polling",
        "New product (polling)",
        "Checks for new products every few minutes, where webhooks cannot reach Cellwright.",
        NEW_PRODUCTS,
        "products",
        product_from_graphql,
        ProductEvent,
        page_size=20,
    ),  # 20 × 43
)
