"""ConnectorHttp and build_http against a real HTTP server on loopback.

Covers the one place HTTP failures become Cellwright errors: status mapping
(401/403/404/408/429/5xx), timeouts, refused connections, redaction of secrets, the
allowed-hosts rule (redirects included), the ``error_parser`` hook, and the sandbox
helpers that point an app at its simulator.
"""

from __future__ import annotations

import asyncio
import email.utils
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pydantic import BaseModel
from pytest_httpserver import HTTPServer
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from werkzeug import Request as WRequest
from werkzeug import Response as WResponse

from connectors.sdk import (
    Action,
    ApiKeyAuth,
    App,
    AuthError,
    CallTimeoutError,
    CellwrightError,
    ConfigurationError,
    ConnectorHttp,
    ForbiddenDestinationError,
    HaltError,
    InvalidInputError,
    NetworkError,
    NetworkPolicy,
    RateLimitedError,
    UpstreamError,
    build_http,
)
from connectors.sdk.errors import error_from_exception
from connectors.sdk.http import MAX_ERROR_BODY, parse_retry_after
from connectors.sdk.sandboxing import (
    SANDBOX_BASE,
    load_sandbox_factory,
    sandbox_context,
    sandbox_http,
    secrets_of,
    shared_sandbox,
)

SECRET = "sk_live_5up3r_s3cr3t"
OPEN = NetworkPolicy.build(allow_private=True)


@pytest.fixture(scope="module")
def server() -> Iterator[HTTPServer]:
    httpserver = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    httpserver.start()
    yield httpserver
    httpserver.clear()
    httpserver.stop()


@pytest.fixture
async def http(server: HTTPServer) -> Any:
    server.clear()
    client = build_http(
        app_key="acme", base_url=server.url_for("/"), policy=OPEN, secrets=[SECRET, "", "abc"]
    )
    yield client
    await client.aclose()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- success paths ------------------------------------------------------------------


async def test_json_helpers_send_the_method_and_parse_the_answer(
    server: HTTPServer, http: ConnectorHttp
) -> None:
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        server.expect_request("/items/1", method=method).respond_with_json({"method": method})
    assert await http.get("/items/1") == {"method": "GET"}
    assert await http.post("/items/1", json={"a": 1}) == {"method": "POST"}
    assert await http.put("/items/1") == {"method": "PUT"}
    assert await http.patch("/items/1") == {"method": "PATCH"}
    assert await http.delete("/items/1") == {"method": "DELETE"}


async def test_json_of_an_empty_body_is_none(server: HTTPServer, http: ConnectorHttp) -> None:
    server.expect_request("/empty").respond_with_data("", status=204)
    assert await http.json("DELETE", "/empty") is None


async def test_json_of_a_non_json_body_is_an_upstream_error(
    server: HTTPServer, http: ConnectorHttp
) -> None:
    server.expect_request("/html").respond_with_data(
        f"<html>oops {SECRET}</html>", content_type="text/html"
    )
    with pytest.raises(UpstreamError) as info:
        await http.get("/html")
    assert "expected JSON, got text/html" in info.value.message
    assert info.value.status == 200
    assert SECRET not in info.value.body and "***" in info.value.body


async def test_request_returns_redirect_targets_when_following(
    server: HTTPServer, http: ConnectorHttp
) -> None:
    server.expect_request("/old").respond_with_data("", status=301, headers={"Location": "/new"})
    server.expect_request("/new").respond_with_json({"moved": True})
    assert await http.get("/old") == {"moved": True}


async def test_request_takes_send_options_and_params(
    server: HTTPServer, http: ConnectorHttp
) -> None:
    # build_request() refuses follow_redirects: ConnectorHttp.request used to pass it on.
    server.expect_request("/old", query_string="b=2").respond_with_data(
        "", status=302, headers={"Location": "/new"}
    )
    response = await http.request("GET", "/old", params={"b": 2}, follow_redirects=False)
    assert response.status_code == 302
    assert response.headers["location"] == "/new"


# -- status mapping -----------------------------------------------------------------


async def test_401_is_an_auth_error(server: HTTPServer, http: ConnectorHttp) -> None:
    server.expect_request("/me").respond_with_json(
        {"error": {"message": "Invalid API key"}}, status=401
    )
    with pytest.raises(AuthError) as info:
        await http.get("/me")
    error = info.value
    assert error.code == "auth_invalid" and not error.retryable
    assert error.message.startswith("acme: HTTP 401 — Invalid API key.")
    assert "reconnect" in error.message
    assert error.details["status"] == 401


