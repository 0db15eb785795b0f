"""Mailchimp: connecting, member actions and campaigns against the sandbox, failures included."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from starlette.applications import Starlette

from connectors.mailchimp import app, sandbox
from connectors.mailchimp.api import (
    MAX_CONNECTIONS,
    base_url,
    data_centre,
    list_all,
    subscriber_hash,
)
from connectors.mailchimp.auth import SANDBOX_KEY, MailchimpKeyFields
from connectors.sdk import (
    AuthError,
    ConfigurationError,
    ForbiddenDestinationError,
    InvalidInputError,
    OperationContext,
    RateLimitedError,
    UpstreamError,
    build_http,
)
from connectors.sdk.sandboxing import sandbox_context
from engine.oauth_connect import check_credentials

KEY = {"api_key": SANDBOX_KEY}
AUDIENCE = "a1b2c3d4e5"


@pytest.fixture
def mc() -> Starlette:
    return sandbox.create_app()


def account(asgi: Starlette) -> sandbox.Account:
    return asgi.state.mailchimp  # type: ignore[no-any-return]


def context(asgi: Starlette, credentials: dict[str, Any] = KEY) -> OperationContext:
    return sandbox_context(app, credentials, asgi_app=asgi, connection_id="conn-1")


async def run(
    asgi: Starlette, op: str, data: dict[str, Any], credentials: dict[str, Any] = KEY
) -> Any:
    action = app.action(op)
    result = await action.perform(context(asgi, credentials), action.input.model_validate(data))
    return result.model_dump() if hasattr(result, "model_dump") else result


async def fail_next(asgi: Starlette, **failure: Any) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=asgi), base_url="http://sandbox.invalid"
    ) as http:
        (await http.post("/__sandbox__/fail", json=failure)).raise_for_status()


def raw_client(asgi: Starlette, key: str = SANDBOX_KEY) -> httpx.AsyncClient:
    """Straight to the sandbox, without the connector's connection limit."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=asgi),
        base_url="http://sandbox.invalid",
        auth=("anystring", key),
    )


# -- connecting ----------------------------------------------------------------------------------


def test_the_key_names_the_data_centre_and_the_host() -> None:
    assert data_centre(SANDBOX_KEY) == "us21"
    assert base_url(KEY, {}) == "https://us21.api.mailchimp.com"
    assert (
        base_url(
            {"access_token": "t"}, {"dc": "us6", "api_endpoint": "https://us6.api.mailchimp.com"}
        )
        == "https://us6.api.mailchimp.com"
    )
    assert app.resolve_base_url(KEY, {}) == "https://us21.api.mailchimp.com"


@pytest.mark.parametrize(
    "key",
    [
        "0123456789abcdef0123456789abcdef",
        "0123456789abcdef0123456789abcdef-",
        "not-a-key-us21",
        "0123456789abcdef0123456789abcdef-evil.example#",
    ],
)
def test_a_key_without_a_data_centre_is_refused_naming_the_field(key: str) -> None:
    with pytest.raises(ValidationError, match="data centre, e.g. …-us21"):
        MailchimpKeyFields(api_key=key)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError) as info:  # what a user creating the connection is told
        check_credentials(app, app.auth, {"api_key": key})
    assert info.value.errors[0]["field"] == "api_key" and "data centre" in info.value.message
    assert key not in info.value.message
    with pytest.raises(ConfigurationError, match="field api_key"):
        base_url({"api_key": key}, {})


def test_an_oauth_connection_without_its_data_centre_must_reconnect() -> None:
    with pytest.raises(ConfigurationError, match="reconnect"):
        base_url({"access_token": "t"}, {"dc": "evil.example/"})
    with pytest.raises(ConfigurationError, match="reconnect"):
        base_url({"access_token": "t"}, {})


async def test_only_mailchimp_api_hosts_are_reachable() -> None:
    http = build_http(app_key=app.key, base_url=base_url(KEY, {}), allowed_hosts=app.allowed_hosts)
    with pytest.raises(ForbiddenDestinationError, match=r"\*\.api\.mailchimp\.com"):
        await http.get("https://login.mailchimp.com.evil.example/3.0/")
    await http.aclose()


async def test_connection_test_names_the_account(mc: Starlette) -> None:
    assert app.auth.test is not None
    info = await app.auth.test(context(mc))
    assert info == {
        "label": "Cellwright Sandbox",
        "account_id": "8d3a3db4d97663a9074efcc16",
        "dc": "us21",
    }


