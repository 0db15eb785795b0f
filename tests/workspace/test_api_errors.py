"""Errors under /api/v1 are JSON in one shape, bounded inputs are refused with a 422 that
says why, and the OpenAPI description lists what the routes answer (regressions found
by schemathesis, checked here without its randomness)."""

from __future__ import annotations

from typing import Any

import httpx
import jsonschema
import pytest

from connectors.registry import Registry

ERROR_STATUSES = {"400", "401", "404", "409", "413", "422", "502", "504"}


async def test_an_offset_past_what_the_store_holds_is_a_422_not_a_500(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/api/v1/executions", params={"offset": str(2**63)})
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "invalid_input" and body["errors"][0]["field"] == "query.offset"
    assert "less than or equal to 9223372036854775807" in body["message"]
    biggest = await client.get("/api/v1/executions", params={"offset": str(2**63 - 1)})
    assert biggest.status_code == 200 and biggest.json()["items"] == []


async def test_a_version_past_what_the_store_holds_is_a_422(client: httpx.AsyncClient) -> None:
    created = await client.post(
        "/api/v1/scenarios",
        json={
            "name": "x",
            "cells": [
                {"id": "start", "kind": "trigger", "app": "manual", "operation": "run_manually"}
            ],
        },
    )
    scenario_id = created.json()["id"]
    in_query = await client.post(
        f"/api/v1/scenarios/{scenario_id}/publish", params={"version": str(2**31)}
    )
    in_body = await client.post(f"/api/v1/scenarios/{scenario_id}/publish", json={"version": 2**31})
    for response in (in_query, in_body):
        assert response.status_code == 422 and response.json()["error"] == "invalid_input"
    assert (
        await client.post(
            f"/api/v1/scenarios/{scenario_id}/publish", params={"version": str(2**31 - 1)}
        )
    ).status_code == 404


@pytest.mark.parametrize("value", ["0.5", "1714560000", "-3", "1e9"])
async def test_since_and_until_take_iso_8601_not_a_number(
    client: httpx.AsyncClient, value: str
) -> None:
    for name in ("since", "until"):
        response = await client.get("/api/v1/executions", params={name: value})
        assert response.status_code == 422, (name, value)
        body = response.json()
        assert body["errors"][0]["field"] == f"query.{name}"
        assert (
            f"'{value}' is a number; give a date and time in ISO 8601, e.g. 2024-05-01T12:00:00Z"
            in body["message"]
        )
    fine = await client.get(
        "/api/v1/executions", params={"since": "2024-05-01T00:00:00Z", "until": "2024-05-02T00:00"}
    )
    assert fine.status_code == 200


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/v1/scenarios"),
        ("PUT", "/api/v1/scenarios/x"),
        ("POST", "/api/v1/connections"),
        ("PATCH", "/api/v1/connections/x"),
        ("POST", "/api/v1/executions/x/rerun"),
    ],
)
@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"\xff\xfe{", "it is not JSON encoded as UTF-8"),
        (b"{nope", "The request body is not valid JSON (Expecting property name"),
    ],
)
async def test_a_body_that_is_not_json_is_a_documented_400(
    client: httpx.AsyncClient, method: str, path: str, body: bytes, says: str
) -> None:
    response = await client.request(
        method, path, content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    answer = response.json()
    assert answer["error"] == "invalid_body" and says in answer["message"]
    assert answer["message"].endswith("Send a JSON object with Content-Type: application/json.")


async def test_unknown_paths_under_the_api_answer_json(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/nope")
    assert response.status_code == 404 and response.headers["content-type"] == "application/json"
    assert response.json() == {
        "error": "not_found",
        "message": (
            "Nothing is served at /api/v1/nope. The API's operations are listed at /api/v1/docs."
        ),
    }


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PATCH", "/api/v1/scenarios/abc", "DELETE, GET, PUT"),  # three routes share the path
        ("PUT", "/api/v1/connections", "GET, POST"),
        ("DELETE", "/api/v1/apps", "GET"),
        ("GET", "/api/v1/scenarios/abc/run", "POST"),
    ],
)
async def test_a_wrong_method_is_a_405_naming_every_method_the_path_takes(
    client: httpx.AsyncClient, method: str, path: str, allow: str
) -> None:
    response = await client.request(method, path)
    assert response.status_code == 405
    assert response.headers["allow"] == allow
    assert response.json() == {
        "error": "method_not_allowed",
        "message": f"{path} does not take {method}; it takes {allow}.",
    }


