"""OAuth 2.0 end to end against a real authorization server on loopback (oauth_server.py).

Nothing here mocks our own code: the server is Authlib's RFC 6749/6750/7636 server
behind Werkzeug, spoken to over real HTTP. A couple of vendor quirks that a
conformant server never produces (Slack's ``ok: false``) use ``httpx.MockTransport``
as the fake vendor.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from pydantic import SecretStr

from connectors.sdk import (
    AuthError,
    AuthExpiredError,
    ConfigurationError,
    ForbiddenDestinationError,
    NetworkPolicy,
    OAuth2Auth,
    RateLimitedError,
    UpstreamError,
    build_http,
)
from connectors.sdk import oauth as oauth_module
from connectors.sdk.oauth import (
    OAuth2Flow,
    OAuthClient,
    authorization_url,
    check_callback,
    exchange_code,
    fetch_client_credentials_token,
    new_code_verifier,
    new_state,
)
from tests.connectors.oauth_server import OAuthTestServer

REDIRECT = "http://127.0.0.1/oauth/callback"


@pytest.fixture
def server() -> Iterator[OAuthTestServer]:
    with OAuthTestServer() as srv:
        srv.register_client(redirect_uri=REDIRECT)
        yield srv


@pytest.fixture
def auth(server: OAuthTestServer) -> OAuth2Auth:
    return OAuth2Auth(
        authorize_url=server.authorize_url, token_url=server.token_url, scopes=("read",)
    )


@pytest.fixture
def client() -> OAuthClient:
    return OAuthClient("cellwright", "s3cret-client", REDIRECT)


class Saver:
    """The engine's ``save_tokens``: records what was persisted and what the API had seen then."""

    def __init__(self, server: OAuthTestServer) -> None:
        self.server = server
        self.saved: list[dict[str, Any]] = []
        self.api_calls_at_save: list[int] = []

    async def __call__(self, credentials: Any) -> None:
        self.saved.append(dict(credentials))
        self.api_calls_at_save.append(self.server.api_calls)


async def authorize(
    auth: OAuth2Auth, client: OAuthClient, verifier: str | None = None
) -> tuple[str, dict[str, str]]:
    """Do what the user's browser does: open the authorization URL, follow to the callback."""
    state = new_state()
    url = authorization_url(auth, client, state, verifier or new_code_verifier())
    async with httpx.AsyncClient() as browser:
        response = await browser.get(url)
    assert response.status_code == 302, response.text
    callback = response.headers["location"]
    assert callback.startswith(REDIRECT)
    params = {k: v[0] for k, v in parse_qs(urlsplit(callback).query).items()}
    return state, params


async def connect(auth: OAuth2Auth, client: OAuthClient) -> dict[str, Any]:
    verifier = new_code_verifier()
    state, params = await authorize(auth, client, verifier)
    code = check_callback(params, expected_state=state)
    return await exchange_code(auth, client, code, verifier)


async def me(flow: httpx.Auth, server: OAuthTestServer) -> httpx.Response:
    async with httpx.AsyncClient(auth=flow) as http:
        return await http.get(f"{server.base_url}/api/me")


# -- connecting ------------------------------------------------------------------------


async def test_authorization_code_with_pkce_end_to_end(
    server: OAuthTestServer, auth: OAuth2Auth, client: OAuthClient
) -> None:
    verifier = new_code_verifier()
    state = new_state()
    url = authorization_url(auth, client, state, verifier)
    query = parse_qs(urlsplit(url).query)
    assert query["code_challenge_method"] == ["S256"]
    assert query["state"] == [state] and query["scope"] == ["read"]
    assert "code_verifier" not in query and verifier not in url

    state, params = await authorize(auth, client, verifier)
    tokens = await exchange_code(auth, client, check_callback(params, state), verifier)

    assert tokens["token_type"] == "Bearer"
    assert tokens["refresh_token"] and tokens["access_token"]
    assert abs(tokens["expires_at"] - (time.time() + 3600)) < 5
    assert "expires_in" not in tokens
    response = await me(auth.httpx_auth(tokens, client=client), server)
    assert response.status_code == 200
    assert response.json() == {"user": "alice", "client_id": "cellwright"}
    assert server.grant_counts == {"authorization_code": 1}


