"""``DataStores``: a user's named tables of keyed records, and their limits.

The REST API and the workspace call this service with the user; a run's Data store
cells reach it through ``OwnerDataStores`` (``ctx.data_stores``), bound to the
scenario's owner, so an app never holds the store and never sees another user's data.
Another user's store is ``NotFound``, the same answer as one that does not exist.

Limits come from the settings (``data_store_max_stores``, ``data_store_max_records``,
``data_store_max_value_bytes``); passing one raises ``LimitExceededError`` naming the
limit, the store and the setting.
"""

from __future__ import annotations

import asyncio
import json
import math
import unicodedata
from typing import TYPE_CHECKING, Any

from connectors.sdk import InvalidInputError, LimitExceededError, StoredRecord
from engine.errors import Conflict, NotFound
from storage import ConflictError, LimitReachedError, NotFoundError

if TYPE_CHECKING:
    from engine.ports import DataStoreStore
    from engine.settings import Settings
    from storage import DataRecord, DataStore

__all__ = ["MAX_KEY_LENGTH", "MAX_NAME_LENGTH", "DataStores", "OwnerDataStores"]

MAX_NAME_LENGTH = 100
"""Characters of a store's name (the column's width)."""
MAX_KEY_LENGTH = 200
"""Characters of a record's key (the column's width)."""
MAX_FIND = 1000
"""Records one find or listing returns at most."""


def _text(given: Any, field: str, longest: int, what: str) -> str:
    """A name or key: text, 1 to ``longest`` characters, no control characters."""
    if not isinstance(given, str):
        raise _invalid(field, f"{what} must be text.")
    value = given.strip()
    if not value:
        raise _invalid(field, f"{what} is empty; give one.")
    if len(value) > longest:
        raise _invalid(field, f"{what} is {len(value)} characters long; at most {longest}.")
    if any(unicodedata.category(c) == "Cc" for c in value):
        raise _invalid(field, f"{what} contains a control character (a line break, a tab…).")
    return value


def _invalid(field: str, message: str) -> InvalidInputError:
    return InvalidInputError(f"{field}: {message}", errors=[{"field": field, "message": message}])


def is_number(value: Any) -> bool:
    """An int or a finite float (not a bool: True is no count)."""
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and not (isinstance(value, float) and not math.isfinite(value))
    )


def stored(record: DataRecord) -> StoredRecord:
    """A record as apps and the API show it."""
    return {
        "key": record.key,
        "value": record.value,
        "created_at": record.created_at.isoformat(),
        "updated_at": record.updated_at.isoformat(),
    }


