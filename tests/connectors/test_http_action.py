"""The HTTP request action against a real server on loopback, through the cell runner.

The engine's client is built with ``allow_private`` here because the test server is
on loopback; the tests about the guard use the default policy and prove that the
same cell cannot reach it.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from cells.models import ActionCell
from cells.run import CellResult, run_operation_cell
from connectors.http import app, request
from connectors.http.schemas import RequestInput, RequestOutput
from connectors.registry import default_registry
from connectors.sdk import (
    App,
    AuthError,
    CallTimeoutError,
    ConnectorHttp,
    ForbiddenDestinationError,
    NetworkPolicy,
    OperationContext,
    RateLimitedError,
    UpstreamError,
    build_http,
)

TOKEN = "tok_live_9f8e7d6c5b"


def echo(req: Request) -> Response:
    """Answers with what it received; echoes the Authorization header like httpbin."""
    body: Any = req.get_data(as_text=True) or None
    if req.mimetype == "application/json" and body:
        body = json.loads(body)
    elif req.mimetype == "application/x-www-form-urlencoded":
        body = req.form.to_dict(flat=False)
    answer = {
        "method": req.method,
        "path": req.path,
        "query": req.args.to_dict(flat=False),
        "headers": {k.lower(): v for k, v in req.headers.items()},
        "body": body,
    }
    headers = {"X-Echo-Auth": req.headers.get("Authorization", "")}
    return Response(json.dumps(answer), content_type="application/json", headers=headers)


def slow(req: Request) -> Response:
    time.sleep(1.0)
    return Response("late")


def trickle(req: Request) -> Response:
    def chunks() -> Iterator[bytes]:
        for _ in range(12):
            time.sleep(0.15)
            yield b"."

    return Response(chunks(), content_type="text/plain", direct_passthrough=True)


@pytest.fixture(scope="module")
def server() -> Iterator[HTTPServer]:
    httpserver = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    httpserver.start()
    yield httpserver
    httpserver.clear()
    httpserver.stop()


@pytest.fixture(autouse=True)
def routes(server: HTTPServer) -> None:
    server.clear()
    server.expect_request("/slow").respond_with_handler(slow)
    server.expect_request("/trickle").respond_with_handler(trickle)
    server.expect_request("/text").respond_with_data("plain answer", content_type="text/plain")
    server.expect_request("/bad-json").respond_with_data(
        "{not json", content_type="application/json"
    )
    server.expect_request("/empty").respond_with_data("", status=204)
    server.expect_request("/missing").respond_with_json({"message": "No such order"}, status=404)
    server.expect_request("/boom").respond_with_data("upstream exploded", status=500)
    server.expect_request("/denied").respond_with_handler(
        lambda req: Response(
            json.dumps({"message": f"bad token {req.headers.get('Authorization')}"}),
            status=401,
            content_type="application/json",
        )
    )
    server.expect_request("/echo-error").respond_with_handler(
        lambda req: Response(
            json.dumps([{"received": req.headers.get("Authorization")}]),
            status=400,
            content_type="application/json",
        )
    )
    server.expect_request("/limited").respond_with_json(
        {"message": "slow down"}, status=429, headers={"Retry-After": "12"}
    )
    server.expect_request("/moved").respond_with_data(
        "", status=302, headers={"Location": "/echo/target"}
    )
    server.expect_request(re.compile("/echo.*")).respond_with_handler(echo)


class Engine:
    """A tiny ContextFactory: one ConnectorHttp per cell, with the operator's policy."""

    def __init__(self, policy: NetworkPolicy) -> None:
        self.policy = policy
        self.clients: list[ConnectorHttp] = []

    async def __call__(self, cell: Any, app: App, *, idempotency_key: str) -> OperationContext:
        http = build_http(app_key=app.key, policy=self.policy)
        self.clients.append(http)
        return OperationContext(http=http, idempotency_key=idempotency_key)

    async def run(
        self, inputs: dict[str, Any], context: dict[str, Any] | None = None
    ) -> CellResult:
        cell = ActionCell(
            id="call_api", kind="action", app="http", operation="request", inputs=inputs
        )
        return await run_operation_cell(
            cell,
            context or {},
            apps=default_registry(),
            make_context=self,
            idempotency_key="cw-1",
            timeout=10,
        )


