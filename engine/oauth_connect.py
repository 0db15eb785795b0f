"""Connecting with OAuth 2.0: start an authorization, finish it, store the token set.

The protocol pieces live in ``connectors.sdk.oauth``; the HTTP routes (redirects,
pages, JSON) in ``workspace/oauth.py``. This module is what every front end shares:

- ``start_authorization(svc, user_id, app_key, name, fields=…)`` → the provider's authorize
  URL. ``fields`` are what the user typed first (``sign_in_fields``: Shopify's shop, which
  names the authorize and token URLs), checked by ``check_sign_in_fields``. ``state``, the
  PKCE verifier and the fields stay in this process (``PendingAuthorizations``), keyed by
  ``state``, for ``PENDING_TTL_SECONDS``, usable once.
- ``finish_authorization(svc, params)`` checks the callback's ``state`` (unknown,
  used or expired → ``AuthError``, nothing stored) and the app's ``verify_callback`` hook
  (Shopify's ``hmac``), exchanges the code at the pending fields' token URL through a
  client with the network guard, and stores the connection (``create_oauth_connection``)
  with those fields beside the tokens.
- ``connect_client_credentials`` for apps whose grant is ``client_credentials``.

Why server-side memory rather than a signed cookie: the verifier never leaves the
server; a state is single-use (a cookie can be replayed until it expires); and API
clients (CLI) get the URL as JSON and open it in a browser that never saw our cookie.
The cost: a pending authorization lives in one process, like the workspace's Bokeh
sessions (several web processes need sticky routing), and a restart forgets it (the
user clicks "Connect" again).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import threading
import time
import weakref
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx
from pydantic import ValidationError

from connectors.sdk import (
    App,
    AuthError,
    AuthKind,
    ConfigurationError,
    InvalidInputError,
    NetworkError,
    OAuth2Auth,
    build_http,
)
from connectors.sdk.errors import CallTimeoutError
from connectors.sdk.netguard import forbidden, is_forbidden_cause, is_timeout_cause
from connectors.sdk.oauth import (
    OAuthClient,
    authorization_url,
    check_callback,
    exchange_code,
    fetch_client_credentials_token,
    new_code_verifier,
    new_state,
)
from storage.statuses import ConnectionStatus

if TYPE_CHECKING:
    from engine.service import Cellwright
    from storage import Connection

PENDING_TTL_SECONDS = 600.0
MAX_PENDING = 10_000
TOKEN_KEYS = frozenset(
    {"access_token", "refresh_token", "expires_at", "token_type", "scope", "id_token"}
)
"""What a provider returns, not what a user types: not part of an OAuth kind's form."""


@dataclass(frozen=True)
class Pending:
    """An authorization sent to the provider and not back yet."""

    state: str = field(repr=False)
    code_verifier: str = field(repr=False)
    user_id: str
    app_key: str
    name: str | None
    expires: float
    fields: Mapping[str, Any] = field(default_factory=dict, repr=False)
    """Form fields typed before leaving (e.g. Slack's signing secret), stored with the tokens."""
    binding: str | None = field(default=None, repr=False)
    """SHA-256 of the browser-binding cookie, when the flow started with a redirect."""
    connection_id: str | None = None
    """Reconnect: the user's existing connection whose tokens the new ones replace."""


class PendingAuthorizations:
    """Pending authorizations of one service, keyed by ``state``; each taken at most once."""

    def __init__(self, ttl: float = PENDING_TTL_SECONDS, max_entries: int = MAX_PENDING) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._items: dict[str, Pending] = {}
        self._lock = threading.Lock()  # Panel callbacks and API routes may run in other threads

    def add(self, pending: Pending) -> None:
        with self._lock:
            now = time.monotonic()
            for state in [s for s, p in self._items.items() if p.expires <= now]:
                del self._items[state]
            while len(self._items) >= self.max_entries:  # oldest first (dicts keep insertion order)
                del self._items[next(iter(self._items))]
            self._items[pending.state] = pending

    def take(self, state: str) -> Pending | None:
        """The pending authorization for ``state`` (removed), or None if unknown or expired."""
        with self._lock:
            pending = self._items.pop(state, None) if state else None
        if pending is None or pending.expires <= time.monotonic():
            return None
        return pending

    def __len__(self) -> int:
        return len(self._items)


