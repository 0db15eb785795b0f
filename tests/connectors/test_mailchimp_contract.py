"""Mailchimp contract: every request the connector sends, checked against Mailchimp's
Marketing API description (shared/specs/mailchimp/marketing-openapi.subset.json, Swagger
v3.0.55 as OpenAPI 3.0.1), and every sandbox answer against that description's schemas.

Per request: the path (below ``/3.0``, the description's server path) and method exist;
every query parameter is declared, with a value of its schema; the JSON body validates
against the requestBody schema; the key travels as HTTP Basic.

Deliberate deviations, each asserted to occur so the lists cannot go stale:
- DEVIATIONS: the conversion typed merge field values as objects
  (``merge_fields.additionalProperties: {type: object}``); Mailchimp's reference sends
  text and numbers (``"merge_fields": {"FNAME": "Ada"}``,
  https://mailchimp.com/developer/marketing/api/list-members/add-or-update-list-member/).
- OUTSIDE: two list routes the option sources use are not in the subset; their
  parameters are checked against Mailchimp's reference pages instead.
"""

from __future__ import annotations

import copy
import json
import os
import re
from pathlib import Path
from typing import Any

import httpx
import jsonschema
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4
from starlette.applications import Starlette

from connectors.mailchimp import app, sandbox
from connectors.mailchimp.api import API
from connectors.mailchimp.auth import SANDBOX_KEY
from connectors.sdk import InstantTrigger, OperationContext, PollingTrigger, build_http
from connectors.sdk.sandboxing import RecordingTransport


def _specs() -> Path:
    candidates = [
        Path(os.environ.get("CELLWRIGHT_SPECS", Path(__file__).resolve().parents[1] / "specs")),
        Path(__file__).resolve().parents[3] / "shared" / "specs",
    ]
    return next(
        (p / "mailchimp" for p in candidates if (p / "mailchimp").is_dir()),
        candidates[0] / "mailchimp",
    )


SPEC = json.loads((_specs() / "marketing-openapi.subset.json").read_text())

DEVIATIONS = {
    (
        "merge_fields",
        "is not of type 'object'",
    ): "merge field values are text (the conversion says object)",
}
OUTSIDE = {
    # https://mailchimp.com/developer/marketing/api/list-tags/search-for-tags-on-a-list-by-name/
    ("GET", "/lists/{list_id}/tag-search"): {"name", "count", "offset"},
    # https://mailchimp.com/developer/marketing/api/templates/list-templates/
    ("GET", "/templates"): {
        "fields",
        "exclude_fields",
        "count",
        "offset",
        "created_by",
        "since_date_created",
        "before_date_created",
        "type",
        "category",
        "folder_id",
        "sort_field",
        "sort_dir",
        "content_type",
    },
}


# -- the OpenAPI side ------------------------------------------------------------------------


def _template(method: str, path: str, templates: Any) -> str | None:
    for template in templates:
        pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path) and (
            not isinstance(templates, dict) or method.lower() in templates[template]
        ):
            return str(template)
    return None


def operation(method: str, path: str) -> tuple[str, dict[str, Any] | None]:
    """The description's path template and operation (``None``: one of OUTSIDE)."""
    assert path.startswith(f"{API}/"), path
    path = path.removeprefix(API)
    template = _template(method, path, SPEC["paths"])
    if template is not None:
        return template, SPEC["paths"][template][method.lower()]
    outside = _template(method, path, [t for m, t in OUTSIDE if m == method])
    assert outside is not None, f"{method} {path} is not in Mailchimp's description"
    return outside, None


def _jsonschema(node: Any, strict: bool) -> Any:
    """OpenAPI 3.0 → JSON Schema: ``nullable`` becomes a null branch; refs point at the
    registry. ``strict`` (for what we send): an object's undeclared properties are errors."""
    if isinstance(node, list):
        return [_jsonschema(n, strict) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _jsonschema(v, strict) for k, v in node.items() if k != "nullable"}
    if isinstance(out.get("$ref"), str):
        out["$ref"] = out["$ref"].replace("#/components", f"urn:mailchimp:{strict}#/components")
    if strict and out.get("properties") and "additionalProperties" not in out:
        out["additionalProperties"] = False
    return {"anyOf": [out, {"type": "null"}]} if node.get("nullable") else out


