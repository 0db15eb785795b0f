"""Scaled-out mode against the real PostgreSQL, Redis and RabbitMQ: `cellwright worker`
subprocesses run what a serve-mode service enqueues; a killed worker's run is taken over
with every finished cell kept; a duplicate delivery is a no-op; SQLite is refused."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from click.testing import CliRunner
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from cells import document as documents
from connectors.sdk import ConfigurationError
from engine.cluster import POSTGRES_NEEDED, CeleryExecutor, Reaper
from engine.service import Cellwright
from engine.settings import Settings
from storage import Store, Vault

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

PG_SERVER_URL = os.environ.get(
    "CELLWRIGHT_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("CELLWRIGHT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
AMQP_URL = os.environ.get("CELLWRIGHT_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")
ROOT = Path(__file__).resolve().parents[2]
#: a worker subprocess on a loaded 2-core machine takes seconds to import and connect
SLOW = 120.0


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    """A PostgreSQL database of this module's run, migrated once, dropped afterwards."""
    server = make_url(PG_SERVER_URL)
    admin = create_engine(server, isolation_level="AUTOCOMMIT", pool_size=1)
    name = f"cw_cluster_{secrets.token_hex(6)}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = server.set(database=name).render_as_string(hide_password=False)
    store = Store(url, Vault([Vault.generate_key()]))
    store.migrate()
    store.close()
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


class Cluster:
    """One deployment of a test: its own queue and Redis keys, worker subprocesses."""

    def __init__(self, tmp: Path, pg_url: str, broker: str) -> None:
        self.tmp = tmp
        self.queue = f"cwtest-{secrets.token_hex(5)}"
        self.key = Vault.generate_key()
        self.values: dict[str, Any] = {
            "database_url": pg_url,
            "broker_url": broker,
            "queue_name": self.queue,
            "vault_keys": [self.key],
            "http_allow_private": True,
            "demo_data": False,
            "lease_seconds": 3.0,
            "scheduler_lease_seconds": 3.0,
        }
        self.procs: list[subprocess.Popen[bytes]] = []

    def settings(self, **overrides: Any) -> Settings:
        values = {"data_dir": self.tmp / "web", "analytics": False, **self.values, **overrides}
        return Settings(_env_file=None, **values)  # type: ignore[call-arg]

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CELLWRIGHT_")}
        for name, value in self.values.items():
            text = json.dumps(value) if isinstance(value, list) else str(value)
            env[f"CELLWRIGHT_{name.upper()}"] = text
        # analytics on: the worker must still never open the DuckDB file
        env["CELLWRIGHT_ANALYTICS"] = "true"
        env["CELLWRIGHT_DATA_DIR"] = str(self.tmp / "worker")
        return env

    def start_worker(self, concurrency: int = 4) -> subprocess.Popen[bytes]:
        return self.start("worker", "--concurrency", str(concurrency))

    def start(self, *command: str) -> subprocess.Popen[bytes]:
        """``cellwright COMMAND…`` in a subprocess of this deployment."""
        log = (self.tmp / f"{command[0]}-{len(self.procs)}.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "workspace.cli", *command],
            env=self.env(),
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.procs.append(proc)
        return proc

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.tmp.glob("*.log")))

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self.values["broker_url"].startswith("redis"):
            client = redis.Redis.from_url(REDIS_URL)
            keys = list(client.scan_iter(f"{self.queue}*"))
            if keys:
                client.delete(*keys)
            client.close()


@pytest.fixture
def cluster(tmp_path: Path, pg_url: str) -> Iterator[Cluster]:
    deployment = Cluster(tmp_path, pg_url, REDIS_URL)
    yield deployment
    deployment.stop()


@asynccontextmanager
async def serving(settings: Settings, *, leader: bool = True) -> AsyncIterator[Cellwright]:
    """A serve-mode service: ingests and enqueues, and (``leader``) runs the reaper."""
    svc = Cellwright(settings)
    await svc.start(scheduler=leader, analytics=False)
    try:
        yield svc
    finally:
        await svc.stop()
        svc.close()


def hooked(svc: Cellwright, cells: str, inputs: str = "{}") -> Any:
    user = svc.local_user()
    text = (
        f"name: Clustered {secrets.token_hex(3)}\ncells:\n"
        f"  - {{id: hook, kind: trigger, app: webhook, operation: catch_hook, inputs: {inputs}}}\n"
        f"{cells}"
    )
    return svc.import_scenario(user.id, documents.loads(text))


def call(cell_id: str, url: str) -> str:
    return (
        f"  - {{id: {cell_id}, kind: action, app: http, operation: request,"
        f" inputs: {{url: '{url}', method: POST, body_type: json, "
        "body: {n: '{{ trigger.body.n }}'}}}\n"
    )


REPLY = (
    "  - {id: reply, kind: transformer, app: webhook, operation: respond,"
    " inputs: {status: 201, body: {echoed: '{{ steps.effect.body.received.n }}'}}}\n"
)


