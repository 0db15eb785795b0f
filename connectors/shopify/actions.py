"""Shopify actions: one GraphQL document and one async function per operation.

Every document uses variables (never string-built queries), so a value cannot change a
query's meaning, and tests validate each document against Shopify's schema. A mutation's
``userErrors`` become ``InvalidInputError`` naming our input field (``api.result``).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from connectors.sdk import Action, OperationContext, load_sample
from connectors.shopify.api import gql, result
from connectors.shopify.records import (
    CUSTOMER_FIELDS,
    DRAFT_ORDER_FIELDS,
    ORDER_FIELDS,
    PRODUCT_FIELDS,
    customer_from_graphql,
    draft_order_from_graphql,
    order_from_graphql,
    product_from_graphql,
)
from connectors.shopify.schemas import (
    AddTagsInput,
    AdjustInventoryInput,
    CompleteDraftOrderInput,
    CreateCustomerInput,
    CreateDraftOrderInput,
    CreateFulfillmentInput,
    CreateProductInput,
    Customer,
    DraftOrder,
    Fulfillment,
    InventoryAdjustment,
    Order,
    Product,
    TagsResult,
    UpdateOrderInput,
    UpdateProductInput,
)

USER_ERRORS = "userErrors { field message }"
PRODUCT_CREATE = (
    PRODUCT_FIELDS
    + f"""mutation ProductCreate($product: ProductCreateInput!) {{
  productCreate(product: $product) {{ product {{ ...ProductFields }} {USER_ERRORS} }}
}}"""
)
PRODUCT_UPDATE = (
    PRODUCT_FIELDS
    + f"""mutation ProductUpdate($product: ProductUpdateInput!) {{
  productUpdate(product: $product) {{ product {{ ...ProductFields }} {USER_ERRORS} }}
}}"""
)
CUSTOMER_CREATE = (
    CUSTOMER_FIELDS
    + f"""mutation CustomerCreate($input: CustomerInput!) {{
  customerCreate(input: $input) {{ customer {{ ...CustomerFields }} {USER_ERRORS} }}
}}"""
)
ORDER_UPDATE = (
    ORDER_FIELDS
    + f"""mutation OrderUpdate($input: OrderInput!) {{
  orderUpdate(input: $input) {{ order {{ ...OrderFields }} {USER_ERRORS} }}
}}"""
)
TAGS_ADD = f"""mutation TagsAdd($id: ID!, $tags: [String!]!) {{
  tagsAdd(id: $id, tags: $tags) {{ node {{ id }} {USER_ERRORS} }}
}}"""
DRAFT_ORDER_CREATE = (
    DRAFT_ORDER_FIELDS
    + f"""mutation DraftOrderCreate($input: DraftOrderInput!) {{
  draftOrderCreate(input: $input) {{ draftOrder {{ ...DraftOrderFields }} {USER_ERRORS} }}
}}"""
)
DRAFT_ORDER_COMPLETE = (
    DRAFT_ORDER_FIELDS
    + f"""mutation DraftOrderComplete($id: ID!) {{
  draftOrderComplete(id: $id) {{ draftOrder {{ ...DraftOrderFields }} {USER_ERRORS} }}
}}"""
)
INVENTORY_ADJUST = """mutation InventoryAdjust($input: InventoryAdjustQuantitiesInput!) {
  inventoryAdjustQuantities(input: $input) {
    inventoryAdjustmentGroup {
      id createdAt reason referenceDocumentUri
      changes { name delta quantityAfterChange item { id } location { id name } }
    }
    userErrors { field message code }
  }
}"""
FULFILLMENT_CREATE = f"""mutation FulfillmentCreate($fulfillment: FulfillmentInput!) {{
  fulfillmentCreate(fulfillment: $fulfillment) {{
    fulfillment {{ id name status createdAt totalQuantity order {{ id name }} location {{ id }} }}
    {USER_ERRORS}
  }}
}}"""

PRODUCT_FIELD_NAMES = {"descriptionHtml": "description_html", "productType": "product_type"}


def _set(values: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """``values`` plus the given fields that are not ``None`` (an
    update changes only what is given)."""
    return {**values, **{k: v for k, v in fields.items() if v is not None}}


async def create_product(ctx: OperationContext, inputs: CreateProductInput) -> Product:
    """Create a product (``productCreate``); it gets one default variant."""
    product = _set(
        {"title": inputs.title, "status": inputs.status, "tags": inputs.tags},
        descriptionHtml=inputs.description_html,
        vendor=inputs.vendor,
        productType=inputs.product_type,
        handle=inputs.handle,
    )
    payload = result(
        await gql(ctx, PRODUCT_CREATE, {"product": product}), "productCreate", PRODUCT_FIELD_NAMES
    )
    return Product.model_validate(product_from_graphql(payload["product"]))


async def update_product(ctx: OperationContext, inputs: UpdateProductInput) -> Product:
    """Change a product's fields (``productUpdate``); fields left empty stay as they are."""
    product = _set(
        {"id": inputs.product_id},
        title=inputs.title,
        descriptionHtml=inputs.description_html,
        vendor=inputs.vendor,
        productType=inputs.product_type,
        status=inputs.status,
        tags=inputs.tags,
        handle=inputs.handle,
    )
    fields = {**PRODUCT_FIELD_NAMES, "id": "product_id"}
    payload = result(await gql(ctx, PRODUCT_UPDATE, {"product": product}), "productUpdate", fields)
    return Product.model_validate(product_from_graphql(payload["product"]))


