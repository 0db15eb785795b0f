"""HubSpot: contacts, deals, tasks, notes and associations; new and changed contacts and deals."""

from __future__ import annotations

from connectors.hubspot.actions import ACTIONS
from connectors.hubspot.api import BASE_URL, error_parser
from connectors.hubspot.auth import HUBSPOT_OAUTH, HUBSPOT_TOKEN_AUTH, SANDBOX_CREDENTIALS
from connectors.hubspot.events import CONNECTION_WEBHOOK
from connectors.hubspot.options import OPTIONS
from connectors.hubspot.triggers import TRIGGERS
from connectors.sdk import App, RateLimit, VendorLimits

app = App(
    key="hubspot",
    name="HubSpot",
    description="CRM: create, update and find contacts, create deals, tasks and notes, "
    "associate records, and start scenarios from new or changed contacts and deals (polling, "
    "or instantly through a HubSpot app's webhooks).",
    category="CRM",
    icon="hubspot",
    auth=HUBSPOT_TOKEN_AUTH,
    other_auth=(HUBSPOT_OAUTH,),
    triggers=TRIGGERS,
    actions=ACTIONS,
    options=OPTIONS,
    # a HubSpot app has one target URL for every portal's events
    connection_webhook=CONNECTION_WEBHOOK,
    base_url=BASE_URL,
    # HubSpot: private apps 100 requests per 10 s on Free/Starter (190 on Professional and
    # Enterprise; public OAuth apps 110 per 10 s): the lowest tier, as the plan is unknown.
    # CRM search endpoints: about 4 requests per second per token.
    # ../shared/specs/VENDORS.md "HubSpot" /
    # https://developers.hubspot.com/changelog/increasing-our-api-limits
    limits=VendorLimits(
        rates=(
            RateLimit(calls=100, per_seconds=10),
            RateLimit(calls=4, per_seconds=1, endpoint="*/search"),
        ),
        source="https://developers.hubspot.com/changelog/increasing-our-api-limits",
    ),
    allowed_hosts=("api.hubapi.com",),
    error_parser=error_parser,
    docs_url="https://developers.hubspot.com/docs/api-reference/2026-03/overview",
    sandbox="connectors.hubspot.sandbox:create_app",
    sandbox_credentials=SANDBOX_CREDENTIALS,
)
