"""/metrics (Prometheus text format, behind a token) and /readyz."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from cells import document as documents
from engine.service import Cellwright
from tests.services import running_service
from workspace.server import create_app

TOKEN = "metrics-token-for-tests"
FLOW = """
name: Metered
cells:
  - {id: hook, kind: trigger, app: webhook, operation: catch_hook, inputs: {response: sync}}
  - {id: a, kind: action, app: probe, operation: count, inputs: {value: "{{ trigger.body.n }}"}}
"""


@pytest.fixture
async def metered(make_settings: Any, registry: Any) -> AsyncIterator[Cellwright]:
    settings = make_settings(analytics=True, metrics_token=TOKEN)
    async with running_service(settings, registry) as svc:
        yield svc


@pytest.fixture
async def http(metered: Cellwright) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(metered, start=False))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


def samples(text: str) -> dict[str, float]:
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


async def test_metrics_need_the_token(http: httpx.AsyncClient) -> None:
    assert (await http.get("/metrics")).status_code == 401
    wrong = await http.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and TOKEN not in wrong.text


async def test_metrics_are_off_without_a_token(make_settings: Any, registry: Any) -> None:
    async with running_service(make_settings(), registry) as svc:
        transport = httpx.ASGITransport(app=create_app(svc, start=False))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            r = await c.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 404 and "CELLWRIGHT_METRICS_TOKEN" in r.json()["message"]


async def test_metrics_count_runs_calls_and_errors_in_prometheus_format(
    metered: Cellwright, http: httpx.AsyncClient, probe: Any
) -> None:
    user = metered.store.create_user("ops@example.com", name="Ops")
    scenario = metered.import_scenario(user.id, documents.loads(FLOW))
    scenario = await metered.enable(user.id, scenario.id)
    for n in range(3):
        r = await http.post(f"/hooks/{scenario.webhook_token}", json={"n": n})
        assert r.status_code == 200, r.text
    response = await http.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = response.text
    for line in text.splitlines():  # every line is a comment or `name{labels} value`
        assert line.startswith("# ") or re.fullmatch(r"[a-z_]+(\{[^}]*\})? [0-9.e+-]+", line), line
    got = samples(text)
    assert got['cellwright_runs_total{status="completed"}'] == 3
    assert got['cellwright_app_calls_total{app="probe"}'] == 3
    assert got['cellwright_app_errors_total{app="probe"}'] == 0
    assert got['cellwright_app_call_duration_seconds_count{app="probe"}'] == 3
    assert got['cellwright_executions{status="queued"}'] == 0
    assert got["cellwright_analytics_backlog"] == 0
    assert got["cellwright_scheduler_leader"] == 0  # the test service runs no scheduler
    assert "ops@example.com" not in text and "Metered" not in text  # no names, no data


async def test_readyz_says_ready_with_the_schema(http: httpx.AsyncClient) -> None:
    r = await http.get("/readyz")
    assert r.status_code == 200 and r.json()["status"] == "ready"
    assert r.json()["schema"] == (await http.get("/readyz")).json()["schema"]


async def test_readyz_says_why_when_the_schema_is_behind(
    metered: Cellwright, http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(metered.store, "schema_revision", lambda: "0001_initial")
    # (the service reads it from the store)
    r = await http.get("/readyz")
    assert r.status_code == 503 and "0001_initial" in r.json()["message"]
