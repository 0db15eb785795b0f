"""Declared vendor limits: every call of a connection waits its turn, in one process or
across processes through Redis, and a run that would wait long is parked.

The vendor is a real HTTP server on a loopback port that records when each call arrived;
the tests count calls per time window (with slack for scheduling), never how fast
anything ran."""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from pydantic import BaseModel
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from cells import document as documents
from connectors.registry import APPS, Registry
from connectors.sdk import (
    Action,
    AnyOutput,
    ApiKeyAuth,
    App,
    CallGate,
    LocalLimits,
    NetworkPolicy,
    OperationContext,
    RateLimit,
    RateLimitedError,
    VendorLimits,
    build_http,
)
from engine.call_limits import RedisLimits
from engine.service import Cellwright
from engine.settings import Settings
from tests.conftest import ThreadedServer
from tests.services import running_service

REDIS_URL = os.environ.get("CELLWRIGHT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
ROOT = Path(__file__).resolve().parents[2]
LOOPBACK = NetworkPolicy.build(allow_private=True)  # the simulated vendor is on 127.0.0.1
MANUAL = "  - {id: start, kind: trigger, app: manual, operation: run_manually}\n"


class Vendor:
    """A vendor API that records the arrival time of every call, and the most calls it
    was answering at once."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.arrivals: list[float] = []
        self.in_flight = 0
        self.peak = 0
        self._lock = threading.Lock()

    async def hit(self, request: Request) -> JSONResponse:
        with self._lock:
            self.arrivals.append(time.monotonic())
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
        finally:
            with self._lock:
                self.in_flight -= 1
        return JSONResponse({"ok": True})

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/hit", self.hit), Route("/other", self.hit)])


def most_in_window(arrivals: list[float], window: float) -> int:
    """The most calls that arrived within any ``window`` seconds."""
    times = sorted(arrivals)
    best, start = 0, 0
    for end, at in enumerate(times):
        while at - times[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


@pytest.fixture
def vendor() -> Iterator[tuple[Vendor, str]]:
    simulated = Vendor()
    with ThreadedServer(simulated.app()) as server:
        yield simulated, server.url


def limited_app(limits: VendorLimits) -> App:
    async def hit(ctx: OperationContext, inputs: BaseModel) -> dict[str, Any]:
        return dict(await ctx.http.get("/hit"))

    return App(
        key="limited",
        name="Limited",
        description="A vendor with a documented limit (tests).",
        category="Testing",
        auth=ApiKeyAuth(),
        base_url=lambda credentials: str(credentials["url"]),
        limits=limits,
        actions=(
            Action(
                key="hit",
                name="Hit",
                description="One call.",
                output=AnyOutput,
                sample={},
                perform=hit,
            ),
        ),
    )


def scenario(
    svc: Cellwright, user: Any, connection: str, calls: int = 1, settings: str = ""
) -> Any:
    cells = "".join(
        f"  - {{id: hit{i}, kind: action, app: limited, operation: hit, "
        f"connection: '{connection}'}}\n"
        for i in range(calls)
    )
    text = f"name: T\n{settings}cells:\n{MANUAL}{cells}"
    return svc.import_scenario(user.id, documents.loads(text))


# -- in one process ---------------------------------------------------------------------


async def test_concurrent_runs_hold_the_declared_limit(
    make_settings: Callable[..., Settings], vendor: tuple[Vendor, str], helpers: Any
) -> None:
    simulated, url = vendor
    app = limited_app(VendorLimits(rates=(RateLimit(calls=4, per_seconds=1),)))
    settings = make_settings(vendor_limit_max_wait_seconds=30)
    async with running_service(settings, Registry([*APPS, app])) as svc:
        user = svc.local_user()
        connection = svc.store.create_connection(
            user.id, "limited", "L", {"api_key": "k", "url": url}
        )
        flow = scenario(svc, user, connection.id)
        ids = [(await svc.trigger(flow, {}))[0].id for _ in range(16)]
        results = [await helpers.finished(svc, i, timeout=60) for i in ids]
        metrics = await asyncio.to_thread(svc.metrics_text)
    assert 'cellwright_vendor_calls_total{app="limited",outcome="sent"} 16' in metrics
    assert [r["status"] for r in results] == ["completed"] * 16
    assert len(simulated.arrivals) == 16
    # a bucket of 4 refilled at 4/s lets at most 4 + 4 through in any second (one more for
    # scheduling); without the limit all 16 arrive together
    assert most_in_window(simulated.arrivals, 1.0) <= 9


async def test_each_connection_has_its_own_bucket_and_endpoints_their_own_limits(
    vendor: tuple[Vendor, str],
) -> None:
    _, url = vendor
    limits = VendorLimits(
        rates=(
            RateLimit(calls=3, per_seconds=60),
            RateLimit(calls=1, per_seconds=60, endpoint="/other"),
        )
    )
    backend = LocalLimits()
    one = build_http(
        policy=LOOPBACK, app_key="limited", base_url=url, gate=CallGate(backend, "a", limits)
    )
    two = build_http(
        policy=LOOPBACK, app_key="limited", base_url=url, gate=CallGate(backend, "b", limits)
    )
    try:
        await one.get("/other")
        with pytest.raises(RateLimitedError) as refused:  # /other: 1 a minute
            await one.get("/other")
        assert refused.value.retry_after is not None and refused.value.retry_after > 1
        assert "1 call per 60 s on /other" in refused.value.message
        await one.get("/hit")
        await one.get("/hit")  # with /other, the third of the connection's 3 a minute
        with pytest.raises(RateLimitedError):
            await one.get("/hit")
        await two.get("/other")  # another connection: its own buckets
    finally:
        await one.aclose()
        await two.aclose()


async def test_a_concurrency_cap_holds_calls_in_flight() -> None:
    simulated = Vendor(delay=0.2)
    limits = VendorLimits(max_concurrent=3)
    with ThreadedServer(simulated.app()) as server:
        http = build_http(
            app_key="limited",
            policy=LOOPBACK,
            base_url=server.url,
            gate=CallGate(LocalLimits(), "c", limits, max_wait=60),
        )
        try:
            await asyncio.gather(*(http.get("/hit") for _ in range(12)))
        finally:
            await http.aclose()
    assert len(simulated.arrivals) == 12
    assert simulated.peak == 3  # reached, never passed


async def test_a_call_that_would_wait_long_parks_the_run_and_frees_its_slot(
    make_settings: Callable[..., Settings], vendor: tuple[Vendor, str], helpers: Any, probe: Any
) -> None:
    simulated, url = vendor
    app = limited_app(VendorLimits(rates=(RateLimit(calls=1, per_seconds=3),)))
    settings = make_settings(max_concurrent_executions=1, retry_max_seconds=5)
    async with running_service(settings, Registry([*APPS, *probe.apps, app])) as svc:
        user = svc.local_user()
        connection = svc.store.create_connection(
            user.id, "limited", "L", {"api_key": "k", "url": url}
        )
        # the second call must wait ~3 s; waiting for its turn is not one of the retries
        slow = scenario(svc, user, connection.id, 2, "settings: {retry_count: 0}\n")
        quick = svc.import_scenario(
            user.id,
            documents.loads(
                f"name: Q\ncells:\n{MANUAL}"
                "  - {id: quick, kind: action, app: probe, operation: count}\n"
            ),
        )
        parked, _ = await svc.trigger(slow, {})
        waiting = await helpers.wait_for(
            lambda: (e := svc.store.get_execution(None, parked.id)).status == "waiting" and e
        )
        assert waiting.lease_owner is None  # no slot held while it waits
        assert waiting.error["code"] == "rate_limited"
        assert waiting.error["cell_id"] == "hit1"
        other, _ = await svc.trigger(quick, {})
        done = await helpers.finished(svc, other.id)
        assert done["status"] == "completed"  # ran in the only slot meanwhile
        result = await helpers.finished(svc, parked.id, timeout=30)
        metrics = await asyncio.to_thread(svc.metrics_text)
    assert 'cellwright_vendor_calls_total{app="limited",outcome="refused"} 1' in metrics
    assert result["status"] == "completed"
    tries = [c["status"] for c in result["cells"] if c["cell_id"] == "hit1"]
    assert tries == ["failed", "completed"]
    assert len(simulated.arrivals) == 2  # the refused call was never sent


async def test_without_declared_limits_calls_are_not_held(vendor: tuple[Vendor, str]) -> None:
    simulated, url = vendor
    http = build_http(policy=LOOPBACK, app_key="free", base_url=url)
    try:
        await asyncio.gather(*(http.get("/hit") for _ in range(20)))
    finally:
        await http.aclose()
    assert len(simulated.arrivals) == 20


def test_apps_declare_their_vendors_limits() -> None:
    declared = {app.key: app.limits for app in APPS if app.limits is not None}
    assert set(declared) >= {
        "stripe",
        "slack",
        "hubspot",
        "mailchimp",
        "shopify",
        "monday",
        "google_workspace",
    }
    assert declared["mailchimp"].max_concurrent == 10
    assert RateLimit(calls=100, per_seconds=1) in declared["stripe"].rates
    assert RateLimit(calls=100, per_seconds=10) in declared["hubspot"].rates
    slack = {rate.endpoint: rate for rate in declared["slack"].rates}
    assert slack["*/chat.postMessage"].applies_to("/api/chat.postMessage")
    assert not slack["*/chat.postMessage"].applies_to("/api/chat.update")
    described = {app.key: app.describe(full=False)["limits"] for app in APPS}
    assert described["mailchimp"] == ["10 calls at once"]
    assert described["wordpress"] == []


# -- across processes, through Redis ------------------------------------------------------

CALLS = """
import asyncio, sys
from connectors.sdk import CallGate, NetworkPolicy, RateLimit, VendorLimits, build_http
from engine.call_limits import RedisLimits

async def main() -> None:
    url, redis_url, prefix, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    limits = VendorLimits(rates=(RateLimit(calls=3, per_seconds=1),))
    backend = RedisLimits(redis_url, prefix=prefix)
    gate = CallGate(backend, "stripe:conn-1", limits, max_wait=60)
    policy = NetworkPolicy.build(allow_private=True)
    http = build_http(policy=policy, app_key="stripe", base_url=url, gate=gate)
    for _ in range(count):
        await http.get("/hit")
    await http.aclose()
    print("done")

asyncio.run(main())
"""


@pytest.fixture
def prefix() -> Iterator[str]:
    name = f"cwtest-{secrets.token_hex(5)}"
    yield name
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(f"{name}:*"))
    if keys:
        client.delete(*keys)
    client.close()


def test_two_processes_share_one_connections_limit(vendor: tuple[Vendor, str], prefix: str) -> None:
    simulated, url = vendor
    command = [sys.executable, "-c", CALLS, url, REDIS_URL, prefix, "9"]
    procs = [
        subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True) for _ in range(2)
    ]
    outputs = [proc.communicate(timeout=120)[0] for proc in procs]
    assert [out.strip() for out in outputs] == ["done", "done"]
    assert len(simulated.arrivals) == 18
    # one bucket of 3 refilled at 3/s for both: at most 3 + 3 in any second (+1 slack);
    # a bucket each would let twice as many through
    assert most_in_window(simulated.arrivals, 1.0) <= 7


async def test_redis_keys_are_hashed_and_slots_are_shared(prefix: str) -> None:
    one = RedisLimits(REDIS_URL, prefix=prefix)
    two = RedisLimits(REDIS_URL, prefix=prefix)
    try:
        assert await one.hold("slack:conn-secret:slots", 1, "a")
        assert not await two.hold("slack:conn-secret:slots", 1, "b")  # the other process
        await one.release("slack:conn-secret:slots", "a")
        assert await two.hold("slack:conn-secret:slots", 1, "b")
        granted, _ = await one.reserve(
            "slack:conn-secret:rate:0", RateLimit(calls=1, per_seconds=60), 1
        )
        assert granted
        granted, wait = await two.reserve(
            "slack:conn-secret:rate:0", RateLimit(calls=1, per_seconds=60), 1
        )
        assert not granted and wait > 50
        client = redis.Redis.from_url(REDIS_URL)
        keys = [k.decode() for k in client.scan_iter(f"{prefix}:*")]
        client.close()
        assert keys and not any("conn-secret" in key for key in keys)
    finally:
        one.close()
        two.close()


async def test_without_redis_the_process_counts_on_its_own(
    caplog: pytest.LogCaptureFixture,
) -> None:
    down = RedisLimits("redis://127.0.0.1:1/0", prefix="cwtest-down")
    limit = RateLimit(calls=1, per_seconds=60)
    try:
        assert (await down.reserve("k", limit, 1))[0]
        assert not (await down.reserve("k", limit, 1))[0]  # still limited, in process
    finally:
        down.close()
    assert "counted in this process only" in caplog.text
