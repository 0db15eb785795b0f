"""Stripe contract: every request the connector sends, checked against Stripe's OpenAPI
description (shared/specs/stripe/openapi-subset.json, API 2023-08-16), and every sandbox
answer against that description's response schema.

Per request: the path and method exist; every query parameter is declared with a value of
its schema; the form body, decoded from bracket notation, matches the requestBody schema
(declared names at every depth, types, enums, lengths, required); the version is pinned,
the key travels as Bearer, and every POST carries an ``Idempotency-Key``.

Deliberate deviations from the 2023 description (DEVIATIONS below), each asserted to
occur so the list cannot go stale:
- ``api_version`` on ``POST /v1/webhook_endpoints`` is our pinned 2026 version, which the
  2023 enum cannot list (https://docs.stripe.com/api/webhook_endpoints/create).
- Responses are 2026 objects (shaped on fixtures-subset.json); where a 2023 requirement no
  longer holds in 2026 it is listed in RESPONSE_DEVIATIONS.
"""

from __future__ import annotations

import copy
import json
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import jsonschema
import pytest
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4
from starlette.applications import Starlette

from connectors.sdk import OperationContext, build_http
from connectors.sdk.sandboxing import RecordingTransport
from connectors.stripe import app, sandbox
from connectors.stripe.api import STRIPE_VERSION


def _specs() -> Path:
    candidates = [
        Path(os.environ.get("CELLWRIGHT_SPECS", Path(__file__).resolve().parents[1] / "specs")),
        Path(__file__).resolve().parents[3] / "shared" / "specs",
    ]
    return next(
        (p / "stripe" for p in candidates if (p / "stripe").is_dir()), candidates[0] / "stripe"
    )


SPEC = json.loads((_specs() / "openapi-subset.json").read_text())
FIXTURES = json.loads((_specs() / "fixtures-subset.json").read_text())["resources"]

DEVIATIONS = {
    ("POST", "/v1/webhook_endpoints", "api_version"): "pinned 2026 version, not in the 2023 enum",
}
RESPONSE_DEVIATIONS = {
    # Product "features" (required in 2023) became "marketing_features" (2026 fixture).
    ("/v1/products", "'features' is a required property"),
}


# -- the OpenAPI side ------------------------------------------------------------------------


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = SPEC["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def operation(method: str, path: str) -> tuple[str, dict[str, Any]]:
    for template, ops in SPEC["paths"].items():
        pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path) and method.lower() in ops:
            return template, ops[method.lower()]
    raise AssertionError(f"{method} {path} is not in Stripe's description")


def check(value: Any, schema: dict[str, Any], where: str) -> list[str]:
    """Errors of a form-decoded value (strings all the way down) against an OpenAPI schema."""
    schema = _resolve(schema)
    branches = schema.get("anyOf") or schema.get("oneOf")
    if branches:
        results = [check(value, branch, where) for branch in branches]
        return [] if any(not r for r in results) else min(results, key=len)
    kind = schema.get("type", "object" if "properties" in schema else None)
    if kind == "object":
        if not isinstance(value, dict):
            return [f"{where}: expected an object, got {value!r}"]
        errors: list[str] = []
        props, extra = schema.get("properties", {}), schema.get("additionalProperties")
        for key, item in value.items():
            name = f"{where}[{key}]" if where else key
            if key in props:
                errors += check(item, props[key], name)
            elif isinstance(extra, dict):
                errors += check(item, extra, name)
            else:
                errors.append(f"{name}: not declared")
        errors += [
            f"{where}[{r}]: required" if where else f"{r}: required"
            for r in schema.get("required", [])
            if r not in value
        ]
        return errors
    if kind == "array":
        if not isinstance(value, list):
            return [f"{where}: expected an array"]
        return [
            e
            for i, item in enumerate(value)
            for e in check(item, schema.get("items", {}), f"{where}[{i}]")
        ]
    if not isinstance(value, str):
        return [f"{where}: expected a scalar"]
    if kind == "integer" and not re.fullmatch(r"-?\d+", value):
        return [f"{where}: {value!r} is not an integer"]
    if kind == "boolean" and value not in ("true", "false"):
        return [f"{where}: {value!r} is not a boolean"]
    if "enum" in schema and value not in schema["enum"]:
        return [f"{where}: {value!r} is not one of the declared values"]
    if len(value) > schema.get("maxLength", len(value)):
        return [f"{where}: longer than {schema['maxLength']}"]
    return []


