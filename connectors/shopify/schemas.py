"""Shopify inputs and outputs: one model per shape, every field described.

IDs are Shopify's global IDs (``gid://shopify/Product/1``): what the Admin GraphQL API
takes and returns. Outputs also carry ``legacy_id`` (the number the admin's URLs and the
webhooks' REST payloads show). Trigger outputs have the same fields whether an event came
from a webhook (REST-shaped JSON) or from polling (GraphQL).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from connectors.sdk import dynamic

ProductStatus = Literal["ACTIVE", "DRAFT", "ARCHIVED", "UNLISTED"]
InventoryReason = Literal[
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
]


def _gid(value: str, kind: str | None, field: str) -> str:
    """A Shopify global ID (``gid://shopify/<kind>/<n>``); a bare number is
    accepted when ``kind`` is known."""
    text = value.strip()
    if kind and text.isdigit():
        return f"gid://shopify/{kind}/{text}"
    if not text.startswith("gid://shopify/") or (
        kind and not text.startswith(f"gid://shopify/{kind}/")
    ):
        expected = f"gid://shopify/{kind}/<number>" if kind else "gid://shopify/<Type>/<number>"
        raise ValueError(f"{field} must be a Shopify ID like {expected}, got '{value}'")
    return text


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- products --------------------------------------------------------------------------------


class CreateProductInput(Input):
    title: str = Field(min_length=1, description="The product's title.")
    description_html: str | None = Field(None, description="The description, as HTML.")
    vendor: str | None = Field(None, description="The product's vendor (brand).")
    product_type: str | None = Field(
        None, description="The product type, for grouping and filtering."
    )
    status: ProductStatus = Field(
        "DRAFT", description="ACTIVE (on sale), DRAFT (hidden), ARCHIVED or UNLISTED."
    )
    tags: list[str] = Field(default_factory=list, description="Tags to give the product.")
    handle: str | None = Field(
        None, description="The URL handle; Shopify derives one from the title when empty."
    )


class UpdateProductInput(Input):
    product_id: str = Field(
        description="The product to change.", json_schema_extra=dynamic("products")
    )
    title: str | None = Field(None, min_length=1, description="New title.")
    description_html: str | None = Field(None, description="New description, as HTML.")
    vendor: str | None = Field(None, description="New vendor.")
    product_type: str | None = Field(None, description="New product type.")
    status: ProductStatus | None = Field(
        None, description="New status: ACTIVE, DRAFT, ARCHIVED or UNLISTED."
    )
    tags: list[str] | None = Field(
        None, description="The product's tags (replaces them all; use Add tags to add)."
    )
    handle: str | None = Field(None, description="New URL handle.")

    @field_validator("product_id")
    @classmethod
    def _product_id(cls, value: str) -> str:
        return _gid(value, "Product", "product_id")


class Variant(BaseModel):
    id: str = Field(description="The variant's ID.")
    title: str = Field(
        description="The variant's title (e.g. 'Blue / L'; 'Default Title' when "
        "there are no options)."
    )
    sku: str | None = Field(None, description="Stock keeping unit.")
    price: str | None = Field(
        None, description="Price, as a decimal string in the shop's currency."
    )
    inventory_item_id: str | None = Field(
        None, description="Its inventory item (for Adjust inventory)."
    )
    inventory_quantity: int | None = Field(None, description="Units available across locations.")


class Product(BaseModel):
    id: str = Field(description="Product ID (gid://shopify/Product/…).")
    legacy_id: str = Field(description="The numeric ID shown in the admin's URLs.")
    title: str = Field(description="Title.")
    handle: str = Field(description="URL handle.")
    status: str = Field(description="ACTIVE, DRAFT, ARCHIVED or UNLISTED.")
    vendor: str | None = Field(None, description="Vendor.")
    product_type: str | None = Field(None, description="Product type.")
    tags: list[str] = Field(default_factory=list, description="Tags.")
    description_html: str | None = Field(None, description="Description, as HTML.")
    total_inventory: int | None = Field(
        None, description="Units in stock over all variants and locations."
    )
    created_at: str | None = Field(None, description="When it was created (ISO 8601).")
    updated_at: str | None = Field(None, description="When it last changed (ISO 8601).")
    variants: list[Variant] = Field(
        default_factory=list, description="Its variants (the first 20)."
    )


# -- customers -------------------------------------------------------------------------------


class CreateCustomerInput(Input):
    email: str | None = Field(
        None, description="E-mail address (a customer needs an e-mail, a phone or a name)."
    )
    first_name: str | None = Field(None, description="First name.")
    last_name: str | None = Field(None, description="Last name.")
    phone: str | None = Field(None, description="Phone number in E.164 format, e.g. +16135551111.")
    note: str | None = Field(None, description="A note about the customer, for staff.")
    tags: list[str] = Field(default_factory=list, description="Tags to give the customer.")
    accepts_email_marketing: bool = Field(
        False,
        description="The customer agreed to receive marketing e-mails (recorded as subscribed).",
    )


class Customer(BaseModel):
    id: str = Field(description="Customer ID (gid://shopify/Customer/…).")
    legacy_id: str = Field(description="The numeric ID shown in the admin's URLs.")
    first_name: str | None = Field(None, description="First name.")
    last_name: str | None = Field(None, description="Last name.")
    display_name: str | None = Field(None, description="Name as the admin shows it.")
    email: str | None = Field(None, description="E-mail address.")
    phone: str | None = Field(None, description="Phone number.")
    tags: list[str] = Field(default_factory=list, description="Tags.")
    note: str | None = Field(None, description="Staff note.")
    state: str | None = Field(
        None, description="Account state: DISABLED, INVITED, ENABLED or DECLINED."
    )
    number_of_orders: int | None = Field(None, description="How many orders the customer placed.")
    created_at: str | None = Field(None, description="When the customer was created (ISO 8601).")
    updated_at: str | None = Field(None, description="When the customer last changed (ISO 8601).")


# -- orders ----------------------------------------------------------------------------------


class LineItem(BaseModel):
    id: str | None = Field(None, description="Line item ID.")
    title: str = Field(description="Product title.")
    quantity: int = Field(description="Quantity.")
    sku: str | None = Field(None, description="SKU of the variant.")
    variant_id: str | None = Field(
        None, description="The variant bought (gid://shopify/ProductVariant/…)."
    )
    price: str | None = Field(None, description="Unit price, as a decimal string.")


class Order(BaseModel):
    id: str = Field(description="Order ID (gid://shopify/Order/…).")
    legacy_id: str = Field(description="The numeric ID shown in the admin's URLs.")
    name: str = Field(description="The order's name as customers see it, e.g. #1001.")
    email: str | None = Field(None, description="The customer's e-mail for this order.")
    phone: str | None = Field(None, description="The customer's phone for this order.")
    created_at: str = Field(description="When the order was placed (ISO 8601).")
    updated_at: str | None = Field(None, description="When the order last changed (ISO 8601).")
    cancelled_at: str | None = Field(None, description="When it was cancelled, if it was.")
    financial_status: str | None = Field(
        None, description="Payment status, lower case: pending, paid, refunded…"
    )
    fulfillment_status: str | None = Field(
        None, description="Fulfilment status, lower case: unfulfilled, fulfilled…"
    )
    total_price: str = Field(description="Total, as a decimal string in the shop's currency.")
    subtotal_price: str | None = Field(
        None, description="Subtotal before shipping and taxes, as a decimal string."
    )
    currency: str = Field(description="The shop currency's ISO code (EUR, USD…).")
    tags: list[str] = Field(default_factory=list, description="Tags.")
    note: str | None = Field(None, description="The order's note.")
    customer_id: str | None = Field(
        None, description="The customer's ID (gid://shopify/Customer/…)."
    )
    customer_name: str | None = Field(None, description="The customer's first and last name.")
    line_items: list[LineItem] = Field(
        default_factory=list, description="What was bought (the first 20 lines)."
    )


class UpdateOrderInput(Input):
    order_id: str = Field(description="The order to change (gid://shopify/Order/… or its number).")
    note: str | None = Field(None, description="New note (replaces the old one).")
    email: str | None = Field(None, description="New e-mail address for the order.")
    tags: list[str] | None = Field(
        None, description="The order's tags (replaces them all; use Add tags to add)."
    )
    po_number: str | None = Field(None, description="Purchase order number.")

    @field_validator("order_id")
    @classmethod
    def _order_id(cls, value: str) -> str:
        return _gid(value, "Order", "order_id")


# -- tags ------------------------------------------------------------------------------------


class AddTagsInput(Input):
    resource_id: str = Field(
        description="What to tag: an order, customer, product, draft order or article ID (gid://shopify/Order/…)."
    )
    tags: list[str] = Field(min_length=1, description="Tags to add (existing tags are kept).")

    @field_validator("resource_id")
    @classmethod
    def _resource_id(cls, value: str) -> str:
        return _gid(value, None, "resource_id")


class TagsResult(BaseModel):
    id: str = Field(description="The tagged resource's ID.")
    tags_added: list[str] = Field(description="The tags that were sent.")


# -- draft orders ----------------------------------------------------------------------------


class DraftLineItemInput(Input):
    variant_id: str | None = Field(
        None,
        description="A product variant to sell (its price and title come from the shop).",
        json_schema_extra=dynamic("variants"),
    )
    title: str | None = Field(None, description="A custom item's title (without a variant).")
    price: str | None = Field(
        None, description="A custom item's unit price, as a decimal string (without a variant)."
    )
    quantity: int = Field(1, ge=1, description="Quantity.")

    @field_validator("variant_id")
    @classmethod
    def _variant_id(cls, value: str | None) -> str | None:
        return None if value is None else _gid(value, "ProductVariant", "variant_id")


class CreateDraftOrderInput(Input):
    line_items: list[DraftLineItemInput] = Field(min_length=1, description="What the order sells.")
    email: str | None = Field(None, description="The customer's e-mail (for the invoice).")
    customer_id: str | None = Field(
        None, description="An existing customer to attach (gid://shopify/Customer/…)."
    )
    note: str | None = Field(None, description="A note on the order.")
    tags: list[str] = Field(default_factory=list, description="Tags to give the draft order.")

    @field_validator("customer_id")
    @classmethod
    def _customer_id(cls, value: str | None) -> str | None:
        return None if value is None else _gid(value, "Customer", "customer_id")


class CompleteDraftOrderInput(Input):
    draft_order_id: str = Field(
        description="The draft order to turn into an order (gid://shopify/DraftOrder/…)."
    )

    @field_validator("draft_order_id")
    @classmethod
    def _draft_order_id(cls, value: str) -> str:
        return _gid(value, "DraftOrder", "draft_order_id")


class DraftOrder(BaseModel):
    id: str = Field(description="Draft order ID (gid://shopify/DraftOrder/…).")
    legacy_id: str = Field(description="The numeric ID shown in the admin's URLs.")
    name: str = Field(description="Its name, e.g. #D1.")
    status: str = Field(description="OPEN, INVOICE_SENT or COMPLETED.")
    email: str | None = Field(None, description="The customer's e-mail.")
    invoice_url: str | None = Field(None, description="Where the customer can pay it.")
    total_price: str = Field(description="Total, as a decimal string.")
    currency: str = Field(description="The currency's ISO code.")
    tags: list[str] = Field(default_factory=list, description="Tags.")
    note: str | None = Field(None, description="Note.")
    customer_id: str | None = Field(None, description="The attached customer's ID.")
    created_at: str | None = Field(None, description="When it was created (ISO 8601).")
    completed_at: str | None = Field(None, description="When it became an order.")
    order_id: str | None = Field(None, description="The order it became, once completed.")
    order_name: str | None = Field(None, description="That order's name, e.g. #1002.")
    line_items: list[LineItem] = Field(default_factory=list, description="Its lines.")


# -- inventory and fulfilment ----------------------------------------------------------------


class AdjustInventoryInput(Input):
    inventory_item_id: str = Field(
        description="The variant's inventory item (gid://shopify/InventoryItem/…).",
        json_schema_extra=dynamic("inventory_items"),
    )
    location_id: str = Field(
        description="Where the stock is.", json_schema_extra=dynamic("locations")
    )
    delta: int = Field(description="How many units to add (negative to remove).")
    reason: InventoryReason = Field(
        "correction", description="Why, as Shopify records it (correction, received…)."
    )
    quantity_name: Literal["available", "damaged", "quality_control", "safety_stock"] = Field(
        "available", description="Which quantity changes (available for sale by default)."
    )
    reference_document_uri: str | None = Field(
        None,
        description="A URI of what caused it, e.g. gid://cellwright/Run/123 "
        "or a purchase order's URL.",
    )

    @field_validator("delta")
    @classmethod
    def _delta(cls, value: int) -> int:
        if value == 0:
            raise ValueError("delta must not be 0")
        return value

    @field_validator("inventory_item_id")
    @classmethod
    def _item(cls, value: str) -> str:
        return _gid(value, "InventoryItem", "inventory_item_id")

    @field_validator("location_id")
    @classmethod
    def _location(cls, value: str) -> str:
        return _gid(value, "Location", "location_id")


class InventoryChange(BaseModel):
    name: str = Field(description="The quantity that changed (available…).")
    delta: int = Field(description="By how much.")
    quantity_after_change: int | None = Field(None, description="The quantity afterwards.")
    inventory_item_id: str | None = Field(None, description="The inventory item.")
    location_id: str | None = Field(None, description="The location.")
    location_name: str | None = Field(None, description="The location's name.")


class InventoryAdjustment(BaseModel):
    id: str = Field(description="The adjustment group's ID.")
    created_at: str = Field(description="When it was made (ISO 8601).")
    reason: str = Field(description="Its reason.")
    reference_document_uri: str | None = Field(None, description="The reference given.")
    changes: list[InventoryChange] = Field(description="The quantities that changed.")


class FulfillmentLineInput(Input):
    id: str = Field(
        description="A fulfilment order line item (gid://shopify/FulfillmentOrderLineItem/…)."
    )
    quantity: int = Field(ge=1, description="How many of it to fulfil.")


class CreateFulfillmentInput(Input):
    fulfillment_order_id: str = Field(
        description="The fulfilment order to fulfil (gid://shopify/FulfillmentOrder/…): "
        "Shopify creates one per location an order ships from."
    )
    line_items: list[FulfillmentLineInput] = Field(
        default_factory=list,
        description="Which lines and how many; empty fulfils everything that is left.",
    )
    tracking_number: str | None = Field(None, description="The parcel's tracking number.")
    tracking_company: str | None = Field(
        None, description="The carrier, e.g. UPS, DHL Express, Canada Post."
    )
    tracking_url: str | None = Field(None, description="A tracking page's URL.")
    notify_customer: bool = Field(
        False, description="Send the customer the shipping confirmation e-mail."
    )

    @field_validator("fulfillment_order_id")
    @classmethod
    def _fulfillment_order(cls, value: str) -> str:
        return _gid(value, "FulfillmentOrder", "fulfillment_order_id")


class Fulfillment(BaseModel):
    id: str = Field(description="Fulfilment ID (gid://shopify/Fulfillment/…).")
    name: str = Field(description="Its name, e.g. #1001-F1.")
    status: str = Field(description="SUCCESS, PENDING, OPEN, CANCELLED, ERROR or FAILURE.")
    created_at: str = Field(description="When it was created (ISO 8601).")
    total_quantity: int = Field(description="Units fulfilled.")
    order_id: str = Field(description="The order.")
    order_name: str = Field(description="The order's name.")
    location_id: str | None = Field(None, description="Where it shipped from.")


# -- triggers --------------------------------------------------------------------------------


class NoTriggerInput(Input):
    """Instant triggers need nothing: the connection says which shop."""


class PollInput(Input):
    max_items: int = Field(50, ge=1, le=250, description="At most this many per check.")


class Delivery(BaseModel):
    webhook_id: str | None = Field(
        None, description="Shopify's delivery ID (X-Shopify-Webhook-Id); empty when polled."
    )
    topic: str | None = Field(
        None, description="The webhook topic, e.g. orders/create; empty when polled."
    )
    shop_domain: str | None = Field(None, description="The shop that sent it; empty when polled.")
    triggered_at: str | None = Field(
        None, description="When Shopify fired the webhook; empty when polled."
    )


class OrderEvent(Order, Delivery):
    """An order, with the webhook delivery it came in."""


class CustomerEvent(Customer, Delivery):
    """A customer, with the webhook delivery it came in."""


class ProductEvent(Product, Delivery):
    """A product, with the webhook delivery it came in."""
