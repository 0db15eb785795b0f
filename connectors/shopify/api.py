"""How Shopify's Admin GraphQL API is called and how it fails.

One endpoint per shop, ``POST https://{shop}.myshopify.com/admin/api/{version}/graphql.json``
(https://shopify.dev/docs/api/admin-graphql), with ``{"query", "variables"}``:

- The version is pinned in the path. Shopify releases one every quarter and supports each
  for at least twelve months (https://shopify.dev/docs/api/usage/versioning). The schema
  we validate against (``tests/specs/shopify/``) is Shopify's ``unstable`` dump; every
  field and argument the connector uses exists in 2026-10, the newest stable version when
  this was written (supported until October 2027). A retired version is not refused: Shopify
  "falls forward" to the oldest supported one and says so in ``X-Shopify-API-Version``,
  which ``gql`` logs, so bump ``API_VERSION`` when that warning shows up.
- Query cost is rate limited per app and shop with a leaky bucket
  (https://shopify.dev/docs/apps/build/apis/graphql-admin/rate-limits): every answer
  carries ``extensions.cost.throttleStatus`` ``{maximumAvailable, currentlyAvailable,
  restoreRate}``; when the bucket cannot pay for a query the answer is HTTP 200 with
  ``errors[].extensions.code == "THROTTLED"``. ``gql`` then waits exactly as long as the
  bucket needs to refill for the query's cost and retries (short waits), or raises
  ``RateLimitedError`` with that delay for the engine's retry.
- Missing scopes are ``ACCESS_DENIED`` (HTTP 200); a refused token is HTTP 401; business
  errors of a mutation are its ``userErrors { field message }`` with HTTP 200, which
  ``result`` turns into ``InvalidInputError`` naming the input field.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import httpx

from connectors.sdk import (
    AuthError,
    CellwrightError,
    InvalidInputError,
    OperationContext,
    RateLimitedError,
    UpstreamError,
)

API_VERSION = "2026-10"
ENDPOINT = f"/admin/api/{API_VERSION}/graphql.json"

MAX_QUERY_COST = 1000
"""Shopify refuses a single query that may cost more (``MAX_COST_EXCEEDED``): page sizes are
chosen per query to stay under it (a connection costs 2 + ``first`` × each node's cost)."""
MAX_INLINE_WAIT_SECONDS = 10.0
"""A throttled call waits this long at most before retrying in place; longer waits go back
to the engine as ``RateLimitedError`` (its retry honours ``retry_after``)."""
THROTTLE_RETRIES = 3

sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
"""How ``gql`` waits for the bucket (tests replace it to see the delay without waiting)."""

_SHOP = re.compile(r"^[a-z0-9][a-z0-9-]*\.myshopify\.com$")


def shop_host(value: Any, field: str = "shop") -> str:
    """``acme.myshopify.com`` from ``acme``, ``acme.myshopify.com`` or ``https://acme.myshopify.com/``.

    Shopify's API and OAuth endpoints live on the shop's permanent ``*.myshopify.com``
    domain, never on a custom domain (https://shopify.dev/docs/apps/build/authentication-authorization).
    """
    text = str(value or "").strip().lower()
    text = re.sub(r"^https?://", "", text).split("/", 1)[0]
    if text and "." not in text:
        text = f"{text}.myshopify.com"
    if not _SHOP.match(text):
        message = (
            f"'{value}' is not a Shopify shop domain: give the shop's permanent address, "
            "e.g. acme.myshopify.com (Settings → Domains shows it), not a custom domain."
        )
        raise InvalidInputError(message, errors=[{"field": field, "message": message}])
    return text


def base_url(credentials: Mapping[str, Any]) -> str:
    """``App.base_url``: the shop's origin (operations add ``/admin/api/<version>/…``)."""
    return f"https://{shop_host(credentials.get('shop'))}"


# -- calling ------------------------------------------------------------------------------------


async def gql(
    ctx: OperationContext, query: str, variables: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Run one GraphQL document; returns ``data`` (errors were raised by ``error_parser``).

    A ``THROTTLED`` answer is retried after the wait its ``throttleStatus`` implies, when
    that wait is short.
    """
    body = {"query": query, "variables": dict(variables or {})}
    for attempt in range(THROTTLE_RETRIES + 1):
        try:
            response = await ctx.http.request("POST", ENDPOINT, json=body)
        except RateLimitedError as error:
            wait = error.retry_after
            if attempt == THROTTLE_RETRIES or wait is None or wait > MAX_INLINE_WAIT_SECONDS:
                raise
            ctx.logger.info("shopify: throttled, waiting %.1f s for the cost bucket", wait)
            await sleep(wait)
            continue
        served = response.headers.get("x-shopify-api-version")
        if served and served != API_VERSION:
            ctx.logger.warning(
                "shopify: asked for API version %s, the shop answered with %s (the pinned "
                "version is retired: update connectors/shopify/api.py API_VERSION)",
                API_VERSION,
                served,
            )
        payload = response.json()
        data = payload.get("data") if isinstance(payload, Mapping) else None
        if not isinstance(data, dict):
            raise UpstreamError("Shopify answered without data.", body=payload)
        return data
    raise AssertionError("unreachable")  # pragma: no cover


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


ARGUMENTS = frozenset({"input", "product", "fulfillment", "webhookSubscription"})
"""The mutations' input arguments: a ``userErrors.field`` path may start with one."""


def user_error_field(path: Any, fields: Mapping[str, str] | None = None) -> str:
    """Our input field for a Shopify ``userErrors.field`` path
    (``["product", "title"]`` → ``title``).

    A leading argument name is dropped, the rest named as our inputs do (camelCase →
    snake_case); ``fields`` maps Shopify names the inputs call otherwise.
    """
    parts = [str(p) for p in (path or [])]
    if (
        parts and parts[0] in ARGUMENTS
    ):  # Shopify names the argument for some mutations, not for others
        parts = parts[1:]
    named: list[str] = []
    dropped = False
    for part in parts:
        if part.isdigit():  # a list index: kept unless its list has no field of its own
            if not dropped:
                named.append(part)
            continue
        mapped = (fields or {}).get(part, _snake(part))
        dropped = mapped == ""  # a wrapper our inputs flatten (e.g. ``changes`` of an adjustment)
        if mapped:
            named.append(mapped)
    return ".".join(named) or "input"


def result(
    data: Mapping[str, Any], mutation: str, fields: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """A mutation's payload; its ``userErrors`` (HTTP 200) become ``InvalidInputError``."""
    payload = data.get(mutation)
    if not isinstance(payload, Mapping):
        raise UpstreamError(f"Shopify returned no result for {mutation}.", body=dict(data))
    errors = payload.get("userErrors") or []
    if errors:
        named = [
            {
                "field": user_error_field(e.get("field"), fields),
                "message": str(e.get("message")),
                "code": e.get("code"),
            }
            for e in errors
        ]
        shown = "; ".join(f"{e['field']}: {e['message']}" for e in named)
        raise InvalidInputError(f"Shopify refused {mutation}: {shown}", errors=named)
    return dict(payload)


async def pages(
    ctx: OperationContext,
    query: str,
    variables: Mapping[str, Any],
    root: str,
    limit: int,
    page_size: int,
) -> list[dict[str, Any]]:
    """Nodes of a connection (``root``), following ``pageInfo.endCursor`` up to ``limit``.

    A short or even empty page with ``hasNextPage`` is followed, as Shopify asks
    (https://shopify.dev/docs/api/usage/pagination-graphql): filtered pages can be short.
    """
    nodes: list[dict[str, Any]] = []
    cursor: str | None = None
    while len(nodes) < limit:
        data = await gql(
            ctx, query, {**variables, "first": min(page_size, limit - len(nodes)), "after": cursor}
        )
        connection = data.get(root) or {}
        nodes.extend(connection.get("nodes") or [])
        info = connection.get("pageInfo") or {}
        cursor = info.get("endCursor")
        if not info.get("hasNextPage") or not cursor:
            break
    return nodes[:limit]


# -- errors -------------------------------------------------------------------------------------


def throttle_wait(cost: Mapping[str, Any] | None) -> float | None:
    """Seconds until the bucket holds the query's requested cost again."""
    if not isinstance(cost, Mapping):
        return None
    status = cost.get("throttleStatus") or {}
    try:
        needed = float(cost.get("requestedQueryCost") or 0)
        available = float(status.get("currentlyAvailable") or 0)
        rate = float(status.get("restoreRate") or 0)
    except (TypeError, ValueError):
        return None
    if rate <= 0:
        return None
    if needed <= available:
        return 0.0
    return (
        math.ceil((needed - available) / rate * 100) / 100
    )  # rounded up: never retry a moment too soon


def error_parser(response: httpx.Response, body: Any) -> CellwrightError | None:
    """Classify Shopify's answers: 401, ``THROTTLED``, ``ACCESS_DENIED``, other ``errors``."""
    if not isinstance(body, Mapping):
        if response.status_code == 404:
            return _not_found(response)
        return None
    errors = body.get("errors")
    if response.status_code == 401:
        return AuthError(
            "Shopify refused the access token (HTTP 401). Check the connection's token, "
            "or reconnect it.",
            status=401,
        )
    if response.status_code == 404:
        return _not_found(response)
    if not errors:
        return None
    if isinstance(errors, str):  # REST-style {"errors": "..."} (e.g. 402 shop frozen, 423 locked)
        return UpstreamError(
            f"Shopify: {errors} (HTTP {response.status_code})",
            status=response.status_code,
            body=dict(body),
        )
    first: Any = errors[0] if isinstance(errors, list) and errors else {}
    first = first if isinstance(first, Mapping) else {"message": str(first)}
    extensions = first.get("extensions") or {}
    code = str(extensions.get("code") or "")
    message = str(first.get("message") or code or "unknown error")
    if code == "THROTTLED":
        cost = (body.get("extensions") or {}).get("cost")
        wait = throttle_wait(cost)
        return RateLimitedError(
            f"Shopify: the shop's query cost budget is spent ({message}); "
            f"it refills in about {wait or 1:g} s.",
            retry_after=wait if wait is not None else 1.0,
            code=code,
        )
    if code == "ACCESS_DENIED":
        required = extensions.get("requiredAccess")
        hint = f" It needs {required}." if required and str(required) not in message else ""
        return AuthError(
            f"Shopify: {message}{hint} Give the app that scope (custom app: Admin API scopes; "
            "OAuth: reconnect).",
            code=code,
        )
    more = f" ({len(errors)} errors)" if isinstance(errors, list) and len(errors) > 1 else ""
    return UpstreamError(
        f"Shopify: {message}" + (f" [{code}]" if code else "") + more,
        status=response.status_code,
        body=dict(body),
        code=code,
    )


def _not_found(response: httpx.Response) -> UpstreamError:
    error = UpstreamError(
        f"Shopify answered 404 for {response.request.url.path}: the shop does not serve API "
        f"version {API_VERSION} (or the shop does not exist).",
        status=404,
    )
    error.retryable = False
    return error


__all__ = [
    "API_VERSION",
    "ENDPOINT",
    "base_url",
    "error_parser",
    "gql",
    "pages",
    "result",
    "shop_host",
    "throttle_wait",
    "user_error_field",
]
