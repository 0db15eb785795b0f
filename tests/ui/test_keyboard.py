"""Keyboard only: sign in, open Scenarios from the menu, open a scenario, run a cell, close it.

No mouse: every step is Tab / Shift+Tab / Enter / Space, and after each move the test
checks which control has focus (through Panel's shadow roots) and that it is visibly
focused (``:focus-visible`` with an outline or a box shadow).
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.ui

TIMEOUT = 10_000

FOCUSED = """() => {
  const path = [];
  let el = document.activeElement;
  while (el) {
    path.push(el);
    const inner = el.shadowRoot && el.shadowRoot.activeElement;
    if (!inner) break;
    el = inner;
  }
  const leaf = path[path.length - 1];
  // inside the leaf's shadow root
  for (let up = leaf && leaf.parentElement; up; up = up.parentElement) path.push(up);
  const style = leaf ? getComputedStyle(leaf) : null;
  const outlined = !!style && style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0;
  const shown = !!style && (outlined || style.boxShadow !== 'none');
  return {
    tag: leaf ? leaf.tagName.toLowerCase() : '',
    id: leaf ? leaf.id : '',
    text: leaf
      ? (leaf.innerText || leaf.value || leaf.getAttribute('aria-label') || leaf.title || '')
          .trim().slice(0, 80)
      : '',
    label: leaf ? (leaf.getAttribute('aria-label') || leaf.title || '') : '',
    expanded: leaf ? (leaf.getAttribute('aria-expanded') || '') : '',
    classes: path.map(e => typeof e.className === 'string' ? e.className : '').join(' '),
    visible: !!leaf && leaf.matches(':focus-visible') && shown,
  };
}"""


def focused(page: Page) -> dict[str, Any]:
    return dict(page.evaluate(FOCUSED))


def tab_to(
    page: Page, want: str, *, text: str | None = None, key: str = "Tab", limit: int = 60
) -> dict[str, Any]:
    """Press ``key`` until the focused control's class
    chain has ``want`` (and its text ``text``)."""
    seen = []
    for _ in range(limit):
        page.keyboard.press(key)
        now = focused(page)
        seen.append(f"{now['tag']}#{now['id']}[{now['text'][:30]}]")
        if want in now["classes"].split() and (text is None or text in now["text"]):
            assert now["visible"], f"focus on {want} is not visible: {now}"
            return now
    raise AssertionError(f"{key} never reached {want!r} ({text!r}); focus went: {' → '.join(seen)}")


def seed_scenario(server: Any, name: str) -> None:
    """A scenario with one runnable cell (no connection needed), owned by the administrator."""
    from cells import document as documents
    from workspace.cli import _app

    doc = documents.parse(
        {
            "name": name,
            "cells": [
                {"id": "start", "kind": "trigger", "app": "webhook", "operation": "catch_hook"},
                {
                    "id": "shout",
                    "kind": "transformer",
                    "app": "formatter",
                    "operation": "text",
                    "name": "Shout",
                    "inputs": {"value": "typed without a mouse", "transform": "title"},
                },
            ],
        }
    )
    with _app(server.data_dir) as svc:
        admin = svc.store.get_user_by_email(server.admin_email)
        svc.import_scenario(admin.id, doc)


def test_keyboard_only(page: Page, server: Any) -> None:
    name = f"Keyboard {uuid.uuid4().hex[:6]}"
    seed_scenario(server, name)

    # sign in: the address field has focus on arrival, Tab moves to the password, Enter submits
    page.goto(server.url + "/login")
    assert focused(page)["id"] == "email"
    page.keyboard.type(server.admin_email)
    page.keyboard.press("Tab")
    assert focused(page)["id"] == "password"
    page.keyboard.type(server.admin_password)
    page.keyboard.press("Enter")
    expect(page.locator(".scenario-list")).to_be_visible(timeout=TIMEOUT)

    # the menu: away to Executions (Enter), then back to Scenarios (Shift+Tab, Space)
    tab_to(page, "nav-executions")
    page.keyboard.press("Enter")
    expect(page.locator(".scenario-list")).to_have_count(0, timeout=TIMEOUT)
    tab_to(page, "nav-scenarios", key="Shift+Tab")
    page.keyboard.press("Space")
    expect(page.locator(".scenario-list")).to_contain_text(name, timeout=TIMEOUT)

    # open the scenario from the list
    tab_to(page, "open-scenario", text=name)
    page.keyboard.press("Enter")
    expect(page.locator(".notebook")).to_be_visible(timeout=TIMEOUT)

    # the run settings: a named disclosure that says whether it is open
    settings = tab_to(page, "section-toggle", text="Run settings")
    assert settings["expanded"] == "false", settings
    page.keyboard.press("Enter")
    expect(page.locator(".scenario-settings .section-toggle button")).to_have_attribute(
        "aria-expanded", "true", timeout=TIMEOUT
    )
    now = focused(page)
    assert "section-toggle" in now["classes"].split() and now["visible"], (
        now
    )  # still on the same button

    # open the cell: its editor's header takes the focus, the next Tab is Run cell
    tab_to(page, "cell-toggle-shout")
    page.keyboard.press("Enter")
    expect(page.locator(".run-shout button")).to_be_visible(timeout=TIMEOUT)
    expect(page.locator(".cell-toggle-shout button")).to_have_attribute("aria-expanded", "true")
    page.wait_for_function(
        "() => document.activeElement && document.activeElement !== document.body", timeout=TIMEOUT
    )
    now = focused(page)
    assert (
        "cell-toggle-shout" in now["classes"].split()
        and now["visible"]
        and now["expanded"] == "true"
    ), now
    assert now["text"].startswith("2. Shout"), now  # the arrow is decoration, not part of its name
    tab_to(page, "run-shout", limit=2)
    page.keyboard.press("Enter")
    expect(page.locator(".cell-shout .cell-output")).to_contain_text(
        "Typed Without A Mouse", timeout=TIMEOUT
    )
    after = focused(page)  # focus stays on the button that was pressed
    assert "run-shout" in after["classes"].split() and after["visible"], after

    # close it again: the collapsed list's button for that cell takes the focus
    tab_to(page, "cell-toggle-shout", key="Shift+Tab", limit=3)
    page.keyboard.press("Enter")
    expect(page.locator(".run-shout button")).to_have_count(0, timeout=TIMEOUT)
    page.wait_for_function(
        "() => document.activeElement && document.activeElement !== document.body", timeout=TIMEOUT
    )
    now = focused(page)
    assert (
        "cell-toggle-shout" in now["classes"].split()
        and now["visible"]
        and now["expanded"] == "false"
    ), now
