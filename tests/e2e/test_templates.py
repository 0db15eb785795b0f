"""Every ready template works out of the box: created with sandbox connections, its asked
inputs answered with the first choice the connection offers, a Test run completes."""

from __future__ import annotations

from typing import Any

import pytest

from connectors.registry import default_registry
from engine.service import Cellwright
from engine.settings import Settings
from workspace.templates import load_templates
from workspace.views.notebook_state import NotebookState
from workspace.views.templates import GalleryState

READY = [t for t in load_templates() if t.available(default_registry())]


@pytest.fixture
def settings(make_settings: Any, sink: Any) -> Settings:
    """``__SERVER__`` URLs (the demo echo endpoint) go to the loopback sink."""
    return make_settings(public_url=sink.url)  # type: ignore[no-any-return]


@pytest.mark.parametrize("template", READY, ids=[t.key for t in READY])
async def test_a_template_created_with_sandbox_connections_completes_a_test_run(
    template: Any, svc: Cellwright, user: Any, sink: Any
) -> None:
    connections: dict[str, str] = {}
    for app_key in template.connections:
        connection = await svc.create_connection(user.id, app_key, credentials={}, sandbox=True)
        assert connection.status == "active", connection.status_message
        connections[app_key] = connection.id
    gallery = GalleryState(svc, user)
    answers: dict[str, Any] = {}
    for ask in template.asks:
        options = await gallery.options(template.key, ask, connections, answers)
        assert options, f"{template.key}: nothing to choose for '{ask.label}'"
        answers[ask.key] = options[0].value
    scenario = gallery.use(template.key, connections, inputs=answers)
    for ask in template.asks:
        cell = next(c for c, _ in svc.document(user.id, scenario.id).walk() if c.id == ask.cell)
        assert cell.inputs[ask.field] == answers[ask.key]  # type: ignore[attr-defined]

    execution = await NotebookState(svc, user, scenario.id).test_run()  # the notebook's "Test run"
    failed = [c for c in execution["cells"] if c["status"] == "failed"]
    assert execution["status"] == "completed", (execution["error"], failed)
    assert all(c["status"] in ("completed", "skipped") for c in execution["cells"])


def test_every_ready_template_is_covered() -> None:
    keys = {t.key for t in READY}
    assert {
        "stripe_payment_to_slack",
        "wordpress_to_slack",
        "slack_to_monday",
        "monday_to_wordpress",
        "gmail_to_monday",
        "shopify_orders_to_sheets",
        "mailchimp_subscriber_to_slack",
        "lead_generation",
        "remember_last_order",
        "clean_address",
        "reusable_tidy_contact",
    } <= keys
    assert keys == {
        t.key for t in load_templates()
    }  # nothing is "coming soon": all eight apps are built


async def test_the_remember_template_knows_the_order_before_it(svc: Cellwright, user: Any) -> None:
    """Offline: the data store remembers the last order id between two runs and counts them."""
    scenario = GalleryState(svc, user).use("remember_last_order", {})
    first = await svc.run_now(user.id, scenario.id, {"body": {"id": "ord_1"}})
    second = await svc.run_now(user.id, scenario.id, {"body": {"id": "ord_2"}})
    summaries = [
        next(c["output"] for c in run["cells"] if c["cell_id"] == "summary")
        for run in (first, second)
    ]
    assert summaries == [
        {"order": "ord_1", "previous": "none yet", "orders_seen": 1},
        {"order": "ord_2", "previous": "ord_1", "orders_seen": 2},
    ]


async def test_the_checkout_lines_template_posts_each_line_then_the_total(
    svc: Cellwright, user: Any
) -> None:
    slack = await svc.create_connection(user.id, "slack", credentials={}, sandbox=True)
    gallery = GalleryState(svc, user)
    template = next(t for t in READY if t.key == "checkout_lines_to_slack")
    answers = {}
    for ask in template.asks:
        options = await gallery.options(template.key, ask, {"slack": slack.id}, answers)
        answers[ask.key] = options[0].value
    scenario = gallery.use(template.key, {"slack": slack.id}, inputs=answers)
    execution = await NotebookState(svc, user, scenario.id).test_run()
    assert execution["status"] == "completed", execution["error"]
    lines = [c for c in execution["cells"] if c["cell_id"] == "post_line"]
    assert [c["item"] for c in lines] == ["0", "1", "2"]
    assert lines[0]["input"]["text"] == "1. T-shirt × 2: 38.00 USD"
    [summary] = [c for c in execution["cells"] if c["cell_id"] == "post_summary"]
    assert summary["input"]["text"] == "Checkout cs_test_a1b2c3: 3 line items, 59.00 USD in all."
    [posted] = [c for c in execution["cells"] if c["cell_id"] == "posted"]
    assert posted["output"]["result"] == [c["output"]["ts"] for c in lines]


