"""Signing in with an app whose OAuth endpoints depend on a field the user types first:
Shopify's shop. Through the REST route, the real callback and the workspace's panel,
against the Shopify sandbox's OAuth endpoints (``connectors/shopify/sandbox.py``).

The sandbox stands in for every ``*.myshopify.com`` host: the connector's network
transport (``connectors.sdk.http.make_transport``) is pointed at it, so the code exchange
and the connection's test call go through the same clients as in production.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from starlette.applications import Starlette

from connectors.shopify import sandbox as sb
from engine.service import Cellwright
from engine.settings import Settings

PUBLIC = "http://testserver"

pytestmark = pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    client = {"client_id": sb.OAUTH_CLIENT_ID, "client_secret": sb.OAUTH_CLIENT_SECRET}
    other = {"client_id": "hubspot-app", "client_secret": "hubspot-secret"}
    return make_settings(public_url=PUBLIC, oauth_clients={"shopify": client, "hubspot": other})


@pytest.fixture
def shopify(monkeypatch: pytest.MonkeyPatch) -> Starlette:
    """The sandbox, answering for every shop the connector calls."""
    shop = sb.create_app()
    monkeypatch.setattr(
        "connectors.sdk.http.make_transport", lambda policy, **_: httpx.ASGITransport(app=shop)
    )
    return shop


@pytest.fixture
async def merchant(shopify: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """The merchant's browser on Shopify's side: approves on the consent page."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=shopify)) as browser:
        yield browser


async def approve(merchant: httpx.AsyncClient, authorize_url: str) -> str:
    """Open Shopify's consent page; the path and query it sends the browser back to."""
    answer = await merchant.get(authorize_url)
    assert answer.status_code == 302, answer.text
    back = answer.headers["location"]
    assert back.startswith(f"{PUBLIC}/oauth/callback?")
    return back.removeprefix(PUBLIC)


# -- the REST route ----------------------------------------------------------------------------


async def test_a_missing_or_wrong_shop_is_a_422_naming_the_query_parameter(
    client: httpx.AsyncClient,
) -> None:
    missing = await client.get("/api/v1/oauth/shopify/authorize")
    assert missing.status_code == 422
    body = missing.json()
    assert body["error"] == "invalid_input" and [e["field"] for e in body["errors"]] == [
        "query.shop"
    ]
    assert body["message"] == (
        "Signing in with Shopify needs shop: Your shop's permanent domain, e.g. "
        "acme.myshopify.com (or just acme)."
    )

    custom_domain = await client.get(
        "/api/v1/oauth/shopify/authorize", params={"shop": "shop.acme.example"}
    )
    assert (
        custom_domain.status_code == 422
        and custom_domain.json()["errors"][0]["field"] == "query.shop"
    )
    assert "'shop.acme.example' is not a Shopify shop domain" in custom_domain.json()["message"]

    typo = await client.get(
        "/api/v1/oauth/shopify/authorize", params={"shop": "acme", "shpo": "acme"}
    )
    assert typo.status_code == 422 and typo.json()["errors"][0]["field"] == "query.shpo"
    assert typo.json()["message"] == "Signing in with Shopify does not take shpo (it takes: shop)."


async def test_a_secret_is_refused_in_the_url(client: httpx.AsyncClient) -> None:
    slack = await client.get(
        "/api/v1/oauth/slack/authorize", params={"signing_secret": "s3cret-signing"}
    )
    assert slack.status_code == 422 and slack.json()["errors"][0]["field"] == "query.signing_secret"
    assert (
        "is a secret: it is not taken in a URL" in slack.json()["message"]
        and "s3cret-signing" not in slack.text
    )