@pytest.mark.parametrize(
    ("status", "body", "summary", "retryable"),
    [
        (403, {"message": "Missing scope: write"}, "Missing scope: write", False),
        (404, {"errors": [{"message": "No such customer"}]}, "No such customer", False),
        (409, {"detail": "Conflict"}, "Conflict", False),
        (422, {"errors": ["not an object"]}, "", False),
        (408, "Request timeout\nsecond line", "Request timeout", True),
        (500, "", "", True),
        (502, {"error_description": "bad gateway"}, "bad gateway", True),
        (503, [1, 2], "", True),
    ],
)
async def test_other_statuses_are_upstream_errors(
    server: HTTPServer, http: ConnectorHttp, status: int, body: Any, summary: str, retryable: bool
) -> None:
    if isinstance(body, str):
        server.expect_request("/x").respond_with_data(body, status=status)
    else:
        server.expect_request("/x").respond_with_json(body, status=status)
    with pytest.raises(UpstreamError) as info:
        await http.get("/x")
    error = info.value
    assert error.code == "upstream_error"
    assert error.status == status
    assert error.retryable is retryable
    assert error.message == f"acme: HTTP {status}" + (f" — {summary}" if summary else "")
    assert error.body == (body or None)


async def test_429_carries_retry_after_seconds(server: HTTPServer, http: ConnectorHttp) -> None:
    server.expect_request("/x").respond_with_json(
        {"message": "slow down"}, status=429, headers={"Retry-After": "7"}
    )
    with pytest.raises(RateLimitedError) as info:
        await http.get("/x")
    assert info.value.retry_after == 7.0
    assert info.value.retryable
    assert info.value.to_dict() == {
        "code": "rate_limited",
        "message": "acme: HTTP 429 — slow down. Rate limited by acme.",
        "details": {"retry_after": 7.0, "status": 429},
    }


async def test_429_carries_retry_after_from_an_http_date(
    server: HTTPServer, http: ConnectorHttp
) -> None:
    when = email.utils.formatdate(time.time() + 120, usegmt=True)
    server.expect_request("/x").respond_with_data("", status=429, headers={"Retry-After": when})
    with pytest.raises(RateLimitedError) as info:
        await http.get("/x")
    assert info.value.retry_after is not None and 100 < info.value.retry_after <= 120


async def test_429_without_retry_after(server: HTTPServer, http: ConnectorHttp) -> None:
    server.expect_request("/x").respond_with_data("busy", status=429)
    with pytest.raises(RateLimitedError) as info:
        await http.get("/x")
    assert info.value.retry_after is None


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("", None),
        (" 3.5 ", 3.5),
        ("-4", 0.0),
        ("soon", None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),
    ],
)
def test_parse_retry_after(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header) == expected


async def test_raise_for_status_false_returns_the_error_response(
    server: HTTPServer, http: ConnectorHttp
) -> None:
    server.expect_request("/x").respond_with_json({"message": "nope"}, status=500)
    response = await http.request("GET", "/x", raise_for_status=False)
    assert response.status_code == 500
    assert response.json() == {"message": "nope"}


# -- transport failures -------------------------------------------------------------


def _slow(request: WRequest) -> WResponse:
    time.sleep(0.6)
    return WResponse("late")


async def test_timeout_is_a_retryable_timeout_error_without_the_query(server: HTTPServer) -> None:
    server.clear()
    server.expect_request("/slow").respond_with_handler(_slow)
    http = build_http(app_key="acme", policy=OPEN, timeout=0.2, secrets=[SECRET])
    with pytest.raises(CallTimeoutError) as info:
        await http.get(server.url_for(f"/slow?key={SECRET}"))
    await http.aclose()
    assert info.value.code == "timeout" and info.value.retryable
    assert info.value.message == f"acme: the request to {server.url_for('/slow')} timed out"


async def test_connection_refused_is_a_network_error_not_a_timeout() -> None:
    http = build_http(app_key="acme", policy=OPEN)
    with pytest.raises(NetworkError) as info:
        await http.get(f"http://127.0.0.1:{_free_port()}/x")
    await http.aclose()
    assert type(info.value) is NetworkError
    assert info.value.code == "network_error" and info.value.retryable
    assert "could not reach 127.0.0.1" in info.value.message


async def test_unknown_host_is_a_network_error() -> None:
    http = build_http(app_key="acme", policy=OPEN)
    with pytest.raises(NetworkError) as info:
        await http.get("http://no-such-host.invalid/x")
    await http.aclose()
    assert type(info.value) is NetworkError


