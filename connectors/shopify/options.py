"""Where Shopify fields' choices come from: locations, products, variants, inventory items."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.sdk import OperationContext, Option, OptionSource
from connectors.shopify.api import pages

LOCATIONS = """query Locations($first: Int!, $after: String) {
  locations(first: $first, after: $after) {
    nodes { id name isActive }
    pageInfo { hasNextPage endCursor }
  }
}"""
PRODUCT_VARIANTS = """query ProductVariants($first: Int!, $after: String, $query: String) {
  products(first: $first, after: $after, query: $query, sortKey: TITLE) {
    nodes { id title variants(first: 25) { nodes { id title sku inventoryItem { id } } } }
    pageInfo { hasNextPage endCursor }
  }
}"""
MAX_PRODUCTS = 300
"""Products a dropdown reads, 15 a page (each costs 53 points with 25 variants: 797 a page)."""


async def locations(ctx: OperationContext, values: Mapping[str, Any]) -> list[Option]:
    """The shop's active locations (``locations``)."""
    nodes = await pages(ctx, LOCATIONS, {}, "locations", 250, page_size=100)
    return [Option(value=n["id"], label=n["name"]) for n in nodes if n.get("isActive", True)]


async def _products(ctx: OperationContext) -> list[dict[str, Any]]:
    return await pages(
        ctx, PRODUCT_VARIANTS, {"query": None}, "products", MAX_PRODUCTS, page_size=15
    )


async def products(ctx: OperationContext, values: Mapping[str, Any]) -> list[Option]:
    """The shop's products, by title."""
    return [
        Option(value=p["id"], label=f"{p['title']} ({p['id'].rsplit('/', 1)[-1]})")
        for p in await _products(ctx)
    ]


def _variant_label(product: Mapping[str, Any], variant: Mapping[str, Any]) -> str:
    title = (
        product["title"]
        if variant.get("title") in (None, "", "Default Title")
        else f"{product['title']} – {variant['title']}"
    )
    return f"{title} (SKU {variant['sku']})" if variant.get("sku") else title


async def variants(ctx: OperationContext, values: Mapping[str, Any]) -> list[Option]:
    """Every product's variants ("Scarf – Blue (SKU S-B)")."""
    return [
        Option(value=v["id"], label=_variant_label(p, v))
        for p in await _products(ctx)
        for v in (p.get("variants") or {}).get("nodes") or []
    ]


async def inventory_items(ctx: OperationContext, values: Mapping[str, Any]) -> list[Option]:
    """The inventory item of every variant, labelled by the variant."""
    return [
        Option(value=v["inventoryItem"]["id"], label=_variant_label(p, v))
        for p in await _products(ctx)
        for v in (p.get("variants") or {}).get("nodes") or []
        if v.get("inventoryItem")
    ]


OPTIONS: tuple[OptionSource, ...] = (
    OptionSource(key="locations", name="Shopify locations", fetch=locations),
    OptionSource(key="products", name="Shopify products", fetch=products),
    OptionSource(key="variants", name="product variants", fetch=variants),
    OptionSource(key="inventory_items", name="inventory items (by variant)", fetch=inventory_items),
)
