"""A template that asks for a Slack channel, in Chromium, against a real server.

Sign in → Stripe and Slack sandbox connections → "Stripe payments to Slack" → the dialog
asks for the channel and offers the workspace's channels from the connection → pick one
(keyboard) → create → Test run completes, posting in that channel. Checked with axe.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.ui.conftest import audit

pytestmark = pytest.mark.ui

TIMEOUT = 20_000  # a loaded machine; waits end as soon as the page is ready


def sign_in(page: Page, server: Any) -> None:
    page.goto(server.url + "/login")
    page.fill("#email", server.admin_email)
    page.fill("#password", server.admin_password)
    page.click("button[type=submit]")
    expect(page.locator(".scenario-list")).to_be_visible(timeout=TIMEOUT)


def sandbox_connection(page: Page, app: str) -> None:
    page.locator(".new-connection-app select").select_option(label=app)
    expect(page.locator(".create-sandbox button")).to_contain_text(app, timeout=TIMEOUT)
    page.locator(".create-sandbox button").click()
    expect(page.locator(".connection-list")).to_contain_text(app, timeout=TIMEOUT)


def test_a_template_asks_for_a_slack_channel_from_the_connections_channels(
    page: Page, server: Any, screenshots: Path
) -> None:
    sign_in(page, server)
    page.locator(".nav-connections button").click()
    sandbox_connection(page, "Stripe")
    sandbox_connection(page, "Slack")

    page.locator(".nav-templates button").click()
    page.locator(".use-stripe_payment_to_slack button").click()
    channel = page.get_by_label("Slack channel to post payments in: choose from the list")
    expect(channel).to_be_visible(timeout=TIMEOUT)  # fetched through the chosen Slack connection
    expect(channel.locator("option", has_text="#general")).to_have_count(1)
    audit(page, "templates-ask-channel", screenshots)

    channel.focus()  # keyboard: the dropdown is a native select
    channel.select_option(label="#random")
    text = page.locator(".template-ask-notify-channel input")
    expect(text).to_have_value(
        "C0SANDBOX02", timeout=TIMEOUT
    )  # the pick fills the field, which stays editable
    page.locator(".create-from-template button").click()
    expect(page.locator(".notebook")).to_be_visible(timeout=TIMEOUT)

    page.locator(".test-run button").click()
    expect(page.locator(".notebook-banner .cw-banner.ok")).to_contain_text(
        "Test run completed", timeout=TIMEOUT
    )
    page.locator(".cell-toggle-notify button").click()
    channel_field = page.locator(".in-notify-channel input")
    expect(channel_field).to_have_value("C0SANDBOX02", timeout=TIMEOUT)
    picked = page.get_by_label("Channel: choose from the list")
    expect(picked).to_have_value(
        "#random", timeout=TIMEOUT
    )  # the cell's dropdown shows the pick (by its label)
    audit(page, "notebook-channel-choices", screenshots)