async def test_server_dropping_the_connection_is_a_network_error(
    server: HTTPServer, http: ConnectorHttp
) -> None:
    def drop(request: WRequest) -> WResponse:
        request.environ["werkzeug.socket"].shutdown(socket.SHUT_RDWR)
        return WResponse("never sent")

    server.expect_request("/drop").respond_with_handler(drop)
    with pytest.raises(NetworkError) as info:
        await http.get("/drop")
    assert type(info.value) is NetworkError


class _RaisingTransport(httpx.AsyncBaseTransport):
    """Stands for a transport that lets a bare ``TimeoutError`` out (aiohttp can)."""

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        raise self.exc


async def test_bare_timeout_error_from_the_transport_is_a_timeout() -> None:
    http = build_http(
        app_key="acme",
        base_url="https://api.example.com",
        transport=_RaisingTransport(TimeoutError()),
    )
    with pytest.raises(CallTimeoutError, match="https://api.example.com/x timed out"):
        await http.get("/x")


async def test_too_many_redirects_is_an_upstream_error(
    server: HTTPServer, http: ConnectorHttp
) -> None:
    server.expect_request("/loop").respond_with_data("", status=302, headers={"Location": "/loop"})
    with pytest.raises(UpstreamError, match="too many redirects") as info:
        await http.get("/loop")
    assert not info.value.retryable


async def test_invalid_url_is_an_input_error(http: ConnectorHttp) -> None:
    with pytest.raises(InvalidInputError, match="invalid URL"):
        await http.get("http://0177.0.0.1/")


async def test_redirect_to_another_protocol_is_a_network_error(
    server: HTTPServer, http: ConnectorHttp
) -> None:
    server.expect_request("/bad").respond_with_data(
        "", status=302, headers={"Location": "ftp://example.com/file"}
    )
    with pytest.raises(NetworkError):
        await http.get("/bad")


# -- redaction ----------------------------------------------------------------------


async def test_secrets_are_redacted_from_error_bodies_and_messages(
    server: HTTPServer, http: ConnectorHttp
) -> None:
    server.expect_request("/json").respond_with_json(
        {"message": f"bad key {SECRET}", "key": SECRET}, status=400
    )
    server.expect_request("/text").respond_with_data(f"key {SECRET} refused", status=401)
    with pytest.raises(UpstreamError) as info:
        await http.get("/json")
    assert SECRET not in str(info.value.to_dict())
    assert info.value.body == '{"message": "bad key ***", "key": "***"}'
    with pytest.raises(AuthError) as auth:
        await http.get("/text")
    assert SECRET not in auth.value.message
    assert auth.value.details["body"] == "key *** refused"


async def test_long_error_bodies_are_cut(server: HTTPServer, http: ConnectorHttp) -> None:
    server.expect_request("/long").respond_with_data("x" * (MAX_ERROR_BODY * 2), status=500)
    with pytest.raises(UpstreamError) as info:
        await http.get("/long")
    assert info.value.body == "x" * MAX_ERROR_BODY + "…"


async def test_secrets_are_redacted_from_network_errors_and_timeouts() -> None:
    port = _free_port()
    http = build_http(app_key="acme", policy=OPEN, secrets=[SECRET], timeout=0.5)
    with pytest.raises(CellwrightError) as info:
        await http.get(f"http://127.0.0.1:{port}/{SECRET}/x")
    await http.aclose()
    assert SECRET not in str(info.value)


async def test_short_secrets_are_not_redacted_everywhere(
    server: HTTPServer, http: ConnectorHttp
) -> None:
    # "abc" is shorter than 4 characters: replacing it would mangle ordinary text.
    server.expect_request("/x").respond_with_data("abc abc", status=500)
    with pytest.raises(UpstreamError) as info:
        await http.get("/x")
    assert info.value.body == "abc abc"


# -- error_parser hook --------------------------------------------------------------


def _slack_errors(response: httpx.Response, body: Any) -> CellwrightError | None:
    if isinstance(body, dict) and body.get("ok") is False:
        if body.get("error") == "ratelimited":
            return RateLimitedError("slack: rate limited", retry_after=1.0)
        return UpstreamError(
            f"slack: {body['error']} ({SECRET})",
            status=response.status_code,
            body=body,
            token=SECRET,
        )
    return None


