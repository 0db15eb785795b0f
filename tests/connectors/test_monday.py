"""monday.com: every action and trigger against the sandbox account, failures included."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import httpx
import pytest
from pydantic import BaseModel, ValidationError

from cells.run import validation_error
from connectors.monday import api, app, triggers
from connectors.monday import sandbox as sb
from connectors.sdk import (
    AuthError,
    IncomingRequest,
    InvalidInputError,
    RateLimitedError,
    UpstreamError,
    WebhookVerificationError,
)
from connectors.sdk.sandboxing import sandbox_context

BOARD = sb.BOARD_ID
HOOK_URL = "https://cellwright.example/hooks/tok-123"
SIGNING_SECRET = "monday-app-signing-secret-0123456789"  # noqa: S105 (test value)


@pytest.fixture
def sandbox() -> Any:
    return sb.create_app()


@pytest.fixture
def ctx(sandbox: Any) -> Any:
    return sandbox_context(app, {"api_token": sb.SANDBOX_TOKEN}, asgi_app=sandbox)


def account(sandbox: Any) -> sb.Account:
    return sandbox.state.account


def requests_made(sandbox: Any) -> int:
    return account(sandbox).requests


async def run(ctx: Any, key: str, **inputs: Any) -> dict[str, Any]:
    """Run an action the way the runner does: validate inputs, perform, validate output."""
    op = app.action(key)
    result = await op.perform(ctx, op.input.model_validate(inputs))
    data = result.model_dump(mode="json") if isinstance(result, BaseModel) else result
    return op.output.model_validate(data).model_dump(mode="json")


async def fail(sandbox: Any, **spec: Any) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=sandbox), base_url="http://sandbox.invalid"
    ) as client:
        (await client.post("/__sandbox__/fail", json=spec)).raise_for_status()


# -- connection and errors ------------------------------------------------------------------------


async def test_connection_test_names_user_and_account(ctx: Any) -> None:
    assert app.auth.test is not None
    result = await app.auth.test(ctx)
    assert result["label"] == "Ada Lovelace (Sandbox Co)" and result["account_slug"] == "sandbox-co"


async def test_a_wrong_token_is_an_auth_error(sandbox: Any) -> None:
    ctx = sandbox_context(app, {"api_token": "not-a-token"}, asgi_app=sandbox)
    with pytest.raises(AuthError, match="refused the API token") as caught:
        await app.auth.test(ctx)  # type: ignore[misc]
    assert "not-a-token" not in caught.value.message


async def test_complexity_budget_exhausted_is_rate_limited(ctx: Any, sandbox: Any) -> None:
    await fail(
        sandbox,
        code="COMPLEXITY_BUDGET_EXHAUSTED",
        message="Complexity budget exhausted",
        http_status=429,
        retry_in_seconds=30,
    )
    with pytest.raises(RateLimitedError, match="Complexity budget exhausted") as caught:
        await run(ctx, "get_items", item_ids=["9000000001"])
    assert caught.value.retry_after == 30


async def test_a_spent_budget_answers_429_with_retry_after(ctx: Any, sandbox: Any) -> None:
    account(sandbox).budget = 10
    with pytest.raises(RateLimitedError) as caught:
        await run(ctx, "get_items", item_ids=["9000000001"])
    assert caught.value.retry_after is not None and 0 <= caught.value.retry_after <= 60


@pytest.mark.parametrize(
    ("body", "status", "headers", "retry_after"),
    [
        (
            {
                "error_code": "ComplexityException",
                "status_code": 429,
                "errors": [
                    "Complexity budget exhausted, "
                    "query cost 30001 budget remaining 19986 out of 1000000 reset in 3 seconds"
                ],
            },
            200,
            {},
            3.0,
        ),
        (
            {
                "errors": [
                    {
                        "message": "Rate Limit Exceeded",
                        "extensions": {"code": "RATE_LIMIT_EXCEEDED"},
                    }
                ]
            },
            429,
            {"Retry-After": "12"},
            12.0,
        ),
        (
            {
                "errors": [
                    {
                        "message": "Concurrency limit exceeded",
                        "extensions": {"code": "maxConcurrencyExceeded"},
                    }
                ]
            },
            200,
            {},
            None,
        ),
    ],
)
def test_every_rate_limit_shape_is_recognised(
    body: Any, status: int, headers: dict[str, str], retry_after: float | None
) -> None:
    response = httpx.Response(
        status,
        json=body,
        headers=headers,
        request=httpx.Request("POST", "https://api.monday.com/v2"),
    )
    error = app.error_parser(response, body)  # type: ignore[misc]
    assert isinstance(error, RateLimitedError) and error.retry_after == retry_after


def test_the_daily_limit_waits_until_midnight_utc() -> None:
    body = {
        "errors": [
            {"message": "Daily limit exceeded", "extensions": {"code": "DAILY_LIMIT_EXCEEDED"}}
        ]
    }
    response = httpx.Response(
        429, json=body, request=httpx.Request("POST", "https://api.monday.com/v2")
    )
    error = app.error_parser(response, body)  # type: ignore[misc]
    assert isinstance(error, RateLimitedError) and 0 < (error.retry_after or 0) <= 86400


def test_application_errors_in_http_200_become_clear_upstream_errors() -> None:
    body = {
        "data": None,
        "errors": [
            {
                "message": "User unauthorized to perform action",
                "extensions": {"code": "UserUnauthorizedException", "status_code": 403},
            },
            {"message": "second", "extensions": {}},
        ],
    }
    response = httpx.Response(
        200, json=body, request=httpx.Request("POST", "https://api.monday.com/v2")
    )
    error = app.error_parser(response, body)  # type: ignore[misc]
    assert isinstance(error, UpstreamError) and error.status == 403 and not error.retryable
    assert error.message == (
        "monday.com: User unauthorized to perform action [UserUnauthorizedException] — the token's "
        "user lacks permission for this (board permissions or OAuth scopes) (2 errors)"
    )
    legacy = {"error_message": "Internal server error", "status_code": 500}
    error = app.error_parser(httpx.Response(500, json=legacy, request=response.request), legacy)  # type: ignore[misc]
    assert isinstance(error, UpstreamError) and error.retryable
    assert app.error_parser(response, {"data": {"me": None}}) is None  # type: ignore[misc]
    assert app.error_parser(response, "plain text") is None  # type: ignore[misc]


async def test_an_answer_without_data_is_an_upstream_error() -> None:
    from connectors.monday.api import gql
    from connectors.sdk.context import OperationContext
    from connectors.sdk.http import build_http

    odd = httpx.MockTransport(lambda request: httpx.Response(200, json={"account_id": 1}))
    ctx = OperationContext(
        http=build_http(
            app_key="monday",
            base_url="http://x.invalid",
            transport=odd,
            error_parser=app.error_parser,
        )
    )
    with pytest.raises(UpstreamError, match="without data"):
        await gql(ctx, "query { me { id } }")


# -- items -----------------------------------------------------------------------------------------


async def test_create_item_with_every_column_type_looked_up_on_the_board(
    ctx: Any, sandbox: Any
) -> None:
    out = await run(
        ctx,
        "create_item",
        board_id=BOARD,
        item_name="Autumn recap",
        group_id="group_done",
        column_values={
            "status": "Approved",
            "Publish date": "2026-12-01T10:30:00Z",
            "person": "1001, 1002",
            "text": "Short",
            "long_text": "Long\ntext",
            "numbers": 1200,
            "email": "ada@example.com",
            "link": "https://example.com",
            "phone": "+33612345678",
            "checkbox": "yes",
            "dropdown": "Blog, News",
        },
    )
    assert out["columns"] == {
        "status": "Approved",
        "date4": "2026-12-01 10:30",
        "person": "Ada Lovelace, Grace Hopper",
        "text": "Short",
        "long_text": "Long\ntext",
        "numbers": "1200",
        "email": "ada@example.com",
        "link": "https://example.com",
        "phone": "+33612345678",
        "checkbox": "v",
        "dropdown": "Blog, News",
        "subitems": None,
        "formula": None,
    }
    assert out["columns_by_title"]["Publish date"] == "2026-12-01 10:30"
    assert (out["name"], out["group_id"], out["group_title"], out["board_name"]) == (
        "Autumn recap",
        "group_done",
        "Published",
        "Content pipeline",
    )
    status = next(v for v in out["column_values"] if v["id"] == "status")
    assert status == {
        "id": "status",
        "title": "Status",
        "type": "status",
        "text": "Approved",
        "value": {"index": 3},
    }
    assert requests_made(sandbox) == 2  # the column lookup, then the mutation


async def test_given_column_types_skip_the_lookup(ctx: Any, sandbox: Any) -> None:
    out = await run(
        ctx,
        "create_item",
        board_id=BOARD,
        item_name="Quick",
        column_values={"status": 1},
        column_types={"status": "status"},
    )
    assert out["columns"]["status"] == "Done" and out["group_id"] == "topics"
    assert requests_made(sandbox) == 1


async def test_vendor_validation_errors_name_the_column(ctx: Any) -> None:
    with pytest.raises(
        UpstreamError,
        match=(
            r"label does not exist.*\[ColumnValueException\].*column_id: status, "
            r"column_type: status"
        ),
    ):
        await run(
            ctx, "create_item", board_id=BOARD, item_name="X", column_values={"status": "Published"}
        )


async def test_missing_labels_can_be_created(ctx: Any, sandbox: Any) -> None:
    out = await run(
        ctx,
        "create_item",
        board_id=BOARD,
        item_name="X",
        create_labels_if_missing=True,
        column_values={"status": "Published", "dropdown": ["Podcast"]},
    )
    assert (out["columns"]["status"], out["columns"]["dropdown"]) == ("Published", "Podcast")


async def test_unknown_columns_and_boards_are_input_errors(ctx: Any) -> None:
    with pytest.raises(
        InvalidInputError, match="has no column 'colour'. Columns: name \\(Name\\), status"
    ) as caught:
        await run(
            ctx, "create_item", board_id=BOARD, item_name="X", column_values={"colour": "red"}
        )
    assert caught.value.errors[0]["field"] == "column_values.colour"
    with pytest.raises(InvalidInputError, match="no board 42") as caught:
        await run(
            ctx, "create_item", board_id="42", item_name="X", column_values={"status": "Done"}
        )
    assert caught.value.errors[0]["field"] == "board_id"
    with pytest.raises(UpstreamError, match="InvalidBoardIdException"):
        await run(ctx, "create_item", board_id="42", item_name="X")
    with pytest.raises(UpstreamError, match="InvalidGroupIdException"):
        await run(ctx, "create_item", board_id=BOARD, item_name="X", group_id="nope")
    with pytest.raises(InvalidInputError, match="numbers column: 'many' is not a number"):
        await run(
            ctx, "create_item", board_id=BOARD, item_name="X", column_values={"numbers": "many"}
        )


def test_inputs_name_missing_or_malformed_fields() -> None:
    op = app.action("create_item")
    with pytest.raises(ValidationError) as caught:
        op.input.model_validate({"item_name": "X"})
    assert "board_id: Field required" in validation_error("create", caught.value).message
    with pytest.raises(ValidationError, match="board_id"):
        op.input.model_validate({"board_id": "my board", "item_name": "X"})
    assert (
        op.input.model_validate({"board_id": 1234567890, "item_name": "X"}).board_id == "1234567890"
    )  # type: ignore[attr-defined]
    with pytest.raises(ValidationError, match="column_values"):
        app.action("update_column_values").input.model_validate(
            {"board_id": BOARD, "item_id": "1", "column_values": {}}
        )


async def test_update_column_values_changes_and_clears(ctx: Any) -> None:
    out = await run(
        ctx,
        "update_column_values",
        board_id=BOARD,
        item_id="9000000002",
        column_values={
            "Status": "Done",
            "text": None,
            "name": "Spring launch (final)",
            "checkbox": True,
        },
    )
    assert (
        out["columns"]["status"] == "Done"
        and out["columns"]["text"] is None
        and out["columns"]["checkbox"] == "v"
    )
    assert out["name"] == "Spring launch (final)"
    with pytest.raises(UpstreamError, match="ResourceNotFoundException") as caught:
        await run(
            ctx,
            "update_column_values",
            board_id=BOARD,
            item_id="1",
            column_values={"status": "Done"},
        )
    assert caught.value.status == 404 and not caught.value.retryable


async def test_create_update(ctx: Any) -> None:
    out = await run(ctx, "create_update", item_id="9000000002", body="<p>Draft is <b>ready</b></p>")
    assert (
        out["text_body"] == "Draft is ready"
        and out["item_id"] == "9000000002"
        and out["creator_id"] == "1001"
    )


async def test_create_subitem_with_columns_of_the_subitems_board(ctx: Any, sandbox: Any) -> None:
    out = await run(
        ctx,
        "create_subitem",
        parent_item_id="9000000002",
        item_name="Write the draft",
        column_values={"status": "Done", "Date": "2026-11-30"},
    )
    assert (out["parent_item_id"], out["board_id"]) == ("9000000002", sb.SUBITEMS_BOARD_ID)
    assert out["columns"] == {"status": "Done", "date0": "2026-11-30"}
    plain = await run(ctx, "create_subitem", parent_item_id="9000000002", item_name="Proofread")
    assert plain["columns"] == {"status": None, "date0": None}
    with pytest.raises(InvalidInputError, match="no item 1") as caught:
        await run(
            ctx,
            "create_subitem",
            parent_item_id="1",
            item_name="X",
            column_values={"status": "Done"},
        )
    assert caught.value.errors[0]["field"] == "parent_item_id"
    with pytest.raises(InvalidInputError, match="Give column_types for 'status'"):
        await run(
            ctx,
            "create_subitem",
            parent_item_id=out["id"],
            item_name="X",
            column_values={"status": "Done"},
        )


async def test_move_archive_and_delete(ctx: Any) -> None:
    moved = await run(ctx, "move_item_to_group", item_id="9000000001", group_id="group_done")
    assert moved["group_title"] == "Published"
    with pytest.raises(UpstreamError, match="InvalidGroupIdException"):
        await run(ctx, "move_item_to_group", item_id="9000000001", group_id="nope")
    assert await run(ctx, "archive_item", item_id="9000000001") == {
        "id": "9000000001",
        "state": "archived",
    }
    assert await run(ctx, "delete_item", item_id="9000000002") == {
        "id": "9000000002",
        "state": "deleted",
    }
    found = await run(ctx, "get_items", item_ids=["9000000001", "9000000002"])
    assert [(i["id"], i["state"]) for i in found["items"]] == [("9000000001", "archived")]
    with pytest.raises(UpstreamError, match="not found"):
        await run(ctx, "delete_item", item_id="9000000002")


async def test_search_items_follows_cursors(
    ctx: Any, sandbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(3):
        await run(
            ctx,
            "create_item",
            board_id=BOARD,
            item_name=f"Approved {n}",
            column_values={"status": 3},
            column_types={"status": "status"},
        )
    monkeypatch.setattr(api, "PAGE_SIZE", 2)
    found = await run(ctx, "search_items", board_id=BOARD, column_id="status", values="Approved")
    assert found["count"] == 4 and {i["columns"]["status"] for i in found["items"]} == {"Approved"}
    by_name = await run(
        ctx, "search_items", board_id=BOARD, column_id="name", values=["Holiday guide"], limit=1
    )
    assert [i["id"] for i in by_name["items"]] == ["9000000001"]
    with pytest.raises(UpstreamError, match="InvalidColumnIdException"):
        await run(ctx, "search_items", board_id=BOARD, column_id="nope", values=["x"])


async def test_paging_stops_when_the_complexity_budget_runs_low(
    ctx: Any, sandbox: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(api, "PAGE_SIZE", 1)
    account(sandbox).budget = 2 * sb.QUERY_COST + 500  # after the first page: 1500 left < 2 × 1000
    found = await run(
        ctx,
        "search_items",
        board_id=BOARD,
        column_id="status",
        values=["Approved", "Working on it"],
    )
    assert found["count"] == 1
    assert "complexity budget" in caplog.text


async def test_an_expired_cursor_is_reported(ctx: Any) -> None:
    from connectors.monday.api import gql

    with pytest.raises(UpstreamError, match="CursorExpiredError.*expired"):
        await gql(ctx, api.NEXT_PAGE, {"cursor": "MSwgone", "limit": 5})


# -- instant triggers ------------------------------------------------------------------------------


async def subscribe(
    ctx: Any, key: str, url: str = HOOK_URL, **inputs: Any
) -> tuple[Any, Any, dict[str, Any]]:
    trigger = app.trigger(key)
    parsed = trigger.input.model_validate({"board_id": BOARD, **inputs})
    assert trigger.subscribe is not None
    state = await trigger.subscribe(ctx, parsed, url)
    return trigger, parsed, dict(state)


async def receive(
    trigger: Any, parsed: Any, state: dict[str, Any], payload: dict[str, Any], **signing: Any
) -> Any:
    request = sb.delivery(payload, **signing)
    trigger.verify(request, parsed, state, {"signing_secret": SIGNING_SECRET})
    reply = await trigger.parse(request, parsed, state)
    for event in reply.events:
        trigger.output.model_validate(event)
    return reply


def deliveries(sandbox: Any, to: str = HOOK_URL) -> list[dict[str, Any]]:
    sent = [payload for url, payload in account(sandbox).outbox if url == to]
    account(sandbox).outbox[:] = [
        (url, payload) for url, payload in account(sandbox).outbox if url != to
    ]
    return sent


async def test_new_item_webhook_from_subscribe_to_unsubscribe(ctx: Any, sandbox: Any) -> None:
    trigger, parsed, state = await subscribe(ctx, "new_item")
    hook = account(sandbox).webhooks[state["webhook_id"]]
    assert (hook["event"], hook["url"], hook["config"]) == ("create_item", HOOK_URL, None)
    assert state["signed"] is False  # made with a personal token: monday does not sign it
    [challenge] = deliveries(sandbox)
    reply = await receive(
        trigger, parsed, {}, challenge
    )  # it arrives before subscribe returns: no state yet
    assert reply.response == (200, {"challenge": challenge["challenge"]}, {}) and reply.events == []

    await run(
        ctx,
        "create_item",
        board_id=BOARD,
        item_name="Fresh idea",
        column_values={"status": "Approved"},
    )
    [delivered] = deliveries(sandbox)
    [event] = (await receive(trigger, parsed, state, delivered)).events
    assert (event["event_type"], event["item_name"], event["board_id"], event["user_id"]) == (
        "create_pulse",
        "Fresh idea",
        BOARD,
        "1001",
    )
    assert event["columns"] == {"status": "Approved"} and event["trigger_uuid"]

    assert trigger.unsubscribe is not None
    await trigger.unsubscribe(ctx, parsed, state)
    assert state["webhook_id"] not in account(sandbox).webhooks
    await trigger.unsubscribe(ctx, parsed, state)  # already gone: fine
    await trigger.unsubscribe(ctx, parsed, {})


async def test_unsubscribe_reports_real_failures(ctx: Any, sandbox: Any) -> None:
    trigger, parsed, state = await subscribe(ctx, "new_update")
    await fail(sandbox, code="INTERNAL_SERVER_ERROR", http_status=500)
    with pytest.raises(UpstreamError) as caught:
        await trigger.unsubscribe(ctx, parsed, state)
    assert caught.value.retryable


async def test_column_value_changed_for_one_column_or_any(ctx: Any, sandbox: Any) -> None:
    one, one_input, one_state = await subscribe(ctx, "column_value_changed", column_id="text")
    any_url = HOOK_URL + "-any"
    anyc, any_input, any_state = await subscribe(ctx, "column_value_changed", url=any_url)
    hooks = {h["event"]: h["config"] for h in account(sandbox).webhooks.values()}
    assert hooks == {
        "change_specific_column_value": '{"columnId": "text"}',
        "change_column_value": None,
    }
    account(sandbox).outbox.clear()
    await run(
        ctx,
        "update_column_values",
        board_id=BOARD,
        item_id="9000000001",
        column_values={"text": "New summary", "numbers": 5},
    )
    texts = [
        e for p in deliveries(sandbox) for e in (await receive(one, one_input, one_state, p)).events
    ]
    assert [
        (e["column_id"], e["value"], e["previous_value"], e["column_title"]) for e in texts
    ] == [("text", "New summary", "Gift ideas", "Summary")]
    anys = [
        e
        for p in deliveries(sandbox, any_url)
        for e in (await receive(anyc, any_input, any_state, p)).events
    ]
    assert sorted((e["column_id"], e["value"]) for e in anys) == [
        ("numbers", "5"),
        ("text", "New summary"),
    ]


async def test_status_changed_to_a_label(ctx: Any, sandbox: Any) -> None:
    trigger, parsed, state = await subscribe(ctx, "status_changed", label="approved")
    [hook] = account(sandbox).webhooks.values()
    assert (hook["event"], json.loads(hook["config"])) == (
        "change_status_column_value",
        {"columnId": "status", "columnValue": {"index": 3}},
    )
    deliveries(sandbox)
    await run(
        ctx,
        "update_column_values",
        board_id=BOARD,
        item_id="9000000001",
        column_values={"status": "Done"},
    )
    assert deliveries(sandbox) == []  # monday filters by the configured index
    await run(
        ctx,
        "update_column_values",
        board_id=BOARD,
        item_id="9000000001",
        column_values={"status": "Approved"},
    )
    [delivered] = deliveries(sandbox)
    [event] = (await receive(trigger, parsed, state, delivered)).events
    assert (
        event["item_id"],
        event["item_name"],
        event["value"],
        event["previous_value"],
        event["column_type"],
    ) == ("9000000001", "Holiday guide", "Approved", "Done", "color")
    wrong = json.loads(json.dumps(delivered).replace('"Approved"', '"Stuck"'))
    assert (
        await receive(trigger, parsed, state, wrong)
    ).events == []  # belt and braces: parse checks the label


async def test_status_changed_to_any_label_and_bad_inputs(ctx: Any, sandbox: Any) -> None:
    await subscribe(ctx, "status_changed")
    [hook] = account(sandbox).webhooks.values()
    assert json.loads(hook["config"]) == {"columnId": "status", "columnValue": {"$any$": True}}
    with pytest.raises(
        InvalidInputError,
        match="no label 'Published'. Labels: Working on it, Done, Stuck, Approved",
    ):
        await subscribe(ctx, "status_changed", label="Published")
    with pytest.raises(InvalidInputError, match="no status column 'text'"):
        await subscribe(ctx, "status_changed", column_id="text")


async def test_status_labels_in_the_newer_settings_shape(ctx: Any, sandbox: Any) -> None:
    status = next(c for c in account(sandbox).boards[BOARD]["columns"] if c["id"] == "status")
    status["settings_str"] = json.dumps(
        {"labels": [{"id": 0, "label": "Working on it"}, {"index": 3, "label": "Approved"}]}
    )
    assert await triggers._status_labels(ctx, BOARD, "status") == {
        "Working on it": 0,
        "Approved": 3,
    }


async def test_new_update_webhook(ctx: Any, sandbox: Any) -> None:
    trigger, parsed, state = await subscribe(ctx, "new_update")
    deliveries(sandbox)
    await run(ctx, "create_update", item_id="9000000002", body="<p>Looks <i>good</i></p>")
    [delivered] = deliveries(sandbox)
    [event] = (await receive(trigger, parsed, state, delivered)).events
    assert (event["item_id"], event["body"], event["text_body"]) == (
        "9000000002",
        "<p>Looks <i>good</i></p>",
        "Looks good",
    )


async def test_events_for_other_boards_or_without_an_item_run_nothing(
    ctx: Any, sandbox: Any
) -> None:
    trigger, parsed, state = await subscribe(ctx, "new_update")
    base = {"type": "create_update", "boardId": 99, "pulseId": 1, "updateId": 5}
    assert (await receive(trigger, parsed, state, {"event": base})).events == []
    assert (
        await receive(
            trigger, parsed, state, {"event": {**base, "boardId": int(BOARD), "updateId": None}}
        )
    ).events == []
    assert (await receive(trigger, parsed, state, {"event": {"type": "x"}})).events == []
    assert (await receive(trigger, parsed, state, {"nothing": True})).events == []
    col, col_input, col_state = await subscribe(ctx, "column_value_changed", column_id="text")
    other = {
        "event": {
            "type": "update_column_value",
            "boardId": int(BOARD),
            "pulseId": 1,
            "columnId": "numbers",
        }
    }
    assert (await receive(col, col_input, col_state, other)).events == []
    no_column = {"event": {"type": "update_column_value", "boardId": int(BOARD), "pulseId": 1}}
    assert (await receive(col, col_input, col_state, no_column)).events == []


async def test_subscribe_reports_a_webhook_monday_did_not_create(
    ctx: Any, sandbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def no_webhook(ctx: Any, query: str, variables: Any = None) -> dict[str, Any]:
        return {"create_webhook": None}

    monkeypatch.setattr(triggers, "gql", no_webhook)  # monday answering data without the webhook
    with pytest.raises(UpstreamError, match="did not create the webhook"):
        await subscribe(ctx, "new_item")


# -- webhook JWT (webhooks created with an app's OAuth token) --------------------------------------


SIGNED = {"signed": True, "webhook_url": HOOK_URL}
EVENT = {
    "event": {
        "type": "create_pulse",
        "boardId": int(BOARD),
        "pulseId": 9000000001,
        "pulseName": "Holiday guide",
    }
}


async def test_a_signed_webhook_with_a_valid_jwt_is_accepted() -> None:
    trigger = app.trigger("new_item")
    reply = await receive(
        trigger,
        trigger.input.model_validate({"board_id": BOARD}),
        SIGNED,
        EVENT,
        jwt_secret=SIGNING_SECRET,
        audience=HOOK_URL,
    )
    assert reply.events[0]["item_id"] == "9000000001"


@pytest.mark.parametrize(
    ("signing", "credentials", "message"),
    [
        ({}, {"signing_secret": SIGNING_SECRET}, "no Authorization JWT"),
        (
            {"jwt_secret": "another-signing-secret-abcdefgh", "audience": HOOK_URL},
            {"signing_secret": SIGNING_SECRET},
            "not valid",
        ),
        (
            {"jwt_secret": SIGNING_SECRET, "audience": "https://evil.example/"},
            {"signing_secret": SIGNING_SECRET},
            "aud",
        ),
        (
            {"jwt_secret": SIGNING_SECRET, "audience": HOOK_URL, "expires_in": -60},
            {"signing_secret": SIGNING_SECRET},
            "exp",
        ),
        (
            {"jwt_secret": SIGNING_SECRET, "audience": HOOK_URL},
            {},
            "signing secret is not configured",
        ),
    ],
)
def test_signed_webhooks_without_a_valid_jwt_are_refused(
    signing: dict[str, Any], credentials: dict[str, Any], message: str
) -> None:
    with pytest.raises(WebhookVerificationError, match=message):
        triggers.verify(sb.delivery(EVENT, **signing), None, SIGNED, credentials)


def test_the_challenge_and_unsigned_webhooks_need_no_jwt() -> None:
    triggers.verify(sb.delivery({"challenge": "abc"}), None, SIGNED, {})
    triggers.verify(sb.delivery(EVENT), None, {"signed": False}, {})
    garbage = IncomingRequest(
        method="POST", headers={"authorization": "x"}, query={}, body=b"not json"
    )
    with pytest.raises(WebhookVerificationError):
        triggers.verify(garbage, None, SIGNED, {"signing_secret": SIGNING_SECRET})


def pyjwt_encode(claims: dict[str, Any], key: str) -> str:
    """An HS256 token byte for byte as PyJWT's ``jwt.encode(claims, key, algorithm="HS256")``
    writes it (header ``{"alg","typ"}`` sorted, compact JSON, unpadded base64url): how a
    monday app's webhook JWT looks to a receiver. PyJWT itself is not in the lock file."""

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    header = b64(
        json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":"), sort_keys=True).encode()
    )
    payload = b64(json.dumps(claims, separators=(",", ":")).encode())
    signature = hmac.new(key.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{b64(signature)}"


async def test_webhooks_of_an_oauth_connection_are_checked_with_the_apps_signing_secret(
    svc: Any, user: Any, anon: httpx.AsyncClient
) -> None:
    """Issue #9: an OAuth connection keeps no signing secret, so every signed delivery was
    refused. The operator's monday app configuration (CELLWRIGHT_OAUTH_CLIENTS__monday__…)
    now supplies it; a delivery signed with it runs, one signed otherwise is refused."""
    from cells import document as documents

    svc.settings.oauth_clients = {
        "monday": {
            "client_id": "cw-monday-app",
            "client_secret": "monday-client-secret-abc",
            "signing_secret": SIGNING_SECRET,
        }
    }
    connection = svc.store.create_connection(
        user.id,
        "monday",
        "monday (OAuth)",
        {"access_token": sb.SANDBOX_TOKEN, "token_type": "bearer"},
        is_sandbox=True,
        status="active",
        metadata={"auth_type": "oauth2"},
    )
    text = (
        "name: Signed\ncells:\n"
        "  - {id: t, kind: trigger, app: monday, operation: new_item, "
        f"connection: {connection.id}, inputs: {{board_id: '{BOARD}'}}}}\n"
    )
    scenario = await svc.enable(user.id, svc.import_scenario(user.id, documents.loads(text)).id)
    [subscription] = svc.store.webhook_subscriptions(scenario.id)
    assert subscription.state["signed"] is True
    url = subscription.state["webhook_url"]
    body = json.dumps({"event": {**EVENT["event"], "triggerUuid": "b3f0c1d2"}}).encode()

    async def deliver(key: str, **claims: Any) -> httpx.Response:
        token = pyjwt_encode(
            {"accountId": 501, "userId": 1001, "aud": url, "exp": int(time.time()) + 300, **claims},
            key,
        )
        return await anon.post(
            f"/hooks/{scenario.webhook_token}",
            content=body,
            headers={"content-type": "application/json", "authorization": token},
        )

    refused = await deliver("not-the-apps-secret-0123456789")
    assert refused.status_code == 401 and "not valid" in refused.json()["message"]
    assert (
        await deliver(SIGNING_SECRET, aud="https://elsewhere.example/hooks/x")
    ).status_code == 401
    accepted = await deliver(SIGNING_SECRET)
    assert accepted.status_code == 202, accepted.text
    assert accepted.json()["accepted"] == 1
    lifecycle = await deliver(
        "monday-client-secret-abc"
    )  # signed with the client secret: also the operator's app
    assert lifecycle.status_code == 202


# -- polling: the flagship "a new Approved item becomes a WordPress post" --------------------------


async def poll(ctx: Any, **inputs: Any) -> list[dict[str, Any]]:
    trigger = app.trigger("new_item_polling")
    items = await trigger.fetch(
        ctx, trigger.input.model_validate({"board_id": BOARD, **inputs}), None
    )  # type: ignore[attr-defined]
    return [trigger.output.model_validate(item).model_dump(mode="json") for item in items]


async def test_new_approved_items_carry_everything_a_post_needs(ctx: Any) -> None:
    await run(
        ctx,
        "create_item",
        board_id=BOARD,
        item_name="Autumn recap",
        column_values={
            "status": "Approved",
            "long_text": "What happened this autumn",
            "text": "Recap",
        },
    )
    await run(
        ctx,
        "create_item",
        board_id=BOARD,
        item_name="Not yet",
        column_values={"status": "Working on it"},
    )
    items = await poll(ctx, status_column_id="status", status_label="Approved")
    assert [i["name"] for i in items] == ["Autumn recap", "Spring launch post"]  # newest first
    post = items[0]
    assert post["columns"]["long_text"] == "What happened this autumn"
    assert post["columns_by_title"]["Body"] == "What happened this autumn"
    assert post["columns_by_title"]["Summary"] == "Recap"
    assert (
        app.trigger("new_item_polling").item_key(post) == post["id"]
    )  # the engine dedupes by item id


async def test_polling_pages_filters_by_group_and_stops_for_the_budget(
    ctx: Any, sandbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(api, "PAGE_SIZE", 1)
    await run(ctx, "create_item", board_id=BOARD, item_name="Done already", group_id="group_done")
    items = await poll(ctx, max_items=2)
    assert [i["name"] for i in items] == ["Done already", "Spring launch post"]
    assert [i["name"] for i in await poll(ctx, group_id="group_done")] == ["Done already"]
    account(sandbox).budget = sb.QUERY_COST + 1500
    assert len(await poll(ctx, max_items=3)) == 1


async def test_polling_an_unknown_board(ctx: Any) -> None:
    trigger = app.trigger("new_item_polling")
    with pytest.raises(InvalidInputError, match="no board 42"):
        await trigger.fetch(ctx, trigger.input.model_validate({"board_id": "42"}), None)  # type: ignore[attr-defined]


# -- the app as a whole ----------------------------------------------------------------------------


def test_every_operation_is_described_with_a_valid_sample() -> None:
    for op in (*app.triggers, *app.actions):
        op.output.model_validate(op.sample)
        for schema in (op.input_schema(), op.output_schema()):
            json.dumps(schema)
            for name, prop in schema.get("properties", {}).items():
                assert prop.get("description"), f"{op.key}: field {name} has no description"


def test_app_pins_the_api_version_and_declares_its_host() -> None:
    assert app.default_headers == {"API-Version": "2026-10"}
    assert app.allowed_hosts == ("api.monday.com",)
    assert app.auth.type == "api_key" and app.auth.describe()["fields_schema"]["required"] == [
        "api_token"
    ]
    from connectors.monday.auth import MONDAY_OAUTH

    assert (
        MONDAY_OAUTH.authorize_url.startswith("https://auth.monday.com/")
        and "webhooks:write" in MONDAY_OAUTH.scopes
    )


# -- vendor answers the sandbox does not give ------------------------------------------------------


async def test_odd_vendor_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    from connectors.sdk.context import OperationContext
    from connectors.sdk.http import build_http

    item = {
        "id": "1",
        "name": "x",
        "column_values": [
            {"id": "c", "type": "text", "text": "t", "value": "not json", "column": {"title": "C"}}
        ],
    }

    def answer(request: httpx.Request) -> httpx.Response:
        query = json.loads(request.content)["query"]
        if "CreateUpdate" in query:
            return httpx.Response(200, json={"data": {"create_update": None}})
        if "SearchItems" in query:  # no complexity block, one more page
            return httpx.Response(
                200,
                json={"data": {"items_page_by_column_values": {"cursor": "c1", "items": [item]}}},
            )
        return httpx.Response(
            200, json={"data": {"next_items_page": {"cursor": None, "items": [item]}}}
        )

    ctx = OperationContext(
        http=build_http(
            app_key="monday",
            base_url="http://x.invalid",
            transport=httpx.MockTransport(answer),
            error_parser=app.error_parser,
        )
    )
    with pytest.raises(UpstreamError, match="no result for create_update"):
        await run(ctx, "create_update", item_id="1", body="x")
    found = await run(ctx, "search_items", board_id=BOARD, column_id="c", values=["t"])
    assert found["count"] == 2 and found["items"][0]["column_values"][0]["value"] == "not json"


# -- the sandbox's own fidelity (raw GraphQL, no connector) ----------------------------------------

CREATE = (
    "mutation ($v: JSON) { create_item(board_id: 1234567890, "
    'item_name: "x", column_values: $v) { id } }'
)


@pytest.mark.parametrize(
    ("query", "variables", "code"),
    [
        (CREATE, {"v": "{not json"}, "InvalidArgumentException"),
        (CREATE, {"v": "[1]"}, "InvalidArgumentException"),
        (CREATE, {"v": json.dumps({"colour": "red"})}, "InvalidColumnIdException"),
        (CREATE, {"v": json.dumps({"numbers": "12a"})}, "ColumnValueException"),
        (CREATE, {"v": json.dumps({"text": {"a": 1}})}, "ColumnValueException"),
        (CREATE, {"v": json.dumps({"date4": {"date": "soon"}})}, "ColumnValueException"),
        (
            CREATE,
            {"v": json.dumps({"person": {"personsAndTeams": [{"id": 7, "kind": "person"}]}})},
            "ColumnValueException",
        ),
        (CREATE, {"v": json.dumps({"subitems": {"x": 1}})}, "ColumnValueException"),
        (CREATE, {"v": json.dumps({"email": {"email": "nope"}})}, "ColumnValueException"),
        (CREATE, {"v": json.dumps({"status": {"index": 9}})}, "ColumnValueException"),
        (CREATE, {"v": json.dumps({"dropdown": "Blog"})}, "ColumnValueException"),
        (CREATE, {"v": json.dumps({"dropdown": {"ids": [9]}})}, "ColumnValueException"),
        (CREATE, {"v": json.dumps({"dropdown": {"ids": [1]}, "phone": {"phone": "+331"}})}, None),
        (CREATE, {"v": json.dumps({"dropdown": {"labels": ["Nope"]}})}, "ColumnValueException"),
        (
            "mutation { change_multiple_column_values(board_id: 1234567891, "
            'item_id: 9000000001, column_values: "{}") { id } }',
            None,
            "ResourceNotFoundException",
        ),
        (
            'mutation { create_subitem(parent_item_id: 9000000001, item_name: "x") { id } }',
            None,
            None,
        ),
        (
            'query { boards(ids: [1234567890]) { groups(ids: ["group_done"]) { id title } '
            "items_page(limit: 1, "
            "query_params: {ids: [9000000002]}) { cursor items { id name } } } }",
            None,
            None,
        ),
    ],
)
async def test_the_sandbox_checks_like_monday(
    sandbox: Any, query: str, variables: Any, code: str | None
) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=sandbox), base_url="http://sandbox.invalid"
    ) as client:
        answer = (
            await client.post(
                "/v2",
                json={"query": query, "variables": variables},
                headers={"Authorization": sb.SANDBOX_TOKEN},
            )
        ).json()
    codes = [e["extensions"]["code"] for e in answer.get("errors", [])]
    assert codes == ([code] if code else []), answer


