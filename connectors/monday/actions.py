"""monday.com actions: one GraphQL document and one async function per operation.

Every document uses variables (never string-built queries), so a value can never change
a query's meaning, and tests validate each document against monday's schema.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from connectors.monday import api
from connectors.monday.api import ITEM_FIELDS, board_columns, collect, gql, item_output
from connectors.monday.columns import build_column_values
from connectors.monday.schemas import (
    CreateItemInput,
    CreateSubitemInput,
    CreateUpdateInput,
    GetItemsInput,
    Item,
    ItemList,
    ItemRef,
    ItemState,
    MoveItemInput,
    SearchItemsInput,
    UpdateColumnValuesInput,
    UpdateOutput,
)
from connectors.sdk import Action, OperationContext, UpstreamError, load_sample

SUBITEM_BOARD = """query SubitemBoard($item: [ID!]) {
  items(ids: $item) { id board { id columns(types: [subtasks]) { id settings_str } } }
}"""
CREATE_ITEM = (
    ITEM_FIELDS
    + """mutation CreateItem(
  $board: ID!, $group: String, $name: String!, $values: JSON, $labels: Boolean
) {
  create_item(
    board_id: $board, group_id: $group, item_name: $name, column_values: $values,
    create_labels_if_missing: $labels
  ) {
    ...ItemFields
  }
}"""
)
UPDATE_VALUES = (
    ITEM_FIELDS
    + """mutation UpdateValues($board: ID!, $item: ID, $values: JSON!, $labels: Boolean) {
  change_multiple_column_values(
    board_id: $board, item_id: $item, column_values: $values, create_labels_if_missing: $labels
  ) {
    ...ItemFields
  }
}"""
)
CREATE_SUBITEM = (
    ITEM_FIELDS
    + """mutation CreateSubitem($parent: ID!, $name: String!, $values: JSON, $labels: Boolean) {
  create_subitem(
    parent_item_id: $parent, item_name: $name, column_values: $values,
    create_labels_if_missing: $labels
  ) {
    ...ItemFields
  }
}"""
)
CREATE_UPDATE = """mutation CreateUpdate($item: ID, $body: String!) {
  create_update(item_id: $item, body: $body) { id item_id body text_body created_at creator_id }
}"""
MOVE_ITEM = (
    ITEM_FIELDS
    + """mutation MoveItem($item: ID, $group: String!) {
  move_item_to_group(item_id: $item, group_id: $group) { ...ItemFields }
}"""
)
ARCHIVE_ITEM = "mutation ArchiveItem($item: ID) { archive_item(item_id: $item) { id state } }"
DELETE_ITEM = "mutation DeleteItem($item: ID) { delete_item(item_id: $item) { id state } }"
GET_ITEMS = (
    ITEM_FIELDS + "query GetItems($ids: [ID!], $limit: Int) "
    "{ items(ids: $ids, limit: $limit) { ...ItemFields } }"
)
SEARCH_ITEMS = (
    ITEM_FIELDS
    + """query SearchItems($board: ID!, $columns: [ItemsPageByColumnValuesQuery!], $limit: Int!) {
  complexity { before after reset_in_x_seconds }
  items_page_by_column_values(board_id: $board, columns: $columns, limit: $limit) {
    cursor items { ...ItemFields }
  }
}"""
)


async def column_values_json(
    ctx: OperationContext,
    board_id: str | None,
    values: Mapping[str, Any],
    types: Mapping[str, str] | None,
) -> str | None:
    """``column_values`` as the JSON string monday expects; looks up untyped columns.

    Keys may be column IDs or titles; titles are turned into IDs.
    """
    if not values:
        return None
    known = dict(types or {})
    typed: dict[str, str] = {}
    keyed: dict[str, Any] = {}
    columns: list[dict[str, Any]] | None = None
    for key, value in values.items():
        if key in known:
            typed[key], keyed[key] = known[key], value
            continue
        if board_id is None:
            raise api.input_error(
                f"column_values.{key}",
                f"Give column_types for '{key}': this item has no subitems board yet.",
            )
        if columns is None:
            columns = await board_columns(ctx, board_id)
        column = next((c for c in columns if c["id"] == key), None) or next(
            (c for c in columns if c["title"].lower() == key.lower()), None
        )
        if column is None:
            available = ", ".join(f"{c['id']} ({c['title']})" for c in columns)
            raise api.input_error(
                f"column_values.{key}",
                f"Board {board_id} has no column '{key}'. Columns: {available}.",
            )
        typed[column["id"]], keyed[column["id"]] = column["type"], value
    return json.dumps(build_column_values(keyed, typed))


def _result(data: Mapping[str, Any], field: str) -> Any:
    value = data.get(field)
    if value is None:
        raise UpstreamError(f"monday.com returned no result for {field}.", body=dict(data))
    return value


async def create_item(ctx: OperationContext, inputs: CreateItemInput) -> Item:
    """Create an item with column values (``create_item``)."""
    values = await column_values_json(
        ctx, inputs.board_id, inputs.column_values, inputs.column_types
    )
    data = await gql(
        ctx,
        CREATE_ITEM,
        {
            "board": inputs.board_id,
            "group": inputs.group_id,
            "name": inputs.item_name,
            "values": values,
            "labels": inputs.create_labels_if_missing,
        },
    )
    return Item.model_validate(item_output(_result(data, "create_item")))


async def update_column_values(ctx: OperationContext, inputs: UpdateColumnValuesInput) -> Item:
    """Change several column values of an item at once (``change_multiple_column_values``)."""
    values = await column_values_json(
        ctx, inputs.board_id, inputs.column_values, inputs.column_types
    )
    data = await gql(
        ctx,
        UPDATE_VALUES,
        {
            "board": inputs.board_id,
            "item": inputs.item_id,
            "values": values,
            "labels": inputs.create_labels_if_missing,
        },
    )
    return Item.model_validate(item_output(_result(data, "change_multiple_column_values")))


async def _subitem_board(ctx: OperationContext, parent_item_id: str) -> str | None:
    items = (await gql(ctx, SUBITEM_BOARD, {"item": [parent_item_id]})).get("items") or []
    if not items:
        raise api.input_error(
            "parent_item_id", f"There is no item {parent_item_id}, or the connection cannot see it."
        )
    for column in (items[0].get("board") or {}).get("columns") or []:
        board_ids = json.loads(column.get("settings_str") or "{}").get("boardIds") or []
        if board_ids:
            return str(board_ids[0])
    return None


async def create_subitem(ctx: OperationContext, inputs: CreateSubitemInput) -> Item:
    """Create a subitem under an item (``create_subitem``); columns are the subitems board's."""
    values = None
    if inputs.column_values:
        board = await _subitem_board(ctx, inputs.parent_item_id)
        values = await column_values_json(ctx, board, inputs.column_values, inputs.column_types)
    data = await gql(
        ctx,
        CREATE_SUBITEM,
        {
            "parent": inputs.parent_item_id,
            "name": inputs.item_name,
            "values": values,
            "labels": inputs.create_labels_if_missing,
        },
    )
    return Item.model_validate(item_output(_result(data, "create_subitem")))


