"""Credentials never land anywhere but the request they are for.

A scenario's HTTP cell sends ``Authorization: Bearer SECRET-…`` and ``X-Api-Key`` typed
into its headers to a local echo server that sends them back (in its headers echo and
in plain text), a leaky app quotes its connection's key in its output and in its
error, and a webhook sender includes its own ``Authorization`` header. Runs succeed
and fail, an alert rule's webhook fires. Then the SQLite files, the DuckDB analytics
file, the captured logs, the alert payload and the REST answers (execution detail and
list, scenario, export, audit trail, a single cell run) are searched for every secret:
none is found, while the echo server saw the real headers.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import BaseModel
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from connectors.registry import APPS, Registry
from connectors.sdk import (
    Action,
    AnyOutput,
    ApiKeyAuth,
    App,
    OperationContext,
    UpstreamError,
    secret_value,
)
from engine.service import Cellwright
from engine.settings import Settings
from tests.services import running_service

TOKEN = f"SECRET-{uuid.uuid4().hex}"
API_KEY = f"APIKEY-{uuid.uuid4().hex}"
CONNECTION_KEY = f"CONNKEY-{uuid.uuid4().hex}"
SENDER_TOKEN = f"SENDER-{uuid.uuid4().hex}"
SECRETS = (TOKEN, API_KEY, CONNECTION_KEY, SENDER_TOKEN)


class EchoServer:
    """Answers every request with what it received; ``/fail`` with a 400 that quotes
    the Authorization header (as vendors' error pages do)."""

    def __init__(self) -> None:
        self.seen: list[dict[str, str]] = []

    async def handle(self, request: Request) -> JSONResponse:
        headers = dict(request.headers)
        self.seen.append(headers)
        echo = {
            "headers": headers,
            "note": f"you sent {headers.get('authorization')} and {headers.get('x-api-key')}",
        }
        if request.url.path == "/fail":
            return JSONResponse({"error": "refused", **echo}, status_code=400)
        return JSONResponse(echo)


@pytest.fixture(scope="module")
def echo() -> Iterator[tuple[EchoServer, str]]:
    from tests.conftest import ThreadedServer

    server = EchoServer()
    app = Starlette(routes=[Route("/{path:path}", server.handle, methods=["GET", "POST"])])
    with ThreadedServer(app) as running:
        yield server, running.url


class LeakInput(BaseModel):
    fail: bool = False


async def leak(ctx: OperationContext, inputs: LeakInput) -> dict[str, Any]:
    """A careless app: its output and its error quote the connection's key."""
    key = secret_value(ctx.credentials.get("api_key"))
    if inputs.fail:
        raise UpstreamError(f"the vendor refused key {key}", status=401, body={"key": key})
    return {"account": f"key {key} belongs to ada"}


LEAKY = App(
    key="leaky",
    name="Leaky",
    description="Quotes its key (tests).",
    category="Testing",
    auth=ApiKeyAuth(),
    actions=(
        Action(
            key="quote",
            name="Quote",
            description="Quotes the key.",
            input=LeakInput,
            output=AnyOutput,
            sample={},
            perform=leak,
        ),
    ),
)


@pytest.fixture
def registry(probe: Any) -> Registry:
    return Registry([*APPS, *probe.apps, LEAKY])


@pytest.fixture
async def svc(make_settings: Any, registry: Registry) -> AsyncIterator[Cellwright]:
    settings: Settings = make_settings(analytics=True)
    async with running_service(settings, registry) as app:
        yield app


def scenario(url: str, connection: str, *, fail: bool) -> dict[str, Any]:
    return {
        "name": "Calls with credentials",
        "settings": {"retry_count": 0},
        "cells": [
            {
                "id": "hook",
                "kind": "trigger",
                "app": "webhook",
                "operation": "catch_hook",
            },
            {
                "id": "quote",
                "kind": "action",
                "app": "leaky",
                "operation": "quote",
                "connection": connection,
                "inputs": {"fail": False},
            },
            {
                "id": "call",
                "kind": "action",
                "app": "http",
                "operation": "request",
                "inputs": {
                    "method": "POST",
                    "url": f"{url}/{'fail' if fail else 'ok'}",
                    "headers": {"Authorization": f"Bearer {TOKEN}", "x-api-key": API_KEY},
                    "body_type": "json",
                    "body": {"quoted": "{{ steps.quote.account }}"},
                },
            },
        ],
    }


def assert_nowhere(text: str, where: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{secret[:7]}… found in {where}"


def files_text(directory: Path) -> dict[str, str]:
    return {str(p): p.read_bytes().decode("latin-1") for p in directory.rglob("*") if p.is_file()}


async def test_secrets_are_masked_everywhere_but_the_request(
    svc: Cellwright,
    client: httpx.AsyncClient,
    anon: httpx.AsyncClient,
    user: Any,
    echo: tuple[EchoServer, str],
    sink: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server, url = echo
    caplog.set_level(logging.DEBUG)
    connection = await svc.create_connection(
        user.id, "leaky", credentials={"api_key": CONNECTION_KEY}, name="Leaky"
    )
    assert connection is not None
    svc.accounts.add_alert_rule(user.id, webhook_url=sink.plan("/alert"))

    ok = (
        await client.post("/api/v1/scenarios", json=scenario(url, connection.id, fail=False))
    ).json()
    bad = (
        await client.post("/api/v1/scenarios", json=scenario(url, connection.id, fail=True))
    ).json()
    for created in (ok, bad):
        assert (await client.post(f"/api/v1/scenarios/{created['id']}/enable")).status_code == 200
    sent = {"Authorization": f"Bearer {SENDER_TOKEN}", "Cookie": f"session={SENDER_TOKEN}"}
    executions = []
    for created in (ok, bad):
        hook = created["webhook_url"].split("/hooks/", 1)[1]
        answer = await anon.post(f"/hooks/{hook}", json={"n": 1}, headers=sent)
        assert answer.status_code == 202, answer.text
        executions.append(answer.json()["execution_id"])
    from tests.conftest import finished

    done = [await finished(svc, e, timeout=15) for e in executions]
    assert [d["status"] for d in done] == ["completed", "failed"]
    # the leaky app failing: its error quotes the key
    leaky_fail = scenario(url, connection.id, fail=False)
    leaky_fail["cells"][1]["inputs"]["fail"] = True
    third = (await client.post("/api/v1/scenarios", json=leaky_fail)).json()
    run = await client.post(
        f"/api/v1/scenarios/{third['id']}/run", json={"trigger_data": {}, "wait": True}
    )
    assert run.json()["status"] == "failed"
    await svc.runner.alerts.drain()

    # the request itself carried the real credentials
    assert {h["authorization"] for h in server.seen} == {f"Bearer {TOKEN}"}
    assert {h["x-api-key"] for h in server.seen} == {API_KEY}
    # the records show that something was sent, masked
    call = next(c for c in done[0]["cells"] if c["cell_id"] == "call")
    assert call["input"]["headers"] == {"Authorization": "**********", "x-api-key": "**********"}
    assert call["output"]["body"]["headers"]["authorization"] == "**********"
    assert call["output"]["body"]["note"] == "you sent ********** and **********"
    failed_call = next(c for c in done[1]["cells"] if c["cell_id"] == "call")
    assert failed_call["error"]["code"] == "upstream_error"
    assert done[0]["trigger"]["headers"]["authorization"] == "**********"
    assert len(sink.hits("/alert")) == 2  # both failed runs

    answers = [await client.get(f"/api/v1/executions/{e}") for e in [*executions, run.json()["id"]]]
    answers += [
        await client.get("/api/v1/executions", params={"limit": 50}),
        await client.get(f"/api/v1/scenarios/{ok['id']}"),
        await client.get(f"/api/v1/scenarios/{ok['id']}/export"),
        await client.get(f"/api/v1/scenarios/{ok['id']}/export", params={"format": "json"}),
        await client.get("/api/v1/audit/export", params={"format": "json"}),
        await client.post(
            f"/api/v1/scenarios/{ok['id']}/cells/call/run",
            json={"trigger": {}, "steps": {"quote": {"account": "x"}}},
        ),
    ]
    for answer in answers:
        assert answer.status_code == 200, answer.text
        assert_nowhere(answer.text, f"GET {answer.request.url}")
    assert_nowhere(json.dumps([h.body for h in sink.hits("/alert")]), "the alert payloads")
    assert_nowhere(caplog.text, "the logs")

    await svc.stop()  # flushes the analytics log and checkpoints nothing away
    data_files = files_text(svc.settings.data_dir)
    assert any(p.endswith("analytics.duckdb") for p in data_files)
    assert any(p.endswith("cellwright.db") for p in data_files)
    for path, text in data_files.items():
        assert_nowhere(text, path)
