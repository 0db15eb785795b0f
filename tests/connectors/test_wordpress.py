"""WordPress: every trigger and action against the simulator (connectors/wordpress/sandbox.py).

Both API root styles run through the same operations: ``/wp-json/…`` and, with pretty
permalinks turned off in the sandbox (so ``/wp-json/`` really is a 404 there),
``/?rest_route=…``.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pydantic import BaseModel, ValidationError
from starlette.applications import Starlette
from starlette.routing import Mount

from connectors.sdk import (
    AuthError,
    ConfigurationError,
    ForbiddenDestinationError,
    InvalidInputError,
    NetworkError,
    OperationContext,
    RateLimitedError,
    UpstreamError,
    build_http,
)
from connectors.sdk.netguard import ForbiddenAddress
from connectors.sdk.sandboxing import SANDBOX_BASE, sandbox_context, sandbox_http
from connectors.wordpress import actions, app, triggers
from connectors.wordpress.api import endpoint, parse_error, route_of
from connectors.wordpress.auth import (
    SANDBOX_CREDENTIALS,
    WordPressCredentials,
    relative_root,
    site_base,
)
from connectors.wordpress.sandbox import APPLICATION_PASSWORD, TINY_PNG, USERNAME, create_app

CREDS = dict(SANDBOX_CREDENTIALS)
FILES = "http://sandbox.invalid/__sandbox__/files/"


@pytest.fixture
def site() -> Starlette:
    return create_app()


@pytest.fixture(params=["wp-json/", "?rest_route=/"], ids=["pretty", "plain"])
async def ctx(request: pytest.FixtureRequest, site: Starlette) -> AsyncIterator[OperationContext]:
    context = sandbox_context(
        app, CREDS, asgi_app=site, connection_metadata={"api_root": request.param}
    )
    if request.param.startswith("?"):
        await control(context, pretty_permalinks=False)
    yield context
    await context.http.aclose()


async def control(ctx: OperationContext, **orders: Any) -> dict[str, Any]:
    """The sandbox's test-only control hook."""
    response = await ctx.http.client.post("__sandbox__/control", json=orders)
    data: dict[str, Any] = response.json()
    return data


async def run(ctx: OperationContext, key: str, **inputs: Any) -> dict[str, Any]:
    """Validate the inputs, perform the action, validate the output: what the runner does."""
    op = app.action(key)
    result = await op.perform(ctx, op.input.model_validate(inputs))
    data: dict[str, Any] = op.output.model_validate(result).model_dump(mode="json")
    return data


async def fetch(
    ctx: OperationContext, key: str, since: Any = None, **inputs: Any
) -> list[dict[str, Any]]:
    op = app.trigger(key)
    items = [dict(i) for i in await op.fetch(ctx, op.input.model_validate(inputs), since)]
    for item in items:
        op.output.model_validate(item)
        op.item_key(item)  # type: ignore[attr-defined]
    return items


# -- connection: credentials, discovery, test call ----------------------------------------


def test_credentials_form_normalizes_the_site_and_refuses_plain_http() -> None:
    form = WordPressCredentials(
        site_url="example.com/blog/wp-admin/", username="u", application_password="p"
    )
    assert form.site_url == "https://example.com/blog/"
    with pytest.raises(ValidationError, match="unencrypted"):
        WordPressCredentials(site_url="http://example.com", username="u", application_password="p")
    local = WordPressCredentials(
        site_url="http://localhost:8080",
        username="u",
        application_password="p",
        allow_insecure_http=True,
    )
    assert local.site_url == "http://localhost:8080/"
    assert (
        WordPressCredentials(**CREDS).site_url == "http://sandbox.invalid/"
    )  # the sandbox needs no flag
    with pytest.raises(ValidationError, match="not a web address"):
        WordPressCredentials(site_url="ftp://example.com", username="u", application_password="p")
    with pytest.raises(ConfigurationError, match="http://"):
        site_base({"site_url": "http://example.com"})
    assert (
        app.resolve_base_url({"site_url": "https://example.com/wp-json/"}) == "https://example.com/"
    )