@pytest.fixture
async def engine() -> AsyncIterator[Engine]:
    engine = Engine(NetworkPolicy.build(allow_private=True))
    yield engine
    for http in engine.clients:
        await http.aclose()


async def ok(engine: Engine, **inputs: Any) -> dict[str, Any]:
    result = await engine.run(inputs)
    assert result.ok, result.error
    output: dict[str, Any] = result.output
    return output


async def failed(engine: Engine, **inputs: Any) -> CellResult:
    result = await engine.run(inputs)
    assert result.status == "failed" and result.error is not None
    return result


# -- requests -----------------------------------------------------------------------


async def test_get_with_query_and_headers(engine: Engine, server: HTTPServer) -> None:
    output = await ok(
        engine,
        url=server.url_for("/echo/orders?status=paid"),
        query={"page": 2, "expand": True, "ratio": 0.5, "q": "a b&c"},
        headers={"X-Trace": "t-1"},
    )
    assert output["status"] == 200
    assert output["headers"]["content-type"] == "application/json"
    assert output["elapsed_ms"] > 0
    body = output["body"]
    assert body["method"] == "GET" and body["path"] == "/echo/orders"
    assert body["query"] == {
        "status": ["paid"],
        "page": ["2"],
        "expand": ["true"],
        "ratio": ["0.5"],
        "q": ["a b&c"],
    }
    assert body["headers"]["x-trace"] == "t-1"
    assert body["body"] is None
    RequestOutput.model_validate(output)


async def test_json_body_mapped_from_the_trigger(engine: Engine, server: HTTPServer) -> None:
    cell_inputs = {
        "method": "POST",
        "url": server.url_for("/echo/orders"),
        "body_type": "json",
        "body": {
            "id": "{{ trigger.body.id }}",
            "total": "{{ trigger.body.amount * 2 }}",
            "tags": ["x"],
        },
    }
    result = await engine.run(cell_inputs, {"trigger": {"body": {"id": "ord_1", "amount": 21}}})
    assert result.ok, result.error
    echoed = result.output["body"]
    assert echoed["body"] == {"id": "ord_1", "total": 42, "tags": ["x"]}
    assert echoed["headers"]["content-type"] == "application/json"


async def test_json_body_keeps_a_content_type_the_user_set(
    engine: Engine, server: HTTPServer
) -> None:
    output = await ok(
        engine,
        method="PUT",
        url=server.url_for("/echo"),
        body_type="json",
        body=[1, None],
        headers={"content-type": "application/vnd.api+json"},
    )
    assert output["body"]["headers"]["content-type"] == "application/vnd.api+json"
    assert output["body"]["body"] == "[1, null]"  # the echo server only parses plain JSON


async def test_json_body_written_as_text_is_sent_as_an_object(
    engine: Engine, server: HTTPServer
) -> None:
    """JSON typed as text (a YAML string, a form's text) reaches the server as the object
    it describes, its strings mapped — never as a JSON string holding the text."""
    cell_inputs = {
        "method": "POST",
        "url": server.url_for("/echo/orders"),
        "body_type": "json",
        "body": '{"customer": "{{ trigger.body.name }}", "n": "{{ trigger.body.n }}"}',
    }
    result = await engine.run(cell_inputs, {"trigger": {"body": {"name": "Ada", "n": 2}}})
    assert result.ok, result.error
    assert result.output["body"]["body"] == {
        "customer": "Ada",
        "n": "2",
    }  # rendered inside text: a string


async def test_json_body_that_is_a_plain_string_stays_a_json_string(
    engine: Engine, server: HTTPServer
) -> None:
    output = await ok(
        engine, method="POST", url=server.url_for("/echo"), body_type="json", body="hello"
    )
    assert output["body"]["body"] == "hello"


async def test_raw_body_given_as_an_object_is_sent_as_json_text(
    engine: Engine, server: HTTPServer
) -> None:
    output = await ok(
        engine,
        method="POST",
        url=server.url_for("/echo"),
        body_type="raw",
        body={"a": "é"},
        content_type="text/plain",
    )
    assert output["body"]["body"] == '{"a": "é"}'


