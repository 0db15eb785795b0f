"""What the OAuth 2.0 connect tests share: the test apps, the operator's client, the
provider's consent, and the fixtures ``server``, ``registry``, ``settings`` and ``agent``,
which a test module imports explicitly (not from a conftest, so the other workspace
tests keep their own ``registry`` and ``settings``)::

    from tests.oauth_helpers import (  # noqa: F401
        agent_fixture,
        registry_fixture,
        server_fixture,
        settings_fixture,
    )

The functions are named apart from their fixtures, so a test's ``server`` argument does
not shadow an import.

The provider is Authlib's RFC 6749/7636 server on loopback (tests/connectors/oauth_server.py).
The apps are built with the SDK: "loopback" connects with a key by default and with
OAuth as its second kind (like monday.com); "machine" uses the client credentials grant.
The browser test loads the same apps into ``cellwright serve`` (tests/ui/oauth_app.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest
from pydantic import BaseModel, Field

from connectors.registry import APPS, Registry
from connectors.sdk import Action, ApiKeyAuth, App, OAuth2Auth, OperationContext
from engine.settings import Settings
from tests.connectors.oauth_server import OAuthTestServer

PUBLIC = "http://testserver"
CALLBACK = f"{PUBLIC}/oauth/callback"
CLIENTS = {"client_id": "cellwright", "client_secret": "s3cret-client"}
"""The operator's OAuth client, as registered with the provider (``register_client``'s defaults)."""
PROVIDER_URL_ENV = "LOOPBACK_PROVIDER_URL"
"""Where a ``cellwright serve`` subprocess finds the provider's base URL (tests/ui/oauth_app.py)."""


class WhoOutput(BaseModel):
    user: str | None = Field(
        description="The resource owner (none for a client credentials token)."
    )


async def me(ctx: OperationContext) -> dict[str, Any]:
    """The apps' test call: who the token belongs to."""
    data = await ctx.http.get("/api/me")
    return {"label": data["user"], "client_id": data["client_id"]}


async def whoami(ctx: OperationContext, inputs: BaseModel) -> dict[str, Any]:
    return {"user": (await ctx.http.get("/api/me"))["user"]}


def make_apps(base_url: str) -> tuple[App, App]:
    """The "loopback" (key, or OAuth sign-in) and "machine" (client credentials) apps of
    the provider at ``base_url`` (an ``OAuthTestServer.base_url``)."""
    authorize_url, token_url = f"{base_url}/authorize", f"{base_url}/token"
    action = Action(
        key="whoami",
        name="Who am I",
        description="The token's owner.",
        output=WhoOutput,
        sample={"user": "x"},
        perform=whoami,
    )
    common: dict[str, Any] = {
        "category": "Testing",
        "base_url": base_url,
        "allowed_hosts": ("127.0.0.1",),
        "actions": (action,),
    }
    loopback = App(
        key="loopback",
        name="Loopback",
        description="Key or OAuth (tests).",
        auth=ApiKeyAuth(test=me),
        other_auth=(
            OAuth2Auth(authorize_url=authorize_url, token_url=token_url, scopes=("read",), test=me),
        ),
        **common,
    )
    machine = App(
        key="machine",
        name="Machine",
        description="Client credentials (tests).",
        auth=OAuth2Auth(
            authorize_url=authorize_url,
            token_url=token_url,
            scopes=("read",),
            grant="client_credentials",
            test=me,
        ),
        **common,
    )
    return loopback, machine


async def consent(agent: httpx.AsyncClient, url: str) -> str:
    """Open the provider's authorize URL; return the path+query it redirects back to."""
    response = await agent.get(url)
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(CALLBACK + "?")
    return location.removeprefix(PUBLIC)


# -- fixtures (import them explicitly) ----------------------------------------------------------


@pytest.fixture(name="server")
def server_fixture() -> Iterator[OAuthTestServer]:
    """The provider, with the operator's client registered for ``CALLBACK``."""
    with OAuthTestServer() as srv:
        srv.register_client(redirect_uri=CALLBACK)
        yield srv


@pytest.fixture(name="registry")
def registry_fixture(server: OAuthTestServer) -> Registry:
    return Registry([*APPS, *make_apps(server.base_url)])


@pytest.fixture(name="settings")
def settings_fixture(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(public_url=PUBLIC, oauth_clients={"loopback": CLIENTS, "machine": CLIENTS})


@pytest.fixture(name="agent")
async def agent_fixture() -> AsyncIterator[httpx.AsyncClient]:
    """The user's browser on the provider's side (real HTTP, redirects by hand)."""
    async with httpx.AsyncClient() as c:
        yield c