async def test_the_wordpress_post_template_alerts_slack_and_ends_handled_when_wordpress_refuses(
    svc: Cellwright, user: Any
) -> None:
    """Offline: the WordPress sandbox refuses an unknown author (400 rest_invalid_author),
    as WordPress does; the error route tells Slack and the run completes as handled."""
    connections = {
        app: (await svc.create_connection(user.id, app, credentials={}, sandbox=True)).id
        for app in ("wordpress", "slack")
    }
    gallery = GalleryState(svc, user)
    template = next(t for t in READY if t.key == "wordpress_post_or_slack_alert")
    [ask] = template.asks
    [channel, *_] = await gallery.options(template.key, ask, connections, {})
    scenario = gallery.use(template.key, connections, inputs={ask.key: channel.value})
    body = {"title": "Winter hours", "content": "<p>Closed.</p>", "author_id": 987654}
    refused = await svc.run_now(user.id, scenario.id, {"body": body})
    assert refused["status"] == "completed" and refused["error"] is None
    cells = {c["cell_id"]: c for c in refused["cells"]}
    assert cells["post"]["status"] == "failed" and cells["post"]["error"]["routed"] is True
    assert cells["alert"]["status"] == "completed"
    assert cells["alert"]["input"]["text"].startswith(
        "WordPress did not take the post 'Winter hours': WordPress: Invalid author ID."
    )
    assert cells["alert"]["input"]["channel"] == channel.value

    posted = await svc.run_now(user.id, scenario.id, {"body": {"title": "Spring hours"}})
    assert posted["status"] == "completed"
    assert [c["cell_id"] for c in posted["cells"]] == ["submission", "post"]  # no alert


async def test_the_reusable_contact_template_returns_a_tidy_contact_to_its_caller(
    svc: Cellwright, user: Any
) -> None:
    """Offline: published, the template is a sub-scenario another scenario calls."""
    from cells import document as documents

    reusable = GalleryState(svc, user).use("reusable_tidy_contact", {})
    await svc.publish(user.id, reusable.id)

    def caller_named(name: str) -> Any:
        return svc.import_scenario(
            user.id,
            documents.parse(
                {
                    "name": name,
                    "cells": [
                        {
                            "id": "start",
                            "kind": "trigger",
                            "app": "manual",
                            "operation": "run_manually",
                        },
                        {
                            "id": "tidy",
                            "kind": "action",
                            "app": "scenario",
                            "operation": "run_scenario",
                            "inputs": {
                                "scenario_id": reusable.id,
                                "inputs": {
                                    "name": "{{ trigger.who }}",
                                    "email": "{{ trigger.mail }}",
                                },
                            },
                        },
                    ],
                }
            ),
        )

    # two scenarios call the same one and each gets its own tidy contact back
    for name, who, mail, tidied in (
        ("New lead", " grace HOPPER", "GH@Navy.MIL ", ("Grace Hopper", "gh@navy.mil")),
        ("New customer", "ada lovelace ", " Ada@Example.COM", ("Ada Lovelace", "ada@example.com")),
    ):
        caller = caller_named(name)
        await svc.publish(user.id, caller.id)
        run = await svc.run_now(user.id, caller.id, {"who": who, "mail": mail})
        assert run["status"] == "completed", run["error"]
        [tidy] = [c for c in run["cells"] if c["cell_id"] == "tidy"]
        assert tidy["output"]["output"] == {"name": tidied[0], "email": tidied[1]}
        called = svc.execution(user.id, tidy["output"]["execution_id"])
        assert called["scenario_id"] == reusable.id and called["parent_execution_id"] == run["id"]
