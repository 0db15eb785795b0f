"""Retention on a schedule: the process holding the scheduler lease deletes expired
executions in batches, with per-user periods and failed runs kept longer; audited."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import update

from cells.models import ScenarioDocument
from engine.retention import Retention
from engine.service import Cellwright
from storage import Store, User
from storage.models import ExecutionRow
from tests.conftest import wait_for

FLOW = {
    "name": "Old runs",
    "cells": [
        {"id": "start", "kind": "trigger", "app": "manual", "operation": "run_manually"},
        {
            "id": "set",
            "kind": "transformer",
            "app": "formatter",
            "operation": "set_fields",
            "inputs": {"fields": {"n": 1}},
        },
    ],
}


def finished(store: Store, user: User, scenario_id: str, status: str, age_days: float) -> str:
    """A finished execution created ``age_days`` ago."""
    scenario = store.get_scenario(user.id, scenario_id)
    assert scenario is not None
    execution, _ = store.create_execution(
        scenario_id=scenario.id,
        scenario_version=scenario.version,
        user_id=user.id,
        trigger={},
        claim_owner="test",
    )
    store.finish_execution(execution.id, status=status)
    created = datetime.now(UTC) - timedelta(days=age_days)
    with store._write() as s:  # the past, as retention sees it
        s.execute(
            update(ExecutionRow).where(ExecutionRow.id == execution.id).values(created_at=created)
        )
    return execution.id


def scenario_of(svc: Cellwright, user: User) -> str:
    return svc.import_scenario(user.id, ScenarioDocument.model_validate(FLOW)).id


def left(svc: Cellwright, user: User) -> set[str]:
    return {e["id"] for e in svc.list_executions(user.id, limit=1000)}


async def test_per_user_periods_and_failed_runs_kept_longer(svc: Cellwright, user: Any) -> None:
    svc.settings.retention_days = 30
    svc.settings.retention_failed_days = 90
    other = svc.accounts.create_user("bob@example.com")
    admin = svc.accounts.create_user("root@example.com", is_admin=True)
    mine, theirs = scenario_of(svc, user), scenario_of(svc, other)
    recent = finished(svc.store, user, mine, "completed", 5)
    old_failed = finished(svc.store, user, mine, "failed", 40)
    finished(svc.store, user, mine, "completed", 40)
    finished(svc.store, user, mine, "failed", 100)
    bob_recent = finished(svc.store, other, theirs, "completed", 5)
    bob_old = finished(svc.store, other, theirs, "completed", 40)
    svc.retention.set_policy(admin.id, other.id, retention_days=3, retention_failed_days=None)

    assert svc.retention_sweep(admin.id) == 4

    assert left(svc, user) == {recent, old_failed}  # failed runs kept 90 days
    assert left(svc, other) == set()  # Bob's own period: 3 days
    assert bob_recent and bob_old
    entry = svc.retention.last_run()
    assert entry is not None and entry.actor_id == admin.id
    assert entry.details is not None
    assert (entry.details["deleted"], entry.details["failed_older_than_days"]) == (4, 90)
    assert entry.details["users_with_own_policy"] == 1


async def test_a_sweep_deletes_in_batches_and_lets_the_server_answer_between_them(
    svc: Cellwright, user: Any
) -> None:
    scenario_id = scenario_of(svc, user)
    for _ in range(5):
        finished(svc.store, user, scenario_id, "completed", 60)
    retention = Retention(svc.store, svc.settings, batch=2)
    answered: list[int] = []

    async def server() -> None:
        while True:
            answered.append(len(left(svc, user)))
            await asyncio.sleep(0)

    ticker = asyncio.create_task(server())
    try:
        assert await retention.run_async() == 5
    finally:
        ticker.cancel()
    last = retention.last_run()
    assert last is not None and last.details is not None and last.details["batches"] == 3
    # requests were answered while the sweep ran, and saw it part-way
    assert any(0 < n < 5 for n in answered)


async def test_only_the_process_holding_the_scheduler_lease_sweeps(
    tmp_path: Path, make_settings: Any
) -> None:
    settings = make_settings(
        data_dir=tmp_path / "d", scheduler_lease_seconds=3, retention_interval_seconds=1
    )
    first, second = Cellwright(settings), Cellwright(settings)
    try:
        user = first.accounts.create_user("ada@example.com")
        scenario_id = scenario_of(first, user)
        old = finished(first.store, user, scenario_id, "completed", 60)
        await first.start()
        await second.start()
        await wait_for(lambda: first.retention.last_run() is not None, timeout=10)
        assert first.leadership is not None and second.leadership is not None
        assert [first.leadership.leading, second.leadership.leading] == [True, False]
        runs = first.accounts.audit_entries(None, action="retention.run")
        assert runs[-1].details is not None and runs[-1].details["deleted"] == 1
        assert runs[-1].actor_id is None  # the server's own work
        assert old not in left(first, user)
    finally:
        for app in (first, second):
            if app.started:
                await app.stop()
            app.close()


async def test_with_analytics_on_the_log_loses_what_retention_and_deletion_remove(
    make_settings: Any, registry: Any
) -> None:
    from tests.services import running_service

    async with running_service(make_settings(analytics=True), registry) as svc:
        assert svc.analytics is not None
        ada = svc.accounts.create_user("ada@example.com")
        bob = svc.accounts.create_user("bob@example.com")
        mine, theirs = scenario_of(svc, ada), scenario_of(svc, bob)
        old = await svc.run_now(ada.id, mine, {})
        await svc.run_now(ada.id, mine, {})
        await svc.run_now(bob.id, theirs, {})
        assert svc.analytics.summary(ada.id)["runs"] == 2
        with svc.store._write() as s:  # the first run is two months old
            past = datetime.now(UTC) - timedelta(days=60)
            s.execute(
                update(ExecutionRow).where(ExecutionRow.id == old["id"]).values(created_at=past)
            )

        assert svc.retention_sweep(None) == 1
        assert svc.analytics.summary(ada.id)["runs"] == 1
        await svc.delete_account(svc.local_user(), bob.id)
        assert svc.analytics.summary(bob.id)["runs"] == 0
        assert svc.store.analytics_deletions_backlog() == 0


async def test_with_analytics_off_nothing_waits_for_a_log(svc: Cellwright, user: Any) -> None:
    finished(svc.store, user, scenario_of(svc, user), "completed", 60)
    assert svc.retention_sweep(None) == 1
    assert svc.store.analytics_deletions_backlog() == 0
