"""Slack contract: every request the connector sends is checked against the official
Web API description (slackapi/slack-api-specs, Swagger 2.0), and every sandbox answer
against that description's success schema.

Checked per request: the method exists, is called with the HTTP method the description
declares, every argument is declared for it (query for GET, form for POST) with a value
of the declared type, every required argument is present, and the token travels as
``Authorization: Bearer`` (the description's ``token`` parameter).

Not in the 2021 description, checked against Slack's method pages instead (ALLOWLIST):
``files.getUploadURLExternal`` (https://api.slack.com/methods/files.getUploadURLExternal),
``files.completeUploadExternal`` (https://api.slack.com/methods/files.completeUploadExternal)
and the ``upload_url`` the first one returns (raw bytes, POST).
"""

from __future__ import annotations

import base64
import copy
import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import jsonschema
import pytest
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from connectors.sdk.context import OperationContext
from connectors.sdk.http import build_http
from connectors.sdk.sandboxing import RecordingTransport
from connectors.slack import app
from connectors.slack import sandbox as sb
from connectors.slack.auth import parse_token

SPECS = (
    Path(os.environ.get("CELLWRIGHT_SPECS", Path(__file__).resolve().parents[1] / "specs"))
    / "slack"
)
WEB_API = json.loads((SPECS / "web-api-subset.json").read_text())
EVENTS_API = json.loads((SPECS / "events-api-subset.json").read_text())
EVENT_WRAPPER = json.loads((SPECS / "event-wrapper.schema.json").read_text())

ALLOWLIST: dict[str, dict[str, Any]] = {
    # https://api.slack.com/methods/files.getUploadURLExternal
    "files.getUploadURLExternal": {
        "methods": {"get", "post"},
        "params": {
            "filename": ("string", True),
            "length": ("integer", True),
            "alt_txt": ("string", False),
            "snippet_type": ("string", False),
        },
    },
    # https://api.slack.com/methods/files.completeUploadExternal
    "files.completeUploadExternal": {
        "methods": {"post"},
        "params": {
            "files": ("json-array", True),
            "channel_id": ("string", False),
            "channels": ("string", False),
            "initial_comment": ("string", False),
            "thread_ts": ("string", False),
            "blocks": ("string", False),
        },
    },
}


def recording_context(
    credentials: dict[str, Any],
) -> tuple[OperationContext, RecordingTransport, Any]:
    sandbox = sb.create_app()
    recorder = RecordingTransport(httpx.ASGITransport(app=sandbox))
    http = build_http(
        app_key=app.key,
        base_url="http://sandbox.invalid",
        auth=app.auth.httpx_auth(credentials),
        headers=app.default_headers,
        error_parser=app.error_parser,
        transport=recorder,
    )
    return OperationContext(http=http, credentials=credentials), recorder, sandbox


# -- checking one request ----------------------------------------------------------------------


def _type_ok(kind: str, value: str) -> bool:
    if kind == "integer":
        return value.lstrip("-").isdigit()
    if kind == "number":
        try:
            float(value)
        except ValueError:
            return False
        return True
    if kind == "boolean":
        return value in ("true", "false", "1", "0")
    if kind == "json-array":
        try:
            return isinstance(json.loads(value), list)
        except ValueError:
            return False
    return True


def request_problems(request: httpx.Request) -> list[str]:
    """Everything about ``request`` that the official description does not allow."""
    method = request.url.path.rsplit("/", 1)[-1]
    verb = request.method.lower()
    args = dict(parse_qsl(request.url.query.decode(), keep_blank_values=True))
    if request.content:
        assert request.headers["content-type"] == "application/x-www-form-urlencoded"
        args.update(parse_qsl(request.content.decode(), keep_blank_values=True))
    problems: list[str] = []
    if not request.headers.get("authorization", "").startswith("Bearer "):
        problems.append(f"{method}: no Authorization: Bearer token")
    if method in ALLOWLIST:
        entry = ALLOWLIST[method]
        declared = entry["params"]
        if verb not in entry["methods"]:
            problems.append(f"{method}: HTTP {request.method} not allowed")
    else:
        operation = WEB_API["paths"].get(f"/{method}", {}).get(verb)
        if operation is None:
            return [f"{method}: no {request.method} /{method} in the Web API description"]
        where = "query" if verb == "get" else "formData"
        declared = {
            p["name"]: (p.get("type", "string"), bool(p.get("required")))
            for p in operation.get("parameters", [])
            if p["in"] == where and p["name"] != "token"
        }
    for name, value in args.items():
        if name not in declared:
            problems.append(f"{method}: argument '{name}' is not declared")
        elif not _type_ok(declared[name][0], value):
            problems.append(f"{method}: argument '{name}'={value!r} is not a {declared[name][0]}")
    problems += [
        f"{method}: required argument '{n}' missing"
        for n, (_, req) in declared.items()
        if req and n not in args
    ]
    return problems