async def create_customer(ctx: OperationContext, inputs: CreateCustomerInput) -> Customer:
    """Create a customer (``customerCreate``)."""
    customer = _set(
        {"tags": inputs.tags},
        email=inputs.email,
        firstName=inputs.first_name,
        lastName=inputs.last_name,
        phone=inputs.phone,
        note=inputs.note,
    )
    if inputs.accepts_email_marketing:
        customer["emailMarketingConsent"] = {
            "marketingState": "SUBSCRIBED",
            "marketingOptInLevel": "SINGLE_OPT_IN",
        }
    fields = {"emailMarketingConsent": "accepts_email_marketing"}
    payload = result(await gql(ctx, CUSTOMER_CREATE, {"input": customer}), "customerCreate", fields)
    return Customer.model_validate(customer_from_graphql(payload["customer"]))


async def update_order(ctx: OperationContext, inputs: UpdateOrderInput) -> Order:
    """Change an order's note, e-mail, tags or PO number (``orderUpdate``)."""
    order = _set(
        {"id": inputs.order_id},
        note=inputs.note,
        email=inputs.email,
        tags=inputs.tags,
        poNumber=inputs.po_number,
    )
    payload = result(
        await gql(ctx, ORDER_UPDATE, {"input": order}), "orderUpdate", {"id": "order_id"}
    )
    return Order.model_validate(order_from_graphql(payload["order"]))


async def add_tags(ctx: OperationContext, inputs: AddTagsInput) -> TagsResult:
    """Add tags to an order, customer, product, draft order or article (``tagsAdd``)."""
    payload = result(
        await gql(ctx, TAGS_ADD, {"id": inputs.resource_id, "tags": inputs.tags}),
        "tagsAdd",
        {"id": "resource_id"},
    )
    return TagsResult(
        id=(payload.get("node") or {}).get("id") or inputs.resource_id, tags_added=list(inputs.tags)
    )


async def create_draft_order(ctx: OperationContext, inputs: CreateDraftOrderInput) -> DraftOrder:
    """Create a draft order (``draftOrderCreate``) from variants or custom items."""
    lines = []
    for line in inputs.line_items:
        if line.variant_id:
            lines.append({"variantId": line.variant_id, "quantity": line.quantity})
        else:
            custom = _set({"quantity": line.quantity}, title=line.title)
            if line.price is not None:  # deprecated but current: in the shop's currency, which
                custom["originalUnitPrice"] = (
                    line.price
                )  # originalUnitPriceWithCurrency would make us ask for
            lines.append(custom)
    draft = _set({"lineItems": lines, "tags": inputs.tags}, email=inputs.email, note=inputs.note)
    if inputs.customer_id:
        draft["purchasingEntity"] = {"customerId": inputs.customer_id}
    fields = {
        "lineItems": "line_items",
        "variantId": "variant_id",
        "originalUnitPrice": "price",
        "purchasingEntity": "customer_id",
    }
    payload = result(
        await gql(ctx, DRAFT_ORDER_CREATE, {"input": draft}), "draftOrderCreate", fields
    )
    return DraftOrder.model_validate(draft_order_from_graphql(payload["draftOrder"]))


