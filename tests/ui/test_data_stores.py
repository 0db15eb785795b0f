"""The Data stores page in Chromium against a real server: a store a scenario filled is
listed with its records; a store is created, a record added, edited, deleted; bad JSON
is refused with a message; the store is deleted after asking; axe-clean."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.ui.conftest import Server, audit, serve

pytestmark = pytest.mark.ui

TIMEOUT = 15_000


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serve(tmp_path_factory.mktemp("data-stores")) as running:
        yield running


def seed(server: Any) -> None:
    from workspace.cli import _app

    with _app(server.data_dir) as svc:
        admin = svc.store.get_user_by_email(server.admin_email)
        orders = svc.data_stores.create(admin.id, "orders")
        svc.data_stores.put_record(admin.id, orders.id, "last_order_id", "ord_<1001>")
        svc.data_stores.put_record(admin.id, orders.id, "seen", 7)


def store_row(page: Page, name: str) -> Any:
    return page.locator(".store-row", has=page.locator(".store-open button", has_text=name))


def record_row(page: Page, key: str) -> Any:
    return page.locator(".record-row", has=page.locator(".record-edit button", has_text=key))


def test_data_stores_page(page: Page, server: Any, screenshots: Path) -> None:
    seed(server)
    page.goto(server.url + "/login")
    page.fill("#email", server.admin_email)
    page.fill("#password", server.admin_password)
    page.click("button[type=submit]")
    expect(page.locator(".scenario-list, .cw-top").first).to_be_visible(timeout=TIMEOUT)
    page.goto(server.url + "/?page=datastores")
    expect(store_row(page, "orders")).to_contain_text("2 records", timeout=TIMEOUT)

    store_row(page, "orders").locator(".store-open button").click()
    expect(page.locator(".record-row")).to_have_count(2, timeout=TIMEOUT)
    expect(page.locator(".store-heading")).to_contain_text("2 records")
    expect(record_row(page, "last_order_id")).to_contain_text('"ord_<1001>"')  # text, not markup
    audit(page, "data-stores-1440", screenshots)

    # edit a record: its key and value fill the form
    record_row(page, "seen").locator(".record-edit button").click()
    expect(page.locator(".record-value textarea")).to_have_value("7", timeout=TIMEOUT)
    page.locator(".record-value textarea").fill("8")
    page.locator(".record-value textarea").press(
        "Tab"
    )  # Panel sends a text area's value when it loses focus
    page.locator(".record-save button").click()
    expect(record_row(page, "seen")).to_contain_text("8", timeout=TIMEOUT)
    # a save empties the form; typing before that arrives would be wiped by it
    expect(page.locator(".record-key input")).to_have_value("", timeout=TIMEOUT)
    expect(page.locator(".record-value textarea")).to_have_value("", timeout=TIMEOUT)

    # a value that is no JSON is refused, saying how to write text
    page.locator(".record-key input").fill("note")
    page.locator(".record-key input").press("Tab")
    page.locator(".record-value textarea").fill("hello")
    page.locator(".record-value textarea").press(
        "Tab"
    )  # Panel sends a text area's value when it loses focus
    page.locator(".record-save button").click()
    expect(page.get_by_role("alert").filter(has_text="Put text in quotes")).to_be_visible(
        timeout=TIMEOUT
    )
    page.locator(".record-value textarea").fill('"hello"')
    page.locator(".record-value textarea").press(
        "Tab"
    )  # Panel sends a text area's value when it loses focus
    page.locator(".record-save button").click()
    expect(page.locator(".record-row")).to_have_count(3, timeout=TIMEOUT)

    record_row(page, "note").locator(".record-delete button").click()
    expect(page.locator(".record-row")).to_have_count(2, timeout=TIMEOUT)

    # a new store opens empty
    page.locator(".store-name input").fill("customers")
    page.locator(".store-name input").press("Tab")
    page.locator(".store-create button").click()
    expect(page.locator(".store-row")).to_have_count(2, timeout=TIMEOUT)
    expect(page.locator(".store-editor")).to_contain_text("No records.")

    # deleting asks once more
    store_row(page, "customers").locator(".store-delete button").click()
    expect(page.get_by_role("alert").filter(has_text="Click the red button again")).to_be_visible(
        timeout=TIMEOUT
    )
    store_row(page, "customers").locator(".store-delete button").click()
    expect(page.locator(".store-row")).to_have_count(1, timeout=TIMEOUT)

    page.set_viewport_size({"width": 390, "height": 844})
    audit(page, "data-stores-390", screenshots)
