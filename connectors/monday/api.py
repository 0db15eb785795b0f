"""How monday.com's GraphQL API is called and how it fails.

One endpoint, ``POST https://api.monday.com/v2``, with ``{"query", "variables"}`` and the
``API-Version`` header pinned (a call without it silently gets whatever version is
current). Application errors come back as HTTP 200 with ``errors[]`` (each with
``extensions.code``, ``status_code``, ``error_data``), rate limits as 429 with
``Retry-After`` and ``extensions.retry_in_seconds``
(https://developer.monday.com/api-reference/docs/errors,
https://developer.monday.com/api-reference/docs/rate-limits).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
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
from connectors.sdk.http import parse_retry_after

API_VERSION = "2026-10"
BASE_URL = "https://api.monday.com"
ENDPOINT = "/v2"

RATE_LIMIT_CODES = frozenset(
    {
        "COMPLEXITY_BUDGET_EXHAUSTED",
        "ComplexityException",
        "RATE_LIMIT_EXCEEDED",
        "Rate Limit Exceeded",
        "DAILY_LIMIT_EXCEEDED",
        "maxConcurrencyExceeded",
        "IP_RATE_LIMIT_EXCEEDED",
    }
)
AUTH_CODES = frozenset({"Unauthorized", "UNAUTHORIZED", "Not Authenticated", "INVALID_TOKEN"})
HINTS = {
    "ColumnValueException": (
        "the value does not fit the column (check the column's type and labels)"
    ),
    "InvalidColumnIdException": "no column with that ID on the board",
    "InvalidBoardIdException": "no board with that ID, or the token cannot see it",
    "InvalidItemIdException": "no item with that ID",
    "ResourceNotFoundException": "not found, or the token cannot see it",
    "UserUnauthorizedException": (
        "the token's user lacks permission for this (board permissions or OAuth scopes)"
    ),
    "CursorExpiredError": "the pagination cursor expired (cursors live 60 minutes)",
}

PAGE_SIZE = 100
"""Items per page when following cursors (monday allows up to 500)."""

ITEM_FIELDS = """
fragment ItemFields on Item {
  id
  name
  state
  created_at
  updated_at
  url
  board { id name }
  group { id title }
  parent_item { id }
  column_values { id type text value column { title } }
}
"""


async def gql(
    ctx: OperationContext, query: str, variables: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Run one GraphQL document; returns ``data`` (errors were raised by ``error_parser``)."""
    body = await ctx.http.post(ENDPOINT, json={"query": query, "variables": dict(variables or {})})
    data = body.get("data") if isinstance(body, Mapping) else None
    if not isinstance(data, dict):
        raise UpstreamError("monday.com answered without data.", body=body)
    return data


def _seconds_to_utc_midnight() -> float:
    now = datetime.now(UTC)
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return (midnight - now).total_seconds()


def _retry_after(
    response: httpx.Response, code: str, extensions: Mapping[str, Any], message: str
) -> float | None:
    if isinstance(extensions.get("retry_in_seconds"), int | float):
        return float(extensions["retry_in_seconds"])
    header = parse_retry_after(response.headers.get("retry-after"))
    if header is not None:
        return header
    legacy = re.search(r"reset in (\d+) seconds?", message)  # ComplexityException (API ≤ 2024-10)
    if legacy:
        return float(legacy.group(1))
    return _seconds_to_utc_midnight() if code == "DAILY_LIMIT_EXCEEDED" else None