@pytest.mark.parametrize("verifier", ["x" * 50, None], ids=["wrong", "missing"])
async def test_the_server_verifies_pkce(
    server: OAuthTestServer, auth: OAuth2Auth, client: OAuthClient, verifier: str | None
) -> None:
    state, params = await authorize(auth, client, new_code_verifier())
    with pytest.raises(AuthError, match="refused the authorization code") as info:
        await exchange_code(auth, client, check_callback(params, state), verifier)
    assert not isinstance(info.value, AuthExpiredError)
    assert server.tokens == []


async def test_the_code_works_once(
    server: OAuthTestServer, auth: OAuth2Auth, client: OAuthClient
) -> None:
    verifier = new_code_verifier()
    state, params = await authorize(auth, client, verifier)
    code = check_callback(params, state)
    await exchange_code(auth, client, code, verifier)
    with pytest.raises(AuthError, match="invalid_grant"):
        await exchange_code(auth, client, code, verifier)


async def test_callback_state_and_errors(
    server: OAuthTestServer, auth: OAuth2Auth, client: OAuthClient
) -> None:
    state, params = await authorize(auth, client)
    with pytest.raises(AuthError, match="state does not match"):
        check_callback(params, expected_state=new_state())
    with pytest.raises(AuthError, match="state does not match"):
        check_callback({"code": params["code"]}, expected_state=state)
    with pytest.raises(AuthError, match="no code"):
        check_callback({"state": state}, expected_state=state)

    server.deny_next = True
    state, params = await authorize(auth, client)
    assert params["error"] == "access_denied" and params["state"] == state
    with pytest.raises(AuthError, match="not granted"):
        check_callback(params, expected_state=state)
    other = {
        "error": "invalid_scope",
        "error_description": "The scope 'admin' is not allowed.",
        "state": state,
    }
    with pytest.raises(
        AuthError,
        match=(
            r"^The authorization was not granted by Acme: "
            r"The scope 'admin' is not allowed\. Start"
        ),
    ) as caught:
        check_callback(other, expected_state=state, provider="Acme")
    assert caught.value.details.get("error") == "invalid_scope"


async def test_wrong_client_secret_is_refused(server: OAuthTestServer, auth: OAuth2Auth) -> None:
    bad = OAuthClient("cellwright", "not-the-secret", REDIRECT)
    with pytest.raises(AuthError, match="invalid_client"):
        await fetch_client_credentials_token(auth, bad)


def test_authorization_url_needs_redirect_uri_and_verifier(
    auth: OAuth2Auth, client: OAuthClient
) -> None:
    with pytest.raises(ConfigurationError, match="redirect_uri"):
        authorization_url(auth, OAuthClient("id"), new_state(), new_code_verifier())
    with pytest.raises(ConfigurationError, match="PKCE"):
        authorization_url(auth, client, new_state())
    slack_like = OAuth2Auth(
        authorize_url="https://vendor.example/oauth/authorize",
        token_url="https://vendor.example/oauth/token",
        scopes=("chat:write", "channels:read"),
        scope_separator=",",
        pkce=False,
        extra_authorize_params={"user_scope": "search:read"},
    )
    query = parse_qs(urlsplit(authorization_url(slack_like, client, "st", scopes=["a", "b"])).query)
    assert query["scope"] == ["a,b"] and query["user_scope"] == ["search:read"]
    assert "code_challenge" not in query


