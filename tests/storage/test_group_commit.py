"""Group commit (engine.writes over Store.batch), on SQLite and PostgreSQL: concurrent
writes share transactions; a failing call fails alone."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from engine.writes import WriteQueue
from storage import NotFoundError, Store


def scenario(store: Store) -> tuple[Any, Any]:
    user = store.create_user("ada@example.com")
    saved = store.save_scenario(user.id, {"name": "s", "cells": []})
    return user, saved


def create(store: Store, user: Any, saved: Any, key: str | None = None) -> Any:
    return lambda: store.create_execution(
        scenario_id=saved.id,
        scenario_version=saved.version,
        user_id=user.id,
        trigger={},
        idempotency_key=key,
    )


async def test_concurrent_writes_share_transactions_and_all_land(store: Store) -> None:
    user, saved = scenario(store)
    queue = WriteQueue(store)
    queue.start()
    try:
        results = await asyncio.gather(
            *(queue.call(create(store, user, saved)) for _ in range(200))
        )
    finally:
        queue.stop()
    assert all(created for _, created in results)
    assert store.count_executions(user.id) == 200
    assert queue.calls == 200 and queue.batches < 200  # grouped
    assert queue.fallbacks == 0


async def test_a_failing_call_fails_alone(store: Store) -> None:
    user, saved = scenario(store)
    queue = WriteQueue(store)
    queue.start()
    try:
        good = [queue.call(create(store, user, saved)) for _ in range(20)]
        bad = queue.call(store.finish_execution, "no-such-execution", status="completed")
        results = await asyncio.gather(*good, bad, return_exceptions=True)
    finally:
        queue.stop()
    assert isinstance(results[-1], NotFoundError)
    assert all(isinstance(r, tuple) and r[1] for r in results[:-1])
    assert store.count_executions(user.id) == 20


async def test_the_same_idempotency_key_twice_in_one_batch_creates_one_execution(
    store: Store,
) -> None:
    user, saved = scenario(store)
    queue = WriteQueue(store)
    queue.start()
    try:
        results = await asyncio.gather(
            *(queue.call(create(store, user, saved, key="delivery-1")) for _ in range(10))
        )
    finally:
        queue.stop()
    ids = {execution.id for execution, _ in results}
    assert len(ids) == 1 and sum(created for _, created in results) == 1
    assert store.count_executions(user.id) == 1


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_without_a_thread_calls_run_in_a_worker(store: Store) -> None:
    user, saved = scenario(store)
    execution, created = await WriteQueue(store).call(create(store, user, saved))
    assert created and store.get_execution(None, execution.id) is not None