def test_the_key_goes_as_basic_auth_password() -> None:
    flow = app.auth.httpx_auth(KEY).sync_auth_flow(
        httpx.Request("GET", "https://us21.api.mailchimp.com/3.0/ping")
    )
    sent = next(flow)
    user, _, password = (
        base64.b64decode(sent.headers["authorization"].split(" ", 1)[1]).decode().partition(":")
    )
    assert password == SANDBOX_KEY and user


async def test_a_refused_key_is_an_auth_error_without_the_key(mc: Starlette) -> None:
    other = "f" * 32 + "-us21"  # the sandbox takes any well-formed key of its data centre
    wrong_dc = {"api_key": "f" * 32 + "-us6"}
    with pytest.raises(
        AuthError, match="API Key Invalid — Your API key may be invalid.*check or reconnect"
    ) as info:
        await run(mc, "find_subscriber", {"email": "grace@example.com"}, credentials=wrong_dc)
    assert info.value.code == "auth_invalid" and "f" * 32 not in info.value.message
    assert (
        await run(
            mc, "find_subscriber", {"email": "grace@example.com"}, credentials={"api_key": other}
        )
    )["found"]


# -- members -------------------------------------------------------------------------------------


async def test_add_or_update_puts_by_the_hash_and_adds_tags(mc: Starlette) -> None:
    data = {
        "list_id": AUDIENCE,
        "email": "Ada@Example.com",
        "merge_fields": {"FNAME": "Ada"},
        "tags": ["nurture"],
    }
    member = await run(mc, "add_or_update_subscriber", data)
    assert member["id"] == subscriber_hash("ada@example.com") == "3e3417d7ef77d5932a6734b916515ed5"
    assert member["status"] == "subscribed" and member["merge_fields"]["FNAME"] == "Ada"
    assert [t["name"] for t in member["tags"]] == ["nurture"]
    again = await run(
        mc,
        "add_or_update_subscriber",
        {**data, "merge_fields": {"LNAME": "Lovelace"}, "tags": "vip, nurture"},
    )
    assert again["id"] == member["id"] and again["full_name"] == "Ada Lovelace"
    assert sorted(t["name"] for t in again["tags"]) == ["nurture", "vip"]
    assert len(account(mc).members[AUDIENCE]) == 4  # three seeded, one added once


async def test_add_or_update_can_change_the_status_of_an_existing_member(mc: Starlette) -> None:
    kept = await run(
        mc,
        "add_or_update_subscriber",
        {"list_id": AUDIENCE, "email": "grace@example.com", "status_if_new": "pending"},
    )
    assert kept["status"] == "subscribed"  # status_if_new is for new contacts only
    changed = await run(
        mc,
        "add_or_update_subscriber",
        {"list_id": AUDIENCE, "email": "grace@example.com", "status": "unsubscribed"},
    )
    assert changed["status"] == "unsubscribed"


async def test_adding_an_existing_member_is_member_exists(mc: Starlette) -> None:
    with pytest.raises(
        UpstreamError, match="Member Exists.*grace@example.com is already a list member"
    ) as info:
        await run(mc, "add_subscriber", {"list_id": AUDIENCE, "email": "grace@example.com"})
    assert info.value.status == 400 and not info.value.retryable
    added = await run(
        mc,
        "add_subscriber",
        {"list_id": AUDIENCE, "email": "lin@example.com", "tags": ["new"], "status": "pending"},
    )
    assert added["status"] == "pending" and [t["name"] for t in added["tags"]] == ["new"]


async def test_tags_notes_and_unsubscribe(mc: Starlette) -> None:
    who = {"list_id": AUDIENCE, "email": "grace@example.com"}
    out = await run(mc, "add_tags", {**who, "tags": ["vip", "beta"]})
    assert out == {
        "email": "grace@example.com",
        "subscriber_hash": subscriber_hash("grace@example.com"),
        "tags": ["vip", "beta"],
    }
    await run(mc, "remove_tags", {**who, "tags": "customer"})
    grace = account(mc).members[AUDIENCE][subscriber_hash("grace@example.com")]
    assert sorted(t["name"] for t in grace["tags"]) == ["beta", "vip"]
    note = await run(mc, "add_note", {**who, "note": "Called about the annual plan."})
    assert note["note"] == "Called about the annual plan." and note["email_id"] == grace["id"]
    gone = await run(mc, "unsubscribe", who)
    assert gone["status"] == "unsubscribed"
    back = await run(mc, "add_or_update_subscriber", {**who, "status": "subscribed"})
    assert back["status"] == "subscribed" and back["timestamp_opt"] > gone["last_changed"]


