"""OAuth 2.0 connect through the server, end to end, against a real authorization server.

The provider is Authlib's RFC 6749/7636 server on loopback (tests/connectors/oauth_server.py,
which consents as "alice" on its own); the "loopback" and "machine" test apps, the
operator's client and the provider's consent are shared with the other OAuth tests
(tests/oauth_helpers.py). Nothing of ours is mocked.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from cells import document as documents
from connectors.sdk import AuthError
from engine.oauth_connect import (
    check_credentials,
    connect_client_credentials,
    finish_authorization,
    pending_authorizations,
    start_authorization,
)
from engine.service import Cellwright
from engine.settings import Settings
from tests.connectors.oauth_server import OAuthTestServer
from tests.oauth_helpers import (  # noqa: F401
    CALLBACK,
    agent_fixture,
    consent,
    registry_fixture,
    server_fixture,
    settings_fixture,
)


async def start(client: httpx.AsyncClient, app: str = "loopback", **params: Any) -> str:
    response = await client.get(
        f"/api/v1/oauth/{app}/authorize", params={"redirect": "false", **params}
    )
    assert response.status_code == 200, response.text
    url: str = response.json()["authorization_url"]
    return url


def stored(data_dir: Path) -> bytes:
    return b"".join(f.read_bytes() for f in data_dir.rglob("*") if f.is_file())


# -- connecting ----------------------------------------------------------------------------


async def test_the_state_cookie_is_secure_when_the_public_url_is_https(
    svc: Cellwright, user: Any, client: httpx.AsyncClient, server: OAuthTestServer
) -> None:
    plain = await client.get("/api/v1/oauth/loopback/authorize", params={"name": "Team"})
    assert "cw_oauth_" in plain.headers["set-cookie"]
    assert "secure" not in plain.headers["set-cookie"].lower()
    svc.settings.public_url = "https://flows.example.com"  # TLS at a proxy in front
    secure = await client.get("/api/v1/oauth/loopback/authorize", params={"name": "Team"})
    assert secure.status_code == 302
    assert "cw_oauth_" in secure.headers["set-cookie"]
    assert "; secure" in secure.headers["set-cookie"].lower()


async def test_connect_with_a_redirect_end_to_end(
    svc: Cellwright,
    user: Any,
    client: httpx.AsyncClient,
    agent: httpx.AsyncClient,
    server: OAuthTestServer,
    settings: Settings,
) -> None:
    response = await client.get("/api/v1/oauth/loopback/authorize", params={"name": "Team"})
    assert response.status_code == 302
    url = response.headers["location"]
    query = parse_qs(urlsplit(url).query)
    assert url.startswith(server.authorize_url)
    assert (
        query["redirect_uri"] == [CALLBACK]
        and query["code_challenge_method"] == ["S256"]
        and query["client_id"] == ["cellwright"]
    )
    assert (
        "cw_oauth_" in response.headers["set-cookie"]
        and "HttpOnly" in response.headers["set-cookie"]
    )

    back = await consent(agent, url)
    done = await client.get(back)  # the same browser: it carries the binding cookie
    assert done.status_code == 303, done.text
    [connection] = svc.store.list_connections(user.id)
    assert done.headers["location"] == f"/?page=connections&id={connection.id}"
    assert connection.app_id == "loopback" and connection.name == "Team"
    assert connection.status == "active" and connection.status_message is None
    assert connection.metadata == {"auth_type": "oauth2", "client_id": "cellwright"}

    tokens = svc.store.connection_credentials(connection.id)
    assert tokens["access_token"] and tokens["refresh_token"] and tokens["expires_at"] > time.time()
    assert (
        server.grant_counts == {"authorization_code": 1} and server.api_calls == 1
    )  # the test call
    listed = await client.get("/api/v1/connections")
    for secret in (tokens["access_token"], tokens["refresh_token"]):
        assert secret not in listed.text
        assert secret.encode() not in stored(settings.data_dir), "tokens are stored encrypted"

    again = await client.get(back)  # a replayed callback
    assert again.status_code == 400 and "already used" in again.text
    assert len(svc.store.list_connections(user.id)) == 1 and server.grant_counts == {
        "authorization_code": 1
    }


async def test_api_clients_get_the_url_and_a_json_answer(
    svc: Cellwright,
    user: Any,
    client: httpx.AsyncClient,
    anon: httpx.AsyncClient,
    agent: httpx.AsyncClient,
) -> None:
    back = await consent(agent, await start(client))
    done = await anon.get(
        back, headers={"Accept": "application/json"}
    )  # no API key, no cookie: the state is the proof
    assert done.status_code == 200, done.text
    body = done.json()
    assert (
        body["status"] == "active"
        and body["name"] == "Loopback: alice"
        and body["metadata"]["auth_type"] == "oauth2"
    )
    assert "credentials" not in body and "access_token" not in done.text
    assert [c.id for c in svc.store.list_connections(user.id)] == [body["id"]]


async def test_a_wrong_state_is_refused_and_stores_nothing(
    svc: Cellwright,
    user: Any,
    client: httpx.AsyncClient,
    anon: httpx.AsyncClient,
    agent: httpx.AsyncClient,
    server: OAuthTestServer,
) -> None:
    back = await consent(agent, await start(client))
    params = parse_qs(urlsplit(back).query)
    forged = await anon.get(
        "/oauth/callback",
        params={"code": params["code"][0], "state": "forged-" + params["state"][0]},
    )
    assert forged.status_code == 400 and "text/html" in forged.headers["content-type"]
    assert "unknown, was already used, or has expired" in forged.text
    missing = await anon.get(
        "/oauth/callback",
        params={"code": params["code"][0]},
        headers={"Accept": "application/json"},
    )
    assert missing.status_code == 400 and missing.json()["error"] == "auth_invalid"
    assert svc.store.list_connections(user.id) == [] and server.grant_counts == {}
    # a forged attempt does not burn the real one
    assert (await anon.get(back, headers={"Accept": "application/json"})).status_code == 200


async def test_an_expired_state_is_refused(
    svc: Cellwright,
    user: Any,
    client: httpx.AsyncClient,
    anon: httpx.AsyncClient,
    agent: httpx.AsyncClient,
) -> None:
    pending_authorizations(svc).ttl = -1.0
    back = await consent(agent, await start(client))
    late = await anon.get(back, headers={"Accept": "application/json"})
    assert late.status_code == 400 and "expired" in late.json()["message"]
    assert svc.store.list_connections(user.id) == []


async def test_the_callback_needs_the_browser_that_started(
    svc: Cellwright,
    user: Any,
    client: httpx.AsyncClient,
    anon: httpx.AsyncClient,
    agent: httpx.AsyncClient,
) -> None:
    started = await client.get("/api/v1/oauth/loopback/authorize")
    back = await consent(agent, started.headers["location"])
    elsewhere = await anon.get(back)
    assert elsewhere.status_code == 400 and "another browser" in elsewhere.text
    assert svc.store.list_connections(user.id) == []


async def test_a_declined_consent_stores_nothing(
    svc: Cellwright,
    user: Any,
    client: httpx.AsyncClient,
    anon: httpx.AsyncClient,
    agent: httpx.AsyncClient,
    server: OAuthTestServer,
) -> None:
    server.deny_next = True
    back = await consent(agent, await start(client))
    assert "error=access_denied" in back
    refused = await anon.get(back, headers={"Accept": "application/json"})
    assert refused.status_code == 400 and refused.json()["message"].startswith(
        "Access to your Loopback account was not granted, so no connection was made."
    )
    assert svc.store.list_connections(user.id) == [] and server.grant_counts == {}


async def test_another_signed_in_user_cannot_finish_it(
    svc: Cellwright, user: Any, agent: httpx.AsyncClient
) -> None:
    url = start_authorization(svc, user.id, "loopback")
    params = {k: v[0] for k, v in parse_qs(urlsplit(await consent(agent, url)).query).items()}
    with pytest.raises(AuthError, match="another Cellwright user"):
        await finish_authorization(svc, params, session_user="someone-else")
    assert svc.store.list_connections(user.id) == []


async def test_starting_needs_a_key_an_oauth_app_and_a_configured_client(
    client: httpx.AsyncClient, anon: httpx.AsyncClient
) -> None:
    assert (await anon.get("/api/v1/oauth/loopback/authorize")).status_code == 401
    slack = await client.get("/api/v1/oauth/slack/authorize")
    assert slack.status_code == 422
    assert "CELLWRIGHT_OAUTH_CLIENTS__slack__CLIENT_ID" in slack.json()["message"]
    manual = await client.get("/api/v1/oauth/manual/authorize")
    assert (
        manual.status_code == 422 and "does not connect with OAuth 2.0" in manual.json()["message"]
    )
    machine = await client.get("/api/v1/oauth/machine/authorize")
    assert machine.status_code == 422 and "client credentials" in machine.json()["message"]
    assert (await client.get("/api/v1/oauth/nope/authorize")).status_code == 422


# -- using the connection: refresh through the engine ---------------------------------------


async def connect(
    svc: Cellwright, user: Any, agent: httpx.AsyncClient, name: str | None = None
) -> Any:
    url = start_authorization(svc, user.id, "loopback", name)
    params = {k: v[0] for k, v in parse_qs(urlsplit(await consent(agent, url)).query).items()}
    return await finish_authorization(svc, params)


def whoami_scenario(svc: Cellwright, user: Any, connection_id: str) -> Any:
    doc = documents.loads(
        "name: OAuth\ncells:\n  - {id: s, kind: trigger, app: manual, operation: run_manually}\n"
        "  - {id: who, kind: action, app: loopback, "
        f"operation: whoami, connection: {connection_id}}}\n"
    )
    return svc.import_scenario(user.id, doc)


async def test_an_expired_token_is_refreshed_by_the_engine_and_saved(
    svc: Cellwright, user: Any, agent: httpx.AsyncClient, server: OAuthTestServer
) -> None:
    connection = await connect(svc, user, agent)
    first = svc.store.connection_credentials(connection.id)
    svc.store.update_connection(
        user.id, connection.id, credentials={**first, "expires_at": time.time() - 10}
    )
    scenario = whoami_scenario(svc, user, connection.id)

    run = await svc.run_now(user.id, scenario.id, {})
    assert run["status"] == "completed", run
    assert run["cells"][-1]["output"] == {"user": "alice"}
    assert server.grant_counts["refresh_token"] == 1
    second = svc.store.connection_credentials(connection.id)
    assert (
        second["access_token"] != first["access_token"]
        and second["refresh_token"] != first["refresh_token"]
    )  # rotated
    assert second["expires_at"] > time.time() + 3000

    server.revoke_access_token(second["access_token"])  # a 401: refresh once more, then retry
    again = await svc.run_now(user.id, scenario.id, {})
    assert again["status"] == "completed" and server.grant_counts["refresh_token"] == 2
    assert (
        svc.store.connection_credentials(connection.id)["refresh_token"] != second["refresh_token"]
    )
    assert svc.store.get_connection(user.id, connection.id).status == "active"


async def test_a_dead_refresh_token_marks_the_connection_for_reconnecting(
    svc: Cellwright, user: Any, agent: httpx.AsyncClient, server: OAuthTestServer
) -> None:
    connection = await connect(svc, user, agent, name="Mine")
    tokens = svc.store.connection_credentials(connection.id)
    server.revoke_refresh_token(tokens["refresh_token"])
    svc.store.update_connection(
        user.id, connection.id, credentials={**tokens, "expires_at": time.time() - 10}
    )
    run = await svc.run_now(user.id, whoami_scenario(svc, user, connection.id).id, {})
    assert run["status"] == "failed" and run["error"]["code"] == "auth_expired"
    marked = svc.store.get_connection(user.id, connection.id)
    assert marked.status == "error" and "Reconnect" in marked.status_message


# -- client credentials ----------------------------------------------------------------------


async def test_client_credentials_connect_and_refetch(
    svc: Cellwright, user: Any, server: OAuthTestServer, settings: Settings
) -> None:
    connection = await connect_client_credentials(svc, user.id, "machine")
    assert (
        connection.status == "active" and connection.name == "Machine connection"
    )  # no user: the label is None
    assert (
        connection.metadata["auth_type"] == "oauth2"
        and connection.metadata["client_id"] == "cellwright"
    )
    tokens = svc.store.connection_credentials(connection.id)
    assert tokens["access_token"] and "refresh_token" not in tokens
    assert tokens["access_token"].encode() not in stored(settings.data_dir)
    svc.store.update_connection(
        user.id, connection.id, credentials={**tokens, "expires_at": time.time() - 10}
    )
    doc = documents.loads(
        "name: CC\ncells:\n  - {id: s, kind: trigger, app: manual, operation: run_manually}\n"
        "  - {id: who, kind: action, app: machine, "
        f"operation: whoami, connection: {connection.id}}}\n"
    )
    result = await svc.run_cell(user.id, doc, "who", {})
    assert result.status == "completed", result
    assert server.grant_counts == {"client_credentials": 2}
    assert svc.store.connection_credentials(connection.id)["access_token"] != tokens["access_token"]


# -- pieces ----------------------------------------------------------------------------------


def test_oauth_form_fields_are_checked_and_tokens_pass_beside_them() -> None:
    from connectors.slack import app as slack
    from connectors.slack.auth import SANDBOX_CREDENTIALS

    assert check_credentials(slack, slack.auth, SANDBOX_CREDENTIALS) == SANDBOX_CREDENTIALS
    with pytest.raises(Exception, match="bogus"):
        check_credentials(slack, slack.auth, {"bogus": "x"})


async def test_start_authorization_checks_the_form_fields(svc: Cellwright, user: Any) -> None:
    with pytest.raises(Exception, match="api_key"):
        start_authorization(svc, user.id, "loopback", fields={"api_key": "not an OAuth field"})
    assert len(pending_authorizations(svc)) == 0


# -- through POST /api/v1/connections and updates (the engine/service.py patch) --------------


async def test_post_connections_fetches_a_client_credentials_token(
    client: httpx.AsyncClient, server: OAuthTestServer
) -> None:
    response = await client.post("/api/v1/connections", json={"app": "machine", "name": "Robot"})
    assert response.status_code == 201, response.text
    body = response.json()
    assert (
        body["status"] == "active"
        and body["name"] == "Robot"
        and body["metadata"]["auth_type"] == "oauth2"
    )
    assert server.grant_counts == {"client_credentials": 1} and "access_token" not in response.text


async def test_post_connections_sends_sign_in_apps_to_the_authorize_route(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/api/v1/connections", json={"app": "loopback", "auth_type": "oauth2"}
    )
    assert (
        response.status_code == 422
        and "/api/v1/oauth/loopback/authorize" in response.json()["message"]
    )
    unknown = await client.post(
        "/api/v1/connections", json={"app": "loopback", "auth_type": "basic"}
    )
    assert unknown.status_code == 422 and "It has: api_key, oauth2" in unknown.json()["message"]


async def test_updating_an_oauth_connection_keeps_its_tokens(svc: Cellwright, user: Any) -> None:
    connection = await svc.create_connection(
        user.id, "slack", credentials={}, sandbox=True
    )  # tokens beside the form
    assert connection.status == "active", connection.status_message
    tokens = svc.store.connection_credentials(connection.id)
    updated = await svc.update_connection(
        user.id, connection.id, credentials={"signing_secret": "a-new-signing-secret"}
    )
    assert updated.status == "active"
    assert svc.store.connection_credentials(connection.id) == {
        **tokens,
        "signing_secret": "a-new-signing-secret",
    }
