"""Stripe: customers, products, prices, payment links and refunds; payment and customer events."""

from __future__ import annotations

from connectors.sdk import App
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
