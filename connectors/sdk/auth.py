"""Auth kinds: data plus one test call (STYLE.md item 6).

Each kind declares the form a user fills in (a pydantic model whose secret fields are
``SecretStr``), how credentials go onto a request (an ``httpx.Auth``), and ``test``:
a cheap request that proves the credentials work and returns account details
(``{"label": ...}``) shown on the connection.
"""

from __future__ import annotations

import builtins
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr

if TYPE_CHECKING:
    from connectors.sdk.context import OperationContext
    from connectors.sdk.oauth import OAuthClient

TestCall = Callable[["OperationContext"], Awaitable[Mapping[str, Any]]]
TokenSaver = Callable[[Mapping[str, Any]], Awaitable[None]]


def secret_value(value: Any) -> str:
    """The plain string of a ``SecretStr`` or of a plain value."""
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    return "" if value is None else str(value)


class ApiKeyFields(BaseModel):
    """The default API key form."""

    model_config = ConfigDict(extra="forbid")
    api_key: SecretStr = Field(description="The API key or token from the app's settings.")


class BasicFields(BaseModel):
    """The default basic-auth form."""

    model_config = ConfigDict(extra="forbid")
    username: str = Field(description="User name or e-mail.")
    password: SecretStr = Field(description="Password or app password.")


class NoFields(BaseModel):
    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True, kw_only=True)
class AuthKind:
    """Base of the auth kinds."""

    # ``type`` is the kind's name, so annotations in these classes spell the builtin
    # ``builtins.type`` (in a class body ``type`` means this attribute).
    type: ClassVar[str] = "none"
    fields: builtins.type[BaseModel] = NoFields
    test: TestCall | None = None
    label_template: str | None = None
    """How a connection is named by default, e.g. ``"{team}"`` from the test call's result."""

    def httpx_auth(
        self,
        credentials: Mapping[str, Any],
        save_tokens: TokenSaver | None = None,
        client: OAuthClient | None = None,
    ) -> httpx.Auth | None:
        """The ``httpx.Auth`` that puts these credentials on each request."""
        return None

    def describe(self) -> dict[str, Any]:
        return {"type": self.type, "fields_schema": self.fields.model_json_schema()}


@dataclass(frozen=True, kw_only=True)
class NoAuth(AuthKind):
    type: ClassVar[str] = "none"


class _StaticAuth(httpx.Auth):
    """Adds headers and query parameters to every request."""

    def __init__(self, headers: Mapping[str, str], params: Mapping[str, str]) -> None:
        self._headers = dict(headers)
        self._params = dict(params)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers.update(self._headers)
        if self._params:
            request.url = request.url.copy_merge_params(self._params)
        yield request


@dataclass(frozen=True, kw_only=True)
class ApiKeyAuth(AuthKind):
    """A key sent in a header (``prefix`` + key), a query parameter, or as basic auth."""

    type: ClassVar[str] = "api_key"
    fields: builtins.type[BaseModel] = ApiKeyFields
    key_field: str = "api_key"
    location: Literal["header", "query", "basic_username", "basic_password"] = "header"
    name: str = "Authorization"
    prefix: str = "Bearer "

    def httpx_auth(
        self,
        credentials: Mapping[str, Any],
        save_tokens: TokenSaver | None = None,
        client: OAuthClient | None = None,
    ) -> httpx.Auth:
        key = secret_value(credentials.get(self.key_field))
        if self.location == "header":
            return _StaticAuth({self.name: f"{self.prefix}{key}"}, {})
        if self.location == "query":
            return _StaticAuth({}, {self.name: key})
        if self.location == "basic_username":
            return httpx.BasicAuth(key, "")
        return httpx.BasicAuth(self.name, key)


@dataclass(frozen=True, kw_only=True)
class BasicAuth(AuthKind):
    """HTTP basic auth from a user name and a password field."""

    type: ClassVar[str] = "basic"
    fields: builtins.type[BaseModel] = BasicFields
    username_field: str = "username"
    password_field: str = "password"  # noqa: S105 - a field name, not a password

    def httpx_auth(
        self,
        credentials: Mapping[str, Any],
        save_tokens: TokenSaver | None = None,
        client: OAuthClient | None = None,
    ) -> httpx.Auth:
        return httpx.BasicAuth(
            secret_value(credentials.get(self.username_field)),
            secret_value(credentials.get(self.password_field)),
        )


Apply = Callable[[Mapping[str, Any], httpx.Request], None]


class _CustomAuthFlow(httpx.Auth):
    def __init__(self, credentials: Mapping[str, Any], apply: Apply) -> None:
        self._credentials = credentials
        self._apply = apply

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        self._apply(self._credentials, request)
        yield request


