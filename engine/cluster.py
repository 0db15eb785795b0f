"""Scaled-out mode: Celery workers run the executions; web processes ingest and enqueue.

With ``CELLWRIGHT_BROKER_URL`` set, the executor of every process is a
``CeleryExecutor``: ``submit`` sends the task ``cellwright.run`` with the execution's
id to the deployment's queue (``queue_name``) and the process goes on. A ``cellwright
worker`` process builds the service once (store, apps, vault), keeps one event loop in a
thread of its own and runs each delivered task on it (``WorkerRuntime``): a Celery
thread claims the execution through its lease in the store, runs ``Runner.run`` — the
same runner as embedded mode — and blocks until the run ends, so the message is
acknowledged only then (``acks_late``).

Delivery is at least once; the lease keeps effects exactly once: a second delivery of
an execution that is running (another worker holds its lease) or finished claims
nothing and is acknowledged as a no-op. A worker killed mid-run leaves its lease to
expire; then the leader's ``Reaper`` (the process holding the scheduler lease) sends
the execution again and another worker takes it over, resuming after the last
recorded cell. The reaper also sends what no message started: a retry whose timer was
lost, a run whose enqueue failed (the broker was down).

Retries: a run that must wait (``waiting`` with ``next_attempt_at``) is sent again with
a Celery ``countdown`` of the retry delay, by the worker that parked it; the reaper is
the safety net. Countdown rather than only the reaper: a retry starts on time (the
reaper looks every few seconds, and only at what is overdue by ``REAPER_GRACE``).

``wait`` (synchronous webhooks answer with the run's output) works across processes:
the worker publishes each outcome on a Redis channel of the deployment, and the waiting
process, subscribed once, wakes its waiters; without Redis (a RabbitMQ broker and no
``redis_url``) it polls the store. See docs/architecture.md, "Scaled out", for the
figures.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from connectors.sdk import ConfigurationError
from engine.executor import Executor
from engine.runner import Outcome, Runner
from engine.settings import Settings
from storage.statuses import ExecutionStatus

if TYPE_CHECKING:
    from celery import Celery
    from redis.asyncio import Redis

    from engine.service import Cellwright
    from storage import Store

log = logging.getLogger("cellwright.cluster")

RUN_TASK = "cellwright.run"
#: how long an open execution may go unstarted before the reaper sends it again
REAPER_GRACE = 30.0
#: how often the reaper looks
REAPER_EVERY = 5.0
#: polling the store for an outcome (no Redis): first and longest pause
POLL_FIRST = 0.05
POLL_MAX = 0.5

POSTGRES_NEEDED = (
    "scaled-out mode needs PostgreSQL: set"
    " CELLWRIGHT_DATABASE_URL=postgresql+psycopg://user@host/db (CELLWRIGHT_BROKER_URL is"
    " set, and SQLite cannot be shared by processes on several machines)."
)


def require_postgres(settings: Settings, *, store_is_sqlite: bool | None = None) -> None:
    """Refuse scaled-out mode on SQLite, with what to set instead."""
    if not settings.scaled_out():
        return
    sqlite = (
        store_is_sqlite
        if store_is_sqlite is not None
        else not (settings.database_url or "").startswith("postgresql")
    )
    if sqlite:
        raise ConfigurationError(POSTGRES_NEEDED)


def channel(settings: Settings) -> str:
    """The Redis channel outcomes are published on (one per deployment)."""
    return f"{settings.queue_name}:done"


def celery_app(settings: Settings) -> Celery:
    """The deployment's Celery app: late acks, one message prefetched per thread, JSON."""
    from celery import Celery

    broker = settings.broker_url
    if not broker:
        raise ConfigurationError("CELLWRIGHT_BROKER_URL is not set: there is no queue to use.")
    app = Celery("cellwright", broker=broker, set_as_current=False)
    transport: dict[str, Any] = {}
    if broker.startswith(("redis://", "rediss://", "unix://")):
        # the deployment's own keys (two deployments or test runs may share one Redis);
        # an unacknowledged message (its worker died) is delivered again after an hour —
        # the reaper sends it sooner, once the lease expired
        transport = {"global_keyprefix": f"{settings.queue_name}:", "visibility_timeout": 3600}
    app.conf.update(
        task_default_queue=settings.queue_name,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        task_store_errors_even_if_ignored=False,
        broker_connection_retry_on_startup=True,
        broker_transport_options=transport,
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        task_send_sent_event=False,
    )
    app.task(name=RUN_TASK, bind=False, acks_late=True, reject_on_worker_lost=True)(_run_task)
    return app


