"""HubSpot: every action, trigger and dropdown against the sandbox portal, failures included."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from pydantic import BaseModel, ValidationError
from starlette.applications import Starlette

from connectors.hubspot import app, options, sandbox
from connectors.hubspot.api import VERSION
from connectors.hubspot.auth import SANDBOX_CREDENTIALS
from connectors.sdk import (
    AuthError,
    InvalidInputError,
    OperationContext,
    RateLimitedError,
    UpstreamError,
    build_http,
)
from connectors.sdk.sandboxing import SANDBOX_BASE, RecordingTransport, sandbox_context

READ_ONLY = {"access_token": sandbox.READ_ONLY_TOKEN}


@pytest.fixture
def hubspot() -> Starlette:
    return sandbox.create_app()


def portal(asgi: Starlette) -> sandbox.Portal:
    return asgi.state.hubspot  # type: ignore[no-any-return]


def context(
    asgi: Starlette, credentials: dict[str, Any] = SANDBOX_CREDENTIALS, auth_type: str | None = None
) -> OperationContext:
    return sandbox_context(app, credentials, asgi_app=asgi, auth_type=auth_type)


def recording(
    asgi: Starlette, credentials: dict[str, Any] = SANDBOX_CREDENTIALS
) -> tuple[OperationContext, RecordingTransport]:
    transport = RecordingTransport(httpx.ASGITransport(app=asgi))
    http = build_http(
        app_key=app.key,
        base_url=SANDBOX_BASE,
        auth=app.auth.httpx_auth(credentials),
        error_parser=app.error_parser,
        secrets=[str(v) for v in credentials.values()],
        transport=transport,
    )
    return OperationContext(http=http, credentials=credentials), transport


async def run(
    asgi: Starlette,
    op: str,
    data: dict[str, Any],
    credentials: dict[str, Any] = SANDBOX_CREDENTIALS,
) -> Any:
    action = app.action(op)
    return await action.perform(context(asgi, credentials), action.input.model_validate(data))


async def control(asgi: Starlette, path: str, body: dict[str, Any]) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=asgi), base_url=SANDBOX_BASE
    ) as client:
        (await client.post(path, json=body)).raise_for_status()


async def fetch(
    asgi: Starlette, key: str, inputs: dict[str, Any], since: Any
) -> list[dict[str, Any]]:
    op = app.trigger(key)
    return await op.fetch(context(asgi), op.input.model_validate(inputs), since)  # type: ignore[attr-defined, no-any-return]


# -- connecting ---------------------------------------------------------------------------------


async def test_the_connection_test_names_the_portal(hubspot: Starlette) -> None:
    info = await app.auth.test(context(hubspot))  # type: ignore[misc]
    assert info["portal_id"] == sandbox.PORTAL_ID and str(sandbox.PORTAL_ID) in info["label"]


async def test_an_unknown_token_is_an_auth_error_without_the_token(hubspot: Starlette) -> None:
    with pytest.raises(AuthError, match="refused the connection's token") as caught:
        await run(
            hubspot,
            "find_contact",
            {"email": "ada@example.com"},
            {"access_token": "pat-na1-not-a-real-token"},
        )
    assert "pat-na1-not-a-real-token" not in str(caught.value.to_dict())


async def test_oauth_access_tokens_last_30_minutes_and_are_refreshed(hubspot: Starlette) -> None:
    portal(hubspot).refresh_tokens.add("na1-sandbox-refresh")
    expired = {
        "access_token": "CO-expired",
        "refresh_token": "na1-sandbox-refresh",
        "expires_at": time.time() - 5,
        "client_id": sandbox.CLIENT_ID,
        "client_secret": SANDBOX_CREDENTIALS["client_secret"],
    }
    portal(hubspot).tokens["CO-expired"] = (sandbox.ALL_SCOPES, time.time() - 5)
    action = app.action("find_contact")
    found = await action.perform(
        context(hubspot, expired, auth_type="oauth2"),
        action.input.model_validate({"email": "ada@example.com"}),
    )
    assert found.found and found.contact.id == "1001"
    issued = [
        expiry
        for token, (_, expiry) in portal(hubspot).tokens.items()
        if token.startswith("CO") and token != "CO-expired"
    ]
    assert len(issued) == 1 and issued[0] is not None and 1790 <= issued[0] - time.time() <= 1800


async def test_an_expired_oauth_token_that_cannot_refresh_says_reconnect(
    hubspot: Starlette,
) -> None:
    portal(hubspot).tokens["CO-stale"] = (sandbox.ALL_SCOPES, time.time() - 300)
    with pytest.raises(AuthError, match="expired"):
        await run(
            hubspot, "find_contact", {"email": "ada@example.com"}, {"access_token": "CO-stale"}
        )


# -- contacts -------------------------------------------------------------------------------------


async def test_upsert_creates_then_updates_the_contact_with_that_email(hubspot: Starlette) -> None:
    first = await run(
        hubspot,
        "create_or_update_contact",
        {"email": "lin@example.com", "properties": {"firstname": "Lin", "company": "Acme"}},
    )
    assert first.created is True and first.email == "lin@example.com" and first.firstname == "Lin"
    again = await run(
        hubspot,
        "create_or_update_contact",
        {"email": "lin@example.com", "lastname": "Chen", "properties": {"company": "Acme Two"}},
    )
    assert again.created is False and again.id == first.id
    assert portal(hubspot).get("contacts", first.id).value("company") == "Acme Two"
    assert portal(hubspot).get("contacts", first.id).value("lastname") == "Chen"


async def test_a_duplicate_email_create_is_a_conflict_that_upsert_handles(
    hubspot: Starlette,
) -> None:
    with pytest.raises(UpstreamError, match="Existing ID: 1001") as caught:
        await run(hubspot, "create_contact", {"email": "ada@example.com", "firstname": "Ada"})
    assert caught.value.status == 409 and caught.value.details["category"] == "CONFLICT"
    upserted = await run(
        hubspot,
        "create_or_update_contact",
        {"email": "ada@example.com", "phone": "+44 20 7946 0000"},
    )
    assert upserted.created is False and upserted.id == "1001"
    assert len(portal(hubspot).kind("contacts")) == 2  # nothing was created


async def test_create_contact_needs_something_to_create() -> None:
    with pytest.raises(ValidationError, match="at least an email"):
        app.action("create_contact").input.model_validate({"phone": "123"})


async def test_update_contact_by_id_or_by_email(hubspot: Starlette) -> None:
    by_id = await run(
        hubspot, "update_contact", {"contact_id": "1001", "jobtitle": "Analyst", "owner_id": "5001"}
    )
    assert by_id.id == "1001"
    assert portal(hubspot).get("contacts", "1001").value("hubspot_owner_id") == "5001"
    by_email = await run(
        hubspot,
        "update_contact",
        {"contact_id": "alan@example.com", "lifecyclestage": "evangelist"},
    )
    assert by_email.id == "1002" and by_email.properties["lifecyclestage"] == "evangelist"
    with pytest.raises(InvalidInputError, match="Nothing to change"):
        await run(hubspot, "update_contact", {"contact_id": "1001"})
    with pytest.raises(UpstreamError, match="no contacts record with ID 999") as missing:
        await run(hubspot, "update_contact", {"contact_id": "999", "firstname": "X"})
    assert missing.value.status == 404
    with pytest.raises(ValidationError, match="record ID"):
        app.action("update_contact").input.model_validate({"contact_id": "Ada", "firstname": "X"})


async def test_find_contact_by_email(hubspot: Starlette) -> None:
    found = await run(
        hubspot, "find_contact", {"email": "ADA@example.com", "properties": ["lifecyclestage"]}
    )
    assert (
        found.found
        and found.contact.id == "1001"
        and found.contact.properties["lifecyclestage"] == "lead"
    )
    assert (await run(hubspot, "find_contact", {"email": "nobody@example.com"})).model_dump() == {
        "found": False,
        "contact": None,
    }


async def test_an_unknown_property_is_an_input_error_naming_it(hubspot: Starlette) -> None:
    with pytest.raises(InvalidInputError, match="favourite_colour") as caught:
        await run(
            hubspot,
            "create_contact",
            {"email": "new@example.com", "properties": {"favourite_colour": "teal"}},
        )
    assert caught.value.errors[0]["field"] == "favourite_colour"
    with pytest.raises(InvalidInputError) as option:
        await run(hubspot, "update_contact", {"contact_id": "1001", "lifecyclestage": "fan"})
    assert option.value.errors[0]["field"] == "lifecyclestage"


# -- deals, tasks, notes, associations ------------------------------------------------------------


async def test_create_deal_in_a_stage_with_its_contact_and_company(hubspot: Starlette) -> None:
    deal = await run(
        hubspot,
        "create_deal",
        {
            "dealname": "Renewal",
            "pipeline": "7654321",
            "dealstage": "7654322",
            "amount": 99.5,
            "closedate": "2026-12-31",
            "contact_id": "1002",
            "company_id": "3001",
        },
    )
    assert (deal.dealname, deal.pipeline, deal.dealstage, deal.amount) == (
        "Renewal",
        "7654321",
        "7654322",
        "99.5",
    )
    assert deal.closedate == "2026-12-31T00:00:00.000Z"
    links = portal(hubspot).associations
    assert ("deals", deal.id, "contacts", "1002") in links and (
        "deals",
        deal.id,
        "companies",
        "3001",
    ) in links
    with pytest.raises(InvalidInputError) as stage:
        await run(
            hubspot,
            "create_deal",
            {"dealname": "X", "pipeline": "7654321", "dealstage": "closedwon"},
        )
    assert stage.value.errors[0]["field"] == "dealstage"


async def test_create_task_for_a_contact(hubspot: Starlette) -> None:
    task = await run(
        hubspot,
        "create_task",
        {
            "subject": "Call Ada",
            "body": "About the order",
            "due_at": "2026-10-01T09:30:00+02:00",
            "priority": "HIGH",
            "contact_id": "1001",
            "deal_id": "2001",
        },
    )
    assert task.hs_task_subject == "Call Ada" and task.hs_timestamp == "2026-10-01T07:30:00.000Z"
    assert task.associated == ["contacts:1001", "deals:2001"]
    assert ("tasks", task.id, "contacts", "1001") in portal(hubspot).associations
    with pytest.raises(InvalidInputError, match="contacts 4242 does not exist"):
        await run(hubspot, "create_task", {"subject": "Ghost", "contact_id": "4242"})
    assert not any(
        r.value("hs_task_subject") == "Ghost" for r in portal(hubspot).kind("tasks").values()
    )
    with pytest.raises(ValidationError) as bad:
        app.action("create_task").input.model_validate(
            {"subject": "x", "contact_id": "ada@example.com"}
        )
    assert bad.value.errors()[0]["loc"] == ("contact_id",)


async def test_create_note_on_a_record(hubspot: Starlette) -> None:
    note = await run(
        hubspot, "create_note", {"body": "<p>Met at the fair</p>", "company_id": "3001"}
    )
    assert note.hs_note_body == "<p>Met at the fair</p>" and note.associated == ["companies:3001"]
    assert ("notes", note.id, "companies", "3001") in portal(hubspot).associations
    with pytest.raises(ValidationError, match="a note belongs on a record"):
        app.action("create_note").input.model_validate({"body": "orphan"})


async def test_associate_two_records(hubspot: Starlette) -> None:
    done = await run(
        hubspot,
        "associate_records",
        {
            "from_object_type": "contacts",
            "from_id": "1002",
            "to_object_type": "companies",
            "to_id": "3001",
        },
    )
    assert {(t.category, t.type_id) for t in done.types} == {
        ("HUBSPOT_DEFINED", 279),
        ("HUBSPOT_DEFINED", 280),
    }
    assert ("companies", "3001", "contacts", "1002") in portal(hubspot).associations
    with pytest.raises(UpstreamError, match="no deals record with ID 777"):
        await run(
            hubspot,
            "associate_records",
            {
                "from_object_type": "deals",
                "from_id": "777",
                "to_object_type": "contacts",
                "to_id": "1001",
            },
        )


async def test_lead_flow_upsert_then_task_on_that_contact_then_associate_the_deal(
    hubspot: Starlette,
) -> None:
    contact = await run(
        hubspot,
        "create_or_update_contact",
        {"email": "lead@example.com", "properties": {"firstname": "Lee", "company": "Bolt"}},
    )
    task = await run(
        hubspot, "create_task", {"subject": "Call Lee at Bolt (score 90)", "contact_id": contact.id}
    )
    linked = await run(
        hubspot,
        "associate_records",
        {
            "from_object_type": "deals",
            "from_id": "2001",
            "to_object_type": "contacts",
            "to_id": contact.id,
        },
    )
    links = portal(hubspot).associations
    assert ("tasks", task.id, "contacts", contact.id) in links and (
        "deals",
        "2001",
        "contacts",
        contact.id,
    ) in links
    assert linked.types


# -- sandbox honesty: limits, scopes, versions, paging --------------------------------------------


async def test_the_ten_second_rate_limit_is_a_rate_limited_error(hubspot: Starlette) -> None:
    await control(hubspot, "/__sandbox__/limits", {"max": 2})
    ctx, transport = recording(hubspot)
    action = app.action("find_contact")
    for _ in range(2):
        await action.perform(ctx, action.input.model_validate({"email": "ada@example.com"}))
    with pytest.raises(RateLimitedError, match="TEN_SECONDLY_ROLLING") as caught:
        await action.perform(ctx, action.input.model_validate({"email": "ada@example.com"}))
    assert caught.value.retry_after == 10.0 and caught.value.retryable
    refused = transport.calls[-1][1]
    assert refused.status_code == 429 and refused.json()["errorType"] == "RATE_LIMIT"
    assert refused.headers["x-hubspot-ratelimit-remaining"] == "0"


async def test_a_token_lacking_a_scope_gets_a_message_naming_it(hubspot: Starlette) -> None:
    assert (
        await run(hubspot, "find_contact", {"email": "ada@example.com"}, READ_ONLY)
    ).found  # reading is allowed
    with pytest.raises(
        UpstreamError, match=r"lacks a scope.*crm\.objects\.contacts\.write"
    ) as caught:
        await run(hubspot, "create_or_update_contact", {"email": "x@example.com"}, READ_ONLY)
    assert caught.value.status == 403 and caught.value.details["scopes"] == [
        "crm.objects.contacts.write"
    ]
    assert not caught.value.retryable


async def test_an_unknown_date_version_is_reported_clearly(hubspot: Starlette) -> None:
    ctx, transport = recording(hubspot)
    with pytest.raises(UpstreamError, match=f"pins API version {VERSION}"):
        await ctx.http.get("/account-info/2099-01/details")
    body = transport.calls[-1][1].json()
    assert (
        transport.calls[-1][1].status_code == 404
        and body["status"] == "error"
        and body["correlationId"]
    )


async def test_search_follows_short_and_empty_pages_to_the_last_cursor(hubspot: Starlette) -> None:
    since = sandbox.iso(portal(hubspot).now())
    for name in ("Ana", "Bo", "Cy"):
        await run(
            hubspot, "create_contact", {"email": f"{name.lower()}@example.com", "firstname": name}
        )
    await control(hubspot, "/__sandbox__/paging", {"page_size": 1, "empty_pages": True})
    ctx, transport = recording(hubspot)
    op = app.trigger("new_contact")
    items = await op.fetch(ctx, op.input(), since)  # type: ignore[attr-defined]
    assert [i["firstname"] for i in items] == ["Ana", "Bo", "Cy"]  # oldest first
    pages = [response.json() for _, response in transport.calls]
    assert len(pages) == 6 and sum(1 for p in pages if not p["results"] and p.get("paging")) == 3
    assert "paging" not in pages[-1]


# -- dropdowns ------------------------------------------------------------------------------------


async def test_owner_pipeline_and_stage_dropdowns(hubspot: Starlette) -> None:
    ctx = context(hubspot)
    assert [(o.value, o.label) for o in await options.owners(ctx, {})] == [
        ("5001", "Sam Seller <sam@sandbox.example>"),
        ("5002", "Kim Closer <kim@sandbox.example>"),
    ]
    assert [o.value for o in await options.pipelines(ctx, {})] == ["default", "7654321"]
    stages = await options.deal_stages(ctx, {"pipeline": "7654321"})
    assert [(o.value, o.label) for o in stages] == [
        ("7654322", "Renewal due (7654322)"),
        ("7654323", "Renewed (7654323)"),
    ]
    with pytest.raises(UpstreamError) as missing:
        await options.deal_stages(ctx, {"pipeline": "nope"})
    assert missing.value.status == 404


# -- polling triggers -----------------------------------------------------------------------------


async def test_new_contact_polls_from_the_cursor(hubspot: Starlette) -> None:
    baseline = await fetch(hubspot, "new_contact", {}, None)
    assert [c["id"] for c in baseline] == ["1002", "1001"]  # newest first: what the first poll sees
    cursor = max(c["created_at"] for c in baseline)
    made = await run(hubspot, "create_contact", {"email": "dee@example.com", "firstname": "Dee"})
    later = await fetch(hubspot, "new_contact", {}, cursor)
    assert [c["id"] for c in later] == [
        "1002",
        made.id,
    ]  # from the cursor on (the engine drops the one it saw)
    assert later[-1]["email"] == "dee@example.com"


async def test_new_deal_polls_one_pipeline(hubspot: Starlette) -> None:
    since = sandbox.iso(portal(hubspot).now())
    await run(hubspot, "create_deal", {"dealname": "Sales", "dealstage": "appointmentscheduled"})
    await run(
        hubspot,
        "create_deal",
        {"dealname": "Renewal", "pipeline": "7654321", "dealstage": "7654322"},
    )
    assert [
        d["dealname"] for d in await fetch(hubspot, "new_deal", {"pipeline": "7654321"}, since)
    ] == ["Renewal"]
    assert [d["dealname"] for d in await fetch(hubspot, "new_deal", {}, since)] == [
        "Sales",
        "Renewal",
    ]


async def test_contact_property_changes_come_from_the_history_one_per_change(
    hubspot: Starlette,
) -> None:
    since = sandbox.iso(portal(hubspot).now())
    await run(hubspot, "update_contact", {"contact_id": "1001", "lifecyclestage": "opportunity"})
    await run(hubspot, "update_contact", {"contact_id": "1001", "lifecyclestage": "customer"})
    await run(
        hubspot, "update_contact", {"contact_id": "1002", "firstname": "Alan M."}
    )  # another property: nothing
    changes = await fetch(
        hubspot, "contact_property_changed", {"property": "lifecyclestage"}, since
    )
    assert [(c["contact_id"], c["previous_value"], c["value"]) for c in changes] == [
        ("1001", "opportunity", "customer"),
        ("1001", "lead", "opportunity"),
    ]
    assert len({c["change_id"] for c in changes}) == 2 and changes[0]["email"] == "ada@example.com"
    only = await fetch(
        hubspot,
        "contact_property_changed",
        {"property": "lifecyclestage", "value": "customer"},
        since,
    )
    assert [c["value"] for c in only] == ["customer"]
    assert (
        await fetch(
            hubspot,
            "contact_property_changed",
            {"property": "lifecyclestage"},
            sandbox.iso(portal(hubspot).now()),
        )
        == []
    )


async def test_deal_stage_changes_with_pipeline_and_stage_filters(hubspot: Starlette) -> None:
    since = sandbox.iso(portal(hubspot).now())
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=hubspot),
        base_url=SANDBOX_BASE,
        headers={"Authorization": f"Bearer {SANDBOX_CREDENTIALS['access_token']}"},
    ) as client:
        moved = await client.patch(
            f"/crm/objects/{VERSION}/deals/2001", json={"properties": {"dealstage": "closedwon"}}
        )
        assert moved.status_code == 200
    changes = await fetch(hubspot, "deal_stage_changed", {"pipeline": "default"}, since)
    assert [(c["deal_id"], c["previous_stage"], c["stage"]) for c in changes] == [
        ("2001", "qualifiedtobuy", "closedwon")
    ]
    assert await fetch(hubspot, "deal_stage_changed", {"stage": "closedlost"}, since) == []
    assert await fetch(hubspot, "deal_stage_changed", {"pipeline": "7654321"}, since) == []


def test_outputs_are_models_of_their_samples() -> None:
    for op in (*app.actions, *app.triggers):
        assert isinstance(op.output.model_validate(dict(op.sample)), BaseModel)


# -- error shapes the sandbox does not produce -----------------------------------------------------


def _answer(status: int, body: dict[str, Any], **headers: str) -> UpstreamError | Any:
    request = httpx.Request("POST", f"https://api.hubapi.com/crm/objects/{VERSION}/contacts/search")
    return app.error_parser(
        httpx.Response(status, json=body, headers=headers, request=request), body
    )  # type: ignore[misc]


def test_retry_after_comes_from_the_header_else_the_limits_window() -> None:
    assert (
        _answer(429, {"policyName": "TEN_SECONDLY_ROLLING"}, **{"Retry-After": "3"}).retry_after
        == 3.0
    )
    assert (
        _answer(
            429, {"policyName": "SECONDLY", "message": "You have reached your secondly limit."}
        ).retry_after
        == 1.0
    )
    assert _answer(429, {"policyName": "DAILY"}).retry_after == 10.0


def test_validation_context_names_parameters_and_server_errors_are_retryable() -> None:
    invalid = _answer(
        400,
        {
            "category": "VALIDATION_ERROR",
            "message": "Invalid limit value.",
            "context": {"limit": ["Must be less than or equal to 200"]},
        },
    )
    assert isinstance(invalid, InvalidInputError) and invalid.errors[0]["field"] == "limit"
    broken = _answer(
        502, {"status": "error", "message": "Bad gateway", "category": "INTERNAL_ERROR"}
    )
    assert isinstance(broken, UpstreamError) and broken.retryable and "HTTP 502" in broken.message
    assert _answer(200, {"results": []}) is None


async def test_an_upsert_answered_207_without_a_result_is_an_error() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            207,
            json={
                "status": "COMPLETE",
                "results": [],
                "errors": [{"message": "Email is invalid", "category": "VALIDATION_ERROR"}],
            },
        )

    http = build_http(
        app_key="hubspot",
        base_url="https://api.hubapi.com",
        error_parser=app.error_parser,
        transport=httpx.MockTransport(handler),
    )
    action = app.action("create_or_update_contact")
    with pytest.raises(UpstreamError, match="Email is invalid"):
        await action.perform(
            OperationContext(http=http), action.input.model_validate({"email": "x@example.com"})
        )


def test_naive_times_are_utc_and_booleans_are_hubspot_text() -> None:
    from datetime import datetime

    from connectors.hubspot.actions import iso
    from connectors.hubspot.api import properties

    assert iso(datetime(2026, 3, 1, 12, 0)) == "2026-03-01T12:00:00.000Z"
    assert properties({"a": True, "b": None, "c": 2.0}, {"b": "kept", "d": False}) == {
        "b": "kept",
        "d": "false",
        "a": "true",
        "c": "2",
    }