async def test_the_sandbox_pages_with_a_cursor_argument_and_resets_its_budget(sandbox: Any) -> None:
    page = (
        "query ($c: String) { boards(ids: [1234567890]) { items_page(limit: 1, "
        "cursor: $c) { cursor items { id } } } }"
    )
    search = (
        "query ($c: String) { items_page_by_column_values(board_id: 1234567890, "
        "limit: 1, cursor: $c) { cursor items { id } } }"
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=sandbox),
        base_url="http://sandbox.invalid",
        headers={"Authorization": sb.SANDBOX_TOKEN},
    ) as client:

        async def ask(query: str, cursor: str | None = None) -> Any:
            return (
                await client.post("/v2", json={"query": query, "variables": {"c": cursor}})
            ).json()["data"]

        first = (await ask(page))["boards"][0]["items_page"]
        second = (await ask(page, first["cursor"]))["boards"][0]["items_page"]
        assert [first["items"], second["items"], second["cursor"]] == [
            [{"id": "9000000001"}],
            [{"id": "9000000002"}],
            None,
        ]
        found = (await ask(search))["items_page_by_column_values"]
        more = (await ask(search, found["cursor"]))["items_page_by_column_values"]
        assert len(found["items"]) == len(more["items"]) == 1
        account(sandbox).budget, account(sandbox).window_start = 0, 0.0  # a minute later
        assert (await ask(page))["boards"]
        assert (await client.post("/v2", content=b"not json")).status_code == 400


@pytest.mark.parametrize("key", [op.key for op in app.actions])
async def test_each_example_runs_against_a_fresh_sandbox(key: str) -> None:
    """What the registry's conformance suite does once the app is registered."""
    ctx = sandbox_context(app, app.sandbox_credentials)
    op = app.action(key)
    assert op.example is not None
    await run(ctx, key, **op.example)


def test_every_trigger_has_an_example_input() -> None:
    for trigger in app.triggers:
        assert trigger.example is not None
        trigger.input.model_validate(dict(trigger.example))


async def test_the_polling_example_finds_the_approved_item() -> None:
    trigger = app.trigger("new_item_polling")
    ctx = sandbox_context(app, app.sandbox_credentials)
    items = await trigger.fetch(
        ctx, trigger.input.model_validate(dict(trigger.example or {})), None
    )  # type: ignore[attr-defined]
    assert [item["name"] for item in items] == ["Spring launch post"]
