"""OAuth 2.0 for apps: connecting (authorization code + PKCE + state, client credentials)
and using a connection (``OAuth2Flow``, an ``httpx.Auth`` that refreshes tokens).

Who holds what
--------------
- The **app** declares its endpoints and habits in ``OAuth2Auth`` (``connectors.sdk.auth``):
  ``authorize_url``, ``token_url``, ``scopes``, ``pkce``, ``client_auth_method``,
  ``refresh_margin_seconds``, ``parse_token`` (a hook for vendors whose token endpoint
  answers in their own shape, e.g. Slack's ``{"ok": false, "error": ...}``).
- The **operator** owns the OAuth client: an ``OAuthClient`` (``client_id``,
  ``client_secret``, ``redirect_uri``). It is configuration, not connection data: the
  engine builds it with ``OAuthClient.from_config(app.key, settings.oauth_clients,
  redirect_uri=...)`` (``CELLWRIGHT_OAUTH_CLIENTS__<app_key>__CLIENT_ID`` /
  ``__CLIENT_SECRET``) and passes it as ``client=`` to
  ``OAuth2Auth.httpx_auth(credentials, save_tokens, client=client)``. Without
  ``client=``, the flow falls back to ``credentials["client_id"]`` /
  ``credentials["client_secret"]`` (a user who brings their own OAuth app).
- The **connection** holds the token set: ``access_token``, ``refresh_token``,
  ``expires_at`` (epoch seconds), ``token_type``, ``scope`` and whatever else the
  vendor returned (team ids, ...).

Connecting (what the workspace's "Connect" button does)::

    state, verifier = new_state(), new_code_verifier()      # keep both in the session
    url = authorization_url(app.auth, client, state, verifier)  # redirect the user there
    ...
    code = check_callback(request.query, expected_state=state)  # on the redirect back
    tokens = await exchange_code(app.auth, client, code, verifier)  # -> store as credentials

Using a connection: ``OAuth2Flow`` puts ``Authorization: Bearer <access_token>`` on
every request; refreshes ahead of expiry (``expires_at - refresh_margin_seconds``) and
once more when the vendor answers 401, then retries the request once; persists a new
token set through ``await save_tokens(new_credentials)`` *before* using it (refresh
tokens may rotate: the old one is dead once the new one is issued); lets one refresh run
at a time per token (parallel requests, and other flows of the same connection in this
process, wait and reuse its result); turns ``invalid_grant`` or a 401 right after a
refresh into ``AuthExpiredError`` ("reconnect"), which makes the engine mark the
connection ``error``.

Why the token POST is ours and not ``authlib.integrations.httpx_client``: the refresh
must travel through the connection's own client (its network guard, its sandbox
transport in tests) and inside httpx's auth flow, so that "401 → refresh → retry" is
one request cycle. Authlib's ``AsyncOAuth2Client`` is a separate client with its own
transport and a lock that only covers itself (and in 1.9 its httpx support is a
deprecated fallback to httpx2). So we use Authlib for the protocol pieces —
``prepare_grant_uri``, ``prepare_token_request``, ``ClientAuth`` (client_secret_basic /
client_secret_post), ``create_s256_code_challenge``, ``generate_token``,
``OAuth2Token`` — and send the requests with httpx ourselves.

Limitation: the rotation lock is per process. Several worker processes refreshing the
same connection at once can still race; the loser gets ``invalid_grant``. The engine
should reload the connection's credentials and retry once before marking it ``error``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
import weakref
from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, NoReturn

import httpx
from authlib.common.security import generate_token
from authlib.oauth2.auth import ClientAuth
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri, prepare_token_request
from authlib.oauth2.rfc6749.wrappers import OAuth2Token
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from connectors.sdk.auth import OAuth2Auth, TokenSaver, secret_value
from connectors.sdk.errors import (
    AuthError,
    AuthExpiredError,
    ConfigurationError,
    RateLimitedError,
    UpstreamError,
)
from connectors.sdk.http import parse_retry_after

Purpose = Literal["exchange", "refresh", "client_credentials"]

# A rotated refresh token is remembered this long, so another flow of the same
# connection that still holds the old one adopts the new set instead of refreshing.
ROTATION_MEMORY_SECONDS = 600.0


@dataclass(frozen=True)
class OAuthClient:
    """The operator's OAuth app for one vendor (configuration, never per connection)."""

    client_id: str
    client_secret: str | None = field(default=None, repr=False)
    redirect_uri: str | None = None

    @classmethod
    def from_config(
        cls,
        app_key: str,
        clients: Mapping[str, Mapping[str, Any]],
        *,
        redirect_uri: str | None = None,
    ) -> OAuthClient:
        """The client configured for ``app_key`` in ``Settings.oauth_clients``."""
        entry = clients.get(app_key)
        if not entry or not entry.get("client_id"):
            raise ConfigurationError(
                f"No OAuth client is configured for '{app_key}'. Register an app with the vendor "
                f"and set CELLWRIGHT_OAUTH_CLIENTS__{app_key}__CLIENT_ID and __CLIENT_SECRET."
            )
        secret = entry.get("client_secret")
        return cls(
            client_id=str(entry["client_id"]),
            client_secret=_plain(secret) or None,
            redirect_uri=redirect_uri or entry.get("redirect_uri"),
        )

    @classmethod
    def from_credentials(cls, credentials: Mapping[str, Any]) -> OAuthClient | None:
        """A client the user brought along in the connection's own fields, if any."""
        client_id = _plain(credentials.get("client_id"))
        if not client_id:
            return None
        return cls(
            client_id=client_id, client_secret=_plain(credentials.get("client_secret")) or None
        )


