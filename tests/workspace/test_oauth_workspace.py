"""The workspace's "Connect with <App>" (cookie session) against Authlib's real
authorization server on loopback, and the Connections page's state for OAuth apps."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from engine.service import Cellwright
from tests.connectors.oauth_server import OAuthTestServer
from tests.oauth_helpers import (  # noqa: F401
    PUBLIC,
    agent_fixture,
    consent,
    registry_fixture,
    server_fixture,
    settings_fixture,
)
from workspace.oauth import start_path

pytestmark = pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")


@pytest.fixture
def web(svc: Cellwright) -> Any:
    """The server with the workspace's sign-in routes and session gate (no Panel)."""
    from workspace import sessions
    from workspace.server import create_app

    outer = create_app(svc, start=False)
    api = outer
    while not hasattr(api, "add_api_route"):  # the FastAPI app inside the ASGI wrappers
        api = api.app
    svc._workspace_sessions = sessions.add_routes(api, svc)
    return outer


@pytest.fixture
def session(svc: Cellwright, user: Any) -> tuple[str, str]:
    """(cookie value, csrf) of a signed-in browser."""
    from workspace.sessions import set_password

    set_password(svc.store, user.id, "a-long-password-1")
    sessions = svc._workspace_sessions
    cookie = sessions.issue(svc.store.get_user(user.id))
    found = sessions.user(svc.store, cookie)
    assert found is not None
    return cookie, found[1].csrf


@pytest.fixture
async def signed_in(web: Any, session: tuple[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=web), base_url=PUBLIC, cookies={"cw_session": session[0]}
    ) as c:
        yield c


async def test_connect_with_from_the_workspace_end_to_end(
    svc: Cellwright,
    user: Any,
    signed_in: httpx.AsyncClient,
    agent: httpx.AsyncClient,
    session: tuple[str, str],
    server: OAuthTestServer,
) -> None:
    started = await signed_in.get(start_path("loopback", name="Team", csrf=session[1]))
    assert started.status_code == 302, started.text
    url = started.headers["location"]
    assert url.startswith(server.authorize_url) and parse_qs(urlsplit(url).query)[
        "code_challenge_method"
    ] == ["S256"]
    assert "cw_oauth_" in started.headers["set-cookie"]  # bound to this browser

    back = await consent(agent, url)
    landed = await signed_in.get(back)
    assert landed.status_code == 303, landed.text
    [connection] = svc.store.list_connections(user.id)
    assert landed.headers["location"] == f"/?page=connections&id={connection.id}"
    assert (
        connection.name == "Team"
        and connection.status == "active"
        and connection.metadata["auth_type"] == "oauth2"
    )


async def test_the_start_link_needs_the_workspace_session_and_its_token(
    web: Any, signed_in: httpx.AsyncClient, session: tuple[str, str]
) -> None:
    forged = await signed_in.get(start_path("loopback", csrf="not-the-token"))
    assert forged.status_code == 403 and "not opened from your workspace" in forged.text
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=web), base_url=PUBLIC
    ) as anonymous:
        out = await anonymous.get(start_path("loopback", csrf=session[1]))
    assert out.status_code == 303 and out.headers["location"].startswith("/login?next=")


async def test_an_unconfigured_client_is_a_clear_page(
    signed_in: httpx.AsyncClient, session: tuple[str, str]
) -> None:
    slack = await signed_in.get(start_path("slack", csrf=session[1]))
    assert slack.status_code == 422 and "text/html" in slack.headers["content-type"]
    assert (
        "CELLWRIGHT_OAUTH_CLIENTS__slack__CLIENT_ID" in slack.text
        and "Back to your connections" in slack.text
    )
    assert "Traceback" not in slack.text


# -- the Connections page ------------------------------------------------------------------


