"""The sandbox shop's records and the GraphQL resolvers over them (``sandbox.py`` serves them).

Records are kept in the GraphQL API's shape; ``*_rest`` build the REST-shaped JSON that
webhooks carry (https://shopify.dev/docs/api/admin-rest: the same resources as webhook
bodies). Business rules answer with ``userErrors`` as Shopify does (HTTP 200, the
mutation's payload with a ``field`` path and a ``message``; messages follow Shopify's
wording where its documentation shows them). Missing scopes raise ``ACCESS_DENIED``
(https://shopify.dev/docs/api/usage/access-scopes).
"""

from __future__ import annotations

import base64
import itertools
import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NoReturn

from graphql import GraphQLError

SHOP_DOMAIN = "cellwright-sandbox.myshopify.com"
CURRENCY = "EUR"
ADJUST_REASONS = frozenset(
    {
        "correction",
        "cycle_count_available",
        "damaged",
        "movement_created",
        "movement_updated",
        "movement_received",
        "movement_canceled",
        "other",
        "promotion",
        "quality_control",
        "received",
        "reservation_created",
        "reservation_deleted",
        "reservation_updated",
        "restock",
        "safety_stock",
        "shrinkage",
    }
)
TOPIC_SCOPES = {
    "ORDERS_CREATE": "read_orders",
    "ORDERS_PAID": "read_orders",
    "CUSTOMERS_CREATE": "read_customers",
    "PRODUCTS_CREATE": "read_products",
}
TAG_SCOPES = {
    "Order": "write_orders",
    "Customer": "write_customers",
    "Product": "write_products",
    "DraftOrder": "write_draft_orders",
}


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def gid(kind: str, number: int | str) -> str:
    return f"gid://shopify/{kind}/{number}"


def number(value: str) -> str:
    return value.rsplit("/", 1)[-1]


def kind_of(value: str) -> str:
    match = re.match(r"^gid://shopify/(\w+)/\d+$", value or "")
    return match.group(1) if match else ""


def money(amount: Any) -> dict[str, Any]:
    value = {"amount": f"{float(amount):.2f}", "currencyCode": CURRENCY}
    return {"shopMoney": value, "presentmentMoney": value}


def denied(field_name: str, scope: str) -> NoReturn:
    raise GraphQLError(
        f"Access denied for {field_name} field. Required access: `{scope}` access scope.",
        extensions={
            "code": "ACCESS_DENIED",
            "documentation": "https://shopify.dev/api/usage/access-scopes",
            "requiredAccess": f"`{scope}` access scope.",
        },
    )


def user_error(path: list[str] | None, message: str, code: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"field": path, "message": message}
    if code is not None:
        error["code"] = code
    return error


def connection(
    items: list[Any], args: Mapping[str, Any], limit: int | None = None
) -> dict[str, Any]:
    """A Relay connection page; cursors are opaque offsets. ``limit`` shortens the page
    (the sandbox's "short pages" control) while ``hasNextPage`` still tells the truth."""
    first, after = args.get("first"), args.get("after")
    if first is None and args.get("last") is None:
        raise GraphQLError("you must provide one of first or last")
    if first is not None and not 0 <= first <= 250:
        raise GraphQLError(
            "The first argument must be between 0 and 250.", extensions={"code": "BAD_REQUEST"}
        )
    start = int(base64.b64decode(after).decode()) + 1 if after else 0
    size = int(first if first is not None else args["last"])
    if limit is not None:
        size = min(size, limit)
    chosen = items[start : start + size]
    cursors = [base64.b64encode(str(start + i).encode()).decode() for i in range(len(chosen))]
    return {
        "nodes": chosen,
        "edges": [{"cursor": c, "node": n} for c, n in zip(cursors, chosen, strict=True)],
        "pageInfo": {
            "hasNextPage": start + len(chosen) < len(items),
            "hasPreviousPage": start > 0,
            "startCursor": cursors[0] if cursors else None,
            "endCursor": cursors[-1] if cursors else None,
        },
    }


