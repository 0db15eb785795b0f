"""Contract: every request the WordPress connector sends matches WordPress's route index.

The index (``GET /wp-json/`` of WordPress 6.8-alpha, connectors/wordpress/spec/) lists
each route as a regex with its endpoints' methods and declared arguments. A recording
transport captures every request while the connection test, all actions and all
triggers run against the sandbox, once per API root style. Each REST request must
match a route, use one of its endpoint's methods and send only declared arguments
whose values validate against their schemas (jsonschema; query strings coerced the
way WordPress coerces them). Non-REST requests may only be root discovery on the home
page and credential-free downloads of third-party files.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from starlette.applications import Starlette

from connectors.sdk import CellwrightError, OperationContext, build_http
from connectors.sdk.sandboxing import SANDBOX_BASE, RecordingTransport
from connectors.wordpress import actions, app
from connectors.wordpress.auth import SANDBOX_CREDENTIALS
from connectors.wordpress.sandbox import TINY_PNG, create_app

SPEC = Path(actions.__file__).parent / "spec" / "wp-json-index.subset.json"
ROUTES = [
    (re.compile(f"^{pattern}$"), pattern, spec)
    for pattern, spec in json.loads(SPEC.read_text())["routes"].items()
]
CREDS = dict(SANDBOX_CREDENTIALS)
FILES = f"{SANDBOX_BASE}/__sandbox__/files/"
WP_DATE = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}(?::\d{2})?)?$"
)  # rest_parse_date()

FORMATS = jsonschema.FormatChecker(formats=())
FORMATS.checks("date-time")(lambda v: not isinstance(v, str) or bool(WP_DATE.match(v)))
FORMATS.checks("email")(
    lambda v: not isinstance(v, str) or bool(re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", v))
)
FORMATS.checks("uri")(
    lambda v: not isinstance(v, str) or bool(re.match(r"^[a-z][a-z0-9+.-]*:", v, re.I))
)
FORMATS.checks("ip")(lambda v: not isinstance(v, str) or bool(re.fullmatch(r"[\d.:a-fA-F]+", v)))

EXPECTED = {
    ("/wp/v2/users/me", "GET"),
    ("/wp/v2/posts", "GET"),
    ("/wp/v2/posts", "POST"),
    (r"/wp/v2/posts/(?P<id>[\d]+)", "POST"),
    (r"/wp/v2/posts/(?P<id>[\d]+)", "DELETE"),
    ("/wp/v2/pages", "POST"),
    ("/wp/v2/media", "GET"),
    ("/wp/v2/media", "POST"),
    (r"/wp/v2/media/(?P<id>[\d]+)", "POST"),
    ("/wp/v2/categories", "GET"),
    ("/wp/v2/categories", "POST"),
    (r"/wp/v2/categories/(?P<id>[\d]+)", "GET"),
    ("/wp/v2/tags", "GET"),
    ("/wp/v2/tags", "POST"),
    ("/wp/v2/comments", "GET"),
    ("/wp/v2/comments", "POST"),
}


def json_schema(schema: Any) -> Any:
    """A WordPress arg schema as JSON Schema: drop its own keywords (``required`` is a
    boolean there, ``context``/``readonly`` are annotations) and PHP's ``[]`` for ``{}``."""
    if isinstance(schema, list):
        return [json_schema(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {
        k: json_schema(v)
        for k, v in schema.items()
        if k not in ("required", "context", "readonly", "arg_options")
    }
    if out.get("properties") == []:
        out["properties"] = {}
    return out


def coerce(value: str, schema: dict[str, Any]) -> Any:
    """A query-string value as WordPress reads it (rest_sanitize_value_from_schema)."""
    types = schema.get("type") or []
    types = [types] if isinstance(types, str) else types
    if "array" in types:
        return [coerce(v, schema.get("items", {})) for v in re.split(r"[,\s]+", value) if v]
    if "integer" in types and re.fullmatch(r"-?\d+", value):
        return int(value)
    if "boolean" in types and value in ("true", "false", "1", "0"):
        return value in ("true", "1")
    return value


def route_of(request: httpx.Request) -> tuple[str, list[tuple[str, str]]] | None:
    """The REST route and the other query parameters, for either root style."""
    params = request.url.params.multi_items()
    if "rest_route" in request.url.params:
        return request.url.params["rest_route"], [(k, v) for k, v in params if k != "rest_route"]
    if request.url.path.startswith("/wp-json"):
        return request.url.path.removeprefix("/wp-json") or "/", params
    return None


def violations(request: httpx.Request) -> list[str]:
    """Why ``request`` does not follow the route index (empty: it does)."""
    where = f"{request.method} {request.url}"
    found = route_of(request)
    if found is None:
        home = (
            request.url.path == "/" and not request.url.query and request.method in ("GET", "HEAD")
        )
        file = (
            request.url.path.startswith("/__sandbox__/files/")
            and "authorization" not in request.headers
        )
        return (
            []
            if home or file
            else [f"{where}: neither a REST request, root discovery nor a credential-free download"]
        )
    route, query = found
    match = next(((m, spec) for regex, _, spec in ROUTES if (m := regex.match(route))), None)
    if match is None:
        return [f"{where}: no route {route} in the index"]
    endpoint = next((e for e in match[1]["endpoints"] if request.method in e["methods"]), None)
    if endpoint is None:
        return [f"{where}: {request.method} is not among the methods of {route}"]
    args: dict[str, Any] = endpoint.get("args", {})
    problems = [
        f"{where}: '{k}' sent twice (PHP keeps only the last)"
        for k in {k for k, _ in query if [q for q, _ in query].count(k) > 1}
    ]
    sent: dict[str, Any] = {k: coerce(v, args.get(k, {})) for k, v in query}
    sent.update({k: coerce(v, args.get(k, {})) for k, v in match[0].groupdict().items()})
    content_type = request.headers.get("content-type", "")
    if "json" in content_type:
        body = json.loads(request.content)
        problems += [] if isinstance(body, dict) else [f"{where}: the JSON body is not an object"]
        sent.update(body if isinstance(body, dict) else {})
    elif request.content:  # only a media upload sends a raw body
        disposition = request.headers.get("content-disposition", "")
        if route != "/wp/v2/media" or not re.fullmatch(
            r'attachment; filename="[\x21-\x7e ]+\.\w+"', disposition
        ):
            problems.append(
                f"{where}: a raw body needs POST /wp/v2/media and 'attachment; "
                f'filename="….ext"\' (got {disposition!r})'
            )
        if not content_type:
            problems.append(f"{where}: an upload needs its Content-Type")
    for name, value in sent.items():
        if name not in args:
            problems.append(
                f"{where}: '{name}' is not a declared argument of {request.method} {route}"
            )
            continue
        validator = jsonschema.Draft4Validator(json_schema(args[name]), format_checker=FORMATS)
        problems += [f"{where}: {name}: {error.message}" for error in validator.iter_errors(value)]
    problems += [
        f"{where}: required '{n}' missing"
        for n, s in args.items()
        if s.get("required") is True and n not in sent
    ]
    return problems


async def scenario(ctx: OperationContext) -> None:
    """The connection test, every action and every trigger, including failure paths."""
    info = await app.auth.test(ctx)  # type: ignore[misc]
    ctx.connection_metadata = {"api_root": info["api_root"]}

    async def act(key: str, **inputs: Any) -> Any:
        op = app.action(key)
        return await op.perform(ctx, op.input.model_validate(inputs))

    media = await act(
        "upload_media",
        source_url=f"{FILES}cover.png",
        alt_text="Cover",
        caption="A cover",
        title="Cover",
        post=4,
    )
    await act(
        "upload_media",
        file_base64=base64.b64encode(TINY_PNG).decode(),
        filename="b.png",
        description="Base64",
    )
    post = await act(
        "create_post",
        title="Launch",
        content="<p>Live</p>",
        excerpt="Live",
        status="publish",
        slug="launch",
        author=1,
        featured_media=media["id"],
        date="2026-05-01T09:00:00Z",
        categories="News, Events",
        tags=["go", 2],
    )
    await act("create_post", title="Local", date="2026-05-01T09:00:00", status="future")
    await act(
        "update_post",
        post_id=post["id"],
        title="Launch!",
        content="x",
        status="private",
        categories=[1],
        tags="go",
    )
    await act("find_posts", search="launch", slug="launch", status=["publish", "private"], limit=5)
    await act(
        "create_page",
        title="About",
        content="Us",
        excerpt="Us",
        status="publish",
        parent=7,
        menu_order=1,
        slug="about",
    )
    await act(
        "find_or_create_term",
        taxonomy="category",
        name="Press",
        description="Press releases",
        parent=1,
    )
    await act("find_or_create_term", taxonomy="tag", name="go")
    await actions.create_term(ctx, "category", "Uncategorized")  # term_exists → GET categories/1
    await act(
        "create_comment",
        post=post["id"],
        content="Nice",
        parent=0,
        author_name="Ana",
        author_email="ana@example.org",
        author_url="https://ana.example",
        status="hold",
    )
    await act("delete_post", post_id=post["id"])
    await act("delete_post", post_id=post["id"], force=True)
    for failing in (
        {"key": "update_post", "post_id": 999, "title": "x"},
        {"key": "create_comment", "post": 999, "content": "x"},
    ):
        with pytest.raises(CellwrightError):
            await act(**failing)
    for trigger in app.triggers:
        inputs = trigger.input.model_validate(dict(trigger.example or {}))
        for since in (None, "2017-02-14T00:00:00"):
            await trigger.fetch(ctx, inputs, since)  # type: ignore[attr-defined]
    await app.trigger("new_comment").fetch(
        ctx, app.trigger("new_comment").input(post=4, status="all"), "2017-02-14T00:00:00"
    )  # type: ignore[attr-defined]


@pytest.mark.parametrize("pretty", [True, False], ids=["wp-json", "rest_route"])
async def test_every_request_follows_the_route_index(pretty: bool) -> None:
    site: Starlette = create_app()
    site.state.site.pretty = pretty
    recorder = RecordingTransport(httpx.ASGITransport(app=site))
    http = build_http(
        app_key=app.key,
        base_url=SANDBOX_BASE,
        auth=app.auth.httpx_auth(CREDS),
        error_parser=app.error_parser,
        transport=recorder,
    )
    await scenario(OperationContext(http=http, credentials=CREDS))
    problems = [p for request in recorder.requests for p in violations(request)]
    assert not problems, "\n".join(problems)
    used = set()
    for request in recorder.requests:
        found = route_of(request)
        if found:
            assert ("rest_route" in request.url.params) is not pretty, (
                f"{request.url} uses the wrong root style"
            )
            used.add(
                next(
                    (pattern, request.method)
                    for regex, pattern, _ in ROUTES
                    if regex.match(found[0])
                )
            )
    assert used == EXPECTED, f"not exercised: {EXPECTED - used}; unexpected: {used - EXPECTED}"


def _request(method: str, url: str, **kwargs: Any) -> httpx.Request:
    return httpx.Request(method, f"{SANDBOX_BASE}{url}", **kwargs)


@pytest.mark.parametrize(
    ("request_", "problem"),
    [
        (
            _request("GET", "/wp-json/wp/v2/posts?per_page=500"),
            "per_page: 500 is greater than the maximum of 100",
        ),
        (
            _request("GET", "/?rest_route=/wp/v2/posts&status=published"),
            "status: 'published' is not one of",
        ),
        (
            _request("GET", "/wp-json/wp/v2/posts?_fields=id"),
            "'_fields' is not a declared argument",
        ),
        (
            _request("GET", "/wp-json/wp/v2/posts?status=publish&status=draft"),
            "'status' sent twice",
        ),
        (
            _request("GET", "/wp-json/wp/v2/posts?after=yesterday"),
            "after: 'yesterday' is not a 'date-time'",
        ),
        (
            _request("POST", "/wp-json/wp/v2/posts", json={"title": "bare string"}),
            "title: 'bare string' is not of type 'object'",
        ),
        (_request("POST", "/wp-json/wp/v2/posts", json=["x"]), "not an object"),
        (_request("POST", "/wp-json/wp/v2/categories", json={}), "required 'name' missing"),
        (_request("PATCH", "/wp-json/wp/v2/comments"), "PATCH is not among the methods"),
        (_request("GET", "/wp-json/wp/v2/widgets"), "no route /wp/v2/widgets"),
        (_request("GET", "/wp-admin/"), "neither a REST request"),
        (
            _request("GET", "/__sandbox__/files/a.png", headers={"Authorization": "Basic x"}),
            "neither a REST request",
        ),
        (
            _request(
                "POST", "/wp-json/wp/v2/media", content=b"x", headers={"Content-Type": "image/png"}
            ),
            "a raw body needs",
        ),
        (
            _request(
                "POST",
                "/wp-json/wp/v2/media",
                content=b"x",
                headers={"Content-Disposition": 'attachment; filename="a.png"'},
            ),
            "needs its Content-Type",
        ),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_the_checker_catches_violations(request_: httpx.Request, problem: str) -> None:
    assert any(problem in p for p in violations(request_)), violations(request_)
