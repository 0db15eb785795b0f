"""What real Stripe does that a happy-path simulator would not, and how the connector copes
(issue #9): the rate limit, short pages, objects of the same second, an unknown version,
a restricted key's missing permission, and webhook deliveries that reach the scenario."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from cells import document as documents
from connectors.sdk import OperationContext, RateLimitedError, UpstreamError
from connectors.sdk.http import build_http
from connectors.sdk.sandboxing import SANDBOX_BASE, sandbox_context, shared_sandbox
from connectors.stripe import app, sandbox

KEY = {"api_key": "sk_test_cellwright"}


@pytest.fixture
def stripe() -> Starlette:
    return sandbox.create_app()


def context(
    asgi: Starlette, credentials: dict[str, Any] = KEY, key: str = "cw-key"
) -> OperationContext:
    return sandbox_context(app, credentials, asgi_app=asgi, idempotency_key=key)


async def settings(asgi: Starlette, **given: Any) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=asgi), base_url=SANDBOX_BASE
    ) as http:
        (await http.post("/__sandbox__/settings", json=given)).raise_for_status()


async def run(ctx: OperationContext, op: str, data: dict[str, Any]) -> Any:
    action = app.action(op)
    return await action.perform(ctx, action.input.model_validate(data))


async def test_over_the_rate_limit_stripe_answers_429_and_the_run_is_retried_later(
    stripe: Starlette,
) -> None:
    await settings(stripe, rate_limit=[2, 60])
    ctx = context(stripe)
    await run(ctx, "find_customer", {"email": "ada@example.com"})
    await run(ctx, "find_customer", {"email": "grace@example.com"})
    with pytest.raises(RateLimitedError, match="Request rate limit exceeded") as caught:
        await run(ctx, "find_customer", {"email": "ada@example.com"})
    # retryable: the runner parks the run ("waiting") and tries again with backoff
    assert caught.value.retryable and caught.value.details["status"] == 429
    await settings(stripe, rate_limit=[25, 1])
    assert (await run(ctx, "find_customer", {"email": "ada@example.com"})).found


async def test_polling_follows_has_more_through_short_pages(stripe: Starlette) -> None:
    trigger = app.trigger("new_customer_polling")
    first = await trigger.fetch(context(stripe), None, None)  # type: ignore[attr-defined]
    cursor = max(c["created"] for c in first)
    await settings(stripe, page_cap=3)  # Stripe may answer fewer objects than asked, with has_more
    made = [
        await run(context(stripe, key=f"k{i}"), "create_customer", {"email": f"c{i}@example.com"})
        for i in range(8)
    ]
    page = await context(stripe).http.get("/v1/customers", params={"limit": 100})
    assert len(page["data"]) == 3 and page["has_more"] is True
    later = await trigger.fetch(context(stripe), None, cursor)  # type: ignore[attr-defined]
    assert {c["id"] for c in made} <= {c["id"] for c in later}


async def test_customers_made_in_the_second_of_the_last_poll_are_not_missed(
    stripe: Starlette,
) -> None:
    """Polling by ``created`` (Unix seconds): a customer made after a poll but in the same
    second as the newest one it saw has the cursor's value, so the next poll asks
    ``created[gte]`` and the engine drops the ones it has seen by id."""
    trigger = app.trigger("new_customer_polling")
    await settings(stripe, frozen_at=1767300000)
    early = [
        await run(
            context(stripe, key=f"e{i}"), "create_customer", {"email": f"early{i}@example.com"}
        )
        for i in range(2)
    ]
    seen = await trigger.fetch(context(stripe), None, None)  # type: ignore[attr-defined]
    cursor = max(c["created"] for c in seen)
    assert cursor == 1767300000 and {c["id"] for c in early} <= {c["id"] for c in seen}
    late = await run(context(stripe, key="late"), "create_customer", {"email": "late@example.com"})
    assert late["created"] == cursor  # the same second
    again = await trigger.fetch(context(stripe), None, cursor)  # type: ignore[attr-defined]
    new = {trigger.item_key(c) for c in again} - {trigger.item_key(c) for c in seen}  # type: ignore[attr-defined]
    assert new == {late["id"]}


async def test_an_unknown_stripe_version_is_refused_the_way_stripe_refuses_it(
    stripe: Starlette,
) -> None:
    http = build_http(
        app_key="stripe",
        base_url=SANDBOX_BASE,
        auth=app.auth.httpx_auth(KEY),
        headers={"Stripe-Version": "2099-01-01.nope"},
        error_parser=app.error_parser,
        transport=httpx.ASGITransport(app=stripe),
    )
    with pytest.raises(
        UpstreamError, match=r"Invalid Stripe API version: 2099-01-01\.nope"
    ) as caught:
        await run(
            OperationContext(http=http, credentials=KEY),
            "find_customer",
            {"email": "ada@example.com"},
        )
    assert caught.value.status == 400 and not caught.value.retryable
    assert (
        await run(context(stripe), "find_customer", {"email": "ada@example.com"})
    ).found  # the pinned version is known


async def test_a_restricted_key_without_the_permission_gets_a_clear_error(
    stripe: Starlette,
) -> None:
    key = {"api_key": "rk_test_readonly"}
    await settings(stripe, restricted_key={"key": key["api_key"], "permissions": ["customer_read"]})
    assert (await run(context(stripe, key), "find_customer", {"email": "ada@example.com"})).found
    with pytest.raises(UpstreamError, match="needs the permission rak_customer_write") as caught:
        await run(context(stripe, key), "create_customer", {"email": "new@example.com"})
    assert caught.value.status == 403 and not caught.value.retryable
    assert "rk_test_readonly" not in caught.value.message


async def test_a_sandbox_stripe_trigger_fires_when_the_sandbox_makes_the_event(
    svc: Any, user: Any, asgi_app: Any, helpers: Any
) -> None:
    """Issue #9: the Stripe sandbox prepared webhooks and never sent them, so a Stripe
    trigger on a sandbox connection never fired. Now a customer made through the sandbox
    reaches the scenario's /hooks/ URL, signed, and starts a run."""
    connection = await svc.create_connection(user.id, "stripe", credentials={}, sandbox=True)
    text = (
        "name: New Stripe customers\ncells:\n"
        "  - {id: t, kind: trigger, app: stripe, "
        f"operation: new_customer, connection: {connection.id}}}\n"
    )
    scenario = await svc.enable(user.id, svc.import_scenario(user.id, documents.loads(text)).id)
    ctx = await svc.contexts.for_connection(connection, app)
    ctx.idempotency_key = f"demo-{scenario.id}"
    customer = await run(ctx, "create_customer", {"email": "webhook@example.com", "name": "Hook"})
    outbox = shared_sandbox("stripe", app.sandbox).state.stripe.outbox
    await outbox.drain()
    [(delivery, status)] = [(d, s) for d, s in outbox.sent if d.url == svc.webhook_url(scenario)]
    assert status == 202 and delivery.headers["Stripe-Signature"].startswith("t=")
    execution = await helpers.wait_for(
        lambda: next(iter(svc.store.list_executions(user.id, scenario_id=scenario.id)), None)
    )
    done = await helpers.finished(svc, execution.id)
    assert done["status"] == "completed"
    assert (
        done["trigger"]["id"] == customer["id"]
        and done["trigger"]["event_type"] == "customer.created"
    )
    await svc.disable(user.id, scenario.id)  # removes the endpoint: later customers go nowhere
    ctx.idempotency_key = f"later-{scenario.id}"
    await run(ctx, "create_customer", {"email": "after@example.com"})
    await outbox.drain()
    assert len([d for d, _ in outbox.sent if d.url == svc.webhook_url(scenario)]) == 1
