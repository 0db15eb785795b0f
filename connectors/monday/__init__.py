"""monday.com: create and update items, updates and subitems; react to board changes."""

from __future__ import annotations

from connectors.monday.actions import ACTIONS
from connectors.monday.api import API_VERSION, BASE_URL, error_parser
from connectors.monday.auth import MONDAY_OAUTH, MONDAY_TOKEN_AUTH, SANDBOX_CREDENTIALS
from connectors.monday.options import OPTIONS
from connectors.monday.triggers import TRIGGERS
from connectors.sdk import App

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
    allowed_hosts=("api.monday.com",),
    default_headers={"API-Version": API_VERSION},
    error_parser=error_parser,
    docs_url="https://developer.monday.com/api-reference",
    sandbox="connectors.monday.sandbox:create_app",
    sandbox_credentials=SANDBOX_CREDENTIALS,
)