def _run_task(execution_id: str) -> str:
    """The Celery task: run one delivered execution on this worker's event loop."""
    return worker_runtime().run(execution_id)


OutcomeReader = Callable[[str], Awaitable[Outcome | None]]


class CeleryExecutor:
    """``engine.executor.Executor`` for scaled-out mode: runs go to the queue."""

    def __init__(
        self,
        runner: Runner,
        store: Store,
        settings: Settings,
        *,
        app: Celery | None = None,
    ) -> None:
        self.runner = runner
        self.store = store
        self.settings = settings
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.celery = app or celery_app(settings)
        #: reads a finished execution's outcome from the store (the service sets it)
        self.recorded: OutcomeReader | None = None
        self._sender = concurrent.futures.ThreadPoolExecutor(4, thread_name_prefix="cw-send")
        self._pending: set[asyncio.Future[None]] = set()
        self._waiters: dict[str, list[asyncio.Future[Outcome]]] = {}
        self._redis: Redis | None = None
        self._listener: asyncio.Task[None] | None = None
        self._listening: asyncio.Event | None = None
        #: wait() listens on Redis (else it polls the store; benchmarks compare the two)
        self.pubsub = settings.resolved_redis_url() is not None

    # -- the Executor interface --------------------------------------------------------

    async def start(self) -> None:
        """Nothing to resume here: the leader's reaper sends what nobody runs."""

    async def stop(self) -> None:
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)
        if self._listener is not None:
            self._listener.cancel()
            await asyncio.gather(self._listener, return_exceptions=True)
            self._listener = None
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None
        self._sender.shutdown(wait=False)

    def submit(self, execution_id: str, countdown: float | None = None) -> None:
        """Send the execution to the queue (off the event loop). Sending it twice is
        harmless: only one claim can win. A send that fails is logged; the reaper sends
        the execution again once it is ``REAPER_GRACE`` seconds old."""
        future = asyncio.get_running_loop().run_in_executor(
            self._sender, self.send, execution_id, countdown
        )
        self._pending.add(future)
        future.add_done_callback(self._sent)

    def send(self, execution_id: str, countdown: float | None = None) -> None:
        """Send now, from any thread."""
        self.celery.send_task(
            RUN_TASK,
            args=[execution_id],
            queue=self.settings.queue_name,
            countdown=countdown,
        )

    def _sent(self, future: asyncio.Future[None]) -> None:
        self._pending.discard(future)
        if not future.cancelled() and future.exception() is not None:
            log.warning(
                "cannot enqueue an execution (the reaper sends it again later): %s",
                str(future.exception()).splitlines()[0],
            )

    async def wait(self, execution_id: str, timeout: float) -> Outcome | None:
        """Wait for a run that another process runs: its outcome, or None on timeout."""
        deadline = time.monotonic() + timeout
        if not self.pubsub:
            return await self._poll(execution_id, deadline)
        await self._listen()
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(execution_id, []).append(future)
        try:
            # subscribed first, then the store: a run that ended before is not missed
            done = await self._read(execution_id)
            if done is not None:
                return done
            with contextlib.suppress(TimeoutError):
                return await asyncio.wait_for(
                    asyncio.shield(future), max(0.0, deadline - time.monotonic())
                )
            return await self._read(execution_id)  # a lost notification: the store knows
        finally:
            waiters = self._waiters.get(execution_id, [])
            if future in waiters:
                waiters.remove(future)
            if not waiters:
                self._waiters.pop(execution_id, None)

    async def _read(self, execution_id: str) -> Outcome | None:
        return await self.recorded(execution_id) if self.recorded is not None else None

    async def _poll(self, execution_id: str, deadline: float) -> Outcome | None:
        pause = POLL_FIRST
        while True:
            outcome = await self._read(execution_id)
            left = deadline - time.monotonic()
            if outcome is not None or left <= 0:
                return outcome
            await asyncio.sleep(min(pause, left))
            pause = min(POLL_MAX, pause * 2)

    async def _client(self) -> Redis:
        if self._redis is None:
            from redis.asyncio import Redis

            url = self.settings.resolved_redis_url()
            assert url is not None
            # socket_timeout None: redis-py 8's default (5 s) ends an idle subscription
            self._redis = Redis.from_url(url, socket_timeout=None, socket_connect_timeout=5)
        return self._redis

    async def _listen(self) -> None:
        if self._listening is not None and self._listener is not None:
            if not self._listener.done():
                await self._listening.wait()
                return
        self._listening = asyncio.Event()
        self._listener = asyncio.create_task(self._dispatch(self._listening))
        await self._listening.wait()

    async def _dispatch(self, ready: asyncio.Event) -> None:
        """One subscription per process: wake the waiters of each published outcome."""
        client = await self._client()
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(channel(self.settings))
            ready.set()
            async for message in pubsub.listen():
                if message.get("type") != "message":
                    continue
                try:
                    data = json.loads(message["data"])
                    outcome = Outcome(
                        data["status"],
                        error=data.get("error"),
                        response=data.get("response"),
                        last_output=data.get("last_output"),
                    )
                    execution_id = str(data["id"])
                except (ValueError, KeyError, TypeError):
                    continue
                for future in self._waiters.get(execution_id, []):
                    if not future.done():
                        future.set_result(outcome)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # Redis went away: waiters fall back to the store
            log.warning("run notifications stopped: %s", str(exc).splitlines()[0])
        finally:
            ready.set()
            with contextlib.suppress(Exception):
                await pubsub.aclose()  # type: ignore[no-untyped-call]

    # -- the worker's side ---------------------------------------------------------------

    async def run_delivered(self, execution_id: str) -> str:
        """Claim and run a delivered execution. ``skipped``: someone else holds it, or it
        is finished (a duplicate delivery); else how the run ended."""
        execution = await asyncio.to_thread(
            self.store.claim_execution, execution_id, self.owner, self.settings.lease_seconds
        )
        if execution is None:
            return "skipped"
        heartbeat = asyncio.create_task(self._heartbeat(execution_id))
        try:
            outcome = await self.runner.run(execution)
        except Exception as exc:  # the runner records its own failures; this is a last resort
            log.exception("execution %s: runner crashed", execution_id)
            outcome = Outcome(
                ExecutionStatus.FAILED, error={"code": "internal_error", "message": str(exc)}
            )
        finally:
            heartbeat.cancel()
        if outcome.status == ExecutionStatus.WAITING and outcome.retry_in is not None:
            # parked: the slot (this thread) is free at once; the queue brings it back
            await asyncio.get_running_loop().run_in_executor(
                self._sender, self.send, execution_id, outcome.retry_in + 0.05
            )
            return "waiting"
        await self.publish(execution_id, outcome)
        return outcome.status

    async def publish(self, execution_id: str, outcome: Outcome) -> None:
        """Tell the waiting processes (best effort: they read the store on a timeout)."""
        if self.settings.resolved_redis_url() is None:
            return
        data = asdict(outcome)
        data.pop("retry_in", None)
        data["id"] = execution_id
        try:
            client = await self._client()
            await client.publish(channel(self.settings), json.dumps(data, default=str))
        except Exception as exc:
            log.warning("cannot publish a run's outcome: %s", str(exc).splitlines()[0])

    async def _heartbeat(self, execution_id: str) -> None:
        interval = self.settings.lease_seconds / 3
        while True:
            await asyncio.sleep(interval)
            await asyncio.to_thread(
                self.store.extend_lease, execution_id, self.owner, self.settings.lease_seconds
            )


