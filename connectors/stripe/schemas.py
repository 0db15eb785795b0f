"""Inputs and outputs of the Stripe operations.

Outputs name the fields people map most and allow the rest (``extra="allow"``): Stripe
adds fields in every monthly release, and the pinned version decides what arrives.
Amounts are integers in the currency's smallest unit (cents for USD).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from connectors.sdk.options import dynamic

Metadata = dict[str, str]
METADATA = "Key-value pairs stored on the object (up to 50 keys); an empty value removes a key."


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Object(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str = Field(description="Stripe's id of the object.")
    livemode: bool = Field(False, description="True for live data, false for test (sandbox) data.")
    metadata: Metadata = Field(default_factory=dict, description="The object's metadata.")


# -- objects ----------------------------------------------------------------------------


class Customer(_Object):
    """A Stripe customer."""

    object: Literal["customer"] = Field("customer", description="Always 'customer'.")
    created: int = Field(description="When it was created (Unix seconds).")
    email: str | None = Field(None, description="E-mail address.")
    name: str | None = Field(None, description="Full name or business name.")
    phone: str | None = Field(None, description="Phone number.")
    description: str | None = Field(None, description="Free-form note.")
    balance: int = Field(
        0, description="Credit balance in the smallest currency unit (negative = credit)."
    )
    currency: str | None = Field(None, description="Default currency (three-letter ISO code).")


class Product(_Object):
    """Something you sell."""

    object: Literal["product"] = Field("product", description="Always 'product'.")
    created: int = Field(description="When it was created (Unix seconds).")
    name: str = Field(description="Name shown to customers.")
    description: str | None = Field(None, description="Description shown to customers.")
    active: bool = Field(True, description="Whether it can be bought.")
    default_price: str | None = Field(None, description="Id of the product's default price.")


class Price(_Object):
    """How much and how often a product costs."""

    object: Literal["price"] = Field("price", description="Always 'price'.")
    created: int = Field(description="When it was created (Unix seconds).")
    product: str = Field(description="Id of the product.")
    currency: str = Field(description="Three-letter ISO code, lower case.")
    unit_amount: int | None = Field(
        None, description="Amount in the smallest currency unit (e.g. cents)."
    )
    type: Literal["one_time", "recurring"] = Field(
        description="One-time or recurring (subscription) price."
    )
    recurring: dict[str, Any] | None = Field(
        None, description="Billing interval for recurring prices."
    )
    nickname: str | None = Field(None, description="Internal name.")
    active: bool = Field(True, description="Whether new purchases may use it.")


class PaymentLink(_Object):
    """A shareable payment page."""

    object: Literal["payment_link"] = Field("payment_link", description="Always 'payment_link'.")
    url: str = Field(description="The link to share with customers.")
    active: bool = Field(True, description="Whether the link accepts payments.")
    currency: str | None = Field(None, description="Three-letter ISO code, lower case.")


class Refund(_Object):
    """Money returned for a charge."""

    object: Literal["refund"] = Field("refund", description="Always 'refund'.")
    created: int = Field(description="When it was created (Unix seconds).")
    amount: int = Field(description="Refunded amount in the smallest currency unit.")
    currency: str = Field(description="Three-letter ISO code, lower case.")
    status: str | None = Field(
        None, description="pending, requires_action, succeeded, failed or canceled."
    )
    charge: str | None = Field(None, description="Id of the refunded charge.")
    payment_intent: str | None = Field(None, description="Id of the refunded payment intent.")
    reason: str | None = Field(None, description="duplicate, fraudulent or requested_by_customer.")


class PaymentIntent(_Object):
    """A payment."""

    object: Literal["payment_intent"] = Field(
        "payment_intent", description="Always 'payment_intent'."
    )
    created: int = Field(description="When it was created (Unix seconds).")
    amount: int = Field(description="Amount in the smallest currency unit.")
    amount_received: int = Field(0, description="Amount received so far.")
    currency: str = Field(description="Three-letter ISO code, lower case.")
    status: str = Field(description="e.g. succeeded, processing, requires_payment_method.")
    customer: str | None = Field(None, description="Id of the paying customer, if any.")
    description: str | None = Field(None, description="Description of the payment.")
    receipt_email: str | None = Field(None, description="Where the receipt was sent.")
    latest_charge: str | None = Field(None, description="Id of the latest charge.")


class CheckoutSession(_Object):
    """A completed Checkout page."""

    object: Literal["checkout.session"] = Field(
        "checkout.session", description="Always 'checkout.session'."
    )
    created: int = Field(description="When it was created (Unix seconds).")
    mode: str = Field(description="payment, setup or subscription.")
    status: str | None = Field(None, description="open, complete or expired.")
    payment_status: str = Field(description="paid, unpaid or no_payment_required.")
    amount_total: int | None = Field(None, description="Total in the smallest currency unit.")
    currency: str | None = Field(None, description="Three-letter ISO code, lower case.")
    customer: str | None = Field(
        None, description="Id of the customer, if one was created or given."
    )
    customer_details: dict[str, Any] | None = Field(
        None, description="E-mail, name, address the customer entered."
    )
    payment_intent: str | None = Field(None, description="Id of the payment intent (payment mode).")
    client_reference_id: str | None = Field(
        None, description="Your reference passed to the session."
    )


class Invoice(_Object):
    """An invoice."""

    object: Literal["invoice"] = Field("invoice", description="Always 'invoice'.")
    created: int = Field(description="When it was created (Unix seconds).")
    customer: str | None = Field(None, description="Id of the billed customer.")
    customer_email: str | None = Field(None, description="The customer's e-mail at finalization.")
    amount_due: int = Field(description="Amount due in the smallest currency unit.")
    amount_paid: int = Field(0, description="Amount paid.")
    currency: str = Field(description="Three-letter ISO code, lower case.")
    status: str | None = Field(None, description="draft, open, paid, uncollectible or void.")
    number: str | None = Field(None, description="The invoice number.")
    hosted_invoice_url: str | None = Field(
        None, description="Page where the customer can see and pay it."
    )
    invoice_pdf: str | None = Field(None, description="Link to the PDF.")


class _Event(BaseModel):
    event_id: str = Field(
        description="Id of the Stripe event (evt_...): the same event may be delivered twice."
    )
    event_type: str = Field(description="The event type, e.g. 'customer.created'.")
    event_created: int = Field(description="When the event happened (Unix seconds).")


class CustomerEvent(Customer, _Event):
    """The customer of a customer.* event, plus the event's id, type and time."""


