"""Stripe: customers, products, prices, payment links and refunds; payment and customer events."""

from __future__ import annotations

from connectors.sdk import App, RateLimit, VendorLimits
from connectors.stripe import actions, triggers
from connectors.stripe.api import STRIPE_VERSION, parse_error
from connectors.stripe.auth import stripe_auth
from connectors.stripe.options import OPTIONS

app = App(
    key="stripe",
    name="Stripe",
    description="Online payments: customers, products and prices, payment links, "
    "refunds, and payment events.",
    category="Payments",
    icon="stripe",
    docs_url="https://docs.stripe.com/api",
    auth=stripe_auth,
    base_url="https://api.stripe.com",
    # Stripe: 100 read/write operations per second in live mode (25 in a sandbox), and by
    # default 25 per second on any one endpoint; Search 20 reads per second.
    # ../shared/specs/VENDORS.md "Stripe" / https://docs.stripe.com/rate-limits
    limits=VendorLimits(
        rates=(
            RateLimit(calls=100, per_seconds=1),
            RateLimit(calls=20, per_seconds=1, endpoint="*/search"),
        ),
        source="https://docs.stripe.com/rate-limits",
    ),
    allowed_hosts=("api.stripe.com",),
    default_headers={"Stripe-Version": STRIPE_VERSION},
    error_parser=parse_error,
    sandbox="connectors.stripe.sandbox:create_app",
    sandbox_credentials={"api_key": "sk_test_sandbox"},
    triggers=(
        triggers.new_customer,
        triggers.payment_succeeded,
        triggers.checkout_completed,
        triggers.invoice_paid,
        triggers.new_customer_polling,
    ),
    options=OPTIONS,
    actions=(
        actions.create_customer,
        actions.update_customer,
        actions.find_customer,
        actions.create_product,
        actions.create_price,
        actions.create_payment_link,
        actions.create_refund,
    ),
)
