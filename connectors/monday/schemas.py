"""Inputs and outputs of the monday.com operations."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from connectors.sdk.options import dynamic

ColumnType = Literal[
    "text",
    "name",
    "long_text",
    "numbers",
    "status",
    "dropdown",
    "date",
    "people",
    "person",
    "email",
    "link",
    "phone",
    "checkbox",
    "rating",
    "hour",
    "timeline",
    "week",
    "tags",
    "board_relation",
    "dependency",
    "world_clock",
    "location",
    "country",
    "color_picker",
]


def _id_text(value: Any) -> Any:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


Id = Annotated[str, BeforeValidator(_id_text), Field(pattern=r"^\d+$")]
"""monday IDs are numbers sent as strings; a mapped integer is accepted too."""

COLUMN_VALUES = (
    'Values by column ID (or column title): simple values such as "Approved" for a status, '
    '"2026-11-25" for a date, "ada@example.com" for an e-mail, "123, 456" for people (user IDs). '
    "A JSON object is sent as is. See the column value table in the docs."
)
COLUMN_TYPES = (
    "Optional column ID → type (status, date, people, …). Columns left out are "
    "looked up on the board."
)


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _WithColumns(_Input):
    column_values: dict[str, Any] = Field(default_factory=dict, description=COLUMN_VALUES)
    column_types: dict[str, ColumnType] | None = Field(None, description=COLUMN_TYPES)
    create_labels_if_missing: bool = Field(
        False,
        description="Create status and dropdown labels that do not exist yet "
        "(needs board permission).",
    )


class CreateItemInput(_WithColumns):
    """A new item on a board."""

    board_id: Id = Field(
        description="Board ID (the number in the board's URL).", json_schema_extra=dynamic("boards")
    )
    item_name: str = Field(description="The item's name.", min_length=1, max_length=255)
    group_id: str | None = Field(
        None,
        description="Group ID, e.g. topics; the board's top group when empty.",
        json_schema_extra=dynamic("groups"),
    )


class UpdateColumnValuesInput(_WithColumns):
    """New values for some of an item's columns."""

    board_id: Id = Field(description="Board ID of the item.", json_schema_extra=dynamic("boards"))
    item_id: Id = Field(description="Item ID.")
    column_values: dict[str, Any] = Field(description=COLUMN_VALUES, min_length=1)


class CreateSubitemInput(_WithColumns):
    """A new subitem under an item."""

    parent_item_id: Id = Field(description="ID of the item the subitem goes under.")
    item_name: str = Field(description="The subitem's name.", min_length=1, max_length=255)


class CreateUpdateInput(_Input):
    """A comment (update) on an item."""

    item_id: Id = Field(description="Item ID.")
    body: str = Field(
        description="The update's text; simple HTML (<p>, <b>, <a>…) is allowed.", min_length=1
    )


class MoveItemInput(_Input):
    """Where to move an item."""

    item_id: Id = Field(description="Item ID.")
    group_id: str = Field(description="ID of the target group on the same board.", min_length=1)


class ItemRef(_Input):
    """Which item."""

    item_id: Id = Field(description="Item ID.")


class GetItemsInput(_Input):
    """Items to fetch."""

    item_ids: list[Id] = Field(description="Item IDs (up to 100).", min_length=1, max_length=100)


def _as_list(value: Any) -> Any:
    return [value] if isinstance(value, str | int) else value


class SearchItemsInput(_Input):
    """Items whose column holds one of some values."""

    board_id: Id = Field(description="Board ID.", json_schema_extra=dynamic("boards"))
    column_id: str = Field(
        description="Column ID to match, e.g. status, email, name.",
        min_length=1,
        json_schema_extra=dynamic("columns"),
    )
    values: Annotated[list[str], BeforeValidator(_as_list)] = Field(
        description='Values to match (exact text, any of them), e.g. ["Approved"].', min_length=1
    )
    limit: int = Field(50, ge=1, le=500, description="Return at most this many items.")


class ColumnValue(BaseModel):
    """One column of an item."""

    id: str = Field(description="Column ID.")
    title: str = Field(description="Column title as shown on the board.")
    type: str | None = Field(None, description="Column type (status, date, text…).")
    text: str | None = Field(None, description="The value as text, as monday shows it.")
    value: Any = Field(None, description="The value in monday's JSON shape (parsed).")


