"""Connecting to monday.com: a personal API token (the default) or OAuth.

A personal token goes as ``Authorization: <token>`` (no ``Bearer``). OAuth uses
monday's legacy flow, whose tokens do not expire; the operator registers a monday app
and sets ``CELLWRIGHT_OAUTH_CLIENTS__monday__CLIENT_ID`` / ``__CLIENT_SECRET``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from connectors.monday.api import gql
from connectors.sdk import ApiKeyAuth, OAuth2Auth, OperationContext


class MondayTokenFields(BaseModel):
    """The personal API token form."""

    model_config = ConfigDict(extra="forbid")
    api_token: SecretStr = Field(
        description="Your personal API token: monday.com avatar → Developers → My access tokens. "
        "It acts as you, with your board permissions.",
    )


SANDBOX_CREDENTIALS = {
    "api_token": "monday-sandbox-token-0001"
}  # the sandbox account's published demo token

ME = "query Me { me { id name email account { id name slug } } }"


async def test_connection(ctx: OperationContext) -> Mapping[str, Any]:
    """``me``: the cheapest query that proves the token works."""
    me = (await gql(ctx, ME))["me"]
    account = me.get("account") or {}
    return {
        "label": f"{me.get('name')} ({account.get('name')})",
        "user_id": me.get("id"),
        "email": me.get("email"),
        "account_id": account.get("id"),
        "account_slug": account.get("slug"),
    }


MONDAY_TOKEN_AUTH = ApiKeyAuth(
    fields=MondayTokenFields,
    key_field="api_token",
    location="header",
    name="Authorization",
    prefix="",
    test=test_connection,
    label_template="{label}",
)

MONDAY_OAUTH = OAuth2Auth(
    authorize_url="https://auth.monday.com/oauth2/authorize",
    token_url="https://auth.monday.com/oauth2/token",  # noqa: S106 (a URL, not a secret)
    scopes=(
        "me:read",
        "boards:read",
        "boards:write",
        "updates:write",
        "webhooks:read",
        "webhooks:write",
    ),
    test=test_connection,
    label_template="{label}",
)
"""The app's second auth kind (``App.other_auth``). Webhooks created with an OAuth token
are signed (a JWT in ``Authorization``); the triggers verify that when it applies."""
