"""Slack: every action and trigger against the sandbox workspace, failures included."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest
from pydantic import BaseModel, ValidationError

from cells.run import validation_error
from connectors.sdk import (
    AuthError,
    AuthExpiredError,
    IncomingRequest,
    InvalidInputError,
    RateLimitedError,
    UpstreamError,
    WebhookVerificationError,
)
from connectors.sdk.sandboxing import sandbox_context
from connectors.slack import actions, app, triggers
from connectors.slack import sandbox as sb

CREDENTIALS = {"access_token": sb.SANDBOX_TOKEN, "signing_secret": sb.SANDBOX_SIGNING_SECRET}


@pytest.fixture
def sandbox() -> Any:
    return sb.create_app()


@pytest.fixture
def ctx(sandbox: Any) -> Any:
    return sandbox_context(app, CREDENTIALS, asgi_app=sandbox)


def workspace(sandbox: Any) -> sb.Workspace:
    return sandbox.state.workspace


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


# -- connection ---------------------------------------------------------------------------


async def test_connection_test_names_the_workspace(ctx: Any) -> None:
    assert app.auth.test is not None
    result = await app.auth.test(ctx)
    assert result["label"] == "Sandbox Workspace (cellwright)"
    assert result["team_id"] == sb.TEAM_ID


async def test_a_wrong_token_is_an_auth_error(sandbox: Any) -> None:
    ctx = sandbox_context(app, {"access_token": "xoxb-wrong"}, asgi_app=sandbox)
    with pytest.raises(AuthError, match="invalid_auth") as caught:
        await app.auth.test(ctx)  # type: ignore[misc]
    assert "reconnect" in caught.value.message
    assert "xoxb-wrong" not in caught.value.message


@pytest.mark.parametrize(
    ("code", "error_type"),
    [("not_authed", AuthError), ("token_revoked", AuthError), ("token_expired", AuthExpiredError)],
)
async def test_auth_failures_inside_http_200(
    ctx: Any, sandbox: Any, code: str, error_type: type
) -> None:
    await fail(sandbox, method="chat.postMessage", error=code)
    with pytest.raises(error_type, match=code):
        await run(ctx, "send_message", channel="C0SANDBOX01", text="hi")


async def test_http_429_with_retry_after_is_rate_limited(ctx: Any, sandbox: Any) -> None:
    await fail(sandbox, method="chat.postMessage", error="ratelimited", status=429, retry_after=7)
    with pytest.raises(RateLimitedError) as caught:
        await run(ctx, "send_message", channel="C0SANDBOX01", text="hi")
    assert caught.value.retry_after == 7
    assert caught.value.retryable


async def test_ratelimited_inside_http_200_is_rate_limited_too(ctx: Any, sandbox: Any) -> None:
    await fail(sandbox, method="conversations.list", error="ratelimited")
    with pytest.raises(RateLimitedError) as caught:
        await run(ctx, "list_channels")
    assert caught.value.retry_after is None


async def test_other_slack_errors_carry_the_code(ctx: Any, sandbox: Any) -> None:
    await fail(sandbox, method="chat.postMessage", error="fatal_error")
    with pytest.raises(UpstreamError, match="chat.postMessage failed: fatal_error") as caught:
        await run(ctx, "send_message", channel="C0SANDBOX01", text="hi")
    assert caught.value.retryable  # Slack's own hiccup: worth a retry


async def test_missing_scopes_and_argument_errors_name_what_is_wrong(
    ctx: Any, sandbox: Any
) -> None:
    from connectors.slack.api import call

    await fail(sandbox, method="reactions.add", error="missing_scope", needed="reactions:write")
    with pytest.raises(UpstreamError, match="lacks the scope 'reactions:write'"):
        await run(ctx, "add_reaction", channel="C0SANDBOX01", timestamp="1.2", name="eyes")
    with pytest.raises(UpstreamError, match="invalid_arguments — .*missing required field: length"):
        await call(ctx, "files.getUploadURLExternal", {"filename": "a.txt"})
    with pytest.raises(UpstreamError, match="length must be a positive integer"):
        await call(ctx, "files.getUploadURLExternal", {"filename": "a.txt", "length": 0})
    with pytest.raises(UpstreamError, match="files must be a list"):
        await call(ctx, "files.completeUploadExternal", {"files": {"id": "F1"}})
    with pytest.raises(UpstreamError, match="file_not_found"):
        await call(ctx, "files.completeUploadExternal", {"files": [{"id": "F0NOPE"}]})


async def test_a_method_the_sandbox_does_not_know(ctx: Any) -> None:
    from connectors.slack.api import call

    with pytest.raises(UpstreamError, match="unknown_method"):
        await call(ctx, "files.upload", {"content": "x"})
    with pytest.raises(UpstreamError, match="invalid_post_type"):
        await call(ctx, "users.info", {"user": "U0SANDBOX01"})  # the description declares GET only


async def test_an_answer_that_is_not_an_object_is_an_upstream_error() -> None:
    from connectors.sdk.context import OperationContext
    from connectors.sdk.http import build_http
    from connectors.slack.api import call

    odd = httpx.MockTransport(lambda request: httpx.Response(200, json=["not", "an", "object"]))
    ctx = OperationContext(
        http=build_http(
            app_key="slack",
            base_url="http://x.invalid",
            transport=odd,
            error_parser=app.error_parser,
        )
    )
    with pytest.raises(UpstreamError, match="expected a JSON object, got list"):
        await call(ctx, "auth.test", http_method="GET")


# -- messages -----------------------------------------------------------------------------


async def test_send_message_posts_as_the_bot(ctx: Any, sandbox: Any) -> None:
    out = await run(
        ctx, "send_message", channel="C0SANDBOX01", text="Hello *team*", unfurl_links=False
    )
    assert out["channel"] == "C0SANDBOX01" and out["text"] == "Hello *team*"
    stored = workspace(sandbox).messages[("C0SANDBOX01", out["ts"])]
    assert stored["bot_id"] == sb.BOT_ID


async def test_send_message_by_channel_name_with_blocks_in_a_thread(ctx: Any, sandbox: Any) -> None:
    parent = await run(ctx, "send_message", channel="#random", text="parent")
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*reply*"}}]
    out = await run(
        ctx,
        "send_message",
        channel="random",
        blocks=blocks,
        thread_ts=parent["ts"],
        reply_broadcast=True,
    )
    assert out["thread_ts"] == parent["ts"]
    assert workspace(sandbox).messages[("C0SANDBOX02", out["ts"])]["blocks"] == blocks


@pytest.mark.parametrize(
    ("channel", "message"),
    [
        ("C0NOTHERE01", "channel_not_found — check the channel ID"),
        ("C0SANDBOX03", "not_in_channel — invite the app"),
        ("C0SANDBOX05", "is_archived"),
    ],
)
async def test_send_message_errors_explain_themselves(ctx: Any, channel: str, message: str) -> None:
    with pytest.raises(UpstreamError, match=message) as caught:
        await run(ctx, "send_message", channel=channel, text="hi")
    assert not caught.value.retryable


def test_send_message_needs_a_channel_and_some_content() -> None:
    op = app.action("send_message")
    with pytest.raises(ValidationError) as caught:
        op.input.model_validate({"text": "hi"})
    assert "channel: Field required" in validation_error("post", caught.value).message
    with pytest.raises(ValidationError, match="give a text or blocks"):
        op.input.model_validate({"channel": "C0SANDBOX01"})


async def test_update_then_delete_a_message(ctx: Any, sandbox: Any) -> None:
    posted = await run(ctx, "send_message", channel="C0SANDBOX01", text="draft")
    updated = await run(ctx, "update_message", channel="C0SANDBOX01", ts=posted["ts"], text="final")
    assert updated["text"] == "final" and updated["ts"] == posted["ts"]
    deleted = await run(ctx, "delete_message", channel="C0SANDBOX01", ts=posted["ts"])
    assert deleted == {"channel": "C0SANDBOX01", "ts": posted["ts"]}
    assert ("C0SANDBOX01", posted["ts"]) not in workspace(sandbox).messages
    with pytest.raises(UpstreamError, match="message_not_found"):
        await run(ctx, "delete_message", channel="C0SANDBOX01", ts=posted["ts"])


async def test_only_the_apps_own_messages_can_be_changed(ctx: Any, sandbox: Any) -> None:
    (channel, ts), _ = next(iter(workspace(sandbox).messages.items()))  # the seeded human message
    with pytest.raises(UpstreamError, match="cant_update_message — the app can only edit"):
        await run(ctx, "update_message", channel=channel, ts=ts, text="x")
    with pytest.raises(UpstreamError, match="cant_delete_message"):
        await run(ctx, "delete_message", channel=channel, ts=ts)
    with pytest.raises(ValidationError, match="give a text or blocks"):
        app.action("update_message").input.model_validate({"channel": channel, "ts": ts})


async def test_add_reaction_strips_colons_and_refuses_twice(ctx: Any, sandbox: Any) -> None:
    posted = await run(ctx, "send_message", channel="C0SANDBOX01", text="ship it?")
    out = await run(
        ctx, "add_reaction", channel="C0SANDBOX01", timestamp=posted["ts"], name=":rocket:"
    )
    assert out["name"] == "rocket"
    assert workspace(sandbox).messages[("C0SANDBOX01", posted["ts"])]["reactions"][0]["count"] == 1
    with pytest.raises(UpstreamError, match="already_reacted"):
        await run(ctx, "add_reaction", channel="C0SANDBOX01", timestamp=posted["ts"], name="rocket")
    with pytest.raises(UpstreamError, match="message_not_found"):
        await run(
            ctx, "add_reaction", channel="C0SANDBOX01", timestamp="1111111111.000001", name="rocket"
        )


# -- channels and users --------------------------------------------------------------------


async def test_list_channels_follows_every_cursor(
    ctx: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(actions, "PAGE_SIZE", 1)
    out = await run(
        ctx, "list_channels", types=["public_channel", "private_channel"], exclude_archived=False
    )
    assert [c["id"] for c in out["channels"]] == [
        "C0SANDBOX01",
        "C0SANDBOX02",
        "C0SANDBOX03",
        "G0SANDBOX04",
        "C0SANDBOX05",
    ]
    assert out["count"] == 5
    limited = await run(ctx, "list_channels", limit=2)
    assert [c["name"] for c in limited["channels"]] == ["general", "random"]
    default = await run(ctx, "list_channels")
    assert "old-project" not in [c["name"] for c in default["channels"]]
    assert default["channels"][0]["topic"] == "Company-wide announcements"


async def test_an_expired_cursor_is_reported(ctx: Any, sandbox: Any) -> None:
    from connectors.slack.api import call

    with pytest.raises(UpstreamError, match="invalid_cursor — the pagination cursor"):
        await call(ctx, "conversations.list", {"cursor": "bm90LWEtY3Vyc29y"}, http_method="GET")


async def test_find_channel(ctx: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(actions, "PAGE_SIZE", 2)
    found = await run(ctx, "find_channel", name="#Leadership")
    assert (
        found["found"]
        and found["channel"]["id"] == "G0SANDBOX04"
        and found["channel"]["is_private"]
    )
    assert (await run(ctx, "find_channel", name="old-project"))["found"] is False
    assert (await run(ctx, "find_channel", name="old-project", include_archived=True))[
        "found"
    ] is True
    assert await run(ctx, "find_channel", name="nope") == {"found": False, "channel": None}


async def test_find_user_by_email_or_id(ctx: Any) -> None:
    by_email = await run(ctx, "find_user", email="Ada@Example.com")
    assert (
        by_email["user"]["id"] == "U0SANDBOX01" and by_email["user"]["real_name"] == "Ada Lovelace"
    )
    by_id = await run(ctx, "find_user", user_id="U0SANDBOX02")
    assert by_id["user"]["email"] == "grace@example.com"
    assert await run(ctx, "find_user", email="nobody@example.com") == {"found": False, "user": None}
    assert (await run(ctx, "find_user", user_id="U0MISSING01"))["found"] is False
    with pytest.raises(ValidationError, match="either email or user_id"):
        app.action("find_user").input.model_validate({})


async def test_find_user_lets_real_failures_through(ctx: Any, sandbox: Any) -> None:
    await fail(sandbox, method="users.lookupByEmail", error="missing_scope")
    with pytest.raises(UpstreamError, match="missing_scope"):
        await run(ctx, "find_user", email="ada@example.com")


# -- files ---------------------------------------------------------------------------------


async def test_upload_a_text_file_into_a_thread(ctx: Any, sandbox: Any) -> None:
    parent = await run(ctx, "send_message", channel="C0SANDBOX01", text="reports below")
    out = await run(
        ctx,
        "upload_file",
        filename="report.csv",
        content="a,b\n1,2\n",
        channel_id="C0SANDBOX01",
        initial_comment="Weekly numbers",
        thread_ts=parent["ts"],
    )
    assert out["title"] == "report.csv" and out["size"] == 8
    upload = workspace(sandbox).uploads[out["file_id"]]
    assert upload["content"] == b"a,b\n1,2\n" and upload["length"] == 8
    assert upload["authorization"] is None  # the bot token stays with the Web API, as in slack_sdk
    shared = [m for m in workspace(sandbox).messages.values() if m.get("files")]
    assert shared[0]["text"] == "Weekly numbers" and shared[0]["thread_ts"] == parent["ts"]


async def test_upload_a_binary_file_privately(ctx: Any, sandbox: Any) -> None:
    data = bytes(range(256))
    out = await run(
        ctx,
        "upload_file",
        filename="blob.bin",
        content_base64=base64.b64encode(data).decode(),
        title="Blob",
    )
    assert out["title"] == "Blob" and out["channel_id"] is None
    assert workspace(sandbox).uploads[out["file_id"]]["content"] == data


async def test_upload_input_errors(ctx: Any) -> None:
    op = app.action("upload_file")
    with pytest.raises(ValidationError, match="either content or content_base64"):
        op.input.model_validate({"filename": "a.txt"})
    with pytest.raises(ValidationError, match="thread_ts needs channel_id"):
        op.input.model_validate({"filename": "a.txt", "content": "x", "thread_ts": "1.2"})
    with pytest.raises(InvalidInputError, match="not valid base64"):
        await run(ctx, "upload_file", filename="a.bin", content_base64="%%%")
    with pytest.raises(InvalidInputError, match="empty"):
        await run(ctx, "upload_file", filename="a.txt", content="")


async def test_upload_failures(ctx: Any, sandbox: Any) -> None:
    await fail(sandbox, method="upload", error="upstream broke", status=500)
    with pytest.raises(UpstreamError, match="HTTP 500") as caught:
        await run(ctx, "upload_file", filename="a.txt", content="x")
    assert caught.value.retryable
    with pytest.raises(UpstreamError, match="not_in_channel"):
        await run(ctx, "upload_file", filename="a.txt", content="x", channel_id="C0SANDBOX03")


# -- triggers: verification ------------------------------------------------------------------


def documented_example() -> IncomingRequest:
    """The example from https://api.slack.com/authentication/verifying-requests-from-slack."""
    body = (
        b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
        b"&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
        b"&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
        b"&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
    )
    headers = {
        "x-slack-request-timestamp": "1531420618",
        "x-slack-signature": "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
    }
    return IncomingRequest(method="POST", headers=headers, query={}, body=body)