_PENDING: weakref.WeakKeyDictionary[Cellwright, PendingAuthorizations] = weakref.WeakKeyDictionary()
_PENDING_LOCK = threading.Lock()


def pending_authorizations(svc: Cellwright) -> PendingAuthorizations:
    """The service's pending authorizations (created on first use)."""
    with _PENDING_LOCK:
        found = _PENDING.get(svc)
        if found is None:
            found = _PENDING[svc] = PendingAuthorizations()
        return found


# -- looking things up -------------------------------------------------------------------


def oauth_kind(app: App) -> OAuth2Auth:
    """The app's OAuth 2.0 auth kind (default or not)."""
    for kind in app.auth_kinds:
        if isinstance(kind, OAuth2Auth):
            return kind
    known = ", ".join(kind.type for kind in app.auth_kinds)
    raise ConfigurationError(f"{app.name} does not connect with OAuth 2.0 (its auth: {known}).")


def oauth_client(svc: Cellwright, app: App) -> OAuthClient:
    """The operator's OAuth client for ``app``; ConfigurationError naming the settings if none."""
    return OAuthClient.from_config(
        app.key, svc.settings.oauth_clients, redirect_uri=svc.contexts.oauth_redirect_uri
    )


def sign_in_fields(kind: AuthKind) -> dict[str, Any]:
    """The JSON Schema of what a user types before leaving for the provider's page: the
    OAuth kind's form without the token keys and without secrets (a secret does not
    belong in a URL; it is added to the connection afterwards, with Edit or PATCH).
    Shopify: ``shop``, which names the shop whose authorize and token URLs are used."""
    schema = kind.fields.model_json_schema()
    properties = {
        k: v
        for k, v in (schema.get("properties") or {}).items()
        if k not in TOKEN_KEYS and not _is_secret(v)
    }
    return {
        **schema,
        "properties": properties,
        "required": [k for k in schema.get("required", []) if k in properties],
    }


def check_sign_in_fields(app: App, kind: OAuth2Auth, fields: Mapping[str, Any]) -> dict[str, Any]:
    """The typed fields of a sign-in, checked before anyone leaves for the provider: the
    kind's form (``InvalidInputError`` naming each missing or unknown field, with what to
    type) and its per-account endpoints (``url_values``: Shopify's shop domain)."""
    typed = _form_only(fields)
    schema = kind.fields.model_json_schema()
    properties = schema.get("properties") or {}
    try:
        kind.fields.model_validate(typed)
    except ValidationError as exc:
        errors = []
        for err in exc.errors(include_url=False, include_input=False):
            name = ".".join(str(p) for p in err["loc"]) or "(root)"
            if err["type"] == "missing":
                about = properties.get(name, {}).get("description")
                message = f"Signing in with {app.name} needs {name}" + (
                    f": {about}" if about else "."
                )
            elif err["type"] == "extra_forbidden":
                takes = ", ".join(properties) or "no fields"
                message = f"Signing in with {app.name} does not take {name} (it takes: {takes})."
            else:
                message = f"{name}: {err['msg']}"
            errors.append({"field": name, "message": message, "type": err["type"]})
        raise InvalidInputError(" ".join(e["message"] for e in errors), errors=errors) from None
    kind.for_connection(
        typed
    )  # the endpoints' own check, e.g. "'x.example' is not a Shopify shop domain"
    return typed