def _fix_slack_items_quirk(node: Any) -> Any:
    """Slack's spec writes "one of these" as ``items: [a, b]`` on non-arrays: make it ``anyOf``."""
    if isinstance(node, dict):
        fixed = {k: _fix_slack_items_quirk(v) for k, v in node.items()}
        if isinstance(fixed.get("items"), list) and fixed.get("type") != "array":
            fixed["anyOf"] = fixed.pop("items")
        return fixed
    if isinstance(node, list):
        return [_fix_slack_items_quirk(v) for v in node]
    return node


SPEC_FOR_RESPONSES = _fix_slack_items_quirk(copy.deepcopy(WEB_API))
REGISTRY = Registry().with_resource(
    "spec.json", Resource(contents=SPEC_FOR_RESPONSES, specification=DRAFT4)
)


def response_problems(request: httpx.Request, response: httpx.Response) -> list[str]:
    method = request.url.path.rsplit("/", 1)[-1]
    operation = SPEC_FOR_RESPONSES["paths"].get(f"/{method}", {}).get(request.method.lower())
    body = response.json()
    if operation is None or body.get("ok") is not True:
        return []
    schema = {"$ref": f"spec.json#/paths/~1{method}/{request.method.lower()}/responses/200/schema"}
    validator = jsonschema.Draft4Validator(schema, registry=REGISTRY)
    return [
        f"{method} answer: {e.message} at {list(e.absolute_path)}"
        for e in validator.iter_errors(body)
    ]


# -- the recorded session ----------------------------------------------------------------------


async def exercise_everything(ctx: OperationContext) -> None:
    """Every action (and the connection test) once, the way a scenario calls them."""

    async def run(key: str, **inputs: Any) -> Any:
        op = app.action(key)
        return await op.perform(ctx, op.input.model_validate(inputs))

    assert app.auth.test is not None
    await app.auth.test(ctx)
    posted = await run(
        "send_message",
        channel="C0SANDBOX01",
        text="hi",
        unfurl_links=False,
        blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}],
    )
    await run(
        "send_message",
        channel="C0SANDBOX01",
        text="reply",
        thread_ts=posted.ts,
        reply_broadcast=True,
    )
    await run("update_message", channel="C0SANDBOX01", ts=posted.ts, text="edited")
    await run("add_reaction", channel="C0SANDBOX01", timestamp=posted.ts, name="tada")
    await run(
        "list_channels",
        types=["public_channel", "private_channel"],
        exclude_archived=False,
        limit=3,
    )
    await run("find_channel", name="random")
    await run("find_user", email="ada@example.com")
    await run("find_user", user_id="U0SANDBOX02")
    await run(
        "upload_file",
        filename="notes.txt",
        content="hello",
        channel_id="C0SANDBOX01",
        initial_comment="notes",
        thread_ts=posted.ts,
        alt_txt="notes",
        snippet_type="text",
    )
    await run(
        "upload_file", filename="blob.bin", content_base64=base64.b64encode(b"\x00\x01").decode()
    )
    await run("delete_message", channel="C0SANDBOX01", ts=posted.ts)


async def test_every_request_matches_the_official_description() -> None:
    ctx, recorder, _ = recording_context({"access_token": sb.SANDBOX_TOKEN})
    await exercise_everything(ctx)
    methods_called = set()
    problems: list[str] = []
    for request, response in recorder.calls:
        if request.url.path.startswith(
            "/upload/v1/"
        ):  # the upload_url (allowlisted, see module doc)
            assert (
                request.method == "POST" and request.content and response.text.startswith("OK - ")
            )
            continue
        methods_called.add(request.url.path.rsplit("/", 1)[-1])
        problems += request_problems(request) + response_problems(request, response)
    assert problems == []
    assert methods_called == {
        "auth.test",
        "chat.postMessage",
        "chat.update",
        "chat.delete",
        "reactions.add",
        "conversations.list",
        "users.lookupByEmail",
        "users.info",
        "files.getUploadURLExternal",
        "files.completeUploadExternal",
    }


