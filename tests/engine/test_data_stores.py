"""Data stores through the engine: ``svc.data_stores`` with its limits, and the Data
store app's actions in real scenario runs, each run reaching its owner's stores only."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from cells import document as documents
from connectors.sdk import InvalidInputError, LimitExceededError
from engine.service import Cellwright, Conflict, NotFound

RUN = """
name: {name}
cells:
  - {{id: start, kind: trigger, app: manual, operation: run_manually}}
{cells}
"""


def scenario(svc: Cellwright, user: Any, cells: str, name: str = "Data") -> Any:
    return svc.import_scenario(user.id, documents.loads(RUN.format(name=name, cells=cells)))


def outputs(execution: dict[str, Any]) -> dict[str, Any]:
    assert execution["status"] == "completed", execution
    return {c["cell_id"]: c["output"] for c in execution["cells"]}


@pytest.fixture
def bob(svc: Cellwright) -> Any:
    return svc.accounts.create_user("bob@example.com", name="Bob")


# -- the service --------------------------------------------------------------------------


def test_stores_and_records_through_the_service(svc: Cellwright, user: Any) -> None:
    orders = svc.data_stores.create(user.id, "  orders ")
    assert orders.name == "orders"
    with pytest.raises(Conflict, match="already have a data store named 'orders'"):
        svc.data_stores.create(user.id, "orders")
    svc.data_stores.put_record(user.id, orders.id, "a", {"status": "paid"})
    svc.data_stores.put_record(user.id, orders.id, "b", {"status": "open"})
    assert svc.data_stores.increment(user.id, orders.id, "n", 2).value == 2
    assert svc.data_stores.get_record(user.id, orders.id, "a").value == {"status": "paid"}
    paid = svc.data_stores.records(user.id, orders.id, field="status", equals="paid")
    assert [r.key for r in paid] == ["a"]
    assert svc.data_stores.count(user.id, orders.id) == 3
    svc.data_stores.delete_record(user.id, orders.id, "a")
    with pytest.raises(NotFound, match="no record 'a'"):
        svc.data_stores.get_record(user.id, orders.id, "a")
    assert svc.data_stores.export(user.id)[0]["records"][0]["key"] == "b"
    svc.data_stores.delete(user.id, orders.id)
    assert svc.data_stores.for_user(user.id) == []
    actions = [e.action for e in svc.accounts.audit_entries(user.id)]
    assert actions[:2] == ["data_store.delete", "data_store.create"]


def test_another_users_store_is_not_found(svc: Cellwright, user: Any, bob: Any) -> None:
    theirs = svc.data_stores.create(bob.id, "private")
    svc.data_stores.put_record(bob.id, theirs.id, "pin", 1234)
    for attempt in (
        lambda: svc.data_stores.get(user.id, theirs.id),
        lambda: svc.data_stores.records(user.id, theirs.id),
        lambda: svc.data_stores.get_record(user.id, theirs.id, "pin"),
        lambda: svc.data_stores.put_record(user.id, theirs.id, "pin", 0),
        lambda: svc.data_stores.increment(user.id, theirs.id, "pin"),
        lambda: svc.data_stores.delete_record(user.id, theirs.id, "pin"),
        lambda: svc.data_stores.delete(user.id, theirs.id),
    ):
        with pytest.raises(NotFound):
            attempt()
    assert svc.data_stores.get_record(bob.id, theirs.id, "pin").value == 1234
    assert svc.data_stores.export(user.id) == []


def test_limits_name_the_limit_the_store_and_the_setting(svc: Cellwright, user: Any) -> None:
    svc.settings.data_store_max_stores = 1
    svc.settings.data_store_max_records = 2
    svc.settings.data_store_max_value_bytes = 20
    box = svc.data_stores.create(user.id, "box")
    with pytest.raises(LimitExceededError) as stores:
        svc.data_stores.create(user.id, "second")
    assert (
        "'second'" in stores.value.message
        and "CELLWRIGHT_DATA_STORE_MAX_STORES" in stores.value.message
    )
    assert stores.value.code == "limit_exceeded" and stores.value.limit == "data_store_max_stores"

    with pytest.raises(LimitExceededError) as big:
        svc.data_stores.put_record(user.id, box.id, "k", "x" * 30)
    assert big.value.message.startswith(
        "The value for 'k' in data store 'box' is 32 bytes; the limit is 20 bytes"
    )
    assert svc.data_stores.count(user.id, box.id) == 0  # nothing written

    svc.data_stores.put_record(user.id, box.id, "a", 1)
    svc.data_stores.put_record(user.id, box.id, "b", 2)
    with pytest.raises(LimitExceededError) as full:
        svc.data_stores.put_record(user.id, box.id, "c", 3)
    assert full.value.message.startswith("Data store 'box' is full: it holds 2 records")
    assert "'c' was not added" in full.value.message and full.value.details["store"] == "box"


def test_bad_names_keys_and_values_are_refused_naming_the_field(svc: Cellwright, user: Any) -> None:
    with pytest.raises(InvalidInputError, match="name: The store's name is empty"):
        svc.data_stores.create(user.id, "   ")
    box = svc.data_stores.create(user.id, "box")
    with pytest.raises(InvalidInputError, match="key: The key is 201 characters long"):
        svc.data_stores.put_record(user.id, box.id, "k" * 201, 1)
    with pytest.raises(InvalidInputError, match="key: The key contains a control character"):
        svc.data_stores.put_record(user.id, box.id, "a\nb", 1)
    with pytest.raises(InvalidInputError, match="value: is not a JSON value"):
        svc.data_stores.put_record(user.id, box.id, "nan", float("nan"))
    svc.data_stores.put_record(user.id, box.id, "name", "Ada")
    with pytest.raises(
        InvalidInputError, match="'name' in data store 'box' holds str, not a number"
    ):
        svc.data_stores.increment(user.id, box.id, "name")
    with pytest.raises(InvalidInputError, match="by: must be a number"):
        svc.data_stores.increment(user.id, box.id, "n", True)


# -- the app in scenario runs ---------------------------------------------------------------

REMEMBER = """
  - id: last
    kind: action
    app: data_store
    operation: get_record
    inputs: {store: orders, key: last_order_id, default: none yet}
  - id: save
    kind: action
    app: data_store
    operation: set_record
    inputs: {store: orders, key: last_order_id, value: "{{ trigger.order }}"}
  - id: count
    kind: action
    app: data_store
    operation: increment
    inputs: {store: orders, key: seen, by: 1}
  - id: customer
    kind: action
    app: data_store
    operation: set_record
    inputs:
      store: orders
      key: "customer:{{ trigger.customer }}"
      value: {status: "{{ trigger.status }}", order: "{{ trigger.order }}"}
  - id: paid
    kind: action
    app: data_store
    operation: find_records
    inputs: {store: orders, key_prefix: "customer:", field: status, equals: paid}