def check_credentials(app: App, kind: AuthKind, credentials: Mapping[str, Any]) -> dict[str, Any]:
    """Validate what a user typed against the kind's form (``InvalidInputError`` naming the field).

    An OAuth 2.0 kind's token set is not part of its form: tokens given along (a sandbox
    connection's demo token, a pasted bot token) pass beside the form's own fields.
    """
    from cells.run import validation_error

    typed = {
        k: v for k, v in credentials.items() if not (kind.type == "oauth2" and k in TOKEN_KEYS)
    }
    try:
        kind.fields.model_validate(typed)
    except ValidationError as exc:
        raise validation_error(
            app.key, exc, what="credentials", subject=f"{app.name} connection"
        ) from None
    return dict(credentials)


def updated_credentials(
    svc: Cellwright, connection: Connection, credentials: Mapping[str, Any]
) -> dict[str, Any]:
    """New credentials for ``connection`` (an update). For OAuth 2.0 the stored token set
    came from the provider: it is kept, and only the typed fields change."""
    app = svc.apps.get(connection.app_id)
    kind = app.auth_for((connection.metadata or {}).get("auth_type"))
    checked = check_credentials(app, kind, credentials)
    if kind.type == "oauth2":
        return {**svc.store.connection_credentials(connection.id), **checked}
    return checked


# -- authorization code ------------------------------------------------------------------


def start_authorization(
    svc: Cellwright,
    user_id: str,
    app_key: str,
    name: str | None = None,
    *,
    fields: Mapping[str, Any] | None = None,
    binding: str | None = None,
    connection_id: str | None = None,
) -> str:
    """The provider's authorize URL to send the user to (authorization code + PKCE).

    ``name``: the connection's name (default: from the app's test call). ``fields``: the
    OAuth kind's own form fields, if it has any (checked now, stored with the tokens).
    ``binding``: a random value the caller also sets as a cookie in the user's browser;
    the callback is then refused without it (see ``workspace.oauth.redirect_to_provider``).
    ``connection_id``: reconnect that OAuth connection of the user — the callback replaces
    its token set (same id) instead of creating a connection; its typed fields are kept
    unless ``fields`` gives new values.
    """
    app = svc.apps.get(app_key)
    kind = oauth_kind(app)
    if kind.grant != "authorization_code":
        raise ConfigurationError(
            f"{app.name} connects with client credentials: create the connection directly, "
            "no sign-in needed."
        )
    client = oauth_client(svc, app)
    if connection_id is not None:
        existing = _reconnectable(svc, user_id, app, connection_id)
        fields = {**_form_only(svc.store.connection_credentials(existing.id)), **(fields or {})}
    typed = check_sign_in_fields(app, kind, fields or {})
    state, verifier = new_state(), new_code_verifier()
    url = authorization_url(kind.for_connection(typed), client, state, verifier)
    pending_authorizations(svc).add(
        Pending(
            state=state,
            code_verifier=verifier,
            user_id=user_id,
            app_key=app.key,
            name=name or None,
            expires=time.monotonic() + pending_authorizations(svc).ttl,
            fields=typed,
            binding=_digest(binding) if binding else None,
            connection_id=connection_id,
        )
    )
    return url


