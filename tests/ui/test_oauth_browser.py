"""Signing in with an OAuth 2.0 app, in Chromium, against a real ``cellwright serve``
and a real authorization server.

The provider is Authlib's test server (tests/connectors/oauth_server.py) showing its
consent page; the "loopback" app is loaded into the server as an extra app
(``CELLWRIGHT_EXTRA_APPS=tests.ui.oauth_app:apps``) with the operator's OAuth client in
``CELLWRIGHT_OAUTH_CLIENTS__loopback__…``. Connections → Loopback → "Sign in with
Loopback (OAuth)" → "Connect with Loopback" → the provider's page → Allow → back on
Connections with the new connection active, and its test passes; Deny → a plain
message and no connection. Pages are screenshotted and checked with axe.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.connectors.oauth_server import OAuthTestServer
from tests.oauth_helpers import CLIENTS, PROVIDER_URL_ENV
from tests.ui.conftest import Server, audit, free_port, serve
from workspace.oauth import CALLBACK_PATH

pytestmark = pytest.mark.ui

TIMEOUT = 10_000
NAME = "Loopback team"


@dataclass
class Setup:
    server: Server
    provider: OAuthTestServer


@pytest.fixture(scope="module")
def oauth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    """The provider (with a consent page) and a server that knows the loopback app and
    has an OAuth client registered with the provider for its callback."""
    port = free_port()  # the redirect URI names the server's port: choose it before starting either
    public = f"http://127.0.0.1:{port}"
    with OAuthTestServer(consent_page=True) as provider:
        provider.register_client(redirect_uri=public + CALLBACK_PATH, **CLIENTS)
        env = {
            "CELLWRIGHT_EXTRA_APPS": "tests.ui.oauth_app:apps",
            PROVIDER_URL_ENV: provider.base_url,
            "CELLWRIGHT_OAUTH_CLIENTS__loopback__CLIENT_ID": CLIENTS["client_id"],
            "CELLWRIGHT_OAUTH_CLIENTS__loopback__CLIENT_SECRET": CLIENTS["client_secret"],
            "CELLWRIGHT_PUBLIC_URL": public,
            "CELLWRIGHT_HTTP_ALLOWED_ORIGINS": json.dumps(
                [provider.base_url]
            ),  # the provider is on loopback
        }
        with serve(tmp_path_factory.mktemp("ui-oauth-data"), port=port, env=env) as server:
            yield Setup(server, provider)


def sign_in(page: Page, server: Server) -> None:
    page.goto(server.url + "/")
    page.fill("#email", server.admin_email)
    page.fill("#password", server.admin_password)
    page.click("button[type=submit]")
    expect(page.locator(".scenario-list")).to_be_visible(timeout=TIMEOUT)


def open_consent_page(page: Page, setup: Setup, name: str | None = None) -> int:
    """Connections → Loopback → OAuth → "Connect with Loopback"; returns how many
    connections were listed before leaving the workspace."""
    page.locator(".nav-connections button").click()
    page.locator(".new-connection-app select").select_option(label="Loopback")
    page.locator(".new-connection-kind select").select_option(label="Sign in with Loopback (OAuth)")
    link = page.locator("a.oauth-connect")
    expect(link).to_have_text("Connect with Loopback", timeout=TIMEOUT)
    if name:
        page.locator(".new-connection-name input").fill(name)
        expect(link).to_have_attribute(
            "href", re.compile(r"name=" + re.escape(name.replace(" ", "+"))), timeout=TIMEOUT
        )
    before = page.locator(".connection-row").count()
    link.click()
    expect(page).to_have_url(
        re.compile("^" + re.escape(setup.provider.authorize_url + "?")), timeout=TIMEOUT
    )
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Allow cellwright to use your Loopback account?"
    )
    return before


def test_sign_in_with_an_oauth_app_allow(page: Page, oauth: Setup, screenshots: Path) -> None:
    server, provider = oauth.server, oauth.provider
    sign_in(page, server)
    codes_before = provider.grant_counts["authorization_code"]
    open_consent_page(page, oauth, NAME)
    audit(page, "oauth-01-consent", screenshots)

    page.get_by_role("button", name="Allow").click()
    expect(page).to_have_url(
        re.compile("^" + re.escape(server.url + "/?page=connections&id=")), timeout=TIMEOUT
    )
    expect(page.locator(".cw-banner.ok")).to_contain_text(
        f"Connected: '{NAME}' works.", timeout=TIMEOUT
    )
    row = page.locator(".connection-new")
    expect(row).to_have_count(1)
    expect(row).to_contain_text(NAME)
    expect(row).to_contain_text("active")
    expect(row).to_contain_text("Loopback")
    # the new-connection form keeps the app just connected (not the list's first app)
    expect(page.locator(".new-connection-app select")).to_have_value("Loopback")
    assert provider.decisions[-1] == "allow"
    assert provider.grant_counts["authorization_code"] == codes_before + 1
    audit(page, "oauth-02-connected", screenshots)

    calls = provider.api_calls
    row.locator(".test-connection button").click()  # the app's test: GET /api/me with the new token
    expect(page.locator(".cw-banner.ok")).to_contain_text(
        f"Tested: '{NAME}' works.", timeout=TIMEOUT
    )
    assert provider.api_calls == calls + 1


def test_sign_in_with_an_oauth_app_deny(page: Page, oauth: Setup, screenshots: Path) -> None:
    server, provider = oauth.server, oauth.provider
    sign_in(page, server)
    codes_before = provider.grant_counts["authorization_code"]
    before = open_consent_page(page, oauth)

    page.get_by_role("button", name="Deny").click()
    expect(page).to_have_url(
        re.compile("^" + re.escape(server.url + CALLBACK_PATH + "?")), timeout=TIMEOUT
    )
    expect(page.get_by_role("heading", level=1)).to_have_text("Not connected")
    expect(page.get_by_role("alert")).to_have_text(
        "Access to your Loopback account was not granted, so no connection was made. "
        "To connect, start again and allow access on Loopback's page."
    )
    assert provider.decisions[-1] == "deny"
    assert provider.grant_counts["authorization_code"] == codes_before, "no code was exchanged"
    audit(page, "oauth-03-denied", screenshots)

    page.get_by_role("link", name="Back to your connections").click()
    expect(page.locator(".connection-list")).to_be_visible(timeout=TIMEOUT)
    page.wait_for_timeout(300)
    assert page.locator(".connection-row").count() == before, "no connection was created"
    if before == 0:
        expect(page.locator(".connection-list")).to_contain_text("No connections yet")
