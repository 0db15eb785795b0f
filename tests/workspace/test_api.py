"""The REST API under /api/v1: auth, ownership, write-only credentials, clear 422s."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import yaml

from cells import document as documents
from engine.service import Cellwright

SCENARIO = {
    "name": "API scenario",
    "cells": [
        {"id": "start", "kind": "trigger", "app": "manual", "operation": "run_manually"},
        {
            "id": "a",
            "kind": "action",
            "app": "probe",
            "operation": "count",
            "inputs": {"value": "{{ trigger.n }}"},
        },
        {
            "id": "b",
            "kind": "transformer",
            "app": "formatter",
            "operation": "set_fields",
            "inputs": {"fields": {"double": "{{ steps.a.value * 2 }}"}},
        },
    ],
}
SECRET = "good-api-key-Zq81"


@pytest.fixture
async def eve(svc: Cellwright, asgi_app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A second user with her own key."""
    other = svc.store.create_user("eve@example.com", name="Eve")
    key, _ = svc.store.create_api_key(other.id, "eve")
    transport = httpx.ASGITransport(app=asgi_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", headers={"X-API-Key": key}
    ) as c:
        yield c


async def create_scenario(
    client: httpx.AsyncClient, doc: dict[str, Any] = SCENARIO
) -> dict[str, Any]:
    response = await client.post("/api/v1/scenarios", json=doc)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


async def run(client: httpx.AsyncClient, scenario_id: str, n: int = 1) -> dict[str, Any]:
    response = await client.post(
        f"/api/v1/scenarios/{scenario_id}/run", json={"trigger_data": {"n": n}}
    )
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/apps"),
        ("GET", "/api/v1/scenarios"),
        ("POST", "/api/v1/scenarios"),
        ("GET", "/api/v1/executions"),
        ("GET", "/api/v1/connections"),
        ("GET", "/api/v1/me"),
    ],
)
async def test_every_route_needs_an_api_key(
    anon: httpx.AsyncClient, method: str, path: str
) -> None:
    response = await anon.request(method, path, json={})
    assert response.status_code == 401
    assert response.json() == {
        "error": "unauthorized",
        "message": "Send a valid API key: Authorization: Bearer <key>.",
    }
    assert response.headers["www-authenticate"] == "Bearer"
    bad = await anon.request(
        method, path, json={}, headers={"Authorization": "Bearer cw_not-a-key"}
    )
    assert bad.status_code == 401


async def test_keys_work_as_bearer_or_header_and_stop_when_revoked(
    svc: Cellwright, user: Any, api_key: str, anon: httpx.AsyncClient
) -> None:
    assert (await anon.get("/api/v1/me", headers={"Authorization": f"Bearer {api_key}"})).json()[
        "email"
    ] == "ada@example.com"
    me = await anon.get("/api/v1/me", headers={"X-API-Key": api_key})
    assert me.status_code == 200 and "password_hash" not in me.json()
    [key] = svc.store.list_api_keys(user.id)
    svc.store.revoke_api_key(user.id, key.id)
    assert (await anon.get("/api/v1/me", headers={"X-API-Key": api_key})).status_code == 401


async def test_the_app_catalog(client: httpx.AsyncClient) -> None:
    apps = (await client.get("/api/v1/apps")).json()
    keys = [a["key"] for a in apps]
    assert {"webhook", "schedule", "manual", "http", "formatter", "probe", "keyed"} <= set(keys)
    http = (await client.get("/api/v1/apps/http")).json()
    assert http["actions"][0]["key"] == "request" and "input_schema" in http["actions"][0]
    missing = await client.get("/api/v1/apps/nope")
    assert missing.status_code == 404 and missing.json() == {
        "error": "not_found",
        "message": "No app 'nope'.",
    }


