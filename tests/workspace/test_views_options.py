"""ID fields in the notebook, headless: a dropdown of the app's real values fetched through
the cell's connection (sandboxes), free text and {{ }} still allowed, failures as a note."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from cells import document as documents
from connectors.sdk.sandboxing import shared_sandbox
from workspace.views.notebook import Notebook

pytestmark = pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")


@pytest.fixture(autouse=True)
def fresh_sandboxes() -> Iterator[None]:
    shared_sandbox.cache_clear()
    yield
    shared_sandbox.cache_clear()


def notebook(svc: Any, user: Any, cell: dict[str, Any]) -> Notebook:
    doc = {
        "name": "Choices",
        "cells": [
            {"id": "hook", "kind": "trigger", "app": "webhook", "operation": "catch_hook"},
            cell,
        ],
    }
    scenario = svc.import_scenario(user.id, documents.parse(doc))
    return Notebook(svc, user, scenario.id, nav=lambda *a, **k: None)


async def test_a_slack_channel_is_picked_from_the_workspaces_channels(svc: Any, user: Any) -> None:
    slack = await svc.create_connection(user.id, "slack", credentials={}, sandbox=True)
    nb = notebook(
        svc,
        user,
        {
            "id": "post",
            "kind": "action",
            "app": "slack",
            "operation": "send_message",
            "connection": slack.id,
            "inputs": {"text": "Hi", "channel": "C0SANDBOX01"},
        },
    )
    card = nb.open_cell("post")
    form = card.form
    await form.refresh_options()
    picker = form.pickers["channel"]
    assert picker.select.visible and picker.message == ""
    assert (
        picker.select.value == "C0SANDBOX01"
    )  # the cell's channel shows as picked once the choices arrive
    assert picker.select.name == "Channel: choose from the list"  # a labelled select
    assert picker.select.options == {
        "(choose one of 4)": "",
        "#general": "C0SANDBOX01",
        "#random": "C0SANDBOX02",
        "#leadership": "G0SANDBOX04",
        "#design (invite the app first)": "C0SANDBOX03",
    }
    picker.select.value = "C0SANDBOX02"  # the user picks #random
    assert form.widgets["channel"].value == "C0SANDBOX02"
    assert nb.state.cell("post")["inputs"] == {"text": "Hi", "channel": "C0SANDBOX02"}

    form.widgets["channel"].value = "{{ trigger.body.channel }}"  # a reference is still allowed
    assert nb.state.cell("post")["inputs"]["channel"] == "{{ trigger.body.channel }}"
    assert picker.select.value == ""  # … and the dropdown no longer claims a pick
    form.widgets["channel"].value = "C0SANDBOX01"  # typing an ID the list knows selects it
    assert picker.select.value == "C0SANDBOX01"

    result = await card.state.run_cell("post")
    assert result["status"] == "completed" and result["output"]["channel"] == "C0SANDBOX01"


async def test_without_a_connection_or_with_a_refused_one_a_note_says_why_and_typing_works(
    svc: Any, user: Any
) -> None:
    nb = notebook(
        svc,
        user,
        {
            "id": "post",
            "kind": "action",
            "app": "slack",
            "operation": "send_message",
            "inputs": {"text": "Hi"},
        },
    )
    card = nb.open_cell("post")
    await card.form.refresh_options()
    picker = card.form.pickers["channel"]
    assert not picker.select.visible
    assert (
        picker.message
        == "Choose a Slack connection first: the Slack channels are listed through it."
    )
    card.form.widgets["channel"].value = "C0TYPED"
    assert nb.state.cell("post")["inputs"]["channel"] == "C0TYPED"

    revoked = await svc.create_connection(
        user.id,
        "slack",
        credentials={"access_token": "xoxb-revoked", "signing_secret": "s" * 32},
        sandbox=True,
    )
    card._edit(connection=revoked.id)
    await card.form.refresh_options()
    assert picker.message == (
        "Slack refused the connection's token (invalid_auth). "
        "Check the Slack connection or reconnect it."
    )
    assert "xoxb-revoked" not in picker.note.object
    assert (
        card.form.widgets["channel"].value == "C0TYPED"
        and not card.form.widgets["channel"].disabled
    )


async def test_a_monday_group_waits_for_its_board(svc: Any, user: Any) -> None:
    monday = await svc.create_connection(user.id, "monday", credentials={}, sandbox=True)
    nb = notebook(
        svc,
        user,
        {
            "id": "item",
            "kind": "action",
            "app": "monday",
            "operation": "create_item",
            "connection": monday.id,
            "inputs": {"item_name": "New"},
        },
    )
    form = nb.open_cell("item").form
    assert form.option_needs == {"board_id": (), "group_id": ("board_id",)}
    await form.refresh_options()
    assert (
        form.pickers["group_id"].message
        == "Fill in board_id first: the groups of the board to choose from depend on it."
    )
    form.pickers["board_id"].select.value = "1234567890"
    await form.refresh_options(["group_id"])
    assert form.pickers["group_id"].select.options == {
        "(choose one of 2)": "",
        "Ideas": "topics",
        "Published": "group_done",
    }
    form.pickers["group_id"].select.value = "group_done"
    assert nb.state.cell("item")["inputs"] == {
        "item_name": "New",
        "board_id": "1234567890",
        "group_id": "group_done",
    }


async def test_wordpress_categories_are_added_to_the_list(svc: Any, user: Any) -> None:
    wordpress = await svc.create_connection(user.id, "wordpress", credentials={}, sandbox=True)
    nb = notebook(
        svc,
        user,
        {
            "id": "post",
            "kind": "action",
            "app": "wordpress",
            "operation": "create_post",
            "connection": wordpress.id,
            "inputs": {"title": "T", "categories": ["News"]},
        },
    )
    form = nb.open_cell("post").form
    await form.refresh_options(["categories"])
    picker = form.pickers["categories"]
    assert picker.select.options == {"(choose one of 1)": "", "Uncategorized": 1}
    picker.select.value = 1
    assert nb.state.cell("post")["inputs"]["categories"] == ["News", 1]  # added, by id


def _find(root: Any, css: str) -> Any:
    """The first object under ``root`` carrying the CSS class ``css``."""
    stack = [root]
    while stack:
        obj = stack.pop(0)
        if css in (getattr(obj, "css_classes", None) or []):
            return obj
        stack.extend(getattr(obj, "objects", None) or [])
    raise AssertionError(f"nothing with class {css}")


async def test_using_a_template_asks_for_the_slack_channel_with_its_choices(
    svc: Any, user: Any
) -> None:
    from workspace.views.templates import Gallery

    await svc.create_connection(user.id, "stripe", credentials={}, sandbox=True)
    await svc.create_connection(user.id, "slack", credentials={}, sandbox=True)
    opened: list[Any] = []
    gallery = Gallery(
        svc, user, nav=lambda *a, **k: opened.append(a), selected="stripe_payment_to_slack"
    )
    text, picker = gallery.asked["notify.channel"]
    assert text.name == "Slack channel to post payments in (required)"
    assert not _find(gallery.use_box, "create-from-template").disabled  # both connections exist
    connections = {
        app: _find(gallery.use_box, f"template-conn-{app}").value for app in ("stripe", "slack")
    }
    with pytest.raises(Exception, match="Fill in: Slack channel to post payments in."):
        gallery.state.use("stripe_payment_to_slack", connections)  # not answered: not created

    await picker.refresh()
    assert picker.select.visible and picker.select.options["#general"] == "C0SANDBOX01"
    assert picker.select.name == "Slack channel to post payments in: choose from the list"
    picker.select.value = "C0SANDBOX02"  # #random
    assert text.value == "C0SANDBOX02"
    scenario = gallery.state.use(
        "stripe_payment_to_slack", connections, inputs={"notify.channel": text.value}
    )
    notify = next(c for c in scenario.document["cells"] if c["id"] == "notify")
    assert notify["inputs"]["channel"] == "C0SANDBOX02"
