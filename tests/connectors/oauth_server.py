"""A standards-conformant OAuth 2.0 authorization server for tests, on loopback.

Built from Authlib's framework-agnostic server (``authlib.oauth2.rfc6749``): the
authorization code grant with PKCE (``CodeChallenge(required=True)``), the refresh
token grant (rotating by default) and the client credentials grant, plus a protected
resource ``GET /api/me`` checked by Authlib's RFC 6750 bearer validator. Werkzeug
serves it on ``127.0.0.1:<free port>`` in a thread, so the client code under test
speaks real HTTP to it.

The resource owner is always "alice" and consents automatically, unless the test sets
``server.deny_next = True``. With ``OAuthTestServer(consent_page=True)`` (the browser
tests) ``/authorize`` instead shows a consent page, an HTML form whose "Allow" and
"Deny" buttons POST the decision back to ``/authorize``. Tests steer and observe the
server directly: ``revoke_access_token``, ``revoke_refresh_token``, ``grant_counts``,
``api_calls``, ``decisions``.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from html import escape
from typing import Any

from authlib.common.security import generate_token
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import (
    AuthorizationServer,
    ClientMixin,
    OAuth2Payload,
    OAuth2Request,
    ResourceProtector,
    TokenMixin,
    grants,
)
from authlib.oauth2.rfc6750 import BearerTokenGenerator, BearerTokenValidator
from authlib.oauth2.rfc7636 import CodeChallenge
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

USER = "alice"
CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]
SCOPE_LABELS = {"read": "See your profile and your data", "write": "Change your data"}
CONSENT_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Allow access? — Loopback</title>
<style>
  body {{ font-family: system-ui, sans-serif; background: #f3f4f6; color: #111827; margin: 0; }}
  main {{ max-width: 28rem; margin: 4rem auto; background: #ffffff; border: 1px solid #d1d5db;
    border-radius: 8px; padding: 1.5rem 2rem; }}
  h1 {{ font-size: 1.4rem; margin-top: 0; }}
  .who {{ color: #374151; }}
  .buttons {{ display: flex; gap: 0.75rem; margin-top: 1.5rem; }}
  button {{ font: inherit; font-weight: 600; border-radius: 6px; padding: 0.5rem 1.25rem;
    cursor: pointer; }}
  button.allow {{ background: #1d4ed8; color: #ffffff; border: 1px solid #1d4ed8; }}
  button.deny {{ background: #ffffff; color: #1f2937; border: 1px solid #6b7280; }}
  button:focus-visible {{ outline: 3px solid #f59e0b; outline-offset: 2px; }}
</style></head>
<body><main>
<h1>Allow <strong>{client}</strong> to use your Loopback account?</h1>
<p class="who">You are signed in to Loopback as <strong>{user}</strong>.</p>
<p>It will be able to:</p>
<ul class="scopes">{scopes}</ul>
<form method="post" action="/authorize">{hidden}
<div class="buttons">
<button type="submit" name="decision" value="allow" class="allow">Allow</button>
<button type="submit" name="decision" value="deny" class="deny">Deny</button>
</div></form>
</main></body></html>
"""


@dataclass
class Client(ClientMixin):
    client_id: str
    client_secret: str
    redirect_uris: list[str]
    grant_types: list[str]
    scope: str = "read write"

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str:
        return self.redirect_uris[0]

    def get_allowed_scope(self, scope: str | None) -> str:
        if not scope:
            return self.scope
        return " ".join(s for s in scope.split() if s in self.scope.split())

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return client_secret == self.client_secret

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in CLIENT_AUTH_METHODS

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.grant_types


@dataclass
class AuthorizationCode:
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    user: str
    code_challenge: str | None
    code_challenge_method: str | None

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope


@dataclass
class Token(TokenMixin):
    client_id: str
    user: str | None
    access_token: str
    scope: str
    expires_in: int
    refresh_token: str | None = None
    issued_at: float = field(default_factory=time.time)
    access_revoked: bool = False
    refresh_revoked: bool = False

    def check_client(self, client: ClientMixin) -> bool:
        return bool(client.get_client_id() == self.client_id)

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return self.expires_in

    def is_expired(self) -> bool:
        return self.issued_at + self.expires_in < time.time()

    def is_revoked(self) -> bool:
        return self.access_revoked


class _Payload(OAuth2Payload):
    def __init__(self, request: Request) -> None:
        self._request = request

    @property
    def data(self) -> Any:
        return self._request.values

    @property
    def datalist(self) -> defaultdict[str, list[str]]:
        values: defaultdict[str, list[str]] = defaultdict(list)
        for key in self._request.values:
            values[key].extend(self._request.values.getlist(key))
        return values


