"""Shopify contract: every GraphQL document the connector sends is valid against Shopify's
own Admin schema (``tests/specs/shopify/admin-unstable.subset.graphql``), with its variables
coerced to their declared types; every request goes to the pinned version's endpoint with
``X-Shopify-Access-Token``; and the sandbox's schema is a faithful subset of Shopify's.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import httpx
from graphql import build_schema, parse, validate

from connectors.sdk.context import OperationContext
from connectors.sdk.http import build_http
from connectors.sdk.options import fetch_options
from connectors.sdk.sandboxing import RecordingTransport
from connectors.shopify import actions, api, app, auth, options, triggers
from connectors.shopify import sandbox as sb
from tests.connectors.test_monday_contract import document_problems, root_fields, subset_problems

SPECS = (
    Path(os.environ.get("CELLWRIGHT_SPECS", Path(__file__).resolve().parents[1] / "specs"))
    / "shopify"
)
OFFICIAL = build_schema((SPECS / "admin-unstable.subset.graphql").read_text())


async def exercise_everything() -> RecordingTransport:
    """Every action (examples and more), the connection test, every trigger and option source."""
    shop = sb.create_app()
    shop.state.sandbox.maximum = shop.state.sandbox.available = (
        1e9  # no throttling: every answer is checked
    )
    recorder = RecordingTransport(httpx.ASGITransport(app=shop))
    credentials = app.sandbox_credentials
    http = build_http(
        app_key=app.key,
        base_url="http://sandbox.invalid",
        auth=app.auth.httpx_auth(credentials),
        error_parser=app.error_parser,
        transport=recorder,
    )
    ctx = OperationContext(http=http, credentials=credentials)
    assert app.auth.test is not None
    await app.auth.test(ctx)
    for op in app.actions:
        await op.perform(ctx, op.input.model_validate(op.example))
    extra = {
        "create_customer": {
            "email": "x@example.com",
            "phone": "+16135551111",
            "accepts_email_marketing": True,
        },
        "create_draft_order": {
            "line_items": [{"title": "Box", "price": "2.00"}],
            "customer_id": "2001",
            "note": "n",
        },
        "create_product": {
            "title": "T",
            "description_html": "<p>x</p>",
            "product_type": "P",
            "handle": "t",
        },
        "adjust_inventory": {
            "inventory_item_id": "9002",
            "location_id": "6001",
            "delta": 1,
            "reference_document_uri": "gid://cellwright/Run/1",
        },
    }
    fulfillment_order_id, fulfillment_order = list(
        shop.state.sandbox.shop.fulfillment_orders.items()
    )[-1]  # the completed draft's
    [line_id] = fulfillment_order["lines"]
    extra["create_fulfillment"] = {
        "fulfillment_order_id": fulfillment_order_id,
        "line_items": [{"id": line_id, "quantity": 1}],
        "tracking_url": "https://track.example/1",
        "notify_customer": True,
    }
    for key, inputs in extra.items():
        op = app.action(key)
        await op.perform(ctx, op.input.model_validate(inputs))
    for trigger in app.triggers:
        if trigger.trigger_type == "polling":
            await trigger.fetch(ctx, trigger.input.model_validate({}), "2026-01-01T00:00:00Z")  # type: ignore[attr-defined]
        else:
            state = await trigger.subscribe(ctx, None, "https://cellwright.example/hooks/t")  # type: ignore[misc]
            await trigger.unsubscribe(ctx, None, state)  # type: ignore[misc]
    for source in app.options:
        await fetch_options(source, ctx, {})
    return recorder


async def test_every_document_sent_is_valid_against_shopifys_schema() -> None:
    recorder = await exercise_everything()
    problems: list[str] = []
    used: set[str] = set()
    for request, response in recorder.calls:
        assert (request.method, request.url.path) == (
            "POST",
            f"/admin/api/{api.API_VERSION}/graphql.json",
        )
        assert (
            request.headers["x-shopify-access-token"] == sb.SANDBOX_TOKEN
            and "authorization" not in request.headers
        )
        assert request.headers["content-type"] == "application/json"
        body = json.loads(request.content)
        assert set(body) <= {"query", "variables", "operationName"}
        problems += document_problems(OFFICIAL, body["query"], body.get("variables"))
        used |= root_fields(body["query"])
        answer: Any = response.json()
        assert "errors" not in answer, answer
        assert response.headers["x-shopify-api-version"] == api.API_VERSION
    assert problems == []
    assert used == {
        "shop",
        "orders",
        "customers",
        "products",
        "locations",
        "productCreate",
        "productUpdate",
        "customerCreate",
        "orderUpdate",
        "tagsAdd",
        "draftOrderCreate",
        "draftOrderComplete",
        "inventoryAdjustQuantities",
        "fulfillmentCreate",
        "webhookSubscriptionCreate",
        "webhookSubscriptionDelete",
    }


def test_every_document_in_the_package_is_valid() -> None:
    """Also the ones a session may not reach: every GraphQL constant of the package."""
    documents = {
        f"{module.__name__}.{name}": value
        for module in (actions, api, auth, options, triggers)
        for name, value in vars(module).items()
        if name.isupper()
        and isinstance(value, str)
        and value.lstrip().startswith(("query", "mutation", "fragment"))
    }
    assert len(documents) >= 17
    for name, document in documents.items():
        if document.lstrip().startswith("fragment"):
            continue  # validated inside the documents that use them
        assert [e.message for e in validate(OFFICIAL, parse(document))] == [], name


def test_the_sandbox_schema_is_a_faithful_subset_of_shopifys() -> None:
    assert subset_problems(sb.schema(), OFFICIAL) == []


def test_the_checks_can_fail() -> None:
    """Shopify's schema refuses what the connector must not send."""
    assert document_problems(OFFICIAL, "query { shop { name colour } }", None) == [
        "Cannot query field 'colour' on type 'Shop'."
    ]
    wrong = "mutation ($p: ProductInput!) { productCreate(product: $p) { product { id } } }"
    assert (
        "used in position expecting type 'ProductCreateInput'"
        in document_problems(OFFICIAL, wrong, {"p": {}})[0]
    )
    missing = (
        "mutation ($i: InventoryAdjustQuantitiesInput!) { inventoryAdjustQuantities(input: "
        "$i) { userErrors { code } } }"
    )
    assert (
        "to include required field 'reason'"
        in document_problems(OFFICIAL, missing, {"i": {"name": "available", "changes": []}})[0]
    )
    invented = build_schema(
        "type QueryRoot { shop: Shop! } type Shop { id: "
        "ID! shoeSize: Int } schema { query: QueryRoot }"
    )
    assert subset_problems(invented, OFFICIAL) == [
        "Shop.shoeSize: Int is not in the official schema"
    ]