async def test_form_body(engine: Engine, server: HTTPServer) -> None:
    output = await ok(
        engine,
        method="POST",
        url=server.url_for("/echo"),
        body_type="form",
        body={"name": "Ada", "n": 3, "meta": {"a": 1}, "flag": None},
    )
    assert output["body"]["body"] == {
        "name": ["Ada"],
        "n": ["3"],
        "meta": ['{"a": 1}'],
        "flag": [""],
    }


async def test_raw_body(engine: Engine, server: HTTPServer) -> None:
    output = await ok(
        engine,
        method="PATCH",
        url=server.url_for("/echo"),
        body_type="raw",
        body="<a>é</a>",
        content_type="application/xml",
    )
    assert output["body"]["body"] == "<a>é</a>"
    assert output["body"]["headers"]["content-type"] == "application/xml"


async def test_body_is_not_sent_when_body_type_is_none(engine: Engine, server: HTTPServer) -> None:
    output = await ok(engine, method="DELETE", url=server.url_for("/echo"), body={"ignored": True})
    assert output["body"]["method"] == "DELETE" and output["body"]["body"] is None


async def test_head_and_options(engine: Engine, server: HTTPServer) -> None:
    head = await ok(engine, method="HEAD", url=server.url_for("/echo"))
    assert head["status"] == 200 and head["body"] is None
    options = await ok(engine, method="OPTIONS", url=server.url_for("/echo"))
    assert options["body"]["method"] == "OPTIONS"


# -- responses ----------------------------------------------------------------------


async def test_response_types(engine: Engine, server: HTTPServer) -> None:
    assert (await ok(engine, url=server.url_for("/text")))["body"] == "plain answer"
    assert (await ok(engine, url=server.url_for("/bad-json")))[
        "body"
    ] == "{not json"  # auto falls back to text
    as_text = await ok(engine, url=server.url_for("/echo"), response_type="text")
    assert json.loads(as_text["body"])["method"] == "GET"
    assert (await ok(engine, url=server.url_for("/empty"), response_type="json"))["body"] is None
    result = await failed(engine, url=server.url_for("/text"), response_type="json")
    assert result.error is not None and result.error["code"] == "upstream_error"
    assert "expected a JSON answer, got text/plain" in result.error["message"]


async def test_redirects(engine: Engine, server: HTTPServer) -> None:
    followed = await ok(engine, url=server.url_for("/moved"))
    assert followed["body"]["path"] == "/echo/target"
    kept = await ok(engine, url=server.url_for("/moved"), follow_redirects=False)
    assert kept["status"] == 302
    assert kept["headers"]["location"] == "/echo/target"


# -- error statuses reach the cell --------------------------------------------------


async def test_error_statuses_are_mapped_when_fail_on_status(
    engine: Engine, server: HTTPServer
) -> None:
    missing = await failed(engine, url=server.url_for("/missing"))
    assert isinstance(missing.exception, UpstreamError) and not missing.exception.retryable
    assert missing.error == {
        "code": "upstream_error",
        "message": "http: HTTP 404 — No such order",
        "details": {"status": 404, "body": {"message": "No such order"}},
    }
    boom = await failed(engine, url=server.url_for("/boom"))
    assert isinstance(boom.exception, UpstreamError) and boom.exception.retryable
    denied = await failed(engine, url=server.url_for("/denied"))
    assert isinstance(denied.exception, AuthError) and denied.error is not None
    assert denied.error["code"] == "auth_invalid"
    limited = await failed(engine, url=server.url_for("/limited"))
    assert isinstance(limited.exception, RateLimitedError)
    assert limited.exception.retry_after == 12.0
    assert limited.error is not None and limited.error["details"]["retry_after"] == 12.0


async def test_error_statuses_are_returned_without_fail_on_status(
    engine: Engine, server: HTTPServer
) -> None:
    missing = await ok(engine, url=server.url_for("/missing"), fail_on_status=False)
    assert missing["status"] == 404 and missing["body"] == {"message": "No such order"}
    boom = await ok(engine, url=server.url_for("/boom"), fail_on_status=False)
    assert boom["status"] == 500 and boom["body"] == "upstream exploded"
    limited = await ok(engine, url=server.url_for("/limited"), fail_on_status=False)
    assert limited["headers"]["retry-after"] == "12"