async def test_every_api_operation_documents_its_errors_in_one_shape(
    anon: httpx.AsyncClient,
) -> None:
    spec = (await anon.get("/api/v1/openapi.json")).json()
    operations = [
        (path, method, op)
        for path, item in spec["paths"].items()
        if path.startswith("/api/v1/")
        for method, op in item.items()
    ]
    assert len(operations) >= 25
    for path, method, op in operations:
        assert ERROR_STATUSES <= set(op["responses"]), (method, path)
        for status in ERROR_STATUSES:
            assert op["responses"][status]["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/ErrorBody"
            }, (method, path, status)
    export = spec["paths"]["/api/v1/scenarios/{scenario_id}/export"]["get"]["responses"]["200"][
        "content"
    ]
    assert set(export) == {"application/yaml", "application/json"}
    callback = spec["paths"]["/oauth/callback"]["get"]["responses"]
    assert set(callback["400"]["content"]) == {
        "application/json",
        "text/html",
    }  # a browser gets a page


async def test_the_served_description_names_this_servers_apps_and_their_operations(
    anon: httpx.AsyncClient, client: httpx.AsyncClient, registry: Registry
) -> None:
    spec = (await anon.get("/api/v1/openapi.json")).json()
    schemas = spec["components"]["schemas"]
    assert schemas["ConnectionIn"]["properties"]["app"]["enum"] == sorted(registry.keys())
    trigger = schemas["TriggerCell"]
    assert (
        "probe" in trigger["properties"]["app"]["enum"]
        and "formatter" not in trigger["properties"]["app"]["enum"]
    )
    assert {
        "properties": {"app": {"const": "manual"}, "operation": {"enum": ["run_manually"]}}
    } in trigger["anyOf"]
    action = schemas["ActionCell"]
    assert {
        "properties": {"app": {"const": "probe"}, "operation": {"enum": ["bad_output", "count"]}}
    } in action["anyOf"]

    # the served document's $refs point into components: validate against it whole
    validator = jsonschema.Draft202012Validator(
        {"components": {"schemas": schemas}, **schemas["ScenarioDocument"]}
    )

    def document(app: str, operation: str) -> dict[str, Any]:
        return {
            "name": "x",
            "cells": [
                {"id": "start", "kind": "trigger", "app": "manual", "operation": "run_manually"},
                {"id": "a", "kind": "action", "app": app, "operation": operation},
            ],
        }

    assert list(validator.iter_errors(document("probe", "count"))) == []
    assert (
        await client.post("/api/v1/scenarios", json=document("probe", "count"))
    ).status_code == 201
    for app, operation in (("nope", "count"), ("", ""), ("probe", "nope"), ("probe", "items")):
        assert list(validator.iter_errors(document(app, operation))), (
            app,
            operation,
        )  # the description refuses it…
        response = await client.post("/api/v1/scenarios", json=document(app, operation))
        assert (
            response.status_code == 422 and response.json()["error"] == "configuration_error"
        )  # …and so does the server


@pytest.mark.parametrize(
    ("error", "status"),
    [
        ("upstream", 502),
        ("timeout", 504),
        ("missing", 404),
        ("plain", 400),
    ],
)
async def test_an_error_answers_with_the_status_its_class_carries(
    svc: Any, api_key: str, error: str, status: int
) -> None:
    from connectors.sdk import CallTimeoutError, CellwrightError, UpstreamError
    from engine.errors import NotFound
    from workspace.server import create_app

    raised = {
        "upstream": UpstreamError("the vendor said no", status=500),
        "timeout": CallTimeoutError("the vendor took too long"),
        "missing": NotFound("no such thing"),
        "plain": CellwrightError("something else"),
    }[error]
    app = create_app(svc, start=False)
    api = app
    while not hasattr(api, "get"):  # the FastAPI app inside the security middlewares
        api = api.app

    @api.get("/api/v1/raise-for-test")
    def boom() -> None:
        raise raised

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        answer = await c.get(
            "/api/v1/raise-for-test", headers={"Authorization": f"Bearer {api_key}"}
        )
    assert answer.status_code == status
    assert answer.json()["error"] == raised.code and answer.json()["message"] == raised.message
