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
from connectors.sdk import App

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
    allowed_hosts=HOSTS,
    error_parser=parse_error,
    docs_url="https://developers.google.com/workspace",
    sandbox="connectors.google_workspace.sandbox:create_app",
    sandbox_credentials=SANDBOX_CREDENTIALS,
)
