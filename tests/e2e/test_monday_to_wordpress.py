"""The requirements' flagship example, end to end: an Approved monday.com item becomes a
WordPress post with mapped fields; an item with another status does not.

Real components only: the store on ``tmp_path``, sandbox connections to both apps'
simulators, the runner and executor, and — for the instant variant — a real uvicorn
server whose ``/hooks/{token}`` URL is what the monday sandbox's ``create_webhook``
records. The scenarios are the shipped template documents (``workspace/templates``)
with their connection placeholders filled in.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from connectors.registry import default_registry
from connectors.sdk import ConfigurationError
from engine.scheduler import Scheduler
from engine.service import Cellwright
from tests.e2e.conftest import MondayBoard, WordPressSite
from workspace.server import create_app
from workspace.templates import get_template, load_templates


async def sandbox_connections(svc: Cellwright, user: Any) -> dict[str, str]:
    out = {}
    for key in ("monday", "wordpress"):
        connection = await svc.create_connection(user.id, key, credentials={}, sandbox=True)
        assert connection.status == "active" and connection.is_sandbox, connection.status_message
        out[key] = connection.id
    return out


def cells_run(execution: dict[str, Any]) -> list[str]:
    return [c["cell_id"] for c in execution["cells"]]


async def test_an_approved_item_becomes_a_post_through_monday_webhooks(
    make_settings: Any, registry: Any, board: MondayBoard, site: WordPressSite, helpers: Any
) -> None:
    svc = Cellwright(make_settings(), apps=registry)
    try:
        with helpers.ThreadedServer(
            create_app(svc), lifespan="on"
        ) as server:  # the lifespan starts the service
            svc.settings.public_url = server.url
            user = svc.store.create_user("editor@example.com", name="Editor")
            connections = await sandbox_connections(svc, user)
            doc = get_template("monday_to_wordpress").document(
                connections,
                server_url=server.url,
                inputs={"status_changed.board_id": board.board_id},
            )
            scenario = svc.import_scenario(user.id, doc)
            await svc.enable(user.id, scenario.id)

            hook_url = svc.webhook_url(scenario)
            assert hook_url == f"{server.url}/hooks/{scenario.webhook_token}"
            [hook] = board.account.webhooks.values()  # created on the board by enabling
            assert (hook["url"], hook["event"]) == (hook_url, "change_status_column_value")

            async with httpx.AsyncClient(timeout=10) as monday:  # monday.com's side of the wire
                [challenge] = board.deliveries(hook_url)  # monday checks the URL first
                answer = await monday.post(hook_url, json=challenge)
                assert answer.status_code == 200 and answer.json() == challenge

                approved = await board.create_item(
                    "Autumn recap",
                    status="Working on it",
                    summary="What we shipped",
                    body="<p>Three releases and a new website.</p>",
                    tags=["News"],
                )
                other = await board.create_item(
                    "Half-baked idea", status="Working on it", summary="Not yet", body="Draft"
                )
                assert board.deliveries(hook_url) == []  # creating an item is not a status change
                await board.set_status(approved, "Approved")
                await board.set_status(other, "Stuck")
                deliveries = board.deliveries(hook_url)
                assert [d["event"]["pulseId"] for d in deliveries] == [int(approved), int(other)]
                assert (
                    "columnValues" not in deliveries[0]["event"]
                )  # only the changed column travels

                accepted = []
                for payload in deliveries:
                    answer = await monday.post(hook_url, json=payload)
                    assert answer.status_code == 202, answer.text
                    accepted.append(answer.json()["execution_id"])
                redelivered = await monday.post(
                    hook_url, json=deliveries[0]
                )  # monday retries a delivery
                assert redelivered.json()["execution_id"] == accepted[0]

            published, skipped = [await helpers.finished(svc, e, timeout=10) for e in accepted]
            assert published["status"] == "completed", published["error"]
            assert cells_run(published) == [
                "status_changed",
                "get_item",
                "only_approved",
                "create_post",
            ]
            assert skipped["status"] == "completed", skipped["error"]
            assert cells_run(skipped) == [
                "status_changed",
                "get_item",
                "only_approved",
            ]  # the filter stopped it

            [post] = site.posts_titled("Autumn recap")
            assert post["status"] == "publish"
            assert post["content"] == "<p>Three releases and a new website.</p>"
            assert post["excerpt"] == "What we shipped"
            assert site.category_names(post) == ["News"]
            assert published["cells"][-1]["output"]["id"] == post["id"]
            assert site.posts_titled("Half-baked idea") == []

            await svc.disable(user.id, scenario.id)
            assert board.account.webhooks == {}  # removed from the board
    finally:
        svc.close()


async def test_the_polling_variant_publishes_each_approved_item_once(
    svc: Cellwright, user: Any, board: MondayBoard, site: WordPressSite, helpers: Any
) -> None:
    connections = await sandbox_connections(svc, user)
    doc = get_template("monday_to_wordpress_polling").document(
        connections,
        server_url="http://127.0.0.1:8000",
        inputs={"new_item.board_id": board.board_id},
    )
    scenario = await svc.enable(user.id, svc.import_scenario(user.id, doc).id)
    scheduler = Scheduler(svc)
    t0 = datetime.now(UTC)

    assert (
        await scheduler.run_due(t0) == 0
    )  # the baseline: the board's Approved "Spring launch post" is not posted
    approved = await board.create_item(
        "Autumn recap", status="Approved", summary="What we shipped", body="Three releases."
    )
    waiting = await board.create_item(
        "Winter teaser", status="Working on it", body="Soon.", tags=["Blog"]
    )
    assert await scheduler.run_due(t0 + timedelta(minutes=10)) == 1
    [first] = svc.store.list_executions(user.id, scenario_id=scenario.id)
    assert first.idempotency_key == f"poll:new_item:{approved}"
    result = await helpers.finished(svc, first.id, timeout=10)
    assert result["status"] == "completed", result["error"]
    [post] = site.posts_titled("Autumn recap")
    assert (post["content"], post["excerpt"], post["status"]) == (
        "Three releases.",
        "What we shipped",
        "publish",
    )
    assert site.category_names(post) == [
        "Blog"
    ]  # no Tags on the item: the template's default category
    assert (
        site.posts_titled("Winter teaser") == [] and site.posts_titled("Spring launch post") == []
    )

    await board.set_status(waiting, "Approved")  # approved later: published on the next poll
    assert await scheduler.run_due(t0 + timedelta(minutes=20)) == 1
    latest = svc.store.list_executions(user.id, scenario_id=scenario.id)[0]
    assert (await helpers.finished(svc, latest.id, timeout=10))["status"] == "completed"
    [teaser] = site.posts_titled("Winter teaser")
    assert site.category_names(teaser) == ["Blog"]
    assert await scheduler.run_due(t0 + timedelta(minutes=30)) == 0  # nothing posts twice
    assert len(site.posts_titled("Autumn recap")) == 1


@pytest.mark.parametrize(
    "key", [t.key for t in load_templates() if t.available(default_registry())]
)
async def test_every_template_imports_with_sandbox_connections(
    key: str, svc: Cellwright, user: Any
) -> None:
    template = get_template(key)
    connections = {}
    for app_key in template.connections:
        connection = await svc.create_connection(user.id, app_key, credentials={}, sandbox=True)
        assert connection.status == "active", connection.status_message
        connections[app_key] = connection.id
    answers = {
        ask.key: "1234567890" if ask.field == "board_id" else "C0SANDBOX01" for ask in template.asks
    }
    doc = template.document(connections, server_url="http://127.0.0.1:8000", inputs=answers)
    scenario = svc.import_scenario(user.id, doc)  # validates apps, operations and trigger inputs
    used = {cell.connection for cell, _ in doc.walk() if getattr(cell, "connection", None)}
    assert used == set(connections.values())
    assert svc.scenario(user.id, scenario.id).name == template.data["name"]
    if template.connections:
        with pytest.raises(ConfigurationError, match="Pick a connection for"):
            template.document({}, server_url="http://127.0.0.1:8000", inputs=answers)
    if template.asks:  # what only the user knows is asked, never hard-coded
        with pytest.raises(
            ConfigurationError, match="Fill in: " + re.escape(template.asks[0].label)
        ):
            template.document(connections, server_url="http://127.0.0.1:8000")