async def test_the_shop_sends_the_user_to_that_shops_consent_page(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/api/v1/oauth/shopify/authorize", params={"shop": "acme"})
    assert response.status_code == 302, response.text
    url = response.headers["location"]
    assert url.startswith("https://acme.myshopify.com/admin/oauth/authorize?")
    query = parse_qs(urlsplit(url).query)
    assert query["client_id"] == [sb.OAUTH_CLIENT_ID] and query["redirect_uri"] == [
        f"{PUBLIC}/oauth/callback"
    ]
    as_json = await client.get(
        "/api/v1/oauth/shopify/authorize",
        params={"shop": "https://Acme.myshopify.com/", "redirect": "false"},
    )
    assert as_json.status_code == 200 and as_json.json()["authorization_url"].startswith(
        "https://acme.myshopify.com/admin/oauth/authorize?"
    )


async def test_the_openapi_description_documents_the_sign_in_fields(
    anon: httpx.AsyncClient,
) -> None:
    spec = (await anon.get("/api/v1/openapi.json")).json()
    operation = spec["paths"]["/api/v1/oauth/{app}/authorize"]["get"]
    [fields] = [p for p in operation["parameters"] if p["name"] == "fields"]
    assert fields["in"] == "query" and fields["style"] == "form" and fields["explode"] is True
    assert fields["schema"] == {"type": "object", "additionalProperties": {"type": "string"}}
    assert (
        "shop=acme.myshopify.com" in fields["description"]
        and "query.<name>" in fields["description"]
    )
    assert {"name", "redirect", "connection_id"} <= {p["name"] for p in operation["parameters"]}


# -- the round trip through the real callback ----------------------------------------------------


async def test_connecting_a_shop_end_to_end(
    svc: Cellwright,
    user: Any,
    client: httpx.AsyncClient,
    merchant: httpx.AsyncClient,
    shopify: Starlette,
) -> None:
    started = await client.get(
        "/api/v1/oauth/shopify/authorize", params={"shop": "acme", "name": "Acme store"}
    )
    assert started.status_code == 302, started.text
    back = await approve(merchant, started.headers["location"])
    assert parse_qs(urlsplit(back).query)["shop"] == [
        "acme.myshopify.com"
    ]  # Shopify names the shop it authorized

    done = await client.get(back)  # the browser that started: it carries the binding cookie
    assert done.status_code == 303, done.text
    [connection] = svc.store.list_connections(user.id)
    assert connection.name == "Acme store" and connection.status == "active", (
        connection.status_message
    )
    assert connection.metadata["auth_type"] == "oauth2"
    stored = svc.store.connection_credentials(connection.id)
    assert (
        stored["shop"] == "acme"
    )  # what the user typed, kept for the API's base URL and token refreshes
    assert stored["access_token"] in shopify.state.sandbox.tokens and stored[
        "refresh_token"
    ].startswith("shprt_")

    again = await client.get(back)  # a replayed callback
    assert again.status_code == 400 and len(svc.store.list_connections(user.id)) == 1


async def test_a_callback_without_shopifys_signature_stores_nothing(
    svc: Cellwright,
    user: Any,
    client: httpx.AsyncClient,
    anon: httpx.AsyncClient,
    merchant: httpx.AsyncClient,
) -> None:
    url = (
        await client.get(
            "/api/v1/oauth/shopify/authorize", params={"shop": "acme", "redirect": "false"}
        )
    ).json()["authorization_url"]
    back = parse_qs(urlsplit(await approve(merchant, url)).query)
    forged = {k: v[0] for k, v in back.items()} | {"timestamp": "1"}  # any change breaks the hmac
    refused = await anon.get(
        "/oauth/callback", params=forged, headers={"Accept": "application/json"}
    )
    assert refused.status_code == 400 and "its hmac does not match" in refused.json()["message"]
    assert svc.store.list_connections(user.id) == []


async def test_a_callback_for_another_shop_stores_nothing(
    svc: Cellwright,
    user: Any,
    client: httpx.AsyncClient,
    anon: httpx.AsyncClient,
    merchant: httpx.AsyncClient,
) -> None:
    url = (
        await client.get(
            "/api/v1/oauth/shopify/authorize", params={"shop": "acme", "redirect": "false"}
        )
    ).json()["authorization_url"]
    elsewhere = url.replace(
        "https://acme.myshopify.com/", "https://other.myshopify.com/"
    )  # approved in another shop's admin
    back = await approve(merchant, elsewhere)
    refused = await anon.get(back, headers={"Accept": "application/json"})
    assert refused.status_code == 400
    assert (
        "sent back the shop 'other.myshopify.com', not 'acme.myshopify.com'"
        in refused.json()["message"]
    )
    assert svc.store.list_connections(user.id) == []


# -- the workspace's panel ----------------------------------------------------------------------


@pytest.fixture
def web(svc: Cellwright) -> Any:
    """The server with the workspace's sign-in routes and session gate (no Panel)."""
    from workspace import sessions
    from workspace.server import create_app

    outer = create_app(svc, start=False)
    api = outer
    while not hasattr(api, "add_api_route"):  # the FastAPI app inside the ASGI wrappers
        api = api.app
    svc._workspace_sessions = sessions.add_routes(api, svc)  # type: ignore[attr-defined]
    return outer


@pytest.fixture
async def signed_in(
    svc: Cellwright, user: Any, web: Any
) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    """A signed-in browser and its session's csrf token."""
    from workspace.sessions import set_password

    set_password(svc.store, user.id, "a-long-password-1")
    sessions = svc._workspace_sessions  # type: ignore[attr-defined]
    cookie = sessions.issue(svc.store.get_user(user.id))
    found = sessions.user(svc.store, cookie)
    assert found is not None
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=web), base_url=PUBLIC, cookies={"cw_session": cookie}
    ) as browser:
        yield browser, found[1].csrf


