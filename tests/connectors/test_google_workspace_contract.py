"""Google Workspace contract: every request the connector sends, checked against Google's
discovery documents (tests/specs/google/*.json), and every sandbox answer against the
method's response schema.

Per request: host + path + method is a method of one API (``rootUrl`` + ``servicePath`` +
``path``, or the media upload path); every query parameter is the method's or one of the
API's standard ones, with a value of its type (integers in range, booleans, enums); the
required ones are there; a JSON body validates against the method's request schema with
no property the schema does not declare (the multipart upload's metadata part likewise).
The token endpoint (RFC 6749, not in a discovery document) gets a refresh grant, form-encoded.
Per sandbox route: it demands exactly the scopes its method lists.
"""

from __future__ import annotations

import email
import email.policy
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest

from connectors.google_workspace import app
from connectors.google_workspace import sandbox as sb
from connectors.google_workspace.auth import who_am_i
from connectors.google_workspace.options import OPTIONS
from connectors.google_workspace.sandbox_gmail_calendar import new_event, new_message
from connectors.google_workspace.sandbox_seed import INVOICES_FOLDER_ID, SPREADSHEET_ID
from connectors.sdk import InstantTrigger, PollingTrigger
from tests.connectors import google_helpers
from tests.connectors.google_helpers import Google, connect, expired, run

fresh_rotations = google_helpers.fresh_rotations  # an autouse fixture


def _specs() -> Path:
    candidates = [
        Path(os.environ.get("CELLWRIGHT_SPECS", Path(__file__).resolve().parents[1] / "specs")),
        Path(__file__).resolve().parents[3] / "shared" / "specs",
    ]
    return next(
        (p / "google" for p in candidates if (p / "google").is_dir()), candidates[0] / "google"
    )


DOCS = {path.stem: json.loads(path.read_text()) for path in sorted(_specs().glob("*.json"))}
OAUTH_ENDPOINTS = {("POST", "oauth2.googleapis.com", "/token")}