def search(
    records: Iterable[dict[str, Any]], query: str | None, text_fields: tuple[str, ...]
) -> list[dict[str, Any]]:
    """Shopify's search syntax, the parts the sandbox knows: ``created_at:>'…'`` / ``<`` and free
    text (https://shopify.dev/docs/api/usage/search-syntax)."""
    found = list(records)
    for op, value in re.findall(r"created_at:([<>]=?)'?([^' ]+)'?", query or ""):
        found = [
            r
            for r in found
            if (r["createdAt"] > value if op.startswith(">") else r["createdAt"] < value)
            or (op.endswith("=") and r["createdAt"] == value)
        ]
    free = re.sub(r"\w+:[<>]?=?'?[^' ]*'?", "", query or "").strip()
    if free:
        found = [
            r
            for r in found
            if any(free.lower() in str(r.get(f) or "").lower() for f in text_fields)
        ]
    return found


def ordered(
    records: list[dict[str, Any]], sort_key: str | None, reverse: bool | None
) -> list[dict[str, Any]]:
    key = {
        "CREATED_AT": "createdAt",
        "TITLE": "title",
        "UPDATED_AT": "updatedAt",
        "NAME": "name",
    }.get(sort_key or "", "")
    result = (
        sorted(records, key=lambda r: (str(r.get(key) or ""), int(number(r["id"]))))
        if key
        else sorted(records, key=lambda r: int(number(r["id"])))
    )
    return list(reversed(result)) if reverse else result