def _is_an_executor(executor: CeleryExecutor) -> Executor:
    return executor  # mypy checks that CeleryExecutor implements engine.executor.Executor


class Reaper:
    """A leader job: send again what no message started (see the module's docstring)."""

    def __init__(
        self,
        store: Store,
        executor: CeleryExecutor,
        *,
        grace: float = REAPER_GRACE,
        every: float = REAPER_EVERY,
    ) -> None:
        self.store = store
        self.executor = executor
        self.grace = grace
        self.every = every
        self._sent: dict[str, float] = {}  # id: when this reaper last sent it

    async def run_forever(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception:
                log.exception("reaper round failed")
            await asyncio.sleep(self.every)

    async def run_once(self) -> int:
        """Send each stranded execution (not one this reaper sent within the grace)."""
        ids = await asyncio.to_thread(self.store.stranded_executions, self.grace)
        now = time.monotonic()
        self._sent = {k: t for k, t in self._sent.items() if now - t < self.grace}
        sent = 0
        for execution_id in ids:
            if execution_id in self._sent:
                continue
            self._sent[execution_id] = now
            self.executor.submit(execution_id)
            sent += 1
        if sent:
            log.info("sent %d stranded execution(s) to the queue again", sent)
        return sent


class WorkerRuntime:
    """One worker process: the service, built once, and the event loop it runs on.

    Celery runs tasks in threads (``--pool threads``); each blocks on
    ``asyncio.run_coroutine_threadsafe`` while the one loop runs every execution of the
    process at once, so ``worker_concurrency`` threads mean that many runs in flight,
    sharing the store's connection pool and the HTTP clients.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self.loop.run_forever, name="cellwright-loop", daemon=True
        )
        self.svc: Cellwright | None = None

    def start(self) -> Cellwright:
        self._thread.start()
        return asyncio.run_coroutine_threadsafe(self._start(), self.loop).result()

    async def _start(self) -> Cellwright:
        from engine.service import Cellwright

        svc = Cellwright(self.settings)
        # workers never run schedules and never open the analytics file
        await svc.start(scheduler=False, analytics=False)
        self.svc = svc
        return svc

    def run(self, execution_id: str) -> str:
        svc = self.svc
        assert svc is not None and isinstance(svc.executor, CeleryExecutor)
        future = asyncio.run_coroutine_threadsafe(
            svc.executor.run_delivered(execution_id), self.loop
        )
        return future.result()

    def stop(self) -> None:
        svc = self.svc
        if svc is not None:
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(svc.stop(), self.loop).result(30)
            svc.close()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)


_RUNTIME: WorkerRuntime | None = None
_RUNTIME_LOCK = threading.Lock()


def worker_runtime() -> WorkerRuntime:
    """This process' runtime (built from the environment on first use)."""
    global _RUNTIME
    with _RUNTIME_LOCK:
        if _RUNTIME is None:
            runtime = WorkerRuntime(Settings())
            runtime.start()
            _RUNTIME = runtime
        return _RUNTIME


def install_runtime(runtime: WorkerRuntime) -> None:
    """Use ``runtime`` for this process' tasks (``cellwright worker`` builds it first)."""
    global _RUNTIME
    with _RUNTIME_LOCK:
        _RUNTIME = runtime


__all__ = [
    "POSTGRES_NEEDED",
    "RUN_TASK",
    "CeleryExecutor",
    "Reaper",
    "WorkerRuntime",
    "celery_app",
    "install_runtime",
    "require_postgres",
    "worker_runtime",
]
