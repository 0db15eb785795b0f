"""Connecting to Mailchimp: an API key (the default) or OAuth.

An API key goes as HTTP Basic auth with any user name and the key as password
(VENDORS.md §8.1); its suffix names the account's data centre (``…-us21``). OAuth tokens
go as ``Authorization: Bearer``; they never expire and carry no scopes. Right after the
code exchange, ``GET https://login.mailchimp.com/oauth2/metadata`` (with
``Authorization: OAuth <token>``) says the account's data centre, which the connection's
metadata keeps (https://mailchimp.com/developer/marketing/guides/access-user-data-oauth-2/).
The operator registers a Mailchimp app and sets
``CELLWRIGHT_OAUTH_CLIENTS__mailchimp__CLIENT_ID`` / ``__CLIENT_SECRET``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from connectors.mailchimp.api import DC, call, data_centre
from connectors.sdk import (
    ApiKeyAuth,
    AuthError,
    OAuth2Auth,
    OperationContext,
    UpstreamError,
    secret_value,
)

METADATA_URL = "https://login.mailchimp.com/oauth2/metadata"
SANDBOX_KEY = "0123456789abcdef0123456789abcdef-us21"
"""The sandbox account's published demo key (data centre ``us21``)."""


class MailchimpKeyFields(BaseModel):
    """The key from Profile → Extras → API keys."""

    model_config = ConfigDict(extra="forbid")
    api_key: SecretStr = Field(
        description="An API key from your Mailchimp profile (Extras → API keys). "
        "It ends with your data centre, e.g. …-us21. It acts as its user, with that user's role.",
    )

    @field_validator("api_key")
    @classmethod
    def _names_its_data_centre(cls, value: SecretStr) -> SecretStr:
        data_centre(
            value.get_secret_value()
        )  # the ValueError names what is expected, never the key
        return value


async def test_connection(ctx: OperationContext) -> Mapping[str, Any]:
    """``GET /3.0/`` (the API root): the account's name and id, and its data centre."""
    root = await call(ctx, "GET", "/", params={"fields": "account_id,account_name,email"})
    label = root.get("account_name") or root.get("email") or root.get("account_id")
    info: dict[str, Any] = {"label": label, "account_id": root.get("account_id")}
    key = secret_value(ctx.credentials.get("api_key"))
    if key:
        info["dc"] = data_centre(key)
    return info


async def fetch_oauth_metadata(
    tokens: Mapping[str, Any], http: httpx.AsyncClient
) -> Mapping[str, Any]:
    """``OAuth2Auth.fetch_metadata``: the data centre and API endpoint of a new token's account."""
    token = secret_value(tokens.get("access_token"))
    response = await http.get(
        METADATA_URL, headers={"Authorization": f"OAuth {token}", "Accept": "application/json"}
    )
    if response.status_code == 401:
        raise AuthError(
            "login.mailchimp.com refused the new access token when asked for its data centre. "
            "Start connecting again."
        )
    if response.status_code >= 400:
        raise UpstreamError(
            "login.mailchimp.com: the OAuth metadata endpoint answered "
            f"HTTP {response.status_code}.",
            status=response.status_code,
        )
    try:
        body = response.json()
    except ValueError:
        body = None
    dc = str(body.get("dc") or "") if isinstance(body, Mapping) else ""
    if not DC.match(dc):
        raise UpstreamError(
            "login.mailchimp.com: the OAuth metadata did not name a data centre (dc).",
            status=response.status_code,
        )
    return {
        "dc": dc,
        "api_endpoint": f"https://{dc}.api.mailchimp.com",
        "account_name": body.get("accountname"),
    }


def parse_token(body: Mapping[str, Any]) -> Mapping[str, Any]:
    """Mailchimp answers ``"expires_in": 0`` for tokens that never expire: drop it, so the
    token is not taken for one that expired at once."""
    if body.get("expires_in") in (0, "0"):
        return {k: v for k, v in body.items() if k != "expires_in"}
    return body


API_KEY_AUTH = ApiKeyAuth(
    fields=MailchimpKeyFields,
    location="basic_password",
    name="cellwright",  # Basic auth's user name: Mailchimp accepts any
    test=test_connection,
    label_template="{label}",
)

OAUTH = OAuth2Auth(
    authorize_url="https://login.mailchimp.com/oauth2/authorize",
    token_url="https://login.mailchimp.com/oauth2/token",  # noqa: S106 (a URL, not a secret)
    pkce=False,  # Mailchimp's flow is the plain authorization code grant with the client secret
    parse_token=parse_token,
    fetch_metadata=fetch_oauth_metadata,
    test=test_connection,
    label_template="{label}",
)