async def create_update(ctx: OperationContext, inputs: CreateUpdateInput) -> UpdateOutput:
    """Post an update (comment) on an item (``create_update``)."""
    update = _result(
        await gql(ctx, CREATE_UPDATE, {"item": inputs.item_id, "body": inputs.body}),
        "create_update",
    )
    return UpdateOutput.model_validate({**update, "id": str(update["id"])})


async def move_item_to_group(ctx: OperationContext, inputs: MoveItemInput) -> Item:
    """Move an item to another group of its board (``move_item_to_group``)."""
    data = await gql(ctx, MOVE_ITEM, {"item": inputs.item_id, "group": inputs.group_id})
    return Item.model_validate(item_output(_result(data, "move_item_to_group")))


async def archive_item(ctx: OperationContext, inputs: ItemRef) -> ItemState:
    """Archive an item (``archive_item``); it can be restored from the board's archive."""
    return ItemState.model_validate(
        _result(await gql(ctx, ARCHIVE_ITEM, {"item": inputs.item_id}), "archive_item")
    )


async def delete_item(ctx: OperationContext, inputs: ItemRef) -> ItemState:
    """Delete an item (``delete_item``); it stays in the board's trash for 30 days."""
    return ItemState.model_validate(
        _result(await gql(ctx, DELETE_ITEM, {"item": inputs.item_id}), "delete_item")
    )


