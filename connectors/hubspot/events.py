"""HubSpot's webhook events: one target URL per HubSpot app, fanned out by portal.

Webhook subscriptions belong to a HubSpot *app*, not to an account: the app's developer
sets one target URL and the event types (``contact.creation``, ``deal.propertyChange``
with ``propertyName: dealstage``…) in the app's settings, and HubSpot POSTs the events of
*every* portal that installed the app there, as a JSON array of up to 100 events
(https://developers.hubspot.com/docs/api-reference/latest/webhooks/guide.md). There is
nothing to subscribe per scenario, so the URL belongs to the HubSpot connection
(``CONNECTION_WEBHOOK``, ``/hooks/apps/hubspot/<token>``): every enabled scenario with a
HubSpot instant trigger on that connection gets the events of the connection's portal
(its ``portalId``, recorded when the connection was tested, arrives as ``state``); events
of other portals are acknowledged and dropped.

Each delivery is signed with the app's **client secret** (v3,
https://developers.hubspot.com/docs/apps/developer-platform/build-apps/authentication/request-validation):
``X-HubSpot-Signature-v3 = base64(HMAC-SHA256(secret, method + URI + body + timestamp))``
with the full decoded URI and ``X-HubSpot-Request-Timestamp`` in milliseconds; a timestamp
more than five minutes old is refused. The secret is the connection's ``client_secret``:
typed in for a private-app connection, the operator's OAuth client secret for an OAuth one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from pydantic import BaseModel

from connectors.hubspot import schemas as s
from connectors.sdk import (
    ConnectionWebhook,
    IncomingRequest,
    InstantTrigger,
    NoInput,
    WebhookReply,
    WebhookVerificationError,
    constant_time_equals,
    load_sample,
    secret_value,
)

TOLERANCE_MS = 300_000
clock: Callable[[], float] = time.time
"""The verifier's clock (a module attribute so tests can pin it)."""


def _uris(request: IncomingRequest) -> list[str]:
    """The URLs HubSpot may have signed: the one we were reached at, as the Host (or a
    proxy's ``X-Forwarded-Host``/``-Proto``) names it, decoded."""
    query = "&".join(f"{k}={v}" for k, v in request.query.items())
    tail = unquote(request.path or "/") + (f"?{query}" if query else "")
    hosts = [h for h in (request.header("x-forwarded-host"), request.header("host")) if h]
    schemes = [p for p in (request.header("x-forwarded-proto"), "https", "http") if p]
    return list(dict.fromkeys(f"{scheme}://{host}{tail}" for host in hosts for scheme in schemes))


