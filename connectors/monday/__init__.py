"""monday.com: create and update items, updates and subitems; react to board changes."""

from __future__ import annotations

from connectors.monday.actions import ACTIONS
from connectors.monday.api import API_VERSION, BASE_URL, error_parser
from connectors.monday.auth import MONDAY_OAUTH, MONDAY_TOKEN_AUTH, SANDBOX_CREDENTIALS
from connectors.monday.options import OPTIONS
from connectors.monday.triggers import TRIGGERS
from connectors.sdk import App, RateLimit, VendorLimits

app = App(
    key="monday",
    name="monday.com",
    description="Create and update items (with column values of every type), post updates, "
    "add subitems, move, archive and find items; start scenarios from new items, "
    "column and status changes and updates.",
    category="Project management",
    icon="monday",
    auth=MONDAY_TOKEN_AUTH,
    other_auth=(MONDAY_OAUTH,),
    triggers=TRIGGERS,
    actions=ACTIONS,
    options=OPTIONS,
    base_url=BASE_URL,
    # monday.com: a complexity budget of 10M points per minute per token (1M on trial/free
    # plans); create_item costs ~10,000 points, so ~100 such mutations a minute fit a
    # free plan's budget. The cost is only known from the answer: this is a conservative
    # call-rate approximation, 100 calls per minute (plus the plans' daily call caps,
    # which Cellwright does not track). ../shared/specs/VENDORS.md "monday.com" /
    # https://developer.monday.com/api-reference/docs/rate-limits
    limits=VendorLimits(
        rates=(RateLimit(calls=100, per_seconds=60),),
        source="https://developer.monday.com/api-reference/docs/rate-limits",
    ),
    allowed_hosts=("api.monday.com",),
    default_headers={"API-Version": API_VERSION},
    error_parser=error_parser,
    docs_url="https://developer.monday.com/api-reference",
    sandbox="connectors.monday.sandbox:create_app",
    sandbox_credentials=SANDBOX_CREDENTIALS,
)
