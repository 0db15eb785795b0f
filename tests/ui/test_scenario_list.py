"""The scenarios list in Chromium against a real server: one component whose buttons
open, enable, duplicate, export (a real download) and delete (after asking) the right
scenario; tags show; axe-clean at 1440 px and 390 px."""

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
    """A server of its own: the scenarios made here must not show in other tests' lists."""
    with serve(tmp_path_factory.mktemp("scenario-list")) as running:
        yield running


def seed(server: Any) -> None:
    from cells import document as documents
    from workspace.cli import _app

    with _app(server.data_dir) as svc:
        admin = svc.store.get_user_by_email(server.admin_email)
        for name, tags in (("Refunds to Slack", ["billing"]), ("New leads <CRM>", [])):
            svc.import_scenario(
                admin.id,
                documents.parse(
                    {
                        "name": name,
                        "tags": tags,
                        "cells": [
                            {
                                "id": "hook",
                                "kind": "trigger",
                                "app": "webhook",
                                "operation": "catch_hook",
                            },
                            {
                                "id": "shout",
                                "kind": "transformer",
                                "app": "formatter",
                                "operation": "text",
                                "inputs": {"value": "hi", "transform": "upper"},
                            },
                        ],
                    }
                ),
            )


def row(page: Page, name: str) -> Any:
    return page.locator(".scenario-row", has=page.locator(".open-scenario button", has_text=name))


def test_scenario_list_buttons(page: Page, server: Any, screenshots: Path) -> None:
    seed(server)
    page.goto(server.url + "/login")
    page.fill("#email", server.admin_email)
    page.fill("#password", server.admin_password)
    page.click("button[type=submit]")
    expect(page.locator(".scenario-row")).to_have_count(2, timeout=TIMEOUT)
    refunds, leads = (
        row(page, "Refunds to Slack"),
        row(page, "New leads <CRM>"),
    )  # the name is text, never markup
    expect(refunds).to_contain_text("billing")
    expect(refunds).to_contain_text("not published · saved v1")
    audit(page, "scenario-list-1440", screenshots)

    refunds.locator(".toggle-scenario button").click()  # enabling publishes it
    expect(refunds.locator(".toggle-scenario button")).to_have_text("Disable", timeout=TIMEOUT)
    expect(refunds).to_contain_text("live v1")

    with page.expect_download(timeout=TIMEOUT) as download:
        leads.locator(".export-scenario button").click()
    assert download.value.suggested_filename == "new-leads-crm.yaml"
    assert "name: New leads <CRM>" in Path(download.value.path()).read_text()

    leads.locator(".duplicate-scenario button").click()
    expect(page.locator(".scenario-row")).to_have_count(3, timeout=TIMEOUT)
    expect(page.get_by_role("status").filter(has_text="Duplicated.")).to_be_visible()

    row(page, "New leads <CRM> (copy)").locator(".delete-scenario button").click()
    expect(page.get_by_role("alert").filter(has_text="This cannot be undone")).to_be_visible(
        timeout=TIMEOUT
    )
    page.locator(".confirm-delete button").click()
    expect(page.locator(".scenario-row")).to_have_count(2, timeout=TIMEOUT)

    page.set_viewport_size({"width": 390, "height": 844})
    expect(refunds.locator(".cw-label").first).to_be_visible()  # each cell names itself on a phone
    audit(page, "scenario-list-390", screenshots)

    page.set_viewport_size({"width": 1440, "height": 900})
    refunds.locator(".open-scenario button").click()
    expect(page.locator(".notebook")).to_be_visible(timeout=TIMEOUT)