async def finished(
    svc: Cellwright, execution_id: str, cluster: Cluster, timeout: float = SLOW
) -> dict[str, Any]:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    while True:
        data = svc.execution(None, execution_id)
        if data["status"] in ("completed", "failed", "cancelled"):
            return data
        if time.monotonic() > deadline:
            raise AssertionError(f"{execution_id} is still {data['status']}:\n{cluster.logs()}")
        await asyncio.sleep(0.1)


async def wait_until(predicate: Callable[[], Any], cluster: Cluster, what: str) -> None:
    deadline = time.monotonic() + SLOW
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen:\n{cluster.logs()}")
        await asyncio.sleep(0.05)


async def post(svc: Cellwright, path: str, body: Any) -> httpx.Response:
    from workspace.server import create_app

    transport = httpx.ASGITransport(app=create_app(svc, start=False), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        return await client.post(path, json=body, timeout=SLOW)


async def test_a_webhook_into_a_serve_process_is_run_by_a_worker(
    cluster: Cluster, sink: Any
) -> None:
    worker = cluster.start_worker()
    settings = cluster.settings(sync_response_timeout_seconds=SLOW)
    async with serving(settings) as svc:
        assert isinstance(svc.executor, CeleryExecutor)  # this process only enqueues
        scenario = hooked(svc, call("effect", sink.plan("/effect")) + REPLY, "{response: sync}")
        scenario = await svc.enable(scenario.user_id, scenario.id)
        # synchronous: the answer waits for the worker's run (Redis notification)
        response = await post(svc, f"/hooks/{scenario.webhook_token}", {"n": 7})
        assert response.status_code == 201, response.json()
        assert response.json() == {"echoed": 7}
        # asynchronous: 202 at once, the worker runs it
        scenario = hooked(svc, call("effect", sink.plan("/later")))
        scenario = await svc.enable(scenario.user_id, scenario.id)
        response = await post(svc, f"/hooks/{scenario.webhook_token}", {"n": 8})
        assert response.status_code == 202
        result = await finished(svc, response.json()["execution_id"], cluster)
        assert result["status"] == "completed"
        # the schedules stay with the serving process: workers never ask for the lease
        holder = svc.store.lease_holder("scheduler")
        assert holder is not None and holder[0] == svc.executor.owner
    assert [hit.body for hit in sink.hits("/effect")] == [{"n": 7}]
    assert [hit.body for hit in sink.hits("/later")] == [{"n": 8}]
    assert worker.poll() is None
    # the worker never opened the analytics file, though analytics is on for it
    assert not list((cluster.tmp / "worker").glob("analytics.duckdb*"))


async def test_a_killed_workers_run_is_taken_over_and_no_effect_happens_twice(
    cluster: Cluster, sink: Any, helpers: Any
) -> None:
    victim = cluster.start_worker()
    async with serving(cluster.settings()) as svc:  # the leader: its reaper resends
        cells = (
            call("effect", sink.plan("/effect"))
            + call("slow", sink.plan("/slow", helpers.Reply(200, {"ok": 1}, delay=5.0)))
            + call("after", sink.plan("/after"))
        )
        scenario = await svc.enable(svc.local_user().id, hooked(svc, cells).id)
        response = await post(svc, f"/hooks/{scenario.webhook_token}", {"n": 1})
        execution_id = response.json()["execution_id"]
        # the victim is inside the slow call, the effect cell recorded before it
        await wait_until(lambda: sink.hits("/slow"), cluster, "the slow call")
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        cluster.start_worker()
        result = await finished(svc, execution_id, cluster)
        stored = svc.store.get_execution(None, execution_id)
    assert result["status"] == "completed", result
    assert len(sink.hits("/effect")) == 1  # a finished cell is never run again
    assert len(sink.hits("/after")) == 1
    # the call in flight when the worker died ran again on the other worker (at least once)
    assert len(sink.hits("/slow")) == 2
    assert stored is not None and stored.reclaims == 1  # taken over once


async def test_a_duplicate_delivery_of_a_running_or_finished_run_is_a_no_op(
    cluster: Cluster, sink: Any, helpers: Any
) -> None:
    settings = cluster.settings()
    async with serving(settings, leader=False) as svc:
        scenario = hooked(
            svc, call("effect", sink.plan("/once", helpers.Reply(200, {"ok": 1}, delay=0.5)))
        )
        execution, _ = svc.store.create_execution(
            scenario_id=scenario.id,
            scenario_version=scenario.version,
            user_id=scenario.user_id,
            trigger={"body": {"n": 3}},
        )
        executor = svc.executor
        assert isinstance(executor, CeleryExecutor)
        # two deliveries at once: one claims and runs, the other finds it leased
        first, second = await asyncio.gather(
            executor.run_delivered(execution.id), executor.run_delivered(execution.id)
        )
        assert sorted([first, second]) == ["completed", "skipped"]
        assert await executor.run_delivered(execution.id) == "skipped"  # finished
        # and through the queue: a worker acknowledges repeated messages without running
        for _ in range(3):
            executor.send(execution.id)
        marker, _ = svc.store.create_execution(
            scenario_id=scenario.id,
            scenario_version=scenario.version,
            user_id=scenario.user_id,
            trigger={"body": {"n": 4}},
        )
        executor.send(marker.id)
        cluster.start_worker(concurrency=1)  # one at a time: the marker runs last
        assert (await finished(svc, marker.id, cluster))["status"] == "completed"
    assert [hit.body for hit in sink.hits("/once")] == [{"n": 3}, {"n": 4}]


async def test_the_reaper_resends_only_what_nobody_started(
    cluster: Cluster, sink: Any, pg_url: str
) -> None:
    async with serving(cluster.settings(), leader=False) as svc:
        executor = svc.executor
        assert isinstance(executor, CeleryExecutor)
        scenario = hooked(svc, call("effect", sink.plan("/x")))
        execution, _ = svc.store.create_execution(
            scenario_id=scenario.id,
            scenario_version=scenario.version,
            user_id=scenario.user_id,
            trigger={},
        )
        sent: list[str] = []
        executor.submit = lambda execution_id, countdown=None: sent.append(execution_id)  # type: ignore[method-assign]
        reaper = Reaper(svc.store, executor, grace=3600)
        assert await reaper.run_once() == 0  # just queued: its message is on its way
        engine = create_engine(pg_url)
        with engine.begin() as conn:  # two hours later, nothing has started it
            conn.exec_driver_sql(
                "UPDATE scenario_executions SET created_at = created_at - interval '2 hours'"
                " WHERE id = %(id)s",
                {"id": execution.id},
            )
        engine.dispose()
        assert await reaper.run_once() == 1 and sent == [execution.id]
        assert await reaper.run_once() == 0  # sent within the grace: not again yet
        claimed = svc.store.claim_execution(execution.id, "someone", 60)
        assert claimed is not None
        assert svc.store.stranded_executions(0) == []  # held: not stranded


async def test_rabbitmq_as_the_broker(tmp_path: Path, pg_url: str, sink: Any) -> None:
    deployment = Cluster(tmp_path, pg_url, AMQP_URL)
    try:
        deployment.start_worker()
        # no Redis: a synchronous webhook's answer polls the store
        settings = deployment.settings(sync_response_timeout_seconds=SLOW)
        assert settings.resolved_redis_url() is None
        async with serving(settings) as svc:
            scenario = hooked(svc, call("effect", sink.plan("/rabbit")) + REPLY, "{response: sync}")
            scenario = await svc.enable(scenario.user_id, scenario.id)
            response = await post(svc, f"/hooks/{scenario.webhook_token}", {"n": 5})
            assert response.status_code == 201, deployment.logs()
            assert response.json() == {"echoed": 5}
    finally:
        deployment.stop()
    assert len(sink.hits("/rabbit")) == 1


def test_sqlite_with_a_broker_is_refused_clearly(tmp_path: Path) -> None:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, data_dir=tmp_path / "data", broker_url=REDIS_URL, demo_data=False
    )
    with pytest.raises(ConfigurationError) as info:
        Cellwright(settings)
    assert info.value.message == POSTGRES_NEEDED
    assert "CELLWRIGHT_DATABASE_URL=postgresql+psycopg://" in POSTGRES_NEEDED
    assert not (tmp_path / "data" / "cellwright.db").exists()  # refused before any file

    from workspace.cli import main

    env = {"CELLWRIGHT_BROKER_URL": REDIS_URL, "CELLWRIGHT_DATA_DIR": str(tmp_path / "cli")}
    result = CliRunner().invoke(main, ["worker"], env=env)
    assert result.exit_code == 2
    assert "scaled-out mode needs PostgreSQL: set CELLWRIGHT_DATABASE_URL=" in result.output