DOC_SECRET = {"signing_secret": "8f742231b10e8888abcd99yyyzzz85a5"}


def test_the_documented_example_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(triggers, "clock", lambda: 1531420618 + 299)
    triggers.verify(documented_example(), None, {}, DOC_SECRET)


def test_a_tampered_body_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(triggers, "clock", lambda: 1531420618)
    request = documented_example()
    tampered = IncomingRequest(
        method="POST",
        headers=request.headers,
        query={},
        body=request.body.replace(b"foobar", b"foobaz"),
    )
    with pytest.raises(WebhookVerificationError, match="does not match"):
        triggers.verify(tampered, None, {}, DOC_SECRET)


def test_a_wrong_secret_is_refused() -> None:
    request = sb.signed_request(sb.url_verification("abc"), secret="another-signing-secret")
    with pytest.raises(WebhookVerificationError, match="does not match"):
        triggers.verify(request, None, {}, CREDENTIALS)


def test_a_stale_timestamp_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(triggers, "clock", lambda: 1531420618 + 301)
    with pytest.raises(WebhookVerificationError, match="more than 5 minutes"):
        triggers.verify(documented_example(), None, {}, DOC_SECRET)
    monkeypatch.setattr(triggers, "clock", lambda: 1531420618 - 301)  # from the future, too
    with pytest.raises(WebhookVerificationError, match="more than 5 minutes"):
        triggers.verify(documented_example(), None, {}, DOC_SECRET)


