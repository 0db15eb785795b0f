"""Connecting to Slack: OAuth v2 (bot token) plus the app's signing secret.

A Slack connection's credentials are the token set from ``oauth.v2.access``
(``access_token`` = the ``xoxb-`` bot token; ``refresh_token``/``expires_at`` only
when the Slack app has token rotation on) plus one form field, the Slack app's
**signing secret**, which the triggers use to check that events come from Slack.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from connectors.sdk import OAuth2Auth, OperationContext
from connectors.slack.api import call

SCOPES = (
    "chat:write",
    "reactions:read",
    "reactions:write",
    "channels:read",
    "groups:read",
    "channels:history",
    "users:read",
    "users:read.email",
    "files:write",
)
"""Bot scopes for every action and trigger (``channels:history`` delivers message events)."""

SANDBOX_CREDENTIALS = {
    # the sandbox workspace's published demo bot token
    "access_token": "xoxb-sandbox-0000-bot-token",
    "signing_secret": "8f742231b10e8888abcd99sandbox5a5",
}


class SlackConnectionFields(BaseModel):
    """What the user types in besides going through Slack's consent screen."""

    model_config = ConfigDict(extra="forbid")
    signing_secret: SecretStr | None = Field(
        None,
        description="Your Slack app's Signing Secret (api.slack.com/apps → Basic "
        "Information → App Credentials). The Slack triggers need it to verify that events "
        "really come from Slack.",
    )


def parse_token(body: Mapping[str, Any]) -> Mapping[str, Any]:
    """``oauth.v2.access`` answers ``{"ok": ..., ...}``: turn it into RFC 6749 shape."""
    if body.get("ok") is False:
        error = str(body.get("error") or "unknown_error")
        standard = {"invalid_refresh_token": "invalid_grant", "ratelimited": "rate_limited"}.get(
            error, error
        )
        return {"error": standard, "error_description": error}
    tokens = {key: value for key, value in body.items() if key != "ok"}
    team = body.get("team")
    if isinstance(team, Mapping):
        tokens["team_id"], tokens["team_name"] = team.get("id"), team.get("name")
    return tokens


async def test_connection(ctx: OperationContext) -> Mapping[str, Any]:
    """``auth.test``: the cheapest call that proves the token works."""
    data = await call(ctx, "auth.test", http_method="GET")
    return {
        "label": f"{data.get('team')} ({data.get('user')})",
        "team": data.get("team"),
        "team_id": data.get("team_id"),
        "user_id": data.get("user_id"),
        "bot_id": data.get("bot_id"),
        "url": data.get("url"),
    }


SLACK_AUTH = OAuth2Auth(
    authorize_url="https://slack.com/oauth/v2/authorize",
    token_url="https://slack.com/api/oauth.v2.access",  # noqa: S106 (a URL, not a secret)
    scopes=SCOPES,
    scope_separator=",",
    client_auth_method="client_secret_basic",  # Slack asks for Basic rather than body parameters
    parse_token=parse_token,
    fields=SlackConnectionFields,
    test=test_connection,
    label_template="{label}",
)
