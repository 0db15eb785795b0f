"""A scenario you can see, in Chromium against a real server: the flow diagram (branch
names, a node opens its cell, statuses after a test run), drag-and-drop reordering that
is saved, app logos and the favicon; axe-clean at 1440 px and 390 px."""

from __future__ import annotations

import uuid
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
    with serve(tmp_path_factory.mktemp("flow")) as running:
        yield running


def text_step(cell_id: str, value: str) -> dict[str, Any]:
    return {
        "id": cell_id,
        "kind": "transformer",
        "app": "formatter",
        "operation": "text",
        "inputs": {"value": value, "transform": "upper"},
    }


def seed(server: Any, name: str) -> str:
    """A scenario with a filter and a router, owned by the administrator; returns its id."""
    from cells import document as documents
    from workspace.cli import _app

    doc = documents.parse(
        {
            "name": name,
            "cells": [
                {"id": "hook", "kind": "trigger", "app": "webhook", "operation": "catch_hook"},
                text_step("upper", "{{ trigger.body.name | default('ada') }}"),
                text_step("tidy", "tidy"),
                {
                    "id": "named",
                    "kind": "condition",
                    "rules": {"all": [{"left": "{{ steps.upper.result }}", "op": "exists"}]},
                },
                {
                    "id": "route",
                    "kind": "condition",
                    "branches": [
                        {
                            "name": "big order",
                            "rules": {
                                "all": [
                                    {
                                        "left": "{{ trigger.body.amount | default(0) }}",
                                        "op": "gt",
                                        "right": 10,
                                    }
                                ]
                            },
                            "cells": [text_step("big_fields", "big")],
                        },
                        {
                            "name": "small order",
                            "fallback": True,
                            "cells": [text_step("small_fields", "small")],
                        },
                    ],
                },
            ],
        }
    )
    with _app(server.data_dir) as svc:
        admin = svc.store.get_user_by_email(server.admin_email)
        return str(svc.import_scenario(admin.id, doc).id)


def order(page: Page) -> list[str]:
    """Cell ids of the first (top-level) collapsed list, top to bottom."""
    ids: list[str] = (
        page.locator(".cell-list")
        .first.locator("li")
        .evaluate_all(
            "items => items.map(li => [...li.classList].find(c => c.startsWith('cell-') && c !== "
            "'cell-card').slice(5))"
        )
    )
    return ids


def node(page: Page, cell_id: str) -> Any:
    return page.locator(f'.cw-flow .node[data-id="{cell_id}"]')


def test_flow_diagram_and_drag_and_drop(page: Page, server: Any, screenshots: Path) -> None:
    scenario_id = seed(server, f"Flow {uuid.uuid4().hex[:6]}")
    page.goto(server.url + "/login")
    page.fill("#email", server.admin_email)
    page.fill("#password", server.admin_password)
    page.click("button[type=submit]")
    expect(page.locator(".scenario-list")).to_be_visible(timeout=TIMEOUT)
    icons = page.evaluate(
        "() => [...document.querySelectorAll('link[rel~=icon]')].map(l => l.href)"
    )
    assert f"{server.url}/favicon.ico" in icons or f"{server.url}/favicon.svg" in icons, (
        icons
    )  # ours, not Panel's
    favicon = page.request.get(server.url + "/favicon.ico")
    assert favicon.ok and favicon.headers["content-type"].startswith("image/svg+xml")
    page.goto(f"{server.url}/?page=scenario&id={scenario_id}")

    # the diagram: trigger, steps, the filter as a gate, the router forking into named branches
    diagram = page.locator(".cw-flow")
    expect(diagram).to_contain_text("big order", timeout=TIMEOUT)
    expect(diagram).to_contain_text("small order (otherwise)")
    expect(diagram).to_contain_text("if it passes")
    expect(node(page, "hook")).to_contain_text("Trigger: Webhook")
    expect(node(page, "named")).to_have_class("node node-filter")
    expect(node(page, "route")).to_contain_text("Router · 2 branches")
    logo = node(page, "upper").locator("img")
    expect(logo).to_have_attribute("src", "/static/icons/apps/formatter.svg")
    for img in (
        logo,
        page.locator(".cell-list li.cell-upper img.cw-logo").first,
    ):  # logos load, from the server itself
        page.wait_for_function(
            "img => img.complete && img.naturalWidth > 0", arg=img.element_handle(), timeout=TIMEOUT
        )
    page.set_viewport_size({"width": 1440, "height": 900})
    audit(page, "flow-01-diagram-1440", screenshots)

    # a node opens its cell (inside its router), with the focus on the cell's header
    node(page, "small_fields").click()
    expect(page.locator(".run-small_fields button")).to_be_visible(timeout=TIMEOUT)
    expect(page.locator(".cell-toggle-small_fields button")).to_have_attribute(
        "aria-expanded", "true"
    )

    # a test run (the webhook's sample: an amount of 42): each node says how it went, in words
    page.locator(".test-run button").click()
    expect(page.locator(".open-execution")).to_be_visible(timeout=TIMEOUT)
    expect(node(page, "upper").locator(".status")).to_have_text("completed", timeout=TIMEOUT)
    expect(node(page, "big_fields").locator(".status")).to_have_text("completed")
    expect(node(page, "small_fields").locator(".status")).to_have_text("not run")
    audit(page, "flow-02-after-test-run-1440", screenshots)

    # drag "tidy" above "upper": the order changes, and survives a save and a reload
    assert order(page)[:3] == ["hook", "upper", "tidy"]
    source = page.locator(".cell-list li.cell-tidy .grip").first
    target = page.locator(".cell-list li.cell-upper").first
    source.drag_to(target, target_position={"x": 40, "y": 3})
    expect(page.locator(".cell-list").first.locator("li").nth(1)).to_have_class(
        "cell-card cell-tidy", timeout=TIMEOUT
    )
    assert order(page)[:3] == ["hook", "tidy", "upper"]
    expect(node(page, "tidy").locator(".title")).to_have_text(
        "2. tidy", timeout=TIMEOUT
    )  # the diagram follows
    page.locator(".save button").click()
    expect(page.locator(".notebook-banner")).to_contain_text("Saved version", timeout=TIMEOUT)
    page.reload()
    expect(page.locator(".cell-list li.cell-tidy").first).to_be_visible(timeout=TIMEOUT)
    assert order(page)[:3] == ["hook", "tidy", "upper"]

    # small screens: the diagram scrolls inside its own box, the page stays clean
    page.set_viewport_size({"width": 390, "height": 844})
    expect(node(page, "route")).to_be_visible(timeout=TIMEOUT)
    audit(page, "flow-03-diagram-390", screenshots)