def signature_v3(secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    message = method.upper().encode() + uri.encode() + body + timestamp.encode()
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


def verify_signature(request: IncomingRequest, credentials: Mapping[str, Any]) -> None:
    """Check ``X-HubSpot-Signature-v3`` and that the delivery is at most five minutes old."""
    secret = secret_value(credentials.get("client_secret"))
    if not secret:
        raise WebhookVerificationError(
            "The HubSpot connection has no client secret to check webhook signatures: "
            "add your HubSpot app's client secret to the connection (private app), "
            "or set CELLWRIGHT_OAUTH_CLIENTS__hubspot__CLIENT_SECRET (OAuth)."
        )
    signature = request.header("x-hubspot-signature-v3") or ""
    timestamp = request.header("x-hubspot-request-timestamp") or ""
    if not signature or not timestamp:
        raise WebhookVerificationError(
            "Missing X-HubSpot-Signature-v3 or X-HubSpot-Request-Timestamp header."
        )
    if not timestamp.isdigit():
        raise WebhookVerificationError("X-HubSpot-Request-Timestamp is not a time in milliseconds.")
    if abs(clock() * 1000 - int(timestamp)) > TOLERANCE_MS:
        raise WebhookVerificationError(
            "The HubSpot request timestamp is more than 5 minutes off: "
            "refused as a possible replay."
        )
    for uri in _uris(request):
        if constant_time_equals(
            signature_v3(secret, request.method, uri, request.body, timestamp), signature
        ):
            return
    raise WebhookVerificationError(
        "The X-HubSpot-Signature-v3 does not match: wrong client secret, altered body, "
        "or another URL."
    )


def verify(
    request: IncomingRequest, inputs: Any, state: Mapping[str, Any], credentials: Mapping[str, Any]
) -> None:
    """A trigger's ``verify`` (a scenario's own URL): :func:`verify_signature`."""
    verify_signature(request, credentials)


def _event(raw: Mapping[str, Any]) -> dict[str, Any]:
    occurred = raw.get("occurredAt")
    when = (
        datetime.fromtimestamp(int(occurred) / 1000, UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
        if occurred
        else None
    )
    value = raw.get("propertyValue")
    return s.WebhookEvent(
        event_id=str(raw.get("eventId")),
        key=f"{raw.get('portalId')}:{raw.get('subscriptionId')}:{raw.get('eventId')}:{raw.get('objectId')}:{occurred}",
        subscription_type=str(raw.get("subscriptionType")),
        portal_id=raw.get("portalId"),
        app_id=raw.get("appId"),
        object_id=str(raw.get("objectId")),
        occurred_at=when,
        property_name=raw.get("propertyName"),
        property_value=None if value is None else str(value),
        change_source=raw.get("changeSource"),
        attempt_number=int(raw.get("attemptNumber") or 0),
    ).model_dump()


Select = Callable[[Mapping[str, Any], Any], bool]


def _parser(subscription_type: str, select: Select) -> Callable[..., Any]:
    """A ``parse`` taking the events of one type, of the connection's
    portal, that ``select`` wants."""

    async def parse(
        request: IncomingRequest, inputs: BaseModel, state: Mapping[str, Any]
    ) -> WebhookReply:
        payload = request.json()
        batch = payload if isinstance(payload, list) else [payload]
        portal = state.get("portal_id")
        wanted = [
            _event(raw)
            for raw in batch
            if isinstance(raw, Mapping)
            and raw.get("subscriptionType") == subscription_type
            and (portal is None or str(raw.get("portalId")) == str(portal))
            and select(raw, inputs)
        ]
        return WebhookReply(events=wanted)

    return parse


def _any(raw: Mapping[str, Any], inputs: Any) -> bool:
    return True


def _property(raw: Mapping[str, Any], inputs: s.InstantPropertyChangedInput) -> bool:
    return raw.get("propertyName") == inputs.property and (
        inputs.value is None or str(raw.get("propertyValue")) == inputs.value
    )


def _stage(raw: Mapping[str, Any], inputs: s.InstantDealStageChangedInput) -> bool:
    return raw.get("propertyName") == "dealstage" and (
        inputs.stage is None or str(raw.get("propertyValue")) == inputs.stage
    )


CONNECTION_WEBHOOK = ConnectionWebhook(
    verify=verify_signature,
    label="Webhook target URL",
    instructions="paste it as the target URL in your HubSpot app's webhook settings "
    "and subscribe the events your triggers name. Every enabled scenario with a HubSpot instant "
    "trigger on this connection gets the events of the connection's HubSpot account.",
)
"""One URL per HubSpot connection: a HubSpot app has one target URL for all its events."""

SETUP = (
    " Needs a HubSpot app with webhooks: set your HubSpot connection's webhook target "
    "URL (on the Connections page, and shown in this trigger) as the app's target URL, "
    "subscribe {event}, and give the connection the app's client secret."
)


def _instant(
    key: str,
    name: str,
    description: str,
    event: str,
    input: type[BaseModel],
    select: Select,
    example: dict[str, Any],
) -> InstantTrigger:
    return InstantTrigger(
        key=key,
        name=name,
        description=description + SETUP.format(event=event),
        input=input,
        output=s.WebhookEvent,
        sample=load_sample(__file__, key),
        example=example,
        parse=_parser(event.split(" ")[0], select),
        verify=verify,
        dedupe_key="key",
    )


INSTANT: tuple[InstantTrigger, ...] = (
    _instant(
        "new_contact_instant",
        "New contact (instant)",
        "Fires the moment a contact is created.",
        "contact.creation",
        NoInput,
        _any,
        {},
    ),
    _instant(
        "contact_property_changed_instant",
        "Contact property changed (instant)",
        "Fires the moment a contact property changes.",
        "contact.propertyChange (for the property)",
        s.InstantPropertyChangedInput,
        _property,
        {"property": "lifecyclestage"},
    ),
    _instant(
        "new_deal_instant",
        "New deal (instant)",
        "Fires the moment a deal is created.",
        "deal.creation",
        NoInput,
        _any,
        {},
    ),
    _instant(
        "deal_stage_changed_instant",
        "Deal stage changed (instant)",
        "Fires the moment a deal moves to another stage.",
        "deal.propertyChange (propertyName dealstage)",
        s.InstantDealStageChangedInput,
        _stage,
        {"stage": "closedwon"},
    ),
)
