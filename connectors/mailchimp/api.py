"""Talking to Mailchimp's Marketing API: the data centre, the connection limit, pages, errors.

- Every account lives in one *data centre* (``us21``): its API is
  ``https://us21.api.mailchimp.com/3.0``. An API key names it after its dash
  (``…-us21``); an OAuth connection learns it from the metadata endpoint right after
  signing in (``auth.fetch_oauth_metadata``), and keeps it in the connection's metadata.
- Mailchimp allows 10 simultaneous connections per user; the 11th is answered 429
  (VENDORS.md §8.1). ``call`` holds one of 10 slots per API key (or OAuth token) for
  each request, so the scenarios of one process never exceed it however many run at once.
- Lists are pages of ``count`` (at most 1000) from ``offset``, with ``total_items``.
- Errors are Problem Details documents (``application/problem+json``); a rejected field
  becomes an input error naming it (``parse_error``).
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import weakref
from collections.abc import Mapping
from typing import Any

import httpx

from connectors.sdk import (
    AuthError,
    CellwrightError,
    ConfigurationError,
    InvalidInputError,
    OperationContext,
    UpstreamError,
    secret_value,
)

API = "/3.0"
"""The API version is the path's first segment; paths below are relative to it."""
DC = re.compile(r"^[a-z]+[0-9]+$")
"""A data centre: letters then digits (``us21``). Nothing else may become part of a host name."""
KEY = re.compile(r"^[0-9a-f]{32}-(?P<dc>[a-z]+[0-9]+)$")
"""An API key: 32 hex digits, a dash, the data centre."""
MAX_CONNECTIONS = 10
"""Mailchimp's limit of simultaneous connections per user."""
MAX_COUNT = 1000
MAX_PAGES = 20


def subscriber_hash(email: str) -> str:
    """Mailchimp's member id: the MD5 of the lower-cased e-mail address (not a security use)."""
    return hashlib.md5(email.strip().lower().encode(), usedforsecurity=False).hexdigest()


def data_centre(api_key: str) -> str:
    """The data centre an API key names; ``ValueError`` for a key without one."""
    match = KEY.match(api_key.strip())
    if match is None:
        raise ValueError(
            "a Mailchimp API key is 32 letters and digits, a dash and its data centre, e.g. …-us21"
        )
    return match["dc"]


def base_url(credentials: Mapping[str, Any], metadata: Mapping[str, Any]) -> str:
    """``App.connection_base_url``: ``https://<dc>.api.mailchimp.com`` for this connection.

    The host is built only from a validated data centre, so a crafted key or metadata can
    never point the client (and the credentials it carries) at another host.
    """
    key = secret_value(credentials.get("api_key"))
    if key:
        try:
            return f"https://{data_centre(key)}.api.mailchimp.com"
        except ValueError as exc:
            raise ConfigurationError(f"Mailchimp connection, field api_key: {exc}.") from None
    dc = str(metadata.get("dc") or "")
    if DC.match(dc):
        return f"https://{dc}.api.mailchimp.com"
    raise ConfigurationError(
        "This Mailchimp connection does not know its data centre (it is learned when you "
        "sign in): reconnect it."
    )


# -- the connection limit ---------------------------------------------------------------------

_SLOTS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Semaphore]] = (
    weakref.WeakKeyDictionary()
)
"""Per event loop (a semaphore belongs to one), per credential: the 10 slots."""


def slots(ctx: OperationContext) -> asyncio.Semaphore:
    """The semaphore of the connection's API key or OAuth token.

    Keyed by (a hash of) the credential rather than the connection id: two connections
    made with the same key are the same Mailchimp user, and share the same 10 connections.
    """
    secret = secret_value(ctx.credentials.get("api_key")) or secret_value(
        ctx.credentials.get("access_token")
    )
    key = (
        hashlib.sha256(secret.encode()).hexdigest() if secret else f"connection:{ctx.connection_id}"
    )
    per_loop = _SLOTS.setdefault(asyncio.get_running_loop(), {})
    found = per_loop.get(key)
    if found is None:
        found = per_loop[key] = asyncio.Semaphore(MAX_CONNECTIONS)
    return found