def test_oauth_client_comes_from_configuration() -> None:
    configured = {"slack": {"client_id": "123.456", "client_secret": SecretStr("shh")}}
    client = OAuthClient.from_config(
        "slack", configured, redirect_uri="https://cw.example/oauth/callback"
    )
    assert client == OAuthClient("123.456", "shh", "https://cw.example/oauth/callback")
    assert "shh" not in repr(client)
    with pytest.raises(ConfigurationError, match="CELLWRIGHT_OAUTH_CLIENTS__monday__CLIENT_ID"):
        OAuthClient.from_config("monday", configured)
    assert OAuthClient.from_credentials(
        {"client_id": "own", "client_secret": SecretStr("x")}
    ) == OAuthClient("own", "x")
    assert OAuthClient.from_credentials({"access_token": "t"}) is None


# -- using a connection --------------------------------------------------------------------


async def test_refresh_ahead_of_expiry_persists_before_use(
    server: OAuthTestServer, auth: OAuth2Auth, client: OAuthClient
) -> None:
    server.access_expires_in = 30  # inside the 60 s margin: due at once
    tokens = await connect(auth, client)
    server.access_expires_in = 3600
    saver = Saver(server)
    flow = auth.httpx_auth(tokens, saver, client=client)

    response = await me(flow, server)

    assert response.status_code == 200
    assert server.grant_counts["refresh_token"] == 1
    assert len(saver.saved) == 1 and saver.api_calls_at_save == [0]  # saved before the API call
    saved = saver.saved[0]
    assert saved["access_token"] != tokens["access_token"]
    assert saved["refresh_token"] != tokens["refresh_token"]  # rotated
    assert abs(saved["expires_at"] - (time.time() + 3600)) < 5
    assert server.token(saved["access_token"]).user == "alice"


async def test_401_refreshes_once_and_retries(
    server: OAuthTestServer, auth: OAuth2Auth, client: OAuthClient
) -> None:
    tokens = await connect(auth, client)
    server.revoke_access_token(tokens["access_token"])  # the vendor revoked it early
    saver = Saver(server)
    flow = auth.httpx_auth(tokens, saver, client=client)
    assert isinstance(flow, OAuth2Flow)

    response = await me(flow, server)

    assert response.status_code == 200
    assert flow.refreshes == 1 and server.api_calls == 1
    assert flow.access_token == saver.saved[0]["access_token"] != tokens["access_token"]


async def test_rotated_refresh_token_is_the_only_one_left(
    server: OAuthTestServer, auth: OAuth2Auth, client: OAuthClient
) -> None:
    tokens = await connect(auth, client)
    expired = {**tokens, "expires_at": time.time() - 10}
    saver = Saver(server)
    assert (await me(auth.httpx_auth(expired, saver, client=client), server)).status_code == 200
    rotated = saver.saved[-1]

    # Another process, which never saw the rotation, still holds the old refresh token:
    oauth_module._ROTATED.clear()
    with pytest.raises(AuthExpiredError, match="Reconnect the connection"):
        await me(auth.httpx_auth(expired, client=client), server)
    # The persisted set works.
    assert (
        await me(
            auth.httpx_auth({**rotated, "expires_at": time.time() - 10}, client=client), server
        )
    ).status_code == 200


async def test_revoked_refresh_token_means_reconnect(
    server: OAuthTestServer, auth: OAuth2Auth, client: OAuthClient
) -> None:
    tokens = await connect(auth, client)
    server.revoke_refresh_token(tokens["refresh_token"])
    server.revoke_access_token(tokens["access_token"])
    http = build_http(
        app_key="demo",
        auth=auth.httpx_auth(tokens, client=client),
        policy=NetworkPolicy(allow_private=True),
        secrets=[tokens["access_token"], tokens["refresh_token"]],
    )
    try:
        with pytest.raises(AuthExpiredError) as info:
            await http.get(f"{server.base_url}/api/me")
    finally:
        await http.aclose()
    error = info.value
    assert error.code == "auth_expired"
    assert "invalid_grant" in error.message and "Reconnect the connection" in error.message
    assert tokens["refresh_token"] not in error.message