"""


async def test_a_scenario_remembers_between_runs(svc: Cellwright, user: Any) -> None:
    remember = scenario(svc, user, REMEMBER)
    first = outputs(
        await svc.run_now(
            user.id, remember.id, {"order": "o1", "customer": "ada", "status": "paid"}
        )
    )
    assert first["last"] == {
        "found": False,
        "key": "last_order_id",
        "value": "none yet",
        "updated_at": None,
    }
    assert first["save"]["value"] == "o1" and first["count"]["value"] == 1

    second = outputs(
        await svc.run_now(user.id, remember.id, {"order": "o2", "customer": "bo", "status": "open"})
    )
    assert (second["last"]["found"], second["last"]["value"]) == (True, "o1")
    assert second["count"]["value"] == 2
    assert [r["key"] for r in second["paid"]["records"]] == ["customer:ada"]
    assert second["paid"]["first"]["value"] == {"status": "paid", "order": "o1"}

    # the first write created the store; the workspace and the API see the same records
    (orders,) = svc.data_stores.for_user(user.id)
    assert (orders.name, orders.records) == ("orders", 4)
    assert svc.data_stores.get_record(user.id, orders.id, "last_order_id").value == "o2"


async def test_concurrent_runs_never_lose_an_increment(svc: Cellwright, user: Any) -> None:
    counter = scenario(
        svc,
        user,
        "  - {id: add, kind: action, app: data_store, operation: increment, "
        "inputs: {store: counters, key: runs, by: 1}}",
    )
    results = await asyncio.gather(*(svc.run_now(user.id, counter.id, {}) for _ in range(30)))
    assert all(r["status"] == "completed" for r in results)
    (store,) = svc.data_stores.for_user(user.id)
    assert svc.data_stores.get_record(user.id, store.id, "runs").value == 30
    totals = sorted(outputs(r)["add"]["value"] for r in results)
    assert totals == list(range(1, 31))  # each run saw its own total


async def test_a_run_reaches_only_its_owners_stores(svc: Cellwright, user: Any, bob: Any) -> None:
    theirs = svc.data_stores.create(bob.id, "orders")
    svc.data_stores.put_record(bob.id, theirs.id, "last_order_id", "bobs secret")
    reader = scenario(
        svc,
        user,
        "  - {id: peek, kind: action, app: data_store, operation: get_record, "
        "inputs: {store: orders, key: last_order_id}}\n"
        "  - {id: scribble, kind: action, app: data_store, operation: set_record, "
        "inputs: {store: orders, key: last_order_id, value: mine}}",
    )
    out = outputs(await svc.run_now(user.id, reader.id, {}))
    assert out["peek"]["found"] is False
    assert svc.data_stores.get_record(bob.id, theirs.id, "last_order_id").value == "bobs secret"
    (mine,) = svc.data_stores.for_user(user.id)
    assert mine.id != theirs.id


async def test_a_limit_fails_the_cell_with_a_clear_error(svc: Cellwright, user: Any) -> None:
    svc.settings.data_store_max_value_bytes = 16
    big = scenario(
        svc,
        user,
        "  - {id: save, kind: action, app: data_store, operation: set_record, "
        'inputs: {store: notes, key: note, value: "{{ trigger.text }}"}}',
    )
    result = await svc.run_now(user.id, big.id, {"text": "a rather long note indeed"})
    assert result["status"] == "failed"
    (cell,) = [c for c in result["cells"] if c["cell_id"] == "save"]
    assert cell["error"]["code"] == "limit_exceeded"
    assert "data store 'notes'" in cell["error"]["message"]
    assert "CELLWRIGHT_DATA_STORE_MAX_VALUE_BYTES" in cell["error"]["message"]


async def test_the_store_dropdown_lists_the_users_stores(
    svc: Cellwright, user: Any, bob: Any
) -> None:
    svc.data_stores.create(user.id, "orders")
    svc.data_stores.create(user.id, "customers")
    svc.data_stores.create(bob.id, "bobs")
    options = await svc.options(user.id, "data_store", "get_record", "store", None)
    assert [o.to_dict() for o in options] == [
        {"value": "customers", "label": "customers"},
        {"value": "orders", "label": "orders"},
    ]


async def test_only_apps_that_use_data_stores_get_them(svc: Cellwright, user: Any) -> None:
    from cells.models import ActionCell
    from engine.datastores import OwnerDataStores

    cell = ActionCell(id="x", kind="action", app="http", operation="request")
    ctx = await svc.contexts.context(user.id, cell, svc.apps.get("http"))
    assert ctx.data_stores is None
    ctx = await svc.contexts.context(user.id, cell, svc.apps.get("data_store"))
    assert isinstance(ctx.data_stores, OwnerDataStores)
    svc.data_stores.create(user.id, "mine")
    assert await ctx.data_stores.names() == ["mine"]
