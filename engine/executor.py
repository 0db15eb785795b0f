"""Executors: where runs happen. ``LocalExecutor`` runs them in this process.

Every executor does the same few things around the runner: claim an execution
(a lease in the store, so a crashed process' work can be taken over), keep the lease
alive while running, and schedule retries without holding a slot. A Celery executor
(scaled-out mode) implements the same interface around the same ``Runner.run``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from typing import TYPE_CHECKING, Protocol

from engine.runner import Outcome, Runner
from engine.settings import Settings
from storage.statuses import ExecutionStatus

if TYPE_CHECKING:
    from engine.ports import LeaseStore
    from storage import Execution

log = logging.getLogger("cellwright.executor")


class Executor(Protocol):
    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    def submit(self, execution_id: str) -> None: ...
    async def wait(self, execution_id: str, timeout: float) -> Outcome | None: ...


class LocalExecutor:
    """An asyncio pool: at most ``max_concurrent_executions`` runs at once."""

    def __init__(self, runner: Runner, store: LeaseStore, settings: Settings) -> None:
        self.runner = runner
        self.store = store
        self.settings = settings
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._slots = asyncio.Semaphore(settings.max_concurrent_executions)
        self._tasks: set[asyncio.Task[None]] = set()
        self._timers: set[asyncio.TimerHandle] = set()
        self._waiters: dict[str, list[asyncio.Future[Outcome]]] = {}
        self._inflight: set[str] = set()
        self._sweeper: asyncio.Task[None] | None = None
        self._running = False

    async def start(self) -> None:
        """Take over what a previous process left unfinished, then sweep periodically."""
        self._running = True
        await self.reclaim()
        self._sweeper = asyncio.create_task(self._sweep())

    async def stop(self) -> None:
        self._running = False
        if self._sweeper:
            self._sweeper.cancel()
        for timer in self._timers:
            timer.cancel()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def reclaim(self) -> int:
        ids = await asyncio.to_thread(self.store.reclaimable_executions)
        for execution_id in ids:
            self.submit(execution_id)
        if ids:
            log.info("resuming %d unfinished executions", len(ids))
        return len(ids)

    async def _sweep(self) -> None:
        interval = max(1.0, min(15.0, self.settings.lease_seconds / 4))
        while self._running:
            await asyncio.sleep(interval)
            try:
                await self.reclaim()
            except Exception:
                log.exception("sweep failed")

    def submit(self, execution_id: str) -> None:
        """Queue a run. Safe to call twice: only one claim can win, and an execution this
        executor already has queued or running is not queued again."""
        if execution_id in self._inflight:
            return
        self._inflight.add(execution_id)
        task = asyncio.get_running_loop().create_task(self._run(execution_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def wait(self, execution_id: str, timeout: float) -> Outcome | None:
        """Wait for a run to complete or fail; ``None`` on timeout (it keeps running)."""
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(execution_id, []).append(future)
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout)
        except TimeoutError:
            return None
        finally:
            waiters = self._waiters.get(execution_id, [])
            if future in waiters:
                waiters.remove(future)
            if not waiters:
                self._waiters.pop(execution_id, None)

    def submit_claimed(self, execution: Execution) -> None:
        """Run an execution this executor created already claimed (saves a transaction)."""
        claimed_at = time.monotonic()
        self._inflight.add(execution.id)
        task = asyncio.get_running_loop().create_task(
            self._run(execution.id, claimed=(execution, claimed_at))
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, execution_id: str, claimed: tuple[Execution, float] | None = None) -> None:
        try:
            await self._run_inner(execution_id, claimed)
        finally:
            self._inflight.discard(execution_id)

    async def _run_inner(self, execution_id: str, claimed: tuple[Execution, float] | None) -> None:
        async with self._slots:
            execution: Execution | None
            if claimed is not None:
                execution, claimed_at = claimed
                if time.monotonic() - claimed_at > self.settings.lease_seconds / 3:
                    # waited for a slot: make sure the lease is still ours before running
                    if not await asyncio.to_thread(
                        self.store.extend_lease,
                        execution_id,
                        self.owner,
                        self.settings.lease_seconds,
                    ):
                        return
            else:
                execution = await asyncio.to_thread(
                    self.store.claim_execution,
                    execution_id,
                    self.owner,
                    self.settings.lease_seconds,
                )
            if execution is None:
                return
            heartbeat = asyncio.create_task(self._heartbeat(execution_id))
            try:
                outcome = await self.runner.run(execution, fresh=claimed is not None)
            except Exception as exc:  # the runner records its own failures; this is a last resort
                log.exception("execution %s: runner crashed", execution_id)
                outcome = Outcome(
                    ExecutionStatus.FAILED, error={"code": "internal_error", "message": str(exc)}
                )
            finally:
                heartbeat.cancel()
        if outcome.status == ExecutionStatus.WAITING and outcome.retry_in is not None:
            # the slot is released while the retry waits; the small margin makes sure the
            # store (wall clock) sees the retry as due when the timer (monotonic) fires
            timer = asyncio.get_running_loop().call_later(
                outcome.retry_in + 0.01, self._resubmit, execution_id
            )
            self._timers.add(timer)
            return
        for future in self._waiters.get(execution_id, []):
            if not future.done():
                future.set_result(outcome)

    def _resubmit(self, execution_id: str) -> None:
        self._timers = {
            t
            for t in self._timers
            if not t.cancelled() and t.when() > asyncio.get_running_loop().time()
        }
        if self._running:
            self.submit(execution_id)

    async def _heartbeat(self, execution_id: str) -> None:
        interval = self.settings.lease_seconds / 3
        while True:
            await asyncio.sleep(interval)
            await asyncio.to_thread(
                self.store.extend_lease, execution_id, self.owner, self.settings.lease_seconds
            )