async def test_a_member_not_in_the_audience_is_a_clear_404(mc: Starlette) -> None:
    with pytest.raises(
        UpstreamError, match="HTTP 404 — The requested resource could not be found"
    ) as info:
        await run(mc, "add_note", {"list_id": AUDIENCE, "email": "nobody@example.com", "note": "x"})
    assert info.value.status == 404 and info.value.body["title"] == "Resource Not Found"  # type: ignore[index]
    assert set(info.value.body) == {"type", "title", "status", "detail", "instance"}  # type: ignore[arg-type]


async def test_find_subscriber_in_one_audience_or_all(mc: Starlette) -> None:
    found = await run(mc, "find_subscriber", {"email": "GRACE@example.com"})
    assert found["found"] and found["count"] == 1 and found["member"]["full_name"] == "Grace Hopper"
    elsewhere = await run(
        mc, "find_subscriber", {"email": "grace@example.com", "list_id": "f6e5d4c3b2"}
    )
    assert elsewhere == {"found": False, "member": None, "count": 0}


async def test_a_field_mailchimp_rejects_is_an_input_error_naming_it(mc: Starlette) -> None:
    with pytest.raises(InvalidInputError, match=r"merge_fields\.NICKNAME") as info:
        await run(
            mc,
            "add_or_update_subscriber",
            {"list_id": AUDIENCE, "email": "ada@example.com", "merge_fields": {"NICKNAME": "Ada"}},
        )
    assert info.value.errors == [
        {
            "field": "merge_fields.NICKNAME",
            "message": "This merge field does not exist.",
            "type": "invalid",
        }
    ]


async def test_a_viewer_key_gets_a_clear_403_and_the_connection_stays_valid(mc: Starlette) -> None:
    viewer = "ab" * 16 + "-us21"
    account(mc).viewer_keys.add(viewer)
    with pytest.raises(UpstreamError, match="HTTP 403 Forbidden.*may not do this") as info:
        await run(
            mc,
            "add_tags",
            {"list_id": AUDIENCE, "email": "grace@example.com", "tags": ["x"]},
            credentials={"api_key": viewer},
        )
    assert (
        info.value.code == "upstream_error" and info.value.status == 403
    )  # not auth_invalid: reads still work
    assert (
        await run(
            mc, "find_subscriber", {"email": "grace@example.com"}, credentials={"api_key": viewer}
        )
    )["found"]


