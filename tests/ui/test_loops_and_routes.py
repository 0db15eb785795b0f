"""Loops and error routes, built and run in the notebook, in Chromium against a real server.

A user builds a loop over a list of the trigger's test data with the notebook's own
controls (a loop step, a step inside it, an aggregate after it), steps through it and
sees each item's result and the aggregate's; sets an error route on a failing cell
(a step in the route, "continue with a fallback output") and steps into it, the route's
cell seeing ``error``; publishes, delivers a webhook, and finds each item (``2/5``) and
the route's cell on the execution page. Screenshots: /tmp/uiloops-*.png.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.ui.conftest import Server, audit, free_port, serve

pytestmark = pytest.mark.ui

TIMEOUT = 15_000
SHOTS = Path("/tmp")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server of its own, whose webhook URLs point at itself."""
    port = free_port()
    env = {"CELLWRIGHT_PUBLIC_URL": f"http://127.0.0.1:{port}"}
    with serve(tmp_path_factory.mktemp("loops"), port=port, env=env) as running:
        yield running


def shot(page: Page, name: str, screenshots: Path, *, axe: bool = False) -> None:
    """Screenshot for people (/tmp/uiloops-NAME.png); with ``axe``, the accessibility
    audit too (slow on a long notebook: once per new kind of content)."""
    if axe:
        audit(page, f"uiloops-{name}", screenshots)
    page.screenshot(path=str(SHOTS / f"uiloops-{name}.png"), full_page=True)


def sign_in(page: Page, server: Server) -> None:
    page.goto(server.url + "/login")
    page.fill("#email", server.admin_email)
    page.fill("#password", server.admin_password)
    page.click("button[type=submit]")
    expect(page.locator(".scenario-list")).to_be_visible(timeout=TIMEOUT)


def add_step(
    page: Page, where: str, kind: str, app: str | None = None, operation: str | None = None
) -> None:
    """Press the "add a step" button named ``where``; pick the kind (and app, operation)."""
    page.get_by_role("button", name=where, exact=True).click()
    # an earlier, closed dialog stays in the page hidden: act on the visible one
    page.locator(".new-kind select:visible").select_option(label=kind)
    if app is not None and operation is not None:
        operations = page.locator(".new-operation select:visible")
        page.locator(".new-app select:visible").select_option(label=app)
        expect(operations.locator("option", has_text=operation)).to_have_count(1, timeout=TIMEOUT)
        operations.select_option(label=operation)
    page.locator(".new-add button:visible").click()


def fill(page: Page, selector: str, text: str) -> None:
    field = page.locator(selector)
    expect(field).to_be_visible(timeout=TIMEOUT)
    field.fill(text)
    field.press("Tab")  # Panel sends a text box's value when it loses focus


def step(page: Page, expected_next: str | None) -> None:
    """Press Step; wait until the button names the next cell (or says nothing is left)."""
    page.locator(".step button").click()
    button = page.locator(".step button")
    if expected_next is None:
        expect(button).to_be_disabled(timeout=TIMEOUT)
    else:
        expect(button).to_have_text(f"Step: {expected_next}", timeout=TIMEOUT)


def test_a_user_builds_a_loop_and_steps_through_its_items(
    page: Page, server: Server, screenshots: Path
) -> None:
    sign_in(page, server)
    page.locator(".new-scenario-name input").fill("Shout the names")
    page.locator(".create-scenario button").click()
    expect(page.locator(".notebook")).to_be_visible(timeout=TIMEOUT)

    # the trigger's test data holds a list
    page.locator(".cell-toggle-start button").click()
    names = {"method": "POST", "headers": {}, "query": {}, "body": {"names": ["ada", "eve", "bob"]}}
    fill(page, ".trigger-data textarea", json.dumps(names))

    # a loop step goes through that list; a step inside it shouts each name
    add_step(page, "Add a step after start", "Loop (for each item of a list)")
    expect(page.locator(".cell-loop .loop-items input")).to_have_value(
        "{{ trigger.body.names }}", timeout=TIMEOUT
    )
    add_step(page, "Add a step inside loop loop", "App action or transformer", "Formatter", "Text")
    fill(page, ".in-text-value textarea", "{{ item }}")
    page.locator(".in-text-transform select").select_option("upper")
    expect(page.locator(".cell-toggle-loop button")).to_contain_text("(1 cell)", timeout=TIMEOUT)
    expect(page.locator(".cell-toggle-text button")).to_contain_text("2.1. text")

    # an aggregate after the loop joins the shouted names
    add_step(page, "Add a step after loop", "Aggregate (collect a loop's results)")
    expect(page.locator(".aggregate-loop select")).to_have_value("loop", timeout=TIMEOUT)
    page.locator(".aggregate-mode select").select_option(label="text, joined")
    fill(page, ".aggregate-value input", "{{ steps.text.result }}")
    expect(page.locator('.cw-flow .node[data-id="loop"]')).to_contain_text("For each item")
    shot(page, "1-loop-built", screenshots, axe=True)

    # Step: the loop runs, each item shows with its result; then the aggregate's output
    step(page, "aggregate")
    items = page.locator(".step-panel .loop-item-results")
    expect(items).to_contain_text("item 1/3", timeout=TIMEOUT)
    for label, shouted in (("item 1/3", "ADA"), ("item 2/3", "EVE"), ("item 3/3", "BOB")):
        expect(items.locator("tr", has_text=label)).to_contain_text(shouted)
    shot(page, "2-step-loop-items", screenshots, axe=True)
    step(page, None)
    expect(page.locator(".step-output")).to_contain_text("ADA, EVE, BOB", timeout=TIMEOUT)
    shot(page, "3-step-aggregate", screenshots)