async def test_openapi_is_generated_and_lists_the_paths(anon: httpx.AsyncClient) -> None:
    spec = (await anon.get("/api/v1/openapi.json")).json()
    assert spec["openapi"].startswith("3.")
    paths = spec["paths"]
    for path in (
        "/api/v1/apps",
        "/api/v1/connections",
        "/api/v1/connections/{connection_id}",
        "/api/v1/scenarios",
        "/api/v1/scenarios/{scenario_id}",
        "/api/v1/scenarios/{scenario_id}/run",
        "/api/v1/scenarios/{scenario_id}/publish",
        "/api/v1/scenarios/{scenario_id}/cells/{cell_id}/run",
        "/api/v1/executions",
        "/api/v1/executions/{execution_id}",
        "/api/v1/executions/{execution_id}/rerun",
        "/hooks/{token}",
    ):
        assert path in paths, path
    operation_ids = [op["operationId"] for item in paths.values() for op in item.values()]
    assert len(operation_ids) == len(set(operation_ids))
    assert set(paths["/hooks/{token}"]) == {"get", "post", "put", "patch", "delete"}
    schemas = spec["components"]["schemas"]
    assert "ScenarioDocument" in schemas and "ConnectionIn" in schemas
    assert "credentials" not in schemas["ConnectionOut"]["properties"]
    assert (await anon.get("/api/v1/docs")).status_code == 200
    assert (await anon.get("/api/v1/schema/scenario.json")).json()["title"] == "Cellwright scenario"


async def test_scenarios_create_read_update_export_enable_delete(client: httpx.AsyncClient) -> None:
    created = await create_scenario(client)
    assert (
        created["status"] == "draft" and created["version"] == 1 and created["live_version"] is None
    )
    assert created["webhook_url"].startswith("http://127.0.0.1:8000/hooks/")
    assert documents.parse(created["document"]) == documents.parse(SCENARIO)
    listed = (await client.get("/api/v1/scenarios")).json()
    assert [s["id"] for s in listed] == [created["id"]] and listed[0]["document"] is None
    changed = {**SCENARIO, "name": "Renamed"}
    updated = (await client.put(f"/api/v1/scenarios/{created['id']}", json=changed)).json()
    assert (
        updated["version"] == 2 and updated["name"] == "Renamed" and updated["live_version"] is None
    )
    exported = await client.get(f"/api/v1/scenarios/{created['id']}/export")
    assert exported.headers["content-type"].startswith("application/yaml")
    assert documents.loads(exported.text) == documents.parse(changed)
    as_json = await client.get(
        f"/api/v1/scenarios/{created['id']}/export", params={"format": "json"}
    )
    assert documents.parse(as_json.json()) == documents.parse(changed)
    assert as_json.json() == yaml.safe_load(exported.text)
    enabled = (await client.post(f"/api/v1/scenarios/{created['id']}/enable")).json()
    assert (
        enabled["status"] == "active" and enabled["live_version"] == 2
    )  # nothing was live: enabling published
    assert (await client.post(f"/api/v1/scenarios/{created['id']}/disable")).json()[
        "status"
    ] == "paused"
    await client.post(f"/api/v1/scenarios/{created['id']}/enable")
    assert (await client.delete(f"/api/v1/scenarios/{created['id']}")).status_code == 204
    assert (await client.get(f"/api/v1/scenarios/{created['id']}")).status_code == 404


async def test_publish_a_saved_version(client: httpx.AsyncClient, eve: httpx.AsyncClient) -> None:
    created = await create_scenario(client)
    url = f"/api/v1/scenarios/{created['id']}"
    await client.put(url, json={**SCENARIO, "name": "Second"})
    published = await client.post(f"{url}/publish")  # no body: the latest
    assert published.status_code == 200, published.text
    assert (published.json()["version"], published.json()["live_version"]) == (2, 2)
    assert published.json()["document"]["name"] == "Second"
    assert (await client.post(f"{url}/publish", json={"version": 1})).json()["live_version"] == 1
    assert (await client.post(f"{url}/publish", params={"version": 2})).json()["live_version"] == 2
    assert (await client.get(url)).json()["live_version"] == 2
    assert [s["live_version"] for s in (await client.get("/api/v1/scenarios")).json()] == [2]
    missing = await client.post(f"{url}/publish", json={"version": 3})
    assert missing.status_code == 404 and "has no version 3" in missing.json()["message"]
    assert (await client.post(f"{url}/publish", json={"version": 0})).status_code == 422
    assert (await client.post(f"{url}/publish", json={"colour": 1})).status_code == 422
    theirs = await eve.post(f"{url}/publish")
    assert theirs.status_code == 404 and theirs.json()["error"] == "not_found"
    assert (await client.post(f"/api/v1/scenarios/{'0' * 32}/publish")).status_code == 404


