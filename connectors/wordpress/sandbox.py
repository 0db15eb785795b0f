"""A stateful WordPress REST API simulator, for tests and sandbox connections.

It follows WordPress 6.8 for the routes the connector uses, as described by
``spec/wp-json-index.subset.json`` (served verbatim at ``/wp-json/``): requests are
dispatched by the index's regex routes and methods, and declared arguments are
checked against their type, enum, range and format the way WordPress's
``rest_validate_value_from_schema`` does (400 ``rest_invalid_param``). Seeded from
``spec/sample-responses.json``; the site's time zone is UTC+2, so ``date`` (site time)
differs from ``date_gmt``; titles come rendered with WordPress's entities (``&#8217;``).

- Both API roots: ``/wp-json/<route>`` (pretty permalinks) and ``/?rest_route=<route>``
  (or ``/index.php?rest_route=``). The home page advertises the root in a
  ``Link: <…>; rel="https://api.w.org/"`` header, on GET and HEAD.
- Auth: application passwords as HTTP basic (``USERNAME`` / ``APPLICATION_PASSWORD``;
  spaces ignored as WordPress does). A wrong user or password → 401; none → an
  anonymous visitor (public reads only). ``SUBSCRIBER_CREDENTIALS`` sign in as a user
  whose role is Subscriber: reads work; creating, editing, deleting or uploading answer
  core's permission errors, e.g. 403 ``{"code": "rest_cannot_create", "message": "Sorry,
  you are not allowed to create posts as this user.", "data": {"status": 403}}``
  (``WP_REST_Posts_Controller::create_item_permissions_check``; a visitor gets the same
  with 401, ``rest_authorization_required_code()``).
- Test-only controls, not part of WordPress: ``POST /__sandbox__/control`` with JSON
  ``{"pretty_permalinks": false}`` (``/wp-json/…`` becomes a 404 page and the home
  page advertises ``?rest_route=/``), ``{"fail_next": {"status": 429, "retry_after": 7}}``
  (the next REST call fails the way a host's rate limiter or a 5xx would; ``code`` and
  ``message`` may be given too), ``{"advance_clock": 60}`` (seconds).
  ``GET /__sandbox__/files/<name>`` stands in for a third-party file host and refuses
  requests carrying ``Authorization`` (the password must never leave the site).
"""

from __future__ import annotations

import base64
import json
import re
from datetime import timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from connectors.wordpress.auth import SANDBOX_CREDENTIALS
from connectors.wordpress.sandbox_site import (
    HANDLERS,
    INDEX,
    SUBSCRIBER_CREDENTIALS,
    Call,
    Site,
    wp_error,
)

ROUTES = [(re.compile(f"^{pattern}$"), pattern, spec) for pattern, spec in INDEX["routes"].items()]

USERNAME = SANDBOX_CREDENTIALS["username"]
APPLICATION_PASSWORD = SANDBOX_CREDENTIALS["application_password"]
LOGINS = {
    USERNAME: (1, APPLICATION_PASSWORD),
    "admin@example.org": (1, APPLICATION_PASSWORD),
    SUBSCRIBER_CREDENTIALS["username"]: (2, SUBSCRIBER_CREDENTIALS["application_password"]),
}
"""Login (user name or e-mail) → (user id, its application password)."""
DATE_TIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}(?::\d{2})?)?$"
)
TINY_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]


# -- argument validation (rest_validate_value_from_schema) ---------------------------------


def _check(name: str, value: Any, schema: dict[str, Any]) -> tuple[Any, str | None]:
    """The coerced value, or an error message, for one declared argument."""
    types = schema.get("type") or []
    types = [types] if isinstance(types, str) else types
    if isinstance(value, str):  # query-string values arrive as text
        if "integer" in types and re.fullmatch(r"-?\d+", value):
            value = int(value)
        elif "boolean" in types and value in ("true", "false", "1", "0"):
            value = value in ("true", "1")
        elif "array" in types:
            value = [v for v in re.split(r"[,\s]+", value) if v]
    if "object" in types and isinstance(value, str) and "raw" in schema.get("properties", {}):
        return value, None  # title, content…: validate_callback is null, strings are accepted
    kinds = {
        "string": str,
        "integer": int,
        "boolean": bool,
        "array": list,
        "object": dict,
        "null": type(None),
    }
    matches = [
        t
        for t in types
        if isinstance(value, kinds[t]) and not (t == "integer" and isinstance(value, bool))
    ]
    if types and not matches:
        return value, f"{name} is not of type {','.join(types)}."
    if "enum" in schema and value not in schema["enum"]:
        return value, f"{name} is not one of {', '.join(map(str, schema['enum']))}."
    if isinstance(value, int) and not isinstance(value, bool):
        low, high = schema.get("minimum"), schema.get("maximum")
        if (low is not None and value < low) or (high is not None and value > high):
            return value, f"{name} must be between {low} (inclusive) and {high} (inclusive)"
    if isinstance(value, str):
        fmt = schema.get("format")
        if fmt == "email" and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value):
            return value, "Invalid email address."
        if fmt == "date-time" and not DATE_TIME.match(value):
            return value, "Invalid date."
    if isinstance(value, list) and "items" in schema:
        checked = [_check(f"{name}[{i}]", item, schema["items"]) for i, item in enumerate(value)]
        problem = next((msg for _, msg in checked if msg), None)
        return [v for v, _ in checked], problem
    return value, None


