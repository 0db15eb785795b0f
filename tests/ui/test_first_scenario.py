"""A newcomer builds a scenario from scratch, in Chromium, against a real server.

Sign in → blank scenario → webhook → Set fields typed as JSON with mappings → HTTP
request whose JSON body has mappings, to the server's own echo endpoint → Run cell on
each → save, publish, enable → POST to the webhook URL → the execution shows the echo's
*object* body. Broken JSON gets a message under the field that says where it breaks.
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

TIMEOUT = 10_000


@pytest.fixture(scope="module")
def echo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server whose HTTP action may call its own ``/demo/echo`` (as in demo mode)."""
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    env = {
        "CELLWRIGHT_HTTP_ALLOWED_URLS": json.dumps([f"{origin}/demo/echo"]),
        "CELLWRIGHT_PUBLIC_URL": origin,
    }
    with serve(tmp_path_factory.mktemp("first-scenario"), port=port, env=env) as running:
        yield running


def sign_in(page: Page, server: Server) -> None:
    page.goto(server.url + "/login")
    page.fill("#email", server.admin_email)
    page.fill("#password", server.admin_password)
    page.click("button[type=submit]")
    expect(page.locator(".scenario-list")).to_be_visible(timeout=TIMEOUT)


def add_step(page: Page, after: str, app: str, operation: str) -> None:
    page.get_by_role("button", name=f"Add a step after {after}").click()
    # an earlier, closed dialog stays in the page hidden: act on the visible one
    operations = page.locator(".new-operation select:visible")
    expect(operations.locator("option")).not_to_have_count(
        0, timeout=TIMEOUT
    )  # never an empty list
    page.locator(".new-app select:visible").select_option(label=app)
    expect(operations.locator("option", has_text=operation)).to_have_count(1, timeout=TIMEOUT)
    operations.select_option(label=operation)
    page.locator(".new-add button:visible").click()


def fill(page: Page, selector: str, text: str) -> None:
    field = page.locator(selector)
    field.fill(text)
    field.press("Tab")  # Panel sends a text area's value when it loses focus