def test_endpoint_builds_both_root_styles() -> None:
    assert endpoint(
        "wp-json/", "wp/v2/posts", {"per_page": 5, "status": ["publish", "draft"], "x": None}
    ) == ("wp-json/wp/v2/posts?per_page=5&status=publish%2Cdraft")
    assert (
        endpoint("?rest_route=/", "/wp/v2/posts/4", {"force": True})
        == "?rest_route=%2Fwp%2Fv2%2Fposts%2F4&force=true"
    )
    assert endpoint("https://example.org/index.php?rest_route=/", "wp/v2/tags") == (
        "https://example.org/index.php?rest_route=%2Fwp%2Fv2%2Ftags"
    )
    assert route_of(httpx.URL("https://e.org/?rest_route=/wp/v2/tags")) == "/wp/v2/tags"
    assert route_of(httpx.URL("https://e.org/blog/wp-json/wp/v2/tags")) == "/wp/v2/tags"


def test_an_advertised_root_elsewhere_is_refused() -> None:
    assert relative_root("https://example.com", "https://example.com/wp-json/") == "wp-json/"
    assert (
        relative_root("https://example.com/", "https://www.example.com/wp-json/")
        == "https://www.example.com/wp-json/"
    )
    with pytest.raises(ConfigurationError, match="another site"):
        relative_root("https://example.com/", "https://evil.example.net/wp-json/")
    with pytest.raises(ConfigurationError, match="another site"):
        relative_root("https://example.com/", "http://www.example.com/wp-json/")  # a downgrade


@pytest.mark.parametrize(("pretty", "root"), [(True, "wp-json/"), (False, "?rest_route=/")])
async def test_connection_test_discovers_the_api_root(
    site: Starlette, pretty: bool, root: str
) -> None:
    ctx = sandbox_context(app, CREDS, asgi_app=site)
    await control(ctx, pretty_permalinks=pretty)
    assert await app.auth.test(ctx) == {  # type: ignore[misc]
        "label": "admin on sandbox.invalid",
        "api_root": root,
        "user_id": 1,
        "username": "admin",
        "roles": ["administrator"],
    }


def _without_link_header(asgi: Any) -> Any:
    """The site behind a proxy that strips the Link header (some caches do)."""

    async def stripped(scope: Any, receive: Any, send: Any) -> None:
        async def strip(message: Any) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [(k, v) for k, v in message["headers"] if k.lower() != b"link"]
            await send(message)

        await asgi(scope, receive, strip)

    return stripped


@pytest.mark.parametrize(("pretty", "root"), [(True, "wp-json/"), (False, "?rest_route=/")])
async def test_connection_test_probes_when_the_root_is_not_advertised(
    site: Starlette, pretty: bool, root: str
) -> None:
    ctx = sandbox_context(app, CREDS, asgi_app=_without_link_header(site))
    await control(ctx, pretty_permalinks=pretty)
    assert (await app.auth.test(ctx))["api_root"] == root  # type: ignore[misc]


async def test_connection_test_reports_what_wordpress_says(site: Starlette) -> None:
    ctx = sandbox_context(app, CREDS, asgi_app=site)
    await control(
        ctx,
        fail_next={"status": 403, "code": "rest_disabled", "message": "The REST API is disabled."},
    )
    with pytest.raises(
        UpstreamError, match=r"WordPress: The REST API is disabled. \(rest_disabled"
    ):
        await app.auth.test(ctx)  # type: ignore[misc]


async def test_connection_test_explains_a_site_without_the_api() -> None:
    not_wordpress = Starlette()  # every URL is a 404 page
    with pytest.raises(
        UpstreamError, match="No WordPress REST API answered at http://sandbox.invalid/"
    ):
        await app.auth.test(sandbox_context(app, CREDS, asgi_app=not_wordpress))  # type: ignore[misc]


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("application_password", "wrong", "incorrect_password"),
        ("username", "nobody", "invalid_username"),
    ],
)
async def test_connection_test_refuses_bad_credentials(
    site: Starlette, field: str, value: str, code: str
) -> None:
    ctx = sandbox_context(app, {**CREDS, field: value}, asgi_app=site)
    with pytest.raises(AuthError, match=code) as caught:
        await app.auth.test(ctx)  # type: ignore[misc]
    assert caught.value.details["wp_code"] == code


