"""Where monday.com fields' choices come from: boards, a board's groups and columns."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.monday.api import board_columns, gql
from connectors.sdk import OperationContext, Option, OptionSource

BOARDS = "query Boards($limit: Int, $page: Int) { boards(limit: $limit, page: $page) { id name } }"
BOARD_GROUPS = "query BoardGroups($board: [ID!]) { boards(ids: $board) { id groups { id title } } }"
PAGE = 100
MAX_PAGES = 10  # 1,000 boards: a longer dropdown helps nobody, and each page costs complexity


async def boards(ctx: OperationContext, values: Mapping[str, Any]) -> list[Option]:
    """The boards the connection can see (``boards``, page by page)."""
    found: list[Option] = []
    for page in range(1, MAX_PAGES + 1):
        batch = (await gql(ctx, BOARDS, {"limit": PAGE, "page": page})).get("boards") or []
        found += [Option(value=str(b["id"]), label=f"{b['name']} ({b['id']})") for b in batch if b]
        if len(batch) < PAGE:
            break
    return found


async def groups(ctx: OperationContext, values: Mapping[str, Any]) -> list[Option]:
    """The groups of the board in ``board_id``."""
    board = str(values["board_id"])
    found = (await gql(ctx, BOARD_GROUPS, {"board": [board]})).get("boards") or []
    return [
        Option(value=str(g["id"]), label=str(g["title"]))
        for b in found
        for g in b.get("groups") or []
    ]


def _columns(types: frozenset[str] | None) -> Any:
    async def fetch(ctx: OperationContext, values: Mapping[str, Any]) -> list[Option]:
        columns = await board_columns(ctx, str(values["board_id"]))
        return [
            Option(value=str(c["id"]), label=f"{c['title']} ({c['type']})")
            for c in columns
            if types is None or c.get("type") in types
        ]

    fetch.__doc__ = "The columns of the board in ``board_id``" + (
        f" of type {', '.join(sorted(types))}." if types else "."
    )
    return fetch


BOARD = {"board_id": "1234567890"}  # the sandbox's demo board

OPTIONS: tuple[OptionSource, ...] = (
    OptionSource(key="boards", name="monday.com boards", fetch=boards),
    OptionSource(
        key="groups", name="groups of the board", fetch=groups, needs=("board_id",), example=BOARD
    ),
    OptionSource(
        key="columns",
        name="columns of the board",
        fetch=_columns(None),
        needs=("board_id",),
        example=BOARD,
    ),
    OptionSource(
        key="status_columns",
        name="status columns of the board",
        fetch=_columns(frozenset({"status"})),
        needs=("board_id",),
        example=BOARD,
    ),
)
