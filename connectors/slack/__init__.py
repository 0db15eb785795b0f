"""Slack: post and manage messages, reactions and files; react to workspace events."""

from __future__ import annotations

from connectors.sdk import App, RateLimit, VendorLimits
from connectors.slack.actions import ACTIONS
from connectors.slack.api import BASE_URL, error_parser
from connectors.slack.auth import SANDBOX_CREDENTIALS, SLACK_AUTH
from connectors.slack.options import OPTIONS
from connectors.slack.triggers import CONNECTION_WEBHOOK, TRIGGERS

app = App(
    key="slack",
    name="Slack",
    description="Send, edit and react to messages, upload files, look up channels and people, "
    "and start scenarios from messages, reactions, new channels and new members.",
    category="Communication",
    icon="slack",
    auth=SLACK_AUTH,
    triggers=TRIGGERS,
    actions=ACTIONS,
    options=OPTIONS,
    # a Slack app has one Request URL: one URL per connection
    connection_webhook=CONNECTION_WEBHOOK,
    base_url=BASE_URL,
    # files.slack.com: the upload_url that files.getUploadURLExternal hands out.
    # Slack: per method, per workspace tiers (Tier 2 20+/min, Tier 3 50+/min, Tier 4 100+/min;
    # chat.postMessage "special": about 1 message per second per channel, declared here per
    # connection, which is stricter). ../shared/specs/VENDORS.md "Slack" /
    # https://docs.slack.dev/apis/web-api/rate-limits (tiers from each method's page).
    limits=VendorLimits(
        rates=(
            RateLimit(calls=1, per_seconds=1, endpoint="*/chat.postMessage"),
            RateLimit(calls=50, per_seconds=60, endpoint="*/chat.update"),  # Tier 3
            RateLimit(calls=50, per_seconds=60, endpoint="*/chat.delete"),  # Tier 3
            RateLimit(calls=50, per_seconds=60, endpoint="*/reactions.add"),  # Tier 3
            RateLimit(calls=20, per_seconds=60, endpoint="*/conversations.list"),  # Tier 2
            RateLimit(calls=100, per_seconds=60, endpoint="*/users.info"),  # Tier 4
            RateLimit(calls=100, per_seconds=60, endpoint="*/users.lookupByEmail"),  # Tier 4
            RateLimit(calls=20, per_seconds=60, endpoint="*/files.*"),  # Tier 2 (conservative)
            # conversations.history: 1 per minute for non-Marketplace apps since 2025-05-29
            RateLimit(calls=1, per_seconds=60, endpoint="*/conversations.history"),
        ),
        source="https://docs.slack.dev/apis/web-api/rate-limits",
    ),
    allowed_hosts=("slack.com", "files.slack.com"),
    error_parser=error_parser,
    docs_url="https://api.slack.com/web",
    sandbox="connectors.slack.sandbox:create_app",
    sandbox_credentials=SANDBOX_CREDENTIALS,
)
