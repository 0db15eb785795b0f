"""OAuth 2.0 connect over HTTP: send the user to the provider, take the callback.

- ``GET /api/v1/oauth/{app}/authorize?name=…`` (API key): a 302 to the provider's
  consent page, or ``?redirect=false`` → ``{"authorization_url": …}`` for API clients
  (the CLI opens it in a browser). The OAuth kind's own fields (``sign_in_fields``) come as
  more query parameters, e.g. Shopify's ``&shop=acme.myshopify.com``; a missing or bad one
  is a 422 naming ``query.<field>``.
- ``GET /oauth/{app}/start?name=…&csrf=…[&shop=…]`` (workspace cookie session): the workspace's
  "Connect with <App>" button; a 302 to the provider, or a page saying what is missing
  (e.g. the operator's OAuth client) with a link back.
  With ``&connection_id=…`` it is the "Reconnect" button of an existing OAuth connection.
- ``GET /oauth/callback?code=…&state=…``: checks ``state`` (single use, 10 minutes),
  exchanges the code, stores the connection (or, reconnecting, replaces that connection's
  tokens — same id), then redirects to the workspace's
  connections page — or answers JSON when the client asks for ``application/json``.

The logic is ``engine.oauth_connect``; the workspace's own "Connect" button (cookie
session) calls ``start_authorization`` or ``redirect_to_provider`` from there.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from html import escape
from typing import Annotated, Any, cast
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel

from connectors.sdk import CellwrightError, InvalidInputError
from engine.oauth_connect import (
    PENDING_TTL_SECONDS,
    TOKEN_KEYS,
    finish_authorization,
    oauth_kind,
    sign_in_fields,
    start_authorization,
)
from engine.service import Cellwright
from workspace.api import ERRORS, current_user, service
from workspace.api_models import ConnectionOut, ErrorBody

CALLBACK_PATH = "/oauth/callback"
START_PATH = "/oauth/{app}/start"
"""The workspace's own start (cookie session): ``?name=…&csrf=…`` → 302 to the provider."""
CONNECTIONS_PAGE = "/?page=connections"
"""Where a browser lands after connecting (``&id=<connection id>`` is added)."""
BINDING_COOKIE = "cw_oauth_"
"""Prefix of the cookie that binds a pending authorization to the browser that started it."""

router = APIRouter(tags=["oauth"])


def binding_cookie_name(state: str) -> str:
    """One cookie per pending authorization, so parallel sign-ins do not clobber each other."""
    return BINDING_COOKIE + hashlib.sha256(state.encode()).hexdigest()[:16]


def redirect_to_provider(
    svc: Cellwright,
    user_id: str,
    app_key: str,
    name: str | None = None,
    *,
    fields: dict[str, Any] | None = None,
    connection_id: str | None = None,
) -> RedirectResponse:
    """A 302 to the provider that also binds the authorization to this browser (a cookie
    the callback must present). For routes a browser opens (the workspace's session).
    ``connection_id``: reconnect that connection (its tokens are replaced)."""
    binding = secrets.token_urlsafe(32)
    url = start_authorization(
        svc, user_id, app_key, name, fields=fields, binding=binding, connection_id=connection_id
    )
    state = _state_of(url)
    response = RedirectResponse(url, status_code=302)
    response.set_cookie(
        binding_cookie_name(state),
        binding,
        max_age=int(PENDING_TTL_SECONDS),
        path=CALLBACK_PATH,
        httponly=True,
        samesite="lax",  # sent on the provider's top-level redirect back to us
        secure=svc.settings.public_https(),
    )
    return response


AUTHORIZE_PARAMS = frozenset({"name", "redirect", "connection_id"})
START_PARAMS = frozenset({"name", "csrf", "connection_id"})
"""The routes' own query parameters; any other is one of the OAuth kind's fields."""
_FIELDS_PARAMETER = {
    "name": "fields",
    "in": "query",
    "required": False,
    "style": "form",
    "explode": True,
    "description": (
        "The app's sign-in fields, one query parameter each: the non-secret fields of its oauth2 "
        "form (GET /api/v1/apps/{app} → auth_schemas.oauth2). Shopify: shop=acme.myshopify.com "
        "(the shop whose consent page and token endpoint are used; remembered with the sign-in "
        "and stored on the connection). A missing, unknown or invalid one is a 422 whose errors "
        "name it (field: query.<name>); secrets are refused here (a URL ends up in logs): add "
        "them afterwards with PATCH /api/v1/connections/{id}."
    ),
    "schema": {"type": "object", "additionalProperties": {"type": "string"}},
    "example": {"shop": "acme.myshopify.com"},
}