class _Request(OAuth2Request):
    def __init__(self, request: Request) -> None:
        super().__init__(method=request.method, uri=request.url, headers=request.headers)
        self._request = request
        self.payload = _Payload(request)

    @property
    def args(self) -> Any:
        return self._request.args

    @property
    def form(self) -> Any:
        return self._request.form


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH_METHODS

    def save_authorization_code(self, code: str, request: OAuth2Request) -> None:
        data = request.payload.data
        self.server.store.codes[code] = AuthorizationCode(
            code=code,
            client_id=request.client.get_client_id(),
            redirect_uri=data.get("redirect_uri", ""),
            scope=request.client.get_allowed_scope(data.get("scope")),
            user=request.user,
            code_challenge=data.get("code_challenge"),
            code_challenge_method=data.get("code_challenge_method"),
        )

    def query_authorization_code(self, code: str, client: ClientMixin) -> AuthorizationCode | None:
        item = self.server.store.codes.get(code)
        if item and item.client_id == client.get_client_id():
            return item
        return None

    def delete_authorization_code(self, authorization_code: AuthorizationCode) -> None:
        self.server.store.codes.pop(authorization_code.code, None)

    def authenticate_user(self, authorization_code: AuthorizationCode) -> str:
        return authorization_code.user


class RefreshTokenGrant(grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH_METHODS

    @property
    def INCLUDE_NEW_REFRESH_TOKEN(self) -> bool:  # type: ignore[override]  # noqa: N802
        return bool(self.server.store.rotate_refresh_tokens)

    def authenticate_refresh_token(self, refresh_token: str) -> Token | None:
        for token in self.server.store.tokens:
            if token.refresh_token == refresh_token and not token.refresh_revoked:
                return token
        return None

    def authenticate_user(self, refresh_token: Token) -> str | None:
        return refresh_token.user

    def revoke_old_credential(self, refresh_token: Token) -> None:
        if self.server.store.rotate_refresh_tokens:
            refresh_token.refresh_revoked = True


class ClientCredentialsGrant(grants.ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH_METHODS


class _Server(AuthorizationServer):
    def __init__(self, store: OAuthTestServer) -> None:
        super().__init__(scopes_supported=["read", "write"])
        self.store = store
        self.register_token_generator(
            "default",
            BearerTokenGenerator(
                access_token_generator=lambda *a, **k: generate_token(42),
                refresh_token_generator=lambda *a, **k: generate_token(48),
                expires_generator=lambda client, grant_type: store.access_expires_in,
            ),
        )
        self.register_grant(AuthorizationCodeGrant, [CodeChallenge(required=True)])
        self.register_grant(RefreshTokenGrant)
        self.register_grant(ClientCredentialsGrant)

    def query_client(self, client_id: str) -> Client | None:
        return self.store.clients.get(client_id)

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        self.store.tokens.append(
            Token(
                client_id=request.client.get_client_id(),
                user=request.user,
                access_token=token["access_token"],
                scope=token.get("scope", ""),
                expires_in=int(token["expires_in"]),
                refresh_token=token.get("refresh_token"),
            )
        )

    def create_oauth2_request(self, request: Any) -> OAuth2Request:
        return request if isinstance(request, OAuth2Request) else _Request(request)

    def handle_response(self, status: int, body: Any, headers: Any) -> Response:
        if isinstance(body, dict):
            body = json.dumps(body)
        return Response(body, status=status, headers=headers)

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        return None


class _Validator(BearerTokenValidator):
    def __init__(self, store: OAuthTestServer) -> None:
        super().__init__()
        self.store = store

    def authenticate_token(self, token_string: str) -> Token | None:
        return next((t for t in self.store.tokens if t.access_token == token_string), None)


class OAuthTestServer:
    """The server and its state. Use as a context manager (starts and stops the thread)."""

    def __init__(
        self,
        *,
        access_expires_in: int = 3600,
        rotate_refresh_tokens: bool = True,
        consent_page: bool = False,
    ) -> None:
        self.access_expires_in = access_expires_in
        self.rotate_refresh_tokens = rotate_refresh_tokens
        self.consent_page = consent_page
        """Show a consent page (Allow / Deny) instead of consenting at once."""
        self.decisions: list[str] = []
        """What was chosen on the consent page, in order ("allow" / "deny")."""
        self.clients: dict[str, Client] = {}
        self.codes: dict[str, AuthorizationCode] = {}
        self.tokens: list[Token] = []
        self.grant_counts: Counter[str] = Counter()
        self.api_calls = 0
        self.deny_next = False
        self.token_delay = 0.0
        """Seconds the token endpoint sleeps before answering (to widen races in tests)."""
        self.token_failure: tuple[int, str, dict[str, str]] | None = None
        """(status, body, headers) the token endpoint answers once instead of working."""
        self._lock = threading.Lock()
        self._server = _Server(self)
        self._protector = ResourceProtector()
        self._protector.register_token_validator(_Validator(self))
        self._http = make_server("127.0.0.1", 0, self._wsgi, threaded=True)
        self.base_url = f"http://127.0.0.1:{self._http.server_port}"
        self._thread = threading.Thread(
            target=self._http.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    # -- endpoints and lifecycle ---------------------------------------------------------

    @property
    def authorize_url(self) -> str:
        return f"{self.base_url}/authorize"

    @property
    def token_url(self) -> str:
        return f"{self.base_url}/token"

    def __enter__(self) -> OAuthTestServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.shutdown()
        self._http.server_close()
        self._thread.join(timeout=5)

    def register_client(
        self,
        client_id: str = "cellwright",
        client_secret: str = "s3cret-client",
        redirect_uri: str = "http://127.0.0.1/oauth/callback",
        grant_types: tuple[str, ...] = (
            "authorization_code",
            "refresh_token",
            "client_credentials",
        ),
    ) -> Client:
        client = Client(client_id, client_secret, [redirect_uri], list(grant_types))
        self.clients[client_id] = client
        return client

    # -- steering ------------------------------------------------------------------------

    def token(self, access_token: str) -> Token:
        return next(t for t in self.tokens if t.access_token == access_token)

    def revoke_access_token(self, access_token: str) -> None:
        self.token(access_token).access_revoked = True

    def revoke_refresh_token(self, refresh_token: str) -> None:
        for token in self.tokens:
            if token.refresh_token == refresh_token:
                token.refresh_revoked = True

    # -- WSGI ----------------------------------------------------------------------------

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        with self._lock:  # the store is plain Python objects: one request at a time
            response = self._route(request)
        return response(environ, start_response)

    def _route(self, request: Request) -> Response:
        if request.path == "/authorize" and request.method == "GET":
            return self._authorize(request)
        if request.path == "/authorize" and request.method == "POST" and self.consent_page:
            return self._decide(request)
        if request.path == "/token" and request.method == "POST":
            self.grant_counts[request.form.get("grant_type", "")] += 1
            if self.token_delay:
                time.sleep(self.token_delay)
            if self.token_failure is not None:
                (status, body, headers), self.token_failure = self.token_failure, None
                return Response(body, status=status, headers=headers)
            response: Response = self._server.create_token_response(request)
            return response
        if request.path == "/api/me" and request.method == "GET":
            return self._me(request)
        return Response(
            json.dumps({"error": "not_found"}), status=404, content_type="application/json"
        )

    def _authorize(self, request: Request) -> Response:
        oauth_request = self._server.create_oauth2_request(request)
        try:
            grant = self._server.get_consent_grant(oauth_request, end_user=USER)
        except OAuth2Error as error:
            return Response(
                json.dumps(dict(error.get_body())),
                status=error.status_code,
                content_type="application/json",
            )
        if self.consent_page:
            return self._consent_form(request, grant.client)
        user = None if self.deny_next else USER
        self.deny_next = False
        response: Response = self._server.create_authorization_response(
            oauth_request, grant_user=user, grant=grant
        )
        return response

    def _consent_form(self, request: Request, client: Client) -> Response:
        """The provider's consent page: the authorization request travels on as hidden fields."""
        hidden = "".join(
            f'<input type="hidden" name="{escape(key)}" value="{escape(value)}">'
            for key in request.args
            for value in request.args.getlist(key)
        )
        scopes = client.get_allowed_scope(request.args.get("scope")).split()
        items = "".join(f"<li>{escape(SCOPE_LABELS.get(scope, scope))}</li>" for scope in scopes)
        page = CONSENT_PAGE.format(
            client=escape(client.client_id), user=escape(USER), scopes=items, hidden=hidden
        )
        return Response(page, content_type="text/html; charset=utf-8")

    def _decide(self, request: Request) -> Response:
        """The consent page's answer: the request is checked again, then granted or denied."""
        oauth_request = self._server.create_oauth2_request(request)
        try:
            grant = self._server.get_consent_grant(oauth_request, end_user=USER)
        except OAuth2Error as error:
            return Response(
                json.dumps(dict(error.get_body())),
                status=error.status_code,
                content_type="application/json",
            )
        decision = request.form.get("decision", "")
        self.decisions.append(decision)
        user = USER if decision == "allow" else None
        response: Response = self._server.create_authorization_response(
            oauth_request, grant_user=user, grant=grant
        )
        return response

    def _me(self, request: Request) -> Response:
        try:
            token = self._protector.validate_request(["read"], _Request(request))
        except OAuth2Error as error:
            status, body, headers = error()
            return Response(json.dumps(dict(body)), status=status, headers=headers)
        self.api_calls += 1
        return Response(
            json.dumps({"user": token.user, "client_id": token.client_id}),
            content_type="application/json",
        )