async def test_connections_page_offers_each_auth_kind(
    svc: Cellwright, user: Any, agent: httpx.AsyncClient
) -> None:
    from engine.oauth_connect import finish_authorization, start_authorization
    from workspace.views.connections import Connections, ConnectionsState

    state = ConnectionsState(svc, user)
    assert state.auth_choices("loopback") == {
        "API key": "api_key",
        "Sign in with Loopback (OAuth)": "oauth2",
    }
    assert state.oauth_setup("loopback") == (True, "")
    ready, message = state.oauth_setup("slack")
    assert (
        not ready
        and "CELLWRIGHT_OAUTH_CLIENTS__slack__CLIENT_ID" in message
        and "CELLWRIGHT_OAUTH_CLIENTS__slack__CLIENT_SECRET" in message
    )

    page = Connections(svc, user, nav=lambda *a, **k: None, app_key="loopback", csrf="tok")
    assert page.kind_select is not None and page.kind_select.value == "api_key"
    page.kind_select.value = "oauth2"
    link = page.oauth_link.object
    assert 'href="/oauth/loopback/start?csrf=tok"' in link and "Connect with Loopback" in link
    page.oauth_name.value = "Sales"
    assert "name=Sales" in page.oauth_link.object

    unconfigured = Connections(svc, user, nav=lambda *a, **k: None, app_key="slack", csrf="tok")
    text = str([getattr(o, "object", "") for o in unconfigured.kind_box.objects])
    assert "CELLWRIGHT_OAUTH_CLIENTS__slack__CLIENT_ID" in text and "/oauth/slack/start" not in text

    # the landing page after the provider sent the user back shows the new connection
    url = start_authorization(svc, user.id, "loopback", "Back")
    params = {k: v[0] for k, v in parse_qs(urlsplit(await consent(agent, url)).query).items()}
    connection = await finish_authorization(svc, params)
    landed = Connections(svc, user, nav=lambda *a, **k: None, focus=connection.id)
    assert landed.banner.kind == "ok" and "Connected: 'Back' works" in landed.banner.message
    assert "connection-new" in str([o.css_classes for o in landed.list.objects])
    assert Connections(svc, user, nav=lambda *a, **k: None, focus="nope").banner.message == ""


async def test_client_credentials_apps_connect_from_the_page(
    svc: Cellwright, user: Any, server: OAuthTestServer
) -> None:
    from workspace.views.connections import ConnectionsState

    state = ConnectionsState(svc, user)
    assert state.auth_choices("machine") == {
        "Connect Machine with the server's OAuth client": "oauth2"
    }
    connection = await state.create("machine", {}, "Robot", auth_type="oauth2")
    assert connection.status == "active" and server.grant_counts == {"client_credentials": 1}


# -- reconnect -------------------------------------------------------------------------------


async def test_reconnect_replaces_the_tokens_of_the_same_connection(
    svc: Cellwright,
    user: Any,
    signed_in: httpx.AsyncClient,
    agent: httpx.AsyncClient,
    session: tuple[str, str],
    server: OAuthTestServer,
) -> None:
    from workspace.views.connections import Connections

    first = await signed_in.get(start_path("loopback", name="Team", csrf=session[1]))
    await signed_in.get(await consent(agent, first.headers["location"]))
    [connection] = svc.store.list_connections(user.id)
    old = svc.store.connection_credentials(connection.id)
    svc.store.update_connection(
        user.id, connection.id, status="error", status_message="token revoked"
    )

    # the Connections page offers "Reconnect" on it, pointing at the same start route
    page = Connections(svc, user, nav=lambda *a, **k: None, csrf=session[1])
    row = str([getattr(o, "object", "") for row in page.list.objects for o in row.objects])
    href = start_path("loopback", csrf=session[1], connection_id=connection.id)
    assert f'href="{href.replace("&", "&amp;")}"' in row and ">Reconnect</a>" in row

    started = await signed_in.get(href)
    assert started.status_code == 302, started.text
    landed = await signed_in.get(await consent(agent, started.headers["location"]))
    assert (
        landed.status_code == 303
        and landed.headers["location"] == f"/?page=connections&id={connection.id}"
    )
    [again] = svc.store.list_connections(user.id)  # no second connection
    assert again.id == connection.id and again.status == "active" and again.name == "Team"
    new = svc.store.connection_credentials(connection.id)
    assert new["access_token"] != old["access_token"]
    assert "connection.reconnect" in [e.action for e in svc.store.audit_entries(user.id)]


async def test_reconnect_is_refused_for_connections_that_are_not_the_users_oauth_ones(
    svc: Cellwright, user: Any, signed_in: httpx.AsyncClient, session: tuple[str, str]
) -> None:
    from engine.oauth_connect import start_authorization
    from workspace.views.connections import ConnectionsState

    typed = await svc.create_connection(
        user.id, "loopback", credentials={"api_key": "k"}, auth_type="api_key"
    )
    missing = await signed_in.get(start_path("loopback", csrf=session[1], connection_id="nope"))
    assert missing.status_code == 404 and "no Loopback connection nope" in missing.text
    wrong_kind = await signed_in.get(
        start_path("loopback", csrf=session[1], connection_id=typed.id)
    )
    assert wrong_kind.status_code == 422 and "Edit" in wrong_kind.text
    assert not ConnectionsState(svc, user).can_reconnect(typed.to_dict())
    other = svc.store.create_user("other@example.com", name="Other")
    with pytest.raises(Exception, match="to reconnect"):  # another user's connection is not found
        start_authorization(svc, other.id, "loopback", connection_id=typed.id)