async def test_401_after_a_refresh_means_reconnect(
    server: OAuthTestServer, auth: OAuth2Auth, client: OAuthClient
) -> None:
    tokens = await connect(auth, client)
    server.access_expires_in = -5  # every new access token is dead on arrival
    flow = auth.httpx_auth({**tokens, "expires_at": time.time() - 1}, client=client)
    with pytest.raises(AuthExpiredError, match="freshly refreshed"):
        await me(flow, server)
    assert server.grant_counts["refresh_token"] == 1


async def test_ten_parallel_requests_refresh_once(
    server: OAuthTestServer, auth: OAuth2Auth, client: OAuthClient
) -> None:
    tokens = await connect(auth, client)
    server.token_delay = 0.05
    saver = Saver(server)
    flow = auth.httpx_auth({**tokens, "expires_at": time.time() - 1}, saver, client=client)
    async with httpx.AsyncClient(auth=flow) as http:
        responses = await asyncio.gather(
            *(http.get(f"{server.base_url}/api/me") for _ in range(10))
        )
    assert [r.status_code for r in responses] == [200] * 10
    assert server.grant_counts["refresh_token"] == 1
    assert len(saver.saved) == 1 and server.api_calls == 10


async def test_ten_parallel_401s_refresh_once(
    server: OAuthTestServer, auth: OAuth2Auth, client: OAuthClient
) -> None:
    tokens = await connect(auth, client)
    server.revoke_access_token(tokens["access_token"])
    server.token_delay = 0.05
    flow = auth.httpx_auth(tokens, client=client)
    async with httpx.AsyncClient(auth=flow) as http:
        responses = await asyncio.gather(
            *(http.get(f"{server.base_url}/api/me") for _ in range(10))
        )
    assert [r.status_code for r in responses] == [200] * 10
    assert server.grant_counts["refresh_token"] == 1


async def test_non_rotating_server_keeps_the_refresh_token(client: OAuthClient) -> None:
    with OAuthTestServer(rotate_refresh_tokens=False) as server:
        server.register_client(redirect_uri=REDIRECT)
        auth = OAuth2Auth(
            authorize_url=server.authorize_url,
            token_url=server.token_url,
            client_auth_method="client_secret_basic",
        )
        verifier = new_code_verifier()
        state, params = await authorize(auth, client, verifier)
        async with httpx.AsyncClient() as http:  # the engine passes its guarded client
            tokens = await exchange_code(
                auth, client, check_callback(params, state), verifier, http=http
            )
        saver = Saver(server)
        assert (
            await me(auth.httpx_auth({**tokens, "expires_at": 1}, saver, client=client), server)
        ).status_code == 200
        assert saver.saved[0]["refresh_token"] == tokens["refresh_token"]
        assert saver.saved[0]["access_token"] != tokens["access_token"]


