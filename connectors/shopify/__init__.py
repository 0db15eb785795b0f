"""Shopify: products, customers, orders, draft orders, inventory and fulfilments through the
Admin GraphQL API (version pinned in ``api.API_VERSION``); start scenarios from new orders,
paid orders, new customers and new products (webhooks, or polling)."""

from __future__ import annotations

from connectors.sdk import App
from connectors.shopify.actions import ACTIONS
from connectors.shopify.api import base_url, error_parser
from connectors.shopify.auth import SANDBOX_CREDENTIALS, SHOPIFY_OAUTH, SHOPIFY_TOKEN_AUTH
from connectors.shopify.options import OPTIONS
from connectors.shopify.triggers import TRIGGERS

app = App(
    key="shopify",
    name="Shopify",
    description="Create and update products and customers, tag and update orders, "
    "create and complete draft orders, adjust inventory and fulfil orders; start scenarios from "
    "new and paid orders, new customers and new products.",
    category="Commerce",
    icon="shopify",
    auth=SHOPIFY_TOKEN_AUTH,
    other_auth=(SHOPIFY_OAUTH,),
    triggers=TRIGGERS,
    actions=ACTIONS,
    options=OPTIONS,
    base_url=base_url,
    allowed_hosts=("*.myshopify.com",),
    error_parser=error_parser,
    docs_url="https://shopify.dev/docs/api/admin-graphql",
    sandbox="connectors.shopify.sandbox:create_app",
    sandbox_credentials=SANDBOX_CREDENTIALS,
)

__all__ = ["app"]
