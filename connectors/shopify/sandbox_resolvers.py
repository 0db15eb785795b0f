"""The sandbox's GraphQL root fields: queries and mutations over ``sandbox_shop.Shop``.

Objects are dicts in the schema's shape; nested connections are callables graphql-core
calls with their arguments. Every root field checks its access scope first.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from connectors.shopify.sandbox_shop import (
    ADJUST_REASONS,
    SHOP_DOMAIN,
    TAG_SCOPES,
    TOPIC_SCOPES,
    Shop,
    connection,
    denied,
    kind_of,
    money,
    now_iso,
    number,
    ordered,
    search,
    user_error,
)

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
ROOT_SCOPES = {
    "orders": "read_orders",
    "products": "read_products",
    "product": "read_products",
    "customers": "read_customers",
    "locations": "read_locations",
    "productCreate": "write_products",
    "productUpdate": "write_products",
    "customerCreate": "write_customers",
    "orderUpdate": "write_orders",
    "draftOrderCreate": "write_draft_orders",
    "draftOrderComplete": "write_draft_orders",
    "inventoryAdjustQuantities": "write_inventory",
    "fulfillmentCreate": "write_merchant_managed_fulfillment_orders",
}


class Resolvers:
    """One request's resolvers (the token's scopes, the page-size control, the app's secret)."""

    def __init__(
        self, shop: Shop, scopes: frozenset[str], short_pages: list[int], signing_secret: str
    ) -> None:
        self.shop = shop
        self.scopes = scopes
        self.short_pages = short_pages
        self.signing_secret = signing_secret

    def root(self) -> dict[str, Callable[..., Any]]:
        fields = (
            "shop",
            "orders",
            "products",
            "product",
            "customers",
            "locations",
            "productCreate",
            "productUpdate",
            "customerCreate",
            "orderUpdate",
            "draftOrderCreate",
            "draftOrderComplete",
            "tagsAdd",
            "inventoryAdjustQuantities",
            "fulfillmentCreate",
            "webhookSubscriptionCreate",
            "webhookSubscriptionDelete",
        )
        return {
            name: self._scoped(name, getattr(self, "shop_field" if name == "shop" else name))
            for name in fields
        }

    def _scoped(self, name: str, resolver: Callable[..., Any]) -> Callable[..., Any]:
        def resolve(info: Any, **args: Any) -> Any:
            scope = ROOT_SCOPES.get(name)
            if scope and scope not in self.scopes:
                denied(name, scope)
            return resolver(info, **args)

        return resolve

    def _page(self, items: list[Any], args: dict[str, Any]) -> dict[str, Any]:
        limit = self.short_pages.pop(0) if self.short_pages else None
        return connection(items, args, limit)

    # -- objects -------------------------------------------------------------------------------

    def variant(self, v: dict[str, Any]) -> dict[str, Any]:
        product = self.shop.products[v["productId"]]
        return {
            **v,
            "displayName": f"{product['title']} - {v['title']}",
            "inventoryQuantity": self.shop.available(v["inventoryItemId"]),
            "inventoryItem": {"id": v["inventoryItemId"], "sku": v["sku"], "tracked": True},
        }

    def product(self, info: Any, id: str) -> dict[str, Any] | None:
        found = self.shop.products.get(id)
        return None if found is None else self.product_obj(found)

    def product_obj(self, p: dict[str, Any]) -> dict[str, Any]:
        variants = [self.variant(self.shop.variants[v]) for v in p["variantIds"]]
        return {
            **p,
            "__typename": "Product",
            "totalInventory": sum(v["inventoryQuantity"] for v in variants),
            "variants": lambda info, **args: connection(variants, args),
        }

    def customer_obj(self, c: dict[str, Any]) -> dict[str, Any]:
        email = (
            {
                "emailAddress": c["email"],
                "marketingState": c.get("marketingState", "NOT_SUBSCRIBED"),
            }
            if c.get("email")
            else None
        )
        name = (
            " ".join(p for p in (c.get("firstName"), c.get("lastName")) if p)
            or c.get("email")
            or c.get("phone")
            or ""
        )
        return {
            **c,
            "__typename": "Customer",
            "displayName": name,
            "defaultEmailAddress": email,
            "defaultPhoneNumber": {"phoneNumber": c["phone"]} if c.get("phone") else None,
            "numberOfOrders": str(
                sum(1 for o in self.shop.orders.values() if o["customerId"] == c["id"])
            ),
        }

    def _lines(self, lines: list[dict[str, Any]]) -> Callable[..., dict[str, Any]]:
        built = [
            {
                **li,
                "variant": self.variant(self.shop.variants[li["variantId"]])
                if li.get("variantId")
                else None,
                "originalUnitPriceSet": money(li["price"]),
            }
            for li in lines
        ]
        return lambda info, **args: connection(built, args)

    def order_obj(self, o: dict[str, Any]) -> dict[str, Any]:
        customer = self.shop.customers.get(o.get("customerId") or "")
        return {
            **o,
            "__typename": "Order",
            "currencyCode": "EUR",
            "totalPriceSet": money(o["total"]),
            "subtotalPriceSet": money(o["total"]),
            "customer": self.customer_obj(customer) if customer else None,
            "lineItems": self._lines(o["lines"]),
        }

    def draft_obj(self, d: dict[str, Any]) -> dict[str, Any]:
        customer = self.shop.customers.get(d.get("customerId") or "")
        order = self.shop.orders.get(d.get("orderId") or "")
        total = sum(float(li["price"]) * li["quantity"] for li in d["lines"])
        return {
            **d,
            "__typename": "DraftOrder",
            "currencyCode": "EUR",
            "totalPriceSet": money(total),
            "invoiceUrl": f"https://{SHOP_DOMAIN}/{number(d['id'])}/invoices/{number(d['id'])}a1b2c3",
            "customer": self.customer_obj(customer) if customer else None,
            "order": self.order_obj(order) if order else None,
            "lineItems": self._lines(d["lines"]),
        }

    # -- queries -------------------------------------------------------------------------------

    def shop_field(self, info: Any) -> dict[str, Any]:
        return {
            "id": "gid://shopify/Shop/1001",
            "name": "Cellwright Sandbox",
            "email": "owner@example.com",
            "myshopifyDomain": SHOP_DOMAIN,
            "currencyCode": "EUR",
            "url": f"https://{SHOP_DOMAIN}",
            "plan": {
                "publicDisplayName": "Development",
                "partnerDevelopment": True,
                "shopifyPlus": False,
            },
        }

    def orders(self, info: Any, **args: Any) -> dict[str, Any]:
        found = ordered(
            search(self.shop.orders.values(), args.get("query"), ("name", "email")),
            args.get("sortKey"),
            args.get("reverse"),
        )
        return self._page([self.order_obj(o) for o in found], args)

    def products(self, info: Any, **args: Any) -> dict[str, Any]:
        found = ordered(
            search(self.shop.products.values(), args.get("query"), ("title", "vendor")),
            args.get("sortKey"),
            args.get("reverse"),
        )
        return self._page([self.product_obj(p) for p in found], args)

    def customers(self, info: Any, **args: Any) -> dict[str, Any]:
        found = ordered(
            search(
                self.shop.customers.values(), args.get("query"), ("email", "firstName", "lastName")
            ),
            args.get("sortKey"),
            args.get("reverse"),
        )
        return self._page([self.customer_obj(c) for c in found], args)

    def locations(self, info: Any, **args: Any) -> dict[str, Any]:
        found = [
            loc
            for loc in self.shop.locations.values()
            if loc["isActive"] or args.get("includeInactive")
        ]
        return self._page(ordered(found, args.get("sortKey"), args.get("reverse")), args)

    # -- mutations -----------------------------------------------------------------------------

    def productCreate(
        self, info: Any, product: dict[str, Any] | None = None, **args: Any
    ) -> dict[str, Any]:
        values = dict(product or {})
        if not str(values.get("title") or "").strip():
            return {"product": None, "userErrors": [user_error(["title"], "Title can't be blank")]}
        made = self.shop.add_product({k: v for k, v in values.items() if v is not None})
        return {"product": self.product_obj(made), "shop": self.shop_obj(), "userErrors": []}

    def shop_obj(self) -> dict[str, Any]:
        return self.shop_field(None)

    def productUpdate(
        self, info: Any, product: dict[str, Any] | None = None, **args: Any
    ) -> dict[str, Any]:
        values = dict(product or {})
        found = self.shop.products.get(str(values.pop("id", "")))
        if found is None:
            return {"product": None, "userErrors": [user_error(["id"], "Product does not exist")]}
        if "title" in values and not str(values["title"] or "").strip():
            return {"product": None, "userErrors": [user_error(["title"], "Title can't be blank")]}
        found.update({k: v for k, v in values.items() if v is not None}, updatedAt=now_iso())
        return {"product": self.product_obj(found), "userErrors": []}

    def customerCreate(self, info: Any, input: dict[str, Any]) -> dict[str, Any]:
        values = {k: v for k, v in input.items() if v is not None}
        email, phone = values.get("email"), values.get("phone")
        errors = []
        if not any(values.get(k) for k in ("email", "phone", "firstName", "lastName")):
            errors.append(
                user_error(None, "A name, phone number, or email address must be present")
            )
        if email and not EMAIL.match(str(email)):
            errors.append(user_error(["email"], "Email is invalid"))
        if email and any(c.get("email") == email for c in self.shop.customers.values()):
            errors.append(user_error(["email"], "Email has already been taken"))
        if phone and not re.fullmatch(r"\+[1-9]\d{6,14}", str(phone)):
            errors.append(user_error(["phone"], "Phone is invalid"))
        if errors:
            return {"customer": None, "userErrors": errors}
        consent = values.pop("emailMarketingConsent", None)
        if consent:
            values["marketingState"] = consent["marketingState"]
        return {"customer": self.customer_obj(self.shop.add_customer(values)), "userErrors": []}

    def orderUpdate(self, info: Any, input: dict[str, Any]) -> dict[str, Any]:
        order = self.shop.orders.get(input["id"])
        if order is None:
            return {"order": None, "userErrors": [user_error(["id"], "Order does not exist")]}
        if input.get("email") and not EMAIL.match(input["email"]):
            return {"order": None, "userErrors": [user_error(["email"], "Email is invalid")]}
        order.update(
            {k: v for k, v in input.items() if v is not None and k != "id"}, updatedAt=now_iso()
        )
        return {"order": self.order_obj(order), "userErrors": []}

    def tagsAdd(self, info: Any, id: str, tags: list[str]) -> dict[str, Any]:
        kind = kind_of(id)
        scope = TAG_SCOPES.get(kind)
        if scope is None:
            return {
                "node": None,
                "userErrors": [user_error(["id"], "Resource type is not taggable")],
            }
        if scope not in self.scopes:
            denied("tagsAdd", scope)
        records = {
            "Order": self.shop.orders,
            "Customer": self.shop.customers,
            "Product": self.shop.products,
            "DraftOrder": self.shop.draft_orders,
        }[kind]
        record = records.get(id)
        if record is None:
            return {"node": None, "userErrors": [user_error(["id"], f"{kind} does not exist")]}
        record["tags"] = list(
            dict.fromkeys([*record.get("tags", []), *(t.strip() for t in tags if t.strip())])
        )
        return {"node": {"__typename": kind, "id": id}, "userErrors": []}

    def draftOrderCreate(self, info: Any, input: dict[str, Any]) -> dict[str, Any]:
        lines, errors = [], []
        for n, line in enumerate(input.get("lineItems") or []):
            where = ["lineItems", str(n)]
            if line.get("variantId"):
                variant = self.shop.variants.get(line["variantId"])
                if variant is None:
                    errors.append(
                        user_error([*where, "variantId"], "Product variant does not exist")
                    )
                    continue
                lines.append(
                    {
                        "id": self.shop.new("DraftOrderLineItem"),
                        "variantId": variant["id"],
                        "sku": variant["sku"],
                        "title": self.shop.products[variant["productId"]]["title"],
                        "quantity": line["quantity"],
                        "price": variant["price"],
                    }
                )
            elif not line.get("title"):
                errors.append(user_error([*where, "title"], "Title can't be blank"))
            else:
                lines.append(
                    {
                        "id": self.shop.new("DraftOrderLineItem"),
                        "variantId": None,
                        "sku": line.get("sku"),
                        "title": line["title"],
                        "quantity": line["quantity"],
                        "price": str(line.get("originalUnitPrice") or "0.00"),
                    }
                )
        if not input.get("lineItems"):
            errors.append(user_error(["lineItems"], "Add at least 1 product"))
        customer = (input.get("purchasingEntity") or {}).get("customerId") or input.get(
            "customerId"
        )
        if customer and customer not in self.shop.customers:
            errors.append(user_error(["purchasingEntity", "customerId"], "Customer does not exist"))
        if errors:
            return {"draftOrder": None, "userErrors": errors}
        draft_id = self.shop.new("DraftOrder")
        draft = {
            "id": draft_id,
            "legacyResourceId": number(draft_id),
            "name": f"#D{len(self.shop.draft_orders) + 1}",
            "status": "OPEN",
            "email": input.get("email"),
            "createdAt": now_iso(),
            "completedAt": None,
            "tags": list(input.get("tags") or []),
            "note2": input.get("note"),
            "customerId": customer,
            "orderId": None,
            "lines": lines,
        }
        self.shop.draft_orders[draft_id] = draft
        return {"draftOrder": self.draft_obj(draft), "userErrors": []}

    def draftOrderComplete(self, info: Any, id: str, **args: Any) -> dict[str, Any]:
        draft = self.shop.draft_orders.get(id)
        if draft is None:
            return {
                "draftOrder": None,
                "userErrors": [user_error(["id"], "Draft order does not exist")],
            }
        if draft["status"] == "COMPLETED":
            return {
                "draftOrder": None,
                "userErrors": [user_error(["id"], "This order has already been paid")],
            }
        order = self.shop.add_order(
            email=draft["email"],
            customer_id=draft["customerId"],
            lines=draft["lines"],
            paid=True,
            tags=draft["tags"],
            note=draft["note2"],
        )
        draft.update(status="COMPLETED", completedAt=now_iso(), orderId=order["id"])
        return {"draftOrder": self.draft_obj(draft), "userErrors": []}

    def inventoryAdjustQuantities(self, info: Any, input: dict[str, Any]) -> dict[str, Any]:
        errors = []
        if input["reason"] not in ADJUST_REASONS:
            errors.append(
                user_error(
                    ["input", "reason"], "The specified reason is invalid.", "INVALID_REASON"
                )
            )
        if input["name"] not in ("available", "damaged", "quality_control", "safety_stock"):
            errors.append(
                user_error(
                    ["input", "name"],
                    "The specified quantity name is invalid.",
                    "INVALID_QUANTITY_NAME",
                )
            )
        items = {v["inventoryItemId"] for v in self.shop.variants.values()}
        for n, change in enumerate(input["changes"]):
            where = ["input", "changes", str(n)]
            if change["inventoryItemId"] not in items:
                errors.append(
                    user_error(
                        [*where, "inventoryItemId"],
                        "The specified inventory item could not be found.",
                        "INVALID_INVENTORY_ITEM",
                    )
                )
            elif change["locationId"] not in self.shop.locations:
                errors.append(
                    user_error(
                        [*where, "locationId"],
                        "The specified location could not be found.",
                        "INVALID_LOCATION",
                    )
                )
            elif (change["inventoryItemId"], change["locationId"]) not in self.shop.stock:
                errors.append(
                    user_error(
                        [*where, "locationId"],
                        "The item is not stocked at the location.",
                        "ITEM_NOT_STOCKED_AT_LOCATION",
                    )
                )
        if errors:
            return {"inventoryAdjustmentGroup": None, "userErrors": errors}
        changes = []
        for change in input["changes"]:
            key = (change["inventoryItemId"], change["locationId"])
            if input["name"] == "available":
                self.shop.stock[key] += change["delta"]
            location = self.shop.locations[change["locationId"]]
            changes.append(
                {
                    "name": input["name"],
                    "delta": change["delta"],
                    "quantityAfterChange": self.shop.stock[key],
                    "item": {"id": change["inventoryItemId"], "sku": None, "tracked": True},
                    "location": location,
                    "ledgerDocumentUri": change.get("ledgerDocumentUri"),
                }
            )
        group = {
            "id": self.shop.new("InventoryAdjustmentGroup"),
            "createdAt": now_iso(),
            "reason": input["reason"],
            "referenceDocumentUri": input.get("referenceDocumentUri"),
            "changes": lambda info, **a: changes,
        }
        return {"inventoryAdjustmentGroup": group, "userErrors": []}

    def fulfillmentCreate(
        self, info: Any, fulfillment: dict[str, Any], message: str | None = None
    ) -> dict[str, Any]:
        groups = fulfillment["lineItemsByFulfillmentOrder"]
        total, order_id, location_id = 0, None, None
        for n, group in enumerate(groups):
            where = ["fulfillment", "lineItemsByFulfillmentOrder", str(n)]
            fo = self.shop.fulfillment_orders.get(group["fulfillmentOrderId"])
            if fo is None:
                return {
                    "fulfillment": None,
                    "userErrors": [
                        user_error(
                            [*where, "fulfillmentOrderId"], "Fulfillment order does not exist."
                        )
                    ],
                }
            if fo["status"] != "OPEN":
                return {
                    "fulfillment": None,
                    "userErrors": [
                        user_error(
                            [*where, "fulfillmentOrderId"],
                            f"Fulfillment order {number(fo['id'])} has an unfulfillable "
                            f"status= {fo['status'].lower()}.",
                        )
                    ],
                }
            wanted = {
                li["id"]: li["quantity"] for li in group.get("fulfillmentOrderLineItems") or []
            } or dict(fo["lines"])
            for line_id, quantity in wanted.items():
                if fo["lines"].get(line_id, 0) < quantity:
                    return {
                        "fulfillment": None,
                        "userErrors": [
                            user_error(
                                [*where, "fulfillmentOrderLineItems"],
                                "Invalid fulfillment order line item quantity requested.",
                            )
                        ],
                    }
            for line_id, quantity in wanted.items():
                fo["lines"][line_id] -= quantity
                total += quantity
            if not any(fo["lines"].values()):
                fo["status"] = "CLOSED"
            order_id, location_id = fo["orderId"], fo["locationId"]
        order = self.shop.orders[str(order_id)]
        done = all(
            f["status"] == "CLOSED"
            for f in self.shop.fulfillment_orders.values()
            if f["orderId"] == order_id
        )
        order["displayFulfillmentStatus"] = "FULFILLED" if done else "PARTIALLY_FULFILLED"
        count = sum(
            1
            for f in self.shop.fulfillment_orders.values()
            if f["orderId"] == order_id and f["status"] == "CLOSED"
        )
        made = {
            "id": self.shop.new("Fulfillment"),
            "name": f"{order['name']}-F{max(count, 1)}",
            "status": "SUCCESS",
            "displayStatus": "FULFILLED",
            "createdAt": now_iso(),
            "totalQuantity": total,
            "order": self.order_obj(order),
            "location": self.shop.locations[str(location_id)],
        }
        made["legacyResourceId"] = number(made["id"])
        return {"fulfillment": made, "userErrors": []}

    def webhookSubscriptionCreate(
        self, info: Any, topic: str, webhookSubscription: dict[str, Any]
    ) -> dict[str, Any]:
        scope = TOPIC_SCOPES.get(topic)
        if scope and scope not in self.scopes:
            denied("webhookSubscriptionCreate", scope)
        uri = str(webhookSubscription.get("uri") or webhookSubscription.get("callbackUrl") or "")
        host = re.sub(r"^https?://", "", uri).split("/")[0].split(":")[0]
        # Shopify takes only https:// addresses; the sandbox also takes http:// on this
        # machine (a local Cellwright), which real Shopify could not reach anyway.
        if not uri.startswith("https://") and not (
            uri.startswith("http://") and host in ("localhost", "127.0.0.1", "testserver")
        ):
            return {
                "webhookSubscription": None,
                "userErrors": [
                    user_error(
                        ["webhookSubscription", "callbackUrl"],
                        f"Address protocol {uri.split(':')[0]}:// is not supported",
                    )
                ],
            }
        if any(h["topic"] == topic and h["uri"] == uri for h in self.shop.webhooks.values()):
            return {
                "webhookSubscription": None,
                "userErrors": [
                    user_error(
                        ["webhookSubscription", "callbackUrl"],
                        "Address for this topic has already been taken",
                    )
                ],
            }
        hook_id = self.shop.new("WebhookSubscription")
        hook = {
            "id": hook_id,
            "legacyResourceId": number(hook_id),
            "topic": topic,
            "uri": uri,
            "format": "JSON",
            "createdAt": now_iso(),
            "restTopic": topic.lower().replace("_", "/", 1),
            "secret": self.signing_secret,
            "apiVersion": "2026-10",
            "since": len(self.shop.events),
        }
        self.shop.webhooks[hook_id] = hook
        return {"webhookSubscription": hook, "userErrors": []}

    def webhookSubscriptionDelete(self, info: Any, id: str) -> dict[str, Any]:
        if self.shop.webhooks.pop(id, None) is None:
            return {
                "deletedWebhookSubscriptionId": None,
                "userErrors": [user_error(["id"], "Webhook subscription does not exist")],
            }
        return {"deletedWebhookSubscriptionId": id, "userErrors": []}
