"""Shared fixtures: real components on loopback, nothing of ours mocked.

- ``settings``: a ``Settings`` on ``tmp_path`` (private addresses allowed, so the HTTP
  action may call the loopback ``sink``; fast retries; no demo data).
- ``probe``: two small test apps built with the SDK (a counting action that records
  idempotency keys and fails on demand, polling and instant triggers, an API-key app
  with a sandbox) registered beside the built-ins in ``registry``.
- ``sink``: a real HTTP server (uvicorn + Starlette, in a thread) that records every
  request and answers from a per-path plan (status, headers, body, delay).
- ``svc``: a started ``Cellwright`` (scheduler loop off; tests drive it).
- ``user`` / ``api_key`` / ``client``: an httpx client over ``create_app(svc)``
  (ASGITransport runs no lifespan: the service is started by ``svc``).
"""

from __future__ import annotations

import asyncio
import socket
import sys
import threading
import time
import types
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from pydantic import BaseModel, ConfigDict, Field
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from connectors.registry import APPS, Registry
from connectors.sdk import (
    Action,
    AnyOutput,
    ApiKeyAuth,
    App,
    IncomingRequest,
    InstantTrigger,
    OperationContext,
    PollingTrigger,
    WebhookReply,
    WebhookVerificationError,
    hmac_hex,
    secret_value,
)
from engine.service import Cellwright
from engine.settings import Settings
from tests.services import running_service

# -- a loopback HTTP sink ------------------------------------------------------------------


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


class Sink:
    """Records requests; answers each path from its plan (the last reply repeats)."""

    def __init__(self) -> None:
        self.url = ""
        self.requests: list[Seen] = []
        self.plans: dict[str, list[Reply]] = {}
        self.in_flight = 0
        self.peak = 0  # the most requests it was answering at once (delayed replies)

    def plan(self, path: str, *replies: Reply) -> str:
        self.plans[path] = list(replies)
        return self.url + path

    def reset(self) -> None:
        self.requests.clear()
        self.plans.clear()
        self.peak = 0

    def hits(self, path: str) -> list[Seen]:
        return [r for r in self.requests if r.path == path]

    async def handle(self, request: Request) -> Response:
        raw = await request.body()
        try:
            import json

            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        path = request.url.path
        self.requests.append(
            Seen(request.method, path, {k.lower(): v for k, v in request.headers.items()}, body)
        )
        plan = self.plans.get(path)
        reply = (
            (plan.pop(0) if len(plan) > 1 else plan[0])
            if plan
            else Reply(body={"ok": True, "received": body})
        )
        if reply.delay:
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            try:
                await asyncio.sleep(reply.delay)
            finally:
                self.in_flight -= 1
        if isinstance(reply.body, (dict, list)) or reply.body is None:
            return JSONResponse(
                reply.body if reply.body is not None else {"ok": True, "received": body},
                status_code=reply.status,
                headers=reply.headers,
            )
        return Response(str(reply.body), status_code=reply.status, headers=reply.headers)