async def complete_draft_order(
    ctx: OperationContext, inputs: CompleteDraftOrderInput
) -> DraftOrder:
    """Turn a draft order into an order, marked as paid (``draftOrderComplete``)."""
    payload = result(
        await gql(ctx, DRAFT_ORDER_COMPLETE, {"id": inputs.draft_order_id}),
        "draftOrderComplete",
        {"id": "draft_order_id"},
    )
    return DraftOrder.model_validate(draft_order_from_graphql(payload["draftOrder"]))


async def adjust_inventory(
    ctx: OperationContext, inputs: AdjustInventoryInput
) -> InventoryAdjustment:
    """Add or remove stock of an item at a location (``inventoryAdjustQuantities``)."""
    change = {
        "inventoryItemId": inputs.inventory_item_id,
        "locationId": inputs.location_id,
        "delta": inputs.delta,
    }
    adjustment = _set(
        {"name": inputs.quantity_name, "reason": inputs.reason, "changes": [change]},
        referenceDocumentUri=inputs.reference_document_uri,
    )
    fields = {
        "changes": "",
        "inventoryItemId": "inventory_item_id",
        "locationId": "location_id",
        "referenceDocumentUri": "reference_document_uri",
        "name": "quantity_name",
    }
    payload = result(
        await gql(ctx, INVENTORY_ADJUST, {"input": adjustment}), "inventoryAdjustQuantities", fields
    )
    group = payload["inventoryAdjustmentGroup"]
    changes = [
        {
            "name": c["name"],
            "delta": c["delta"],
            "quantity_after_change": c.get("quantityAfterChange"),
            "inventory_item_id": (c.get("item") or {}).get("id"),
            "location_id": (c.get("location") or {}).get("id"),
            "location_name": (c.get("location") or {}).get("name"),
        }
        for c in group.get("changes") or []
    ]
    return InventoryAdjustment(
        id=group["id"],
        created_at=group["createdAt"],
        reason=group["reason"],
        reference_document_uri=group.get("referenceDocumentUri"),
        changes=changes,
    )  # type: ignore[arg-type]


async def create_fulfillment(ctx: OperationContext, inputs: CreateFulfillmentInput) -> Fulfillment:
    """Fulfil a fulfilment order, with tracking (``fulfillmentCreate``)."""
    by_order: dict[str, Any] = {"fulfillmentOrderId": inputs.fulfillment_order_id}
    if inputs.line_items:
        by_order["fulfillmentOrderLineItems"] = [
            {"id": li.id, "quantity": li.quantity} for li in inputs.line_items
        ]
    fulfillment: dict[str, Any] = {
        "lineItemsByFulfillmentOrder": [by_order],
        "notifyCustomer": inputs.notify_customer,
    }
    tracking = _set(
        {}, number=inputs.tracking_number, company=inputs.tracking_company, url=inputs.tracking_url
    )
    if tracking:
        fulfillment["trackingInfo"] = tracking
    fields = {
        "lineItemsByFulfillmentOrder": "",
        "fulfillmentOrderId": "fulfillment_order_id",
        "fulfillmentOrderLineItems": "line_items",
        "trackingInfo": "",
        "number": "tracking_number",
        "company": "tracking_company",
        "url": "tracking_url",
    }
    payload = result(
        await gql(ctx, FULFILLMENT_CREATE, {"fulfillment": fulfillment}),
        "fulfillmentCreate",
        fields,
    )
    made = payload["fulfillment"]
    return Fulfillment(
        id=made["id"],
        name=made["name"],
        status=made["status"],
        created_at=made["createdAt"],
        total_quantity=made["totalQuantity"],
        order_id=made["order"]["id"],
        order_name=made["order"]["name"],
        location_id=(made.get("location") or {}).get("id"),
    )