@dataclass
class Shop:
    """The sandbox shop's state."""

    products: dict[str, dict[str, Any]] = field(default_factory=dict)
    variants: dict[str, dict[str, Any]] = field(default_factory=dict)
    locations: dict[str, dict[str, Any]] = field(default_factory=dict)
    stock: dict[tuple[str, str], int] = field(default_factory=dict)
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    draft_orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    fulfillment_orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    webhooks: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    """(topic, REST payload) of everything that happened, for ``sandbox.deliveries``."""
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(10001))

    def new(self, kind: str) -> str:
        return gid(kind, next(self.ids))

    @classmethod
    def seeded(cls) -> Shop:
        shop = cls()
        when = "2026-11-02T09:00:00Z"
        for n, name, active in ((6001, "Main warehouse", True), (6002, "Pop-up store", True)):
            shop.locations[gid("Location", n)] = {
                "id": gid("Location", n),
                "legacyResourceId": str(n),
                "name": name,
                "isActive": active,
                "fulfillsOnlineOrders": True,
            }
        for pid, title, vendor, variants in (
            (
                7001,
                "Classic scarf",
                "Cellwright Knits",
                ((8001, "Blue", "SCARF-B", "24.00"), (8002, "Red", "SCARF-R", "24.00")),
            ),
            (
                7002,
                "Wool beanie",
                "Cellwright Knits",
                ((8003, "Default Title", "BEANIE", "18.50"),),
            ),
        ):
            shop.products[gid("Product", pid)] = {
                "id": gid("Product", pid),
                "legacyResourceId": str(pid),
                "title": title,
                "handle": title.lower().replace(" ", "-"),
                "status": "ACTIVE",
                "vendor": vendor,
                "productType": "Accessories",
                "tags": ["winter"],
                "descriptionHtml": f"<p>{title}</p>",
                "createdAt": when,
                "updatedAt": when,
                "variantIds": [gid("ProductVariant", v[0]) for v in variants],
            }
            for vid, vtitle, sku, price in variants:
                item = gid("InventoryItem", vid + 1000)
                shop.variants[gid("ProductVariant", vid)] = {
                    "id": gid("ProductVariant", vid),
                    "legacyResourceId": str(vid),
                    "title": vtitle,
                    "sku": sku,
                    "price": price,
                    "productId": gid("Product", pid),
                    "inventoryItemId": item,
                }
                shop.stock[(item, gid("Location", 6001))] = 10
        ada = gid("Customer", 2001)
        shop.customers[ada] = {
            "id": ada,
            "legacyResourceId": "2001",
            "firstName": "Ada",
            "lastName": "Lovelace",
            "email": "ada@example.com",
            "phone": None,
            "note": None,
            "tags": ["newsletter"],
            "state": "ENABLED",
            "createdAt": when,
            "updatedAt": when,
        }
        line = {
            "id": gid("LineItem", 5101),
            "variantId": gid("ProductVariant", 8001),
            "title": "Classic scarf",
            "quantity": 1,
            "sku": "SCARF-B",
            "price": "24.00",
        }
        shop.orders[gid("Order", 5001)] = {
            "id": gid("Order", 5001),
            "legacyResourceId": "5001",
            "name": "#1001",
            "email": "ada@example.com",
            "phone": None,
            "createdAt": when,
            "updatedAt": when,
            "processedAt": when,
            "cancelledAt": None,
            "displayFinancialStatus": "PAID",
            "displayFulfillmentStatus": "UNFULFILLED",
            "total": "24.00",
            "tags": [],
            "note": None,
            "poNumber": None,
            "customerId": ada,
            "lines": [line],
        }
        shop.fulfillment_orders[gid("FulfillmentOrder", 3001)] = {
            "id": gid("FulfillmentOrder", 3001),
            "orderId": gid("Order", 5001),
            "locationId": gid("Location", 6001),
            "status": "OPEN",
            "lines": {gid("FulfillmentOrderLineItem", 3101): 1},
        }
        shop.draft_orders[gid("DraftOrder", 4001)] = {
            "id": gid("DraftOrder", 4001),
            "legacyResourceId": "4001",
            "name": "#D1",
            "status": "OPEN",
            "email": "ada@example.com",
            "createdAt": when,
            "completedAt": None,
            "tags": [],
            "note2": None,
            "customerId": ada,
            "orderId": None,
            "lines": [
                {
                    "id": gid("DraftOrderLineItem", 4101),
                    "variantId": gid("ProductVariant", 8003),
                    "title": "Wool beanie",
                    "quantity": 2,
                    "sku": "BEANIE",
                    "price": "18.50",
                }
            ],
        }
        return shop

    # -- changes that Shopify announces with webhooks ------------------------------------------

    def add_order(
        self,
        *,
        email: str | None,
        customer_id: str | None,
        lines: list[dict[str, Any]],
        paid: bool,
        tags: list[str] | None = None,
        note: str | None = None,
    ) -> dict[str, Any]:
        """An order as a checkout (or a completed draft) makes it; queues
        orders/create (and orders/paid)."""
        order_id = self.new("Order")
        at = now_iso()
        order = {
            "id": order_id,
            "legacyResourceId": number(order_id),
            "name": f"#{1001 + len(self.orders)}",
            "email": email,
            "phone": None,
            "createdAt": at,
            "updatedAt": at,
            "processedAt": at,
            "cancelledAt": None,
            "displayFinancialStatus": "PAID" if paid else "PENDING",
            "displayFulfillmentStatus": "UNFULFILLED",
            "total": f"{sum(float(li['price']) * li['quantity'] for li in lines):.2f}",
            "tags": list(tags or []),
            "note": note,
            "poNumber": None,
            "customerId": customer_id,
            "lines": [{**li, "id": self.new("LineItem")} for li in lines],
        }
        self.orders[order_id] = order
        location = next(iter(self.locations))
        self.fulfillment_orders[self.new("FulfillmentOrder")] = {
            "orderId": order_id,
            "locationId": location,
            "status": "OPEN",
            "lines": {
                self.new("FulfillmentOrderLineItem"): li["quantity"] for li in order["lines"]
            },
        }
        for fo_id, fo in self.fulfillment_orders.items():
            fo.setdefault("id", fo_id)
        self.events.append(("orders/create", self.order_rest(order)))
        if paid:
            self.events.append(("orders/paid", self.order_rest(order)))
        return order

    def add_customer(self, values: Mapping[str, Any]) -> dict[str, Any]:
        customer_id = self.new("Customer")
        at = now_iso()
        customer = {
            "id": customer_id,
            "legacyResourceId": number(customer_id),
            "state": "DISABLED",
            "createdAt": at,
            "updatedAt": at,
            "email": None,
            "phone": None,
            "firstName": None,
            "lastName": None,
            "note": None,
            "tags": [],
            **values,
        }
        self.customers[customer_id] = customer
        self.events.append(("customers/create", self.customer_rest(customer)))
        return customer

    def add_product(self, values: Mapping[str, Any]) -> dict[str, Any]:
        product_id, variant_id = self.new("Product"), self.new("ProductVariant")
        at = now_iso()
        title = str(values["title"])
        product = {
            "id": product_id,
            "legacyResourceId": number(product_id),
            "handle": re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-"),
            "status": "ACTIVE",
            "vendor": "",
            "productType": "",
            "tags": [],
            "descriptionHtml": "",
            "createdAt": at,
            "updatedAt": at,
            "variantIds": [variant_id],
            **values,
        }
        self.products[product_id] = product
        self.variants[variant_id] = {
            "id": variant_id,
            "legacyResourceId": number(variant_id),
            "title": "Default Title",
            "sku": "",
            "price": "0.00",
            "productId": product_id,
            "inventoryItemId": self.new("InventoryItem"),
        }
        self.events.append(("products/create", self.product_rest(product)))
        return product

    # -- REST-shaped webhook bodies --------------------------------------------------------------

    def customer_rest(self, c: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "id": int(c["legacyResourceId"]),
            "email": c.get("email"),
            "first_name": c.get("firstName"),
            "last_name": c.get("lastName"),
            "phone": c.get("phone"),
            "note": c.get("note"),
            "tags": ", ".join(c.get("tags") or []),
            "state": str(c.get("state") or "").lower(),
            "orders_count": sum(1 for o in self.orders.values() if o["customerId"] == c["id"]),
            "created_at": c["createdAt"],
            "updated_at": c["updatedAt"],
            "currency": CURRENCY,
            "admin_graphql_api_id": c["id"],
        }

    def order_rest(self, o: Mapping[str, Any]) -> dict[str, Any]:
        customer = self.customers.get(o.get("customerId") or "")
        lines = [
            {
                "id": int(number(li["id"])),
                "admin_graphql_api_id": li["id"],
                "title": li["title"],
                "quantity": li["quantity"],
                "sku": li.get("sku"),
                "price": li["price"],
                "variant_id": int(number(li["variantId"])) if li.get("variantId") else None,
            }
            for li in o["lines"]
        ]
        fulfillment = (
            None
            if o["displayFulfillmentStatus"] == "UNFULFILLED"
            else o["displayFulfillmentStatus"].lower()
        )
        return {
            "id": int(o["legacyResourceId"]),
            "admin_graphql_api_id": o["id"],
            "name": o["name"],
            "order_number": int(o["name"].lstrip("#")),
            "email": o.get("email"),
            "contact_email": o.get("email"),
            "phone": o.get("phone"),
            "created_at": o["createdAt"],
            "updated_at": o["updatedAt"],
            "cancelled_at": o.get("cancelledAt"),
            "financial_status": o["displayFinancialStatus"].lower(),
            "fulfillment_status": fulfillment,
            "currency": CURRENCY,
            "total_price": o["total"],
            "subtotal_price": o["total"],
            "tags": ", ".join(o.get("tags") or []),
            "note": o.get("note"),
            "customer": self.customer_rest(customer) if customer else None,
            "line_items": lines,
        }

    def product_rest(self, p: Mapping[str, Any]) -> dict[str, Any]:
        variants = [self.variants[v] for v in p["variantIds"]]
        return {
            "id": int(p["legacyResourceId"]),
            "admin_graphql_api_id": p["id"],
            "title": p["title"],
            "handle": p["handle"],
            "body_html": p.get("descriptionHtml"),
            "vendor": p.get("vendor"),
            "product_type": p.get("productType"),
            "status": str(p["status"]).lower(),
            "tags": ", ".join(p.get("tags") or []),
            "created_at": p["createdAt"],
            "updated_at": p["updatedAt"],
            "variants": [
                {
                    "id": int(v["legacyResourceId"]),
                    "admin_graphql_api_id": v["id"],
                    "title": v["title"],
                    "sku": v["sku"],
                    "price": v["price"],
                    "product_id": int(p["legacyResourceId"]),
                    "inventory_item_id": int(number(v["inventoryItemId"])),
                    "inventory_quantity": self.available(v["inventoryItemId"]),
                }
                for v in variants
            ],
        }

    def available(self, item_id: str) -> int:
        return sum(q for (item, _), q in self.stock.items() if item == item_id)


Resolver = Callable[..., Any]
Scopes = frozenset[str]


def event_id() -> str:
    return str(uuid.uuid4())