@pytest.mark.parametrize(
    ("op", "data", "field"),
    [
        ("add_or_update_subscriber", {"list_id": AUDIENCE, "email": "not-an-email"}, "email"),
        ("add_or_update_subscriber", {"email": "ada@example.com"}, "list_id"),
        ("add_note", {"list_id": AUDIENCE, "email": "ada@example.com", "note": ""}, "note"),
        ("add_tags", {"list_id": AUDIENCE, "email": "ada@example.com", "tags": []}, "tags"),
        (
            "create_campaign",
            {
                "list_id": AUDIENCE,
                "subject_line": "s",
                "from_name": "f",
                "reply_to": "r@example.com",
            },
            "html or as template_id",
        ),
        (
            "add_subscriber",
            {"list_id": AUDIENCE, "email": "ada@example.com", "statsu": "pending"},
            "statsu",
        ),
    ],
)
def test_input_validation_names_the_field(op: str, data: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        app.action(op).input.model_validate(data)
    assert field in str(info.value)


# -- campaigns -----------------------------------------------------------------------------------


async def test_create_a_campaign_from_html_and_send_it(mc: Starlette) -> None:
    data = {
        "list_id": AUDIENCE,
        "subject_line": "Spring news",
        "from_name": "Cellwright",
        "reply_to": "news@example.com",
        "html": "<p>Hi *|FNAME|*</p>",
        "plain_text": "Hi",
        "preview_text": "What's new",
        "send_now": True,
    }
    campaign = await run(mc, "create_campaign", data)
    assert (
        campaign["status"] == "sent"
        and campaign["emails_sent"] == 3
        and campaign["settings"]["title"] == "Spring news"
    )
    assert account(mc).campaigns[campaign["id"]]["_content"] == "<p>Hi *|FNAME|*</p>"
    with pytest.raises(UpstreamError, match="already been sent"):
        await run(mc, "send_campaign", {"campaign_id": campaign["id"]})


async def test_a_draft_from_a_template_then_sent(mc: Starlette) -> None:
    draft = await run(mc, "create_campaign", dict(app.action("create_campaign").example or {}))
    assert draft["status"] == "save" and draft["settings"]["template_id"] == 2000001
    sent = await run(mc, "send_campaign", {"campaign_id": draft["id"]})
    assert sent == {"campaign_id": draft["id"], "status": "sent"}


async def test_an_unknown_template_names_the_field(mc: Starlette) -> None:
    data = {
        "list_id": AUDIENCE,
        "subject_line": "s",
        "from_name": "f",
        "reply_to": "r@example.com",
        "template_id": 9,
    }
    with pytest.raises(InvalidInputError, match=r"template\.id"):
        await run(mc, "create_campaign", data)


# -- the honest sandbox --------------------------------------------------------------------------


async def test_the_eleventh_simultaneous_request_is_refused_with_mailchimps_429(
    mc: Starlette,
) -> None:
    account(mc).gate = gate = asyncio.Event()
    async with raw_client(mc) as http:
        held = [asyncio.create_task(http.get("/3.0/ping")) for _ in range(MAX_CONNECTIONS)]
        for _ in range(1000):
            if account(mc).in_flight.get(SANDBOX_KEY) == MAX_CONNECTIONS:
                break
            await asyncio.sleep(0)
        refused = await http.get("/3.0/ping")
        gate.set()
        assert all(r.status_code == 200 for r in await asyncio.gather(*held))
    assert (
        refused.status_code == 429 and refused.headers["content-type"] == "application/problem+json"
    )
    assert refused.json()["title"] == "Too Many Requests"
    assert refused.json()["detail"] == "You have exceeded the limit of 10 simultaneous connections."


async def test_the_connector_never_opens_more_than_ten_connections_per_key(mc: Starlette) -> None:
    account(mc).gate = gate = asyncio.Event()
    contexts = [context(mc) for _ in range(3)]  # three cells, clients, even connections, one key
    calls = [asyncio.create_task(run_find(ctx)) for ctx in contexts for _ in range(6)]
    for _ in range(1000):
        if account(mc).in_flight.get(SANDBOX_KEY) == MAX_CONNECTIONS:
            break
        await asyncio.sleep(0)
    for _ in range(50):  # the other eight are waiting for a slot, not at Mailchimp
        await asyncio.sleep(0)
    assert account(mc).in_flight[SANDBOX_KEY] == MAX_CONNECTIONS
    gate.set()
    results = await asyncio.gather(*calls)
    assert all(r.found for r in results) and len(results) == 18
    assert account(mc).peak == MAX_CONNECTIONS


async def run_find(ctx: OperationContext) -> Any:
    action = app.action("find_subscriber")
    return await action.perform(ctx, action.input.model_validate({"email": "grace@example.com"}))


async def test_a_429_is_a_retryable_rate_limit(mc: Starlette) -> None:
    account(mc).max_connections = 0  # every request is one too many
    with pytest.raises(RateLimitedError, match="simultaneous connections") as info:
        await run(mc, "find_subscriber", {"email": "grace@example.com"})
    assert (
        info.value.retryable and info.value.retry_after is None
    )  # Mailchimp says nothing about when


async def test_a_retry_after_is_carried(mc: Starlette) -> None:
    await fail_next(
        mc,
        path="/search-members",
        method="GET",
        status=429,
        headers={"Retry-After": "3"},
        title="Too Many Requests",
        detail="You have exceeded the limit of 10 simultaneous connections.",
    )
    with pytest.raises(RateLimitedError) as info:
        await run(mc, "find_subscriber", {"email": "grace@example.com"})
    assert info.value.retry_after == 3


async def test_short_and_empty_pages_are_followed_by_total_items(mc: Starlette) -> None:
    for i in range(7):
        await run(
            mc, "add_or_update_subscriber", {"list_id": AUDIENCE, "email": f"reader{i}@example.com"}
        )
    account(mc).page_cap = 3  # pages shorter than the count asked for, before the end
    members = await list_all(context(mc), f"/lists/{AUDIENCE}/members", "members")
    assert len(members) == 10 and len({m["id"] for m in members}) == 10
    account(mc).page_cap = 0  # an empty page ends the list whatever total_items says
    assert await list_all(context(mc), f"/lists/{AUDIENCE}/members", "members") == []


async def test_an_unknown_api_version_is_mailchimps_404(mc: Starlette) -> None:
    async with raw_client(mc) as http:
        old = await http.get("/2.0/lists")
        assert (await http.get("/3.0/ping")).json() == {"health_status": "Everything's Chimpy!"}
    assert old.status_code == 404 and old.headers["content-type"] == "application/problem+json"
    assert old.json()["title"] == "Resource Not Found"


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "title", "field"),
    [
        ("GET", "/3.0/lists?bogus=1", None, 400, "Invalid Resource", "bogus"),
        ("GET", "/3.0/lists?count=5000", None, 400, "Invalid Resource", "count"),
        ("GET", "/3.0/lists?count=ten", None, 400, "Invalid Resource", "count"),
        (
            "GET",
            f"/3.0/lists/{AUDIENCE}/members?sort_field=email",
            None,
            400,
            "Invalid Resource",
            "sort_field",
        ),
        ("POST", f"/3.0/lists/{AUDIENCE}/members", b"{not json", 400, "JSON Parse Exception", None),
        ("POST", f"/3.0/lists/{AUDIENCE}/members", b"[]", 400, "JSON Parse Exception", None),
        (
            "POST",
            f"/3.0/lists/{AUDIENCE}/members",
            {"email_address": "x@example.com"},
            400,
            "Invalid Resource",
            "status",
        ),
        (
            "POST",
            f"/3.0/lists/{AUDIENCE}/members",
            {"email_address": "x", "status": "subscribed"},
            400,
            "Invalid Resource",
            "email_address",
        ),
        (
            "POST",
            f"/3.0/lists/{AUDIENCE}/members",
            {"email_address": "x@example.com", "status": "gone"},
            400,
            "Invalid Resource",
            "status",
        ),
        (
            "PUT",
            f"/3.0/lists/{AUDIENCE}/members/abc",
            {"email_address": "x@example.com", "status_if_new": "subscribed"},
            400,
            "Invalid Resource",
            "email_address",
        ),
        (
            "PUT",
            f"/3.0/lists/{AUDIENCE}/members/x@example.com",
            {
                "email_address": "x@example.com",
                "status_if_new": "subscribed",
                "merge_fields": {"FNAME": {"a": 1}},
            },
            400,
            "Invalid Resource",
            "merge_fields.FNAME",
        ),
        (
            "PUT",
            f"/3.0/lists/{AUDIENCE}/members/x@example.com",
            {"email_address": "x@example.com", "status_if_new": "subscribed", "merge_fields": []},
            400,
            "Invalid Resource",
            "merge_fields",
        ),
        (
            "PATCH",
            f"/3.0/lists/{AUDIENCE}/members/grace@example.com",
            {"status": "transactional"},
            400,
            "Invalid Resource",
            "status",
        ),
        (
            "POST",
            f"/3.0/lists/{AUDIENCE}/members/grace@example.com/tags",
            {"tags": [{"name": "x"}]},
            400,
            "Invalid Resource",
            "tags",
        ),
        (
            "POST",
            f"/3.0/lists/{AUDIENCE}/members/grace@example.com/notes",
            {"note": "x" * 1001},
            400,
            "Invalid Resource",
            "note",
        ),
        (
            "POST",
            f"/3.0/lists/{AUDIENCE}/webhooks",
            {"url": "ftp://x"},
            400,
            "Invalid Resource",
            "url",
        ),
        ("GET", f"/3.0/lists/{AUDIENCE}/webhooks/nope", None, 404, "Resource Not Found", None),
        ("DELETE", f"/3.0/lists/{AUDIENCE}/webhooks/nope", None, 404, "Resource Not Found", None),
        ("GET", "/3.0/lists/nope/members", None, 404, "Resource Not Found", None),
        ("GET", "/3.0/search-members", None, 400, "Invalid Resource", "query"),
        ("GET", "/3.0/search-members?query=x&list_id=nope", None, 404, "Resource Not Found", None),
        ("GET", "/3.0/campaigns?sort_field=title", None, 400, "Invalid Resource", "sort_field"),
        ("POST", "/3.0/campaigns", {"type": "fancy"}, 400, "Invalid Resource", "type"),
        (
            "POST",
            "/3.0/campaigns",
            {"type": "regular", "recipients": {"list_id": "nope"}},
            400,
            "Invalid Resource",
            "recipients.list_id",
        ),
        (
            "POST",
            "/3.0/campaigns",
            {"type": "regular", "recipients": {"list_id": AUDIENCE}, "settings": {"subject": "x"}},
            400,
            "Invalid Resource",
            "settings.subject",
        ),
        (
            "POST",
            "/3.0/campaigns",
            {"type": "regular", "recipients": {"list_id": AUDIENCE}, "settings": {"reply_to": "x"}},
            400,
            "Invalid Resource",
            "settings.reply_to",
        ),
        (
            "POST",
            "/3.0/campaigns",
            {"type": "regular", "bogus": 1},
            400,
            "Invalid Resource",
            "bogus",
        ),
        (
            "POST",
            f"/3.0/lists/{AUDIENCE}/members/grace@example.com/tags",
            None,
            400,
            "Invalid Resource",
            "tags",
        ),
        ("GET", "/3.0/campaigns/nope", None, 404, "Resource Not Found", None),
        (
            "PUT",
            "/3.0/campaigns/c0ffee0001/content",
            {"plain_text": "x"},
            400,
            "Invalid Resource",
            None,
        ),
    ],
)
async def test_the_sandbox_refuses_like_mailchimp(
    mc: Starlette, method: str, path: str, body: Any, status: int, title: str, field: str | None
) -> None:
    async with raw_client(mc) as http:
        content = body if isinstance(body, bytes) else None
        answer = await http.request(
            method,
            path,
            json=None if content is not None or body is None else body,
            content=content,
        )
    assert (
        answer.status_code == status
        and answer.headers["content-type"] == "application/problem+json"
    )
    problem = answer.json()
    assert (
        problem["title"] == title
        and problem["status"] == status
        and problem["type"].startswith("https://mailchimp.com/")
    )
    assert [e["field"] for e in problem.get("errors", [])] == ([field] if field else [])