def test_a_worker_without_a_broker_says_what_to_set(tmp_path: Path) -> None:
    from workspace.cli import main

    result = CliRunner().invoke(main, ["worker"], env={"CELLWRIGHT_DATA_DIR": str(tmp_path)})
    assert result.exit_code == 2
    assert "set CELLWRIGHT_BROKER_URL=redis://" in result.output


async def test_a_scheduler_process_holds_the_lease_and_a_serve_process_takes_over(
    cluster: Cluster,
) -> None:
    scheduler = cluster.start("scheduler")
    settings = cluster.settings()
    store = Store(settings.database_url or "", Vault([cluster.key]))
    try:
        holder = lambda: store.lease_holder("scheduler")  # noqa: E731
        await wait_until(holder, cluster, "the scheduler taking the lease")
        owner = holder()[0]
        assert f":{scheduler.pid}:" in owner
        async with serving(settings) as svc:
            assert svc.leadership is not None
            assert not await svc.leadership.check()  # the scheduler process holds it
            scheduler.send_signal(signal.SIGTERM)  # stops cleanly: gives the lease up
            assert scheduler.wait(60) == 0
            assert await svc.leadership.check()  # this process runs the schedules now
            assert holder()[0] == svc.executor.owner
        assert not list((cluster.tmp / "worker").glob("analytics.duckdb*"))
    finally:
        store.close()