# -- connecting ----------------------------------------------------------------------


def new_state() -> str:
    """A fresh, unguessable ``state`` value (CSRF protection of the callback)."""
    return str(generate_token(32))


def new_code_verifier() -> str:
    """A fresh PKCE code verifier (RFC 7636: 43–128 unreserved characters)."""
    return str(generate_token(64))


def authorization_url(
    auth: OAuth2Auth,
    client: OAuthClient,
    state: str,
    code_verifier: str | None = None,
    scopes: tuple[str, ...] | list[str] | None = None,
) -> str:
    """Where to send the user to grant access (authorization code grant).

    With ``auth.pkce`` the URL carries ``code_challenge`` (S256 of ``code_verifier``);
    keep ``state`` and ``code_verifier`` server-side until the callback.
    """
    if not client.redirect_uri:
        raise ConfigurationError("The OAuth client needs a redirect_uri to start an authorization.")
    extra: dict[str, Any] = dict(auth.extra_authorize_params)
    if auth.pkce:
        if not code_verifier:
            raise ConfigurationError(
                "This app uses PKCE: pass the code_verifier from new_code_verifier()."
            )
        extra["code_challenge"] = create_s256_code_challenge(code_verifier)
        extra["code_challenge_method"] = "S256"
    chosen = auth.scopes if scopes is None else tuple(scopes)
    url: str = prepare_grant_uri(
        auth.authorize_url,
        client_id=client.client_id,
        response_type="code",
        redirect_uri=client.redirect_uri,
        scope=auth.scope_separator.join(chosen) if chosen else None,
        state=state,
        **extra,
    )
    return url


