"""A simulator of Google's Sheets, Gmail, Drive and Calendar APIs and its OAuth token endpoint.

One Starlette app answers the four APIs under their real paths (the discovery
documents' ``servicePath`` + method ``path`` in shared/specs/google/): the paths do not
overlap, so it routes by path alone, whichever host a request names (a sandbox client
sends Google's absolute URLs here; mounted under ``/sandbox/google_workspace`` it
answers the same paths). The routes live in ``sandbox_sheets_drive`` and
``sandbox_gmail_calendar``; this module holds the account, auth and the behaviours
every API shares:

- bearer tokens: unknown or expired ones answer 401 ``UNAUTHENTICATED``; each route
  needs one of its method's scopes (the discovery document's ``scopes``), else 403
  ``ACCESS_TOKEN_SCOPE_INSUFFICIENT`` with ``WWW-Authenticate: … insufficient_scope``;
- the token endpoint (``POST /token``, refresh grant; ``POST /revoke``): a revoked
  refresh token answers 400 ``invalid_grant`` "Token has been expired or revoked.";
- quota errors in Google's shape: 429 ``RESOURCE_EXHAUSTED`` or 403 with
  ``usageLimits`` reason ``rateLimitExceeded`` / ``userRateLimitExceeded``;
- pages: ``pageToken`` / ``nextPageToken``; pages can be made short and followed by an
  empty page that still carries a token (Drive's ``pageSize`` documents "partial or
  empty result pages are possible");
- an unknown API version or path answers Google's HTML 404 page.

Test-only control, not Google (``/__sandbox__/…``): ``quota`` ``{"times", "status",
"reason"}`` fails the next API requests with a quota error; ``paging`` ``{"page_cap",
"empty_pages"}``; ``tokens`` ``{"scopes": [...]}`` issues an access token with only
those scopes; ``expire_tokens`` expires every access token; ``expire_sync_tokens``
makes Calendar's sync tokens stale (410). ``account(app)`` gives tests the state to
change "in Google's UI" (add a row, receive a mail, create an event).

Push notification channels (``events.watch``, ``changes.watch``, ``channels.stop``) and
Drive's change log live in ``sandbox_channels``: a change to a watched calendar or to
Drive is POSTed to each live channel's address through ``Account.outbox``.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from connectors.sdk.sandboxing import WebhookOutbox

AUTH = "https://www.googleapis.com/auth/"
SANDBOX_CLIENT = ("sandbox-client.apps.googleusercontent.com", "sandbox-client-secret")
"""The OAuth client the simulated token endpoint knows (id, secret)."""
ACCESS_TOKEN = "ya29.sandbox-access-token-0001"  # noqa: S105 - the sandbox's published demo token
REFRESH_TOKEN = "1//sandbox-refresh-token-0001"  # noqa: S105
EMAIL = "ada@sandbox.example"
ALL_SCOPES = tuple(
    AUTH + s if not s.startswith(("https://", "openid")) else s
    for s in (
        "openid",
        "userinfo.email",
        "userinfo.profile",
        "spreadsheets",
        "gmail.readonly",
        "gmail.compose",
        "drive",
        "calendar",
    )
)


class GoogleError(Exception):
    """Google's error body: ``{"error": {"code", "message", "status", "errors": [...]}}``."""

    def __init__(
        self,
        code: int,
        message: str,
        *,
        status: str,
        reason: str | None = None,
        domain: str = "global",
        location: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.headers = dict(headers or {})
        error: dict[str, Any] = {"code": code, "message": message, "status": status}
        if reason:
            entry = {"message": message, "domain": domain, "reason": reason}
            if location:
                entry |= {"locationType": "parameter", "location": location}
            error["errors"] = [entry]
        self.body = {"error": error}


def invalid(message: str, location: str | None = None) -> GoogleError:
    return GoogleError(
        400,
        message,
        status="INVALID_ARGUMENT",
        reason="invalid" if location else "badRequest",
        location=location,
    )


def not_found(message: str = "Requested entity was not found.") -> GoogleError:
    return GoogleError(404, message, status="NOT_FOUND", reason="notFound")


@dataclass
class Token:
    scopes: frozenset[str]
    expires_at: float | None = None
    refresh_token: str | None = None


@dataclass
class Account:
    """One sandbox Google account: its tokens, files, sheets, mail and calendars."""

    tokens: dict[str, Token] = field(default_factory=dict)
    refresh_tokens: dict[str, frozenset[str]] = field(default_factory=dict)
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Drive files by id, spreadsheets included (their grids in ``sheets``)."""
    sheets: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Spreadsheet id → its sheets: ``{"sheetId", "title", "rows": [[str, …], …]}``."""
    messages: list[dict[str, Any]] = field(default_factory=list)
    """Gmail messages, newest first."""
    labels: list[dict[str, Any]] = field(default_factory=list)
    drafts: dict[str, dict[str, Any]] = field(default_factory=dict)
    calendars: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    """Calendar id → event id → event (cancelled ones kept, as Google does for sync)."""
    change_seq: int = 0
    sync_epoch: int = 0
    """Sync tokens name the epoch they were issued in; an older epoch's answer 410."""
    quota: list[tuple[int, str | None]] = field(default_factory=list)
    page_cap: int | None = None
    empty_pages: bool = False
    history_id: int = 1000
    channels: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Push notification channels by id (``events.watch``, ``changes.watch``)."""
    drive_changes: list[dict[str, Any]] = field(default_factory=list)
    """Drive's change log (``changes.list``): a page token is a position in it."""
    outbox: WebhookOutbox = field(default_factory=WebhookOutbox)
    """The channels' notifications, POSTed as Google sends them (``sandbox_channels``)."""
    _clock: float = 0.0

    def now(self) -> str:
        """RFC 3339 time, strictly increasing (so "created after" comparisons are exact)."""
        self._clock = max(self._clock + 0.001, time.time())
        return (
            datetime.fromtimestamp(self._clock, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z")
        )

    def next_change(self) -> int:
        self.change_seq += 1
        return self.change_seq

    def issue(self, scopes: frozenset[str], refresh_token: str | None = None) -> str:
        token = "ya29.sandbox-" + secrets.token_hex(12)
        self.tokens[token] = Token(scopes, time.time() + 3599, refresh_token)
        return token


def new_id(size: int = 16) -> str:
    return secrets.token_hex(size // 2)


def account(app: Starlette) -> Account:
    """The simulated account of a sandbox app (tests change it as a user would)."""
    found: Account = app.state.google
    return found


# -- pages ------------------------------------------------------------------------------------


def paginate(
    acct: Account, items: list[Any], size: int, token: str | None
) -> tuple[list[Any], str | None]:
    """One page of ``items`` and the token of the next one (``None`` at the end).

    Tokens are opaque to clients: ``o<offset>`` continues at an offset; with
    ``empty_pages`` a page is followed by an empty one whose token (``e<offset>``)
    leads on — the client must keep going while a token is present.
    """
    if token and not (token[:1] in "oe" and token[1:].isdigit()):
        raise invalid("Invalid page token.", "pageToken")
    offset = int(token[1:]) if token else 0
    if token and token.startswith("e"):
        return [], f"o{offset}"
    size = min(size, acct.page_cap) if acct.page_cap else size
    page = items[offset : offset + size]
    end = offset + len(page)
    if end >= len(items):
        return page, None
    return page, (f"e{end}" if acct.empty_pages else f"o{end}")


def page_size(request: Request, name: str, default: int, maximum: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise invalid(
            f"Invalid value '{raw}'. Values must match the following regular expression: '[0-9]+'",
            name,
        ) from None
    if value < 1 or value > maximum:
        raise invalid(
            f"Invalid value '{raw}'. Values must be within the range: [1, {maximum}]", name
        )
    return value


# -- auth, quota, errors -------------------------------------------------------------------------

Handler = Callable[[Request, Account], Awaitable[Any]]


def _unauthenticated() -> GoogleError:
    return GoogleError(
        401,
        "Request had invalid authentication credentials. Expected OAuth 2 "
        "access token, login cookie or other valid authentication credential. "
        "See https://developers.google.com/identity/sign-in/web/devconsole-project.",
        status="UNAUTHENTICATED",
        headers={
            "WWW-Authenticate": 'Bearer realm="https://accounts.google.com/", error="invalid_token"'
        },
    )


def _check_token(request: Request, acct: Account, scopes: tuple[str, ...]) -> None:
    header = request.headers.get("authorization", "")
    token = (
        acct.tokens.get(header.removeprefix("Bearer ").strip())
        if header.startswith("Bearer ")
        else None
    )
    if token is None or (token.expires_at is not None and token.expires_at <= time.time()):
        raise _unauthenticated()
    if scopes and not token.scopes & set(scopes):
        error = GoogleError(
            403,
            "Request had insufficient authentication scopes.",
            status="PERMISSION_DENIED",
            reason="insufficientPermissions",
            headers={
                "WWW-Authenticate": (
                    'Bearer realm="https://accounts.google.com/", '
                    f'error="insufficient_scope", scope="{" ".join(scopes)}"'
                )
            },
        )
        error.body["error"]["details"] = [
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "ACCESS_TOKEN_SCOPE_INSUFFICIENT",
                "domain": "googleapis.com",
            }
        ]
        raise error


def _quota(acct: Account) -> None:
    if not acct.quota:
        return
    status, reason = acct.quota.pop(0)
    if status == 429:
        raise GoogleError(
            429,
            "Quota exceeded for quota metric 'Requests' and limit 'Requests per minute per user'.",
            status="RESOURCE_EXHAUSTED",
            reason="rateLimitExceeded",
            domain="usageLimits",
        )
    message = (
        "User Rate Limit Exceeded" if reason == "userRateLimitExceeded" else "Rate Limit Exceeded"
    )
    raise GoogleError(
        403,
        message,
        status="PERMISSION_DENIED",
        reason=reason or "rateLimitExceeded",
        domain="usageLimits",
    )


def api(scopes: tuple[str, ...], handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """A route: auth and scope check, injected quota errors, Google's error shape."""

    async def endpoint(request: Request) -> Response:
        acct = account(request.app)
        try:
            _check_token(request, acct, scopes)
            _quota(acct)
            result = await handler(request, acct)
        except GoogleError as error:
            return JSONResponse(error.body, status_code=error.code, headers=error.headers)
        if isinstance(result, Response):
            return result
        return JSONResponse(result)

    endpoint.scopes = scopes  # type: ignore[attr-defined]  # the contract test compares them with the discovery documents
    return endpoint


async def body_json(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        data = json.loads(raw or b"{}")
    except ValueError:
        raise invalid("Invalid JSON payload received.") from None
    if not isinstance(data, dict):
        raise invalid("Invalid JSON payload received. Expected an object.")
    return data


# -- the token endpoint -----------------------------------------------------------------------


def _oauth_error(status: int, error: str, description: str) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


async def token(request: Request) -> Response:
    """``POST https://oauth2.googleapis.com/token`` (refresh grant; RFC 6749 §6)."""
    acct = account(request.app)
    form = dict(parse_qsl((await request.body()).decode()))
    if (form.get("client_id"), form.get("client_secret")) != SANDBOX_CLIENT:
        return _oauth_error(401, "invalid_client", "The OAuth client was not found.")
    if form.get("grant_type") != "refresh_token":
        return _oauth_error(
            400, "unsupported_grant_type", "Invalid grant_type: " + str(form.get("grant_type"))
        )
    scopes = acct.refresh_tokens.get(form.get("refresh_token", ""))
    if scopes is None:
        return _oauth_error(400, "invalid_grant", "Token has been expired or revoked.")
    access = acct.issue(scopes, form["refresh_token"])
    return JSONResponse(
        {
            "access_token": access,
            "expires_in": 3599,
            "scope": " ".join(sorted(scopes)),
            "token_type": "Bearer",
        }
    )


async def revoke(request: Request) -> Response:
    """``POST https://oauth2.googleapis.com/revoke``: a refresh token
    takes its access tokens along."""
    acct = account(request.app)
    value = request.query_params.get("token") or dict(
        parse_qsl((await request.body()).decode())
    ).get("token", "")
    if value in acct.refresh_tokens:
        del acct.refresh_tokens[value]
        for key in [k for k, t in acct.tokens.items() if t.refresh_token == value]:
            del acct.tokens[key]
        return JSONResponse({})
    if value in acct.tokens:
        del acct.tokens[value]
        return JSONResponse({})
    return _oauth_error(400, "invalid_token", "Token expired or revoked")


async def userinfo(request: Request, acct: Account) -> dict[str, Any]:
    """``oauth2.userinfo.get``."""
    return {
        "id": "108000000000000000001",
        "email": EMAIL,
        "verified_email": True,
        "name": "Ada Lovelace",
        "given_name": "Ada",
        "family_name": "Lovelace",
        "picture": "https://lh3.googleusercontent.com/a/sandbox",
    }


# -- test-only control ------------------------------------------------------------------------


async def control(request: Request) -> Response:
    acct = account(request.app)
    what = request.path_params["what"]
    data = await body_json(request)
    if what == "quota":
        acct.quota = [(int(data.get("status", 429)), data.get("reason"))] * int(
            data.get("times", 1)
        )
    elif what == "paging":
        acct.page_cap, acct.empty_pages = data.get("page_cap"), bool(data.get("empty_pages"))
    elif what == "tokens":
        scopes = frozenset(
            AUTH + s if not s.startswith(("https://", "openid")) else s
            for s in data.get("scopes") or []
        )
        return JSONResponse({"access_token": acct.issue(scopes)})
    elif what == "expire_tokens":
        for value in acct.tokens.values():
            value.expires_at = time.time() - 1
    elif what == "expire_sync_tokens":
        acct.sync_epoch += 1
    else:
        return JSONResponse({"error": f"unknown control '{what}'"}, status_code=404)
    return JSONResponse({"ok": True})


NOT_FOUND_PAGE = (
    "<!DOCTYPE html>\n<html lang=en><meta charset=utf-8><title>Error 404 "
    "(Not Found)!!1</title><p><b>404.</b> <ins>That’s an error.</ins><p>The requested URL "
    "<code>{path}</code> was not found on this server.  <ins>That’s all we know.</ins>"
)


async def unknown_path(request: Request) -> Response:
    """What Google answers for a path no API serves (an unknown version, a typo)."""
    return HTMLResponse(NOT_FOUND_PAGE.format(path=request.url.path), status_code=404)


def create_app() -> Starlette:
    from connectors.google_workspace import (
        sandbox_channels,
        sandbox_gmail_calendar,
        sandbox_sheets_drive,
    )
    from connectors.google_workspace.sandbox_seed import seed

    app = Starlette(
        routes=[
            Route("/token", token, methods=["POST"]),
            Route("/revoke", revoke, methods=["POST"]),
            Route(
                "/oauth2/v2/userinfo",
                api((ALL_SCOPES[0], AUTH + "userinfo.email", AUTH + "userinfo.profile"), userinfo),
                methods=["GET"],
            ),
            *sandbox_channels.ROUTES,
            *sandbox_sheets_drive.ROUTES,
            *sandbox_gmail_calendar.ROUTES,
            Route("/__sandbox__/{what}", control, methods=["POST"]),
            Route("/{path:path}", unknown_path, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
        ]
    )
    acct = Account()
    acct.tokens[ACCESS_TOKEN] = Token(frozenset(ALL_SCOPES), None, REFRESH_TOKEN)
    acct.refresh_tokens[REFRESH_TOKEN] = frozenset(ALL_SCOPES)
    seed(acct)
    app.state.google = acct
    return app
