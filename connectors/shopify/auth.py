"""Connecting to Shopify: an Admin API access token (the default) or OAuth.

- **Access token** (custom apps: an app created in the shop's admin, whose ``shpat_…``
  token does not expire, or a Dev Dashboard app's token): the shop's domain and the token,
  sent as ``X-Shopify-Access-Token`` (https://shopify.dev/docs/api/admin-graphql#authentication).
  The app's client secret is optional: the triggers need it to check webhook signatures.
- **OAuth** (public apps, authorization-code grant on the shop's own domain:
  https://shopify.dev/docs/apps/build/authentication-authorization/access-tokens/authorization-code-grant).
  The exchange asks for an *expiring* offline token (``expiring=1``): it lasts 60 minutes
  and comes with a refresh token that rotates on every refresh. Public apps must use them
  by 1 January 2027
  (https://shopify.dev/docs/apps/build/authentication-authorization/access-tokens/offline-access-tokens).
  Both endpoints are per shop, so the user types the shop's domain before signing in, and
  ``url_values`` fills ``{shop}`` in (``OAuth2Auth.for_connection``). The operator's OAuth
  client secret also signs the webhooks.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from connectors.sdk import ApiKeyAuth, AuthError, InvalidInputError, OAuth2Auth, OperationContext
from connectors.shopify.api import gql, shop_host

if TYPE_CHECKING:
    from connectors.sdk.oauth import OAuthClient

SCOPES = (
    "read_products",
    "write_products",
    "read_customers",
    "write_customers",
    "read_orders",
    "write_orders",
    "read_draft_orders",
    "write_draft_orders",
    "read_inventory",
    "write_inventory",
    "read_locations",
    "read_merchant_managed_fulfillment_orders",
    "write_merchant_managed_fulfillment_orders",
)
"""Access scopes for every action and trigger (https://shopify.dev/docs/api/usage/access-scopes)."""

SHOP_DESCRIPTION = "Your shop's permanent domain, e.g. acme.myshopify.com (or just acme)."


class ShopifyTokenFields(BaseModel):
    """The access token form."""

    model_config = ConfigDict(extra="forbid")
    shop: str = Field(description=SHOP_DESCRIPTION)
    access_token: SecretStr = Field(
        description="The app's Admin API access token (shpat_…): Shopify admin → Settings → Apps "
        "→ Develop apps → your app → API credentials. Grant the scopes your scenarios need."
    )
    client_secret: SecretStr | None = Field(
        None,
        description="The same app's API secret key (client secret). Needed only by the triggers, "
        "to check that webhooks really come from Shopify.",
    )


class ShopifyOAuthFields(BaseModel):
    """What the user types before going to Shopify's consent page."""

    model_config = ConfigDict(extra="forbid")
    shop: str = Field(description=SHOP_DESCRIPTION, examples=["acme.myshopify.com"])


SANDBOX_SHOP = "cellwright-sandbox.myshopify.com"
SANDBOX_CREDENTIALS = {
    "shop": SANDBOX_SHOP,
    # the sandbox shop's published demo token
    "access_token": "shpat_sandbox_0000000000000000000000",
    "client_secret": "shpss_sandbox_webhook_secret_00000",  # signs the sandbox's webhooks
}

SHOP = (
    "query Shop { shop { id name email myshopifyDomain currencyCode plan { publicDisplayName } } }"
)


async def test_connection(ctx: OperationContext) -> Mapping[str, Any]:
    """``shop``: the cheapest query that proves the token works."""
    shop = (await gql(ctx, SHOP))["shop"]
    return {
        "label": f"{shop.get('name')} ({shop.get('myshopifyDomain')})",
        "shop_id": shop.get("id"),
        "shop": shop.get("myshopifyDomain"),
        "email": shop.get("email"),
        "currency": shop.get("currencyCode"),
        "plan": (shop.get("plan") or {}).get("publicDisplayName"),
    }


def oauth_urls(fields: Mapping[str, Any]) -> dict[str, str]:
    """``{shop}`` of the OAuth endpoints, from the connection's ``shop`` field (validated)."""
    return {"shop": shop_host(fields.get("shop"))}


def callback_signature(params: Mapping[str, str], secret: str) -> str:
    """Shopify's ``hmac`` of a redirect: hex HMAC-SHA256, keyed with the app's client secret,
    of the other query parameters sorted by name and form-encoded, as Shopify's own
    libraries do (https://shopify.dev/docs/apps/build/authentication-authorization/access-tokens/authorization-code-grant,
    "Verify the installation request"). For the values Shopify sends (hex code, shop
    domain, timestamp, our URL-safe state) that is the same text as ``k=v&k=v``."""
    signed = sorted((k, v) for k, v in params.items() if k not in ("hmac", "signature"))
    return hmac.new(secret.encode(), urlencode(signed).encode(), hashlib.sha256).hexdigest()


def verify_callback(
    params: Mapping[str, str], fields: Mapping[str, Any], client: OAuthClient
) -> None:
    """``OAuth2Auth.verify_callback``: the redirect back is signed by Shopify with the
    operator's client secret and names the shop the user typed; otherwise nothing is stored."""
    given = str(params.get("hmac") or "")
    secret = client.client_secret or ""
    expected = callback_signature(params, secret) if secret else ""
    if not (given and expected and hmac.compare_digest(given.lower().encode(), expected.encode())):
        raise AuthError(
            "Shopify's redirect back is not signed with this server's Shopify client secret "
            "(its hmac does not match), so it may not come from Shopify. Nothing was stored: "
            "start connecting again."
        )
    try:
        returned = shop_host(params.get("shop"))
    except InvalidInputError:
        returned = str(params.get("shop") or "")
    if returned != shop_host(fields.get("shop")):
        raise AuthError(
            f"Shopify sent back the shop '{returned}', not '{shop_host(fields.get('shop'))}' "
            "that you typed. Nothing was stored: start connecting again and sign "
            "in to the shop you typed."
        )


SHOPIFY_TOKEN_AUTH = ApiKeyAuth(
    fields=ShopifyTokenFields,
    key_field="access_token",
    location="header",
    name="X-Shopify-Access-Token",
    prefix="",
    test=test_connection,
    label_template="{label}",
)

SHOPIFY_OAUTH = OAuth2Auth(
    authorize_url="https://{shop}/admin/oauth/authorize",
    token_url="https://{shop}/admin/oauth/access_token",  # noqa: S106 (a URL, not a secret)
    scopes=SCOPES,
    scope_separator=",",
    pkce=False,  # Shopify's authorization-code grant takes no PKCE parameters
    token_header="X-Shopify-Access-Token",  # noqa: S106 (a header name)
    token_prefix="",
    exchange_params={"expiring": "1"},
    url_values=oauth_urls,
    verify_callback=verify_callback,
    fields=ShopifyOAuthFields,
    test=test_connection,
    label_template="{label}",
)
"""The app's second auth kind (``App.other_auth``): expiring offline tokens, refreshed
ahead of expiry and on 401 by the SDK's ``OAuth2Flow``, the rotated refresh token saved
before use."""
