"""One process of a deployment runs the schedules: the one holding the ``scheduler`` lease.

Every process started with the scheduler on (``cellwright serve``, ``cellwright
scheduler``) asks for the lease in the store every ``seconds / 3``; the holder renews
it, the others wait. While a process holds it, it runs the jobs (the scheduler loop and
the connection health checks); when it loses it (its renewals failed for longer than the
lease, the store was unreachable) it stops them. A holder that dies stops renewing, and
another process takes over within ``seconds`` plus one check (default 15 s + 5 s).

Two schedulers never fire the same tick twice in any case — every fire carries the
tick's idempotency key — so the lease is about not doing the work twice (polling a
vendor's API from every process), and a missed tick still fires once after a takeover.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

log = logging.getLogger("cellwright.leader")

SCHEDULER_LEASE = "scheduler"


class LeaseStore(Protocol):
    def take_lease(self, name: str, owner: str, seconds: float) -> int | None: ...
    def release_lease(self, name: str, owner: str) -> None: ...


Job = Callable[[], Coroutine[Any, Any, None]]


class Leadership:
    """Runs ``jobs`` while this process holds the lease ``name``."""

    def __init__(
        self,
        store: LeaseStore,
        owner: str,
        jobs: list[Job],
        *,
        name: str = SCHEDULER_LEASE,
        seconds: float = 15.0,
    ) -> None:
        self.store = store
        self.owner = owner
        self.jobs = jobs
        self.name = name
        self.seconds = seconds
        self.epoch: int | None = None
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def leading(self) -> bool:
        return bool(self._tasks)

    async def check(self) -> bool:
        """Take or renew the lease, start or stop the jobs accordingly: leading or not."""
        try:
            epoch = await asyncio.to_thread(
                self.store.take_lease, self.name, self.owner, self.seconds
            )
        except Exception as exc:  # the store is unreachable: another may take over, so stop
            log.warning("cannot renew the %s lease: %s", self.name, str(exc).splitlines()[0])
            epoch = None
        if epoch is not None and not self._tasks:
            log.info("this process now runs the %s (lease epoch %s)", self.name, epoch)
            self._tasks = [asyncio.create_task(job()) for job in self.jobs]
        elif epoch is None and self._tasks:
            log.warning("another process took the %s lease: stopping here", self.name)
            await self._stop_jobs()
        self.epoch = epoch
        return epoch is not None

    async def run_forever(self) -> None:
        try:
            while True:
                await self.check()
                await asyncio.sleep(self.seconds / 3)
        finally:
            await self._stop_jobs()
            if self.epoch is not None:
                with contextlib.suppress(Exception):  # best effort: it expires anyway
                    await asyncio.to_thread(self.store.release_lease, self.name, self.owner)

    async def _stop_jobs(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