async def test_works_mounted_under_a_prefix(site: Starlette) -> None:
    """``cellwright serve`` mounts sandboxes under
    /sandbox/<app>: the stored root stays relative."""
    server = Starlette(routes=[Mount("/sandbox/wordpress", app=site)])
    base = "http://sandbox.invalid/sandbox/wordpress/"
    ctx = OperationContext(
        http=sandbox_http(app, CREDS, asgi_app=server, base_url=base), credentials=CREDS
    )
    info = await app.auth.test(ctx)  # type: ignore[misc]
    assert info["api_root"] == "wp-json/"
    ctx.connection_metadata = {"api_root": info["api_root"]}
    post = await run(ctx, "create_post", title="Mounted", status="publish")
    assert post["link"] == f"{base}?p={post['id']}"


# -- actions -----------------------------------------------------------------------------


async def test_create_post_from_simple_mapped_values(ctx: OperationContext) -> None:
    """The flagship case: an approved monday.com item becomes a post."""
    media = await run(
        ctx, "upload_media", file_base64=base64.b64encode(TINY_PNG).decode(), filename="cover.png"
    )
    post = await run(
        ctx,
        "create_post",
        title="Q3 launch",
        content="<p>We <strong>shipped</strong>.</p>",
        status="publish",
        categories="News, Events",
        tags=["launch", 2],
        featured_media=media["id"],
        excerpt="Shipped.",
        slug="q3-launch",
    )
    assert (
        post["title"]["raw"] == "Q3 launch"
        and post["status"] == "publish"
        and post["slug"] == "q3-launch"
    )
    assert (
        post["content"]["raw"] == "<p>We <strong>shipped</strong>.</p>"
        and post["excerpt"]["raw"] == "Shipped."
    )
    assert post["featured_media"] == media["id"]
    news = await run(
        ctx, "find_or_create_term", taxonomy="category", name="NEWS"
    )  # case-insensitive
    assert not news["created"] and news["id"] in post["categories"] and len(post["categories"]) == 2
    again = await run(
        ctx, "create_post", title="Follow-up", categories=["news", news["id"]], tags=""
    )
    assert (
        again["categories"] == [news["id"]] and again["status"] == "draft" and again["tags"] == []
    )
    third = await run(ctx, "create_post", title="Follow-up", categories=news["id"])
    assert third["slug"] == "follow-up-2" and third["categories"] == [news["id"]]


async def test_create_post_can_refuse_unknown_terms(ctx: OperationContext) -> None:
    with pytest.raises(InvalidInputError, match="categories: no category named 'Nope'") as caught:
        await run(ctx, "create_post", title="X", categories=["Nope"], create_missing_terms=False)
    assert caught.value.errors[0]["field"] == "categories"
    assert (await run(ctx, "find_posts", search="X", status=["draft"]))["count"] == 0


async def test_create_post_dates(ctx: OperationContext) -> None:
    exact = await run(ctx, "create_post", title="Exact", date="2026-05-01T11:00:00+02:00")
    assert exact["date_gmt"] == "2026-05-01T09:00:00"
    local = await run(ctx, "create_post", title="Local", date="2026-05-01T11:00:00")
    assert local["date"] == "2026-05-01T11:00:00"


def test_inputs_name_the_missing_or_wrong_field() -> None:
    with pytest.raises(ValidationError, match="title\n  Field required"):
        app.action("create_post").input.model_validate({"content": "x"})
    with pytest.raises(ValidationError, match="status"):
        app.action("create_post").input.model_validate({"title": "x", "status": "published"})
    with pytest.raises(ValidationError, match="parent: tags have no parent"):
        app.action("find_or_create_term").input.model_validate(
            {"taxonomy": "tag", "name": "x", "parent": 1}
        )
    with pytest.raises(ValidationError, match="give exactly one"):
        app.action("upload_media").input.model_validate(
            {"source_url": "https://e.org/a.png", "file_base64": "AA=="}
        )
    with pytest.raises(ValidationError, match="http"):
        app.action("upload_media").input.model_validate({"source_url": "file:///etc/passwd"})