async def test_an_invalid_document_is_a_422_naming_the_field(client: httpx.AsyncClient) -> None:
    missing = {
        "name": "x",
        "cells": [SCENARIO["cells"][0], {"id": "a", "kind": "action", "app": "probe"}],
    }
    response = await client.post("/api/v1/scenarios", json=missing)
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "invalid_input"
    assert {"field": "cells.1.action.operation", "message": "Field required"} in body["errors"]
    assert "cells.1.action.operation: Field required" in body["message"]

    later = {
        "name": "x",
        "cells": [
            SCENARIO["cells"][0],
            {**SCENARIO["cells"][2], "inputs": {"fields": {"x": "{{ steps.a.value }}"}}},
            SCENARIO["cells"][1],
        ],
    }
    body = (await client.post("/api/v1/scenarios", json=later)).json()
    [error] = body["errors"]
    assert error["field"] == "cells[1] (id 'b').inputs"
    assert "refers to steps.a, which is not a cell that runs before it" in error["message"]

    unknown_app = {
        "name": "x",
        "cells": [
            SCENARIO["cells"][0],
            {"id": "a", "kind": "action", "app": "nope", "operation": "x"},
        ],
    }
    response = await client.post("/api/v1/scenarios", json=unknown_app)
    assert response.status_code == 422 and response.json()["error"] == "configuration_error"
    assert "There is no app 'nope'" in response.json()["message"]

    bad_trigger = {
        "name": "x",
        "cells": [
            {
                "id": "h",
                "kind": "trigger",
                "app": "webhook",
                "operation": "catch_hook",
                "inputs": {"methods": ["BREW"]},
            }
        ],
    }
    response = await client.post("/api/v1/scenarios", json=bad_trigger)
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "methods.0"
    assert (await client.get("/api/v1/scenarios")).json() == []
    assert (
        await client.post(
            "/api/v1/scenarios", content=b"{nope", headers={"content-type": "application/json"}
        )
    ).status_code == 400


async def test_connections_never_return_credentials(client: httpx.AsyncClient) -> None:
    created = await client.post(
        "/api/v1/connections",
        json={"app": "keyed", "credentials": {"api_key": SECRET}, "sandbox": True},
    )
    assert created.status_code == 201
    connection = created.json()
    assert connection["status"] == "active" and connection["name"] == "Keyed: sandbox-user"
    responses = [
        created,
        await client.get("/api/v1/connections"),
        await client.get(f"/api/v1/connections/{connection['id']}"),
        await client.get("/api/v1/connections", params={"app": "keyed"}),
        await client.post(f"/api/v1/connections/{connection['id']}/test"),
        await client.patch(f"/api/v1/connections/{connection['id']}", json={"name": "Mine"}),
        await client.patch(
            f"/api/v1/connections/{connection['id']}",
            json={"credentials": {"api_key": "good-" + SECRET}},
        ),
    ]
    for response in responses:
        assert response.status_code == 200 or response is created
        assert SECRET not in response.text
        assert "credentials" not in response.text
    assert responses[5].json()["name"] == "Mine"
    assert (await client.get("/api/v1/connections", params={"app": "http"})).json() == []
    refused = await client.post(
        "/api/v1/connections",
        json={"app": "keyed", "credentials": {"api_key": "wrong-" + SECRET}, "sandbox": True},
    )
    assert refused.status_code == 201 and refused.json()["status"] == "error"
    assert SECRET not in refused.text


