"""Slack: post and manage messages, reactions and files; react to workspace events."""

from __future__ import annotations

from connectors.sdk import App
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
    allowed_hosts=("slack.com", "files.slack.com"),
    error_parser=error_parser,
    docs_url="https://api.slack.com/web",
    sandbox="connectors.slack.sandbox:create_app",
    sandbox_credentials=SANDBOX_CREDENTIALS,
)