async def finish_authorization(
    svc: Cellwright,
    params: Mapping[str, str],
    *,
    binding: str | None = None,
    session_user: str | None = None,
) -> Connection | None:
    """Handle the provider's redirect back: check, exchange the code, store the connection.

    ``params``: the callback's query. ``binding``: the browser-binding cookie, if any.
    ``session_user``: the signed-in workspace user of the browser, if any (it must be the
    user who started). Raises ``AuthError`` (nothing stored) when the state is unknown,
    used or expired, the browser is not the one that started, the user declined, or the
    provider refuses the code.
    """
    pending = pending_authorizations(svc).take(params.get("state") or "")
    if pending is None:
        raise AuthError(
            "This sign-in is unknown, was already used, or has expired (it is valid for "
            f"{int(PENDING_TTL_SECONDS // 60)} minutes). Start connecting again."
        )
    if pending.binding is not None and not hmac.compare_digest(
        pending.binding, _digest(binding or "")
    ):
        raise AuthError(
            "This sign-in was started in another browser. Start connecting again from this one."
        )
    if session_user is not None and session_user != pending.user_id:
        raise AuthError(
            "This sign-in was started by another Cellwright user. Start connecting again."
        )
    app = svc.apps.get(pending.app_key)
    code = check_callback(params, expected_state=pending.state, provider=app.name)
    kind = oauth_kind(app).for_connection(pending.fields)
    client = oauth_client(svc, app)
    if (
        kind.verify_callback is not None
    ):  # the vendor's own proof that the redirect is theirs (Shopify's hmac)
        kind.verify_callback(params, pending.fields, client)
    verifier = pending.code_verifier if kind.pkce else None
    tokens = await _guarded(
        svc, app, kind, lambda http: exchange_code(kind, client, code, verifier, http=http)
    )
    metadata: Mapping[str, Any] = {}
    if kind.fetch_metadata is not None:
        fetch = kind.fetch_metadata
        metadata = await _guarded(svc, app, kind, lambda http: _as_dict(fetch(tokens, http)))
    if pending.connection_id is not None:
        return await replace_oauth_tokens(
            svc,
            pending.user_id,
            pending.connection_id,
            {**pending.fields, **tokens},
            pending.name,
            metadata=metadata,
        )
    return await create_oauth_connection(
        svc, pending.user_id, app.key, {**pending.fields, **tokens}, pending.name, metadata=metadata
    )


async def create_oauth_connection(
    svc: Cellwright,
    user_id: str,
    app_key: str,
    tokens: Mapping[str, Any],
    name: str | None = None,
    *,
    metadata: Mapping[str, Any] | None = None,
) -> Connection | None:
    """Store a token set as a connection made with the app's OAuth kind, then run the
    app's test call (status ``active`` or ``error`` with its message). Credentials are
    encrypted by the store and never returned by the API. ``metadata``: what the kind's
    ``fetch_metadata`` learned, kept beside ``auth_type``."""
    app = svc.apps.get(app_key)
    kind = oauth_kind(app)
    credentials = {k: v for k, v in tokens.items() if v is not None}
    metadata = {**(metadata or {}), "auth_type": kind.type}
    connection = await asyncio.to_thread(
        lambda: svc.store.create_connection(
            user_id,
            app.key,
            name or f"{app.name} connection",
            credentials,
            metadata=metadata,
            status=ConnectionStatus.ACTIVE,
        )
    )
    await asyncio.to_thread(
        svc.store.audit,
        user_id,
        "connection.create",
        "connection",
        connection.id,
        {"app": app.key, "auth_type": kind.type},
    )
    return await svc.test_connection(user_id, connection.id, rename=name is None)


async def replace_oauth_tokens(
    svc: Cellwright,
    user_id: str,
    connection_id: str,
    tokens: Mapping[str, Any],
    name: str | None = None,
    *,
    metadata: Mapping[str, Any] | None = None,
) -> Connection | None:
    """Reconnect: the connection keeps its id (scenarios using it need no change); its whole
    token set is replaced by the provider's new one (old tokens are dropped, typed fields
    kept unless given), then the app's test call sets its status (``active`` again)."""
    connection = svc.store.get_connection(user_id, connection_id)
    if connection is None:
        raise AuthError(
            "The connection to reconnect no longer exists. Create a new connection instead."
        )
    app = svc.apps.get(connection.app_id)
    kind = oauth_kind(app)
    stored = await asyncio.to_thread(svc.store.connection_credentials, connection.id)
    credentials = {**_form_only(stored), **{k: v for k, v in tokens.items() if v is not None}}
    metadata = {**(connection.metadata or {}), **(metadata or {}), "auth_type": kind.type}

    def save() -> None:
        svc.store.update_connection(
            user_id, connection.id, name=name or None, credentials=credentials, metadata=metadata
        )
        svc.store.audit(
            user_id,
            "connection.reconnect",
            "connection",
            connection.id,
            {"app": app.key, "auth_type": kind.type},
        )

    await asyncio.to_thread(save)
    return await svc.test_connection(user_id, connection.id)