async def test_a_slack_connection_has_its_events_url(
    client: httpx.AsyncClient, eve: httpx.AsyncClient, anon: httpx.AsyncClient
) -> None:
    """Slack sends all of a Slack app's events to one Request URL: the connection's."""
    created = await client.post("/api/v1/connections", json={"app": "slack", "sandbox": True})
    assert created.status_code == 201
    slack = created.json()
    url = slack["events_url"]
    assert url.startswith("http") and "/hooks/apps/slack/" in url
    listed = {c["id"]: c for c in (await client.get("/api/v1/connections")).json()}
    assert listed[slack["id"]]["events_url"] == url  # stable: pasted once in Slack
    assert (await client.get(f"/api/v1/connections/{slack['id']}")).json()["events_url"] == url
    assert (await client.post(f"/api/v1/connections/{slack['id']}/test")).json()[
        "events_url"
    ] == url
    assert (
        await client.patch(f"/api/v1/connections/{slack['id']}", json={"name": "Slack"})
    ).json()["events_url"] == url
    keyed = (
        await client.post(
            "/api/v1/connections",
            json={"app": "keyed", "credentials": {"api_key": "good-1"}, "sandbox": True},
        )
    ).json()
    assert keyed["events_url"] is None  # one URL per scenario for other apps
    assert (await eve.get(f"/api/v1/connections/{slack['id']}")).status_code == 404
    apps = {a["key"]: a for a in (await client.get("/api/v1/apps")).json()}
    assert (
        apps["slack"]["connection_webhook"] is True and apps["keyed"]["connection_webhook"] is False
    )
    spec = (await anon.get("/api/v1/openapi.json")).json()
    assert set(spec["paths"]["/hooks/apps/{app}/{token}"]) == {"post"}
    assert "events_url" in spec["components"]["schemas"]["ConnectionOut"]["properties"]


async def test_connection_errors_are_clear(client: httpx.AsyncClient) -> None:
    no_sandbox = await client.post(
        "/api/v1/connections",
        json={"app": "nosandbox", "credentials": {"api_key": "k"}, "sandbox": True},
    )
    assert no_sandbox.status_code == 422
    assert no_sandbox.json() == {
        "error": "configuration_error",
        "message": "No sandbox has no sandbox.",
    }
    missing_field = await client.post(
        "/api/v1/connections", json={"app": "keyed", "credentials": {}}
    )
    assert (
        missing_field.status_code == 422 and missing_field.json()["errors"][0]["field"] == "api_key"
    )
    unknown = await client.post(
        "/api/v1/connections", json={"app": "keyed", "credentials": {}, "colour": "red"}
    )
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "colour"
    assert (await client.get(f"/api/v1/connections/{'0' * 32}")).status_code == 404


async def test_a_connection_used_by_an_active_scenario_cannot_be_deleted(
    client: httpx.AsyncClient,
) -> None:
    connection = (
        await client.post(
            "/api/v1/connections",
            json={"app": "keyed", "credentials": {"api_key": "good-1"}, "sandbox": True},
        )
    ).json()
    doc = {
        "name": "Uses it",
        "cells": [
            SCENARIO["cells"][0],
            {
                "id": "who",
                "kind": "action",
                "app": "keyed",
                "operation": "whoami",
                "connection": connection["id"],
            },
        ],
    }
    scenario = await create_scenario(client, doc)
    await client.post(f"/api/v1/scenarios/{scenario['id']}/enable")
    refused = await client.delete(f"/api/v1/connections/{connection['id']}")
    assert refused.status_code == 409
    assert refused.json()["error"] == "conflict" and "'Uses it'" in refused.json()["message"]
    await client.post(f"/api/v1/scenarios/{scenario['id']}/disable")
    assert (await client.delete(f"/api/v1/connections/{connection['id']}")).status_code == 204
    assert (await client.get(f"/api/v1/connections/{connection['id']}")).status_code == 404


