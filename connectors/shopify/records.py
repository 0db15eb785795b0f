"""The fields the connector reads, and how they become outputs.

Each resource has one GraphQL fragment and two readers: ``*_from_graphql`` for query and
mutation results, ``*_from_rest`` for webhook bodies, which Shopify sends in the REST
Admin API's shape (https://shopify.dev/docs/apps/build/webhooks/subscribe: "the payload
… is the same as the REST resource"): snake_case keys, numeric ``id`` plus
``admin_graphql_api_id``, tags as one comma-separated string. Both give the same fields,
so a scenario mapping ``{{ trigger.total_price }}`` works whether the trigger is instant
or polling.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

MONEY = "shopMoney { amount currencyCode }"
ORDER_FIELDS = f"""
fragment OrderFields on Order {{
  id legacyResourceId name email phone createdAt updatedAt cancelledAt
  displayFinancialStatus displayFulfillmentStatus currencyCode tags note
  totalPriceSet {{ {MONEY} }}
  subtotalPriceSet {{ {MONEY} }}
  customer {{ id firstName lastName }}
  lineItems(first: 20) {{
    nodes {{ id title quantity sku variant {{ id }} originalUnitPriceSet {{ {MONEY} }} }}
  }}
}}
"""
CUSTOMER_FIELDS = """
fragment CustomerFields on Customer {
  id legacyResourceId firstName lastName displayName note tags state numberOfOrders
  createdAt updatedAt
  defaultEmailAddress { emailAddress }
  defaultPhoneNumber { phoneNumber }
}
"""
PRODUCT_FIELDS = """
fragment ProductFields on Product {
  id legacyResourceId title handle status vendor productType tags descriptionHtml
  totalInventory createdAt updatedAt
  variants(first: 20) { nodes { id title sku price inventoryQuantity inventoryItem { id } } }
}
"""
DRAFT_ORDER_FIELDS = f"""
fragment DraftOrderFields on DraftOrder {{
  id legacyResourceId name status email invoiceUrl currencyCode tags note2 createdAt completedAt
  totalPriceSet {{ {MONEY} }}
  customer {{ id }}
  order {{ id name }}
  lineItems(first: 20) {{
    nodes {{ id title quantity sku variant {{ id }} originalUnitPriceSet {{ {MONEY} }} }}
  }}
}}
"""


def _nodes(connection: Any) -> list[Mapping[str, Any]]:
    return list((connection or {}).get("nodes") or [])


def _money(bag: Any) -> str | None:
    shop = (bag or {}).get("shopMoney") or {}
    return None if shop.get("amount") is None else str(shop["amount"])


def _lower(value: Any) -> str | None:
    return None if value is None else str(value).lower()


def _gid(kind: str, value: Any) -> str | None:
    return None if value in (None, "") else f"gid://shopify/{kind}/{value}"


def _tags(value: Any) -> list[str]:
    if isinstance(value, str):  # REST: "a, b"
        return [t.strip() for t in value.split(",") if t.strip()]
    return [str(t) for t in value or []]


def _name(first: Any, last: Any) -> str | None:
    return " ".join(str(p) for p in (first, last) if p) or None


def _line_from_graphql(line: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": line.get("id"),
        "title": line.get("title") or "",
        "quantity": int(line.get("quantity") or 0),
        "sku": line.get("sku"),
        "variant_id": (line.get("variant") or {}).get("id"),
        "price": _money(line.get("originalUnitPriceSet")),
    }


def order_from_graphql(node: Mapping[str, Any]) -> dict[str, Any]:
    customer = node.get("customer") or {}
    return {
        "id": node["id"],
        "legacy_id": str(node.get("legacyResourceId")),
        "name": node.get("name") or "",
        "email": node.get("email"),
        "phone": node.get("phone"),
        "created_at": node.get("createdAt"),
        "updated_at": node.get("updatedAt"),
        "cancelled_at": node.get("cancelledAt"),
        "financial_status": _lower(node.get("displayFinancialStatus")),
        "fulfillment_status": _lower(node.get("displayFulfillmentStatus")),
        "total_price": _money(node.get("totalPriceSet")) or "0.00",
        "subtotal_price": _money(node.get("subtotalPriceSet")),
        "currency": node.get("currencyCode") or "",
        "tags": _tags(node.get("tags")),
        "note": node.get("note"),
        "customer_id": customer.get("id"),
        "customer_name": _name(customer.get("firstName"), customer.get("lastName")),
        "line_items": [_line_from_graphql(line) for line in _nodes(node.get("lineItems"))],
    }


def order_from_rest(body: Mapping[str, Any]) -> dict[str, Any]:
    customer = body.get("customer") or {}
    lines = [
        {
            "id": _gid("LineItem", line.get("id")),
            "title": line.get("title") or "",
            "quantity": int(line.get("quantity") or 0),
            "sku": line.get("sku") or None,
            "variant_id": _gid("ProductVariant", line.get("variant_id")),
            "price": None if line.get("price") is None else str(line["price"]),
        }
        for line in body.get("line_items") or []
    ]
    return {
        "id": body.get("admin_graphql_api_id") or _gid("Order", body.get("id")),
        "legacy_id": str(body.get("id")),
        "name": body.get("name") or "",
        "email": body.get("email") or body.get("contact_email"),
        "phone": body.get("phone"),
        "created_at": body.get("created_at"),
        "updated_at": body.get("updated_at"),
        "cancelled_at": body.get("cancelled_at"),
        "financial_status": _lower(body.get("financial_status")),
        "fulfillment_status": _lower(body.get("fulfillment_status")) or "unfulfilled",
        "total_price": str(body.get("total_price") or "0.00"),
        "subtotal_price": None
        if body.get("subtotal_price") is None
        else str(body["subtotal_price"]),
        "currency": body.get("currency") or "",
        "tags": _tags(body.get("tags")),
        "note": body.get("note"),
        "customer_id": customer.get("admin_graphql_api_id") or _gid("Customer", customer.get("id")),
        "customer_name": _name(customer.get("first_name"), customer.get("last_name")),
        "line_items": lines,
    }


def customer_from_graphql(node: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": node["id"],
        "legacy_id": str(node.get("legacyResourceId")),
        "first_name": node.get("firstName"),
        "last_name": node.get("lastName"),
        "display_name": node.get("displayName"),
        "email": (node.get("defaultEmailAddress") or {}).get("emailAddress"),
        "phone": (node.get("defaultPhoneNumber") or {}).get("phoneNumber"),
        "tags": _tags(node.get("tags")),
        "note": node.get("note"),
        "state": node.get("state"),
        "number_of_orders": None
        if node.get("numberOfOrders") is None
        else int(node["numberOfOrders"]),
        "created_at": node.get("createdAt"),
        "updated_at": node.get("updatedAt"),
    }


def customer_from_rest(body: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": body.get("admin_graphql_api_id") or _gid("Customer", body.get("id")),
        "legacy_id": str(body.get("id")),
        "first_name": body.get("first_name"),
        "last_name": body.get("last_name"),
        "display_name": _name(body.get("first_name"), body.get("last_name")) or body.get("email"),
        "email": body.get("email"),
        "phone": body.get("phone"),
        "tags": _tags(body.get("tags")),
        "note": body.get("note"),
        "state": _upper(body.get("state")),
        "number_of_orders": None if body.get("orders_count") is None else int(body["orders_count"]),
        "created_at": body.get("created_at"),
        "updated_at": body.get("updated_at"),
    }


def _upper(value: Any) -> str | None:
    return None if value is None else str(value).upper()


def product_from_graphql(node: Mapping[str, Any]) -> dict[str, Any]:
    variants = [
        {
            "id": v["id"],
            "title": v.get("title") or "",
            "sku": v.get("sku") or None,
            "price": None if v.get("price") is None else str(v["price"]),
            "inventory_item_id": (v.get("inventoryItem") or {}).get("id"),
            "inventory_quantity": v.get("inventoryQuantity"),
        }
        for v in _nodes(node.get("variants"))
    ]
    return {
        "id": node["id"],
        "legacy_id": str(node.get("legacyResourceId")),
        "title": node.get("title") or "",
        "handle": node.get("handle") or "",
        "status": node.get("status") or "",
        "vendor": node.get("vendor") or None,
        "product_type": node.get("productType") or None,
        "tags": _tags(node.get("tags")),
        "description_html": node.get("descriptionHtml"),
        "total_inventory": node.get("totalInventory"),
        "created_at": node.get("createdAt"),
        "updated_at": node.get("updatedAt"),
        "variants": variants,
    }


def product_from_rest(body: Mapping[str, Any]) -> dict[str, Any]:
    variants = [
        {
            "id": v.get("admin_graphql_api_id") or _gid("ProductVariant", v.get("id")),
            "title": v.get("title") or "",
            "sku": v.get("sku") or None,
            "price": None if v.get("price") is None else str(v["price"]),
            "inventory_item_id": _gid("InventoryItem", v.get("inventory_item_id")),
            "inventory_quantity": v.get("inventory_quantity"),
        }
        for v in body.get("variants") or []
    ]
    return {
        "id": body.get("admin_graphql_api_id") or _gid("Product", body.get("id")),
        "legacy_id": str(body.get("id")),
        "title": body.get("title") or "",
        "handle": body.get("handle") or "",
        "status": _upper(body.get("status")) or "",
        "vendor": body.get("vendor") or None,
        "product_type": body.get("product_type") or None,
        "tags": _tags(body.get("tags")),
        "description_html": body.get("body_html"),
        "total_inventory": sum(
            int(v.get("inventory_quantity") or 0) for v in body.get("variants") or []
        ),
        "created_at": body.get("created_at"),
        "updated_at": body.get("updated_at"),
        "variants": variants,
    }


def draft_order_from_graphql(node: Mapping[str, Any]) -> dict[str, Any]:
    order = node.get("order") or {}
    return {
        "id": node["id"],
        "legacy_id": str(node.get("legacyResourceId")),
        "name": node.get("name") or "",
        "status": node.get("status") or "",
        "email": node.get("email"),
        "invoice_url": node.get("invoiceUrl"),
        "total_price": _money(node.get("totalPriceSet")) or "0.00",
        "currency": node.get("currencyCode") or "",
        "tags": _tags(node.get("tags")),
        "note": node.get("note2"),
        "customer_id": (node.get("customer") or {}).get("id"),
        "created_at": node.get("createdAt"),
        "completed_at": node.get("completedAt"),
        "order_id": order.get("id"),
        "order_name": order.get("name"),
        "line_items": [_line_from_graphql(line) for line in _nodes(node.get("lineItems"))],
    }