@pytest.mark.parametrize(
    ("headers", "credentials", "message"),
    [
        ({}, CREDENTIALS, "Missing X-Slack-Signature"),
        (
            {"x-slack-request-timestamp": "soon", "x-slack-signature": "v0=00"},
            CREDENTIALS,
            "not a Unix timestamp",
        ),
        ({"x-slack-request-timestamp": "1", "x-slack-signature": "v0=00"}, {}, "no signing secret"),
    ],
)
def test_incomplete_requests_are_refused(
    headers: dict[str, str], credentials: dict[str, Any], message: str
) -> None:
    request = IncomingRequest(method="POST", headers=headers, query={}, body=b"{}")
    with pytest.raises(WebhookVerificationError, match=message):
        triggers.verify(request, None, {}, credentials)


# -- triggers: parsing -----------------------------------------------------------------------


async def deliver(key: str, payload: dict[str, Any], **inputs: Any) -> Any:
    """Verify and parse a signed delivery like the webhook endpoint does."""
    trigger = app.trigger(key)
    request = sb.signed_request(payload)
    assert trigger.verify is not None
    trigger.verify(request, trigger.input.model_validate(inputs), {}, CREDENTIALS)
    reply = await trigger.parse(request, trigger.input.model_validate(inputs), {})
    for event in reply.events:
        trigger.output.model_validate(event)
    return reply