class ThreadedServer:
    """Serve an ASGI app with uvicorn on a free loopback port, in a thread."""

    def __init__(self, app: Any, **config: Any) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = int(self.sock.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        config = {"log_level": "warning", "lifespan": "off", **config}
        self.server = uvicorn.Server(uvicorn.Config(app, **config))
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    def __enter__(self) -> ThreadedServer:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def _sink_server() -> Iterator[Sink]:
    sink = Sink()
    app = Starlette(
        routes=[
            Route("/{path:path}", sink.handle, methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
        ]
    )
    with ThreadedServer(app, limit_concurrency=1000, backlog=2048) as server:
        sink.url = server.url
        yield sink


@pytest.fixture
def sink(_sink_server: Sink) -> Iterator[Sink]:
    _sink_server.reset()
    yield _sink_server
    _sink_server.reset()


# -- test apps built with the SDK ----------------------------------------------------------


class CountInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    value: Any = Field(None, description="Echoed back.")
    sleep: float = Field(0, ge=0, description="Seconds to wait before answering.")


class CountOutput(BaseModel):
    value: Any = Field(None, description="The input value.")
    calls: int = Field(description="How often this cell has run.")


class ItemsInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    label: str = Field("items", description="Changes the trigger's inputs (an edit).")


class HookInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    response: str = Field("async", description="async or sync.")


class WhoamiOutput(BaseModel):
    user: str = Field(description="The account the key belongs to.")


@dataclass
class Probe:
    """State of the test apps, inspected and steered by tests."""

    calls: Counter[str] = field(default_factory=Counter)
    keys: list[tuple[str, str, str | None]] = field(default_factory=list)
    failures: dict[str, list[Exception]] = field(default_factory=dict)
    items: list[dict[str, Any]] = field(default_factory=list)
    since: list[Any] = field(default_factory=list)
    sleeps: dict[str, float] = field(default_factory=dict)
    subscribed: list[str] = field(default_factory=list)
    unsubscribed: list[Mapping[str, Any]] = field(default_factory=list)
    running: int = 0
    peak: int = 0
    apps: tuple[App, ...] = ()

    def fail(self, cell_id: str, *errors: Exception) -> None:
        self.failures[cell_id] = list(errors)


def make_probe() -> Probe:
    probe = Probe()

    async def count(ctx: OperationContext, inputs: CountInput) -> dict[str, Any]:
        cell = ctx.cell_id or "?"
        probe.calls[cell] += 1
        probe.keys.append((cell, ctx.idempotency_key, ctx.execution_id))
        probe.running += 1
        probe.peak = max(probe.peak, probe.running)
        try:
            planned = probe.failures.get(cell)
            if planned:
                raise planned.pop(0)
            sleep = probe.sleeps.get(cell, inputs.sleep)
            if sleep:
                await asyncio.sleep(sleep)
        finally:
            probe.running -= 1
        return {"value": inputs.value, "calls": probe.calls[cell]}

    async def bad_output(ctx: OperationContext, inputs: CountInput) -> dict[str, Any]:
        return {"value": 1}  # "calls" is missing

    async def fetch(ctx: OperationContext, inputs: ItemsInput, since: Any) -> list[dict[str, Any]]:
        probe.since.append(since)
        planned = probe.failures.get("fetch")
        if planned:
            raise planned.pop(0)
        return [dict(item) for item in probe.items]

    async def subscribe(ctx: OperationContext, inputs: HookInput, url: str) -> dict[str, Any]:
        planned = probe.failures.get("subscribe")
        if planned:
            raise planned.pop(0)
        probe.subscribed.append(url)
        return {"id": f"sub-{len(probe.subscribed)}", "secret": "probe-signing-secret"}

    async def unsubscribe(
        ctx: OperationContext, inputs: HookInput, state: Mapping[str, Any]
    ) -> None:
        planned = probe.failures.get("unsubscribe")
        if planned:
            raise planned.pop(0)
        probe.unsubscribed.append(dict(state))

    def verify(
        request: IncomingRequest,
        inputs: HookInput,
        state: Mapping[str, Any],
        credentials: Mapping[str, Any],
    ) -> None:
        if request.header("x-probe-secret") != state.get("secret"):
            raise WebhookVerificationError("Bad x-probe-secret.")

    async def parse(
        request: IncomingRequest, inputs: HookInput, state: Mapping[str, Any]
    ) -> WebhookReply:
        body = request.json() or {}
        if "challenge" in body:
            return WebhookReply(response=(200, {"challenge": body["challenge"]}, {"X-Probe": "1"}))
        return WebhookReply(events=[dict(item) for item in body.get("events", [body])])

    def verify_signed(
        request: IncomingRequest,
        inputs: BaseModel,
        state: Mapping[str, Any],
        credentials: Mapping[str, Any],
    ) -> None:
        key = secret_value(credentials.get("api_key"))
        if not key or request.header("x-keyed-signature") != hmac_hex(key, request.body):
            raise WebhookVerificationError("Bad x-keyed-signature.")

    async def parse_signed(
        request: IncomingRequest, inputs: BaseModel, state: Mapping[str, Any]
    ) -> WebhookReply:
        return WebhookReply(events=[request.json() or {}])

    async def whoami(ctx: OperationContext, inputs: BaseModel) -> dict[str, Any]:
        data = await ctx.http.get("/me")
        return {"user": data["user"]}

    async def test_call(ctx: OperationContext) -> dict[str, Any]:
        data = await ctx.http.get("/me")
        return {"label": data["user"], "plan": "free"}

    probe_app = App(
        key="probe",
        name="Probe",
        description="Counts calls (tests).",
        category="Testing",
        actions=(
            Action(
                key="count",
                name="Count",
                description="Counts calls.",
                input=CountInput,
                output=CountOutput,
                sample={"value": 1, "calls": 1},
                perform=count,
            ),
            Action(
                key="bad_output",
                name="Bad output",
                description="Breaks its model.",
                input=CountInput,
                output=CountOutput,
                sample={"value": 1, "calls": 1},
                perform=bad_output,
            ),
        ),
        triggers=(
            PollingTrigger(
                key="items",
                name="New item",
                description="Polls the probe's items.",
                input=ItemsInput,
                output=AnyOutput,
                sample={"id": "1"},
                fetch=fetch,
                interval_seconds=60,
            ),
            PollingTrigger(
                key="items_by_rank",
                name="New item (cursor)",
                description="Polls with a cursor.",
                input=ItemsInput,
                output=AnyOutput,
                sample={"id": "1", "rank": 1},
                fetch=fetch,
                cursor_field="rank",
                interval_seconds=60,
            ),
            InstantTrigger(
                key="hook",
                name="Probe hook",
                description="A subscribed webhook.",
                input=HookInput,
                output=AnyOutput,
                sample={"n": 1},
                parse=parse,
                verify=verify,
                subscribe=subscribe,
                unsubscribe=unsubscribe,
                dedupe_key="event_id",
            ),
        ),
    )
    keyed_app = App(
        key="keyed",
        name="Keyed",
        description="An API-key app with a sandbox (tests).",
        category="Testing",
        auth=ApiKeyAuth(test=test_call),
        base_url="https://api.keyed.example",
        allowed_hosts=("api.keyed.example",),
        sandbox="cw_test_sandbox:make",
        actions=(
            Action(
                key="whoami",
                name="Who am I",
                description="The key's account.",
                output=WhoamiOutput,
                sample={"user": "x"},
                perform=whoami,
            ),
        ),
        triggers=(
            InstantTrigger(
                key="signed",
                name="Signed event",
                description="Signed with the connection's key.",
                output=AnyOutput,
                sample={"n": 1},
                parse=parse_signed,
                verify=verify_signed,
            ),
        ),
    )
    nosandbox_app = App(
        key="nosandbox",
        name="No sandbox",
        description="An API-key app without a simulator (tests).",
        category="Testing",
        auth=ApiKeyAuth(),
        actions=(
            Action(
                key="noop",
                name="Noop",
                description="Nothing.",
                output=AnyOutput,
                sample={},
                perform=bad_output,
            ),
        ),
    )
    probe.apps = (probe_app, keyed_app, nosandbox_app)
    return probe


def _sandbox() -> Starlette:
    async def me(request: Request) -> JSONResponse:
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Bearer good"):
            return JSONResponse({"message": "bad key"}, status_code=401)
        return JSONResponse({"user": "sandbox-user"})

    return Starlette(routes=[Route("/me", me)])


_module = types.ModuleType("cw_test_sandbox")
_module.make = _sandbox  # type: ignore[attr-defined]
sys.modules["cw_test_sandbox"] = _module


@pytest.fixture
def probe() -> Probe:
    return make_probe()


@pytest.fixture
def registry(probe: Probe) -> Registry:
    return Registry([*APPS, *probe.apps])


# -- the service ---------------------------------------------------------------------------


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "data_dir": tmp_path / "data",
            "http_allow_private": True,
            "demo_data": False,
            "analytics": False,
            "retry_base_seconds": 0.05,
            "retry_max_seconds": 0.2,
            "lease_seconds": 30,
        }
        values.update(overrides)
        return Settings(_env_file=None, **values)  # type: ignore[call-arg]

    return make


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


@pytest.fixture
async def svc(settings: Settings, registry: Registry) -> AsyncIterator[Cellwright]:
    async with running_service(settings, registry) as app:
        yield app


@pytest.fixture
def user(svc: Cellwright) -> Any:
    return svc.store.create_user("ada@example.com", name="Ada")


@pytest.fixture
def api_key(svc: Cellwright, user: Any) -> str:
    key, _ = svc.store.create_api_key(user.id, "tests")
    return key


@pytest.fixture
def asgi_app(svc: Cellwright) -> Any:
    from workspace.server import create_app

    return create_app(svc, start=False)


@pytest.fixture
async def anon(asgi_app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A client without credentials (webhooks, auth checks)."""
    transport = httpx.ASGITransport(app=asgi_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.fixture
async def client(asgi_app: Any, api_key: str) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=asgi_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://testserver",
        headers={"Authorization": f"Bearer {api_key}"},
    ) as c:
        yield c


async def wait_for(
    predicate: Callable[[], Any], timeout: float = 5.0, interval: float = 0.02
) -> Any:  # noqa: ASYNC109
    """Poll ``predicate`` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(interval)


async def finished(svc: Cellwright, execution_id: str, timeout: float = 5.0) -> dict[str, Any]:  # noqa: ASYNC109
    """Wait until the execution is completed or failed; return it with its cells."""

    def check() -> dict[str, Any] | None:
        data = svc.execution(None, execution_id)
        return data if data["status"] in ("completed", "failed", "cancelled") else None

    result: dict[str, Any] = await wait_for(check, timeout)
    return result


@pytest.fixture
def helpers() -> types.SimpleNamespace:
    return types.SimpleNamespace(
        wait_for=wait_for,
        finished=finished,
        Reply=Reply,
        free_port=free_port,
        ThreadedServer=ThreadedServer,
    )
