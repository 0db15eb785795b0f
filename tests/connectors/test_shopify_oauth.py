"""Shopify OAuth: per-shop endpoints (the SDK's ``OAuth2Auth.for_connection``), expiring
offline tokens and refresh-token rotation, against the sandbox's OAuth endpoints."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from connectors.sdk import AuthExpiredError, InvalidInputError, OAuth2Auth
from connectors.sdk.oauth import (
    OAuthClient,
    authorization_url,
    exchange_code,
    token_request,
    token_set,
)
from connectors.sdk.sandboxing import sandbox_context
from connectors.shopify import app
from connectors.shopify import sandbox as sb
from connectors.shopify.auth import SHOPIFY_OAUTH

CLIENT = OAuthClient(
    sb.OAUTH_CLIENT_ID, sb.OAUTH_CLIENT_SECRET, "https://cellwright.example/oauth/callback"
)


def test_for_connection_fills_the_shop_into_both_endpoints() -> None:
    kind = SHOPIFY_OAUTH.for_connection({"shop": "Acme"})
    assert kind.authorize_url == "https://acme.myshopify.com/admin/oauth/authorize"
    assert (
        kind.token_url == "https://acme.myshopify.com/admin/oauth/access_token"
        and kind.url_values is None
    )
    plain = OAuth2Auth(
        authorize_url="https://a.example/authorize", token_url="https://a.example/token"
    )
    assert (
        plain.for_connection({"shop": "x"}) is plain
    )  # endpoints without placeholders stay as they are
    with pytest.raises(InvalidInputError, match="is not a Shopify shop domain") as caught:
        SHOPIFY_OAUTH.for_connection({"shop": "evil.example.com"})
    assert caught.value.details["errors"][0]["field"] == "shop"


def test_the_authorize_url_is_the_shops_with_comma_scopes_and_no_pkce() -> None:
    url = authorization_url(SHOPIFY_OAUTH.for_connection({"shop": "acme"}), CLIENT, "st4te")
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    assert (parts.netloc, parts.path) == ("acme.myshopify.com", "/admin/oauth/authorize")
    assert query["scope"] == [",".join(SHOPIFY_OAUTH.scopes)] and "code_challenge" not in query
    assert query["client_id"] == [sb.OAUTH_CLIENT_ID] and query["state"] == ["st4te"]


async def signed_in(shop: Any) -> tuple[dict[str, Any], httpx.AsyncClient]:
    """Consent at the sandbox, then exchange the code as the engine does."""
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=shop))
    kind = SHOPIFY_OAUTH.for_connection({"shop": sb.SHOP_DOMAIN})
    consent = await http.get(authorization_url(kind, CLIENT, "st4te"))
    back = sb.callback_params(consent.headers["location"])
    assert (back["shop"], back["state"]) == (sb.SHOP_DOMAIN, "st4te") and back["hmac"]
    tokens = await exchange_code(kind, CLIENT, back["code"], http=http)
    return tokens, http


async def test_signing_in_gets_an_expiring_offline_token_and_a_refresh_token() -> None:
    shop = sb.create_app()
    tokens, http = await signed_in(shop)
    await http.aclose()
    assert tokens["access_token"].startswith("shpat_") and tokens["refresh_token"].startswith(
        "shprt_"
    )
    assert 3500 < tokens["expires_at"] - time.time() <= 3600  # the exchange asked for expiring=1
    ctx = sandbox_context(
        app, {"shop": sb.SHOP_DOMAIN, **tokens}, asgi_app=shop, auth_type="oauth2"
    )
    assert (await app.auth_for("oauth2").test(ctx))["shop"] == sb.SHOP_DOMAIN  # type: ignore[misc]


async def test_an_expired_token_is_refreshed_and_the_rotated_refresh_token_saved_first() -> None:
    shop = sb.create_app()
    tokens, http = await signed_in(shop)
    await http.aclose()
    clock = [time.monotonic() + 4000]  # an hour later: the sandbox sees the token expired
    shop.state.sandbox.clock = lambda: clock[0]
    saved: list[dict[str, Any]] = []

    async def save(new: Any) -> None:
        saved.append(dict(new))

    credentials = {"shop": sb.SHOP_DOMAIN, **tokens, "expires_at": time.time() - 10}
    auth = app.auth_for("oauth2").httpx_auth(credentials, save, CLIENT)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=shop), auth=auth, base_url="http://sandbox.invalid"
    ) as client:
        answer = await client.post(
            "/admin/api/2026-10/graphql.json", json={"query": "{ shop { name } }"}
        )
    assert answer.json()["data"]["shop"]["name"] == "Cellwright Sandbox"
    [new] = saved
    assert (
        new["refresh_token"] != tokens["refresh_token"]
        and new["access_token"] != tokens["access_token"]
    )
    assert new["shop"] == sb.SHOP_DOMAIN  # the typed field stays with the token set
    # the old refresh token died once the new access token
    # was used: refreshing with it means "reconnect"
    kind = SHOPIFY_OAUTH.for_connection({"shop": sb.SHOP_DOMAIN})
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=shop)) as plain:
        refused = await plain.send(
            token_request(kind, CLIENT, "refresh_token", {"refresh_token": tokens["refresh_token"]})
        )
    with pytest.raises(AuthExpiredError, match="no longer accepts this connection's refresh token"):
        token_set(kind, refused, "refresh")


async def test_a_lost_refresh_answer_can_be_retried_with_the_old_refresh_token() -> None:
    """Shopify keeps the replaced refresh token until the new access token is used."""
    shop = sb.create_app()
    tokens, http = await signed_in(shop)
    form = {
        "client_id": sb.OAUTH_CLIENT_ID,
        "client_secret": sb.OAUTH_CLIENT_SECRET,
        "grant_type": "refresh_token",
        "refresh_token": tokens["refresh_token"],
    }
    url = f"https://{sb.SHOP_DOMAIN}/admin/oauth/access_token"
    lost = await http.post(url, data=form)
    retried = await http.post(url, data=form)
    assert lost.status_code == retried.status_code == 200
    assert (await http.post(url, data={**form, "client_secret": "wrong"})).json()[
        "error"
    ] == "invalid_client"
    await http.aclose()


def test_an_oauth_connections_webhooks_are_checked_with_the_operators_client_secret() -> None:
    from engine.ingress import WebhookIngress

    svc = SimpleNamespace(
        apps=SimpleNamespace(get=lambda key: app),
        settings=SimpleNamespace(
            oauth_clients={"shopify": {"client_id": "c", "client_secret": "s3cret"}}
        ),
    )
    ingress = WebhookIngress(svc)
    oauth = SimpleNamespace(metadata={"auth_type": "oauth2"})
    token = SimpleNamespace(metadata={})
    assert ingress._with_oauth_app_secrets("shopify", oauth, {"access_token": "a"}) == {
        "access_token": "a",
        "client_secret": "s3cret",
    }
    assert ingress._with_oauth_app_secrets("shopify", token, {"access_token": "a"}) == {
        "access_token": "a"
    }


@pytest.fixture
def settings(make_settings: Any) -> Any:
    return make_settings(
        oauth_clients={
            "shopify": {"client_id": sb.OAUTH_CLIENT_ID, "client_secret": sb.OAUTH_CLIENT_SECRET}
        }
    )


async def test_connecting_starts_at_the_shop_the_user_typed(svc: Any, user: Any) -> None:
    from engine.oauth_connect import start_authorization

    url = start_authorization(svc, user.id, "shopify", fields={"shop": "acme"})
    assert url.startswith("https://acme.myshopify.com/admin/oauth/authorize?")
    with pytest.raises(InvalidInputError, match="shop"):
        start_authorization(
            svc, user.id, "shopify"
        )  # no shop typed: the form says which field is missing


def test_the_callback_signature_is_shopifys() -> None:
    """Shopify's published example of a signed redirect (secret ``hush``), and the checks
    ``finish_authorization`` runs before exchanging the code."""
    from connectors.sdk import AuthError
    from connectors.shopify.auth import callback_signature, verify_callback

    params = {
        "code": "0907a61c0c8d55e99db179b68161bc00",
        "shop": "some-shop.myshopify.com",
        "timestamp": "1337178173",
    }
    signed = params | {"hmac": "4712bf92ffc2917d15a2f5a273e39f0116667419aa4b6ac0b3baaf26fa3c4d20"}
    assert callback_signature(signed, "hush") == signed["hmac"]
    client = OAuthClient("id", "hush", "https://cellwright.example/oauth/callback")
    verify_callback(signed, {"shop": "some-shop"}, client)  # no exception: Shopify's, for that shop
    with pytest.raises(AuthError, match="its hmac does not match"):
        verify_callback(signed | {"code": "0" * 32}, {"shop": "some-shop"}, client)
    with pytest.raises(
        AuthError, match="its hmac does not match"
    ):  # no secret: nothing can be checked
        verify_callback(signed, {"shop": "some-shop"}, OAuthClient("id", None, "https://x"))
    with pytest.raises(AuthError, match="not 'other.myshopify.com' that you typed"):
        verify_callback(signed, {"shop": "other"}, client)