def typing(widget: Any, text: str, *, leave: bool = False) -> None:
    """What the browser sends: every keystroke (``value_input``), ``value`` on leaving the field."""
    widget.value_input = text
    if leave:
        widget.value = text


async def test_the_panel_asks_for_the_shop_before_connecting(
    svc: Cellwright,
    user: Any,
    signed_in: tuple[httpx.AsyncClient, str],
    merchant: httpx.AsyncClient,
) -> None:
    from workspace.views.connections import Connections

    browser, csrf = signed_in
    page = Connections(svc, user, nav=lambda *a, **k: None, app_key="shopify", csrf=csrf)
    assert page.kind_select is not None and page.sign_in_form is None  # the access token form first
    page.kind_select.value = "oauth2"
    form = page.sign_in_form
    assert form is not None and list(form.widgets) == ["shop"]
    shop = form.widgets["shop"]
    assert shop.name == "Shop (required)" and shop.placeholder == "e.g. acme.myshopify.com"
    note = form._error_panes["shop"]  # the field's help, and its error under it
    assert "Your shop&#x27;s permanent domain, e.g. acme.myshopify.com" in note.object
    link = page.oauth_link.object
    assert (
        'aria-disabled="true"' in link
        and "href=" not in link
        and "Fill in Shop above first." in link
    )
    assert form.errors == {}  # nothing typed yet: a hint, not an error

    typing(shop, "shop.acme.example")
    assert form.errors == {} and "href=" not in page.oauth_link.object  # still typing: no error yet
    typing(shop, "shop.acme.example", leave=True)
    assert "'shop.acme.example' is not a Shopify shop domain" in form.errors["shop"]
    assert (
        'role="alert"' in note.object and "is not a Shopify shop domain" in note.object
    )  # shown at the field
    assert "Correct the field above first." in page.oauth_link.object

    typing(shop, "acme")
    assert form.errors == {}  # fixed: the error goes at once
    page.oauth_name.value = "Acme"
    href = page.oauth_link.object.split('href="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    assert parse_qs(urlsplit(href).query) == {"csrf": [csrf], "name": ["Acme"], "shop": ["acme"]}

    started = await browser.get(href)  # the click
    assert started.status_code == 302, started.text
    assert started.headers["location"].startswith(
        "https://acme.myshopify.com/admin/oauth/authorize?"
    )
    landed = await browser.get(await approve(merchant, started.headers["location"]))
    [connection] = svc.store.list_connections(user.id)
    assert (
        landed.status_code == 303
        and landed.headers["location"] == f"/?page=connections&id={connection.id}"
    )
    assert connection.name == "Acme" and connection.status == "active", connection.status_message
    assert svc.store.connection_credentials(connection.id)["shop"] == "acme"


async def test_a_start_link_without_the_shop_is_a_page_that_names_it(
    signed_in: tuple[httpx.AsyncClient, str],
) -> None:
    from workspace.oauth import start_path

    browser, csrf = signed_in
    page = await browser.get(start_path("shopify", csrf=csrf))
    assert page.status_code == 422 and "text/html" in page.headers["content-type"]
    assert (
        "Signing in with Shopify needs shop" in page.text
        and "Back to your connections" in page.text
    )


async def test_apps_without_sign_in_fields_keep_the_plain_link(svc: Cellwright, user: Any) -> None:
    from workspace.views.connections import Connections

    page = Connections(svc, user, nav=lambda *a, **k: None, app_key="hubspot", csrf="tok")
    assert page.kind_select is not None
    page.kind_select.value = "oauth2"
    assert page.sign_in_form is None
    assert 'href="/oauth/hubspot/start?csrf=tok"' in page.oauth_link.object