@pytest.mark.parametrize("key", ["new_message", "reaction_added", "channel_created", "team_join"])
async def test_the_url_verification_challenge_is_echoed_and_runs_nothing(key: str) -> None:
    reply = await deliver(
        key, sb.url_verification("3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P")
    )
    assert reply.events == []
    assert reply.response == (
        200,
        {"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"},
        {},
    )


def test_one_request_url_per_connection() -> None:
    """A Slack app has one Request URL for all its events: the connection's, verified with
    its signing secret; the URL check is answered without any trigger."""
    hook = app.connection_webhook
    assert (
        hook is not None
        and hook.verify is triggers.verify_signature
        and hook.label == "Events Request URL"
    )
    assert "Event Subscriptions" in hook.instructions
    assert all(
        trigger.subscribe is None and trigger.dedupe_key == "event_id" for trigger in app.triggers
    )
    hook.verify(sb.signed_request(message()), CREDENTIALS)
    with pytest.raises(WebhookVerificationError, match="does not match"):
        hook.verify(sb.signed_request(message(), secret="another-signing-secret"), CREDENTIALS)
    assert hook.challenge is not None
    assert hook.challenge(sb.signed_request(sb.url_verification("abc"))) == (
        200,
        {"challenge": "abc"},
        {},
    )
    assert hook.challenge(sb.signed_request(message())) is None
    assert (
        hook.challenge(IncomingRequest(method="POST", headers={}, query={}, body=b"{not json"))
        is None
    )


