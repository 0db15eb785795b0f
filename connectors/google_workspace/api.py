"""Talking to Google's APIs: the four roots, quota back-off, pagination, errors.

Sheets, Gmail, Drive and Calendar live on three hosts (``rootUrl`` + ``servicePath`` of
each discovery document in shared/specs/google/), so every call names its absolute URL
through the roots below and the app declares no single ``base_url``. The roots' paths do
not overlap (``/v4/spreadsheets``, ``/gmail/v1``, ``/drive/v3``, ``/upload/drive/v3``,
``/calendar/v3``, ``/oauth2/v2``, ``/token``), which is what lets one simulator answer
all of them: a sandbox client sends every request to it whatever the host, and it
routes by path alone (also when mounted under ``/sandbox/google_workspace``).

Errors (https://developers.google.com/workspace/drive/api/guides/handle-errors) come as
``{"error": {"code", "message", "status", "errors": [{"domain", "reason", "message"}]}}``.
Quota errors are 429, or 403 with the reason ``rateLimitExceeded`` /
``userRateLimitExceeded``: ``call`` backs off exponentially (Google's advice: 1, 2, 4 s
plus jitter) a few times within the call, then raises ``RateLimitedError`` so the engine
retries the cell later. A 403 for a scope the user never granted says which service to
reconnect for.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Mapping
from typing import Any

import httpx

from connectors.sdk import CellwrightError, OperationContext, RateLimitedError, UpstreamError
from connectors.sdk.http import parse_retry_after

SHEETS = "https://sheets.googleapis.com/v4/spreadsheets"
GMAIL = "https://gmail.googleapis.com/gmail/v1/users/me"
DRIVE = "https://www.googleapis.com/drive/v3"
DRIVE_UPLOAD = "https://www.googleapis.com/upload/drive/v3/files"
CALENDAR = "https://www.googleapis.com/calendar/v3"
USERINFO = "https://www.googleapis.com/oauth2/v2/userinfo"
HOSTS = (
    "sheets.googleapis.com",
    "gmail.googleapis.com",
    "www.googleapis.com",
    "oauth2.googleapis.com",
)

QUOTA_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded"})
SCOPE_REASONS = frozenset({"insufficientPermissions", "ACCESS_TOKEN_SCOPE_INSUFFICIENT"})
BACKOFF_TRIES = 3
"""Quota answers retried within one call (after 1, 2, 4 s); then the engine's retry takes over."""
BACKOFF_MAX_SECONDS = 8.0
MAX_PAGES = 20

SERVICES = {
    "sheets.googleapis.com": "Google Sheets",
    "gmail.googleapis.com": "Gmail",
    "/drive/": "Google Drive",
    "/calendar/": "Google Calendar",
}

sleep = asyncio.sleep  # tests replace it to record the back-off instead of waiting


def error_reasons(body: Any) -> set[str]:
    """The ``reason`` of each entry of Google's ``error.errors`` (and ``error.details``)."""
    error = body.get("error") if isinstance(body, Mapping) else None
    if not isinstance(error, Mapping):
        return set()
    found = {
        str(e.get("reason"))
        for e in error.get("errors") or []
        if isinstance(e, Mapping) and e.get("reason")
    }
    found |= {
        str(d.get("reason"))
        for d in error.get("details") or []
        if isinstance(d, Mapping) and d.get("reason")
    }
    return found


def _message(body: Any) -> str:
    error = body.get("error") if isinstance(body, Mapping) else None
    return str(error.get("message") or "") if isinstance(error, Mapping) else ""


def service_of(url: httpx.URL) -> str:
    where = f"{url.host}{url.path}"
    return next((name for key, name in SERVICES.items() if key in where), "Google")


def parse_error(response: httpx.Response, body: Any) -> CellwrightError | None:
    """Quota 403s become ``RateLimitedError``; a missing scope says what to reconnect for.

    Everything else (401 → refresh, 404, 429, 5xx) is left to the SDK's mapping, which
    reads ``error.message`` for the text.
    """
    if response.status_code != 403:
        return None
    reasons = error_reasons(body)
    service = service_of(response.request.url)
    if reasons & QUOTA_REASONS:
        return RateLimitedError(
            f"google_workspace: {service} quota exceeded "
            f"({', '.join(sorted(reasons & QUOTA_REASONS))}): {_message(body)}",
            retry_after=parse_retry_after(response.headers.get("retry-after")),
            status=403,
        )
    if reasons & SCOPE_REASONS or "insufficient_scope" in response.headers.get(
        "www-authenticate", ""
    ):
        error = UpstreamError(
            f"google_workspace: the connection was not granted access to {service} (insufficient "
            f"scope). Reconnect the Google Workspace connection and allow {service} "
            "on Google's consent page.",
            status=403,
            body=body,
        )
        return error
    return None


async def call(ctx: OperationContext, method: str, url: str, **kwargs: Any) -> Any:
    """One Google API request (JSON answer), backing off on quota errors."""
    for attempt in range(BACKOFF_TRIES + 1):
        try:
            return await ctx.http.json(method, url, **kwargs)
        except RateLimitedError as error:
            if attempt == BACKOFF_TRIES:
                raise
            jitter = random.uniform(0, 1)  # noqa: S311 - jitter, not crypto
            delay = error.retry_after if error.retry_after is not None else 2.0**attempt + jitter
            await sleep(min(delay, BACKOFF_MAX_SECONDS))
    raise AssertionError("unreachable")  # pragma: no cover


async def pages(
    ctx: OperationContext,
    url: str,
    params: Mapping[str, Any],
    key: str,
    *,
    limit: int,
    max_pages: int = MAX_PAGES,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Items under ``key`` of every page (``pageToken`` → ``nextPageToken``) up to ``limit``,
    and the last page (for ``nextSyncToken``). Pages may be short or empty and still
    carry a token: only a missing token ends the list."""
    items: list[dict[str, Any]] = []
    query = {k: v for k, v in params.items() if v is not None}
    page: dict[str, Any] = {}
    for _ in range(max_pages):
        page = await call(ctx, "GET", url, params=query) or {}
        items.extend(page.get(key) or [])
        token = page.get("nextPageToken")
        if not token or len(items) >= limit:
            break
        query["pageToken"] = token
    return items[:limit], page


def quoted(value: str) -> str:
    """A value inside single quotes of a Drive ``q`` expression."""
    return value.replace("\\", "\\\\").replace("'", "\\'")
