"""The Data stores page, headless against a real Cellwright: create, open, edit and
delete; only the signed-in user's stores; errors shown in the banner."""

from __future__ import annotations

import json
from typing import Any

import pytest

from connectors.sdk import CellwrightError, InvalidInputError
from workspace.views.datastores import DataStoresPage, DataStoresState, parse_value

pytestmark = pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")


def test_state_creates_opens_edits_and_deletes(svc: Any, user: Any) -> None:
    state = DataStoresState(svc, user)
    assert state.stores == [] and state.selected == ""
    state.create("orders")
    assert [s["name"] for s in state.stores] == ["orders"] and state.store_name() == "orders"
    state.save_record("last_order_id", '"ord_1"')
    state.save_record("customer:1", '{"status": "paid"}')
    state.save_record("customer:2", "42")
    assert [r["key"] for r in state.records] == ["customer:1", "customer:2", "last_order_id"]
    assert state.stores[0]["records"] == 3

    state.open(state.selected, "customer:")
    assert [r["value"] for r in state.records] == [{"status": "paid"}, 42] and state.total == 2
    state.save_record("customer:2", "43")  # an edit keeps the filter
    assert [r["value"] for r in state.records] == [{"status": "paid"}, 43]
    state.delete_record("customer:1")
    assert [r["key"] for r in state.records] == ["customer:2"]

    exported = json.loads(state.export_json())
    assert [r["key"] for r in exported[0]["records"]] == ["customer:2", "last_order_id"]
    state.delete(state.selected)
    assert state.stores == [] and state.selected == "" and state.records == []


def test_values_must_be_json_and_the_error_says_how(svc: Any, user: Any) -> None:
    assert parse_value(' "text" ') == "text" and parse_value("null") is None
    with pytest.raises(InvalidInputError, match='Put text in quotes: "ord_1001"'):
        parse_value("ord_1001")
    with pytest.raises(InvalidInputError, match="type a JSON value"):
        parse_value("  ")
    state = DataStoresState(svc, user)
    with pytest.raises(InvalidInputError, match="Open a data store first"):
        state.save_record("k", "1")


def test_another_users_stores_are_not_shown_or_opened(svc: Any, user: Any) -> None:
    other = svc.store.create_user("eve@example.com")
    theirs = svc.data_stores.create(other.id, "eves")
    state = DataStoresState(svc, user)
    assert state.stores == []
    with pytest.raises(CellwrightError, match="No data store"):
        state.open(theirs.id)
    assert state.selected == ""


async def test_page_shows_limits_and_errors_in_its_banner(svc: Any, user: Any) -> None:
    svc.settings.data_store_max_value_bytes = 20
    page = DataStoresPage(svc, user, nav=lambda *a, **k: None)
    assert not page.editor.visible
    page.new_name.value = "notes"
    await page._create(None)
    assert page.banner.kind == "ok" and page.editor.visible
    assert "notes" in page.heading.object
    page.key.value, page.value.value = "note", json.dumps("x" * 40)
    await page._save(None)
    assert page.banner.kind == "error"
    assert "CELLWRIGHT_DATA_STORE_MAX_VALUE_BYTES" in page.banner.message
    assert "ask your administrator to raise the limit" in page.banner.message
    assert page.value.value  # the text stays for the user to shorten

    page.value.value = '"short"'
    await page._save(None)
    assert page.banner.kind == "ok" and len(page.records_box.objects) == 1
    assert "1 record<" in page.heading.object  # the count shown with the records
    page.key.value, page.value.value = "other", "2"
    await page._save(None)
    assert "2 records<" in page.heading.object and len(page.records_box.objects) == 2
    page._edit(page.state.records[0])
    assert (page.key.value, page.value.value) == ("note", '"short"')

    store_id = page.state.selected
    await page._delete_store(store_id)  # the first click asks
    assert page.banner.kind == "warn" and svc.data_stores.for_user(user.id)
    await page._delete_store(store_id)
    assert svc.data_stores.for_user(user.id) == [] and not page.editor.visible