LOOPED: dict[str, Any] = {
    "name": "Count the names",
    "cells": [
        {
            "id": "start",
            "kind": "trigger",
            "app": "webhook",
            "operation": "catch_hook",
            "test_data": {"method": "POST", "headers": {}, "query": {}, "body": {"names": ["a"]}},
        },
        {
            "id": "loop",
            "kind": "loop",
            "items": "{{ trigger.body.names }}",
            "cells": [
                {
                    "id": "text",
                    "kind": "transformer",
                    "app": "formatter",
                    "operation": "text",
                    "inputs": {"value": "{{ item }}", "transform": "upper"},
                }
            ],
        },
        {
            "id": "numbers",
            "kind": "transformer",
            "app": "formatter",
            "operation": "numbers",
            "inputs": {"value": "not a number", "operation": "parse"},
        },
    ],
}


def seed(server: Server) -> str:
    """A scenario with a loop (built with the controls in the test above) and a cell that
    fails, owned by the administrator; returns its id."""
    from cells import document as documents
    from workspace.cli import _app

    with _app(server.data_dir) as svc:
        admin = svc.store.get_user_by_email(server.admin_email)
        return str(svc.import_scenario(admin.id, documents.parse(LOOPED)).id)


def test_a_user_sets_an_error_route_steps_into_it_and_runs_it(
    page: Page, server: Server, screenshots: Path
) -> None:
    scenario_id = seed(server)
    sign_in(page, server)
    page.goto(f"{server.url}/?page=scenario&id={scenario_id}")
    page.locator(".cell-list li.cell-numbers button").first.click()

    # the failing cell gets an error route: a step that keeps the error, then continue
    page.locator(".cell-numbers .cell-on-error select").select_option(label="run an error route")
    add_step(
        page,
        "Add a step to the error route of numbers",
        "App action or transformer",
        "Formatter",
        "Set fields",
    )
    fill(page, ".in-set_fields-fields textarea", '{"why": "{{ error.message }}"}')
    page.locator(".cell-numbers .route-then select").select_option(
        label="continue with a fallback output"
    )
    fill(page, ".cell-numbers .route-fallback input", '{"result": 0}')
    expect(page.locator(".cell-numbers .error-route")).to_contain_text("3.1. set_fields")
    shot(page, "4-error-route-built", screenshots, axe=True)

    # Step into the failing cell: its route runs next, with the error in scope
    step(page, "numbers")
    step(page, "set_fields")
    expect(page.locator(".step-status")).to_contain_text("its error route runs", timeout=TIMEOUT)
    step(page, None)
    expect(page.locator(".step-output")).to_contain_text("is not a number", timeout=TIMEOUT)
    expect(page.locator(".step-log")).to_contain_text("set_fields")
    shot(page, "5-step-error-route", screenshots)

    # publish, enable, deliver five names to the webhook
    page.locator(".save button").click()
    banner = page.locator(".notebook-banner .cw-banner.ok")
    expect(banner).to_contain_text("Saved version", timeout=TIMEOUT)
    page.locator(".publish button").click()
    expect(banner).to_contain_text("Published version", timeout=TIMEOUT)
    page.locator(".toggle-enabled button").click()
    expect(banner).to_contain_text("Enabled", timeout=TIMEOUT)
    page.locator(".cell-list li.cell-start button").first.click()
    expect(page.locator(".webhook-url")).to_contain_text("/hooks/", timeout=TIMEOUT)
    hook = page.locator(".webhook-url").inner_text()
    answer = httpx.post(hook, json={"names": ["ada", "eve", "bob", "kim", "lea"]}, timeout=10)
    assert answer.status_code == 202, answer.text
    execution_id = answer.json()["execution_id"]

    # the execution: each item (2/5…), the failed cell and the cells its route ran
    page.locator(".nav-executions button").click()
    page.locator(f".exec-{execution_id} button").click()
    expect(page.locator(".execution-status")).to_contain_text("completed", timeout=TIMEOUT)
    loop = page.locator(".items-loop")
    expect(loop).to_contain_text("items: 5 of 5 completed", timeout=TIMEOUT)
    loop.get_by_role("button").first.click()
    table = loop.locator("table.loop-items")
    expect(table.locator("tr", has_text="2/5")).to_contain_text("completed", timeout=TIMEOUT)
    expect(table.locator("tbody tr")).to_have_count(5)
    failed = page.locator(".execution-cell.cell-numbers")
    expect(failed).to_contain_text("Its error route ran (set_fields)")
    expect(failed).to_contain_text("then the run continued with the fallback output")
    route_cell = page.locator(".execution-cell.cell-set_fields")
    expect(route_cell).to_contain_text("set_fields — completed")
    expect(route_cell).to_contain_text("error route of numbers")
    shot(page, "6-execution", screenshots, axe=True)