def check_callback(
    params: Mapping[str, str], expected_state: str, *, provider: str | None = None
) -> str:
    """The ``code`` from the redirect back, after checking ``state`` and errors.

    Raises ``AuthError`` when the user declined, when the vendor reports an error, or
    when ``state`` does not match the one this server issued (a forged or replayed
    callback: start connecting again). ``provider``: the app's name, for the messages
    a user reads.
    """
    if params.get("error"):
        where = provider or "the provider"
        if (
            params["error"] == "access_denied"
        ):  # the user chose "Deny" (or the provider refused for them)
            raise AuthError(
                f"Access to your {where} account was not granted, so no connection was made. "
                f"To connect, start again and allow access on {where}'s page.",
                error=params["error"],
            )
        description = (params.get("error_description") or params["error"]).strip().rstrip(".")
        raise AuthError(
            f"The authorization was not granted by {where}: {description}. Start connecting again.",
            error=params["error"],
        )
    state = params.get("state") or ""
    if not expected_state or not hmac.compare_digest(state.encode(), expected_state.encode()):
        raise AuthError(
            "The authorization callback's state does not match the one we issued: it may be forged "
            "or stale. Start connecting again."
        )
    code = params.get("code")
    if not code:
        raise AuthError("The authorization callback has no code.")
    return code


async def exchange_code(
    auth: OAuth2Auth,
    client: OAuthClient,
    code: str,
    code_verifier: str | None = None,
    redirect_uri: str | None = None,
    *,
    http: httpx.AsyncClient | None = None,
) -> dict[str, Any]:
    """Trade an authorization code for a token set (with ``expires_at`` computed).

    ``http``: the client to send with (the engine passes one with its network guard);
    a plain ``httpx.AsyncClient`` by default.
    """
    params: dict[str, Any] = {
        "code": code,
        "redirect_uri": redirect_uri or client.redirect_uri,
        **auth.exchange_params,
    }
    if code_verifier:
        params["code_verifier"] = code_verifier
    request = token_request(auth, client, "authorization_code", params)
    return await _send(auth, request, "exchange", http)


async def fetch_client_credentials_token(
    auth: OAuth2Auth,
    client: OAuthClient,
    scopes: tuple[str, ...] | list[str] | None = None,
    *,
    http: httpx.AsyncClient | None = None,
) -> dict[str, Any]:
    """A token for the client itself (client credentials grant)."""
    request = token_request(auth, client, "client_credentials", {"scope": _scope(auth, scopes)})
    return await _send(auth, request, "client_credentials", http)


async def _send(
    auth: OAuth2Auth, request: httpx.Request, purpose: Purpose, http: httpx.AsyncClient | None
) -> dict[str, Any]:
    if http is not None:
        response = await http.send(request)
    else:
        async with httpx.AsyncClient(timeout=30.0) as own:
            response = await own.send(request)
    return token_set(auth, response, purpose)


# -- the token endpoint ----------------------------------------------------------------


def token_request(
    auth: OAuth2Auth, client: OAuthClient, grant_type: str, params: Mapping[str, Any]
) -> httpx.Request:
    """A token endpoint request, client authentication included (RFC 6749 §2.3, §4)."""
    body = prepare_token_request(grant_type, "", **{k: v for k, v in params.items() if v})
    headers = {"Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded"}
    method = auth.client_auth_method if client.client_secret else "none"
    url, headers, body = ClientAuth(client.client_id, client.client_secret, method).prepare(
        "POST", auth.token_url, headers, body
    )
    return httpx.Request("POST", url, headers=headers, content=body.encode())


def token_set(auth: OAuth2Auth, response: httpx.Response, purpose: Purpose) -> dict[str, Any]:
    """The token set from a token endpoint answer, or the matching error."""
    host = httpx.URL(auth.token_url).host
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    if response.status_code >= 500 or (
        response.status_code >= 400 and not isinstance(body, Mapping)
    ):
        raise UpstreamError(
            f"{host}: the OAuth token endpoint answered HTTP {response.status_code}.",
            status=response.status_code,
        )
    if not isinstance(body, Mapping):
        raise UpstreamError(
            f"{host}: the OAuth token endpoint did not answer with a JSON object.",
            status=response.status_code,
        )
    data = dict(auth.parse_token(body) if auth.parse_token else body)
    if response.status_code == 429:
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        raise RateLimitedError(
            f"{host}: the OAuth token endpoint is rate limiting us.", retry_after=retry_after
        )
    error = data.get("error")
    if error or response.status_code >= 400 or not data.get("access_token"):
        _raise_token_error(
            host, str(error or "no access_token"), data.get("error_description"), purpose
        )
    tokens = dict(OAuth2Token(data))  # adds expires_at from expires_in
    tokens.pop("expires_in", None)
    return tokens