async def test_update_post_bumps_modified_and_reports_unknown_ids(ctx: OperationContext) -> None:
    await control(ctx, advance_clock=60)
    post = await run(ctx, "update_post", post_id=4, title="Edited", tags="fresh")
    assert (
        post["title"]["raw"] == "Edited"
        and post["modified_gmt"] > post["date_gmt"]
        and len(post["tags"]) == 1
    )
    with pytest.raises(
        UpstreamError, match=r"WordPress found nothing at /wp/v2/posts/999: Invalid post ID\."
    ) as caught:
        await run(ctx, "update_post", post_id=999, title="x")
    assert caught.value.status == 404
    with pytest.raises(InvalidInputError, match="Nothing to change"):
        await run(ctx, "update_post", post_id=4)


async def test_find_posts_by_search_and_slug(ctx: OperationContext) -> None:
    found = await run(ctx, "find_posts", slug="restapi-client-fixture-post")
    assert found["count"] == found["total"] == 1 and found["posts"][0]["id"] == 4
    assert (await run(ctx, "find_posts", search="no such words"))["posts"] == []


async def test_find_or_create_term(ctx: OperationContext) -> None:
    made = await run(
        ctx, "find_or_create_term", taxonomy="category", name="News & Events", description="Updates"
    )
    assert (
        made["created"] and made["name"] == "News &amp; Events" and made["description"] == "Updates"
    )
    found = await run(ctx, "find_or_create_term", taxonomy="category", name="news & events")
    assert found["id"] == made["id"] and not found["created"]
    child = await run(
        ctx, "find_or_create_term", taxonomy="category", name="Press", parent=made["id"]
    )
    assert child["parent"] == made["id"]
    tag = await run(ctx, "find_or_create_term", taxonomy="tag", name="REST API Client Fixture: Tag")
    assert tag["id"] == 2 and not tag["created"]
    with pytest.raises(UpstreamError, match="no tag named 'missing'"):
        await run(
            ctx, "find_or_create_term", taxonomy="tag", name="missing", create_if_missing=False
        )


async def test_create_term_returns_the_existing_one_on_term_exists(ctx: OperationContext) -> None:
    """Another run created it between our search and our create: WordPress says term_exists."""
    term, created = await actions.create_term(ctx, "category", "uncategorized")
    assert term["id"] == 1 and not created
    with pytest.raises(UpstreamError, match="Parent term does not exist"):
        await actions.create_term(ctx, "category", "Orphan", parent=999)


async def test_upload_media_from_a_url_without_sending_the_password(ctx: OperationContext) -> None:
    # The sandbox's file host answers 400 to any request carrying Authorization.
    media = await run(
        ctx,
        "upload_media",
        source_url=f"{FILES}sunrise.png",
        alt_text="Sunrise",
        caption="Morning",
        title="The sunrise",
        post=4,
    )
    assert media["mime_type"] == "image/png" and media["media_type"] == "image"
    assert media["source_url"].endswith("/sunrise.png") and media["alt_text"] == "Sunrise"
    assert (
        media["caption"]["raw"] == "Morning"
        and media["title"]["raw"] == "The sunrise"
        and media["post"] == 4
    )
    plain = await run(ctx, "upload_media", source_url=f"{FILES}notes", content_type="text/plain")
    assert plain["source_url"].endswith("/notes.txt") and plain["media_type"] == "file"


async def test_upload_media_from_base64(ctx: OperationContext) -> None:
    data_url = "data:image/png;base64," + base64.b64encode(TINY_PNG).decode()
    media = await run(ctx, "upload_media", file_base64=data_url, filename="Ünïcode photo")
    assert media["source_url"].endswith("/Unicode-photo.png") and media["mime_type"] == "image/png"
    with pytest.raises(InvalidInputError, match="file_base64: not valid base64"):
        await run(ctx, "upload_media", file_base64="***", filename="x.png")


