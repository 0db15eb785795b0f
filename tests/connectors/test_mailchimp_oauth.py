"""Signing in to Mailchimp with OAuth: the data centre learned after the code exchange.

Two SDK hooks make it work (see connectors/sdk): ``OAuth2Auth.fetch_metadata`` runs right
after the exchange and its answer is kept in the connection's metadata, and
``App.connection_base_url`` builds the API root from credentials *and* metadata. The
second half runs both through the engine against a real OAuth 2.0 server on loopback
(tests/connectors/oauth_server.py), with a test app shaped like Mailchimp.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from connectors.mailchimp import app, sandbox
from connectors.mailchimp.auth import OAUTH, fetch_oauth_metadata, parse_token
from connectors.registry import APPS, Registry
from connectors.sdk import (
    App,
    AuthError,
    ConfigurationError,
    OAuth2Auth,
    OperationContext,
    UpstreamError,
)
from connectors.sdk.sandboxing import sandbox_context
from engine.oauth_connect import finish_authorization, start_authorization
from engine.settings import Settings
from tests.connectors.oauth_server import OAuthTestServer
from tests.oauth_helpers import CALLBACK, CLIENTS, PUBLIC, agent_fixture, consent, server_fixture  # noqa: F401

# -- Mailchimp's side, against the sandbox ---------------------------------------------------------


def metadata_client(answer: httpx.Response | None = None) -> httpx.AsyncClient:
    """A client whose login.mailchimp.com is the sandbox (or a fixed answer)."""
    if answer is not None:
        return httpx.AsyncClient(transport=httpx.MockTransport(lambda request: answer))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=sandbox.create_app()))


async def test_the_metadata_endpoint_names_the_data_centre() -> None:
    async with metadata_client() as http:
        found = await fetch_oauth_metadata({"access_token": sandbox.OAUTH_TOKEN}, http)
    assert found == {
        "dc": "us21",
        "api_endpoint": "https://us21.api.mailchimp.com",
        "account_name": "Cellwright Sandbox",
    }
    assert (
        app.resolve_base_url({"access_token": sandbox.OAUTH_TOKEN}, found)
        == "https://us21.api.mailchimp.com"
    )


async def test_a_refused_token_or_an_answer_without_a_data_centre_fails_the_sign_in() -> None:
    async with metadata_client() as http:
        with pytest.raises(AuthError, match="refused the new access token"):
            await fetch_oauth_metadata({"access_token": "stolen"}, http)
    for answer, message in [
        (httpx.Response(200, json={"dc": "us21.evil.example"}), "did not name a data centre"),
        (httpx.Response(200, text="<html>"), "did not name a data centre"),
        (httpx.Response(503, text="down"), "answered HTTP 503"),
    ]:
        async with metadata_client(answer) as http:
            with pytest.raises(UpstreamError, match=message):
                await fetch_oauth_metadata({"access_token": "t"}, http)


def test_tokens_that_never_expire_are_not_taken_for_expired() -> None:
    assert parse_token({"access_token": "t", "expires_in": 0, "scope": None}) == {
        "access_token": "t",
        "scope": None,
    }
    assert parse_token({"access_token": "t", "expires_in": 3600}) == {
        "access_token": "t",
        "expires_in": 3600,
    }
    assert OAUTH.fetch_metadata is fetch_oauth_metadata and app.auth_for("oauth2") is OAUTH


async def test_an_oauth_token_goes_as_bearer_to_the_data_centre() -> None:
    credentials = {"access_token": sandbox.OAUTH_TOKEN}
    ctx = sandbox_context(app, credentials, asgi_app=sandbox.create_app(), auth_type="oauth2")
    assert OAUTH.test is not None
    assert await OAUTH.test(ctx) == {
        "label": "Cellwright Sandbox",
        "account_id": "8d3a3db4d97663a9074efcc16",
    }


# -- the SDK hooks through the engine --------------------------------------------------------------


def dc_app(provider: str) -> App:
    """Mailchimp's shape on the loopback provider: the API host is only known from metadata."""

    async def metadata(tokens: Mapping[str, Any], http: httpx.AsyncClient) -> Mapping[str, Any]:
        me = (
            await http.get(
                f"{provider}/api/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
            )
        ).json()
        return {"dc": "lb1", "owner": me["user"]}

    def base(credentials: Mapping[str, Any], found: Mapping[str, Any]) -> str:
        if found.get("dc") != "lb1":
            raise ConfigurationError("no data centre: reconnect")
        return provider

    async def test_call(ctx: OperationContext) -> Mapping[str, Any]:
        return {"label": (await ctx.http.get("/api/me"))["user"]}

    oauth = OAuth2Auth(
        authorize_url=f"{provider}/authorize",
        token_url=f"{provider}/token",
        scopes=("read",),
        fetch_metadata=metadata,
        test=test_call,
    )
    return App(
        key="dcapp",
        name="DC app",
        description="OAuth with a host from metadata (tests).",
        category="Testing",
        auth=oauth,
        connection_base_url=base,
        allowed_hosts=("127.0.0.1",),
        actions=APPS[4].actions[:1],
    )


@pytest.fixture(name="registry")
def registry_fixture(server: OAuthTestServer) -> Registry:
    return Registry([*APPS, dc_app(server.base_url)])


@pytest.fixture(name="settings")
def settings_fixture(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(public_url=PUBLIC, oauth_clients={"dcapp": CLIENTS})


async def test_metadata_fetched_after_the_exchange_is_kept_and_gives_the_api_host(
    svc: Any, user: Any, agent: httpx.AsyncClient
) -> None:
    url = start_authorization(svc, user.id, "dcapp")
    back = await consent(agent, url)
    assert back.startswith(urlsplit(CALLBACK).path)
    connection = await finish_authorization(svc, dict(parse_qsl(urlsplit(back).query)))
    assert connection.metadata == {"dc": "lb1", "owner": "alice", "auth_type": "oauth2"}
    assert (
        connection.status == "active" and connection.name == "DC app: alice"
    )  # the test call reached the host from metadata

    again = await finish_authorization(
        svc,
        dict(
            parse_qsl(
                urlsplit(
                    await consent(
                        agent,
                        start_authorization(svc, user.id, "dcapp", connection_id=connection.id),
                    )
                ).query
            )
        ),
    )
    assert (
        again.id == connection.id and again.metadata["dc"] == "lb1"
    )  # reconnecting keeps (and refreshes) it