async def test_the_sandbox_delivers_like_slack_retries_included() -> None:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    seen: list[IncomingRequest] = []

    async def receive(request: Request) -> JSONResponse:
        seen.append(
            IncomingRequest(
                method=request.method,
                headers={k.lower(): v for k, v in request.headers.items()},
                query={},
                body=await request.body(),
            )
        )
        return JSONResponse({"ok": True})

    receiver = Starlette(routes=[Route("/hooks/apps/slack/t", receive, methods=["POST"])])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=receiver), base_url="http://cellwright.test"
    ) as client:
        payload = message()
        assert (await sb.deliver("/hooks/apps/slack/t", payload, client=client)).status_code == 200
        await sb.deliver("/hooks/apps/slack/t", payload, client=client, retry=1)
    first, again = seen
    assert first.body == again.body and first.json()["event_id"] == "Ev0MSG0001"
    assert first.header("x-slack-retry-num") is None
    assert (again.header("x-slack-retry-num"), again.header("x-slack-retry-reason")) == (
        "1",
        "http_timeout",
    )
    for request in seen:
        triggers.verify_signature(request, CREDENTIALS)


def message(**fields: Any) -> dict[str, Any]:
    base = {
        "type": "message",
        "channel": "C0SANDBOX01",
        "user": "U0SANDBOX01",
        "text": "hello",
        "ts": "1764061200.000200",
        "channel_type": "channel",
    }
    return sb.event_callback({**base, **fields}, event_id="Ev0MSG0001", event_time=1764061200)


async def test_new_message_event() -> None:
    reply = await deliver("new_message", message())
    assert reply.response is None
    [event] = reply.events
    assert event["text"] == "hello" and event["channel"] == "C0SANDBOX01"
    assert (event["team_id"], event["event_id"], event["event_time"]) == (
        sb.TEAM_ID,
        "Ev0MSG0001",
        1764061200,
    )