def error_parser(response: httpx.Response, body: Any) -> CellwrightError | None:
    """Classify ``errors[]`` (and the legacy ``error_code``/``error_message`` shape)."""
    if not isinstance(body, Mapping):
        return None
    errors = body.get("errors")
    if not errors and not body.get("error_code") and not body.get("error_message"):
        return None
    first: Any = errors[0] if isinstance(errors, list) and errors else {}
    if not isinstance(first, Mapping):
        first = {"message": str(first)}
    extensions = first.get("extensions") or {}
    code = str(extensions.get("code") or body.get("error_code") or "")
    message = str(first.get("message") or body.get("error_message") or code or "unknown error")
    status = int(extensions.get("status_code") or body.get("status_code") or response.status_code)
    if code in RATE_LIMIT_CODES or 429 in (status, response.status_code):
        retry_after = _retry_after(response, code, extensions, message)
        return RateLimitedError(
            f"monday.com: {message} ({code or 'rate limited'}).", retry_after=retry_after, code=code
        )
    if 401 in (status, response.status_code) or code in AUTH_CODES:
        return AuthError(
            "monday.com refused the API token. Check the connection (Developer Center → My "
            "access tokens) or reconnect it.",
            code=code,
        )
    error_data = extensions.get("error_data") or {}
    named = ", ".join(
        f"{key}: {value}"
        for key, value in (error_data.items() if isinstance(error_data, Mapping) else ())
        if key in ("column_id", "column_type", "item_id", "board_id", "group_id")
    )
    more = f" ({len(errors)} errors)" if isinstance(errors, list) and len(errors) > 1 else ""
    shown = "; ".join(d for d in (HINTS.get(code, ""), named) if d)
    return UpstreamError(
        f"monday.com: {message}"
        + (f" [{code}]" if code else "")
        + (f" — {shown}" if shown else "")
        + more,
        status=status,
        body=dict(body),
        code=code,
    )


def _json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def item_output(raw: Mapping[str, Any]) -> dict[str, Any]:
    """An item as the connector's outputs show it: column texts by id and by title."""
    values = []
    for column in raw.get("column_values") or []:
        title = (column.get("column") or {}).get("title") or column["id"]
        values.append(
            {
                "id": column["id"],
                "title": title,
                "type": column.get("type"),
                "text": column.get("text"),
                "value": _json(column.get("value")),
            }
        )
    board, group, parent = (
        raw.get("board") or {},
        raw.get("group") or {},
        raw.get("parent_item") or {},
    )
    return {
        "id": str(raw["id"]),
        "name": raw.get("name") or "",
        "board_id": board.get("id"),
        "board_name": board.get("name"),
        "group_id": group.get("id"),
        "group_title": group.get("title"),
        "parent_item_id": parent.get("id"),
        "state": raw.get("state"),
        "url": raw.get("url"),
        "created_at": raw.get("created_at"),
        "updated_at": raw.get("updated_at"),
        "columns": {v["id"]: v["text"] for v in values},
        "columns_by_title": {v["title"]: v["text"] for v in values},
        "column_values": values,
    }


BOARD_COLUMNS = (
    "query BoardColumns($board: [ID!]) "
    "{ boards(ids: $board) { id columns { id title type settings_str } } }"
)
NEXT_PAGE = (
    ITEM_FIELDS
    + """query NextPage($cursor: String!, $limit: Int!) {
  complexity { before after reset_in_x_seconds }
  next_items_page(cursor: $cursor, limit: $limit) { cursor items { ...ItemFields } }
}"""
)


def input_error(field: str, message: str) -> InvalidInputError:
    return InvalidInputError(message, errors=[{"field": field, "message": message}])


async def board_columns(ctx: OperationContext, board_id: str) -> list[dict[str, Any]]:
    """The board's columns (id, title, type, settings)."""
    boards = (await gql(ctx, BOARD_COLUMNS, {"board": [board_id]})).get("boards") or []
    if not boards:
        raise input_error(
            "board_id", f"There is no board {board_id}, or the connection cannot see it."
        )
    return list(boards[0].get("columns") or [])


def budget_low(complexity: Mapping[str, Any] | None) -> bool:
    """True when the minute's complexity budget would not cover two more pages like this one."""
    if not complexity:
        return False
    cost = int(complexity.get("before", 0)) - int(complexity.get("after", 0))
    return int(complexity.get("after", 0)) < 2 * cost


async def collect(
    ctx: OperationContext, first: Mapping[str, Any], complexity: Any, limit: int
) -> list[dict[str, Any]]:
    """Items of a first page plus following pages (``next_items_page``) up to ``limit``."""
    items = list(first.get("items") or [])
    cursor = first.get("cursor")
    while cursor and len(items) < limit and not budget_low(complexity):
        data = await gql(
            ctx, NEXT_PAGE, {"cursor": cursor, "limit": min(PAGE_SIZE, limit - len(items))}
        )
        page, complexity = data["next_items_page"], data.get("complexity")
        items.extend(page.get("items") or [])
        cursor = page.get("cursor")
    if cursor and len(items) < limit:
        ctx.logger.warning(
            "monday.com: stopped paging early to spare the complexity budget (%s)", complexity
        )
    return items[:limit]
