"""Google Workspace: Sheets, Gmail, Drive and Calendar through one Google connection.

One app, because one Google sign-in (one OAuth client, one consent screen, one refresh
token) serves the four APIs, and a user thinks of "my Google account". Operations are
prefixed by service (``sheets_…``, ``gmail_…``, ``drive_…``, ``calendar_…``). The APIs
live on three hosts, so operations call absolute URLs (``api.py``) and the app has no
``base_url``; ``allowed_hosts`` lists the hosts.
"""

from __future__ import annotations

from connectors.google_workspace.actions import ACTIONS
from connectors.google_workspace.api import HOSTS, parse_error
from connectors.google_workspace.auth import GOOGLE_OAUTH, SANDBOX_CREDENTIALS
from connectors.google_workspace.options import OPTIONS
from connectors.google_workspace.triggers import TRIGGERS
from connectors.sdk import App, RateLimit, VendorLimits

app = App(
    key="google_workspace",
    name="Google Workspace",
    description="Sheets, Gmail, Drive and Calendar with one Google sign-in: append, "
    "update and look up rows, send mail and drafts, upload files, create and update events; "
    "start scenarios from new rows, mails, files and events.",
    category="Productivity",
    icon="google_workspace",
    auth=GOOGLE_OAUTH,
    triggers=TRIGGERS,
    actions=ACTIONS,
    options=OPTIONS,
    # Google Workspace: per-user per-minute quotas. Sheets: 60 read + 60 write requests per
    # minute per user (declared as 60 for both, the conservative reading). Gmail: 6,000
    # quota units per minute per user (projects from 2026-05-01): messages.send costs 100
    # units (60 a minute), reads 5 units (1,200 a minute: declared for every other Gmail
    # call). Drive and Calendar state their per-user quotas in units or on pages without
    # numbers: not declared, their 429/403 answers still park the run.
    # ../shared/specs/VENDORS.md "Google Workspace" /
    # https://developers.google.com/sheets/api/limits,
    # https://developers.google.com/workspace/gmail/api/reference/quota
    limits=VendorLimits(
        rates=(
            RateLimit(calls=60, per_seconds=60, endpoint="/v4/spreadsheets*"),
            RateLimit(calls=60, per_seconds=60, endpoint="/gmail/v1/users/me/messages/send"),
            RateLimit(calls=1200, per_seconds=60, endpoint="/gmail/v1/*"),
        ),
        source="https://developers.google.com/sheets/api/limits",
    ),
    allowed_hosts=HOSTS,
    error_parser=parse_error,
    docs_url="https://developers.google.com/workspace",
    sandbox="connectors.google_workspace.sandbox:create_app",
    sandbox_credentials=SANDBOX_CREDENTIALS,
)