def test_the_checker_catches_what_the_description_forbids() -> None:
    """The contract check must be able to fail."""
    auth = {"Authorization": "Bearer x"}
    form = {"Content-Type": "application/x-www-form-urlencoded"}

    def problems(method: str, url: str, **kwargs: Any) -> list[str]:
        return request_problems(httpx.Request(method, f"http://sandbox.invalid/{url}", **kwargs))

    assert problems(
        "POST", "chat.postMessage", headers={**auth, **form}, content=b"channel=C1&colour=red"
    ) == ["chat.postMessage: argument 'colour' is not declared"]
    assert problems(
        "POST", "chat.update", headers={**auth, **form}, content=b"channel=C1&text=x"
    ) == ["chat.update: required argument 'ts' missing"]
    assert problems("GET", "conversations.list?limit=ten", headers=auth) == [
        "conversations.list: argument 'limit'='ten' is not a integer"
    ]
    assert problems("POST", "conversations.list", headers={**auth, **form}, content=b"limit=1") == [
        "conversations.list: no POST /conversations.list in the Web API description"
    ]
    assert (
        problems("POST", "files.upload", headers=form, content=b"x=1")[0]
        == "files.upload: no Authorization: Bearer token"
    )
    assert problems("GET", "files.completeUploadExternal?files=x", headers=auth) == [
        "files.completeUploadExternal: HTTP GET not allowed",
        "files.completeUploadExternal: argument 'files'='x' is not a json-array",
    ]


def test_the_answer_checker_catches_what_the_description_forbids() -> None:
    request = httpx.Request("GET", "http://sandbox.invalid/conversations.list")
    channel = {"id": "C0SANDBOX01", "name": "general", "colour": "red"}
    answer = httpx.Response(
        200, json={"ok": True, "channels": [channel], "response_metadata": {"next_cursor": ""}}
    )
    assert response_problems(request, answer)[0].startswith("conversations.list answer:")
    auth_test = httpx.Request("GET", "http://sandbox.invalid/auth.test")
    assert "auth.test answer: 'url' is a required property at []" in response_problems(
        auth_test, httpx.Response(200, json={"ok": True, "team": "x"})
    )


def test_the_retired_upload_method_is_not_used() -> None:
    import connectors.slack

    files = list(Path(connectors.slack.__file__).parent.glob("*.py"))
    assert len(files) == 8
    source = "".join(p.read_text() for p in files)
    assert '"files.upload"' not in source and '"files.getUploadURLExternal"' in source


@pytest.mark.parametrize(
    ("payload"),
    [
        sb.event_callback(
            {
                "type": "message",
                "channel": "C0SANDBOX01",
                "user": "U0SANDBOX01",
                "text": "x",
                "ts": "1.2",
            }
        ),
        sb.event_callback({"type": "team_join", "user": {"id": "U0SANDBOX07"}}),
    ],
)
def test_sandbox_event_deliveries_follow_the_event_wrapper_schema(payload: dict[str, Any]) -> None:
    jsonschema.Draft7Validator(EVENT_WRAPPER).validate(payload)


def test_every_trigger_listens_to_an_event_the_events_api_describes() -> None:
    topics = set(EVENTS_API["topics"])
    wanted = {
        "new_message": "message.channels",
        "reaction_added": "reaction.added",
        "channel_created": "channel.created",
        "team_join": "team.join",
    }
    assert {t.key for t in app.triggers} == set(wanted)
    assert set(wanted.values()) <= topics
    assert "url.verification" in topics


def test_oauth_token_answers_are_read_in_slacks_shape() -> None:
    from connectors.sdk import AuthExpiredError
    from connectors.sdk.oauth import token_set

    def answer(body: dict[str, Any]) -> httpx.Response:
        return httpx.Response(200, json=body, request=httpx.Request("POST", app.auth.token_url))  # type: ignore[attr-defined]

    tokens = token_set(
        app.auth,
        answer(
            {  # type: ignore[arg-type]
                "ok": True,
                "access_token": "xoxb-1",
                "token_type": "bot",
                "scope": "chat:write",
                "bot_user_id": "U0SANDBOT01",
                "team": {"id": "T0SANDBOX1", "name": "Sandbox"},
                "refresh_token": "xoxe-1",
                "expires_in": 43200,
            }
        ),
        "exchange",
    )
    assert (
        tokens["access_token"] == "xoxb-1"
        and tokens["team_id"] == "T0SANDBOX1"
        and "ok" not in tokens
    )
    assert tokens["expires_at"] > 0
    with pytest.raises(AuthExpiredError, match="invalid_refresh_token"):
        token_set(app.auth, answer({"ok": False, "error": "invalid_refresh_token"}), "refresh")  # type: ignore[arg-type]
    assert parse_token({"ok": False, "error": "ratelimited"})["error"] == "rate_limited"
