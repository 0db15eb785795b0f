"""Several auth kinds per app (``App.other_auth``): lookup, validation, catalog, sandbox clients."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from connectors.monday import app as monday
from connectors.monday.auth import MONDAY_OAUTH, MONDAY_TOKEN_AUTH
from connectors.sdk import ApiKeyAuth, App, BasicAuth, ConfigurationError, NoAuth, OAuth2Auth
from connectors.sdk.sandboxing import sandbox_http


def test_auth_for_finds_the_kind_a_connection_was_made_with() -> None:
    assert monday.auth_kinds == (MONDAY_TOKEN_AUTH, MONDAY_OAUTH)
    assert monday.auth_for(None) is MONDAY_TOKEN_AUTH
    assert monday.auth_for("api_key") is MONDAY_TOKEN_AUTH
    assert monday.auth_for("oauth2") is MONDAY_OAUTH
    with pytest.raises(
        ConfigurationError, match=r"App 'monday' has no 'basic' auth. It has: api_key, oauth2\."
    ):
        monday.auth_for("basic")


def test_an_app_declares_one_kind_per_type() -> None:
    with pytest.raises(ConfigurationError, match="two 'api_key' auth kinds"):
        App(
            key="twice",
            name="Twice",
            description="x",
            category="x",
            auth=ApiKeyAuth(),
            other_auth=(ApiKeyAuth(name="X-Key"),),
        )


def test_the_catalog_lists_every_kind_and_keeps_the_default() -> None:
    described = monday.describe()
    assert described["auth"] == "api_key" and described["auth_types"] == ["api_key", "oauth2"]
    assert (
        described["auth_schema"]
        == described["auth_schemas"]["api_key"]
        == MONDAY_TOKEN_AUTH.describe()
    )
    assert described["auth_schemas"]["oauth2"]["type"] == "oauth2"
    assert monday.describe(full=False)["auth_types"] == ["api_key", "oauth2"]
    single = App(key="one", name="One", description="x", category="x", auth=BasicAuth())
    assert single.describe()["auth_types"] == ["basic"] and list(
        single.describe()["auth_schemas"]
    ) == ["basic"]


def test_a_connection_is_needed_when_any_kind_needs_one() -> None:
    assert not App(key="free", name="Free", description="x", category="x").needs_connection
    optional = App(
        key="opt",
        name="Opt",
        description="x",
        category="x",
        auth=NoAuth(),
        other_auth=(ApiKeyAuth(),),
    )
    assert optional.needs_connection


async def test_sandbox_clients_use_the_chosen_kind() -> None:
    async def echo(request: Request) -> JSONResponse:
        return JSONResponse({"authorization": request.headers.get("authorization")})

    asgi = Starlette(routes=[Route("/echo", echo, methods=["GET"])])
    app = App(
        key="dual",
        name="Dual",
        description="x",
        category="x",
        auth=ApiKeyAuth(prefix=""),
        other_auth=(
            OAuth2Auth(
                authorize_url="https://a.example/authorize", token_url="https://a.example/token"
            ),
        ),
    )
    credentials = {"api_key": "personal-token", "access_token": "oauth-token"}
    for auth_type, expected in ((None, "personal-token"), ("oauth2", "Bearer oauth-token")):
        http = sandbox_http(app, credentials, asgi_app=asgi, auth_type=auth_type)
        try:
            assert (await http.get("/echo")) == {"authorization": expected}
        finally:
            await http.aclose()
