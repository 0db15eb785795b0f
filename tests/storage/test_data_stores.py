"""Data stores in the Store, against real SQLite and PostgreSQL databases."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from storage import ConflictError, LimitReachedError, NotFoundError, Store, User


def test_stores_are_created_listed_and_deleted_per_user(
    store: Store, alice: User, bob: User
) -> None:
    orders = store.create_data_store(alice.id, "orders", max_stores=10)
    store.create_data_store(alice.id, "customers", max_stores=10)
    store.create_data_store(bob.id, "orders", max_stores=10)  # the same name, another user

    assert [s.name for s in store.list_data_stores(alice.id)] == ["customers", "orders"]
    assert store.get_data_store(alice.id, orders.id) == orders
    assert store.data_store_named(alice.id, "orders") == orders
    assert store.get_data_store(bob.id, orders.id) is None
    with pytest.raises(ConflictError):
        store.create_data_store(alice.id, "orders", max_stores=10)

    store.put_data_record(alice.id, orders.id, "a", 1, max_records=10)
    assert not store.delete_data_store(bob.id, orders.id)
    assert store.delete_data_store(alice.id, orders.id)
    assert store.get_data_store(alice.id, orders.id) is None
    assert [s.name for s in store.list_data_stores(alice.id)] == ["customers"]


def test_records_hold_any_json_value_and_count_in_the_listing(store: Store, alice: User) -> None:
    box = store.create_data_store(alice.id, "box", max_stores=10)
    values = {"text": "ok", "number": 4.5, "object": {"a": [1, None]}, "nothing": None, "t": True}
    for key, value in values.items():
        store.put_data_record(alice.id, box.id, key, value, max_records=10)

    for key, value in values.items():
        record = store.get_data_record(alice.id, box.id, key)
        assert record is not None and record.value == value, key
    assert store.list_data_stores(alice.id)[0].records == len(values)
    assert store.get_data_store(alice.id, box.id).records == len(values)  # type: ignore[union-attr]

    changed = store.put_data_record(alice.id, box.id, "text", "new", max_records=10)
    assert changed.value == "new" and changed.updated_at >= changed.created_at
    assert store.delete_data_record(alice.id, box.id, "text")
    assert not store.delete_data_record(alice.id, box.id, "text")
    assert store.get_data_record(alice.id, box.id, "text") is None


def test_another_users_store_is_not_there_for_any_record_call(
    store: Store, alice: User, bob: User
) -> None:
    secret = store.create_data_store(alice.id, "secret", max_stores=10)
    store.put_data_record(alice.id, secret.id, "pin", 1234, max_records=10)

    assert store.get_data_record(bob.id, secret.id, "pin") is None
    assert store.find_data_records(bob.id, secret.id) == []
    assert store.count_data_records(bob.id, secret.id) == 0
    assert not store.delete_data_record(bob.id, secret.id, "pin")
    with pytest.raises(NotFoundError):
        store.put_data_record(bob.id, secret.id, "pin", 0, max_records=10)
    with pytest.raises(NotFoundError):
        store.increment_data_record(bob.id, secret.id, "pin", 1, max_records=10)
    assert store.get_data_record(alice.id, secret.id, "pin").value == 1234  # type: ignore[union-attr]
    assert [s for s, _ in store.data_store_export(bob.id)] == []


def test_find_by_key_prefix_and_by_a_value_test(store: Store, alice: User) -> None:
    box = store.create_data_store(alice.id, "people", max_stores=10)
    for key, value in {
        "customer:1": {"status": "paid"},
        "customer:2": {"status": "open"},
        "customer:3": {"status": "paid"},
        "customer_4": {"status": "paid"},  # '_' is no wildcard
        "vendor:1": {"status": "paid"},
    }.items():
        store.put_data_record(alice.id, box.id, key, value, max_records=10)

    keys = [r.key for r in store.find_data_records(alice.id, box.id, prefix="customer:")]
    assert keys == ["customer:1", "customer:2", "customer:3"]
    assert store.count_data_records(alice.id, box.id, prefix="customer:") == 3

    def paid(value: object) -> bool:
        return isinstance(value, dict) and value.get("status") == "paid"

    found = store.find_data_records(alice.id, box.id, prefix="customer", where=paid)
    assert [r.key for r in found] == ["customer:1", "customer:3", "customer_4"]
    page = store.find_data_records(alice.id, box.id, where=paid, limit=2, offset=1)
    assert [r.key for r in page] == ["customer:3", "customer_4"]
    assert [r.key for r in store.find_data_records(alice.id, box.id, limit=2, offset=3)] == [
        "customer_4",
        "vendor:1",
    ]


def test_limits_on_stores_and_records(store: Store, alice: User) -> None:
    box = store.create_data_store(alice.id, "one", max_stores=2)
    store.create_data_store(alice.id, "two", max_stores=2)
    with pytest.raises(LimitReachedError) as stores_full:
        store.create_data_store(alice.id, "three", max_stores=2)
    assert (stores_full.value.what, stores_full.value.limit) == ("stores", 2)

    store.put_data_record(alice.id, box.id, "a", 1, max_records=2)
    store.increment_data_record(alice.id, box.id, "b", 1, max_records=2)
    with pytest.raises(LimitReachedError) as records_full:
        store.put_data_record(alice.id, box.id, "c", 1, max_records=2)
    assert (records_full.value.what, records_full.value.limit) == ("records", 2)
    with pytest.raises(LimitReachedError):
        store.increment_data_record(alice.id, box.id, "c", 1, max_records=2)
    # changing an existing key is no new record
    assert store.put_data_record(alice.id, box.id, "a", 5, max_records=2).value == 5
    assert store.increment_data_record(alice.id, box.id, "b", 2, max_records=2).value == 3
    assert store.count_data_records(alice.id, box.id) == 2


def test_concurrent_increments_from_many_threads_lose_nothing(store: Store, alice: User) -> None:
    """Eight threads add 1 fifty times each, to one key and to keys created on the way:
    every increment counts (the read and the write happen under the store's row lock)."""
    box = store.create_data_store(alice.id, "counters", max_stores=10)

    def work(n: int) -> None:
        for i in range(50):
            store.increment_data_record(alice.id, box.id, "total", 1, max_records=100)
            store.increment_data_record(alice.id, box.id, f"k{i % 5}", 0.5, max_records=100)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(work, range(8)))

    assert store.get_data_record(alice.id, box.id, "total").value == 400  # type: ignore[union-attr]
    for i in range(5):
        assert store.get_data_record(alice.id, box.id, f"k{i}").value == 40.0  # type: ignore[union-attr]