@pytest.mark.parametrize(
    ("fields", "inputs", "fires"),
    [
        ({}, {"channel": "C0SANDBOX01"}, True),
        ({}, {"channel": "C0SANDBOX02"}, False),
        ({"bot_id": "B0OTHERBOT1", "subtype": "bot_message"}, {}, False),
        ({"bot_id": "B0OTHERBOT1", "subtype": "bot_message"}, {"include_bot_messages": True}, True),
        ({"subtype": "channel_join"}, {}, False),
        ({"subtype": "message_changed"}, {"include_subtypes": True}, True),
        ({"thread_ts": "1764061100.000100"}, {}, True),
        ({"thread_ts": "1764061100.000100"}, {"include_thread_replies": False}, False),
        ({"channel_type": "group"}, {}, True),
        ({"channel_type": "im"}, {}, False),
    ],
)
async def test_new_message_filters(
    fields: dict[str, Any], inputs: dict[str, Any], fires: bool
) -> None:
    reply = await deliver("new_message", message(**fields), **inputs)
    assert bool(reply.events) is fires


async def test_other_events_and_odd_bodies_are_acknowledged_without_running() -> None:
    reaction = sb.event_callback(
        {
            "type": "reaction_added",
            "user": "U0SANDBOX02",
            "reaction": "eyes",
            "item": {"type": "message", "channel": "C0SANDBOX01", "ts": "1.2"},
        }
    )
    assert (await deliver("new_message", reaction)).events == []
    trigger = app.trigger("team_join")
    odd = IncomingRequest(method="POST", headers={}, query={}, body=b"[1, 2]")
    assert (await trigger.parse(odd, trigger.input(), {})).events == []


async def test_reaction_added_event_and_filters() -> None:
    payload = sb.event_callback(
        {
            "type": "reaction_added",
            "user": "U0SANDBOX02",
            "reaction": "white_check_mark",
            "item_user": "U0SANDBOX01",
            "item": {"type": "message", "channel": "C0SANDBOX01", "ts": "1764061200.000200"},
        }
    )
    [event] = (await deliver("reaction_added", payload)).events
    assert (event["channel"], event["message_ts"], event["reaction"]) == (
        "C0SANDBOX01",
        "1764061200.000200",
        "white_check_mark",
    )
    assert (await deliver("reaction_added", payload, reaction=":white_check_mark:")).events
    assert not (await deliver("reaction_added", payload, reaction="eyes")).events
    assert not (await deliver("reaction_added", payload, channel="C0SANDBOX02")).events


async def test_channel_created_event() -> None:
    payload = sb.event_callback(
        {
            "type": "channel_created",
            "channel": {
                "id": "C0SANDBOX06",
                "name": "launch-2026",
                "created": 1764061300,
                "creator": "U0SANDBOX01",
            },
        }
    )
    [event] = (await deliver("channel_created", payload)).events
    assert (event["channel_id"], event["channel_name"], event["creator"]) == (
        "C0SANDBOX06",
        "launch-2026",
        "U0SANDBOX01",
    )


async def test_team_join_event() -> None:
    user = {
        "id": "U0SANDBOX07",
        "name": "katherine",
        "is_bot": False,
        "profile": {"real_name": "Katherine Johnson", "email": "katherine@example.com"},
    }
    [event] = (
        await deliver("team_join", sb.event_callback({"type": "team_join", "user": user}))
    ).events
    assert (event["user_id"], event["real_name"], event["email"]) == (
        "U0SANDBOX07",
        "Katherine Johnson",
        "katherine@example.com",
    )


# -- the app as a whole ---------------------------------------------------------------------


def test_every_operation_is_described_with_a_valid_sample() -> None:
    for op in (*app.triggers, *app.actions):
        op.output.model_validate(op.sample)
        for schema in (op.input_schema(), op.output_schema()):
            json.dumps(schema)
            for name, prop in schema.get("properties", {}).items():
                assert prop.get("description"), f"{op.key}: field {name} has no description"
    secret = app.auth.describe()["fields_schema"]["properties"]["signing_secret"]
    assert secret["anyOf"][0]["format"] == "password"  # a SecretStr: masked in forms and dumps


def test_app_declares_the_hosts_it_calls() -> None:
    assert app.base_url == "https://slack.com/api"
    assert {"slack.com", "files.slack.com"} <= set(app.allowed_hosts)
    assert app.auth.type == "oauth2"


