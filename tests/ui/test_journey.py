"""A new user's journey through the workspace, in Chromium, against a real server.

Sign in → connect an app (sandbox) → scenario from a template → run a cell → test run →
enable → fire the webhook → find the failed execution → fix the cell → run it again.
Every page is screenshotted (test-artifacts/screenshots/) and checked with axe.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.ui.conftest import audit

pytestmark = pytest.mark.ui

TIMEOUT = 10_000


def nav(page: Page, key: str) -> None:
    page.locator(f".nav-{key} button").click()


def sign_in(page: Page, server: Any, screenshots: Path) -> None:
    page.goto(server.url + "/")
    expect(page).to_have_url(f"{server.url}/login?next=%2F")
    audit(page, "01-sign-in", screenshots)
    page.fill("#email", server.admin_email)
    page.fill("#password", "wrong password")
    page.click("button[type=submit]")
    expect(page.locator("#login-error")).to_contain_text("do not match")
    page.fill("#password", server.admin_password)
    page.click("button[type=submit]")
    expect(page.locator(".scenario-list")).to_contain_text("No scenarios yet", timeout=TIMEOUT)


def watch_for_csp_violations(page: Page) -> list[str]:
    """Every Content-Security-Policy violation the page reports (its event and the console)."""
    seen: list[str] = []
    page.expose_function("cwReportCsp", lambda text: seen.append(text))
    page.add_init_script(
        "document.addEventListener('securitypolicyviolation', "
        "e => window.cwReportCsp(`${e.violatedDirective} blocked ${e.blockedURI} at "
        "${e.sourceFile}:${e.lineNumber}`))"
    )
    page.on(
        "console",
        lambda message: (
            seen.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    return seen


def session_token_payload(page: Page) -> dict[str, Any]:
    """The payload of the Bokeh session token the
    workspace page carries (readable by any script)."""
    from bokeh.util.token import get_token_payload

    token = page.evaluate(
        '() => [...document.scripts].map(s => s.text).join(\'\').match(/"token":"([^"]+)"/)[1]'
    )
    return get_token_payload(token)


def test_new_user_journey(page: Page, server: Any, screenshots: Path) -> None:
    timings: dict[str, float] = {}
    violations = watch_for_csp_violations(page)
    sign_in(page, server, screenshots)
    payload = session_token_payload(page)
    cookie = next(c["value"] for c in page.context.cookies() if c["name"] == "cw_session")
    assert "cw_session" not in payload.get("cookies", {}) and cookie not in json.dumps(payload), (
        payload
    )
    expect(page.locator(".cw-header .who")).to_contain_text(
        f"Signed in as {server.admin_email}"
    )  # the page still knows who
    audit(page, "02-scenarios-empty", screenshots)

    # connect an app: a WordPress sandbox connection
    nav(page, "connections")
    page.locator(".new-connection-app select").select_option(label="WordPress")
    expect(page.locator(".create-sandbox button")).to_contain_text("WordPress", timeout=TIMEOUT)
    page.locator(".create-sandbox button").click()
    expect(page.locator(".connection-list")).to_contain_text("WordPress", timeout=TIMEOUT)
    expect(page.locator(".cw-banner.ok")).to_contain_text("works")
    audit(page, "03-connections", screenshots)

    # monday.com: API token or OAuth; OAuth is not set up on this server, and says what to set
    page.locator(".new-connection-app select").select_option(label="monday.com")
    page.locator(".new-connection-kind select").select_option(
        label="Sign in with monday.com (OAuth)"
    )
    expect(page.locator(".oauth-unconfigured")).to_contain_text(
        "CELLWRIGHT_OAUTH_CLIENTS__monday__CLIENT_ID", timeout=TIMEOUT
    )
    expect(page.locator("a.oauth-connect")).to_have_count(0)
    audit(page, "03b-connections-oauth", screenshots)

    # a scenario from a template
    nav(page, "templates")
    page.locator(".use-form_to_wordpress_draft button").click()
    expect(page.locator(".template-conn-wordpress select")).to_be_visible(timeout=TIMEOUT)
    audit(page, "04-templates", screenshots)
    page.locator(".create-from-template button").click()
    expect(page.locator(".notebook")).to_be_visible(timeout=TIMEOUT)
    expect(page.locator(".scenario-name input")).to_have_value("Form submission to WordPress draft")

    # test data for the trigger, then run one cell and see its output
    page.locator(".cell-toggle-submission button").click()
    trigger_data = {
        "method": "POST",
        "headers": {},
        "query": {},
        "body": {"title": "hello from the browser", "content": "Hi"},
    }
    page.locator(".trigger-data textarea").fill(json.dumps(trigger_data))
    page.locator(".trigger-data textarea").press("Tab")
    page.locator(".cell-toggle-tidy_title button").click()
    started = time.perf_counter()
    page.locator(".run-tidy_title button").click()
    expect(page.locator(".cell-tidy_title .cell-output")).to_contain_text(
        "Hello From The Browser", timeout=TIMEOUT
    )
    timings["run cell"] = time.perf_counter() - started
    audit(page, "05-notebook-run-cell", screenshots)

    # test run the whole scenario (the WordPress cell posts to the sandbox)
    started = time.perf_counter()
    page.locator(".test-run button").click()
    expect(page.locator(".notebook-banner .cw-banner.ok")).to_contain_text(
        "Test run completed", timeout=TIMEOUT
    )
    timings["test run"] = time.perf_counter() - started

    # step mode: one cell at a time, each result shown as it goes
    started = time.perf_counter()
    page.locator(".step button").click()
    expect(page.locator(".step-panel")).to_contain_text("tidy_title", timeout=TIMEOUT)
    expect(page.locator(".step-output")).to_contain_text("Hello From The Browser")
    timings["step"] = time.perf_counter() - started
    audit(page, "05b-notebook-step", screenshots)
    page.locator(".step-reset button").click()
    expect(page.locator(".step-panel")).to_be_hidden(timeout=TIMEOUT)

    # enable, then fire its webhook with data the cell cannot handle (no title)
    page.locator(".toggle-enabled button").click()
    expect(page.locator(".notebook-banner .cw-banner.ok")).to_contain_text(
        "Enabled", timeout=TIMEOUT
    )
    expect(page.locator(".scenario-info")).to_contain_text("Version 1 is live")
    hook = page.locator(".webhook-url").inner_text()
    assert hook.startswith(server.url + "/hooks/")
    answer = httpx.post(hook, json={"content": "no title here"}, timeout=10)
    assert answer.status_code == 202, answer.text
    failed_id = answer.json()["execution_id"]

    # find it in the history
    nav(page, "executions")
    page.locator(".filter-status select").select_option("failed")
    row = page.locator(f".exec-{failed_id} button")
    expect(row).to_be_visible(timeout=TIMEOUT)
    audit(page, "06-executions", screenshots)
    row.click()
    expect(page.locator(".execution-status")).to_contain_text("failed", timeout=TIMEOUT)
    expect(page.locator(".cw-main .cw-banner.error").first).to_contain_text("tidy_title")
    audit(page, "07-execution-failed", screenshots)

    # fix the cell in the notebook and save a new version
    page.locator(".open-scenario-from-execution button").click()
    page.locator(".cell-toggle-tidy_title button").click()
    field = page.locator(".in-tidy_title-value input")
    field.fill("{{ trigger.body.title | default('Untitled') }}")
    field.press("Enter")
    expect(page.locator(".notebook")).to_contain_text("Unsaved changes", timeout=TIMEOUT)
    page.locator(".save button").click()
    expect(page.locator(".notebook-banner .cw-banner.ok")).to_contain_text(
        "Saved version", timeout=TIMEOUT
    )
    # saving does not change what runs: the enabled scenario still runs version 1 until published
    expect(page.locator(".scenario-info")).to_contain_text(
        "Version 2 saved · version 1 is live", timeout=TIMEOUT
    )
    page.locator(".publish button").click()
    expect(page.locator(".notebook-banner .cw-banner.ok")).to_contain_text(
        "Published version 2", timeout=TIMEOUT
    )
    expect(page.locator(".scenario-info")).to_contain_text("Version 2 is live")
    expect(page.locator(".publish button")).to_be_disabled()

    # back to the failed execution: run it again with the fixed version
    nav(page, "executions")
    page.locator(f".exec-{failed_id} button").click()
    expect(page.locator(".run-latest button")).to_contain_text("latest version (v", timeout=TIMEOUT)
    page.locator(".run-latest button").click()
    expect(page.locator(".execution-status")).to_contain_text("completed", timeout=TIMEOUT)
    expect(page.locator(".execution-cells")).to_contain_text("tidy_title — completed")
    audit(page, "08-execution-rerun", screenshots)

    for key in ("directory", "analytics", "settings"):
        started = time.perf_counter()
        nav(page, key)
        marker = {
            "directory": ".app-list",
            "analytics": ".analytics-summary",
            "settings": ".api-keys",
        }[key]
        expect(page.locator(marker).first).to_be_visible(
            timeout=TIMEOUT
        )  # this page, not the last one's heading
        timings[f"open {key}"] = time.perf_counter() - started
        audit(page, f"09-{key}", screenshots)
    expect(page.locator(".analytics-summary")).to_have_count(0)  # on settings now
    nav(page, "analytics")
    expect(page.locator(".analytics-summary")).to_contain_text("runs", timeout=TIMEOUT)
    started = time.perf_counter()
    page.locator(".analytics-tabs .bk-tab", has_text="Top errors").click()  # built when opened
    expect(page.locator(".analytics-errors")).to_contain_text(
        "Most frequent errors", timeout=TIMEOUT
    )
    timings["analytics tab"] = time.perf_counter() - started
    print("timings", {k: round(v, 2) for k, v in timings.items()})
    assert violations == [], violations  # the workspace works under its Content-Security-Policy


def test_unsaved_changes_are_not_lost_silently(page: Page, server: Any, screenshots: Path) -> None:
    sign_in_or_reuse(page, server, screenshots)
    page.locator(".new-scenario-name input").fill("Scratch")
    page.locator(".create-scenario button").click()
    expect(page.locator(".notebook")).to_be_visible(timeout=TIMEOUT)
    page.locator(".scenario-description input").fill("edited")
    page.locator(".scenario-description input").press("Enter")
    expect(page.locator(".notebook")).to_contain_text("Unsaved changes", timeout=TIMEOUT)
    nav(page, "executions")
    expect(page.locator(".leave-stay button")).to_be_visible(timeout=TIMEOUT)
    audit(page, "10-unsaved-warning", screenshots)
    page.locator(".leave-stay button").click()
    expect(page.locator(".notebook")).to_be_visible()
    nav(page, "scenarios")
    page.locator(".leave-discard button").click()
    expect(page.locator(".scenario-list")).to_contain_text("Scratch", timeout=TIMEOUT)


def sign_in_or_reuse(page: Page, server: Any, screenshots: Path) -> None:
    page.goto(server.url + "/login")
    page.fill("#email", server.admin_email)
    page.fill("#password", server.admin_password)
    page.click("button[type=submit]")
    expect(page.locator(".scenario-list")).to_be_visible(timeout=TIMEOUT)


def test_sign_out_ends_the_session(page: Page, server: Any) -> None:
    sign_in_or_reuse(page, server, Path("."))
    page.locator(".sign-out").click()
    expect(page.locator(".notice")).to_contain_text("signed out", timeout=TIMEOUT)
    page.goto(server.url + "/?page=settings")
    expect(page).to_have_url(f"{server.url}/login?next=%2F%3Fpage%3Dsettings")