# -- client credentials ------------------------------------------------------------------


async def connect_client_credentials(
    svc: Cellwright,
    user_id: str,
    app_key: str,
    *,
    fields: Mapping[str, Any] | None = None,
    name: str | None = None,
) -> Connection | None:
    """A connection for an app whose OAuth grant is ``client_credentials``: the operator's
    client fetches a token (and fetches a new one when it expires)."""
    app = svc.apps.get(app_key)
    kind = oauth_kind(app)
    if kind.grant != "client_credentials":
        raise ConfigurationError(
            f"{app.name} connects by signing in: start at /api/v1/oauth/{app.key}/authorize."
        )
    client = oauth_client(svc, app)
    typed = _form_only(check_credentials(app, kind, fields or {}))
    kind = kind.for_connection(typed)
    tokens = await _guarded(
        svc, app, kind, lambda http: fetch_client_credentials_token(kind, client, http=http)
    )
    return await create_oauth_connection(svc, user_id, app.key, {**typed, **tokens}, name)


# -- helpers -----------------------------------------------------------------------------


async def _guarded(
    svc: Cellwright,
    app: App,
    kind: OAuth2Auth,
    call: Callable[[httpx.AsyncClient], Awaitable[dict[str, Any]]],
) -> dict[str, Any]:
    """Run a token request through a client with the operator's network guard."""
    http = build_http(app_key=app.key, policy=svc.contexts.policy, follow_redirects=False)
    host = httpx.URL(kind.token_url).host
    try:
        return await call(http.client)
    except httpx.TransportError as exc:
        if is_forbidden_cause(exc):
            raise forbidden(host) from None
        if is_timeout_cause(exc):
            raise CallTimeoutError(
                f"{app.key}: the OAuth token endpoint at {host} timed out."
            ) from None
        raise NetworkError(
            f"{app.key}: could not reach the OAuth token endpoint at {host} ({type(exc).__name__})."
        ) from None
    finally:
        await http.aclose()


async def _as_dict(pending: Awaitable[Mapping[str, Any]]) -> dict[str, Any]:
    return dict(await pending)


def _reconnectable(svc: Cellwright, user_id: str, app: App, connection_id: str) -> Connection:
    """The user's connection ``connection_id`` if it is one of ``app``'s OAuth connections."""
    from engine.service import NotFound  # engine.service imports this module

    connection = svc.store.get_connection(user_id, connection_id)
    if connection is None or connection.app_id != app.key:
        raise NotFound(f"You have no {app.name} connection {connection_id} to reconnect.")
    if (
        app.auth_for((connection.metadata or {}).get("auth_type")).type != "oauth2"
        or connection.is_sandbox
    ):
        raise ConfigurationError(
            f"'{connection.name}' does not sign in with {app.name} "
            "(OAuth): update its credentials with Edit instead."
        )
    return connection


def _form_only(credentials: Mapping[str, Any]) -> dict[str, Any]:
    """The typed fields without token keys: the provider's answer is the only source of tokens."""
    return {k: v for k, v in credentials.items() if k not in TOKEN_KEYS}


def _is_secret(spec: Mapping[str, Any]) -> bool:
    """A ``SecretStr`` field's JSON Schema (also inside ``anyOf`` for an optional one)."""
    options = [spec, *spec.get("anyOf", [])]
    return any(o.get("format") == "password" or o.get("writeOnly") for o in options)


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


__all__ = [
    "PENDING_TTL_SECONDS",
    "Pending",
    "PendingAuthorizations",
    "check_credentials",
    "check_sign_in_fields",
    "connect_client_credentials",
    "create_oauth_connection",
    "finish_authorization",
    "oauth_client",
    "oauth_kind",
    "pending_authorizations",
    "replace_oauth_tokens",
    "sign_in_fields",
    "start_authorization",
    "updated_credentials",
]