def validate(args: dict[str, Any], params: dict[str, Any]) -> dict[str, Any] | Response:
    missing = [n for n, s in args.items() if s.get("required") and n not in params]
    if missing:
        listed = ", ".join(missing)
        return wp_error(
            "rest_missing_callback_param", f"Missing parameter(s): {listed}", 400, params=missing
        )
    problems: dict[str, str] = {}
    for name, schema in args.items():
        if name in params:
            params[name], problem = _check(name, params[name], schema)
            if problem:
                problems[name] = problem
    if problems:
        return wp_error(
            "rest_invalid_param",
            f"Invalid parameter(s): {', '.join(problems)}",
            400,
            params=problems,
        )
    return params


# -- HTTP ----------------------------------------------------------------------------------


def _base(request: Request) -> str:
    """The site's address, also when mounted under a prefix (``cellwright serve``)."""
    return f"{request.url.scheme}://{request.url.netloc}{request.scope.get('root_path', '')}/"


def _user(site: Site, request: Request) -> int | None | Response:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        login, _, password = (
            base64.b64decode(value, validate=True).decode("utf-8", "replace").partition(":")
        )
    except ValueError:
        login = password = ""
    if login not in LOGINS:
        return wp_error(
            "invalid_username", "Unknown username. Check again or try your email address.", 401
        )
    user, expected = LOGINS[login]
    if re.sub(r"[^a-z\d]", "", password, flags=re.I) != re.sub(
        r"[^a-z\d]", "", expected, flags=re.I
    ):
        return wp_error(
            "incorrect_password", "The provided password is an invalid application password.", 401
        )
    return user


async def dispatch(request: Request, route: str) -> Response:
    site: Site = request.app.state.site
    if site.fail_next:
        fail, site.fail_next = site.fail_next, None
        headers = {"Retry-After": str(fail["retry_after"])} if "retry_after" in fail else {}
        code, message = (
            fail.get("code", "sandbox_failure"),
            fail.get("message", "Simulated failure."),
        )
        response = wp_error(code, message, fail["status"])
        response.headers.update(headers)
        return response
    user = _user(site, request)
    if isinstance(user, Response):
        return user
    route = "/" + route.strip("/")
    found = next(
        ((m, pattern, spec) for regex, pattern, spec in ROUTES if (m := regex.match(route))), None
    )
    method = "GET" if request.method == "HEAD" else request.method
    endpoint = found and next((e for e in found[2]["endpoints"] if method in e["methods"]), None)
    handler = found and HANDLERS.get((found[1], method))
    if not found or not endpoint or not handler:
        return wp_error(
            "rest_no_route", "No route was found matching the URL and request method.", 404
        )
    params: dict[str, Any] = {k: v for k, v in request.query_params.items() if k != "rest_route"}
    if "json" in request.headers.get("content-type", ""):
        try:
            params.update(json.loads(await request.body() or b"{}"))
        except ValueError:
            return wp_error("rest_invalid_json", "Invalid JSON body passed.", 400)
    params.update({k: int(v) if v.isdigit() else v for k, v in found[0].groupdict().items()})
    checked = validate(endpoint.get("args", {}), params)
    if isinstance(checked, Response):
        return checked
    return await handler(Call(site, request, user, checked, _base(request)))


async def home(request: Request) -> Response:
    if "rest_route" in request.query_params:
        return await dispatch(request, request.query_params["rest_route"])
    site: Site = request.app.state.site
    root = f"{_base(request)}wp-json/" if site.pretty else f"{_base(request)}?rest_route=/"
    page = "<!doctype html><title>Test Blog</title><h1>Test Blog</h1>"
    return HTMLResponse(page, headers={"Link": f'<{root}>; rel="https://api.w.org/"'})


async def pretty_route(request: Request) -> Response:
    if not request.app.state.site.pretty:
        return HTMLResponse("<!doctype html><title>Page not found</title>", status_code=404)
    return await dispatch(request, request.path_params.get("route", ""))


async def control(request: Request) -> Response:
    site: Site = request.app.state.site
    orders = await request.json()
    site.pretty = orders.get("pretty_permalinks", site.pretty)
    site.fail_next = orders.get("fail_next", site.fail_next)
    site.offset += timedelta(seconds=orders.get("advance_clock", 0))
    return JSONResponse({"pretty_permalinks": site.pretty, "now": site.now()})


async def third_party_file(request: Request) -> Response:
    if "authorization" in request.headers:
        return Response("credentials sent to a third-party host", status_code=400)
    name = request.path_params["name"]
    if name.startswith("missing"):
        return Response("not found", status_code=404)
    if name.endswith(".png"):
        return Response(TINY_PNG, media_type="image/png")
    return Response(b"hello from a file host\n", media_type="application/octet-stream")


def create_app() -> Starlette:
    """A fresh simulated site."""
    app = Starlette(
        routes=[
            Route("/", home, methods=METHODS),
            Route("/index.php", home, methods=METHODS),
            Route("/wp-json", pretty_route, methods=METHODS),
            Route("/wp-json/{route:path}", pretty_route, methods=METHODS),
            Route("/__sandbox__/control", control, methods=["POST"]),
            Route("/__sandbox__/files/{name}", third_party_file, methods=["GET"]),
        ]
    )
    app.state.site = Site()
    return app