class PaymentIntentEvent(PaymentIntent, _Event):
    """The payment intent of a payment_intent.* event, plus the event's id, type and time."""


class CheckoutSessionEvent(CheckoutSession, _Event):
    """The session of a checkout.session.* event, plus the event's id, type and time."""


class InvoiceEvent(Invoice, _Event):
    """The invoice of an invoice.* event, plus the event's id, type and time."""


class FindCustomerOutput(BaseModel):
    """The customer found, if any."""

    found: bool = Field(description="True when a customer has this e-mail address.")
    customer: Customer | None = Field(
        None, description="The most recently created customer with this e-mail."
    )


# -- inputs ------------------------------------------------------------------------------


class CustomerFields(_Input):
    email: str | None = Field(
        None, max_length=512, description="E-mail address.", examples=["ada@example.com"]
    )
    name: str | None = Field(None, max_length=256, description="Full name or business name.")
    phone: str | None = Field(None, max_length=20, description="Phone number.")
    description: str | None = Field(None, description="Free-form note, shown in the Dashboard.")
    metadata: Metadata | None = Field(None, description=METADATA)


class CreateCustomerInput(CustomerFields):
    """A new customer."""


class UpdateCustomerInput(CustomerFields):
    """Fields to change; fields left empty are not changed."""

    customer: str = Field(
        description="Id of the customer (cus_...).",
        pattern=r"^cus_\w+$",
        json_schema_extra=dynamic("customers"),
    )


class FindCustomerInput(_Input):
    """Look a customer up by e-mail (exact match, immediately consistent)."""

    email: str = Field(max_length=512, description="E-mail address to look for.")


class CreateProductInput(_Input):
    """A new product."""

    name: str = Field(min_length=1, description="Name shown to customers.")
    description: str | None = Field(None, description="Description shown to customers.")
    active: bool | None = Field(None, description="Whether it can be bought (default: yes).")
    metadata: Metadata | None = Field(None, description=METADATA)


class CreatePriceInput(_Input):
    """A new price for a product."""

    product: str = Field(
        description="Id of the product (prod_...).", json_schema_extra=dynamic("products")
    )
    currency: str = Field(
        description="Three-letter ISO currency code, e.g. usd.", pattern=r"^[a-zA-Z]{3}$"
    )
    unit_amount: int = Field(
        ge=0, description="Amount in the smallest currency unit, e.g. 1999 for $19.99."
    )
    recurring_interval: Literal["day", "week", "month", "year"] | None = Field(
        None,
        description="Bill every day/week/month/year (a subscription price); "
        "empty for a one-time price.",
    )
    recurring_interval_count: int | None = Field(
        None, ge=1, description="Bill every N intervals (default 1)."
    )
    nickname: str | None = Field(None, description="Internal name, not shown to customers.")
    metadata: Metadata | None = Field(None, description=METADATA)

    @field_validator("currency")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.lower()


class LineItem(_Input):
    price: str = Field(
        description="Id of the price (price_...).", json_schema_extra=dynamic("prices")
    )
    quantity: int = Field(1, ge=1, description="How many.")


class CreatePaymentLinkInput(_Input):
    """A payment page for one or more prices."""

    line_items: list[LineItem] = Field(
        min_length=1, max_length=20, description="What the customer buys."
    )
    metadata: Metadata | None = Field(None, description=METADATA)


class CreateRefundInput(_Input):
    """Refund a payment, in full or in part."""

    payment_intent: str | None = Field(
        None, description="Id of the payment intent to refund (pi_...)."
    )
    charge: str | None = Field(
        None, description="Id of the charge to refund (ch_...), instead of a payment intent."
    )
    amount: int | None = Field(
        None,
        ge=1,
        description="Amount to refund in the smallest currency unit; empty for the rest.",
    )
    reason: Literal["duplicate", "fraudulent", "requested_by_customer"] | None = Field(
        None, description="Why."
    )
    metadata: Metadata | None = Field(None, description=METADATA)

    @model_validator(mode="after")
    def _one_target(self) -> CreateRefundInput:
        if (self.payment_intent is None) == (self.charge is None):
            raise ValueError("give exactly one of payment_intent or charge")
        return self