def _methods(resource: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield from resource.get("methods", {}).values()
    for child in resource.get("resources", {}).values():
        yield from _methods(child)


def _pattern(template: str) -> re.Pattern[str]:
    return re.compile(
        "^" + re.sub(r"\\\{\\?\+?([^}]+)\\\}", r"(?P<\1>[^/]+?)", re.escape(template)) + "$"
    )


METHODS: list[tuple[str, re.Pattern[str], dict[str, Any], dict[str, Any], bool]] = []
"""(HTTP method, URL pattern, method, its discovery document, is a media upload)."""
for doc in DOCS.values():
    root = doc["rootUrl"].rstrip("/")
    for method in _methods(doc):
        path = method.get("flatPath") or method["path"]
        METHODS.append(
            (
                method["httpMethod"],
                _pattern(f"{root}/{doc['servicePath']}{path}"),
                method,
                doc,
                False,
            )
        )
        simple = ((method.get("mediaUpload") or {}).get("protocols") or {}).get("simple")
        if simple:
            METHODS.append(
                (method["httpMethod"], _pattern(root + simple["path"]), method, doc, True)
            )


def find(request: httpx.Request) -> tuple[dict[str, Any], dict[str, Any], bool, dict[str, str]]:
    url = f"{request.url.scheme}://{request.url.host}{request.url.path}"
    for verb, pattern, method, doc, upload in METHODS:
        found = pattern.match(url)
        if found and verb == request.method:
            return method, doc, upload, found.groupdict()
    raise AssertionError(f"{request.method} {url} is not a method of Google's discovery documents")


# -- schemas ---------------------------------------------------------------------------------------


def json_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A discovery schema as JSON Schema: ``$ref`` to definitions, ``any`` as anything,
    objects closed to undeclared properties (trimmed stubs stay open)."""
    if "$ref" in schema:
        return {"$ref": f"#/definitions/{schema['$ref']}"}
    kind = schema.get("type")
    converted: dict[str, Any] = {}
    if kind == "any" or schema.get("x-trimmed"):
        return {}
    if kind == "integer" or (kind == "string" and schema.get("format") in ("int64", "uint64")):
        converted["type"] = ["integer", "string"] if kind == "string" else "integer"
    elif kind:
        converted["type"] = kind
    if "enum" in schema:
        converted["enum"] = schema["enum"]
    if kind == "array":
        converted["items"] = json_schema(schema.get("items", {}))
    if kind == "object":
        converted["properties"] = {
            k: json_schema(v) for k, v in schema.get("properties", {}).items()
        }
        if "additionalProperties" in schema:
            converted["additionalProperties"] = json_schema(schema["additionalProperties"])
        elif schema.get("properties"):
            converted["additionalProperties"] = False
    return converted


def validate(value: Any, ref: str, doc: dict[str, Any], where: str) -> list[str]:
    schema = {
        "definitions": {k: json_schema(v) for k, v in doc["schemas"].items()},
        "$ref": f"#/definitions/{ref}",
    }
    return [
        f"{where}: {e.message} at {list(e.absolute_path)}"
        for e in jsonschema.Draft7Validator(schema).iter_errors(value)
    ]


# -- parameters ------------------------------------------------------------------------------------


def check_param(name: str, value: str, spec: dict[str, Any]) -> list[str]:
    kind = spec.get("type")
    if spec.get("enum") and value not in spec["enum"]:
        return [f"{name}={value} is not one of {spec['enum']}"]
    if kind == "integer":
        if not re.fullmatch(r"-?\d+", value):
            return [f"{name}={value} is not an integer"]
        low, high = spec.get("minimum"), spec.get("maximum")
        if (low is not None and int(value) < int(low)) or (
            high is not None and int(value) > int(high)
        ):
            return [f"{name}={value} is outside [{low}, {high}]"]
    if kind == "boolean" and value not in ("true", "false"):
        return [f"{name}={value} is not a boolean"]
    return []


def request_problems(request: httpx.Request) -> list[str]:
    host_path = ("POST", request.url.host, request.url.path)
    if host_path in OAUTH_ENDPOINTS:
        form = dict(httpx.QueryParams(request.content.decode()))
        ok = (
            request.headers["content-type"] == "application/x-www-form-urlencoded"
            and form.get("grant_type") == "refresh_token"
        )
        return [] if ok and form.get("refresh_token") else [f"token request {form}"]
    method, doc, upload, path_params = find(request)
    where = method["id"]
    problems: list[str] = []
    declared = {**doc.get("parameters", {}), **method.get("parameters", {})}
    for name in set(request.url.params.keys()):
        spec = declared.get(name)
        if spec is None or spec.get("location") == "path":
            problems.append(f"{where}: undeclared query parameter {name}")
            continue
        values = request.url.params.get_list(name)
        if len(values) > 1 and not spec.get("repeated"):
            problems.append(f"{where}: {name} is not repeated")
        problems += [f"{where}: {p}" for v in values for p in check_param(name, v, spec)]
    for name, spec in method.get("parameters", {}).items():
        if (
            spec.get("required")
            and spec.get("location") == "query"
            and name not in request.url.params
        ):
            problems.append(f"{where}: required parameter {name} missing")
        if spec.get("location") == "path" and not path_params.get(name):
            problems.append(f"{where}: path parameter {name} empty")
    ref = (method.get("request") or {}).get("$ref")
    if upload:
        message = email.message_from_bytes(
            f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode() + request.content,
            policy=email.policy.HTTP,
        )
        parts = list(message.iter_parts())
        assert request.url.params.get("uploadType") == "multipart" and len(parts) == 2, where
        problems += (
            validate(json.loads(parts[0].get_payload(decode=True)), ref, doc, where) if ref else []
        )
    elif request.content:
        assert ref, f"{where} takes no body"
        assert request.headers["content-type"] == "application/json", where
        problems += validate(json.loads(request.content), ref, doc, where)
    return problems


def response_problems(request: httpx.Request, response: httpx.Response) -> list[str]:
    if (
        "POST",
        request.url.host,
        request.url.path,
    ) in OAUTH_ENDPOINTS or response.status_code >= 400:
        return []
    method, doc, _, _ = find(request)
    ref = (method.get("response") or {}).get("$ref")
    return validate(response.json(), ref, doc, method["id"] + " response") if ref else []


# -- what the connector sends ----------------------------------------------------------------------


async def exercise(google: Google) -> None:
    """Every operation's example, the options, and the paths examples do not reach."""
    await who_am_i(google.ctx)
    for op in app.actions:
        await run(google, op.key, **dict(op.example or {}))
    for trigger in app.triggers:
        assert isinstance(trigger, PollingTrigger | InstantTrigger)
        inputs = trigger.input.model_validate(dict(trigger.example or {}))
        assert trigger.fetch is not None
        first = await trigger.fetch(google.ctx, inputs, None)
        if isinstance(trigger, InstantTrigger):  # a watch channel: open, read changes, stop
            assert trigger.subscribe is not None and trigger.unsubscribe is not None
            state = await trigger.subscribe(
                google.ctx, inputs, "https://cellwright.example/hooks/t"
            )
            await run(google, "drive_create_folder", name="Watched", parent_id=INVOICES_FOLDER_ID)
            new_event(
                google.account,
                sb.EMAIL,
                {
                    "summary": "Watched",
                    "start": {"date": "2030-02-01"},
                    "end": {"date": "2030-02-02"},
                },
            )
            await trigger.fetch(google.ctx, inputs, getattr(first, "cursor", None))
            await trigger.unsubscribe(google.ctx, inputs, state)
            continue
        await trigger.fetch(google.ctx, inputs, getattr(first, "cursor", None))
    for source in OPTIONS:
        await source.fetch(google.ctx, dict(source.example))
    original = next(m["id"] for m in google.account.messages if "INBOX" in m["labelIds"])
    await run(
        google,
        "gmail_send_email",
        reply_to_message_id=original,
        body_text="Reply",
        body_html="<p>Reply</p>",
        cc=["a@example.com"],
    )
    await run(google, "gmail_create_draft", reply_to_message_id=original, body_text="Draft")
    await run(
        google,
        "sheets_append_row",
        spreadsheet_id=SPREADSHEET_ID,
        sheet="Orders",
        columns={"Email": "x@example.com"},
        value_input="RAW",
    )
    await run(
        google,
        "sheets_lookup_row",
        spreadsheet_id=SPREADSHEET_ID,
        sheet="Orders",
        column="A",
        value="#1001",
        all_matches=True,
    )
    await run(
        google,
        "drive_upload_file",
        name="a.bin",
        content_base64="AAEC",
        mime_type="application/octet-stream",
    )
    await run(
        google,
        "calendar_create_event",
        summary="All day",
        start="2030-01-02",
        calendar_id="primary",
        send_updates="all",
        description="d",
        location="l",
        time_zone="Europe/Berlin",
    )
    new_message(google.account, "x@example.com", "Request: more", "text", ["INBOX", "Label_1"])
    new_event(
        google.account,
        sb.EMAIL,
        {"summary": "Later", "start": {"date": "2030-01-01"}, "end": {"date": "2030-01-02"}},
    )
    await google.control("expire_sync_tokens")
    op = app.trigger("calendar_new_event")
    inputs = op.input.model_validate({"calendar_id": "primary"})
    first = await op.fetch(google.ctx, inputs, None)  # type: ignore[attr-defined]
    await op.fetch(google.ctx, inputs, first.cursor)  # type: ignore[attr-defined]
    await op.fetch(google.ctx, inputs, {**first.cursor, "sync_token": "sync0"})  # type: ignore[attr-defined]  # a 410, then a full sync


@pytest.fixture
async def recorded() -> list[tuple[httpx.Request, httpx.Response]]:
    google = connect(
        credentials=expired()
    )  # the first call refreshes: the token endpoint is exercised too
    await exercise(google)
    return google.transport.calls


async def test_every_request_is_a_method_of_googles_discovery_documents(
    recorded: list[tuple[httpx.Request, httpx.Response]],
) -> None:
    problems = [p for request, _ in recorded for p in request_problems(request)]
    assert problems == []
    used = {
        find(r)[0]["id"]
        for r, _ in recorded
        if ("POST", r.url.host, r.url.path) not in OAUTH_ENDPOINTS
    }
    assert used >= {
        "sheets.spreadsheets.get",
        "sheets.spreadsheets.values.get",
        "sheets.spreadsheets.values.append",
        "sheets.spreadsheets.values.update",
        "gmail.users.messages.list",
        "gmail.users.messages.get",
        "gmail.users.messages.send",
        "gmail.users.drafts.create",
        "gmail.users.labels.list",
        "drive.files.list",
        "drive.files.create",
        "calendar.calendarList.list",
        "calendar.events.list",
        "calendar.events.insert",
        "calendar.events.patch",
        "calendar.events.watch",
        "calendar.channels.stop",
        "drive.changes.getStartPageToken",
        "drive.changes.list",
        "drive.changes.watch",
        "drive.channels.stop",
        "oauth2.userinfo.get",
    }
    assert any(r.url.path == "/token" for r, _ in recorded)
    assert any(resp.status_code == 410 for _, resp in recorded)


async def test_every_sandbox_answer_fits_the_methods_response_schema(
    recorded: list[tuple[httpx.Request, httpx.Response]],
) -> None:
    assert [p for request, response in recorded for p in response_problems(request, response)] == []


def test_the_checks_find_problems() -> None:
    """Not vacuous: an invented path, parameter, value and body field are each reported."""
    with pytest.raises(AssertionError, match="not a method"):
        find(httpx.Request("GET", "https://sheets.googleapis.com/v4/spreadsheets/x/rows"))
    bad = httpx.Request(
        "GET",
        "https://www.googleapis.com/drive/v3/files",
        params={"pageSize": "5000", "colour": "red"},
    )
    assert sorted(request_problems(bad)) == [
        "drive.files.list: pageSize=5000 is outside [1, 1000]",
        "drive.files.list: undeclared query parameter colour",
    ]
    body = httpx.Request(
        "POST",
        "https://www.googleapis.com/calendar/v3/calendars/primary/events",
        json={"summary": "x", "room": 4},
    )
    assert any("'room' was unexpected" in p for p in request_problems(body))
    enum = httpx.Request(
        "GET", "https://gmail.googleapis.com/gmail/v1/users/me/messages/1", params={"format": "pdf"}
    )
    assert request_problems(enum) == [
        "gmail.users.messages.get: format=pdf is not one of ['minimal', 'full', 'raw', 'metadata']"
    ]


def test_each_sandbox_route_demands_its_methods_scopes() -> None:
    routes = sb.create_app().routes
    checked = 0
    for route in routes:
        scopes = getattr(getattr(route, "endpoint", None), "scopes", None)
        if scopes is None:
            continue
        path = re.sub(r"\{(\w+)(:\w+)?\}", "x", route.path)  # type: ignore[attr-defined]
        for verb in route.methods - {"HEAD"}:  # type: ignore[attr-defined]
            host = {"/v4/": "sheets.googleapis.com", "/gmail/": "gmail.googleapis.com"}
            api = next((h for k, h in host.items() if path.startswith(k)), "www.googleapis.com")
            url = f"https://{api}{path}"
            method = find(httpx.Request(verb, url))[0]
            assert set(scopes) == set(method["scopes"]), method["id"]
            checked += 1
    assert checked >= 23