# -- the list ---------------------------------------------------------------------------------

PRODUCT = "gid://shopify/Product/7001"  # the sandbox shop's demo records, for the examples
VARIANT = "gid://shopify/ProductVariant/8001"
INVENTORY_ITEM = "gid://shopify/InventoryItem/9001"
LOCATION = "gid://shopify/Location/6001"
ORDER = "gid://shopify/Order/5001"
DRAFT_ORDER = "gid://shopify/DraftOrder/4001"
FULFILLMENT_ORDER = "gid://shopify/FulfillmentOrder/3001"


def _action(
    key: str,
    name: str,
    description: str,
    perform: Any,
    input: type[BaseModel],
    output: type[BaseModel],
    example: dict[str, Any],
    idempotent: bool = False,
) -> Action:
    return Action(
        key=key,
        name=name,
        description=description,
        perform=perform,
        input=input,
        output=output,
        sample=load_sample(__file__, key),
        example=example,
        idempotent=idempotent,
    )


ACTIONS: tuple[Action, ...] = (
    _action(
        "create_product",
        "Create product",
        "Create a product (with one default variant).",
        create_product,
        CreateProductInput,
        Product,
        {
            "title": "Autumn scarf",
            "vendor": "Cellwright Knits",
            "status": "ACTIVE",
            "tags": ["autumn"],
        },
    ),
    _action(
        "update_product",
        "Update product",
        "Change a product's title, description, status, tags and more.",
        update_product,
        UpdateProductInput,
        Product,
        {"product_id": PRODUCT, "status": "ACTIVE"},
        idempotent=True,
    ),
    _action(
        "create_customer",
        "Create customer",
        "Create a customer with e-mail, name, phone, tags and consent.",
        create_customer,
        CreateCustomerInput,
        Customer,
        {
            "email": "grace@example.com",
            "first_name": "Grace",
            "last_name": "Hopper",
            "tags": ["vip"],
        },
    ),
    _action(
        "update_order",
        "Update order",
        "Change an order's note, e-mail, tags or purchase order number.",
        update_order,
        UpdateOrderInput,
        Order,
        {"order_id": ORDER, "note": "Gift wrap, please"},
        idempotent=True,
    ),
    _action(
        "add_tags",
        "Add tags",
        "Add tags to an order, customer, product or draft order (existing tags stay).",
        add_tags,
        AddTagsInput,
        TagsResult,
        {"resource_id": ORDER, "tags": ["priority"]},
        idempotent=True,
    ),
    _action(
        "create_draft_order",
        "Create draft order",
        "Create a draft order from product variants or custom items, to invoice or complete later.",
        create_draft_order,
        CreateDraftOrderInput,
        DraftOrder,
        {"email": "grace@example.com", "line_items": [{"variant_id": VARIANT, "quantity": 2}]},
    ),
    _action(
        "complete_draft_order",
        "Complete draft order",
        "Turn a draft order into an order, marked as paid.",
        complete_draft_order,
        CompleteDraftOrderInput,
        DraftOrder,
        {"draft_order_id": DRAFT_ORDER},
    ),
    _action(
        "adjust_inventory",
        "Adjust inventory",
        "Add or remove units of an item's stock at a location.",
        adjust_inventory,
        AdjustInventoryInput,
        InventoryAdjustment,
        {
            "inventory_item_id": INVENTORY_ITEM,
            "location_id": LOCATION,
            "delta": 5,
            "reason": "received",
        },
    ),
    _action(
        "create_fulfillment",
        "Create fulfilment",
        "Mark a fulfilment order's items as shipped, with tracking details.",
        create_fulfillment,
        CreateFulfillmentInput,
        Fulfillment,
        {
            "fulfillment_order_id": FULFILLMENT_ORDER,
            "tracking_number": "1Z999AA10123456784",
            "tracking_company": "UPS",
        },
    ),
)