def _raise_token_error(host: str, error: str, description: Any, purpose: Purpose) -> NoReturn:
    detail = f"{error}: {description}" if description else error
    if purpose == "refresh" and error == "invalid_grant":
        raise AuthExpiredError(
            f"{host} no longer accepts this connection's refresh token ({detail}). "
            "Reconnect the connection to continue.",
            error=error,
        )
    if purpose == "exchange":
        raise AuthError(
            f"{host} refused the authorization code ({detail}). Start connecting again.",
            error=error,
        )
    raise AuthError(f"{host} refused the OAuth client's token request ({detail}).", error=error)


# -- using a connection ----------------------------------------------------------------

_LOCKS: weakref.WeakValueDictionary[tuple[int, str], asyncio.Lock] = weakref.WeakValueDictionary()
_ROTATED: dict[str, tuple[float, dict[str, Any]]] = {}


def _lock(key: str) -> asyncio.Lock:
    """One lock per token per event loop, shared by every flow in this process."""
    slot = (id(asyncio.get_running_loop()), key)
    lock = _LOCKS.get(slot)
    if lock is None:
        lock = asyncio.Lock()
        _LOCKS[slot] = lock
    return lock


def _remember_rotation(key: str, credentials: dict[str, Any]) -> None:
    now = time.monotonic()
    for old in [k for k, (deadline, _) in _ROTATED.items() if deadline < now]:
        del _ROTATED[old]
    _ROTATED[key] = (now + ROTATION_MEMORY_SECONDS, credentials)


def _rotated(key: str) -> dict[str, Any] | None:
    entry = _ROTATED.get(key)
    if entry is None or entry[0] < time.monotonic():
        return None
    return entry[1]


