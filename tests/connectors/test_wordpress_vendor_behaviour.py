"""What a real WordPress site does that a happy-path simulator would not, and how the
connector copes (issue #9): titles rendered with HTML entities, a site time zone that is
not GMT, pages counted by ``X-WP-TotalPages``, and a host's rate limiter (core WordPress
has none; hosts and firewalls answer 429 with ``Retry-After``)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from connectors.sdk import OperationContext, RateLimitedError
from connectors.sdk.sandboxing import SANDBOX_BASE, sandbox_context
from connectors.wordpress import app, triggers
from connectors.wordpress.auth import SANDBOX_CREDENTIALS
from connectors.wordpress.sandbox import create_app


@pytest.fixture
def site() -> Starlette:
    return create_app()


@pytest.fixture
def ctx(site: Starlette) -> OperationContext:
    return sandbox_context(
        app, dict(SANDBOX_CREDENTIALS), asgi_app=site, connection_metadata={"api_root": "wp-json/"}
    )


async def control(site: Starlette, **orders: Any) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=site), base_url=SANDBOX_BASE
    ) as http:
        (await http.post("/__sandbox__/control", json=orders)).raise_for_status()


async def run(ctx: OperationContext, key: str, **inputs: Any) -> Any:
    op = app.action(key)
    return await op.perform(ctx, op.input.model_validate(inputs))


async def test_titles_come_with_entities_and_the_output_has_them_decoded(
    ctx: OperationContext,
) -> None:
    post = await run(ctx, "create_post", title='Ada & Grace\'s "launch" notes', status="publish")
    assert (
        post["title"]["rendered"] == "Ada &#038; Grace&#8217;s &#8220;launch&#8221; notes"
    )  # as WordPress renders it
    assert post["title_text"] == "Ada & Grace’s “launch” notes"
    app.action("create_post").output.model_validate(post)


async def test_site_time_differs_from_gmt_and_polling_uses_gmt(
    ctx: OperationContext, site: Starlette
) -> None:
    trigger = app.trigger("new_post")
    first = await triggers.fetch_new_posts(ctx, trigger.input.model_validate({}), None)
    cursor = max(p["date_gmt"] for p in first)
    await control(site, advance_clock=60)
    post = await run(ctx, "create_post", title="After the cursor", status="publish")
    assert post["date"] != post["date_gmt"]  # UTC+2: the local date is two hours ahead
    found = await triggers.fetch_new_posts(ctx, trigger.input.model_validate({}), cursor)
    assert post["id"] in {p["id"] for p in found}
    assert trigger.cursor_field == "date_gmt"  # type: ignore[attr-defined]


async def test_polling_reads_every_page_wordpress_counts(
    ctx: OperationContext, monkeypatch: pytest.MonkeyPatch, site: Starlette
) -> None:
    trigger = app.trigger("new_post")
    first = await triggers.fetch_new_posts(ctx, trigger.input.model_validate({}), None)
    cursor = max(p["date_gmt"] for p in first)
    await control(site, advance_clock=60)
    made = [await run(ctx, "create_post", title=f"Post {n}", status="publish") for n in range(5)]
    monkeypatch.setattr(triggers, "PER_PAGE", 2)  # 5 posts: pages of 2, 2 and a short one of 1
    found = await triggers.fetch_new_posts(ctx, trigger.input.model_validate({}), cursor)
    assert {p["id"] for p in made} <= {p["id"] for p in found}


async def test_a_hosts_rate_limit_is_retried_after_what_it_says(
    ctx: OperationContext, site: Starlette
) -> None:
    await control(site, fail_next={"status": 429, "retry_after": 7})
    with pytest.raises(RateLimitedError) as caught:
        await run(ctx, "create_post", title="Later")
    assert caught.value.retryable and caught.value.retry_after == 7


async def test_a_role_that_may_not_create_posts_is_a_clear_permission_error(
    site: Starlette,
) -> None:
    """A subscriber's application password: reads work, creating a post is WordPress's
    403 ``rest_cannot_create``: reported as such, not retried, and not a broken login."""
    from connectors.sdk import AuthError, UpstreamError
    from connectors.wordpress.sandbox_site import SUBSCRIBER_CREDENTIALS

    reader = sandbox_context(
        app,
        {**SANDBOX_CREDENTIALS, **SUBSCRIBER_CREDENTIALS},
        asgi_app=site,
        connection_metadata={"api_root": "wp-json/"},
    )
    assert (await app.auth.test(reader))["label"]  # type: ignore[misc]  # the credentials are fine
    with pytest.raises(UpstreamError) as caught:
        await run(reader, "create_post", title="Not mine to write")
    error = caught.value
    assert not isinstance(error, AuthError) and not error.retryable and error.status == 403
    assert error.body == {  # core's WP_Error, as WP_REST_Server sends it
        "code": "rest_cannot_create",
        "message": "Sorry, you are not allowed to create posts as this user.",
        "data": {"status": 403},
    }
    assert error.details["wp_code"] == "rest_cannot_create" and error.details["permission"] is True
    assert error.message.startswith(
        "WordPress refused POST /wp/v2/posts: Sorry, "
        "you are not allowed to create posts as this user. (rest_cannot_create)."
    )
    assert "give that user a role that can" in error.message
    assert SUBSCRIBER_CREDENTIALS["application_password"] not in error.message