async def call(
    ctx: OperationContext,
    method: str,
    path: str,
    *,
    json: Mapping[str, Any] | None = None,
    params: Mapping[str, Any] | None = None,
) -> Any:
    """One request to ``/3.0<path>`` within the connection limit; the JSON answer (None for 204)."""
    kwargs: dict[str, Any] = {}
    if json is not None:
        kwargs["json"] = dict(json)
    if params:
        kwargs["params"] = {k: _param(v) for k, v in params.items() if v is not None}
    async with slots(ctx):
        return await ctx.http.json(method, f"{API}{path}", **kwargs)


def _param(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


async def list_all(
    ctx: OperationContext,
    path: str,
    key: str,
    params: Mapping[str, Any] | None = None,
    *,
    limit: int = 5000,
    count: int = MAX_COUNT,
) -> list[dict[str, Any]]:
    """Every item of a list endpoint (``key``: ``members``, ``lists``,
    ``campaigns``…), up to ``limit``.

    Follows ``offset`` by the items actually received and stops at ``total_items``:
    Mailchimp may answer a page shorter than ``count`` before the end (a short page is
    not the last page), and an empty page ends the list whatever ``total_items`` says.
    """
    items: list[dict[str, Any]] = []
    offset = 0
    for _ in range(MAX_PAGES):
        page = await call(
            ctx,
            "GET",
            path,
            params={**(params or {}), "count": min(count, limit - len(items)), "offset": offset},
        )
        got = list(page.get(key) or [])
        items += got
        offset += len(got)
        if not got or offset >= int(page.get("total_items") or 0) or len(items) >= limit:
            break
    return items[:limit]


# -- errors ---------------------------------------------------------------------------------


def parse_error(response: httpx.Response, body: Any) -> CellwrightError | None:
    """Problem Details into our errors: the fields Mailchimp names become input errors.

    ``{"type", "title", "status", "detail", "instance", "errors": [{"field", "message"}]}``
    (spec ``Problem_Detail_Document``; https://mailchimp.com/developer/marketing/docs/errors/).
    A 400 that names no field ("Member Exists") is reported with its title, and not retried;
    a 401 means the key is wrong; a 403 that the key's user (its role) may not do this.
    The rest (429, 404, 5xx) is left to the SDK's mapping, which reads ``detail``.
    """
    if response.status_code < 400 or not isinstance(body, Mapping):
        return None
    title = str(body.get("title") or "")
    detail = str(body.get("detail") or "")
    fields = [
        e for e in body.get("errors") or [] if isinstance(e, Mapping) and e.get("field") is not None
    ]
    if response.status_code == 400 and fields:
        errors = [
            {
                "field": str(e["field"]),
                "message": str(e.get("message") or detail),
                "type": "invalid",
            }
            for e in fields
        ]
        named = "; ".join(f"{e['field'] or '(the request)'}: {e['message']}" for e in errors)
        return InvalidInputError(
            f"mailchimp: {title or 'Invalid Resource'} — {named}", errors=errors
        )
    if response.status_code == 401:
        return AuthError(
            f"mailchimp: HTTP 401 {title} — {detail} The connection's credentials were refused; "
            "check or reconnect it.",
            status=401,
        )
    if response.status_code == 400:  # "Member Exists", "Bad Request": the title says what kind
        return UpstreamError(f"mailchimp: HTTP 400 {title} — {detail}", status=400, body=body)
    if response.status_code == 403:
        # not an AuthError: the key works (other operations may be allowed), so the
        # connection must not be marked broken
        return UpstreamError(
            f"mailchimp: HTTP 403 {title} — {detail} This Mailchimp user (or key) may not do this: "
            "check its role in Mailchimp, or connect with an owner's or admin's key.",
            status=403,
            body=body,
        )
    return None
