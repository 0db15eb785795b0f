"""Data stores: a user's named tables of keyed JSON records.

Every call takes the owner's id and touches only that user's stores. Writes to one
store are serialised on its row (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite's write
transactions are serialised anyway, ``BEGIN IMMEDIATE``): an increment reads, adds and
writes under that lock, so concurrent runs never lose an update, and the record limit
is counted under the same lock, so concurrent inserts cannot pass it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..errors import ConflictError, LimitReachedError, NotFoundError
from ..models import DataRecordRow, DataStoreRow, UserRow
from ..records import JSON, DataRecord, DataStore
from ._base import RepoBase, like_escape, new_id, rowcount, to_record, utcnow


class DataStoresRepo(RepoBase):
    # -- stores -------------------------------------------------------------------------

    def list_data_stores(self, user_id: str) -> list[DataStore]:
        """The user's stores by name, with how many records each holds."""
        counts = (
            select(DataRecordRow.store_id, func.count().label("n"))
            .group_by(DataRecordRow.store_id)
            .subquery()
        )
        query = (
            select(DataStoreRow, func.coalesce(counts.c.n, 0))
            .outerjoin(counts, counts.c.store_id == DataStoreRow.id)
            .where(DataStoreRow.user_id == user_id)
            .order_by(DataStoreRow.name)
        )
        with self._read() as s:
            return [to_record(DataStore, row, records=int(n)) for row, n in s.execute(query)]

    def get_data_store(self, user_id: str, store_id: str) -> DataStore | None:
        """One of the user's stores by id (None: no such store of theirs)."""
        return self._one_store(user_id, DataStoreRow.id == store_id)

    def data_store_named(self, user_id: str, name: str) -> DataStore | None:
        """One of the user's stores by name (None: no such store of theirs)."""
        return self._one_store(user_id, DataStoreRow.name == name)

    def _one_store(self, user_id: str, condition: Any) -> DataStore | None:
        with self._read() as s:
            row = s.scalar(select(DataStoreRow).where(DataStoreRow.user_id == user_id, condition))
            if row is None:
                return None
            count = s.scalar(
                select(func.count())
                .select_from(DataRecordRow)
                .where(DataRecordRow.store_id == row.id)
            )
            return to_record(DataStore, row, records=int(count or 0))

    def create_data_store(self, user_id: str, name: str, *, max_stores: int) -> DataStore:
        """A new empty store. ``ConflictError``: the user has one with this name;
        ``LimitReachedError``: the user already has ``max_stores``."""
        with self._write() as s:
            # count under a lock on the user's row (PostgreSQL; SQLite serialises writers)
            s.execute(select(UserRow.id).where(UserRow.id == user_id).with_for_update())
            count = s.scalar(
                select(func.count())
                .select_from(DataStoreRow)
                .where(DataStoreRow.user_id == user_id)
            )
            taken = s.scalar(
                select(DataStoreRow.id).where(
                    DataStoreRow.user_id == user_id, DataStoreRow.name == name
                )
            )
            if taken is not None:  # the name's answer before the count's
                raise ConflictError(f"you already have a data store named {name!r}")
            if int(count or 0) >= max_stores:
                raise LimitReachedError("stores", max_stores)
            row = DataStoreRow(id=new_id(), user_id=user_id, name=name, created_at=utcnow())
            s.add(row)
            try:
                s.flush()
            except IntegrityError:
                raise ConflictError(f"you already have a data store named {name!r}") from None
        return to_record(DataStore, row, records=0)

    def delete_data_store(self, user_id: str, store_id: str) -> bool:
        """Delete one of the user's stores with its records; False: no such store of theirs."""
        with self._write() as s:
            owned = s.scalar(
                select(DataStoreRow.id).where(
                    DataStoreRow.id == store_id, DataStoreRow.user_id == user_id
                )
            )
            if owned is None:
                return False
            # explicitly, not only by the foreign key: SQLite enforces it per connection
            s.execute(delete(DataRecordRow).where(DataRecordRow.store_id == store_id))
            return rowcount(s.execute(delete(DataStoreRow).where(DataStoreRow.id == store_id))) > 0

    # -- records ------------------------------------------------------------------------

    def get_data_record(self, user_id: str, store_id: str, key: str) -> DataRecord | None:
        """One record (None: no such key, or the store is not the user's)."""
        query = select(DataRecordRow).where(
            DataRecordRow.store_id == store_id,
            DataRecordRow.key == key,
            DataRecordRow.store_id.in_(self._owned(user_id, store_id)),
        )
        with self._read() as s:
            row = s.scalar(query)
            return to_record(DataRecord, row) if row is not None else None

    def find_data_records(
        self,
        user_id: str,
        store_id: str,
        *,
        prefix: str | None = None,
        where: Callable[[JSON], bool] | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[DataRecord]:
        """Records by key, those whose key starts with ``prefix`` and whose value passes
        ``where`` (checked here, on each candidate in key order), from ``offset``."""
        query = select(DataRecordRow).where(
            DataRecordRow.store_id == store_id,
            DataRecordRow.store_id.in_(self._owned(user_id, store_id)),
        )
        if prefix:
            query = query.where(DataRecordRow.key.like(f"{like_escape(prefix)}%", escape="!"))
        query = query.order_by(DataRecordRow.key)
        if where is None:
            query = query.limit(limit).offset(offset)
        with self._read() as s:
            rows: Iterator[DataRecordRow] = iter(s.scalars(query.execution_options(yield_per=500)))
            found: list[DataRecord] = []
            skipped = 0
            for row in rows:
                if where is not None:
                    if not where(row.value):
                        continue
                    if skipped < offset:
                        skipped += 1
                        continue
                found.append(to_record(DataRecord, row))
                if len(found) >= limit:
                    break
            return found

    def count_data_records(self, user_id: str, store_id: str, *, prefix: str | None = None) -> int:
        """How many records the store holds (whose key starts with ``prefix``)."""
        query = (
            select(func.count())
            .select_from(DataRecordRow)
            .where(
                DataRecordRow.store_id == store_id,
                DataRecordRow.store_id.in_(self._owned(user_id, store_id)),
            )
        )
        if prefix:
            query = query.where(DataRecordRow.key.like(f"{like_escape(prefix)}%", escape="!"))
        with self._read() as s:
            return int(s.scalar(query) or 0)

    def put_data_record(
        self, user_id: str, store_id: str, key: str, value: JSON, *, max_records: int
    ) -> DataRecord:
        """Set a record's value (created when the key is new). ``NotFoundError``: the
        store is not the user's; ``LimitReachedError``: a new key over ``max_records``."""
        with self._write() as s:
            row = self._locked_record(s, user_id, store_id, key)
            now = utcnow()
            if row is None:
                row = self._insert(s, store_id, key, value, now, max_records)
            else:
                row.value = value
                row.updated_at = now
            s.flush()
            return to_record(DataRecord, row)

    def increment_data_record(
        self,
        user_id: str,
        store_id: str,
        key: str,
        by: int | float,
        *,
        max_records: int,
        check: Callable[[JSON], None] | None = None,
    ) -> DataRecord:
        """Add ``by`` to a record's number (a missing key starts at 0), atomically: the
        store's row is locked from the read to the write. ``check(current)`` may refuse
        the current value (not a number) by raising; nothing is written then."""
        with self._write() as s:
            row = self._locked_record(s, user_id, store_id, key)
            now = utcnow()
            current: JSON = row.value if row is not None else 0
            if check is not None:
                check(current)
            if not isinstance(current, int | float) or isinstance(current, bool):
                raise TypeError(f"the record {key!r} holds no number")
            total = current + by
            if row is None:
                row = self._insert(s, store_id, key, total, now, max_records)
            else:
                row.value = total
                row.updated_at = now
            s.flush()
            return to_record(DataRecord, row)

    def delete_data_record(self, user_id: str, store_id: str, key: str) -> bool:
        """Delete a record; False when there is no such key in a store of the user's."""
        query = delete(DataRecordRow).where(
            DataRecordRow.store_id == store_id,
            DataRecordRow.key == key,
            DataRecordRow.store_id.in_(self._owned(user_id, store_id)),
        )
        with self._write() as s:
            return rowcount(s.execute(query)) > 0

    def data_store_export(self, user_id: str) -> list[tuple[DataStore, list[DataRecord]]]:
        """Every store of the user's with all its records (an export of their data)."""
        stores = self.list_data_stores(user_id)
        with self._read() as s:
            return [
                (
                    store,
                    [
                        to_record(DataRecord, row)
                        for row in s.scalars(
                            select(DataRecordRow)
                            .where(DataRecordRow.store_id == store.id)
                            .order_by(DataRecordRow.key)
                        )
                    ],
                )
                for store in stores
            ]

    # -- helpers ------------------------------------------------------------------------

    @staticmethod
    def _owned(user_id: str, store_id: str) -> Any:
        return select(DataStoreRow.id).where(
            DataStoreRow.id == store_id, DataStoreRow.user_id == user_id
        )

    @staticmethod
    def _locked_record(s: Session, user_id: str, store_id: str, key: str) -> DataRecordRow | None:
        """Lock the store's row (the writers of one store queue here) and read the record."""
        owned = s.scalar(
            select(DataStoreRow.id)
            .where(DataStoreRow.id == store_id, DataStoreRow.user_id == user_id)
            .with_for_update()
        )
        if owned is None:
            raise NotFoundError(f"no data store {store_id}")
        return s.get(DataRecordRow, (store_id, key), populate_existing=True)

    @staticmethod
    def _insert(
        s: Session, store_id: str, key: str, value: JSON, now: Any, max_records: int
    ) -> DataRecordRow:
        count = s.scalar(
            select(func.count())
            .select_from(DataRecordRow)
            .where(DataRecordRow.store_id == store_id)
        )
        if int(count or 0) >= max_records:
            raise LimitReachedError("records", max_records)
        row = DataRecordRow(store_id=store_id, key=key, value=value, created_at=now, updated_at=now)
        s.add(row)
        return row