async def test_rotation_memory_is_bounded(
    server: OAuthTestServer, auth: OAuth2Auth, client: OAuthClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(oauth_module, "_ROTATED", {})
    monkeypatch.setattr(oauth_module, "ROTATION_MEMORY_SECONDS", -1.0)  # forget at once
    tokens = await connect(auth, client)
    flow = auth.httpx_auth({**tokens, "expires_at": 1}, client=client)
    await me(flow, server)
    await me(auth.httpx_auth({**flow.credentials, "expires_at": 1}, client=client), server)  # type: ignore[attr-defined]
    assert len(oauth_module._ROTATED) == 1  # the first, expired entry was purged
    with pytest.raises(AuthExpiredError):  # and an expired entry is not adopted
        await me(auth.httpx_auth({**tokens, "expires_at": 1}, client=client), server)


async def test_two_clients_of_one_connection_share_the_rotation(
    server: OAuthTestServer, auth: OAuth2Auth, client: OAuthClient
) -> None:
    """Two cells running at once on the same connection must not burn the rotating token twice."""
    tokens = await connect(auth, client)
    server.token_delay = 0.05
    stale = {**tokens, "expires_at": time.time() - 1}
    saver = Saver(server)
    flows = [auth.httpx_auth(stale, saver, client=client) for _ in range(2)]
    responses = await asyncio.gather(*(me(flow, server) for flow in flows for _ in range(3)))
    assert [r.status_code for r in responses] == [200] * 6
    assert server.grant_counts["refresh_token"] == 1
    assert len(saver.saved) == 1


async def test_refresh_goes_through_the_connection_guard(
    server: OAuthTestServer, auth: OAuth2Auth, client: OAuthClient
) -> None:
    """The token POST uses the connection's own client, so the SSRF guard applies to it."""
    tokens = await connect(auth, client)
    http = build_http(
        app_key="demo", auth=auth.httpx_auth({**tokens, "expires_at": 1}, client=client)
    )
    try:
        with pytest.raises(ForbiddenDestinationError):
            await http.get("https://api.vendor.example/me")
    finally:
        await http.aclose()
    assert server.grant_counts["refresh_token"] == 0


async def test_client_credentials_grant(server: OAuthTestServer, client: OAuthClient) -> None:
    auth = OAuth2Auth(
        authorize_url="",
        token_url=server.token_url,
        grant="client_credentials",
        client_auth_method="client_secret_basic",
    )
    token = await fetch_client_credentials_token(auth, client, ["read"])
    assert token["access_token"] and "refresh_token" not in token and token["scope"] == "read"

    flow = auth.httpx_auth({}, client=client)  # fetches its own token on first use
    assert (await me(flow, server)).status_code == 200
    server.revoke_access_token(flow.access_token)  # type: ignore[attr-defined]
    assert (await me(flow, server)).status_code == 200  # 401 → new token → retry
    assert server.grant_counts["client_credentials"] == 3


async def test_client_from_the_connection_when_none_is_configured(
    server: OAuthTestServer, auth: OAuth2Auth, client: OAuthClient
) -> None:
    tokens = await connect(auth, client)
    server.revoke_access_token(tokens["access_token"])
    own = {**tokens, "client_id": "cellwright", "client_secret": SecretStr("s3cret-client")}
    assert (await me(auth.httpx_auth(own), server)).status_code == 200
    with pytest.raises(AuthExpiredError, match="cannot be refreshed"):
        await me(auth.httpx_auth(tokens), server)


async def test_missing_tokens_mean_reconnect(
    server: OAuthTestServer, auth: OAuth2Auth, client: OAuthClient
) -> None:
    with pytest.raises(AuthExpiredError, match="no access token and no refresh token"):
        await me(auth.httpx_auth({}, client=client), server)
    with pytest.raises(AuthExpiredError, match="no OAuth client"):
        await me(auth.httpx_auth({"refresh_token": "r"}), server)


@pytest.mark.parametrize(
    ("status", "body", "headers", "error"),
    [
        (503, "<html>down</html>", {"Content-Type": "text/html"}, UpstreamError),
        (200, "not json", {"Content-Type": "text/plain"}, UpstreamError),
        (
            429,
            '{"error": "slow_down"}',
            {"Content-Type": "application/json", "Retry-After": "7"},
            RateLimitedError,
        ),
        (400, '{"error": "invalid_scope"}', {"Content-Type": "application/json"}, AuthError),
    ],
)
async def test_token_endpoint_failures(
    server: OAuthTestServer,
    auth: OAuth2Auth,
    client: OAuthClient,
    status: int,
    body: str,
    headers: dict[str, str],
    error: type[Exception],
) -> None:
    tokens = await connect(auth, client)
    server.token_failure = (status, body, headers)
    flow = auth.httpx_auth({**tokens, "expires_at": 1}, client=client)
    with pytest.raises(error) as info:
        await me(flow, server)
    if isinstance(info.value, UpstreamError):
        assert info.value.retryable is (status >= 500)
    if isinstance(info.value, RateLimitedError):
        assert info.value.retry_after == 7
    assert not isinstance(info.value, AuthExpiredError)


async def test_vendor_token_shapes_and_query_placement() -> None:
    """A Slack-like vendor: errors inside HTTP 200, token in the query string."""
    seen: list[httpx.Request] = []

    def vendor(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/oauth/token":
            return httpx.Response(200, json={"ok": False, "error": "invalid_refresh_token"})
        return httpx.Response(200, json={"ok": True})

    def parse_token(body: Any) -> Any:
        if body.get("ok") is False:
            return {
                "error": "invalid_grant"
                if body["error"] == "invalid_refresh_token"
                else body["error"]
            }
        return body

    auth = OAuth2Auth(
        authorize_url="https://vendor.example/oauth/authorize",
        token_url="https://vendor.example/oauth/token",
        token_placement="query",
        parse_token=parse_token,
    )
    creds = {
        "access_token": SecretStr("xoxe-1"),
        "refresh_token": "xoxe-r",
        "expires_at": "not a number",
    }
    async with httpx.AsyncClient(
        transport=httpx.MockTransport(vendor),
        auth=auth.httpx_auth(creds, client=OAuthClient("id", "secret")),
    ) as http:
        assert (await http.get("https://vendor.example/api/auth.test")).json() == {"ok": True}
        assert (
            seen[-1].url.params["access_token"] == "xoxe-1"
            and "authorization" not in seen[-1].headers
        )
    creds["expires_at"] = "1"
    async with httpx.AsyncClient(
        transport=httpx.MockTransport(vendor),
        auth=auth.httpx_auth(creds, client=OAuthClient("id", "secret")),
    ) as http:
        with pytest.raises(AuthExpiredError, match="invalid_grant"):
            await http.get("https://vendor.example/api/auth.test")
    token_post = seen[-1]
    assert parse_qs(token_post.content.decode()) == {
        "grant_type": ["refresh_token"],
        "refresh_token": ["xoxe-r"],
        "client_id": ["id"],
        "client_secret": ["secret"],
    }


async def test_a_401_after_a_parallel_refresh_retries_without_refreshing() -> None:
    """Request A is answered 401 only after request B already refreshed: A just retries."""
    b_done = asyncio.Event()
    token_posts = 0

    async def vendor(request: httpx.Request) -> httpx.Response:
        nonlocal token_posts
        if request.url.path == "/token":
            token_posts += 1
            return httpx.Response(
                200, json={"access_token": "T2", "token_type": "Bearer"}
            )  # no expires_in
        if request.headers["authorization"] == "Bearer T2":
            return httpx.Response(200, json={"who": request.url.params["who"]})
        if request.url.params["who"] == "a":
            await b_done.wait()
        return httpx.Response(401, json={"error": "invalid_token"})

    auth = OAuth2Auth(
        authorize_url="https://v.example/authorize", token_url="https://v.example/token"
    )
    flow = auth.httpx_auth(
        {"access_token": "T1", "refresh_token": "R1", "expires_at": time.time() + 999},
        client=OAuthClient("id", "s"),
    )
    async with httpx.AsyncClient(transport=httpx.MockTransport(vendor), auth=flow) as http:
        a = asyncio.create_task(http.get("https://v.example/api", params={"who": "a"}))
        await asyncio.sleep(0)
        b = await http.get("https://v.example/api", params={"who": "b"})
        b_done.set()
        assert b.json() == {"who": "b"} and (await a).json() == {"who": "a"}
    assert token_posts == 1
    assert "expires_at" not in flow.credentials  # type: ignore[attr-defined]  # the new token's lifetime is unknown