class OAuth2Flow(httpx.Auth):
    """Bearer auth for one connection, with refresh, rotation and one retry on 401."""

    requires_request_body = True  # the request may be sent twice (401 → refresh → retry)

    def __init__(
        self,
        auth: OAuth2Auth,
        credentials: Mapping[str, Any],
        save_tokens: TokenSaver | None = None,
        client: OAuthClient | None = None,
    ) -> None:
        self.auth = auth.for_connection(credentials)  # per-account endpoints (a Shopify shop's)
        self.client = client or OAuthClient.from_credentials(credentials)
        self.save_tokens = save_tokens
        self.credentials: dict[str, Any] = dict(credentials)
        self.refreshes = 0
        """How many token requests this flow made (for tests and metrics)."""

    # -- reading the current token set ------------------------------------------------

    @property
    def access_token(self) -> str:
        return _plain(self.credentials.get("access_token"))

    @property
    def refresh_token(self) -> str:
        return _plain(self.credentials.get("refresh_token"))

    def _can_refresh(self) -> bool:
        if self.client is None:
            return False
        return bool(self.refresh_token) or self.auth.grant == "client_credentials"

    def _due(self) -> bool:
        if not self.access_token:
            return True
        expires_at = _number(self.credentials.get("expires_at"))
        return (
            expires_at is not None
            and expires_at - self.auth.refresh_margin_seconds <= time.time()
            and self._can_refresh()
        )

    def _key(self) -> str:
        if self.refresh_token:
            return "rt:" + hashlib.sha256(self.refresh_token.encode()).hexdigest()
        client_id = self.client.client_id if self.client else ""
        return f"cc:{self.auth.token_url}:{client_id}"

    def _host(self) -> str:
        return httpx.URL(self.auth.token_url).host

    # -- the flow -----------------------------------------------------------------------

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        refreshed = False
        must_refresh = self._due()
        while True:
            if must_refresh:
                sent_before = self.access_token
                async with _lock(self._key()):
                    # Someone may have refreshed while we waited: reuse their token.
                    if self.access_token == sent_before and not self._adopt_rotation():
                        token_response = yield self._refresh_request()
                        await token_response.aread()
                        await self._accept(token_set(self.auth, token_response, self._purpose()))
                refreshed = True
            self._authorize(request)
            token_used = self.access_token
            response = yield request
            if response.status_code != 401:
                return
            if refreshed:
                raise AuthExpiredError(
                    f"{self._host()} refused a freshly refreshed access token (HTTP 401). "
                    "Reconnect the connection to continue.",
                    status=401,
                )
            if self.access_token != token_used:  # refreshed by a parallel request meanwhile
                refreshed = True
                must_refresh = False
                continue
            if not self._can_refresh():
                raise AuthExpiredError(
                    f"{self._host()} refused the access token (HTTP 401) and it cannot be "
                    "refreshed. Reconnect the connection to continue.",
                    status=401,
                )
            must_refresh = True

    def _purpose(self) -> Purpose:
        return "refresh" if self.refresh_token else "client_credentials"

    def _refresh_request(self) -> httpx.Request:
        if self.client is None:
            raise AuthExpiredError(
                "This connection has no OAuth client to refresh its token with. "
                "Reconnect the connection."
            )
        self.refreshes += 1
        if self.refresh_token:
            return token_request(
                self.auth, self.client, "refresh_token", {"refresh_token": self.refresh_token}
            )
        if self.auth.grant == "client_credentials":
            return token_request(
                self.auth, self.client, "client_credentials", {"scope": _scope(self.auth, None)}
            )
        raise AuthExpiredError(
            f"The {self._host()} connection has no access token and no refresh token. "
            "Reconnect the connection."
        )

    def _adopt_rotation(self) -> bool:
        if not self.refresh_token:
            return False
        newer = _rotated(self._key())
        if newer is None:
            return False
        self.credentials = dict(newer)
        return True

    async def _accept(self, tokens: Mapping[str, Any]) -> None:
        """Merge, persist, then use (never the other way round: the
        old refresh token may be dead)."""
        old_key = self._key()
        merged = {**self.credentials, **tokens}
        if not tokens.get("refresh_token") and self.refresh_token:
            merged["refresh_token"] = self.refresh_token  # RFC 6749 §6: the old one stays valid
        if tokens.get("expires_at") is None:
            merged.pop("expires_at", None)
        merged.pop("expires_in", None)
        if self.save_tokens is not None:
            await self.save_tokens(merged)
        self.credentials = merged
        if old_key.startswith("rt:"):
            _remember_rotation(old_key, merged)

    def _authorize(self, request: httpx.Request) -> None:
        if self.auth.token_placement == "query":  # noqa: S105
            request.url = request.url.copy_merge_params({"access_token": self.access_token})
        else:
            request.headers[self.auth.token_header] = f"{self.auth.token_prefix}{self.access_token}"


# -- small helpers -----------------------------------------------------------------------


def _plain(value: Any) -> str:
    return secret_value(value)


def _number(value: Any) -> float | None:
    try:
        return float(_plain(value)) if value not in (None, "") else None
    except ValueError:
        return None


def _scope(auth: OAuth2Auth, scopes: tuple[str, ...] | list[str] | None) -> str | None:
    chosen = auth.scopes if scopes is None else tuple(scopes)
    return auth.scope_separator.join(chosen) if chosen else None


__all__ = [
    "OAuth2Flow",
    "OAuthClient",
    "authorization_url",
    "check_callback",
    "exchange_code",
    "fetch_client_credentials_token",
    "new_code_verifier",
    "new_state",
    "token_request",
    "token_set",
]