def request_errors(request: httpx.Request) -> list[str]:
    template, op = operation(request.method, request.url.path)
    errors: list[str] = []
    declared = {p["name"]: p for p in op.get("parameters", []) if p["in"] == "query"}
    for name, value in sandbox.decode_form(list(request.url.params.multi_items())).items():
        errors += (
            check(value, declared[name]["schema"], name)
            if name in declared
            else [f"{name}: query parameter not declared"]
        )
    errors += [
        f"{name}: required"
        for name, p in declared.items()
        if p.get("required") and name not in request.url.params
    ]
    if request.content:
        assert request.headers["content-type"] == "application/x-www-form-urlencoded"
        body_schema = op["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
        errors += check(
            sandbox.decode_form(parse_qsl(request.content.decode(), keep_blank_values=True)),
            body_schema,
            "",
        )
    return [f"{request.method} {template} {e}" for e in errors]


def _jsonschema(node: Any) -> Any:
    """OpenAPI 3.0 → JSON Schema: ``nullable`` becomes a null branch."""
    if isinstance(node, list):
        return [_jsonschema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _jsonschema(v) for k, v in node.items() if k != "nullable"}
    return {"anyOf": [out, {"type": "null"}]} if node.get("nullable") else out


COMPONENTS = _jsonschema(copy.deepcopy(SPEC["components"]))
REGISTRY = Registry().with_resource(
    "urn:stripe", Resource.from_contents({"components": COMPONENTS}, default_specification=DRAFT4)
)


def response_errors(request: httpx.Request, response: httpx.Response) -> list[str]:
    template, op = operation(request.method, request.url.path)
    status = "200" if response.status_code < 400 else "default"
    schema = _jsonschema(op["responses"][status]["content"]["application/json"]["schema"])
    schema = json.loads(json.dumps(schema).replace('"#/components', '"urn:stripe#/components'))
    validator = jsonschema.Draft4Validator(schema, registry=REGISTRY)
    return [
        f"{request.method} {template} {'/'.join(map(str, e.absolute_path))}: {e.message[:120]}"
        for e in validator.iter_errors(response.json())
    ]


# -- the connector side ----------------------------------------------------------------------


def recording(asgi: Starlette) -> tuple[RecordingTransport, Any]:
    recorder = RecordingTransport(httpx.ASGITransport(app=asgi))

    def ctx(key: str = "", api_key: str = "sk_test_contract") -> OperationContext:
        http = build_http(
            app_key=app.key,
            base_url="http://sandbox.invalid",
            auth=app.auth.httpx_auth({"api_key": api_key}),
            headers=app.default_headers,
            error_parser=app.error_parser,
            transport=recorder,
        )
        return OperationContext(http=http, credentials={"api_key": api_key}, idempotency_key=key)

    return recorder, ctx


async def exercise_everything(asgi: Starlette, ctx: Any) -> None:
    """Every operation once (twice where the shape differs), as scenarios would call them."""
    assert app.auth.test is not None
    await app.auth.test(ctx())
    keys = iter(f"cw-contract-{i}" for i in range(100))

    async def act(op: str, data: dict[str, Any]) -> Any:
        action = app.action(op)
        result = await action.perform(ctx(next(keys)), action.input.model_validate(data))
        return result.model_dump() if hasattr(result, "model_dump") else result

    customer = await act(
        "create_customer",
        {
            "email": "ada@example.com",
            "name": "Ada",
            "phone": "+1555",
            "description": "d",
            "metadata": {"crm": "1"},
        },
    )
    await act(
        "update_customer", {"customer": customer["id"], "name": "Ada L.", "metadata": {"crm": ""}}
    )
    await act("find_customer", {"email": "ada@example.com"})
    product = await act(
        "create_product",
        {"name": "Pro", "description": "Pro plan", "active": True, "metadata": {"tier": "pro"}},
    )
    price = await act(
        "create_price",
        {
            "product": product["id"],
            "currency": "usd",
            "unit_amount": 1900,
            "recurring_interval": "year",
            "recurring_interval_count": 1,
            "nickname": "yearly",
            "metadata": {"x": "y"},
        },
    )
    await act("create_price", {"product": product["id"], "currency": "usd", "unit_amount": 500})
    await act(
        "create_payment_link",
        {"line_items": [{"price": price["id"], "quantity": 3}], "metadata": {"campaign": "fall"}},
    )
    intent = next(iter(asgi.state.stripe.kind("payment_intent").values()))
    await act(
        "create_refund",
        {
            "payment_intent": intent["id"],
            "amount": 100,
            "reason": "duplicate",
            "metadata": {"t": "1"},
        },
    )
    await act("create_refund", {"charge": intent["latest_charge"], "amount": 100})
    for source in app.options:  # the dropdowns of ID fields list through the same API
        assert await source.fetch(ctx(), dict(source.example))
    for trigger in app.triggers:
        if trigger.trigger_type == "instant":
            state = await trigger.subscribe(ctx(next(keys)), None, "https://cw.example/hooks/tok")  # type: ignore[attr-defined]
            await trigger.unsubscribe(ctx(), None, state)  # type: ignore[attr-defined]
        else:
            first = await trigger.fetch(ctx(), None, None)  # type: ignore[attr-defined]
            await trigger.fetch(ctx(), None, first[-1]["created"])  # type: ignore[attr-defined]


async def test_every_request_matches_the_description() -> None:
    asgi = sandbox.create_app()
    recorder, ctx = recording(asgi)
    await exercise_everything(asgi, ctx)
    assert app.auth.test is not None
    await app.auth.test(ctx(api_key="rk_test_contract"))  # falls back to the balance

    paths = {(r.method, operation(r.method, r.url.path)[0]) for r, _ in recorder.calls}
    assert len(paths) == 13, paths  # every endpoint the connector uses was exercised
    errors = [e for request, _ in recorder.calls for e in request_errors(request)]
    expected = [
        e for e in errors if any(e.startswith(f"{m} {p} {param}:") for m, p, param in DEVIATIONS)
    ]
    assert [e for e in errors if e not in expected] == []
    assert len(expected) == 4, "the documented deviation no longer occurs: update DEVIATIONS"

    for request, response in recorder.calls:
        assert request.headers["stripe-version"] == STRIPE_VERSION
        assert request.headers["authorization"].startswith("Bearer ")
        if request.method == "POST":
            assert request.headers["idempotency-key"].startswith("cw-contract-")
        else:
            assert "idempotency-key" not in request.headers
        assert response.status_code == 200 or request.url.path == "/v1/account", response.text


async def test_every_answer_matches_the_description() -> None:
    asgi = sandbox.create_app()
    recorder, ctx = recording(asgi)
    await exercise_everything(asgi, ctx)
    with pytest.raises(Exception):  # noqa: B017 - any mapped error; the point is the recorded answer
        await app.auth.test(ctx(api_key="sk_live_nope"))
    errors = [e for request, response in recorder.calls for e in response_errors(request, response)]
    expected = [
        e
        for e in errors
        if any(f" {path} " in e and message in e for path, message in RESPONSE_DEVIATIONS)
    ]
    assert [e for e in errors if e not in expected] == []
    occurring = {
        (path, message)
        for path, message in RESPONSE_DEVIATIONS
        if any(f" {path} " in e and message in e for e in expected)
    }
    assert occurring == set(RESPONSE_DEVIATIONS), (
        "a documented response deviation no longer occurs: update RESPONSE_DEVIATIONS"
    )


def test_sandbox_objects_only_use_fixture_fields() -> None:
    """The sandbox never invents a field: every key of
    its objects exists in Stripe's 2026 fixtures."""
    asgi = sandbox.create_app()
    sandbox.emit(asgi, "checkout.session.completed")
    sandbox.emit(asgi, "invoice.paid")
    allowed_extra = {
        "webhook_endpoint": {"secret"},
        "charge": set(),
    }  # secret: only in the creation answer
    for kind, objects in asgi.state.stripe.objects.items():
        fixture = FIXTURES.get(kind)
        for obj in objects.values():
            unknown = set(obj) - set(fixture or obj) - allowed_extra.get(kind, set())
            assert not unknown, f"{kind}: {unknown}"
    for event in asgi.state.stripe.events:
        assert set(event) <= set(FIXTURES["event"]), set(event) - set(FIXTURES["event"])
        obj = event["data"]["object"]
        assert set(obj) <= set(FIXTURES[obj["object"]]), (
            obj["object"],
            set(obj) - set(FIXTURES[obj["object"]]),
        )