def test_concurrent_new_keys_stop_exactly_at_the_record_limit(store: Store, alice: User) -> None:
    box = store.create_data_store(alice.id, "capped", max_stores=10)

    def add(n: int) -> bool:
        try:
            store.put_data_record(alice.id, box.id, f"key{n}", n, max_records=10)
        except LimitReachedError:
            return False
        return True

    with ThreadPoolExecutor(max_workers=8) as pool:
        added = list(pool.map(add, range(30)))

    assert sum(added) == 10
    assert store.count_data_records(alice.id, box.id) == 10


def test_increment_refuses_a_value_that_is_no_number(store: Store, alice: User) -> None:
    box = store.create_data_store(alice.id, "mixed", max_stores=10)
    store.put_data_record(alice.id, box.id, "name", "Ada", max_records=10)
    with pytest.raises(TypeError):
        store.increment_data_record(alice.id, box.id, "name", 1, max_records=10)
    assert store.get_data_record(alice.id, box.id, "name").value == "Ada"  # type: ignore[union-attr]


def test_export_holds_every_store_with_its_records(store: Store, alice: User) -> None:
    a = store.create_data_store(alice.id, "a", max_stores=10)
    store.create_data_store(alice.id, "b", max_stores=10)
    store.put_data_record(alice.id, a.id, "x", {"n": 1}, max_records=10)
    exported = store.data_store_export(alice.id)
    assert [(s.name, [(r.key, r.value) for r in rs]) for s, rs in exported] == [
        ("a", [("x", {"n": 1})]),
        ("b", []),
    ]