# -- the bearer token ---------------------------------------------------------------


async def test_bearer_token_is_sent_but_never_shown(engine: Engine, server: HTTPServer) -> None:
    result = await engine.run(
        {
            "url": server.url_for("/echo"),
            "bearer_token": TOKEN,
            "headers": {"authorization": "Basic xyz"},
        }
    )
    assert result.ok, result.error
    sent = [entry[0] for entry in server.log if entry[0].path == "/echo"]
    assert sent[-1].headers["Authorization"] == f"Bearer {TOKEN}"  # replaces the mapped header
    assert TOKEN not in json.dumps(result.to_dict())
    # an echoed credential header is masked whole (cells.secrets.scrub), other echoes
    # have the token replaced by the action itself
    assert result.output["body"]["headers"]["authorization"] == "**********"
    assert result.output["headers"]["x-echo-auth"] == "Bearer ***"
    assert result.input["bearer_token"] == "**********"


async def test_bearer_token_is_redacted_from_errors(engine: Engine, server: HTTPServer) -> None:
    result = await failed(engine, url=server.url_for("/denied"), bearer_token=TOKEN)
    assert TOKEN not in json.dumps(result.error)
    assert result.exception is not None and TOKEN not in str(result.exception)
    assert result.error is not None and "bad token Bearer ***" in result.error["message"]
    assert result.error["details"]["body"] == {"message": "bad token Bearer ***"}
    upstream = await failed(engine, url=server.url_for("/echo-error"), bearer_token=TOKEN)
    assert isinstance(upstream.exception, UpstreamError)
    assert upstream.exception.body == [{"received": "Bearer ***"}]
    assert TOKEN not in json.dumps(upstream.error)


# -- timeouts -----------------------------------------------------------------------


async def test_slow_server_times_out(engine: Engine, server: HTTPServer) -> None:
    result = await failed(engine, url=server.url_for("/slow?key=secret"), timeout_seconds=0.3)
    assert isinstance(result.exception, CallTimeoutError)
    assert result.exception.retryable
    assert "secret" not in result.exception.message


async def test_a_trickling_answer_is_bounded_by_the_total_timeout(
    engine: Engine, server: HTTPServer
) -> None:
    started = time.perf_counter()
    result = await failed(engine, url=server.url_for("/trickle?key=secret"), timeout_seconds=0.5)
    assert time.perf_counter() - started < 1.5
    assert isinstance(result.exception, CallTimeoutError)
    assert (
        result.exception.message
        == f"http: no complete answer from {server.url_for('/trickle')} within 0.5 s."
    )


# -- the network guard --------------------------------------------------------------


async def test_default_policy_refuses_loopback(server: HTTPServer) -> None:
    engine = Engine(NetworkPolicy())
    for url in (
        server.url_for("/echo"),
        f"http://localhost:{server.port}/echo",
        f"http://[::ffff:127.0.0.1]:{server.port}/echo",
    ):
        result = await failed(engine, url=url)
        assert isinstance(result.exception, ForbiddenDestinationError), result.error
        assert result.error is not None and result.error["code"] == "forbidden_destination"
    assert [entry for entry in server.log if entry[0].path == "/echo"] == []
    for http in engine.clients:
        await http.aclose()


async def test_redirect_from_an_allowed_origin_to_another_port_is_refused(
    server: HTTPServer,
) -> None:
    internal = HTTPServer(host="127.0.0.1", port=0)
    internal.start()
    try:
        internal.expect_request("/admin").respond_with_json({"admin": True})
        server.expect_request("/hop").respond_with_data(
            "", status=302, headers={"Location": f"http://localhost:{internal.port}/admin"}
        )
        engine = Engine(NetworkPolicy.build(origins=[f"http://127.0.0.1:{server.port}"]))
        assert (await ok(engine, url=server.url_for("/echo")))["status"] == 200
        result = await failed(engine, url=server.url_for("/hop"))
        assert isinstance(result.exception, ForbiddenDestinationError)
        assert internal.log == []
        for http in engine.clients:
            await http.aclose()
    finally:
        internal.stop()


