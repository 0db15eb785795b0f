"""Input and output models of the Data store actions.

``store`` names one of the user's data stores (a dropdown of their stores, or any name:
writing to a name that has no store yet creates it). Keys are text up to 200
characters; values are any JSON value.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt

from connectors.sdk import dynamic


def _store() -> Any:
    return Field(
        description="The data store's name. Pick one of yours, or type a new name: "
        "the first write (set, increment) creates the store; reading a store that does "
        "not exist finds nothing.",
        min_length=1,
        max_length=100,
        examples=["orders"],
        json_schema_extra=dynamic("stores"),
    )


def _key() -> Any:
    return Field(
        description="The record's key (up to 200 characters), usually mapped from the trigger, "
        "e.g. {{ trigger.body.customer_id }}.",
        min_length=1,
        max_length=200,
        examples=["last_order_id"],
    )


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RecordOutput(BaseModel):
    """One record."""

    key: str = Field(description="The record's key.")
    value: Any = Field(description="The value stored under the key (any JSON value).")
    updated_at: str = Field(description="When the value was last written (ISO 8601, UTC).")


class KeyInput(_Input):
    """A store and a key."""

    store: str = _store()
    key: str = _key()


class GetOutput(BaseModel):
    """The record, if there is one."""

    found: bool = Field(description="True when the store has a record under the key.")
    key: str = Field(description="The key that was looked up.")
    value: Any = Field(None, description="The stored value; the default when the key is not there.")
    updated_at: str | None = Field(
        None, description="When the value was last written (ISO 8601, UTC); null when not found."
    )


class GetInput(KeyInput):
    """A store, a key and what to return when the key is missing."""

    default: Any = Field(
        None,
        description="The value to return when the key is not there (the output's "
        "found is then false).",
        examples=[0],
    )


class SetInput(KeyInput):
    """A store, a key and its new value."""

    value: Any = Field(
        description="The value to store: text, a number, true/false, a list or an object "
        "(a value that is one {{ }} reference keeps its type). Replaces what was there.",
        examples=[{"order_id": "ord_1001", "total": 42.5}],
    )


class IncrementInput(KeyInput):
    """A store, a key and how much to add."""

    by: StrictInt | StrictFloat = Field(
        1,
        description="How much to add (negative to subtract). A missing key starts at 0. "
        "Concurrent runs never lose an increment.",
        examples=[1],
    )


class DeleteOutput(BaseModel):
    """Whether a record was deleted."""

    deleted: bool = Field(description="True when there was a record under the key.")
    key: str = Field(description="The key that was deleted.")


class FindInput(_Input):
    """Which records to return."""

    store: str = _store()
    key_prefix: str | None = Field(
        None,
        description="Only records whose key starts with this text, e.g. customer: "
        "for customer:42, customer:43.",
        max_length=200,
        examples=["customer:"],
    )
    field: str | None = Field(
        None,
        description="Only records whose value is an object with this field equal "
        "to 'equals', e.g. status.",
        max_length=200,
        examples=["status"],
    )
    equals: Any = Field(
        None,
        description="The value 'field' must have (compared exactly: 42 and \"42\" differ).",
        examples=["paid"],
    )
    limit: int = Field(
        100, ge=1, le=1000, description="At most this many records, by key (1 to 1000)."
    )


class FindOutput(BaseModel):
    """The records found."""

    records: list[RecordOutput] = Field(description="The records found, by key.")
    count: int = Field(description="How many records were found.")
    first: RecordOutput | None = Field(None, description="The first record found (null if none).")
