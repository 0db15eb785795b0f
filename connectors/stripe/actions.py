"""Stripe actions (VENDORS.md §6.3). Every POST is idempotent through ``api.call``."""

from __future__ import annotations

import string
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel

from connectors.sdk import ActionFactory, OperationContext
from connectors.stripe import schemas as s
from connectors.stripe.api import call


def post(path: str) -> Callable[[OperationContext, BaseModel], Awaitable[Any]]:
    """A ``perform`` that POSTs the inputs as a form; ``{field}`` in
    ``path`` comes from the inputs."""
    in_path = [name for _, name, _, _ in string.Formatter().parse(path) if name]

    async def perform(ctx: OperationContext, inputs: BaseModel) -> Any:
        data = inputs.model_dump(mode="json", exclude_none=True)
        return await call(
            ctx, "POST", path.format(**{name: data.pop(name) for name in in_path}), form=data
        )

    perform.__doc__ = f"POST {path}"
    return perform


async def price_perform(ctx: OperationContext, inputs: s.CreatePriceInput) -> Any:
    data = inputs.model_dump(
        exclude_none=True, exclude={"recurring_interval", "recurring_interval_count"}
    )
    if inputs.recurring_interval:
        data["recurring"] = {
            "interval": inputs.recurring_interval,
            "interval_count": inputs.recurring_interval_count,
        }
    return await call(ctx, "POST", "/v1/prices", form=data)


async def find_perform(ctx: OperationContext, inputs: s.FindCustomerInput) -> s.FindCustomerOutput:
    page = await call(ctx, "GET", "/v1/customers", query={"email": inputs.email, "limit": 1})
    found = page["data"][0] if page["data"] else None
    return s.FindCustomerOutput(found=found is not None, customer=found)


_action = ActionFactory(__file__)


create_customer = _action(
    "create_customer",
    "Create customer",
    "Creates a customer.",
    s.CreateCustomerInput,
    s.Customer,
    post("/v1/customers"),
    {"email": "ada@example.com", "name": "Ada Lovelace", "metadata": {"crm_id": "42"}},
)
update_customer = _action(
    "update_customer",
    "Update customer",
    "Changes a customer's e-mail, name, phone, description or metadata.",
    s.UpdateCustomerInput,
    s.Customer,
    post("/v1/customers/{customer}"),
    {"customer": "cus_SandboxAda", "description": "VIP since 2026"},
    idempotent=True,
)
find_customer = _action(
    "find_customer",
    "Find customer by e-mail",
    "Finds the newest customer with an e-mail address (exact match).",
    s.FindCustomerInput,
    s.FindCustomerOutput,
    find_perform,
    {"email": "ada@example.com"},
    idempotent=True,
)
create_product = _action(
    "create_product",
    "Create product",
    "Creates a product to sell.",
    s.CreateProductInput,
    s.Product,
    post("/v1/products"),
    {"name": "Pro plan", "description": "Everything in Basic, plus priority support"},
)
create_price = _action(
    "create_price",
    "Create price",
    "Creates a one-time or recurring price for a product.",
    s.CreatePriceInput,
    s.Price,
    price_perform,
    {
        "product": "prod_SandboxTshirt",
        "currency": "usd",
        "unit_amount": 1900,
        "recurring_interval": "month",
    },
)
create_payment_link = _action(
    "create_payment_link",
    "Create payment link",
    "Creates a shareable payment page for one or more prices.",
    s.CreatePaymentLinkInput,
    s.PaymentLink,
    post("/v1/payment_links"),
    {"line_items": [{"price": "price_SandboxTshirt", "quantity": 1}]},
)
create_refund = _action(
    "create_refund",
    "Refund payment",
    "Refunds a payment intent or a charge, in full or in part.",
    s.CreateRefundInput,
    s.Refund,
    post("/v1/refunds"),
    {"payment_intent": "pi_SandboxPaid", "amount": 500, "reason": "requested_by_customer"},
)
