"""Talking to Stripe: the version pin, form encoding, idempotency keys, pagination, errors.

Stripe's v1 API takes ``application/x-www-form-urlencoded`` bodies with bracket notation
for nested values (``metadata[plan]=pro``, ``line_items[0][price]=price_1``) and answers
JSON. Every POST carries the context's idempotency key, so a retried or resumed run
replays Stripe's saved answer instead of creating a second object.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import httpx

from connectors.sdk import CellwrightError, InvalidInputError, OperationContext, UpstreamError

STRIPE_VERSION = "2026-07-29.dahlia"
"""Pinned API version: the one the stored fixtures (stripe/openapi, 2026-07-29) describe.
Webhook endpoints are created with the same version so events arrive in that shape."""

FORM = "application/x-www-form-urlencoded"
MAX_PAGES = 100
"""Pages one ``list_all`` follows at most. Stripe may answer short pages that still say
``has_more``, so the walk follows ``has_more`` and counts pages, not objects."""


def form_pairs(data: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """Flatten nested data into Stripe's bracket notation; ``None`` values are left out."""
    pairs: list[tuple[str, str]] = []
    for key, value in data.items():
        name = f"{prefix}[{key}]" if prefix else str(key)
        pairs.extend(_pairs(name, value))
    return pairs


def _pairs(name: str, value: Any) -> list[tuple[str, str]]:
    if value is None:
        return []
    if isinstance(value, Mapping):
        return form_pairs(value, name)
    if isinstance(value, list | tuple):
        return [pair for i, item in enumerate(value) for pair in _pairs(f"{name}[{i}]", item)]
    if isinstance(value, bool):
        return [(name, "true" if value else "false")]
    return [(name, str(value))]


def encode_form(data: Mapping[str, Any]) -> str:
    """The request body for ``data``."""
    return urlencode(form_pairs(data))


async def call(
    ctx: OperationContext,
    method: str,
    path: str,
    *,
    form: Mapping[str, Any] | None = None,
    query: Mapping[str, Any] | None = None,
    idempotency_key: str | None = None,
) -> Any:
    """One Stripe request. POSTs send ``Idempotency-Key`` (Stripe ignores it elsewhere):
    ``idempotency_key``, else the context's."""
    headers: dict[str, str] = {}
    kwargs: dict[str, Any] = {}
    if form is not None:
        headers["Content-Type"] = FORM
        kwargs["content"] = encode_form(form)
    if query:
        kwargs["params"] = form_pairs(query)
    key = idempotency_key or ctx.idempotency_key
    if method == "POST" and key:
        headers["Idempotency-Key"] = key
    return await ctx.http.json(method, path, headers=headers, **kwargs)


async def list_all(
    ctx: OperationContext, path: str, query: Mapping[str, Any], *, limit: int = 100
) -> list[dict[str, Any]]:
    """Every object of a list endpoint (newest first), following ``starting_after``."""
    items: list[dict[str, Any]] = []
    params = {**query, "limit": limit}
    for _ in range(MAX_PAGES):
        page = await call(ctx, "GET", path, query=params)
        items.extend(page["data"])
        if not page.get("has_more") or not page["data"]:
            return items
        params["starting_after"] = page["data"][-1]["id"]
    ctx.logger.warning(
        "stripe: stopped listing %s after %d pages (%d objects); more remain",
        path,
        MAX_PAGES,
        len(items),
    )
    return items


def parse_error(response: httpx.Response, body: Any) -> CellwrightError | None:
    """Stripe's ``{"error": {...}}``: a rejected parameter becomes an input error naming it.

    A restricted key refused (403) becomes an error that says what to change. Everything
    else (401, 404, 429, 5xx) is left to the SDK's mapping, which reads ``error.message``.
    """
    if response.status_code not in (400, 403) or not isinstance(body, Mapping):
        return None
    error = body.get("error")
    if response.status_code == 403 and isinstance(error, Mapping):
        permission = re.search(r"'(rak_\w+)'", str(error.get("message", "")))
        needed = f" It needs the permission {permission.group(1)}." if permission else ""
        return UpstreamError(
            f"stripe: the key may not do this (HTTP 403).{needed} Give the restricted key that "
            "permission (Dashboard → Developers → API keys) or connect with a secret key.",
            status=403,
            body=dict(body),
            permission=permission.group(1) if permission else None,
        )
    if (
        not isinstance(error, Mapping)
        or error.get("type") != "invalid_request_error"
        or not error.get("param")
    ):
        return None
    param, message = str(error["param"]), str(error.get("message", "invalid value"))
    return InvalidInputError(
        f"stripe: {message} (parameter '{param}')",
        errors=[
            {
                "field": param,
                "message": message,
                "type": str(error.get("code") or "invalid_request_error"),
            }
        ],
    )