async def test_another_users_objects_are_404(
    client: httpx.AsyncClient, eve: httpx.AsyncClient
) -> None:
    connection = (
        await client.post(
            "/api/v1/connections",
            json={"app": "keyed", "credentials": {"api_key": "good-1"}, "sandbox": True},
        )
    ).json()
    scenario = await create_scenario(client)
    execution = await run(client, scenario["id"])
    attempts = [
        await eve.get(f"/api/v1/connections/{connection['id']}"),
        await eve.patch(f"/api/v1/connections/{connection['id']}", json={"name": "mine now"}),
        await eve.post(f"/api/v1/connections/{connection['id']}/test"),
        await eve.delete(f"/api/v1/connections/{connection['id']}"),
        await eve.get(f"/api/v1/scenarios/{scenario['id']}"),
        await eve.put(f"/api/v1/scenarios/{scenario['id']}", json=SCENARIO),
        await eve.delete(f"/api/v1/scenarios/{scenario['id']}"),
        await eve.get(f"/api/v1/scenarios/{scenario['id']}/export"),
        await eve.post(f"/api/v1/scenarios/{scenario['id']}/enable"),
        await eve.post(f"/api/v1/scenarios/{scenario['id']}/disable"),
        await eve.post(f"/api/v1/scenarios/{scenario['id']}/publish"),
        await eve.post(f"/api/v1/scenarios/{scenario['id']}/run", json={}),
        await eve.post(f"/api/v1/scenarios/{scenario['id']}/cells/b/run", json={}),
        await eve.post(
            f"/api/v1/scenarios/{scenario['id']}/cells/b/run", json={"document": SCENARIO}
        ),
        await eve.get(f"/api/v1/executions/{execution['id']}"),
        await eve.post(f"/api/v1/executions/{execution['id']}/rerun", json={}),
    ]
    assert [r.status_code for r in attempts] == [404] * len(attempts), [
        (r.request.url.path, r.status_code) for r in attempts
    ]
    assert (await eve.get("/api/v1/connections")).json() == []
    assert (await eve.get("/api/v1/scenarios")).json() == []
    assert (await eve.get("/api/v1/executions")).json()["total"] == 0
    assert (await client.get(f"/api/v1/connections/{connection['id']}")).json()[
        "name"
    ] == "Keyed: sandbox-user"


async def test_run_and_read_an_execution(client: httpx.AsyncClient) -> None:
    scenario = await create_scenario(client)
    execution = await run(client, scenario["id"], n=21)
    assert execution["status"] == "completed"
    assert [c["cell_id"] for c in execution["cells"]] == ["start", "a", "b"]
    assert execution["cells"][2]["output"] == {"double": 42}
    fetched = (await client.get(f"/api/v1/executions/{execution['id']}")).json()
    assert fetched["cells"] == execution["cells"]
    queued = (
        await client.post(
            f"/api/v1/scenarios/{scenario['id']}/run",
            json={"trigger_data": {"n": 1}, "wait": False},
        )
    ).json()
    assert queued["status"] in ("queued", "running", "completed")


LOOP_SCENARIO = {
    "name": "Loop",
    "cells": [
        {"id": "start", "kind": "trigger", "app": "manual", "operation": "run_manually"},
        {
            "id": "each",
            "kind": "loop",
            "items": "{{ trigger.ns }}",
            "cells": [
                {
                    "id": "double",
                    "kind": "transformer",
                    "app": "formatter",
                    "operation": "set_fields",
                    "inputs": {"fields": {"n": "{{ item * 2 }}"}},
                }
            ],
        },
        {
            "id": "total",
            "kind": "aggregate",
            "loop": "each",
            "mode": "sum",
            "value": "{{ steps.double.n }}",
        },
    ],
}


async def test_a_loop_scenario_through_the_api(client: httpx.AsyncClient) -> None:
    scenario = await create_scenario(client, LOOP_SCENARIO)
    exported = (await client.get(f"/api/v1/scenarios/{scenario['id']}")).json()
    assert exported["document"]["cells"][1]["cells"][0]["id"] == "double"
    response = await client.post(
        f"/api/v1/scenarios/{scenario['id']}/run", json={"trigger_data": {"ns": [1, 2, 3]}}
    )
    execution = response.json()
    assert execution["status"] == "completed", execution["error"]
    doubles = [c for c in execution["cells"] if c["cell_id"] == "double"]
    assert [(c["item"], c["output"]) for c in doubles] == [
        ("0", {"n": 2}),
        ("1", {"n": 4}),
        ("2", {"n": 6}),
    ]
    assert execution["cells"][-1]["output"] == {"result": 12, "count": 3}
    assert execution["cells"][-1]["item"] is None
    too_many = await client.post(
        "/api/v1/scenarios",
        json={**LOOP_SCENARIO, "settings": {"max_loop_items": 0}},
    )
    assert too_many.status_code == 422 and "max_loop_items" in too_many.text
    hidden = {
        **LOOP_SCENARIO,
        "cells": [
            *LOOP_SCENARIO["cells"],
            {
                "id": "after",
                "kind": "transformer",
                "app": "formatter",
                "operation": "set_fields",
                "inputs": {"fields": {"x": "{{ steps.double.n }}"}},
            },
        ],
    }
    refused = await client.post("/api/v1/scenarios", json=hidden)
    assert refused.status_code == 422 and "inside loop 'each'" in refused.json()["message"]