def sign_in_query(
    svc: Cellwright, app_key: str, query: Mapping[str, str], own: frozenset[str]
) -> dict[str, str]:
    """The OAuth kind's fields from a route's query (all but the route's ``own`` parameters).
    A secret field is refused: it would sit in the URL, and so in logs and browser history."""
    fields = {k: v for k, v in query.items() if k not in own}
    if not fields:
        return fields
    kind = oauth_kind(svc.apps.get(app_key))
    form = cast("type[BaseModel]", kind.fields).model_json_schema().get("properties") or {}
    typed = sign_in_fields(kind)["properties"]
    secret = [k for k in fields if k in TOKEN_KEYS or (k in form and k not in typed)]
    if secret:
        message = (
            f"{secret[0]} is a secret: it is not taken in a URL. Connect first, then add it "
            "with PATCH /api/v1/connections/{id}."
        )
        raise InvalidInputError(message, errors=[{"field": secret[0], "message": message}])
    return fields


@router.get(
    "/api/v1/oauth/{app}/authorize",
    summary="Start connecting an OAuth 2.0 app",
    responses={
        **ERRORS,
        302: {"description": "To the provider's consent page."},
        200: {"description": "With redirect=false: the URL."},
    },
    openapi_extra={"parameters": [_FIELDS_PARAMETER]},
)
def authorize(
    app: str,
    request: Request,
    svc: Annotated[Cellwright, Depends(service)],
    user: Annotated[Any, Depends(current_user)],
    name: Annotated[
        str | None,
        Query(
            description="The connection's name; default: from the app's test call.", max_length=200
        ),
    ] = None,
    redirect: Annotated[
        bool, Query(description="false: answer {authorization_url} as JSON instead of a 302.")
    ] = True,
    connection_id: Annotated[
        str | None,
        Query(
            description="Reconnect this OAuth connection: its tokens are replaced, its id kept.",
            max_length=100,
        ),
    ] = None,
) -> Response:
    """Send the user to the provider's consent page; the provider sends them back to
    ``/oauth/callback``. Needs the operator's OAuth client for the app
    (``CELLWRIGHT_OAUTH_CLIENTS__<app>__CLIENT_ID`` / ``__CLIENT_SECRET``). Apps whose
    sign-in needs a field first take it as a query parameter (Shopify: ``shop``)."""
    try:
        fields = sign_in_query(svc, app, request.query_params, AUTHORIZE_PARAMS)
        if redirect:
            return redirect_to_provider(
                svc, user.id, app, name, fields=fields, connection_id=connection_id
            )
        url = start_authorization(
            svc, user.id, app, name, fields=fields, connection_id=connection_id
        )
    except (
        InvalidInputError
    ) as exc:  # the fields came as query parameters: say so, as FastAPI's own checks do
        errors = [{**e, "field": f"query.{e['field']}"} for e in exc.errors]
        raise InvalidInputError(exc.message, errors=errors) from None
    return JSONResponse({"authorization_url": url, "expires_in": int(PENDING_TTL_SECONDS)})


def start_path(
    app_key: str,
    *,
    name: str | None = None,
    csrf: str = "",
    connection_id: str | None = None,
    fields: Mapping[str, str] | None = None,
) -> str:
    """The workspace's "Connect with <App>" link (see ``start_from_workspace``); with
    ``connection_id``, its "Reconnect" link for that connection. ``fields``: the OAuth
    kind's sign-in fields the user typed (Shopify's shop)."""
    query = {
        "csrf": csrf,
        **({"name": name} if name else {}),
        **({"connection_id": connection_id} if connection_id else {}),
        **{k: v for k, v in (fields or {}).items() if k not in START_PARAMS},
    }
    return f"/oauth/{quote(app_key, safe='')}/start?{urlencode(query)}"


