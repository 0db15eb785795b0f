"""Incoming rate limits: per account on the REST API, per URL on webhooks (429 with
Retry-After, others unaffected, refilled over time). The clock is moved, never slept."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from engine.service import Cellwright
from engine.settings import Settings
from tests.services import running_service
from tests.workspace.test_server import hooked
from workspace.ratelimit import MAX_BUCKETS, RateLimiter
from workspace.server import create_app


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def settings(make_settings: Any) -> Settings:
    settings: Settings = make_settings(api_rate_limit=3, webhook_rate_limit=2)
    return settings


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def http(svc: Cellwright, clock: Clock) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(svc, start=False, clock=clock))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


async def test_an_api_key_over_its_limit_gets_429_until_its_bucket_refills(
    svc: Cellwright, user: Any, api_key: str, http: httpx.AsyncClient, clock: Clock
) -> None:
    other = svc.store.create_user("bob@example.com", name="Bob")
    other_key, _ = svc.store.create_api_key(other.id, "bob")
    mine = {"Authorization": f"Bearer {api_key}"}
    for _ in range(3):
        assert (await http.get("/api/v1/scenarios", headers=mine)).status_code == 200
    refused = await http.get("/api/v1/scenarios", headers=mine)
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "20"  # 3 per minute: one every 20 s
    assert refused.json() == {
        "error": "rate_limited",
        "message": "Too many requests: the REST API accepts 3 per minute "
        "(CELLWRIGHT_API_RATE_LIMIT). Try again in 20 s.",
    }
    # a request with a body is refused too, before anything is stored
    created = await http.post("/api/v1/scenarios", headers=mine, json={"name": "x", "cells": []})
    assert created.status_code == 429 and svc.store.list_scenarios(user.id) == []
    # another account (and X-Api-Key, its other way in) is not affected
    assert (
        await http.get("/api/v1/scenarios", headers={"X-Api-Key": other_key})
    ).status_code == 200
    # a second key of the same account shares the account's allowance
    second_key, _ = svc.store.create_api_key(user.id, "second")
    second = {"Authorization": f"Bearer {second_key}"}
    assert (await http.get("/api/v1/scenarios", headers=second)).status_code == 429
    clock.now += 19
    assert (await http.get("/api/v1/scenarios", headers=mine)).status_code == 429
    clock.now += 1
    assert (await http.get("/api/v1/scenarios", headers=mine)).status_code == 200
    assert (await http.get("/api/v1/scenarios", headers=mine)).status_code == 429
    clock.now += 3600  # a long pause refills one minute's allowance, no more
    statuses = [(await http.get("/api/v1/scenarios", headers=mine)).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]


async def test_unauthenticated_requests_are_401_not_counted(
    api_key: str, http: httpx.AsyncClient
) -> None:
    for _ in range(5):
        assert (await http.get("/api/v1/scenarios")).status_code == 401
    ok = await http.get("/api/v1/scenarios", headers={"Authorization": f"Bearer {api_key}"})
    assert ok.status_code == 200


async def test_a_webhook_url_over_its_limit_gets_429_and_nothing_is_stored(
    svc: Cellwright, user: Any, http: httpx.AsyncClient, clock: Clock
) -> None:
    first = await hooked(svc, user)
    second = await hooked(svc, user)
    for n in range(2):
        assert (await http.post(f"/hooks/{first.webhook_token}", json={"n": n})).status_code == 202
    refused = await http.post(f"/hooks/{first.webhook_token}", json={"n": 3})
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "30"
    assert refused.json()["error"] == "rate_limited"
    assert "CELLWRIGHT_WEBHOOK_RATE_LIMIT" in refused.json()["message"]
    assert refused.headers["x-content-type-options"] == "nosniff"  # still secured
    assert svc.store.count_executions(user.id) == 2
    # another scenario's URL is not affected, nor an unknown URL's answer
    assert (await http.post(f"/hooks/{second.webhook_token}", json={"n": 9})).status_code == 202
    assert (await http.post("/hooks/no-such-token", json={})).status_code == 404
    clock.now += 30
    assert (await http.post(f"/hooks/{first.webhook_token}", json={"n": 4})).status_code == 202
    assert svc.store.count_executions(user.id) == 4


async def test_zero_turns_the_limits_off(make_settings: Any, registry: Any) -> None:
    async with running_service(
        make_settings(api_rate_limit=0, webhook_rate_limit=0), registry
    ) as svc:
        user = svc.store.create_user("ada@example.com", name="Ada")
        key, _ = svc.store.create_api_key(user.id, "k")
        scenario = await hooked(svc, user)
        transport = httpx.ASGITransport(app=create_app(svc, start=False, clock=Clock()))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            for n in range(50):
                r = await http.get("/api/v1/scenarios", headers={"X-Api-Key": key})
                assert r.status_code == 200
                r = await http.post(f"/hooks/{scenario.webhook_token}", json={"n": n})
                assert r.status_code == 202


def test_the_defaults_are_generous() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.api_rate_limit == 600 and settings.webhook_rate_limit == 6000


def test_idle_buckets_are_forgotten_when_there_are_many() -> None:
    clock = Clock()
    limiter = RateLimiter(60, clock)
    for key in range(MAX_BUCKETS):
        assert limiter.retry_after(key) == 0
    assert limiter.retry_after("hot") == 0  # full: nothing has refilled yet, all are kept
    assert len(limiter._buckets) == MAX_BUCKETS + 1
    clock.now += 1.5  # every bucket has its token back (1 per second), "hot" too
    assert limiter.retry_after("new") == 0
    assert set(limiter._buckets) == {"new"}
    for _ in range(59):
        assert limiter.retry_after("new") == 0
    assert limiter.retry_after("new") == 1
