"""The Data store actions: each reads or writes the scenario owner's stores through
``ctx.data_stores`` (``connectors.sdk.DataStoreAccess``), never the database itself."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.data_store.schemas import (
    DeleteOutput,
    FindInput,
    FindOutput,
    GetInput,
    GetOutput,
    IncrementInput,
    KeyInput,
    RecordOutput,
    SetInput,
)
from connectors.sdk import (
    ConfigurationError,
    DataStoreAccess,
    OperationContext,
    Option,
    StoredRecord,
)


def _stores(ctx: OperationContext) -> DataStoreAccess:
    if ctx.data_stores is None:  # only a context built without a user (never by a run)
        raise ConfigurationError("Data stores are only reachable from a scenario run or cell run.")
    return ctx.data_stores


def _record(found: StoredRecord) -> RecordOutput:
    return RecordOutput(key=found["key"], value=found["value"], updated_at=found["updated_at"])


async def get_record(ctx: OperationContext, inputs: GetInput) -> GetOutput:
    """The value under a key, or the default."""
    found = await _stores(ctx).get(inputs.store, inputs.key)
    if found is None:
        return GetOutput(found=False, key=inputs.key, value=inputs.default)
    return GetOutput(
        found=True, key=found["key"], value=found["value"], updated_at=found["updated_at"]
    )


async def set_record(ctx: OperationContext, inputs: SetInput) -> RecordOutput:
    """Store a value under a key."""
    return _record(await _stores(ctx).set(inputs.store, inputs.key, inputs.value))


async def increment(ctx: OperationContext, inputs: IncrementInput) -> RecordOutput:
    """Add to the number under a key, atomically."""
    return _record(await _stores(ctx).increment(inputs.store, inputs.key, inputs.by))


async def delete_record(ctx: OperationContext, inputs: KeyInput) -> DeleteOutput:
    """Delete the record under a key."""
    return DeleteOutput(deleted=await _stores(ctx).delete(inputs.store, inputs.key), key=inputs.key)


async def find_records(ctx: OperationContext, inputs: FindInput) -> FindOutput:
    """Records by key prefix and/or a field's value."""
    found = await _stores(ctx).find(
        inputs.store,
        prefix=inputs.key_prefix,
        field=inputs.field,
        equals=inputs.equals,
        limit=inputs.limit,
    )
    records = [_record(r) for r in found]
    return FindOutput(records=records, count=len(records), first=records[0] if records else None)


async def store_options(ctx: OperationContext, values: Mapping[str, Any]) -> list[Option]:
    """The user's stores, for the store dropdown."""
    return [Option(value=name, label=name) for name in await _stores(ctx).names()]
