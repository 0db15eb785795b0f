"""Every page at a phone's width (390 px) and a laptop's (1440 px), in Chromium, on a server
with demo data: nothing scrolls sideways, the menu folds behind a Menu button on the phone
(aria-expanded, keyboard), axe finds nothing serious, the notebook's toolbar is one row on
the laptop, and the server log stays free of Bokeh layout warnings and doubled lines.
Screenshots: test-artifacts/screenshots/small-screens-*.png.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.ui.conftest import Server, audit, serve

pytestmark = pytest.mark.ui

TIMEOUT = 30_000  # a loaded machine draws a page slowly; nothing here waits a fixed time

#: (menu entry or detail page, what shows once it is drawn); a detail page follows its list
PAGES = [
    ("scenarios", ".scenario-row"),
    ("scenario", ".notebook"),
    ("executions", ".execution-row"),
    ("execution", ".execution-cells"),
    ("connections", ".connection-list"),
    ("datastores", ".store-create"),
    ("directory", ".open-app"),
    ("templates", ".template"),
    ("assistant", ".assistant-request, .assistant-unavailable"),
    ("analytics", ".analytics-body"),
    ("audit", ".audit-list"),
    ("settings", ".create-api-key"),
]
TOOLBAR = [
    ".scenario-name",
    ".save",
    ".publish",
    ".test-run",
    ".step",
    ".toggle-enabled",
    ".export",
    ".scenario-history",
]


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serve(
        tmp_path_factory.mktemp("small-screens"), env={"CELLWRIGHT_DEMO_DATA": "true"}
    ) as running:
        yield running


def sideways(page: Page) -> int:
    """How far the page scrolls sideways (0: not at all)."""
    return int(page.evaluate("document.documentElement.scrollWidth - window.innerWidth"))


def open_page(page: Page, key: str, phone: bool) -> None:
    """Open a page as a user would: from the menu (folded on the phone), or from a list."""
    if key == "scenario":
        page.locator(".open-scenario button").first.click()
        return
    if key == "execution":
        page.locator(".open-execution button").first.click()
        return
    if phone:
        toggle = page.locator(".menu-toggle button")
        expect(toggle).to_have_attribute("aria-expanded", "false")
        expect(page.locator(f".nav-{key} button")).to_be_hidden()
        toggle.focus()
        page.keyboard.press("Enter")  # the keyboard opens it
        expect(toggle).to_have_attribute("aria-expanded", "true", timeout=TIMEOUT)
    page.locator(f".nav-{key} button").click()
    if phone:
        expect(page.locator(".menu-toggle button")).to_have_attribute(
            "aria-expanded", "false", timeout=TIMEOUT
        )


@pytest.mark.parametrize("width", [390, 1440])
def test_every_page_fits_the_screen(
    browser: Browser, demo_server: Server, screenshots: Path, width: int
) -> None:
    phone = width < 768
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    try:
        page.goto(demo_server.url + "/login")
        expect(page.locator(".help")).to_contain_text(
            "demo@cellwright.local"
        )  # no admin-password.txt in demo mode
        page.fill("#email", demo_server.admin_email)
        page.fill("#password", demo_server.admin_password)
        page.click("button[type=submit]")
        expect(page.locator(".scenario-row").first).to_be_visible(timeout=TIMEOUT)
        if phone:
            expect(page.locator(".menu-toggle button")).to_be_visible()
        else:
            expect(page.locator(".menu-toggle button")).to_be_hidden()
            expect(page.locator(".nav-executions button")).to_be_visible()
        for key, shown in PAGES:
            open_page(page, key, phone)  # a detail page opens from the list shown just before it
            expect(page.locator(shown).first).to_be_visible(timeout=TIMEOUT)
            if key == "analytics":
                expect(page.locator(".chart canvas").first).to_be_visible(timeout=TIMEOUT)
            assert sideways(page) <= 0, f"{key} at {width}px scrolls sideways by {sideways(page)}px"
            audit(page, f"small-screens-{width}-{key}", screenshots)
            if key == "execution" and not phone:  # a long page: the menu's border runs to its end
                menu = page.locator(".cw-nav").first.bounding_box()
                assert (
                    menu is not None
                    and menu["y"] + menu["height"]
                    >= page.evaluate("document.documentElement.scrollHeight") - 2
                )
            if key == "scenario" and not phone:
                tops = {
                    selector: round(page.locator(selector).bounding_box()["y"])
                    for selector in TOOLBAR[1:]
                }  # type: ignore[index]
                assert max(tops.values()) - min(tops.values()) <= 4, (
                    f"the notebook toolbar wraps at {width}px: {tops}"
                )  # a second row is 40 px down
    finally:
        context.close()


def test_the_api_docs_render_with_no_internet(
    browser: Browser, demo_server: Server, screenshots: Path
) -> None:
    """Every request to another origin fails, as on a machine without internet."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    elsewhere: list[str] = []

    def only_here(route: Any) -> None:
        if route.request.url.startswith(demo_server.url):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    try:
        page.route("**/*", only_here)
        page.goto(demo_server.url + "/api/v1/docs")
        expect(page.locator(".swagger-ui .info .title")).to_contain_text(
            "Cellwright", timeout=TIMEOUT
        )
        expect(page.locator(".opblock-tag-section").first).to_be_visible(timeout=TIMEOUT)
        page.screenshot(path=str(screenshots / "small-screens-api-docs.png"))
        assert elsewhere == []
    finally:
        context.close()


def test_the_server_log_has_no_layout_warnings_or_doubled_lines(
    demo_server: Server, browser: Browser
) -> None:
    """Runs after the pages above (same server): their sessions drew every page, charts included."""
    text = demo_server.log.read_text(errors="replace")
    assert "EMPTY_LAYOUT" not in text and "bokeh.core.validation" not in text, text[-3000:]
    warnings = [line for line in text.splitlines() if re.match(r"WARNING\b", line)]
    doubled = [line for line, n in Counter(warnings).items() if n > 1]
    assert doubled == [], doubled
    assert not any(line.startswith("WARNING:") for line in text.splitlines()), (
        "a library printed with its own handler too"
    )
