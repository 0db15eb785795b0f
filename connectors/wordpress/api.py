"""Talking to one WordPress site's REST API: route URLs, lists, errors.

A site serves its API under one of two roots (``Link: <…>; rel="https://api.w.org/"``
says which): ``https://site/wp-json/`` with pretty permalinks, ``https://site/?rest_route=/``
without. The connection remembers the root it discovered (``api_root`` in its
metadata, relative to the site address when it lives under it); ``endpoint`` builds
every request URL from it, so operations never spell either style out.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from typing import Any

import httpx

from connectors.sdk import (
    AuthError,
    CellwrightError,
    InvalidInputError,
    OperationContext,
    UpstreamError,
)

DEFAULT_API_ROOT = "wp-json/"
"""Assumed when a connection has no discovered root (pretty permalinks, the common case)."""
API_LINK_REL = "https://api.w.org/"

AUTH_CODES = frozenset(
    {"rest_not_logged_in", "incorrect_password", "invalid_username", "invalid_email"}
)
PERMISSION_PREFIXES = ("rest_cannot_", "rest_forbidden")
"""Core's permission errors: ``rest_cannot_create`` / ``_edit`` / ``_delete`` …, ``rest_forbidden``
(a route's permission check said no), ``rest_forbidden_param`` / ``_context`` …"""


def endpoint(root: str, route: str, params: Mapping[str, Any] | None = None) -> str:
    """The URL of ``route`` (e.g. ``wp/v2/posts``) under an API ``root`` of either style.

    ``…/wp-json/`` + ``wp/v2/posts`` → ``…/wp-json/wp/v2/posts``;
    ``…/?rest_route=/`` + ``wp/v2/posts`` → ``…/?rest_route=/wp/v2/posts``. Query
    parameters are merged here (httpx's ``params=`` would replace ``rest_route``):
    ``None`` is left out, booleans become ``true``/``false``, lists comma-separated
    (PHP keeps only the last of repeated ``key=`` parameters).
    """
    route = "/" + route.strip("/")
    if "rest_route=" in root:
        base = root.split("rest_route=", 1)[0].rstrip("?&")
        url = httpx.URL(base).copy_merge_params({"rest_route": route})
    else:
        url = httpx.URL(root.rstrip("/") + route)
    query = {k: _query_value(v) for k, v in (params or {}).items() if v is not None}
    return str(url.copy_merge_params(query)) if query else str(url)


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    return str(value)


def api_root(ctx: OperationContext) -> str:
    """The connection's API root (see the module docstring)."""
    return str(ctx.connection_metadata.get("api_root") or DEFAULT_API_ROOT)


def url(ctx: OperationContext, route: str, **params: Any) -> str:
    """``endpoint`` under the connection's root."""
    return endpoint(api_root(ctx), route, params)


def clean(item: Mapping[str, Any]) -> dict[str, Any]:
    """An API object without its hypermedia (``_links``, ``_embedded``); a rendered title
    also as plain text (``title_text``), so a mapping gets "Grace's", not "Grace&#8217;s"."""
    out = {k: v for k, v in item.items() if k not in ("_links", "_embedded")}
    title = out.get("title")
    if isinstance(title, Mapping) and "rendered" in title:
        out["title_text"] = plain_text(title["rendered"])
    return out


async def get_page(
    ctx: OperationContext, route: str, **params: Any
) -> tuple[list[dict[str, Any]], int, int]:
    """One page of a collection: items, ``X-WP-Total`` and ``X-WP-TotalPages``."""
    response = await ctx.http.request("GET", url(ctx, route, **params))
    items = response.json() if response.content else []
    total = int(response.headers.get("x-wp-total") or len(items))
    pages = int(response.headers.get("x-wp-totalpages") or 1)
    return [clean(item) for item in items], total, pages


def _text(value: Any) -> str:
    """WordPress messages may carry HTML (``<strong>Error:</strong> …``) and entities."""
    return html.unescape(re.sub(r"<[^>]+>", "", str(value))).strip()


def route_of(target: httpx.URL) -> str:
    """The REST route a URL addresses, for messages: ``/wp/v2/posts/4``."""
    rest_route = target.params.get("rest_route")
    if rest_route:
        return str(rest_route)
    path = target.path
    return path.split("/wp-json", 1)[1] if "/wp-json" in path else path


def parse_error(response: httpx.Response, body: Any) -> CellwrightError | None:
    """The app's ``error_parser``: WordPress's ``{"code", "message", "data"}`` errors.

    Everything else (429 with ``Retry-After`` from a host or firewall, HTML error
    pages, 5xx from the web server) is left to the SDK's default mapping.
    """
    status = response.status_code
    target = response.request.url
    if (
        status == 404
        and not isinstance(body, Mapping)
        and ("rest_route" in target.params or "/wp-json" in target.path)
    ):
        return UpstreamError(
            f"WordPress: {route_of(target)} answered with a web page, not the REST API "
            "(HTTP 404). If the site's permalink settings changed, test the connection again "
            "so it finds the API root.",
            status=status,
        )
    if status < 400 or status == 429 or not isinstance(body, Mapping) or "code" not in body:
        return None
    code = str(body["code"])
    message = _text(body.get("message") or code)
    raw_data = body.get("data")
    data: Mapping[str, Any] = raw_data if isinstance(raw_data, Mapping) else {}
    if status == 401 or code in AUTH_CODES:
        return AuthError(
            f"WordPress refused the connection's credentials: {message} ({code}). Check the user "
            "name and the application password (Users → Profile → Application Passwords).",
            status=status,
            wp_code=code,
        )
    if status == 403 and code.startswith(PERMISSION_PREFIXES):
        # Signed in, but the user's role may not do this (core: current_user_can() failed, so
        # rest_authorization_required_code() is 403). The credentials are fine: not an AuthError,
        # which would mark the connection broken; not retryable either.
        return UpstreamError(
            f"WordPress refused {response.request.method} {route_of(target)}: {message} "
            f"({code}). The connection's WordPress user is signed in but its role may "
            "not do this: give that user a role that can (Users → All Users → Role, "
            "e.g. Author or Editor), or connect as a user who can.",
            status=status,
            body=body,
            wp_code=code,
            permission=True,
        )
    params = data.get("params")
    if code == "rest_invalid_param" and isinstance(params, Mapping):
        errors = [{"field": str(k), "message": _text(v)} for k, v in params.items()]
        # WordPress's own messages often start with the name ("per_page must be between…").
        listed = "; ".join(
            e["message"] if e["message"].startswith(e["field"]) else f"{e['field']}: {e['message']}"
            for e in errors
        )
        return InvalidInputError(f"WordPress rejected {listed}", errors=errors, status=status)
    if code == "rest_missing_callback_param" and isinstance(params, list):
        errors = [{"field": str(p), "message": "required"} for p in params]
        return InvalidInputError(
            f"WordPress needs {', '.join(map(str, params))}.", errors=errors, status=status
        )
    where = route_of(target)
    if status == 404:
        text = f"WordPress found nothing at {where}: {message} ({code})"
    else:
        text = f"WordPress: {message} ({code}, HTTP {status} on {where})"
    return UpstreamError(text, status=status, body=body, wp_code=code)


def plain_text(rendered: Any) -> str:
    """A rendered WordPress text (``title.rendered``: ``Ada &#038; Grace&#8217;s``) as people
    read it: tags removed, HTML entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", str(rendered or ""))).strip()