async def test_run_one_cell_with_this_input(client: httpx.AsyncClient, probe: Any) -> None:
    scenario = await create_scenario(client)
    response = await client.post(
        f"/api/v1/scenarios/{scenario['id']}/cells/b/run", json={"steps": {"a": {"value": 5}}}
    )
    assert response.status_code == 200
    result = response.json()
    assert result["status"] == "completed" and result["output"] == {"double": 10}
    assert result["input"] == {"fields": {"double": 10}} and result["duration_ms"] >= 0
    assert probe.calls["a"] == 0
    draft = {
        **SCENARIO,
        "cells": [
            *SCENARIO["cells"][:2],
            {
                "id": "b",
                "kind": "transformer",
                "app": "formatter",
                "operation": "set_fields",
                "inputs": {"fields": {"triple": "{{ steps.a.value * 3 }}"}},
            },
        ],
    }
    unsaved = await client.post(
        f"/api/v1/scenarios/{scenario['id']}/cells/b/run",
        json={"steps": {"a": {"value": 5}}, "document": draft},
    )
    assert unsaved.json()["output"] == {"triple": 15}
    failed = await client.post(
        f"/api/v1/scenarios/{scenario['id']}/cells/b/run", json={"steps": {}}
    )
    assert failed.status_code == 200 and failed.json()["status"] == "failed"
    assert failed.json()["error"]["code"] == "mapping_error"
    assert (
        await client.post(f"/api/v1/scenarios/{scenario['id']}/cells/zzz/run", json={})
    ).status_code == 404
    trigger = await client.post(f"/api/v1/scenarios/{scenario['id']}/cells/start/run", json={})
    assert (
        trigger.status_code == 422
        and "trigger cell is not run on its own" in trigger.json()["message"]
    )
    bad_doc = await client.post(
        f"/api/v1/scenarios/{scenario['id']}/cells/b/run",
        json={"document": {"name": "x", "cells": []}},
    )
    assert bad_doc.status_code == 422 and bad_doc.json()["error"] == "invalid_document"


async def test_executions_page_and_filter(
    client: httpx.AsyncClient, svc: Cellwright, user: Any
) -> None:
    first = await create_scenario(client)
    second = await create_scenario(
        client,
        {
            **SCENARIO,
            "name": "Other",
            "cells": [
                *SCENARIO["cells"][:1],
                {"id": "bad", "kind": "action", "app": "probe", "operation": "bad_output"},
            ],
        },
    )
    ids = [(await run(client, first["id"], n))["id"] for n in range(5)]
    failed = await run(client, second["id"])
    assert failed["status"] == "failed"
    page = (await client.get("/api/v1/executions", params={"limit": 2})).json()
    assert page["total"] == 6 and page["limit"] == 2 and page["offset"] == 0
    assert [e["id"] for e in page["items"]] == [failed["id"], ids[4]]  # newest first
    assert "cells" not in page["items"][0] or page["items"][0]["cells"] is None
    rest = (await client.get("/api/v1/executions", params={"limit": 50, "offset": 2})).json()
    assert [e["id"] for e in rest["items"]] == list(reversed(ids[:4]))
    only_first = (
        await client.get("/api/v1/executions", params={"scenario_id": first["id"]})
    ).json()
    assert only_first["total"] == 5
    only_failed = (await client.get("/api/v1/executions", params={"status": "failed"})).json()
    assert [e["id"] for e in only_failed["items"]] == [failed["id"]]
    future = (datetime.now(UTC) + timedelta(hours=1)).replace(tzinfo=None).isoformat()
    assert (await client.get("/api/v1/executions", params={"since": future})).json()["total"] == 0
    assert (await client.get("/api/v1/executions", params={"until": future})).json()["total"] == 6
    aware = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    assert (await client.get("/api/v1/executions", params={"since": aware})).json()["total"] == 6
    assert (await client.get("/api/v1/executions", params={"limit": 0})).status_code == 422
    assert (
        await client.get("/api/v1/executions", params={"status": "exploded"})
    ).status_code == 422