async def test_error_parser_turns_a_200_into_an_error_and_is_redacted(server: HTTPServer) -> None:
    server.clear()
    server.expect_request("/chat.postMessage").respond_with_json(
        {"ok": False, "error": "channel_not_found", "echo": SECRET}
    )
    server.expect_request("/limited").respond_with_json({"ok": False, "error": "ratelimited"})
    server.expect_request("/fine").respond_with_json({"ok": True})
    http = build_http(
        app_key="slack",
        base_url=server.url_for("/"),
        policy=OPEN,
        error_parser=_slack_errors,
        secrets=[SECRET],
    )
    with pytest.raises(UpstreamError) as info:
        await http.post("/chat.postMessage")
    assert info.value.message == "slack: channel_not_found (***)"
    assert SECRET not in str(info.value.to_dict())
    assert SECRET not in str(info.value.body)
    with pytest.raises(RateLimitedError):
        await http.get("/limited")
    assert await http.get("/fine") == {"ok": True}
    # The hook also runs when the caller takes error statuses itself.
    with pytest.raises(UpstreamError, match="channel_not_found"):
        await http.request("POST", "/chat.postMessage", raise_for_status=False)
    assert (await http.request("GET", "/fine", raise_for_status=False)).status_code == 200
    await http.aclose()


# -- allowed hosts ------------------------------------------------------------------


async def test_allowed_hosts_refuse_other_hosts_before_any_request(server: HTTPServer) -> None:
    server.clear()
    http = build_http(app_key="acme", allowed_hosts=["api.acme.com", "*.acme.io"], policy=OPEN)
    with pytest.raises(ForbiddenDestinationError) as info:
        await http.get(server.url_for("/x"))
    assert (
        info.value.message
        == "acme may only call api.acme.com, *.acme.io; refused a request to 127.0.0.1."
    )
    assert [entry for entry in server.log if entry[0].path == "/x"] == []
    await http.aclose()


async def test_allowed_hosts_match_patterns(server: HTTPServer) -> None:
    server.clear()
    server.expect_request("/x").respond_with_json({"ok": 1})
    http = build_http(app_key="acme", allowed_hosts=["127.0.0.*"], policy=OPEN)
    assert await http.get(server.url_for("/x")) == {"ok": 1}
    await http.aclose()


async def test_allowed_origin_passes_the_allowed_hosts_check(server: HTTPServer) -> None:
    server.clear()
    server.expect_request("/x").respond_with_json({"ok": 1})
    policy = NetworkPolicy.build(origins=[f"http://127.0.0.1:{server.port}"])
    http = build_http(app_key="acme", allowed_hosts=["api.acme.com"], policy=policy)
    assert await http.get(server.url_for("/x")) == {"ok": 1}
    await http.aclose()


async def test_redirects_must_stay_within_allowed_hosts(server: HTTPServer) -> None:
    """An API key in a custom header survives httpx's cross-origin redirects."""
    other = HTTPServer(host="127.0.0.1", port=0)
    other.start()
    try:
        server.clear()
        other.expect_request("/steal").respond_with_json({"stolen": True})
        server.expect_request("/x").respond_with_data(
            "", status=302, headers={"Location": f"http://localhost:{other.port}/steal"}
        )
        auth = ApiKeyAuth(location="header", name="X-Api-Key", prefix="")
        http = build_http(
            app_key="acme",
            allowed_hosts=["127.0.0.1"],
            policy=OPEN,
            auth=auth.httpx_auth({"api_key": SECRET}),
            secrets=[SECRET],
        )
        with pytest.raises(ForbiddenDestinationError, match="refused a request to localhost"):
            await http.get(server.url_for("/x"))
        await http.aclose()
        assert other.log == []
        sent = [entry[0] for entry in server.log if entry[0].path == "/x"]
        assert sent[0].headers["X-Api-Key"] == SECRET
    finally:
        other.stop()


async def test_connector_http_without_build_http_uses_the_default_policy() -> None:
    client = httpx.AsyncClient(transport=_RaisingTransport(httpx.ConnectError("down")))
    http = ConnectorHttp(client, app_key="acme")
    assert http.policy == NetworkPolicy()
    with pytest.raises(NetworkError, match="acme: could not reach api.acme.com: down"):
        await http.get("https://api.acme.com/x")
    await http.aclose()


# -- errors -------------------------------------------------------------------------


def test_error_hierarchy_codes_and_dicts() -> None:
    assert CellwrightError("plain").to_dict() == {"code": "error", "message": "plain"}
    assert str(UpstreamError("x", status=None)) == "x"
    assert UpstreamError("x", status=None).retryable
    assert not UpstreamError("x", status=404).retryable
    halt = HaltError()
    assert (halt.message, halt.failed, halt.code) == ("Stopped", False, "halt")
    assert InvalidInputError("bad", errors=[{"field": "a", "message": "m"}]).errors == [
        {"field": "a", "message": "m"}
    ]
    assert InvalidInputError("bad").errors == []
    wrapped = error_from_exception(KeyError("k"))
    assert wrapped.to_dict() == {"code": "error", "message": "KeyError: 'k'"}
    assert error_from_exception(halt) is halt


