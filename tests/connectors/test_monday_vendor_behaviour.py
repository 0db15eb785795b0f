"""What real monday.com does that a happy-path simulator would not, and how the connector
copes (issue #9): complexity that grows with the query, a spent budget, short pages with a
cursor, an unknown API version, a user without permission, and webhook deliveries."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from cells import document as documents
from connectors.monday import api, app
from connectors.monday import sandbox as sb
from connectors.sdk import OperationContext, RateLimitedError, UpstreamError
from connectors.sdk.http import build_http
from connectors.sdk.sandboxing import SANDBOX_BASE, sandbox_context, shared_sandbox

BOARD = sb.BOARD_ID
CREDENTIALS = {"api_token": sb.SANDBOX_TOKEN}


@pytest.fixture
def sandbox() -> Any:
    return sb.create_app()


@pytest.fixture
def ctx(sandbox: Any) -> OperationContext:
    return sandbox_context(app, CREDENTIALS, asgi_app=sandbox)


async def settings(asgi: Any, **given: Any) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=asgi), base_url=SANDBOX_BASE
    ) as http:
        (await http.post("/__sandbox__/settings", json=given)).raise_for_status()


async def run(ctx: OperationContext, key: str, **inputs: Any) -> Any:
    op = app.action(key)
    result = await op.perform(ctx, op.input.model_validate(inputs))
    return result.model_dump(mode="json") if isinstance(result, BaseModel) else result


PAGE = (
    "query ($limit: Int!) { complexity { query } boards(ids: [1234567890]) { items_page(limit: "
    "$limit) { cursor items { id } } } }"
)


async def test_a_query_costs_more_the_more_it_asks_for(ctx: OperationContext) -> None:
    small = (await api.gql(ctx, PAGE, {"limit": 1}))["complexity"]["query"]
    large = (await api.gql(ctx, PAGE, {"limit": 500}))["complexity"]["query"]
    assert large > small
    assert (
        sb.query_cost('mutation { create_item(board_id: 1, item_name: "x") { id } }', {})
        >= sb.MUTATION_COST
    )


async def test_a_spent_budget_is_rate_limited_with_monday_s_retry_seconds(
    ctx: OperationContext, sandbox: Any
) -> None:
    await settings(sandbox, budget=1500)
    await api.gql(ctx, PAGE, {"limit": 1})  # 1,000 points: fits
    with pytest.raises(RateLimitedError, match="COMPLEXITY_BUDGET_EXHAUSTED") as caught:
        await api.gql(ctx, PAGE, {"limit": 1})
    assert (
        caught.value.retryable
        and caught.value.retry_after is not None
        and 1 <= caught.value.retry_after <= 60
    )


async def test_polling_follows_the_cursor_through_short_pages(
    ctx: OperationContext, sandbox: Any
) -> None:
    for n in range(4):
        await run(ctx, "create_item", board_id=BOARD, item_name=f"Item {n}")
    await settings(sandbox, page_cap=1)  # monday answers one item a page, with a cursor to the rest
    trigger = app.trigger("new_item_polling")
    items = await trigger.fetch(
        ctx, trigger.input.model_validate({"board_id": BOARD, "max_items": 5}), None
    )  # type: ignore[attr-defined]
    assert [i["name"] for i in items] == [
        "Item 3",
        "Item 2",
        "Item 1",
        "Item 0",
        "Spring launch post",
    ]


async def test_an_unknown_api_version_is_refused(sandbox: Any) -> None:
    http = build_http(
        app_key="monday",
        base_url=SANDBOX_BASE,
        auth=app.auth.httpx_auth(CREDENTIALS),
        headers={"API-Version": "2019-01"},
        error_parser=app.error_parser,
        transport=httpx.ASGITransport(app=sandbox),
    )
    with pytest.raises(UpstreamError, match="API version 2019-01 does not exist") as caught:
        await api.gql(OperationContext(http=http, credentials=CREDENTIALS), "query { me { id } }")
    assert caught.value.status == 400 and not caught.value.retryable
    assert app.default_headers["API-Version"] in sb.VERSIONS  # the pinned one is served


async def test_a_user_without_permission_gets_a_clear_error(
    ctx: OperationContext, sandbox: Any
) -> None:
    await settings(sandbox, read_only=True)
    with pytest.raises(
        UpstreamError, match="UserUnauthorizedException.*lacks permission"
    ) as caught:
        await run(ctx, "create_item", board_id=BOARD, item_name="Not allowed")
    assert caught.value.status == 403 and not caught.value.retryable
    assert await api.board_columns(ctx, BOARD)  # reading still works


async def test_monday_s_deliveries_reach_the_scenario(
    svc: Any, user: Any, asgi_app: Any, helpers: Any
) -> None:
    connection = await svc.create_connection(user.id, "monday", credentials={}, sandbox=True)
    text = (
        "name: New items\ncells:\n"
        "  - {id: t, kind: trigger, app: monday, operation: new_item, "
        f"connection: {connection.id}, inputs: {{board_id: '{BOARD}'}}}}\n"
    )
    scenario = await svc.enable(user.id, svc.import_scenario(user.id, documents.loads(text)).id)
    ctx = await svc.contexts.for_connection(connection, app)
    made = await run(ctx, "create_item", board_id=BOARD, item_name="Pushed by monday")
    sender = shared_sandbox("monday", app.sandbox).state.account.sender
    await sender.drain()
    statuses = [
        status for delivery, status in sender.sent if delivery.url == svc.webhook_url(scenario)
    ]
    assert sorted(statuses) == [200, 202]  # the challenge echoed, the event accepted
    execution = await helpers.wait_for(
        lambda: next(iter(svc.store.list_executions(user.id, scenario_id=scenario.id)), None)
    )
    done = await helpers.finished(svc, execution.id)
    assert done["status"] == "completed" and done["trigger"]["item_id"] == made["id"]