async def get_items(ctx: OperationContext, inputs: GetItemsInput) -> ItemList:
    """Fetch items by ID (``items``)."""
    data = await gql(ctx, GET_ITEMS, {"ids": list(inputs.item_ids), "limit": len(inputs.item_ids)})
    items = [Item.model_validate(item_output(raw)) for raw in data.get("items") or []]
    return ItemList(items=items, count=len(items))


async def search_items(ctx: OperationContext, inputs: SearchItemsInput) -> ItemList:
    """Find items by column value (``items_page_by_column_values``, every page up to ``limit``)."""
    data = await gql(
        ctx,
        SEARCH_ITEMS,
        {
            "board": inputs.board_id,
            "columns": [{"column_id": inputs.column_id, "column_values": list(inputs.values)}],
            "limit": min(api.PAGE_SIZE, inputs.limit),
        },
    )
    raw = await collect(
        ctx, data["items_page_by_column_values"], data.get("complexity"), inputs.limit
    )
    items = [Item.model_validate(item_output(r)) for r in raw]
    return ItemList(items=items, count=len(items))


BOARD = "1234567890"  # the sandbox's demo board, for the examples


def _action(
    key: str,
    name: str,
    description: str,
    perform: Any,
    input: Any,
    output: Any,
    example: dict[str, Any],
    **extra: Any,
) -> Action:
    return Action(
        key=key,
        name=name,
        description=description,
        perform=perform,
        input=input,
        output=output,
        sample=load_sample(__file__, key),
        example=example,
        **extra,
    )


ACTIONS: tuple[Action, ...] = (
    _action(
        "create_item",
        "Create item",
        "Create an item on a board, with column values.",
        create_item,
        CreateItemInput,
        Item,
        {
            "board_id": BOARD,
            "item_name": "Autumn recap",
            "column_values": {"status": "Approved", "date4": "2026-12-01"},
        },
    ),
    _action(
        "update_column_values",
        "Update column values",
        "Change several column values of an item at once.",
        update_column_values,
        UpdateColumnValuesInput,
        Item,
        {"board_id": BOARD, "item_id": "9000000001", "column_values": {"status": "Done"}},
        idempotent=True,
    ),
    _action(
        "create_update",
        "Create update",
        "Post an update (comment) on an item.",
        create_update,
        CreateUpdateInput,
        UpdateOutput,
        {"item_id": "9000000002", "body": "<p>Ready for review</p>"},
    ),
    _action(
        "create_subitem",
        "Create subitem",
        "Create a subitem under an item, with column values.",
        create_subitem,
        CreateSubitemInput,
        Item,
        {
            "parent_item_id": "9000000002",
            "item_name": "Write the draft",
            "column_values": {"status": "Working on it"},
        },
    ),
    _action(
        "move_item_to_group",
        "Move item to group",
        "Move an item to another group of its board.",
        move_item_to_group,
        MoveItemInput,
        Item,
        {"item_id": "9000000001", "group_id": "group_done"},
        idempotent=True,
    ),
    _action(
        "archive_item",
        "Archive item",
        "Archive an item.",
        archive_item,
        ItemRef,
        ItemState,
        {"item_id": "9000000001"},
        idempotent=True,
    ),
    _action(
        "delete_item",
        "Delete item",
        "Delete an item (kept in the trash for 30 days).",
        delete_item,
        ItemRef,
        ItemState,
        {"item_id": "9000000001"},
        idempotent=True,
    ),
    _action(
        "get_items",
        "Get items",
        "Fetch items by ID, with their column values.",
        get_items,
        GetItemsInput,
        ItemList,
        {"item_ids": ["9000000001", "9000000002"]},
        idempotent=True,
    ),
    _action(
        "search_items",
        "Find items by column value",
        "Find items whose column holds one of the given values.",
        search_items,
        SearchItemsInput,
        ItemList,
        {"board_id": BOARD, "column_id": "status", "values": ["Approved"]},
        idempotent=True,
    ),
)