async def test_rerun_endpoint(
    client: httpx.AsyncClient, svc: Cellwright, probe: Any, helpers: Any
) -> None:
    from connectors.sdk import UpstreamError

    probe.fail("a", UpstreamError("nope", status=400))
    scenario = await create_scenario(client)
    failed = await run(client, scenario["id"], n=2)
    assert failed["status"] == "failed" and failed["error"]["cell_id"] == "a"
    response = await client.post(f"/api/v1/executions/{failed['id']}/rerun", json={})
    assert response.status_code == 202
    rerun = response.json()
    assert rerun["rerun_of"] == failed["id"]
    done = await helpers.finished(svc, rerun["id"])
    assert done["status"] == "completed" and done["cells"][-1]["output"] == {"double": 4}
    from_cell = await client.post(f"/api/v1/executions/{done['id']}/rerun", json={"from_cell": "b"})
    assert from_cell.status_code == 202
    await helpers.finished(svc, from_cell.json()["id"])
    assert probe.calls["a"] == 2
    start = await client.post(f"/api/v1/executions/{done['id']}/rerun", json={"from_start": True})
    await helpers.finished(svc, start.json()["id"])
    assert probe.calls["a"] == 3
    bad_cell = await client.post(
        f"/api/v1/executions/{done['id']}/rerun", json={"from_cell": "zzz"}
    )
    assert bad_cell.status_code == 404 and "has no cell 'zzz'" in bad_cell.json()["message"]
    probe.sleeps["a"] = 0.5
    running = (
        await client.post(
            f"/api/v1/scenarios/{scenario['id']}/run",
            json={"trigger_data": {"n": 1}, "wait": False},
        )
    ).json()
    await asyncio.sleep(0.1)
    busy = await client.post(f"/api/v1/executions/{running['id']}/rerun", json={})
    assert busy.status_code == 409 and busy.json()["error"] == "conflict"
    await helpers.finished(svc, running["id"])


# -- bodies: standard JSON only, and nothing stored breaks an answer ------------------------


@pytest.mark.parametrize(
    ("body", "named"),
    [
        (b'{"trigger_data": {"a": "\\ud800"}}', "half of a UTF-16 surrogate pair"),
        (b'{"trigger_data": {"n": NaN}}', "NaN is not a JSON number"),
        (b'{"trigger_data": {"n": 1e400}}', "the number 1e400 is beyond"),
        (
            b'{"trigger_data": ' + b"[" * 1000 + b"]" * 1000 + b"}",
            "nested more than 100 levels deep",
        ),
    ],
    ids=["lone-surrogate", "nan", "1e400", "deep"],
)
async def test_a_body_that_is_not_standard_json_is_a_422_and_stores_nothing(
    client: httpx.AsyncClient,
    svc: Cellwright,
    user: Any,
    body: bytes,
    named: str,
) -> None:
    scenario = await create_scenario(client)
    before = svc.store.count_executions(user.id)
    headers = {"content-type": "application/json"}
    for path in (
        f"/api/v1/scenarios/{scenario['id']}/run",
        f"/api/v1/scenarios/{scenario['id']}/cells/a/run",
    ):
        response = await client.post(path, content=body, headers=headers)
        assert response.status_code == 422, response.text
        assert response.json()["error"] == "invalid_input" and named in response.json()["message"]
    renamed = body.replace(b'{"trigger_data": ', b'{"cells": [], "name": ', 1)
    assert (
        await client.post("/api/v1/scenarios", content=renamed, headers=headers)
    ).status_code == 422
    assert svc.store.count_executions(user.id) == before


