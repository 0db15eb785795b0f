"""Connecting to Google: one OAuth 2.0 sign-in for Sheets, Gmail, Drive and Calendar.

Google's web-server flow (https://developers.google.com/identity/protocols/oauth2/web-server):
``access_type=offline`` so Google returns a refresh token, ``prompt=consent`` so it
returns one on a reconnect too, and ``include_granted_scopes=true`` (incremental
authorization) so scopes granted before are kept when a reconnect asks again. Access
tokens last an hour (``expires_in`` 3599); ``OAuth2Flow`` refreshes them
``refresh_margin_seconds`` ahead of expiry and once more on a 401. A revoked or expired
refresh token answers ``invalid_grant``: the call fails with ``AuthExpiredError``
("Reconnect the connection") and the engine puts the connection in ``error``.

The operator registers a "Web application" OAuth client in Google Cloud with
``<public URL>/oauth/callback`` as redirect URI, enables the four APIs, and sets
``CELLWRIGHT_OAUTH_CLIENTS__google_workspace__CLIENT_ID`` / ``__CLIENT_SECRET``.
Gmail and full Drive scopes are "restricted": an app used beyond its test users needs
Google's verification, and a consent screen left in "Testing" makes refresh tokens die
after 7 days (which shows here as the reconnect message).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.google_workspace.api import USERINFO, call
from connectors.sdk import OAuth2Auth, OperationContext

SCOPES = (
    "openid",
    "https://www.googleapis.com/auth/userinfo.email",
    "https://www.googleapis.com/auth/userinfo.profile",
    "https://www.googleapis.com/auth/spreadsheets",
    "https://www.googleapis.com/auth/gmail.readonly",
    "https://www.googleapis.com/auth/gmail.compose",
    "https://www.googleapis.com/auth/drive",
    "https://www.googleapis.com/auth/calendar",
)
"""One consent for the four services: Sheets read/write, Gmail read + send/drafts
(``gmail.compose``), Drive (files in any folder, for "new file in folder"), Calendar."""

SANDBOX_CREDENTIALS: Mapping[str, Any] = {
    "access_token": "ya29.sandbox-access-token-0001",
    "refresh_token": "1//sandbox-refresh-token-0001",
    "token_type": "Bearer",
    "scope": " ".join(SCOPES),
}
"""The sandbox account's published token set. Its access token does not expire; the
simulated token endpoint refreshes for the sandbox's own OAuth client
(``sandbox.SANDBOX_CLIENT``), as tests show."""


async def who_am_i(ctx: OperationContext) -> Mapping[str, Any]:
    """``userinfo``: the cheapest call that proves the token works, and whose account it is."""
    me = await call(ctx, "GET", USERINFO)
    return {
        "label": me.get("email") or me.get("name") or me.get("id"),
        "email": me.get("email"),
        "google_user_id": me.get("id"),
    }


GOOGLE_OAUTH = OAuth2Auth(
    authorize_url="https://accounts.google.com/o/oauth2/v2/auth",
    token_url="https://oauth2.googleapis.com/token",  # noqa: S106 (a URL, not a secret)
    scopes=SCOPES,
    extra_authorize_params={
        "access_type": "offline",
        "prompt": "consent",
        "include_granted_scopes": "true",
    },
    refresh_margin_seconds=300,
    test=who_am_i,
    label_template="{label}",
)
