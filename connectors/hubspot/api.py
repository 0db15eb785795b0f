"""Talking to HubSpot: the date-versioned paths, search paging, and HubSpot's error shape.

Every CRM call goes to ``https://api.hubapi.com`` under a *date version* in the path
(``/crm/objects/2026-03/contacts``; new versions each March and September, each
supported for at least 18 months:
https://developers.hubspot.com/docs/api-reference/2026-03/overview). The version is
pinned here, once.

Errors come as ``{"status": "error", "message", "correlationId", "category",
"subCategory", "errors": [{"message", "code", "in", "context"}], "context", "links"}``
(https://developers.hubspot.com/docs/api-reference/latest/error-handling); every field is
treated as optional. ``error_parser`` turns the categories a user can act on into clear
errors: a missing scope names the scope, a duplicate names the existing record, an
invalid property names the property, a rate limit carries when to retry.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from connectors.sdk import (
    AuthError,
    AuthExpiredError,
    CellwrightError,
    InvalidInputError,
    OperationContext,
    RateLimitedError,
    UpstreamError,
)
from connectors.sdk.http import parse_retry_after

BASE_URL = "https://api.hubapi.com"
VERSION = "2026-03"
"""The pinned date version of every path (HubSpot's 2026-03 release)."""

PAGE_LIMIT = 100
"""The largest page the list and search endpoints give (search: 200; we ask for 100)."""
MAX_PAGES = 20
"""Pages one poll or lookup follows at most (2,000 records; search stops at 10,000)."""
TEN_SECONDS = 10.0
"""HubSpot's rate limits are per rolling 10-second window (per second for search)."""

OBJECT_TYPES = ("contacts", "companies", "deals", "tickets", "notes", "tasks")
"""The CRM object types the actions name (``{objectType}`` in the paths)."""


def objects(object_type: str, *parts: str) -> str:
    """``/crm/objects/2026-03/{objectType}/…``."""
    return "/".join((f"/crm/objects/{VERSION}/{object_type}", *parts)).rstrip("/")


def as_property(value: Any) -> str:
    """A CRM property value the way HubSpot stores it: a string (booleans ``true``/``false``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def properties(named: Mapping[str, Any], extra: Mapping[str, Any] | None = None) -> dict[str, str]:
    """The ``properties`` object of a write: named fields first, ``extra`` may add more;
    ``None`` values are left out (HubSpot would clear the property)."""
    merged = {**(extra or {}), **{k: v for k, v in named.items() if v is not None}}
    return {key: as_property(value) for key, value in merged.items() if value is not None}


async def search(
    ctx: OperationContext,
    object_type: str,
    body: Mapping[str, Any],
    *,
    max_pages: int = MAX_PAGES,
) -> list[dict[str, Any]]:
    """Every result of ``POST /crm/objects/2026-03/{objectType}/search``, following
    ``paging.next.after``. A page may be short or even empty and still carry a cursor
    (HubSpot filters after paging), so only a missing cursor ends the walk."""
    found: list[dict[str, Any]] = []
    after: str | None = None
    for _ in range(max_pages):
        request = {**body, "limit": body.get("limit", PAGE_LIMIT)}
        if after is not None:
            request["after"] = after
        page = await ctx.http.post(objects(object_type, "search"), json=request)
        found += list(page.get("results") or [])
        after = next_after(page)
        if after is None:
            break
    return found


def next_after(page: Mapping[str, Any]) -> str | None:
    """``paging.next.after``, or ``None`` on the last page."""
    paging = page.get("paging") or {}
    cursor = (paging.get("next") or {}).get("after")
    return str(cursor) if cursor not in (None, "") else None


# -- errors -------------------------------------------------------------------------------


def _scopes(body: Mapping[str, Any]) -> list[str]:
    needed: list[str] = []
    for error in body.get("errors") or []:
        context = error.get("context") if isinstance(error, Mapping) else None
        for key in ("requiredGranularScopes", "requiredScopes"):
            needed += [str(s) for s in (context or {}).get(key) or []]
    return sorted(set(needed))


def _fields(body: Mapping[str, Any]) -> list[str]:
    """Property or parameter names a validation error points at."""
    names: list[str] = []
    for error in body.get("errors") or []:
        if not isinstance(error, Mapping):
            continue
        context = error.get("context") or {}
        names += [str(n) for n in context.get("propertyName") or []]
        names += [str(k) for k in context if k not in ("propertyName", "requiredGranularScopes")]
    names += [str(k) for k in (body.get("context") or {}) if k != "propertyName"]
    return list(dict.fromkeys(names))


def retry_after(response: httpx.Response, body: Mapping[str, Any]) -> float:
    """When to retry a 429: ``Retry-After`` when sent, else the window of the limit hit
    (the search endpoints' is a second, the others' ten seconds)."""
    given = parse_retry_after(response.headers.get("retry-after"))
    if given is not None:
        return given
    interval = response.headers.get("x-hubspot-ratelimit-interval-milliseconds", "")
    if interval.isdigit():
        return int(interval) / 1000
    return 1.0 if str(body.get("policyName", "")).upper() == "SECONDLY" else TEN_SECONDS


def error_parser(response: httpx.Response, body: Any) -> CellwrightError | None:
    """HubSpot's error categories as Cellwright errors (2xx answers pass through)."""
    status = response.status_code
    if status < 400 or not isinstance(body, Mapping):
        return None
    message = str(body.get("message") or f"HTTP {status}")
    category = str(body.get("category") or body.get("errorType") or "")
    where = f"{response.request.method} {response.request.url.path}"
    details: dict[str, Any] = {
        "category": category,
        "correlation_id": body.get("correlationId"),
        "status": status,
    }
    if status == 429:
        return RateLimitedError(
            f"HubSpot rate limit reached ({body.get('policyName') or 'rate limit'}): {message}",
            retry_after=retry_after(response, body),
            **details,
        )
    if status == 401:
        if category == "EXPIRED_AUTHENTICATION":
            return AuthExpiredError(
                f"HubSpot says the access token expired: {message} Reconnect "
                "the HubSpot connection.",
                **details,
            )
        return AuthError(
            f"HubSpot refused the connection's token: {message} Check or reconnect "
            "the HubSpot connection.",
            **details,
        )
    if category == "MISSING_SCOPES":
        scopes = _scopes(body)
        named = f" It needs: {', '.join(scopes)}." if scopes else ""
        return UpstreamError(
            f"HubSpot: the connection's token lacks a scope for {where}.{named} "
            "Add the scope to your HubSpot app (private app: Scopes tab; OAuth: "
            "reconnect after the app asks for it).",
            body=dict(body),
            scopes=scopes,
            **details,
        )
    if status == 409 or category == "CONFLICT":
        return UpstreamError(f"HubSpot: {message}", body=dict(body), **details)
    if status == 400 and category == "VALIDATION_ERROR":
        fields = _fields(body)
        return InvalidInputError(
            f"HubSpot refused the values: {message}",
            errors=[{"field": name, "message": message} for name in fields]
            or [{"field": "properties", "message": message}],
            **details,
        )
    if status == 404 and "version" in message.lower():
        return UpstreamError(
            f"HubSpot does not serve {where}: {message} Cellwright pins API version {VERSION}; "
            "if HubSpot retired it, update Cellwright.",
            body=dict(body),
            **details,
        )
    return UpstreamError(
        f"HubSpot {where} failed (HTTP {status}): {message}", body=dict(body), **details
    )
