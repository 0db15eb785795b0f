"""Scenarios that trigger one another through webhooks stop after ``max_hops``.

The HTTP action sends ``X-Cellwright-Hops`` (its run's hops + 1); webhook ingress stores
it with the execution and refuses a delivery over the limit with 508, starting no run.
The loop here is real: a server on loopback, a scenario whose HTTP action POSTs to its
own webhook URL.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import uvicorn

from cells import document as documents
from connectors.sdk import IncomingRequest, UpstreamError
from engine.service import Cellwright
from workspace.server import create_app

SELF_CALL = """\
name: Calls itself
cells:
  - {id: hook, kind: trigger, app: webhook, operation: catch_hook}
  - id: again
    kind: action
    app: http
    operation: request
    inputs: {method: POST, url: "URL", body_type: json, body: {n: 1}}
"""


@pytest.fixture
async def served(make_settings: Any, registry: Any, helpers: Any) -> AsyncIterator[Cellwright]:
    """A started service behind a real HTTP server on loopback, in this event loop."""
    port = helpers.free_port()
    svc = Cellwright(
        make_settings(public_url=f"http://127.0.0.1:{port}", max_hops=3), apps=registry
    )
    await svc.start(scheduler=False)
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(svc, start=False),
            host="127.0.0.1",
            port=port,
            lifespan="off",
            log_level="warning",
        )
    )
    task = asyncio.create_task(server.serve())
    await helpers.wait_for(lambda: server.started, timeout=30)
    try:
        yield svc
    finally:
        server.should_exit = True
        await task
        await svc.stop()
        svc.close()


async def test_a_scenario_calling_its_own_webhook_stops_at_the_hop_limit(
    served: Cellwright, helpers: Any
) -> None:
    svc = served
    user = svc.store.create_user("ada@example.com")
    scenario = svc.import_scenario(
        user.id, documents.loads(SELF_CALL.replace("URL", "http://placeholder.invalid/"))
    )
    url = svc.webhook_url(scenario)
    assert url is not None
    svc.import_scenario(
        user.id, documents.loads(SELF_CALL.replace("URL", url)), scenario_id=scenario.id
    )
    await svc.publish(user.id, scenario.id)
    await svc.enable(user.id, scenario.id)

    async with httpx.AsyncClient() as client:
        assert (await client.post(url, json={"n": 0})).status_code == 202  # from outside: hop 0

    def finished() -> list[Any]:
        runs = svc.store.list_executions(user.id, limit=100)
        return runs if runs and all(r.status in ("completed", "failed") for r in runs) else []

    await helpers.wait_for(lambda: len(finished()) == 4, timeout=60)
    runs = sorted(finished(), key=lambda r: r.hops)
    # hop 0 (the outside call) and three more; the fourth call is refused, and with
    # nothing left running, nothing can start another run
    assert [r.hops for r in runs] == [0, 1, 2, 3]
    assert [r.status for r in runs] == ["completed", "completed", "completed", "failed"]
    last = svc.execution(user.id, runs[-1].id)
    assert last["hops"] == 3
    error = last["error"]
    assert error["code"] == "upstream_error" and "508" in error["message"]
    assert svc.store.count_executions(user.id) == 4


def test_a_508_answer_is_not_retried() -> None:
    assert not UpstreamError(
        "http: HTTP 508", status=508
    ).retryable  # calling again repeats the loop
    assert UpstreamError("http: HTTP 503", status=503).retryable


async def test_ingress_refuses_a_delivery_over_the_limit_and_stores_the_count(
    svc: Cellwright, user: Any
) -> None:
    doc = documents.loads(
        "name: Hooked\ncells:\n  - {id: hook, kind: trigger, app: webhook, operation: catch_hook}\n"
    )
    scenario = svc.import_scenario(user.id, doc)
    await svc.publish(user.id, scenario.id)
    await svc.enable(user.id, scenario.id)
    limit = svc.settings.max_hops

    def delivery(hops: str | None) -> IncomingRequest:
        headers = {"content-type": "application/json"} | (
            {"x-cellwright-hops": hops} if hops is not None else {}
        )
        return IncomingRequest(
            method="POST", headers=headers, query={}, body=b"{}", path="/hooks/x"
        )

    answer = await svc.receive_webhook(scenario.webhook_token, delivery(str(limit)))
    assert answer.status == 202
    assert svc.store.get_execution(user.id, answer.body["execution_id"]).hops == limit
    refused = await svc.receive_webhook(scenario.webhook_token, delivery(str(limit + 1)))
    assert refused.status == 508 and refused.body["error"] == "loop_detected"
    assert (
        "CELLWRIGHT_MAX_HOPS" in refused.body["message"]
        and "No run was started" in refused.body["message"]
    )
    assert svc.store.count_executions(user.id) == 1
    for odd in (None, "", "x", "-3", "99999999999"):  # not a count we sent: a call from outside
        answer = await svc.receive_webhook(scenario.webhook_token, delivery(odd))
        assert answer.status == 202
        assert svc.store.get_execution(user.id, answer.body["execution_id"]).hops == 0