# -- input validation ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("inputs", "field", "fragment"),
    [
        ({"url": "ftp://example.com/file"}, "url", "use a full http:// or https:// URL"),
        ({"url": "example.com/orders"}, "url", "use a full http:// or https:// URL"),
        ({"url": "http://"}, "url", "use a full http:// or https:// URL"),
        ({"url": "http://0177.0.0.1/"}, "url", "not a valid URL"),
        ({"url": "https://user:pw@example.com/"}, "url", "not in the URL"),
        (
            {"url": "https://example.com", "headers": {"Bad Header": "x"}},
            "headers",
            "not a valid header name",
        ),
        (
            {"url": "https://example.com", "headers": {"X-A": "1\r\nX-Injected: 1"}},
            "headers",
            "must be on one line",
        ),
        (
            {"url": "https://example.com", "body_type": "form", "body": ["a"]},
            "(root)",
            "object of form fields",
        ),
        (
            {"url": "https://example.com", "body_type": "raw", "body": 42},
            "(root)",
            "must be a text",
        ),
        (
            {"url": "https://example.com", "body_type": "json", "body": '{"a": 1,}'},
            "(root)",
            "Line 1, column 9",
        ),
        (
            {"url": "https://example.com", "timeout_seconds": 301},
            "timeout_seconds",
            "less than or equal to 300",
        ),
        ({"url": "https://example.com", "method": "TRACE"}, "method", "'GET'"),
    ],
)
async def test_invalid_inputs_name_the_field(
    engine: Engine, inputs: dict[str, Any], field: str, fragment: str
) -> None:
    result = await failed(engine, **inputs)
    assert result.error is not None and result.error["code"] == "invalid_input"
    errors = result.error["details"]["errors"]
    assert errors[0]["field"] == field
    assert fragment in errors[0]["message"]
    assert engine.clients == []  # refused before any client was built


def test_url_is_kept_as_given() -> None:
    inputs = RequestInput(
        url="  https://api.example.com/v1/items?a=1  ", bearer_token=SecretStr("x")
    )
    assert inputs.url == "https://api.example.com/v1/items?a=1"


# -- the app ------------------------------------------------------------------------


def test_app_shape() -> None:
    assert default_registry().get("http") is app
    assert app.action("request") is request
    assert not app.needs_connection and app.auth.type == "none"
    RequestOutput.model_validate(request.sample)
    schema = request.input_schema()
    assert all(field.get("description") for field in schema["properties"].values())
    assert schema["properties"]["bearer_token"]["anyOf"][0]["format"] == "password"
    assert request.kind == "action"


async def test_perform_directly_with_a_context(server: HTTPServer) -> None:
    http = build_http(app_key="http", policy=NetworkPolicy.build(allow_private=True))
    output = await request.perform(
        OperationContext(http=http), RequestInput(url=server.url_for("/echo/direct"))
    )
    assert isinstance(output, RequestOutput) and output.body["path"] == "/echo/direct"
    with pytest.raises(ValidationError):
        RequestInput(url="https://example.com", unknown=1)  # type: ignore[call-arg]
    await http.aclose()


async def test_every_request_carries_the_hop_count_and_a_cell_cannot_reset_it(
    server: HTTPServer,
) -> None:
    http = build_http(app_key="http", policy=NetworkPolicy.build(allow_private=True))
    try:
        first = await request.perform(
            OperationContext(http=http), RequestInput(url=server.url_for("/echo/a"))
        )
        assert (
            first.body["headers"]["x-cellwright-hops"] == "1"
        )  # a run nobody called: hop 0, so this call is hop 1
        forged = RequestInput(
            url=server.url_for("/echo/b"), headers={"x-cellwright-hops": "0", "X-Other": "kept"}
        )
        second = await request.perform(OperationContext(http=http, hops=3), forged)
        assert second.body["headers"]["x-cellwright-hops"] == "4"
        assert second.body["headers"]["x-other"] == "kept"
    finally:
        await http.aclose()