async def test_upload_media_failures_name_the_field(
    ctx: OperationContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(InvalidInputError, match="source_url: the download answered HTTP 404"):
        await run(ctx, "upload_media", source_url=f"{FILES}missing.png")
    with pytest.raises(InvalidInputError, match="content_type: cannot tell"):
        await run(ctx, "upload_media", source_url=f"{FILES}blob")
    with pytest.raises(UpstreamError, match="not allowed to upload this file type") as caught:
        await run(
            ctx,
            "upload_media",
            file_base64="TVo=",
            filename="tool.exe",
            content_type="application/x-msdownload",
        )
    assert caught.value.status == 500
    monkeypatch.setattr(actions, "MAX_UPLOAD_BYTES", 10)
    with pytest.raises(InvalidInputError, match="larger than"):
        await run(ctx, "upload_media", source_url=f"{FILES}sunrise.png")
    with pytest.raises(InvalidInputError, match="larger than"):
        await run(
            ctx, "upload_media", file_base64=base64.b64encode(TINY_PNG).decode(), filename="a.png"
        )


async def test_upload_media_downloads_only_from_public_addresses() -> None:
    """The network guard applies to downloads: literal IPs here, resolved names in the transport."""

    def resolver_refuses(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused") from ForbiddenAddress(
            "files.example resolves to 10.0.0.1"
        )

    ctx = OperationContext(
        http=build_http(app_key="wordpress", transport=httpx.MockTransport(resolver_refuses)),
        credentials=CREDS,
    )
    for source in ("http://169.254.169.254/latest/meta-data", "https://files.example/a.png"):
        with pytest.raises(ForbiddenDestinationError):
            await run(ctx, "upload_media", source_url=source)


async def test_upload_media_network_failure_is_retryable() -> None:
    def unreachable(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    ctx = OperationContext(
        http=build_http(app_key="wordpress", transport=httpx.MockTransport(unreachable)),
        credentials=CREDS,
    )
    with pytest.raises(NetworkError, match="could not download from files.example") as caught:
        await run(ctx, "upload_media", source_url="https://files.example/a.png")
    assert caught.value.retryable


async def test_create_comment(ctx: OperationContext) -> None:
    comment = await run(
        ctx, "create_comment", post=4, content="Great post", author_name="Ana", status="hold"
    )
    assert comment["post"] == 4 and comment["status"] == "hold" and comment["author_name"] == "Ana"
    with pytest.raises(ValidationError, match="author_email"):
        await run(ctx, "create_comment", post=4, content="x", author_email="not-an-email")
    with pytest.raises(UpstreamError, match="without a post"):
        await run(ctx, "create_comment", post=999, content="x")


async def test_create_page(ctx: OperationContext) -> None:
    page = await run(
        ctx,
        "create_page",
        title="About",
        content="Who we are.",
        status="publish",
        parent=7,
        menu_order=2,
    )
    assert page["type"] == "page" and page["parent"] == 7 and page["menu_order"] == 2
    assert page["content"]["rendered"] == "<p>Who we are.</p>\n"


async def test_delete_post_trashes_then_deletes(ctx: OperationContext) -> None:
    trashed = await run(ctx, "delete_post", post_id=4)
    assert (
        trashed == {"id": 4, "deleted": False, "post": trashed["post"]}
        and trashed["post"]["status"] == "trash"
    )
    with pytest.raises(UpstreamError, match="already been deleted") as caught:
        await run(ctx, "delete_post", post_id=4)
    assert caught.value.status == 410
    gone = await run(ctx, "delete_post", post_id=4, force=True)
    assert gone["deleted"] and gone["post"]["id"] == 4
    with pytest.raises(UpstreamError, match="Invalid post ID"):
        await run(ctx, "delete_post", post_id=4, force=True)


# -- failures every operation can meet ----------------------------------------------------


async def test_rate_limit_and_server_errors(ctx: OperationContext) -> None:
    await control(ctx, fail_next={"status": 429, "retry_after": 7})
    with pytest.raises(RateLimitedError) as limited:
        await run(ctx, "find_posts")
    assert limited.value.retry_after == 7
    await control(
        ctx, fail_next={"status": 503, "code": "maintenance", "message": "Briefly unavailable."}
    )
    with pytest.raises(UpstreamError, match="Briefly unavailable") as failed:
        await run(ctx, "create_post", title="x")
    assert failed.value.retryable


async def test_wrong_or_missing_credentials(site: Starlette) -> None:
    wrong = sandbox_context(app, {**CREDS, "application_password": "nope nope"}, asgi_app=site)
    with pytest.raises(AuthError, match="invalid application password"):
        await run(wrong, "find_posts")
    anonymous = sandbox_context(
        app, {**CREDS, "username": "", "application_password": ""}, asgi_app=site
    )
    anonymous.http.client.auth = None  # a visitor: public reads work, writes are refused
    assert (await run(anonymous, "find_posts"))["count"] == 1
    with pytest.raises(AuthError, match="rest_cannot_create"):
        await run(anonymous, "create_post", title="x")


async def test_wordpress_validation_errors_name_the_field(ctx: OperationContext) -> None:
    root = ctx.connection_metadata["api_root"]
    with pytest.raises(
        InvalidInputError,
        match=r"WordPress rejected per_page must be between 1 \(inclusive\) and 100",
    ) as caught:
        await ctx.http.get(endpoint(root, "wp/v2/posts", {"per_page": 500}))
    assert caught.value.errors[0]["field"] == "per_page"
    with pytest.raises(
        InvalidInputError, match="WordPress rejected author_email: Invalid email address"
    ):
        await ctx.http.post(
            endpoint(root, "wp/v2/comments"),
            json={"post": 4, "content": "x", "author_email": "nope"},
        )


async def test_a_stale_api_root_says_to_test_the_connection_again(site: Starlette) -> None:
    ctx = sandbox_context(app, CREDS, asgi_app=site, connection_metadata={"api_root": "wp-json/"})
    await control(ctx, pretty_permalinks=False)  # the site's permalinks changed since the test call
    with pytest.raises(
        UpstreamError, match="/wp/v2/posts answered with a web page.*test the connection again"
    ):
        await run(ctx, "find_posts")


async def test_missing_parameter_is_named(ctx: OperationContext) -> None:
    with pytest.raises(InvalidInputError, match="WordPress needs name") as caught:
        await ctx.http.post(endpoint(ctx.connection_metadata["api_root"], "wp/v2/tags"), json={})
    assert caught.value.errors == [{"field": "name", "message": "required"}]


def test_error_parser_leaves_other_responses_to_the_default_mapping() -> None:
    request = httpx.Request("GET", "https://e.org/wp-json/wp/v2/posts")
    assert parse_error(httpx.Response(200, request=request), {"code": "x"}) is None
    assert parse_error(httpx.Response(502, request=request), "<html>Bad gateway</html>") is None
    error = parse_error(
        httpx.Response(403, request=request),
        {
            "code": "rest_forbidden",
            "message": "<strong>Error:</strong> Sorry &amp; no.",
            "data": {"status": 403},
        },
    )
    assert isinstance(error, UpstreamError) and error.message.startswith(
        "WordPress refused GET /wp/v2/posts: Error: Sorry & no. (rest_forbidden)"
    )
    other = parse_error(
        httpx.Response(409, request=request),
        {"code": "rest_conflict", "message": "Busy &amp; <em>locked</em>."},
    )
    assert (
        isinstance(other, UpstreamError)
        and other.message == "WordPress: Busy & locked. (rest_conflict, HTTP 409 on /wp/v2/posts)"
    )


# -- triggers ----------------------------------------------------------------------------


async def test_new_post_first_poll_then_only_newer(ctx: OperationContext) -> None:
    first = await fetch(ctx, "new_post")
    assert [p["id"] for p in first] == [4]
    since = first[0]["date_gmt"]
    await control(ctx, advance_clock=10)
    a = await run(ctx, "create_post", title="A", status="publish")
    await control(ctx, advance_clock=10)
    b = await run(ctx, "create_post", title="B", status="publish")
    draft = await run(ctx, "create_post", title="Draft")
    # Oldest first. The cursor's own second comes again (post 4): ``after`` is exclusive and
    # a post published later in that same second must not be lost; the engine's seen-ids drop it.
    assert [p["id"] for p in await fetch(ctx, "new_post", since)] == [4, a["id"], b["id"]]
    assert [p["id"] for p in await fetch(ctx, "new_post", b["date_gmt"])] == [b["id"]]
    assert [p["id"] for p in await fetch(ctx, "new_post", since, status=["draft"])] == [draft["id"]]


async def test_polling_follows_pages_up_to_the_cap(
    ctx: OperationContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    await control(ctx, advance_clock=10)
    made = [
        (await run(ctx, "create_post", title=f"P{i}", status="publish"))["id"] for i in range(5)
    ]
    monkeypatch.setattr(triggers, "PER_PAGE", 2)
    assert [p["id"] for p in await fetch(ctx, "new_post", "2020-01-01T00:00:00")] == made  # 3 pages
    monkeypatch.setattr(triggers, "MAX_PAGES", 2)
    assert [p["id"] for p in await fetch(ctx, "new_post", "2020-01-01T00:00:00")] == made[:4]


async def test_new_or_updated_post_fires_again_after_an_edit(ctx: OperationContext) -> None:
    op = app.trigger("new_or_updated_post")
    first = await fetch(ctx, "new_or_updated_post")
    since, key = first[0]["modified_gmt"], op.item_key(first[0])  # type: ignore[attr-defined]
    assert key == f"4:{since}"
    await control(ctx, advance_clock=30)
    await run(ctx, "update_post", post_id=4, content="Changed")
    changed = await fetch(ctx, "new_or_updated_post", since)
    assert [p["id"] for p in changed] == [4] and op.item_key(changed[0]) != key  # type: ignore[attr-defined]
    again = await fetch(ctx, "new_or_updated_post", changed[0]["modified_gmt"])
    assert op.item_key(again[0]) == op.item_key(changed[0])  # same version: the engine drops it  # type: ignore[attr-defined]


async def test_new_comment_by_status_and_post(ctx: OperationContext) -> None:
    assert [c["id"] for c in await fetch(ctx, "new_comment")] == [2]
    await control(ctx, advance_clock=10)
    approved = await run(ctx, "create_comment", post=4, content="Hi")
    held = await run(ctx, "create_comment", post=4, content="Spam?", status="hold")
    since = "2017-02-14T00:00:01"  # just after the seeded items
    assert [c["id"] for c in await fetch(ctx, "new_comment", since)] == [approved["id"]]
    assert [c["id"] for c in await fetch(ctx, "new_comment", since, status="hold")] == [held["id"]]
    assert [c["id"] for c in await fetch(ctx, "new_comment", since, status="all", post=7)] == []


async def test_new_media_by_type(ctx: OperationContext) -> None:
    assert [m["id"] for m in await fetch(ctx, "new_media")] == [10]
    await control(ctx, advance_clock=10)
    image = await run(ctx, "upload_media", source_url=f"{FILES}a.png")
    await run(ctx, "upload_media", file_base64="aGk=", filename="hi.txt")
    since = "2017-02-14T00:00:01"  # just after the seeded items
    assert [m["id"] for m in await fetch(ctx, "new_media", since, media_type="image")] == [
        image["id"]
    ]
    assert len(await fetch(ctx, "new_media", since)) == 2


# -- declarations ------------------------------------------------------------------------


OPERATIONS = [*app.triggers, *app.actions]


@pytest.mark.parametrize("op", OPERATIONS, ids=[op.key for op in OPERATIONS])
def test_sample_and_schemas(op: Any) -> None:
    op.output.model_validate(dict(op.sample))
    assert op.input_schema()["type"] == "object" and op.output_schema()["type"] == "object"

    def described(model: type[BaseModel]) -> None:
        for name, info in model.model_fields.items():
            assert info.description, f"{model.__name__}.{name} has no description"

    described(op.input)
    described(op.output)


async def test_examples_run_against_a_fresh_sandbox() -> None:
    for op in app.actions:
        ctx = sandbox_context(app, app.sandbox_credentials)
        await run(ctx, op.key, **dict(op.example or {}))
    for trig in app.triggers:
        assert await fetch(
            sandbox_context(app, app.sandbox_credentials), trig.key, **dict(trig.example or {})
        )


def test_app_declaration() -> None:
    described = app.describe()
    assert described["auth"] == "basic" and len(app.triggers) >= 3 and len(app.actions) >= 5
    fields = described["auth_schema"]["fields_schema"]
    assert fields["properties"]["application_password"]["format"] == "password"
    assert fields["required"] == ["site_url", "username", "application_password"]


# -- the simulator answers like WordPress where the connector does not go ------------------

AUTH = (USERNAME, APPLICATION_PASSWORD)
UPLOAD = {"Content-Type": "image/png", "Content-Disposition": 'attachment; filename="a.png"'}


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "code"),
    [
        ("GET", "wp/v2/posts?page=5", {}, 400, "rest_post_invalid_page_number"),
        ("GET", "wp/v2/posts?status=draft", {}, 400, "rest_invalid_param"),
        ("GET", "wp/v2/posts?per_page=abc", {}, 400, "rest_invalid_param"),
        ("GET", "wp/v2/posts?orderby=bogus", {}, 400, "rest_invalid_param"),
        (
            "POST",
            "wp/v2/posts",
            {"auth": AUTH, "json": {"title": "x", "date": "yesterday"}},
            400,
            "rest_invalid_param",
        ),
        (
            "POST",
            "wp/v2/posts",
            {"auth": AUTH, "json": {"title": "x", "author": 99}},
            400,
            "rest_invalid_author",
        ),
        (
            "POST",
            "wp/v2/posts",
            {"auth": AUTH, "json": {"title": "x", "featured_media": 4}},
            400,
            "rest_invalid_featured_media",
        ),
        (
            "POST",
            "wp/v2/posts",
            {"auth": AUTH, "content": b"{bad", "headers": {"Content-Type": "application/json"}},
            400,
            "rest_invalid_json",
        ),
        ("POST", "wp/v2/posts/4", {"json": {"title": "x"}}, 401, "rest_cannot_edit"),
        (
            "POST",
            "wp/v2/posts/4",
            {"auth": AUTH, "json": {"author": 99}},
            400,
            "rest_invalid_author",
        ),
        ("DELETE", "wp/v2/posts/4", {}, 401, "rest_cannot_delete"),
        ("POST", "wp/v2/media", {"content": b"x", "headers": UPLOAD}, 401, "rest_cannot_create"),
        ("POST", "wp/v2/media", {"auth": AUTH, "headers": UPLOAD}, 400, "rest_upload_no_data"),
        (
            "POST",
            "wp/v2/media",
            {"auth": AUTH, "content": b"x"},
            400,
            "rest_upload_no_content_type",
        ),
        (
            "POST",
            "wp/v2/media",
            {"auth": AUTH, "content": b"x", "headers": {"Content-Type": "image/png"}},
            400,
            "rest_upload_no_content_disposition",
        ),
        (
            "POST",
            "wp/v2/media",
            {"auth": AUTH, "content": b"x", "headers": {**UPLOAD, "Content-Disposition": "inline"}},
            400,
            "rest_upload_invalid_disposition",
        ),
        ("POST", "wp/v2/categories", {"json": {"name": "x"}}, 401, "rest_cannot_create"),
        ("GET", "wp/v2/tags/1", {}, 404, "rest_term_invalid"),
        ("GET", "wp/v2/comments?status=hold", {}, 401, "rest_forbidden_param"),
        (
            "POST",
            "wp/v2/comments",
            {"json": {"post": 4, "content": "x"}},
            401,
            "rest_comment_login_required",
        ),
        (
            "POST",
            "wp/v2/comments",
            {"auth": AUTH, "json": {"post": 4, "content": " "}},
            400,
            "rest_comment_content_invalid",
        ),
        ("GET", "wp/v2/users/me", {}, 401, "rest_not_logged_in"),
        (
            "GET",
            "wp/v2/users/me",
            {"headers": {"Authorization": "Basic !!!"}},
            401,
            "invalid_username",
        ),
        ("GET", "wp/v2/widgets", {}, 404, "rest_no_route"),
        (
            "POST",
            "wp/v2/posts",
            {"auth": AUTH, "json": {"title": "A bare string title is accepted"}},
            201,
            None,
        ),
        ("GET", "", {}, 200, None),
    ],
)
async def test_sandbox_answers_like_wordpress(
    site: Starlette, method: str, path: str, kwargs: dict[str, Any], status: int, code: str | None
) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=site), base_url=SANDBOX_BASE
    ) as client:
        response = await client.request(method, f"/wp-json/{path}", **kwargs)
    assert response.status_code == status, response.text
    body = response.json()
    if code:
        assert body["code"] == code and body["data"]["status"] == status
    elif path == "":
        assert "wp/v2" in body["namespaces"] and "/wp/v2/posts" in body["routes"]


async def test_sandbox_file_host_refuses_credentials(site: Starlette) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=site), base_url=SANDBOX_BASE, auth=AUTH
    ) as client:
        assert (await client.get("/__sandbox__/files/a.png")).status_code == 400