def test_a_newcomer_builds_a_working_scenario(
    page: Page, echo_server: Server, screenshots: Path
) -> None:
    server = echo_server
    sign_in(page, server)
    page.locator(".new-scenario-name input").fill("My first scenario")
    page.locator(".create-scenario button").click()
    expect(page.locator(".notebook")).to_be_visible(timeout=TIMEOUT)

    # the trigger: a webhook, with test data for Run cell
    page.locator(".cell-toggle-start button").click()
    trigger = {"method": "POST", "headers": {}, "query": {}, "body": {"amount": 10, "name": "Ada"}}
    fill(page, ".trigger-data textarea", json.dumps(trigger))

    # Set fields, typed as JSON whose strings hold mappings (the field's own help text)
    add_step(page, "start", "Formatter", "Set fields")
    fields = page.locator(".in-set_fields-fields textarea")
    expect(fields).to_be_visible(timeout=TIMEOUT)
    fill(
        page, ".in-set_fields-fields textarea", '{"total": {{ trigger.body.amount * 1.2 }}}'
    )  # unquoted: broken
    error = page.locator(".cw-field-error").first
    expect(error).to_contain_text("Line 1, column 11", timeout=TIMEOUT)
    expect(error).to_contain_text("inside double quotes")
    audit(page, "20-json-field-error", screenshots)
    fill(
        page,
        ".in-set_fields-fields textarea",
        '{"total": "{{ trigger.body.amount * 1.2 }}", '
        '"customer": "{{ trigger.body.name }}", "currency": "EUR"}',
    )
    expect(page.locator(".cell-set_fields .cw-field-error")).to_have_count(0, timeout=TIMEOUT)
    page.locator(".run-set_fields button").click()
    output = page.locator(".cell-set_fields .cell-output")
    expect(output).to_contain_text("currency", timeout=TIMEOUT)
    expect(output).to_contain_text("12")
    expect(page.locator(".cell-set_fields")).not_to_contain_text("valid dictionary")

    # HTTP request to the server's echo endpoint, JSON body with mappings
    add_step(page, "set_fields", "HTTP", "Make a request")
    expect(page.locator(".in-request-url input")).to_be_visible(timeout=TIMEOUT)
    page.locator(".in-request-method select").select_option("POST")
    url = page.locator(".in-request-url input")
    url.fill(server.url + "/demo/echo?customer=&source=web")
    url.press("Enter")
    # "Insert reference" puts the reference where the cursor is, not at the end
    cursor = len(server.url + "/demo/echo?customer=")
    url.evaluate(f"el => {{ el.focus(); el.setSelectionRange({cursor}, {cursor}); }}")
    page.locator(".cell-request .ref-pick").select_option("{{ steps.set_fields.customer }}")
    page.locator(".cell-request .ref-target").select_option("url")
    page.locator(".cell-request .ref-insert").click()
    expect(url).to_have_value(
        server.url + "/demo/echo?customer={{ steps.set_fields.customer }}&source=web",
        timeout=TIMEOUT,
    )
    page.locator(".in-request-body_type select").select_option("json")
    fill(
        page,
        ".in-request-body textarea",
        '{"customer": "{{ steps.set_fields.customer }}", "total": "{{ steps.set_fields.total }}"}',
    )
    page.locator(".run-request button").click()
    received = page.locator(".cell-request .cell-output")
    expect(received).to_contain_text(
        "received:Object", timeout=TIMEOUT
    )  # an object, not a JSON string
    received.get_by_text("received:").click()  # open it: the mapped values arrived
    expect(received).to_contain_text('customer:"Ada"')
    received.get_by_text("query:").click()
    expect(received).to_contain_text('source:"web"')  # the query the reference was inserted into
    audit(page, "21-first-scenario-cells", screenshots)

    # save, publish, enable
    page.locator(".save button").click()
    expect(page.locator(".notebook-banner .cw-banner.ok")).to_contain_text(
        "Saved version", timeout=TIMEOUT
    )
    page.locator(".publish button").click()
    expect(page.locator(".notebook-banner .cw-banner.ok")).to_contain_text(
        "Published version", timeout=TIMEOUT
    )
    page.locator(".toggle-enabled button").click()
    expect(page.locator(".notebook-banner .cw-banner.ok")).to_contain_text(
        "Enabled", timeout=TIMEOUT
    )

    # a real delivery to the webhook URL
    page.locator(".cell-toggle-start button").click()
    hook = page.locator(".webhook-url").inner_text()
    answer = httpx.post(hook, json={"amount": 50, "name": "Grace"}, timeout=10)
    assert answer.status_code == 202, answer.text
    execution_id = answer.json()["execution_id"]

    # the execution: the echo received an object, not a JSON string
    page.locator(".nav-executions button").click()
    page.locator(f".exec-{execution_id} button").click()
    expect(page.locator(".execution-status")).to_contain_text("completed", timeout=TIMEOUT)
    audit(page, "22-first-scenario-execution", screenshots)
    record = httpx.get(
        f"{server.url}/api/v1/executions/{execution_id}", headers=api_headers(server), timeout=10
    ).json()
    request_cell = next(c for c in record["cells"] if c["cell_id"] == "request")
    assert request_cell["output"]["body"]["received"] == {"customer": "Grace", "total": 60.0}


def api_headers(server: Server) -> dict[str, Any]:
    """An API key for the admin, made with the CLI against the server's data directory."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "CELLWRIGHT_DATA_DIR": str(server.data_dir)}
    out = subprocess.run(
        [sys.executable, "-m", "workspace.cli", "apikey", "--name", "ui-test"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    key = out.stdout.strip().split()[-1]
    return {"X-Api-Key": key}
