"""Stripe triggers (VENDORS.md §6.2).

Instant triggers register a webhook endpoint through the API when a scenario is enabled
(``POST /v1/webhook_endpoints``, pinned to ``STRIPE_VERSION``) and keep its id and
signing secret in the trigger state; each delivery is checked against ``Stripe-Signature``
as Stripe documents it (https://docs.stripe.com/webhooks#verify-manually). A polling
trigger covers keys that may not manage webhooks.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from connectors.sdk import (
    IncomingRequest,
    InstantTrigger,
    InvalidInputError,
    NetworkError,
    NoInput,
    OperationContext,
    PollingTrigger,
    UpstreamError,
    WebhookReply,
    WebhookVerificationError,
    constant_time_equals,
    hmac_hex,
    load_sample,
)
from connectors.stripe import schemas as s
from connectors.stripe.api import STRIPE_VERSION, call, list_all

TOLERANCE_SECONDS = 300
"""Stripe's SDKs refuse signatures older than five minutes (replay protection)."""


def verify_signature(
    body: bytes,
    header: str | None,
    secret: str,
    *,
    tolerance: int = TOLERANCE_SECONDS,
    now: float | None = None,
) -> None:
    """Check ``Stripe-Signature: t=<unix>,v1=<hex>[,v1=...]`` over the raw body, as stripe-python's
    ``WebhookSignature.verify_header`` does.

    The header is split at commas and each item at ``=`` with nothing stripped (Stripe sends
    no spaces; an item `` v1=…`` is not a ``v1``), the first ``t`` counts, any ``v1`` may match
    (Stripe sends one per active secret while a secret rolls), and only a timestamp *older*
    than ``tolerance`` is refused: one from the future passes, so a receiving clock that runs
    slow does not refuse every delivery.
    """
    if not secret:
        raise WebhookVerificationError(
            "This trigger has no signing secret: disable and enable the scenario again."
        )
    items = [item.split("=", 2) for item in (header or "").split(",")]
    try:
        timestamp = int(next(item[1] for item in items if item[0] == "t"))
    except (StopIteration, IndexError, ValueError):
        raise WebhookVerificationError(
            "Missing or malformed Stripe-Signature header: no timestamp (t=…)."
        ) from None
    signatures = [item[1] for item in items if item[0] == "v1" and len(item) > 1]
    if not signatures:
        raise WebhookVerificationError(
            "Missing or malformed Stripe-Signature header: no v1 signature."
        )
    expected = hmac_hex(secret, f"{timestamp}.".encode() + body)
    if not any(constant_time_equals(expected, candidate) for candidate in signatures):
        raise WebhookVerificationError(
            "The Stripe-Signature does not match the body and the endpoint's secret."
        )
    age = (time.time() if now is None else now) - timestamp
    if tolerance and age > tolerance:
        raise WebhookVerificationError(
            f"The Stripe-Signature timestamp is {int(age)} s old (more than {tolerance} s): "
            "possible replay."
        )


def verify(
    request: IncomingRequest, inputs: Any, state: Mapping[str, Any], credentials: Mapping[str, Any]
) -> None:
    verify_signature(
        request.body, request.header("stripe-signature"), str(state.get("secret") or "")
    )


async def unsubscribe(ctx: OperationContext, inputs: Any, state: Mapping[str, Any]) -> None:
    try:
        await call(ctx, "DELETE", f"/v1/webhook_endpoints/{state['webhook_endpoint_id']}")
    except UpstreamError as exc:
        if exc.status != 404:  # already deleted in the Dashboard: nothing left to do
            raise


def event_item(event: Mapping[str, Any]) -> dict[str, Any]:
    """A delivered event's run data: its ``data.object`` plus its id, type and time.

    Only a signed delivery gets here, but a signature proves who sent it, not its shape:
    an event Stripe would never send is refused with a message (400), not a server error.
    """
    data = event.get("data")
    obj = data.get("object") if isinstance(data, Mapping) else None
    if not isinstance(obj, Mapping):
        raise InvalidInputError(
            "This Stripe event has no data.object (an object): it is not an event Stripe sends, "
            "so nothing ran."
        )
    event_id = event.get("id")
    if not isinstance(event_id, str) or not event_id:
        raise InvalidInputError(
            "This Stripe event has no id: it is not an event Stripe sends, so nothing ran."
        )
    created = event.get("created")
    if not isinstance(created, int) or isinstance(created, bool):
        raise InvalidInputError(
            "This Stripe event has no created time (Unix seconds): it is not an event "
            "Stripe sends, so nothing ran."
        )
    return {**obj, "event_id": event_id, "event_type": event["type"], "event_created": created}


