"""Connecting to HubSpot: a private app's static token (the default) or OAuth.

- **Private app / static token** (``pat-…``, one HubSpot account): sent as
  ``Authorization: Bearer`` (https://developers.hubspot.com/docs/apps/legacy-apps/private-apps/overview).
  Its form has an optional second field, the HubSpot app's **client secret**: HubSpot
  signs webhook deliveries with it (``X-HubSpot-Signature-v3``), so the instant triggers
  need it; polling triggers and actions do not.
- **OAuth** (a public app the operator registers, installed in many accounts): access
  tokens live **30 minutes** (``expires_in``) and are refreshed ahead of expiry; refresh
  tokens do not expire (https://developers.hubspot.com/docs/api-reference/latest/authentication/manage-oauth-tokens.md).
  The operator sets ``CELLWRIGHT_OAUTH_CLIENTS__hubspot__CLIENT_ID`` / ``__CLIENT_SECRET``;
  that client secret also verifies webhook deliveries (the connection webhook asks the
  engine for it), so an OAuth connection has no form fields.

Both kinds are tested with ``GET /account-info/2026-03/details``, which names the portal
(HubSpot account) the token belongs to. Its ``portalId`` is kept on the connection: webhook
deliveries carry every portal's events, and each connection takes only its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from connectors.hubspot.api import VERSION
from connectors.sdk import ApiKeyAuth, OAuth2Auth, OperationContext

SCOPES = (
    "oauth",
    "crm.objects.contacts.read",
    "crm.objects.contacts.write",
    "crm.objects.companies.read",
    "crm.objects.companies.write",
    "crm.objects.deals.read",
    "crm.objects.deals.write",
    "crm.objects.owners.read",
)
"""What the actions, triggers and dropdowns need (https://developers.hubspot.com/docs/apps/legacy-apps/authentication/scopes).
Notes and tasks are written with the contacts scope (the engagement APIs' requirement)."""

SANDBOX_TOKEN = "pat-na1-5a7d0000-0000-4000-8000-00000000cafe"  # noqa: S105 - the sandbox portal's published demo token
SANDBOX_CLIENT_SECRET = "sandbox-hubspot-app-client-secret"  # noqa: S105 - the sandbox app's published demo secret
SANDBOX_CREDENTIALS = {"access_token": SANDBOX_TOKEN, "client_secret": SANDBOX_CLIENT_SECRET}


class HubSpotTokenFields(BaseModel):
    """The private app (static token) form."""

    model_config = ConfigDict(extra="forbid")
    access_token: SecretStr = Field(
        description="The app's access token (pat-…): HubSpot → Settings → Integrations → Private "
        "apps (or your project app's Auth tab) → Access token. It needs the CRM scopes of what "
        "you use (contacts, deals, owners).",
    )
    client_secret: SecretStr | None = Field(
        None,
        description="Optional: the same app's client secret (its Auth tab). "
        "HubSpot signs webhook deliveries with it; only the instant triggers need it.",
    )


async def test_connection(ctx: OperationContext) -> Mapping[str, Any]:
    """``GET /account-info/2026-03/details``: the portal behind the token."""
    details = await ctx.http.get(f"/account-info/{VERSION}/details")
    portal = details.get("portalId")
    domain = details.get("uiDomain") or "app.hubspot.com"
    return {
        "label": f"portal {portal} ({domain})",
        "portal_id": portal,
        "account_type": details.get("accountType"),
        "time_zone": details.get("timeZone"),
        "currency": details.get("companyCurrency"),
        "ui_domain": domain,
        "data_hosting_location": details.get("dataHostingLocation"),
    }


HUBSPOT_TOKEN_AUTH = ApiKeyAuth(
    fields=HubSpotTokenFields,
    key_field="access_token",
    location="header",
    name="Authorization",
    prefix="Bearer ",
    test=test_connection,
    label_template="{label}",
)

HUBSPOT_OAUTH = OAuth2Auth(
    authorize_url="https://app.hubspot.com/oauth/authorize",
    # the 2026-03 token endpoint takes its parameters in the body only (client_secret_post)
    token_url=f"https://api.hubapi.com/oauth/{VERSION}/token",  # noqa: S106 (a URL, not a secret)
    scopes=SCOPES,
    pkce=False,
    test=test_connection,
    label_template="{label}",
)
"""The second auth kind (``App.other_auth``): 30-minute access tokens, refreshed by the SDK."""