async def test_a_lone_surrogate_stored_another_way_never_breaks_the_executions_api(
    client: httpx.AsyncClient, svc: Cellwright, user: Any, helpers: Any
) -> None:
    """A poller's upstream answer or a YAML file can still carry half a surrogate pair (and
    rows from before ingress refused them): the store writes and reads U+FFFD in its place."""
    from sqlalchemy import text

    scenario = await create_scenario(client)
    stored, _ = await svc.trigger(
        svc.scenario(user.id, scenario["id"]), {"n": 1, "note": "a\ud800b", "\udfff": 1}, version=1
    )
    await helpers.finished(svc, stored.id)
    old = await run(client, scenario["id"])
    with (
        svc.store._engine.begin() as db
    ):  # a row written before this fix, ASCII-escaped by json.dumps
        db.execute(
            text("UPDATE scenario_executions SET trigger = :t WHERE id = :id"),
            {"t": '{"n": 2, "note": "\\ud800", "ok": "\\ud83d\\ude00"}', "id": old["id"]},
        )
    page = await client.get("/api/v1/executions", params={"scenario_id": scenario["id"]})
    assert page.status_code == 200 and page.json()["total"] == 2
    one = await client.get(f"/api/v1/executions/{stored.id}")
    assert one.status_code == 200 and one.json()["trigger"] == {
        "n": 1,
        "note": "a\ufffdb",
        "\ufffd": 1,
    }
    other = (await client.get(f"/api/v1/executions/{old['id']}")).json()
    assert other["trigger"] == {"n": 2, "note": "\ufffd", "ok": "\U0001f600"}
    rerun = await client.post(f"/api/v1/executions/{old['id']}/rerun", json={"from_start": True})
    assert rerun.status_code == 202
    assert (await helpers.finished(svc, rerun.json()["id"]))["status"] == "completed"


async def test_scenarios_filter_by_name_and_tag(
    client: httpx.AsyncClient, eve: httpx.AsyncClient
) -> None:
    refunds = await create_scenario(
        client, {**SCENARIO, "name": "Refunds to Slack", "tags": ["Billing", "slack"]}
    )
    await create_scenario(client, {**SCENARIO, "name": "New leads", "tags": ["sales"]})
    await create_scenario(eve, {**SCENARIO, "name": "Eve's refunds", "tags": ["billing"]})
    assert refunds["tags"] == ["billing", "slack"] and refunds["document"]["tags"] == [
        "billing",
        "slack",
    ]

    async def names(**params: str) -> list[str]:
        response = await client.get("/api/v1/scenarios", params=params)
        assert response.status_code == 200, response.text
        return sorted(s["name"] for s in response.json())

    assert await names(name="refund") == ["Refunds to Slack"]
    assert await names(tag="BILLING") == ["Refunds to Slack"]  # compared lower-cased, only mine
    assert await names(tag="sales", name="refund") == []
    assert await names() == ["New leads", "Refunds to Slack"]
    exported = (await client.get(f"/api/v1/scenarios/{refunds['id']}/export")).text
    assert "tags:\n- billing\n- slack\n" in exported
    too_long = await client.get("/api/v1/scenarios", params={"tag": "x" * 41})
    assert too_long.status_code == 422 and "tag" in too_long.json()["message"]


async def test_executions_search_trigger_data(client: httpx.AsyncClient) -> None:
    scenario = await create_scenario(client)
    response = await client.post(
        f"/api/v1/scenarios/{scenario['id']}/run",
        json={"trigger_data": {"n": 1, "email": "Ada@Example.com"}},
    )
    ada = response.json()["id"]
    await run(client, scenario["id"], 2)
    found = (await client.get("/api/v1/executions", params={"search": "ada@example"})).json()
    assert [e["id"] for e in found["items"]] == [ada] and found["total"] == 1
    too_long = await client.get("/api/v1/executions", params={"search": "x" * 201})
    assert too_long.status_code == 422 and "search" in too_long.json()["message"]


async def test_api_docs_need_no_internet(anon: httpx.AsyncClient) -> None:
    """/api/v1/docs loads Swagger UI from this server, never from a CDN."""
    import re

    page = await anon.get("/api/v1/docs")
    assert page.status_code == 200 and "SwaggerUIBundle" in page.text
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert assets and all(a.startswith("/") and not a.startswith("//") for a in assets), assets
    assert {a.rsplit(".", 1)[-1] for a in assets} >= {"js", "css"}
    for asset in assets:
        response = await anon.get(asset)
        assert response.status_code == 200, asset
        assert len(response.content) > 1000, asset
    assert "/api/v1/openapi.json" in page.text
