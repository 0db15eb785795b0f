"""How Slack's Web API is called and how it fails.

Every method is ``https://slack.com/api/{method}``; arguments go form-encoded (every
method in the spec accepts ``application/x-www-form-urlencoded``), the token as
``Authorization: Bearer``. Slack answers HTTP 200 with ``{"ok": false, "error": ...}``
for almost every failure, so ``error_parser`` (the App's hook) classifies by the
``error`` code, not by the status; only rate limits also come as HTTP 429 with
``Retry-After``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal

import httpx

from connectors.sdk import (
    AuthError,
    AuthExpiredError,
    CellwrightError,
    OperationContext,
    RateLimitedError,
    UpstreamError,
)
from connectors.sdk.http import parse_retry_after

BASE_URL = "https://slack.com/api"

AUTH_ERRORS = frozenset({"invalid_auth", "not_authed", "token_revoked", "account_inactive"})
RATE_LIMIT_ERRORS = frozenset({"ratelimited", "rate_limited"})
TRANSIENT_ERRORS = frozenset(
    {"fatal_error", "internal_error", "request_timeout", "service_unavailable"}
)

HINTS: dict[str, str] = {
    "channel_not_found": (
        "check the channel ID; the app only sees public channels and private ones it was invited to"
    ),
    "not_in_channel": "invite the app to the channel first (/invite @your-app)",
    "is_archived": "the channel is archived",
    "no_text": "give a text or blocks",
    "msg_too_long": "the text is longer than Slack allows (40,000 characters)",
    "message_not_found": "no message with that timestamp in that channel",
    "cant_update_message": "the app can only edit messages it posted itself",
    "cant_delete_message": "the app can only delete messages it posted itself",
    "already_reacted": "the app already added this reaction to the message",
    "invalid_name": "unknown emoji name (give it without colons, e.g. thumbsup)",
    "users_not_found": "no user in the workspace has that e-mail address",
    "user_not_found": "no user with that ID",
    "invalid_cursor": "the pagination cursor is no longer valid",
    "file_not_found": "the uploaded file was not found (upload it first)",
}


def _arg(value: Any) -> str:
    """A form value the way Slack reads it: booleans as true/false, structures as JSON."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


async def call(
    ctx: OperationContext,
    method: str,
    params: Mapping[str, Any] | None = None,
    *,
    http_method: Literal["GET", "POST"] = "POST",
) -> dict[str, Any]:
    """Call one Web API method; ``None`` arguments are left out. Returns the JSON body."""
    args = {key: _arg(value) for key, value in (params or {}).items() if value is not None}
    if http_method == "GET":
        body = await ctx.http.get(f"/{method}", params=args)
    else:
        body = await ctx.http.post(f"/{method}", data=args)
    if not isinstance(body, dict):
        raise UpstreamError(
            f"Slack {method}: expected a JSON object, got {type(body).__name__}.", body=body
        )
    return body


def next_cursor(page: Mapping[str, Any]) -> str | None:
    """``response_metadata.next_cursor``; Slack marks the last page with an empty string."""
    meta = page.get("response_metadata") or {}
    return str(meta.get("next_cursor") or "") or None


def error_parser(response: httpx.Response, body: Any) -> CellwrightError | None:
    """Classify ``{"ok": false, "error": code}`` answers (any HTTP status)."""
    if not isinstance(body, Mapping) or body.get("ok") is not False:
        return None
    code = str(body.get("error") or "unknown_error")
    method = response.request.url.path.rsplit("/", 1)[-1]
    messages = [str(m) for m in (body.get("response_metadata") or {}).get("messages") or []]
    if response.status_code == 429 or code in RATE_LIMIT_ERRORS:
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        return RateLimitedError(
            f"Slack rate limited {method}; retry later.", retry_after=retry_after, slack_error=code
        )
    if code == "token_expired":
        return AuthExpiredError(
            "Slack says the access token expired (token_expired, token rotation). "
            "Reconnect the Slack connection.",
            slack_error=code,
        )
    if code in AUTH_ERRORS:
        return AuthError(
            f"Slack refused the connection's token ({code}). Check the Slack "
            "connection or reconnect it.",
            slack_error=code,
        )
    detail = HINTS.get(code, "")
    if code == "missing_scope" and body.get("needed"):
        has = f" (the token has: {body['provided']})" if body.get("provided") else ""
        detail = (
            f"the app lacks the scope '{body['needed']}'{has}; add it in the Slack "
            "app settings and reinstall"
        )
    if messages:
        detail = "; ".join(filter(None, [detail, *messages]))
    error = UpstreamError(
        f"Slack {method} failed: {code}" + (f" — {detail}" if detail else ""),
        status=response.status_code,
        body=dict(body),
        slack_error=code,
    )
    error.retryable = code in TRANSIENT_ERRORS
    return error


def slack_error_code(error: CellwrightError) -> str | None:
    """The Slack ``error`` code carried by an error from ``error_parser``."""
    code = error.details.get("slack_error")
    return str(code) if code else None
