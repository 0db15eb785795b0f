"""Mailchimp: audiences, subscribers, tags and notes, campaigns; subscriber and campaign events."""

from __future__ import annotations

from connectors.mailchimp import actions, triggers
from connectors.mailchimp.api import base_url, parse_error
from connectors.mailchimp.auth import API_KEY_AUTH, OAUTH, SANDBOX_KEY
from connectors.mailchimp.options import OPTIONS
from connectors.sdk import App, VendorLimits

app = App(
    key="mailchimp",
    name="Mailchimp",
    description="E-mail marketing: add and update subscribers, tag them, add notes, "
    "send campaigns; react to sign-ups and unsubscribes.",
    category="Marketing",
    icon="mailchimp",
    docs_url="https://mailchimp.com/developer/marketing/api/",
    auth=API_KEY_AUTH,
    other_auth=(OAUTH,),
    # https://<data centre>.api.mailchimp.com, from the key or the OAuth metadata
    connection_base_url=base_url,
    # Mailchimp: no call rate, but at most 10 simultaneous connections per user/key (more
    # are answered 429 TooManyConnections). ../shared/specs/VENDORS.md "Mailchimp" /
    # http://eepurl.com/4cIXv (the API concurrency announcement)
    limits=VendorLimits(max_concurrent=10, source="http://eepurl.com/4cIXv"),
    allowed_hosts=("*.api.mailchimp.com",),
    error_parser=parse_error,
    sandbox="connectors.mailchimp.sandbox:create_app",
    sandbox_credentials={"api_key": SANDBOX_KEY},
    triggers=(
        triggers.new_subscriber,
        triggers.unsubscribed,
        triggers.subscriber_updated,
        triggers.new_subscriber_polling,
        triggers.unsubscribed_polling,
        triggers.subscriber_updated_polling,
        triggers.new_campaign_sent,
    ),
    actions=(
        actions.add_or_update_subscriber,
        actions.add_subscriber,
        actions.add_tags,
        actions.remove_tags,
        actions.unsubscribe_member,
        actions.add_note,
        actions.find_subscriber,
        actions.create_campaign,
        actions.send_campaign,
    ),
    options=OPTIONS,
)