REGISTRY = Registry().with_resources(
    (
        f"urn:mailchimp:{strict}",
        Resource.from_contents(
            {"components": _jsonschema(copy.deepcopy(SPEC["components"]), strict)},
            default_specification=DRAFT4,
        ),
    )
    for strict in (True, False)
)


def _schema_errors(
    value: Any, schema: dict[str, Any], where: str, *, strict: bool = True
) -> list[str]:
    validator = jsonschema.Draft4Validator(_jsonschema(schema, strict), registry=REGISTRY)
    return [
        f"{where} {'.'.join(map(str, e.absolute_path))}: {e.message[:120]}"
        for e in validator.iter_errors(value)
    ]


def _query_value(raw: str, schema: dict[str, Any]) -> Any:
    """A query string value as its schema's type (arrays are comma-separated)."""
    kind = schema.get("type")
    if kind == "array":
        return raw.split(",")
    if kind == "integer" and re.fullmatch(r"-?\d+", raw):
        return int(raw)
    if kind == "boolean" and raw in ("true", "false"):
        return raw == "true"
    return raw


def request_errors(request: httpx.Request) -> list[str]:
    template, op = operation(request.method, request.url.path)
    errors: list[str] = []
    if op is None:
        allowed = OUTSIDE[(request.method, template)]
        errors += [
            f"{name}: query parameter not documented"
            for name in request.url.params
            if name not in allowed
        ]
        return [f"{request.method} {template} {e}" for e in errors]
    declared = {p["name"]: p for p in op.get("parameters", []) if p["in"] == "query"}
    for name, raw in request.url.params.multi_items():
        if name not in declared:
            errors.append(f"{name}: query parameter not declared")
            continue
        errors += _schema_errors(
            _query_value(raw, declared[name]["schema"]), declared[name]["schema"], name
        )
    errors += [
        f"{name}: required"
        for name, p in declared.items()
        if p.get("required") and name not in request.url.params
    ]
    if request.content:
        assert request.headers["content-type"] == "application/json"
        schema = op["requestBody"]["content"]["application/json"]["schema"]
        errors += _schema_errors(json.loads(request.content), schema, "body")
    elif "requestBody" in op and op["requestBody"].get("required"):
        errors.append("body: required")
    return [f"{request.method} {template} {e}" for e in errors]


def response_errors(request: httpx.Request, response: httpx.Response) -> list[str]:
    template, op = operation(request.method, request.url.path)
    if op is None or response.status_code == 204:
        return []
    status = "200" if response.status_code < 400 else "default"
    content = op["responses"][status]["content"]
    schema = (content.get("application/json") or content["application/problem+json"])["schema"]
    return _schema_errors(
        response.json(), schema, f"{request.method} {template} answer", strict=False
    )


# -- the connector side ----------------------------------------------------------------------


def recording(asgi: Starlette) -> tuple[RecordingTransport, Any]:
    recorder = RecordingTransport(httpx.ASGITransport(app=asgi))
    credentials = {"api_key": SANDBOX_KEY}

    def ctx() -> OperationContext:
        http = build_http(
            app_key=app.key,
            base_url="http://sandbox.invalid",
            auth=app.auth.httpx_auth(credentials),
            error_parser=app.error_parser,
            transport=recorder,
        )
        return OperationContext(http=http, credentials=credentials)

    return recorder, ctx


