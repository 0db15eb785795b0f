"""What real Slack does that a happy-path simulator would not, and how the connector copes
(issue #9): per-method rate limits with ``Retry-After``, a token without a scope, pages
that are empty and still carry a cursor, and Events API deliveries to the Request URL."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
import pytest

from cells import document as documents
from connectors.sdk import RateLimitedError, UpstreamError
from connectors.sdk.http import build_http
from connectors.sdk.sandboxing import (
    SANDBOX_BASE,
    RecordingTransport,
    sandbox_context,
    shared_sandbox,
)
from connectors.slack import app
from connectors.slack import sandbox as sb
from connectors.slack.actions import conversations


@pytest.fixture
def sandbox() -> Any:
    return sb.create_app()


async def settings(asgi: Any, **given: Any) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=asgi), base_url=SANDBOX_BASE
    ) as http:
        (await http.post("/__sandbox__/settings", json=given)).raise_for_status()


async def run(ctx: Any, key: str, **inputs: Any) -> Any:
    op = app.action(key)
    return await op.perform(ctx, op.input.model_validate(inputs))


async def test_a_method_over_its_tier_is_refused_with_retry_after(sandbox: Any) -> None:
    ctx = sandbox_context(app, sb.SANDBOX_CREDENTIALS, asgi_app=sandbox)
    for _ in range(20):  # conversations.list is Tier 2: 20 calls a minute
        await run(ctx, "list_channels")
    with pytest.raises(RateLimitedError, match="rate limited conversations.list") as caught:
        await run(ctx, "list_channels")
    assert (
        caught.value.retryable
        and caught.value.retry_after is not None
        and 1 <= caught.value.retry_after <= 60
    )
    await run(
        ctx, "send_message", channel="C0SANDBOX01", text="other methods have their own budget"
    )


async def test_a_rate_limited_cell_waits_as_long_as_retry_after_says_then_succeeds(
    svc: Any, user: Any, helpers: Any
) -> None:
    svc.settings.retry_base_seconds = svc.settings.retry_max_seconds = (
        0.1  # the vendor's Retry-After is the floor
    )
    workspace = shared_sandbox("slack", app.sandbox)
    connection = await svc.create_connection(user.id, "slack", credentials={}, sandbox=True)
    text = (
        "name: Post\ncells:\n"
        "  - {id: start, kind: trigger, app: manual, operation: run_manually}\n"
        "  - {id: post, kind: action, app: slack, "
        f"operation: send_message, connection: {connection.id}, "
        "inputs: {channel: C0SANDBOX02, text: hello}}\n"
    )
    scenario = svc.import_scenario(user.id, documents.loads(text))
    await settings(workspace, rate_limits={"chat.postMessage": [1, 2]})
    try:
        first, _ = await svc.trigger(scenario, {})
        assert (await helpers.finished(svc, first.id))["status"] == "completed"
        second, _ = await svc.trigger(scenario, {})
        done = await helpers.finished(svc, second.id, timeout=15)
    finally:
        await settings(workspace, rate_limits={"chat.postMessage": [60, 60]})
    assert done["status"] == "completed"
    failed, retried = [c for c in done["cells"] if c["cell_id"] == "post"]
    assert failed["error"]["code"] == "rate_limited" and failed["error"]["details"][
        "retry_after"
    ] in (1.0, 2.0)
    waited = (
        datetime.fromisoformat(retried["start_time"]) - datetime.fromisoformat(failed["end_time"])
    ).total_seconds()
    assert waited >= failed["error"]["details"]["retry_after"] - 0.05


async def test_a_token_without_the_scope_gets_missing_scope_naming_it(sandbox: Any) -> None:
    await settings(sandbox, scopes=["channels:read", "users:read"])
    ctx = sandbox_context(app, sb.SANDBOX_CREDENTIALS, asgi_app=sandbox)
    with pytest.raises(
        UpstreamError,
        match=r"lacks the scope 'chat:write' \(the token has: channels:read,users:read\)",
    ) as caught:
        await run(ctx, "send_message", channel="C0SANDBOX01", text="hi")
    assert not caught.value.retryable and caught.value.body["needed"] == "chat:write"
    await run(ctx, "find_user", user_id="U0SANDBOX01")  # what the token may do still works


async def test_empty_pages_with_a_cursor_are_followed_to_the_end(sandbox: Any) -> None:
    await settings(sandbox, page_cap=1)
    recording = RecordingTransport(httpx.ASGITransport(app=sandbox))
    http = build_http(
        app_key="slack",
        base_url=SANDBOX_BASE,
        auth=app.auth.httpx_auth(sb.SANDBOX_CREDENTIALS),
        error_parser=app.error_parser,
        transport=recording,
    )
    ctx = sandbox_context(app, sb.SANDBOX_CREDENTIALS, asgi_app=sandbox)
    ctx.http = http
    names = [c["name"] async for c in conversations(ctx, ["public_channel"], True)]
    assert names == ["general", "random", "design"]  # not the private one, not the archived one
    pages = [response.json() for _, response in recording.calls]
    assert any(
        not p["channels"] and p["response_metadata"]["next_cursor"] for p in pages
    )  # empty, and more to come
    assert pages[-1]["response_metadata"]["next_cursor"] == ""


async def test_messages_and_reactions_reach_the_request_url_and_start_runs(
    svc: Any, user: Any, asgi_app: Any, helpers: Any
) -> None:
    workspace = shared_sandbox("slack", app.sandbox)
    connection = await svc.create_connection(user.id, "slack", credentials={}, sandbox=True)
    url = svc.connection_events_url(user.id, connection.id)
    text = (
        "name: Replies\ncells:\n"
        "  - {id: t, kind: trigger, app: slack, operation: new_message, "
        f"connection: {connection.id}, inputs: {{channel: C0SANDBOX02, "
        "include_bot_messages: true}}\n"
    )
    scenario = await svc.enable(user.id, svc.import_scenario(user.id, documents.loads(text)).id)
    await settings(
        workspace, request_url=url
    )  # Slack app settings → Event Subscriptions → Request URL
    try:
        ctx = await svc.contexts.for_connection(connection, app)
        posted = await run(ctx, "send_message", channel="C0SANDBOX02", text="deploy done")
        await workspace.state.workspace.outbox.drain()
    finally:
        await settings(workspace, request_url=None)
    [(delivery, status)] = [
        (d, s) for d, s in workspace.state.workspace.outbox.sent if d.url == url
    ]
    assert status == 200 and delivery.headers["x-slack-signature"].startswith("v0=")
    execution = await helpers.wait_for(
        lambda: next(iter(svc.store.list_executions(user.id, scenario_id=scenario.id)), None)
    )
    done = await helpers.finished(svc, execution.id)
    assert done["status"] == "completed" and done["trigger"]["ts"] == posted.ts