def event_trigger(
    key: str, name: str, description: str, events: tuple[str, ...], output: type[BaseModel]
) -> InstantTrigger:
    """An instant trigger for some event types; its output is ``data.object``
    plus the event's id/type/time."""

    async def subscribe(ctx: OperationContext, inputs: Any, webhook_url: str) -> dict[str, Any]:
        form = {
            "url": webhook_url,
            "enabled_events": list(events),
            "api_version": STRIPE_VERSION,
            "description": f"Cellwright: {name}",
        }
        # Like stripe-python: a key of its own for this POST, and a request that may have
        # reached Stripe without an answer is sent once more with the same key, so Stripe
        # replays the endpoint it made instead of making a second one.
        key = ctx.idempotency_key or f"cellwright-webhook-{uuid.uuid4()}"
        try:
            endpoint = await call(
                ctx, "POST", "/v1/webhook_endpoints", form=form, idempotency_key=key
            )
        except NetworkError:
            endpoint = await call(
                ctx, "POST", "/v1/webhook_endpoints", form=form, idempotency_key=key
            )
        return {"webhook_endpoint_id": endpoint["id"], "secret": endpoint["secret"]}

    async def parse(
        request: IncomingRequest, inputs: Any, state: Mapping[str, Any]
    ) -> WebhookReply:
        event = request.json()
        if not isinstance(event, Mapping) or event.get("type") not in events:
            return WebhookReply()  # e.g. Stripe's test ping to a wider endpoint: nothing to run
        return WebhookReply(events=[event_item(event)])

    return InstantTrigger(
        key=key,
        name=name,
        description=description,
        input=NoInput,
        output=output,
        sample=load_sample(__file__, key),
        subscribe=subscribe,
        unsubscribe=unsubscribe,
        verify=verify,
        parse=parse,
        dedupe_key="event_id",  # Stripe may deliver an event more than once
    )


new_customer = event_trigger(
    "new_customer",
    "New customer",
    "Starts when a customer is created (event customer.created).",
    ("customer.created",),
    s.CustomerEvent,
)
payment_succeeded = event_trigger(
    "payment_succeeded",
    "Successful payment",
    "Starts when a payment succeeds (event payment_intent.succeeded).",
    ("payment_intent.succeeded",),
    s.PaymentIntentEvent,
)
checkout_completed = event_trigger(
    "checkout_completed",
    "Checkout completed",
    "Starts when a customer completes a Checkout page (checkout.session.completed).",
    ("checkout.session.completed",),
    s.CheckoutSessionEvent,
)
invoice_paid = event_trigger(
    "invoice_paid",
    "Invoice paid",
    "Starts when an invoice is paid (event invoice.paid).",
    ("invoice.paid",),
    s.InvoiceEvent,
)


async def fetch_customers(
    ctx: OperationContext, inputs: Any, since: Any
) -> list[Mapping[str, Any]]:
    """Newest customers first; after the first poll, every customer since the cursor.

    ``created[gte]`` (not ``gt``): a customer created in the same second as the last one
    seen must not be missed; the engine drops the ones it has seen by id.
    """
    if since is None:
        page = await call(ctx, "GET", "/v1/customers", query={"limit": 10})
        return list(page["data"])
    return [*await list_all(ctx, "/v1/customers", {"created": {"gte": int(since)}})]


new_customer_polling = PollingTrigger(
    key="new_customer_polling",
    name="New customer (polling)",
    description="Checks for new customers every few minutes; for keys that may not manage "
    "webhook endpoints.",
    output=s.Customer,
    sample=load_sample(__file__, "new_customer_polling"),
    fetch=fetch_customers,
    dedupe_key="id",
    cursor_field="created",
)