class DataStores:
    """Every user's data stores; each call names the user."""

    def __init__(self, store: DataStoreStore, settings: Settings) -> None:
        self._store = store
        self._settings = settings

    # -- stores -------------------------------------------------------------------------

    def for_user(self, user_id: str) -> list[DataStore]:
        """The user's stores, by name, with their record counts."""
        return self._store.list_data_stores(user_id)

    def get(self, user_id: str, store_id: str) -> DataStore:
        """One of the user's stores; ``NotFound`` otherwise."""
        found = self._store.get_data_store(user_id, store_id)
        if found is None:
            raise NotFound(f"No data store {store_id}.")
        return found

    def named(self, user_id: str, name: str) -> DataStore | None:
        """The user's store called ``name`` (None: there is none)."""
        return self._store.data_store_named(
            user_id, _text(name, "store", MAX_NAME_LENGTH, "The store's name")
        )

    def create(self, user_id: str, name: str) -> DataStore:
        """A new empty store. ``Conflict``: the user has one with that name;
        ``LimitExceededError``: they have ``data_store_max_stores`` already."""
        name = _text(name, "name", MAX_NAME_LENGTH, "The store's name")
        limit = self._settings.data_store_max_stores
        try:
            created = self._store.create_data_store(user_id, name, max_stores=limit)
        except ConflictError:
            raise Conflict(f"You already have a data store named '{name}'.") from None
        except LimitReachedError:
            raise LimitExceededError(
                f"Data store '{name}' was not created: you have {limit} data stores, "
                "the most allowed (CELLWRIGHT_DATA_STORE_MAX_STORES). "
                "Delete a store you no longer need, or ask the operator to raise the limit.",
                limit="data_store_max_stores",
                store=name,
            ) from None
        self._store.audit(user_id, "data_store.create", "data_store", created.id, {"name": name})
        return created

    def ensure(self, user_id: str, name: str) -> DataStore:
        """The user's store called ``name``, created when missing (by a run's first write)."""
        found = self.named(user_id, name)
        if found is not None:
            return found
        try:
            return self.create(user_id, name)
        except Conflict:  # a concurrent run created it meanwhile
            again = self.named(user_id, name)
            assert again is not None
            return again

    def delete(self, user_id: str, store_id: str) -> None:
        """Delete one of the user's stores with all its records."""
        found = self.get(user_id, store_id)
        if not self._store.delete_data_store(user_id, store_id):
            raise NotFound(f"No data store {store_id}.")
        self._store.audit(
            user_id, "data_store.delete", "data_store", store_id, {"name": found.name}
        )

    # -- records ------------------------------------------------------------------------

    def records(
        self,
        user_id: str,
        store_id: str,
        *,
        prefix: str | None = None,
        field: str | None = None,
        equals: Any = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[DataRecord]:
        """Records by key: those whose key starts with ``prefix`` and, with ``field``,
        whose value is an object whose ``field`` equals ``equals``."""
        self.get(user_id, store_id)
        where = None
        if field:

            def where(value: Any) -> bool:
                return isinstance(value, dict) and field in value and value[field] == equals

        return self._store.find_data_records(
            user_id,
            store_id,
            prefix=prefix or None,
            where=where,
            limit=max(1, min(limit, MAX_FIND)),
            offset=max(0, offset),
        )

    def count(self, user_id: str, store_id: str, *, prefix: str | None = None) -> int:
        """How many records the store holds (with keys starting with ``prefix``)."""
        self.get(user_id, store_id)
        return self._store.count_data_records(user_id, store_id, prefix=prefix or None)

    def get_record(self, user_id: str, store_id: str, key: str) -> DataRecord:
        """One record; ``NotFound`` when the key (or the store) is not there."""
        found = self.find_record(user_id, store_id, key)
        if found is None:
            raise NotFound(f"Data store {store_id} has no record '{key}'.")
        return found

    def find_record(self, user_id: str, store_id: str, key: str) -> DataRecord | None:
        """One record, or None."""
        key = _text(key, "key", MAX_KEY_LENGTH, "The key")
        return self._store.get_data_record(user_id, store_id, key)

    def put_record(self, user_id: str, store_id: str, key: str, value: Any) -> DataRecord:
        """Set a record's value; a new key counts against ``data_store_max_records``."""
        found = self.get(user_id, store_id)
        key = _text(key, "key", MAX_KEY_LENGTH, "The key")
        self._check_value(found, key, value)
        try:
            return self._store.put_data_record(
                user_id, store_id, key, value, max_records=self._settings.data_store_max_records
            )
        except LimitReachedError:
            raise self._full(found, key) from None
        except NotFoundError:  # deleted meanwhile
            raise NotFound(f"No data store {store_id}.") from None

    def increment(self, user_id: str, store_id: str, key: str, by: int | float = 1) -> DataRecord:
        """Add ``by`` to the number under ``key`` (0 when missing), atomically."""
        found = self.get(user_id, store_id)
        key = _text(key, "key", MAX_KEY_LENGTH, "The key")
        if not is_number(by):
            raise _invalid("by", "must be a number (e.g. 1 or -2.5).")

        def check(current: Any) -> None:
            if not is_number(current):
                kind = "nothing" if current is None else type(current).__name__
                raise _invalid(
                    "key",
                    f"The record '{key}' in data store '{found.name}' holds {kind}, not a number: "
                    "increment adds to numbers only. Set it to a number first, or use another key.",
                )
            if not math.isfinite(current + by):
                raise _invalid("by", f"Adding {by} to '{key}' leaves no finite number.")

        try:
            return self._store.increment_data_record(
                user_id,
                store_id,
                key,
                by,
                max_records=self._settings.data_store_max_records,
                check=check,
            )
        except LimitReachedError:
            raise self._full(found, key) from None
        except NotFoundError:
            raise NotFound(f"No data store {store_id}.") from None

    def delete_record(self, user_id: str, store_id: str, key: str) -> None:
        """Delete a record; ``NotFound`` when there is none under ``key``."""
        self.get(user_id, store_id)
        key = _text(key, "key", MAX_KEY_LENGTH, "The key")
        if not self._store.delete_data_record(user_id, store_id, key):
            raise NotFound(f"Data store {store_id} has no record '{key}'.")

    def remove_record(self, user_id: str, store_id: str, key: str) -> bool:
        """Delete a record if there is one; True when it was there."""
        key = _text(key, "key", MAX_KEY_LENGTH, "The key")
        return self._store.delete_data_record(user_id, store_id, key)

    def export(self, user_id: str) -> list[dict[str, Any]]:
        """Every store of the user's with all its records, as JSON-ready data (their
        data's export): ``[{"name", "created_at", "records": [{"key", "value", …}]}]``."""
        return [
            {
                "name": store.name,
                "created_at": store.created_at.isoformat(),
                "records": [dict(stored(r)) for r in records],
            }
            for store, records in self._store.data_store_export(user_id)
        ]

    def for_owner(self, user_id: str) -> OwnerDataStores:
        """The stores of one user, as a run's operations reach them (``ctx.data_stores``)."""
        return OwnerDataStores(self, user_id)

    # -- limits -------------------------------------------------------------------------

    def _check_value(self, store: DataStore, key: str, value: Any) -> None:
        try:
            text = json.dumps(value, allow_nan=False, separators=(",", ":"), ensure_ascii=False)
        except (TypeError, ValueError) as exc:
            raise _invalid("value", f"is not a JSON value ({exc}).") from None
        size = len(text.encode("utf-8"))
        limit = self._settings.data_store_max_value_bytes
        if size > limit:
            raise LimitExceededError(
                f"The value for '{key}' in data store '{store.name}' is {size:,} bytes; "
                f"the limit is {limit:,} bytes (CELLWRIGHT_DATA_STORE_MAX_VALUE_BYTES). "
                "Store less (the fields you need), or split it over several keys.",
                limit="data_store_max_value_bytes",
                store=store.name,
                key=key,
            )

    def _full(self, store: DataStore, key: str) -> LimitExceededError:
        limit = self._settings.data_store_max_records
        return LimitExceededError(
            f"Data store '{store.name}' is full: it holds {limit:,} records, "
            f"the most allowed (CELLWRIGHT_DATA_STORE_MAX_RECORDS), so '{key}' was not added. "
            "Delete records you no longer need, or use another store.",
            limit="data_store_max_records",
            store=store.name,
            key=key,
        )


class OwnerDataStores:
    """One user's stores by name, for a run's operations (``connectors.sdk.DataStoreAccess``).

    Store calls run in a worker thread: the event loop keeps serving other runs.
    Writes create a missing store; reads of a missing store find nothing.
    """

    def __init__(self, stores: DataStores, user_id: str) -> None:
        self._stores = stores
        self._user_id = user_id

    async def names(self) -> list[str]:
        found = await asyncio.to_thread(self._stores.for_user, self._user_id)
        return [s.name for s in found]

    async def get(self, store: str, key: str) -> StoredRecord | None:
        def read() -> StoredRecord | None:
            found = self._stores.named(self._user_id, store)
            if found is None:
                return None
            record = self._stores.find_record(self._user_id, found.id, key)
            return stored(record) if record is not None else None

        return await asyncio.to_thread(read)

    async def set(self, store: str, key: str, value: Any) -> StoredRecord:
        def write() -> StoredRecord:
            target = self._stores.ensure(self._user_id, store)
            return stored(self._stores.put_record(self._user_id, target.id, key, value))

        return await asyncio.to_thread(write)

    async def increment(self, store: str, key: str, by: int | float) -> StoredRecord:
        def add() -> StoredRecord:
            target = self._stores.ensure(self._user_id, store)
            return stored(self._stores.increment(self._user_id, target.id, key, by))

        return await asyncio.to_thread(add)

    async def delete(self, store: str, key: str) -> bool:
        def remove() -> bool:
            found = self._stores.named(self._user_id, store)
            return found is not None and self._stores.remove_record(self._user_id, found.id, key)

        return await asyncio.to_thread(remove)

    async def find(
        self,
        store: str,
        *,
        prefix: str | None = None,
        field: str | None = None,
        equals: Any = None,
        limit: int = 100,
    ) -> list[StoredRecord]:
        def search() -> list[StoredRecord]:
            found = self._stores.named(self._user_id, store)
            if found is None:
                return []
            records = self._stores.records(
                self._user_id, found.id, prefix=prefix, field=field, equals=equals, limit=limit
            )
            return [stored(r) for r in records]

        return await asyncio.to_thread(search)