# -- sandbox helpers ----------------------------------------------------------------


def make_sandbox() -> Starlette:
    async def me(request: Request) -> JSONResponse:
        key = request.headers.get("authorization", "")
        if key != f"Bearer {SECRET}":
            return JSONResponse({"message": f"bad key {key}"}, status_code=401)
        return JSONResponse({"team": "Acme", "host": request.url.hostname})

    return Starlette(routes=[Route("/me", me)])


class MeOutput(BaseModel):
    team: str


async def _me(ctx: Any, inputs: Any) -> Any:
    return await ctx.http.get("/me")


SANDBOXED = App(
    key="acme",
    name="Acme",
    description="A test app with a simulator.",
    category="Test",
    auth=ApiKeyAuth(),
    actions=(Action(key="me", name="Me", description="Who am I.", output=MeOutput, perform=_me),),
    sandbox=f"{__name__}:make_sandbox",
)


async def test_sandbox_context_talks_to_the_simulator_in_process() -> None:
    ctx = sandbox_context(SANDBOXED, {"api_key": SECRET}, idempotency_key="k1")
    assert ctx.idempotency_key == "k1"
    assert await SANDBOXED.action("me").perform(ctx, None) == {
        "team": "Acme",
        "host": "sandbox.invalid",
    }
    bad = sandbox_http(
        SANDBOXED, {"api_key": "wrong-key-123"}, asgi_app=make_sandbox(), base_url="http://sim.test"
    )
    with pytest.raises(AuthError) as info:
        await bad.get("/me")
    assert "wrong-key-123" not in info.value.message and "***" in info.value.message
    await bad.aclose()
    await ctx.http.aclose()


def test_sandbox_lookup() -> None:
    assert load_sandbox_factory(SANDBOXED) is make_sandbox
    assert shared_sandbox("acme", SANDBOXED.sandbox) is shared_sandbox("acme", SANDBOXED.sandbox)
    assert SANDBOX_BASE == "http://sandbox.invalid"
    assert secrets_of({"a": "x", "n": 3, "s": ApiKeyAuth().fields(api_key="sec").api_key}) == [
        "x",
        "sec",
    ]
    no_sandbox = App(key="plain", name="P", description="d", category="c")
    with pytest.raises(LookupError, match="has no sandbox"):
        load_sandbox_factory(no_sandbox)


def test_app_lookups_and_description() -> None:
    assert SANDBOXED.needs_connection
    assert SANDBOXED.action("me").kind == "action"
    with pytest.raises(ConfigurationError, match="has no operation 'nope'. It has: me."):
        SANDBOXED.operation("nope")
    with pytest.raises(ConfigurationError, match="is an action, not a trigger"):
        SANDBOXED.trigger("me")
    full = SANDBOXED.describe()
    assert full["auth"] == "api_key" and full["has_sandbox"] is True
    assert full["auth_schema"]["type"] == "api_key"
    assert full["actions"][0]["output_schema"]["properties"]["team"]["type"] == "string"
    assert SANDBOXED.describe(full=False)["actions"] == [{"key": "me", "name": "Me"}]
    assert SANDBOXED.resolve_base_url({}) is None


def test_app_with_triggers_and_a_base_url_from_credentials() -> None:
    from connectors.sdk import ManualTrigger

    started = ManualTrigger(key="started", name="Started", description="d")
    per_account = App(
        key="acme",
        name="Acme",
        description="d",
        category="c",
        triggers=(started,),
        base_url=lambda credentials: f"https://{credentials['subdomain']}.acme.com",
    )
    assert per_account.trigger("started") is started
    assert started.trigger_type == "manual"
    with pytest.raises(ConfigurationError, match="is a trigger, not an action"):
        per_account.action("started")
    assert per_account.resolve_base_url({"subdomain": "team1"}) == "https://team1.acme.com"
    fixed = App(key="x", name="X", description="d", category="c", base_url="https://api.x.com")
    assert fixed.resolve_base_url({}) == "https://api.x.com"
    assert per_account.describe(full=False)["triggers"] == [{"key": "started", "name": "Started"}]


async def test_many_concurrent_requests_share_one_client(
    server: HTTPServer, http: ConnectorHttp
) -> None:
    server.expect_request("/n").respond_with_json({"n": 1})
    results = await asyncio.gather(*(http.get("/n") for _ in range(20)))
    assert results == [{"n": 1}] * 20