async def test_the_sandbox_refuses_like_slack(sandbox: Any) -> None:
    """Raw calls (no connector) for the sandbox's own
    fidelity: tokens, JSON bodies, argument checks."""
    transport = httpx.ASGITransport(app=sandbox)
    auth = {"Authorization": f"Bearer {sb.SANDBOX_TOKEN}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox.invalid") as client:

        async def error(path: str, **kwargs: Any) -> str | None:
            return (await client.post(path, **kwargs)).json().get("error")

        assert (
            await error("/chat.postMessage", data={"channel": "C0SANDBOX01", "text": "x"})
            == "not_authed"
        )
        assert (
            await error(
                "/chat.postMessage", data={"token": sb.SANDBOX_TOKEN, "channel": "C0SANDBOX01"}
            )
            == "no_text"
        )
        assert (
            await error(
                "/chat.postMessage",
                headers=auth,
                json={"channel": "C0SANDBOX01", "text": "x" * 40001},
            )
            == "msg_too_long"
        )
        posted = (
            await client.post(
                "/chat.postMessage", headers=auth, json={"channel": "C0SANDBOX01", "text": "x"}
            )
        ).json()
        react = {"channel": "C0SANDBOX01", "timestamp": posted["ts"]}
        assert (
            await error("/reactions.add", headers=auth, data={**react, "name": ""})
            == "invalid_name"
        )
        assert (
            await error("/reactions.add", headers=auth, data={**react, "name": "thumbs up"})
            == "invalid_name"
        )
        assert (
            await error(
                "/reactions.add", headers=auth, data={"channel": "C0SANDBOX01", "name": "eyes"}
            )
            == "no_item_specified"
        )
        message = workspace(sandbox).messages[("C0SANDBOX01", posted["ts"])]
        message["reactions"] = [{"name": "eyes", "users": ["U0SANDBOX01"], "count": 1}]
        assert (
            await client.post("/reactions.add", headers=auth, data={**react, "name": "eyes"})
        ).json() == {"ok": True}
        assert message["reactions"] == [
            {"name": "eyes", "users": ["U0SANDBOX01", sb.BOT_USER_ID], "count": 2}
        ]
        assert (
            await error("/files.completeUploadExternal", headers=auth, data={"files": "[{"})
            == "invalid_arguments"
        )
        assert (await client.post("/upload/v1/F0UNKNOWN")).status_code == 404


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


async def test_signed_bodies_that_are_not_standard_json_get_a_400_at_both_urls(
    svc: Any, user: Any, anon: httpx.AsyncClient
) -> None:
    """Deeply nested JSON, NaN or half a surrogate pair, correctly signed: a 400 that says
    why, at the connection's Events URL and at a scenario's own URL; nothing stored."""
    from cells import document as documents

    connection = await svc.create_connection(user.id, "slack", credentials={}, sandbox=True)
    events_url = svc.connection_events_url(user.id, connection.id).removeprefix(
        svc.settings.resolved_public_url()
    )
    text = (
        "name: Slack\ncells:\n"
        "  - {id: t, kind: trigger, app: slack, "
        f"operation: new_message, connection: {connection.id}}}\n"
    )
    scenario = await svc.enable(user.id, svc.import_scenario(user.id, documents.loads(text)).id)
    deep = b'{"type": "event_callback", "event": ' + b"[" * 1000 + b"]" * 1000 + b"}"
    bodies = [
        (deep, "nested more than 100 levels deep"),
        (b'{"type": "event_callback", "event_time": NaN}', "NaN is not a JSON number"),
        (
            b'{"type": "event_callback", "event": {"type": "message", "text": "\\ud800"}}',
            "half of a UTF-16 surrogate pair",
        ),
    ]
    for url in (events_url, f"/hooks/{scenario.webhook_token}"):
        for body, message in bodies:
            refused = await anon.post(url, content=body, headers=sb.sign(body))
            assert refused.status_code == 400, (url, refused.text)
            assert refused.json() == {
                "error": "invalid_input",
                "message": refused.json()["message"],
            }
            assert message in refused.json()["message"]
    assert svc.store.count_executions(user.id) == 0
    check = await sb.deliver(events_url, sb.url_verification("still-fine"), client=anon)
    assert check.json() == {"challenge": "still-fine"}