async def exercise_everything(asgi: Starlette, ctx: Any) -> None:
    """Every operation once (twice where the shape differs), as scenarios would call them."""
    assert app.auth.test is not None
    await app.auth.test(ctx())

    async def act(op: str, data: dict[str, Any]) -> Any:
        action = app.action(op)
        result = await action.perform(ctx(), action.input.model_validate(data))
        return result.model_dump() if hasattr(result, "model_dump") else result

    audience = "a1b2c3d4e5"
    await act(
        "add_or_update_subscriber",
        {
            "list_id": audience,
            "email": "ada@example.com",
            "merge_fields": {"FNAME": "Ada"},
            "tags": ["nurture"],
            "status": "subscribed",
            "status_if_new": "pending",
            "language": "en",
            "vip": True,
        },
    )
    await act("add_or_update_subscriber", {"list_id": audience, "email": "ada@example.com"})
    await act(
        "add_subscriber",
        {
            "list_id": audience,
            "email": "lin@example.com",
            "merge_fields": {"FNAME": "Lin"},
            "tags": ["new"],
        },
    )
    await act(
        "add_subscriber", {"list_id": audience, "email": "bo@example.com", "status": "pending"}
    )
    who = {"list_id": audience, "email": "grace@example.com"}
    await act("add_tags", {**who, "tags": ["vip"]})
    await act("remove_tags", {**who, "tags": ["customer"]})
    await act("add_note", {**who, "note": "Hello"})
    await act("unsubscribe", who)
    await act("find_subscriber", {"email": "grace@example.com"})
    await act("find_subscriber", {"email": "grace@example.com", "list_id": audience})
    draft = await act(
        "create_campaign",
        {
            "list_id": audience,
            "subject_line": "S",
            "from_name": "F",
            "reply_to": "r@example.com",
            "template_id": 2000001,
            "title": "T",
            "preview_text": "P",
        },
    )
    await act("send_campaign", {"campaign_id": draft["id"]})
    await act(
        "create_campaign",
        {
            "list_id": audience,
            "subject_line": "S",
            "from_name": "F",
            "reply_to": "r@example.com",
            "html": "<p>x</p>",
            "plain_text": "x",
            "send_now": True,
        },
    )
    for source in app.options:  # the dropdowns of ID fields list through the same API
        assert await source.fetch(ctx(), {**source.example, "list_id": audience})
    for trigger in app.triggers:
        if isinstance(trigger, InstantTrigger):
            inputs = trigger.input.model_validate(trigger.example)
            assert trigger.subscribe is not None and trigger.unsubscribe is not None
            state = await trigger.subscribe(
                ctx(), inputs, f"https://cw.example/hooks/{trigger.key}"
            )
            await trigger.unsubscribe(ctx(), inputs, state)
        elif isinstance(trigger, PollingTrigger):
            inputs = trigger.input.model_validate(trigger.example or {})
            first = await trigger.fetch(ctx(), inputs, None)
            await trigger.fetch(ctx(), inputs, first[-1][trigger.cursor_field or "id"])


async def test_every_request_matches_the_description() -> None:
    asgi = sandbox.create_app()
    recorder, ctx = recording(asgi)
    await exercise_everything(asgi, ctx)

    used = {(r.method, operation(r.method, r.url.path)[0]) for r in recorder.requests}
    assert len(used) == 19, sorted(used)  # every endpoint the connector uses was exercised
    assert set(OUTSIDE) <= used
    errors = [e for request in recorder.requests for e in request_errors(request)]
    expected = [
        e
        for e in errors
        if any(f" body {field}." in e and message in e for field, message in DEVIATIONS)
    ]
    assert [e for e in errors if e not in expected] == []
    assert expected, "the documented deviation no longer occurs: update DEVIATIONS"

    for request, response in recorder.calls:
        assert request.headers["authorization"].startswith("Basic ")
        assert response.status_code in (200, 204), (request.url, response.text)


async def test_every_answer_matches_the_description() -> None:
    asgi = sandbox.create_app()
    recorder, ctx = recording(asgi)
    await exercise_everything(asgi, ctx)
    async with httpx.AsyncClient(
        transport=recorder, base_url="http://sandbox.invalid", auth=("x", SANDBOX_KEY)
    ) as http:
        await http.get(f"{API}/ping")
        await http.get(f"{API}/lists/nope")  # a problem document
        await http.post(
            f"{API}/lists/a1b2c3d4e5/members",
            json={"email_address": "grace@example.com", "status": "subscribed"},
        )
    assert [r.status_code for _, r in recorder.calls[-2:]] == [404, 400]
    errors = [e for request, response in recorder.calls for e in response_errors(request, response)]
    assert errors == []
