"""Shopify: products, customers, orders, draft orders, inventory and fulfilments through the
Admin GraphQL API (version pinned in ``api.API_VERSION``); start scenarios from new orders,
paid orders, new customers and new products (webhooks, or polling)."""

from __future__ import annotations

from connectors.sdk import App, RateLimit, VendorLimits
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
    # Shopify: a leaky bucket of query cost points per app and store (Standard plan: 100
    # points restored per second, 1,000-point bucket; more on higher plans). The cost of a
    # query is only known from its answer, so this is a conservative call-rate
    # approximation: 2 queries per second, bursts of 20, which stays under the Standard
    # restore rate for queries of up to 50 points (every query Cellwright sends).
    # ../shared/specs/VENDORS.md "Shopify" /
    # https://shopify.dev/docs/apps/build/apis/graphql-admin/rate-limits
    limits=VendorLimits(
        rates=(RateLimit(calls=20, per_seconds=10),),
        source="https://shopify.dev/docs/apps/build/apis/graphql-admin/rate-limits",
    ),
    allowed_hosts=("*.myshopify.com",),
    error_parser=error_parser,
    docs_url="https://shopify.dev/docs/api/admin-graphql",
    sandbox="connectors.shopify.sandbox:create_app",
    sandbox_credentials=SANDBOX_CREDENTIALS,
)

__all__ = ["app"]
