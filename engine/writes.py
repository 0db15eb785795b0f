"""Group commit for the hot path: one writer thread, one transaction per batch.

Under load many executions write at once (create, node results, finish). Each call
waits for its own commit — nothing is acknowledged before it is durable — but
concurrent calls share a transaction, so a burst costs a few commits instead of
hundreds, and SQLite's single writer never queues threads on its lock.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, Protocol

log = logging.getLogger("cellwright.writes")

_Item = tuple[Callable[[], Any], asyncio.Future[Any], asyncio.AbstractEventLoop]


class BatchingStore(Protocol):
    """What the write queue needs of the store: one transaction for a batch of calls."""

    def batch(self, *, savepoints: bool = True) -> AbstractContextManager[None]: ...


class WriteQueue:
    """Runs store writes on one thread, batching concurrent ones into one transaction."""

    def __init__(self, store: BatchingStore, *, max_batch: int = 256) -> None:
        self.store = store
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self.batches = 0
        self.calls = 0
        self.fallbacks = 0

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._loop, name="cellwright-writer", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(10)
            self._thread = None

    async def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run ``fn(*args, **kwargs)`` in the next batch; return once it is committed."""
        if self._thread is None:
            return await asyncio.to_thread(fn, *args, **kwargs)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._queue.put((lambda: fn(*args, **kwargs), future, loop))
        return await future

    def _loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            stop = False
            while len(batch) < self.max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                    break
                batch.append(item)
            self._run(batch)
            if stop:
                return

    def _run(self, batch: list[_Item]) -> None:
        outcomes: list[tuple[bool, Any]] = []
        try:
            # optimistic: one transaction, no savepoints (they cost more than the writes)
            with self.store.batch(savepoints=False):
                outcomes = [(True, fn()) for fn, _, _ in batch]
        except Exception:
            # something failed, so nothing of the batch was stored: run the calls one
            # by one, each in its own transaction, so only the failing one fails
            self.fallbacks += 1
            outcomes = []
            for fn, _, _ in batch:
                try:
                    outcomes.append((True, fn()))
                except Exception as exc:
                    outcomes.append((False, exc))
        self.batches += 1
        self.calls += len(batch)
        # one wake-up per event loop for the whole batch, not one per call
        settled: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], bool, Any]]] = {}
        for (_, future, loop), (ok, value) in zip(batch, outcomes, strict=True):
            settled.setdefault(loop, []).append((future, ok, value))
        for loop, items in settled.items():
            try:
                loop.call_soon_threadsafe(_settle, items)
            except RuntimeError:  # that loop is closed: nobody waits for these any more
                log.debug("write results for a closed event loop dropped")


def _settle(items: list[tuple[asyncio.Future[Any], bool, Any]]) -> None:
    for future, ok, value in items:
        if future.done():
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)