@router.get(START_PATH, include_in_schema=False)
def start_from_workspace(
    app: str,
    request: Request,
    svc: Annotated[Cellwright, Depends(service)],
    name: Annotated[str | None, Query(max_length=200)] = None,
    csrf: Annotated[str, Query(max_length=100)] = "",
    connection_id: Annotated[str | None, Query(max_length=100)] = None,
) -> Response:
    """The workspace's "Connect with <App>" button: the signed-in user (cookie session) is
    sent to the provider, bound to this browser. ``csrf`` (derived from the session, like
    sign-out's) proves the click came from the workspace, not from another site."""
    sessions = getattr(request.app.state, "sessions", None)
    found = (
        sessions.user(svc.accounts, request.cookies.get(_session_cookie()))
        if sessions is not None
        else None
    )
    if found is None:
        back = f"{CONNECTIONS_PAGE}&app={quote(app, safe='')}"
        return RedirectResponse(f"/login?next={quote(back, safe='')}", status_code=303)
    user, session = found
    if not hmac.compare_digest(csrf.encode(), session.csrf.encode()):
        return HTMLResponse(
            _page(
                "This sign-in link was not opened from your workspace. Open Connections and "
                "click the button again."
            ),
            status_code=403,
        )
    try:
        fields = sign_in_query(svc, app, request.query_params, START_PARAMS)
        return redirect_to_provider(
            svc, user.id, app, name or None, fields=fields, connection_id=connection_id or None
        )
    except CellwrightError as exc:
        return HTMLResponse(_page(exc.message), status_code=exc.http_status)


def _session_cookie() -> str:
    from workspace.sessions import COOKIE

    return COOKIE


_PAGE = {"text/html": {"schema": {"type": "string"}}}
"""A browser (no ``Accept: application/json``) gets a page instead of JSON."""
_REFUSED = {"model": ErrorBody, "content": _PAGE}


@router.get(
    CALLBACK_PATH,
    summary="Where the provider sends the user back",
    responses={
        200: {
            "model": ConnectionOut,
            "description": "Connected (Accept: application/json): the connection.",
        },
        303: {"description": "Connected (a browser): to the workspace's connections page."},
        400: {
            **_REFUSED,
            "description": "Refused (state unknown, used or expired; the provider's error): "
            "nothing was stored.",
        },
        404: {**_REFUSED, "description": "The app, or the connection being reconnected, is gone."},
        422: {
            **_REFUSED,
            "description": "Missing code or state, or the operator's OAuth client is not "
            "configured.",
        },
        502: {**_REFUSED, "description": "The provider's token endpoint failed."},
    },
)
async def callback(request: Request, svc: Annotated[Cellwright, Depends(service)]) -> Response:
    """Check ``state``, exchange ``code`` for tokens, store the connection."""
    params = dict(request.query_params)
    state = params.get("state") or ""
    cookie = binding_cookie_name(state) if state else None
    wants_json = _wants_json(request)
    try:
        connection = await finish_authorization(
            svc,
            params,
            binding=request.cookies.get(cookie) if cookie else None,
            session_user=_session_user(request, svc),
        )
    except CellwrightError as exc:
        status = exc.http_status
        response: Response = (
            JSONResponse({"error": exc.code, "message": exc.message}, status_code=status)
            if wants_json
            else HTMLResponse(
                _page(
                    exc.message,
                    title="Not connected"
                    if exc.details.get("error") == "access_denied"
                    else "Connecting failed",
                ),
                status_code=status,
            )
        )
    else:
        if wants_json:
            response = JSONResponse(connection.to_dict())
        else:
            response = RedirectResponse(
                f"{CONNECTIONS_PAGE}&id={quote(connection.id)}", status_code=303
            )
    if cookie and cookie in request.cookies:
        response.delete_cookie(cookie, path=CALLBACK_PATH)
    return response


def _state_of(url: str) -> str:
    from urllib.parse import parse_qs, urlsplit

    return parse_qs(urlsplit(url).query)["state"][0]


def _wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def _session_user(request: Request, svc: Cellwright) -> str | None:
    """The signed-in workspace user of this browser, when the workspace is mounted."""
    sessions = getattr(request.app.state, "sessions", None)
    if sessions is None:
        return None
    from workspace.sessions import COOKIE

    found = sessions.user(svc.accounts, request.cookies.get(COOKIE))
    return str(found[0].id) if found else None


def _page(message: str, title: str = "Connecting failed") -> str:
    """A small page for a browser that cannot be sent on (``title``: "Not connected" when
    the user declined on the provider's page, which is a choice, not a failure)."""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)} — Cellwright</title></head>"
        '<body style="font-family:system-ui,sans-serif;max-width:40rem;margin:4rem '
        'auto;padding:0 1rem">'
        f'<main><h1>{escape(title)}</h1><p role="alert">{escape(message)}</p>'
        f'<p><a href="{escape(CONNECTIONS_PAGE)}">Back to your connections</a></p></main></body>'
        "</html>"
    )


__all__ = [
    "CALLBACK_PATH",
    "CONNECTIONS_PAGE",
    "START_PATH",
    "sign_in_query",
    "start_path",
    "binding_cookie_name",
    "redirect_to_provider",
    "router",
    "start_authorization",
]