@dataclass(frozen=True, kw_only=True)
class CustomAuth(AuthKind):
    """An app-defined form plus a function that puts the credentials on a request."""

    type: ClassVar[str] = "custom"
    apply: Apply

    def httpx_auth(
        self,
        credentials: Mapping[str, Any],
        save_tokens: TokenSaver | None = None,
        client: OAuthClient | None = None,
    ) -> httpx.Auth:
        return _CustomAuthFlow(credentials, self.apply)


@dataclass(frozen=True, kw_only=True)
class OAuth2Auth(AuthKind):
    """OAuth 2.0: authorization code (with PKCE and state) or client credentials.

    Credentials hold the token set: ``access_token``, ``refresh_token``,
    ``expires_at`` (epoch seconds), ``token_type``, ``scope``. The client id and
    secret are the operator's (``OAuthClient``, configured per app, never per
    connection): see ``connectors.sdk.oauth`` for connecting and refreshing.
    """

    type: ClassVar[str] = "oauth2"
    authorize_url: str
    token_url: str
    scopes: tuple[str, ...] = ()
    scope_separator: str = " "
    grant: Literal["authorization_code", "client_credentials"] = "authorization_code"
    pkce: bool = True
    client_auth_method: Literal["client_secret_post", "client_secret_basic"] = "client_secret_post"
    """How the client authenticates at the token endpoint (RFC 6749 §2.3.1)."""
    token_placement: Literal["header", "query"] = "header"  # noqa: S105 (not a secret)
    """``Authorization: Bearer`` (default) or an ``access_token`` query parameter."""
    extra_authorize_params: Mapping[str, str] = field(default_factory=dict)
    refresh_margin_seconds: int = 60
    """Refresh this long before ``expires_at``."""
    parse_token: Callable[[Mapping[str, Any]], Mapping[str, Any]] | None = None
    """Vendor hook: turn the token endpoint's JSON into the standard shape (RFC 6749
    §5.1/§5.2), e.g. Slack's ``{"ok": false, "error": "invalid_refresh_token"}`` into
    ``{"error": "invalid_grant"}``."""
    token_header: str = "Authorization"  # noqa: S105 (a header name)
    """The request header that carries the access token (``token_placement="header"``):
    Shopify's Admin API reads ``X-Shopify-Access-Token``."""
    token_prefix: str = "Bearer "  # noqa: S105 (not a secret)
    """What goes before the token in ``token_header`` (``""`` for a bare token)."""
    exchange_params: Mapping[str, str] = field(default_factory=dict)
    """Extra form parameters of the authorization-code exchange, e.g. Shopify's
    ``expiring=1`` (an offline token that expires and comes with a refresh token)."""
    url_values: Callable[[Mapping[str, Any]], Mapping[str, str]] | None = None
    """Per-account endpoints: ``authorize_url`` and ``token_url`` may hold ``{name}``
    placeholders (Shopify: ``https://{shop}/admin/oauth/access_token``), filled by
    ``for_connection`` with what this hook returns for the connection's fields. The hook
    also validates them (raise ``InvalidInputError`` naming the field)."""
    fetch_metadata: (
        Callable[[Mapping[str, Any], httpx.AsyncClient], Awaitable[Mapping[str, Any]]] | None
    ) = None
    """Vendor hook, run right after the code exchange with the new token set and a client
    behind the operator's network guard: what to keep in the connection's metadata, e.g.
    Mailchimp's data centre from its metadata endpoint (``App.connection_base_url`` reads
    it). If it fails, the sign-in fails and nothing is stored."""
    verify_callback: Callable[[Mapping[str, str], Mapping[str, Any], OAuthClient], None] | None = (
        None
    )
    """Vendor hook run on the redirect back, after ``state`` was checked and before the code
    is exchanged: ``(callback query, the connection's typed fields, the operator's client)``;
    raise ``AuthError`` to refuse (nothing is stored). Shopify signs the query with the
    client secret (``hmac``) and names the shop it authorized."""

    def for_connection(self, fields: Mapping[str, Any]) -> OAuth2Auth:
        """This kind with its endpoint URLs filled in for one connection's ``fields``
        (the typed form fields, or the stored credentials that include them)."""
        if self.url_values is None:
            return self
        values = dict(self.url_values(fields))
        return replace(
            self,
            authorize_url=self.authorize_url.format_map(values),
            token_url=self.token_url.format_map(values),
            url_values=None,
        )

    def httpx_auth(
        self,
        credentials: Mapping[str, Any],
        save_tokens: TokenSaver | None = None,
        client: OAuthClient | None = None,
    ) -> httpx.Auth:
        """``OAuth2Flow``: bearer token, refresh ahead of expiry and on 401, rotation.

        ``client`` is the operator's OAuth app; without it the flow uses
        ``credentials["client_id"]``/``["client_secret"]`` when present.
        """
        from connectors.sdk.oauth import OAuth2Flow

        return OAuth2Flow(self, credentials, save_tokens, client)
