"""What an app sees of the owner's data stores: ``ctx.data_stores``.

A data store is a named table of keyed records (JSON values) belonging to the user whose
scenario runs. The engine hands an app a ``DataStoreAccess`` bound to that user (never
the store itself, never another user's stores) when the app declares
``App(uses_data_stores=True)``; the built-in Data store app is the one that does.

Stores are named by their name. Writes (``set``, ``increment``) create a missing store;
reads of a missing store find nothing. Limits (stores per user, records per store, bytes
per value) raise ``LimitExceededError`` naming the limit and the store.
"""

from __future__ import annotations

from typing import Any, Protocol, TypedDict

__all__ = ["DataStoreAccess", "StoredRecord"]


class StoredRecord(TypedDict):
    """One record as an app receives it."""

    key: str
    value: Any
    created_at: str
    """ISO 8601, UTC."""
    updated_at: str
    """ISO 8601, UTC."""


class DataStoreAccess(Protocol):
    """One user's data stores."""

    async def names(self) -> list[str]:
        """The user's stores' names, sorted."""
        ...

    async def get(self, store: str, key: str) -> StoredRecord | None:
        """The record under ``key`` (None: no such key, or no such store)."""
        ...

    async def set(self, store: str, key: str, value: Any) -> StoredRecord:
        """Set the record under ``key`` to ``value`` (a JSON value)."""
        ...

    async def increment(self, store: str, key: str, by: int | float) -> StoredRecord:
        """Add ``by`` to the number under ``key`` (a missing key starts at 0), atomically:
        concurrent runs never lose an increment."""
        ...

    async def delete(self, store: str, key: str) -> bool:
        """Delete the record under ``key``; False when there was none."""
        ...

    async def find(
        self,
        store: str,
        *,
        prefix: str | None = None,
        field: str | None = None,
        equals: Any = None,
        limit: int = 100,
    ) -> list[StoredRecord]:
        """Records by key: those whose key starts with ``prefix`` and (with ``field``)
        whose value is an object with ``field`` equal to ``equals``."""
        ...