async def test_the_sandbox_checks_keys_and_readiness(mc: Starlette) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=mc), base_url="http://sandbox.invalid"
    ) as http:
        missing = await http.get("/3.0/ping")
        garbled = await http.get("/3.0/ping", headers={"Authorization": "Basic abc"})
        bearer = await http.get("/3.0/ping", headers={"Authorization": f"Bearer {SANDBOX_KEY}"})
    assert (missing.status_code, missing.json()["title"]) == (401, "API Key Missing")
    assert (garbled.status_code, garbled.json()["title"]) == (401, "API Key Invalid")
    assert bearer.status_code == 200  # Mailchimp also takes the key as a bearer token
    account(mc).campaigns["c0ffee0001"]["settings"]["from_name"] = ""
    with pytest.raises(InvalidInputError, match=r"settings\.from_name"):
        await run(mc, "send_campaign", {"campaign_id": "c0ffee0001"})
    async with raw_client(mc) as http:
        hook = {"url": "https://cw.example/hooks/x"}
        assert (await http.post(f"/3.0/lists/{AUDIENCE}/webhooks", json=hook)).status_code == 200
        created = (await http.get(f"/3.0/lists/{AUDIENCE}/webhooks")).json()["webhooks"][0]
        assert (await http.get(f"/3.0/lists/{AUDIENCE}/webhooks/{created['id']}")).json()[
            "url"
        ] == hook["url"]
        twice = await http.post(f"/3.0/lists/{AUDIENCE}/webhooks", json=hook)
        listed = await http.get(f"/3.0/lists/{AUDIENCE}/webhooks")
    assert twice.status_code == 400 and "same webhook URL" in twice.json()["detail"]
    assert listed.json()["total_items"] == 1


def test_query_values_and_times_are_written_as_mailchimp_reads_them() -> None:
    from connectors.mailchimp.api import _param
    from connectors.mailchimp.triggers import _earlier

    assert (_param(True), _param(False), _param(5)) == ("true", "false", "5")
    assert _earlier("2026-03-01T10:00:00+00:00") == "2026-03-01T09:59:59+00:00"
    assert _earlier("yesterday") == "yesterday"