class Item(BaseModel):
    """A monday.com item with its column values."""

    id: str = Field(description="Item ID.")
    name: str = Field(description="Item name.")
    board_id: str | None = Field(None, description="Board ID.")
    board_name: str | None = Field(None, description="Board name.")
    group_id: str | None = Field(None, description="Group ID.")
    group_title: str | None = Field(None, description="Group title.")
    parent_item_id: str | None = Field(None, description="Parent item ID, for subitems.")
    state: str | None = Field(None, description="active, archived or deleted.")
    url: str | None = Field(None, description="Link to the item in monday.com.")
    created_at: str | None = Field(None, description="Creation time (ISO 8601).")
    updated_at: str | None = Field(None, description="Last update time (ISO 8601).")
    columns: dict[str, str | None] = Field(
        description='Column ID → value as text, e.g. {"status": "Approved"}.'
    )
    columns_by_title: dict[str, str | None] = Field(
        description='Column title → value as text, e.g. {"Status": "Approved"}.'
    )
    column_values: list[ColumnValue] = Field(
        description="Every column with its ID, title, type, text and raw value."
    )


class ItemList(BaseModel):
    """Items found."""

    items: list[Item] = Field(description="The items.")
    count: int = Field(description="How many items were returned.")


class UpdateOutput(BaseModel):
    """The posted update."""

    id: str = Field(description="Update ID.")
    item_id: str | None = Field(None, description="Item the update is on.")
    body: str = Field(description="The update's HTML body.")
    text_body: str | None = Field(None, description="The update's body as plain text.")
    created_at: str | None = Field(None, description="Creation time (ISO 8601).")
    creator_id: str | None = Field(None, description="ID of the user who posted it.")


class ItemState(BaseModel):
    """An item after archiving or deleting it."""

    id: str = Field(description="Item ID.")
    state: str | None = Field(None, description="archived or deleted.")


# -- triggers --------------------------------------------------------------------------------


class BoardInput(_Input):
    """Which board to watch."""

    board_id: Id = Field(
        description="Board ID (the number in the board's URL).", json_schema_extra=dynamic("boards")
    )


class ColumnChangedInput(BoardInput):
    """Which column changes to watch."""

    column_id: str | None = Field(
        None,
        description="Only this column ID; any column when empty.",
        json_schema_extra=dynamic("columns"),
    )


class StatusChangedInput(BoardInput):
    """Which status changes to watch."""

    column_id: str = Field(
        "status",
        description="The status column's ID.",
        min_length=1,
        json_schema_extra=dynamic("status_columns"),
    )
    label: str | None = Field(
        None,
        description="Only when the status becomes this label, e.g. Approved; "
        "any change when empty.",
    )


class NewItemPollInput(BoardInput):
    """Which new items to pick up."""

    group_id: str | None = Field(
        None, description="Only items in this group ID.", json_schema_extra=dynamic("groups")
    )
    status_column_id: str | None = Field(
        None,
        description="With status_label: the status column to check, e.g. status.",
        json_schema_extra=dynamic("status_columns"),
    )
    status_label: str | None = Field(
        None,
        description="Only items whose status is this label, e.g. Approved "
        "(an item fires once it has it).",
    )
    max_items: int = Field(
        100, ge=1, le=500, description="Look at this many of the newest items per poll."
    )


class MondayEvent(BaseModel):
    """What every monday.com webhook event carries."""

    model_config = ConfigDict(extra="allow")
    event_type: str = Field(
        description="monday's event type, e.g. create_pulse, update_column_value, create_update."
    )
    board_id: str = Field(description="Board ID.")
    item_id: str = Field(description="Item ID (monday's pulseId).")
    item_name: str | None = Field(None, description="Item name, when monday sends it.")
    group_id: str | None = Field(None, description="Group ID, when monday sends it.")
    user_id: str | None = Field(None, description="ID of the user who made the change.")
    triggered_at: str | None = Field(None, description="When it happened (ISO 8601).")
    trigger_uuid: str | None = Field(
        None, description="Unique ID of this event (use it to spot duplicates)."
    )
    subscription_id: str | None = Field(None, description="ID of the webhook subscription.")


class ItemCreatedEvent(MondayEvent):
    """A new item."""

    columns: dict[str, str | None] = Field(
        default_factory=dict, description="Column ID → value as text, for values set at creation."
    )
    column_values_raw: dict[str, Any] = Field(
        default_factory=dict, description="The column values as monday sent them."
    )


class ColumnChangedEvent(MondayEvent):
    """A changed column value."""

    column_id: str = Field(description="Column ID.")
    column_title: str | None = Field(None, description="Column title.")
    column_type: str | None = Field(
        None, description="Column type (status stays 'color' in webhooks)."
    )
    value: str | None = Field(None, description="The new value as text (for a status: its label).")
    previous_value: str | None = Field(None, description="The previous value as text.")
    value_raw: Any = Field(None, description="The new value as monday sent it.")
    previous_value_raw: Any = Field(None, description="The previous value as monday sent it.")


class UpdateCreatedEvent(MondayEvent):
    """A new update (comment) on an item."""

    update_id: str = Field(description="Update ID.")
    body: str | None = Field(None, description="The update's HTML body.")
    text_body: str | None = Field(None, description="The update's body as plain text.")
