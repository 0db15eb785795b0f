"""Schedule and polling triggers: plan first, fire once, never re-fire or drop on edits;
they run the published version, never a saved draft."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cells import document as documents
from connectors.sdk import NetworkError
from engine.scheduler import Scheduler
from engine.service import Cellwright

T0 = datetime(2030, 1, 7, 10, 2, 30, tzinfo=UTC)  # a Monday


def schedule_doc(inputs: str) -> Any:
    return documents.loads(
        "name: Tick\ncells:\n"
        f"  - {{id: tick, kind: trigger, app: schedule, operation: every, inputs: {inputs}}}\n"
        "  - {id: a, kind: action, app: probe, operation: count, "
        "inputs: {value: '{{ trigger.scheduled_for }}'}}\n"
    )


def poll_doc(operation: str = "items", label: str = "items") -> Any:
    return documents.loads(
        "name: Poll\ncells:\n"
        "  - {id: new_item, kind: trigger, app: probe, "
        f"operation: {operation}, inputs: {{label: {label}}}}}\n"
        "  - {id: a, kind: action, app: probe, operation: count, "
        "inputs: {value: '{{ trigger.id }}'}}\n"
    )


async def enabled(svc: Cellwright, user: Any, doc: Any) -> Any:
    scenario = svc.import_scenario(user.id, doc)
    return await svc.enable(user.id, scenario.id)


def executions(svc: Cellwright, user: Any, scenario_id: str) -> list[Any]:
    return list(reversed(svc.store.list_executions(user.id, scenario_id=scenario_id, limit=500)))


async def test_a_schedule_plans_on_its_first_tick_then_fires_once_when_due(
    svc: Cellwright, user: Any, helpers: Any
) -> None:
    scenario = await enabled(svc, user, schedule_doc("{mode: interval, interval_minutes: 5}"))
    scheduler = Scheduler(svc)
    assert await scheduler.run_due(T0) == 0  # planned, not fired
    state = svc.store.get_trigger_state(scenario.id, "tick")
    due = T0.replace(minute=5, second=0)
    assert state.next_poll_at == due and state.baseline_at == T0
    assert await scheduler.run_due(due - timedelta(seconds=1)) == 0
    assert executions(svc, user, scenario.id) == []
    assert await scheduler.run_due(due) == 1
    assert await scheduler.run_due(due) == 0  # the same tick again
    [fired] = executions(svc, user, scenario.id)
    assert fired.idempotency_key == f"schedule:{due.isoformat()}"
    assert fired.trigger == {"scheduled_for": due.isoformat(), "timezone": "UTC"}
    assert svc.store.get_trigger_state(scenario.id, "tick").next_poll_at == due + timedelta(
        minutes=5
    )
    result = await helpers.finished(svc, fired.id)
    assert result["status"] == "completed"


async def test_two_schedulers_on_the_same_tick_start_one_run(svc: Cellwright, user: Any) -> None:
    scenario = await enabled(svc, user, schedule_doc("{mode: interval, interval_minutes: 5}"))
    await Scheduler(svc).run_due(T0)
    due = T0.replace(minute=5, second=0)
    await asyncio.gather(Scheduler(svc).run_due(due), Scheduler(svc).run_due(due))
    assert len(executions(svc, user, scenario.id)) == 1


async def test_a_missed_backlog_fires_once(svc: Cellwright, user: Any) -> None:
    scenario = await enabled(svc, user, schedule_doc("{mode: interval, interval_minutes: 5}"))
    scheduler = Scheduler(svc)
    await scheduler.run_due(T0)
    much_later = T0 + timedelta(hours=3)
    assert await scheduler.run_due(much_later) == 1
    assert await scheduler.run_due(much_later) == 0
    assert svc.store.get_trigger_state(scenario.id, "tick").next_poll_at > much_later


async def test_cron_fires_in_its_time_zone(svc: Cellwright, user: Any) -> None:
    scenario = await enabled(
        svc, user, schedule_doc("{mode: cron, cron: '0 9 * * *', timezone: Europe/Paris}")
    )
    scheduler = Scheduler(svc)
    await scheduler.run_due(T0)
    due = svc.store.get_trigger_state(scenario.id, "tick").next_poll_at
    assert due == datetime(2030, 1, 8, 8, 0, tzinfo=UTC)  # 09:00 in Paris (UTC+1 in winter)
    assert await scheduler.run_due(due) == 1
    [fired] = executions(svc, user, scenario.id)
    assert fired.trigger["scheduled_for"] == "2030-01-08T09:00:00+01:00"
    assert fired.trigger["timezone"] == "Europe/Paris"


async def test_changing_the_schedule_replans_without_firing(svc: Cellwright, user: Any) -> None:
    scenario = await enabled(svc, user, schedule_doc("{mode: interval, interval_minutes: 5}"))
    scheduler = Scheduler(svc)
    await scheduler.run_due(T0)
    svc.import_scenario(
        user.id, schedule_doc("{mode: interval, interval_minutes: 60}"), scenario_id=scenario.id
    )
    await svc.publish(user.id, scenario.id)
    assert await scheduler.run_due(T0 + timedelta(minutes=10)) == 0
    assert svc.store.get_trigger_state(scenario.id, "tick").next_poll_at == T0.replace(
        hour=11, minute=0, second=0
    )


async def test_a_saved_schedule_runs_only_once_published(svc: Cellwright, user: Any) -> None:
    scenario = await enabled(svc, user, schedule_doc("{mode: interval, interval_minutes: 5}"))
    scheduler = Scheduler(svc)
    await scheduler.run_due(T0)
    svc.import_scenario(
        user.id, schedule_doc("{mode: interval, interval_minutes: 60}"), scenario_id=scenario.id
    )
    due = T0.replace(minute=5, second=0)
    assert (
        await scheduler.run_due(due) == 1
    )  # the draft changes nothing: the live 5-minute schedule fires
    [fired] = executions(svc, user, scenario.id)
    assert fired.scenario_version == 1
    assert svc.store.get_trigger_state(scenario.id, "tick").next_poll_at == due + timedelta(
        minutes=5
    )
    published = await svc.publish(user.id, scenario.id)
    assert (published.version, published.live_version) == (2, 2)
    assert (
        await scheduler.run_due(due + timedelta(minutes=5)) == 0
    )  # re-planned for the hourly schedule, not fired
    assert svc.store.get_trigger_state(scenario.id, "tick").next_poll_at == T0.replace(
        hour=11, minute=0, second=0
    )
    assert await scheduler.run_due(T0.replace(hour=11, minute=0, second=0)) == 1
    assert [e.scenario_version for e in executions(svc, user, scenario.id)] == [1, 2]


async def test_paused_and_webhook_scenarios_are_left_alone(svc: Cellwright, user: Any) -> None:
    draft = svc.import_scenario(user.id, schedule_doc("{mode: interval, interval_minutes: 5}"))
    hook = await enabled(
        svc,
        user,
        documents.loads(
            "name: H\ncells:\n  - {id: h, kind: trigger, app: webhook, operation: catch_hook}\n"
        ),
    )
    assert await Scheduler(svc).run_due(T0) == 0
    assert svc.store.get_trigger_state(draft.id, "tick") is None
    assert svc.store.get_trigger_state(hook.id, "h") is None


async def test_a_broken_scenario_does_not_stop_the_others(svc: Cellwright, user: Any) -> None:
    broken = await enabled(svc, user, schedule_doc("{mode: interval, interval_minutes: 5}"))
    svc.store.save_scenario(user.id, {"name": "broken", "cells": []}, scenario_id=broken.id)
    svc.store.publish_scenario(user.id, broken.id)  # (the service would refuse to publish it)
    good = await enabled(svc, user, schedule_doc("{mode: interval, interval_minutes: 5}"))
    assert await Scheduler(svc).run_due(T0) == 0
    assert svc.store.get_trigger_state(good.id, "tick") is not None


# -- polling -----------------------------------------------------------------------------


def item(n: int, **extra: Any) -> dict[str, Any]:
    return {"id": str(n), "title": f"item {n}", **extra}


async def poll(svc: Cellwright, scenario_id: str, now: datetime) -> int:
    scenario = svc.store.get_scenario_any(scenario_id)
    doc = svc.runner.document(scenario.id, scenario.live_version)  # what the scheduler polls
    op = svc.apps.get(doc.trigger.app).trigger(doc.trigger.operation)
    return await Scheduler(svc).poll(scenario, doc.trigger, op, now, force=True)


def fired_ids(svc: Cellwright, user: Any, scenario_id: str) -> list[str]:
    return [e.trigger["id"] for e in executions(svc, user, scenario_id)]


async def test_the_first_poll_records_a_baseline_then_new_items_fire_once_oldest_first(
    svc: Cellwright, user: Any, probe: Any, helpers: Any
) -> None:
    probe.items = [item(2), item(1)]  # newest first, as most APIs answer
    scenario = await enabled(svc, user, poll_doc())
    scheduler = Scheduler(svc)
    assert await scheduler.run_due(T0) == 0
    state = svc.store.get_trigger_state(scenario.id, "new_item")
    assert sorted(state.seen_ids) == ["1", "2"] and state.baseline_at == T0
    assert state.next_poll_at == T0 + timedelta(seconds=60)
    probe.items = [item(4), item(3), *probe.items]
    assert await scheduler.run_due(T0 + timedelta(seconds=30)) == 0  # not due: not even fetched
    assert len(probe.since) == 1
    assert await scheduler.run_due(T0 + timedelta(seconds=60)) == 2
    assert fired_ids(svc, user, scenario.id) == ["3", "4"]
    assert await scheduler.run_due(T0 + timedelta(seconds=120)) == 0
    assert fired_ids(svc, user, scenario.id) == ["3", "4"]
    for execution in executions(svc, user, scenario.id):
        assert execution.idempotency_key == f"poll:new_item:{execution.trigger['id']}"
        assert (await helpers.finished(svc, execution.id))["status"] == "completed"


async def test_editing_the_scenario_neither_refires_nor_drops_items(
    svc: Cellwright, user: Any, probe: Any
) -> None:
    probe.items = [item(1)]
    scenario = await enabled(svc, user, poll_doc())
    await poll(svc, scenario.id, T0)
    probe.items = [item(2), item(1)]  # arrives while the user edits
    svc.import_scenario(user.id, poll_doc(label="renamed"), scenario_id=scenario.id)
    published = await svc.publish(
        user.id, scenario.id
    )  # same trigger, other inputs: the cursor stays
    assert (published.version, published.live_version) == (2, 2)
    assert await poll(svc, scenario.id, T0 + timedelta(minutes=1)) == 1
    assert fired_ids(svc, user, scenario.id) == ["2"]
    [execution] = executions(svc, user, scenario.id)
    assert execution.scenario_version == 2
    assert await poll(svc, scenario.id, T0 + timedelta(minutes=2)) == 0


async def test_switching_to_another_trigger_starts_from_a_new_baseline(
    svc: Cellwright, user: Any, probe: Any
) -> None:
    probe.items = [item(1, rank=1)]
    scenario = await enabled(svc, user, poll_doc())
    await poll(svc, scenario.id, T0)
    probe.items = [item(2, rank=2), item(1, rank=1)]
    svc.import_scenario(user.id, poll_doc("items_by_rank"), scenario_id=scenario.id)
    assert svc.store.get_trigger_state(scenario.id, "new_item") is not None  # saved, not live: kept
    await svc.publish(user.id, scenario.id)
    assert svc.store.get_trigger_state(scenario.id, "new_item") is None  # another trigger: re-armed
    assert await poll(svc, scenario.id, T0 + timedelta(minutes=1)) == 0
    assert fired_ids(svc, user, scenario.id) == []


async def test_a_cursor_field_advances_and_orders_items(
    svc: Cellwright, user: Any, probe: Any
) -> None:
    probe.items = [item(1, rank=7), item(2, rank=8)]
    scenario = await enabled(svc, user, poll_doc("items_by_rank"))
    assert await poll(svc, scenario.id, T0) == 0
    assert probe.since == [None]
    assert svc.store.get_trigger_state(scenario.id, "new_item").cursor["since"] == 8
    probe.items = [item(4, rank=10), item(3, rank=9), item(1, rank=7), item(2, rank=8)]
    assert await poll(svc, scenario.id, T0 + timedelta(minutes=1)) == 2
    assert probe.since == [None, 8]
    assert fired_ids(svc, user, scenario.id) == [
        "3",
        "4",
    ]  # by rank: 9 before 10 (numbers, not text)
    assert svc.store.get_trigger_state(scenario.id, "new_item").cursor["since"] == 10


async def test_a_failed_fetch_keeps_the_state_and_fires_nothing(
    svc: Cellwright, user: Any, probe: Any
) -> None:
    probe.items = [item(1)]
    scenario = await enabled(svc, user, poll_doc())
    await poll(svc, scenario.id, T0)
    before = svc.store.get_trigger_state(scenario.id, "new_item")
    probe.items = [item(2), item(1)]
    probe.fail("fetch", NetworkError("vendor down"))
    assert await poll(svc, scenario.id, T0 + timedelta(minutes=1)) == 0
    after = svc.store.get_trigger_state(scenario.id, "new_item")
    assert after.seen_ids == before.seen_ids and after.cursor == before.cursor
    assert after.next_poll_at == T0 + timedelta(minutes=2)
    assert await poll(svc, scenario.id, T0 + timedelta(minutes=2)) == 1


async def test_a_failed_first_fetch_still_baselines_later(
    svc: Cellwright, user: Any, probe: Any
) -> None:
    probe.items = [item(1)]
    probe.fail("fetch", NetworkError("vendor down"))
    scenario = await enabled(svc, user, poll_doc())
    assert await poll(svc, scenario.id, T0) == 0
    assert await poll(svc, scenario.id, T0 + timedelta(minutes=1)) == 0  # the baseline
    assert fired_ids(svc, user, scenario.id) == []


async def test_the_loop_keeps_ticking(
    svc: Cellwright, user: Any, probe: Any, helpers: Any, caplog: pytest.LogCaptureFixture
) -> None:
    probe.items = [item(1)]
    scenario = await enabled(svc, user, poll_doc())
    task = asyncio.create_task(Scheduler(svc, tick=0.02).run_forever())
    try:
        await helpers.wait_for(lambda: svc.store.get_trigger_state(scenario.id, "new_item"))
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert "scheduler tick failed" not in caplog.text


async def test_turning_a_scenario_back_on_starts_from_a_new_baseline(
    svc: Cellwright, user: Any, probe: Any
) -> None:
    probe.items = [item(1)]
    scenario = await enabled(svc, user, poll_doc())
    await poll(svc, scenario.id, T0)
    await svc.disable(user.id, scenario.id)
    probe.items = [item(2), item(1)]  # arrives while the scenario is off
    await svc.enable(user.id, scenario.id)
    await svc.enable(user.id, scenario.id)  # enabling an active scenario changes nothing
    assert await poll(svc, scenario.id, T0 + timedelta(minutes=5)) == 0
    probe.items = [item(3), *probe.items]
    assert await poll(svc, scenario.id, T0 + timedelta(minutes=6)) == 1
    assert fired_ids(svc, user, scenario.id) == ["3"]


async def test_a_paused_schedule_does_not_fire_its_backlog_when_turned_back_on(
    svc: Cellwright, user: Any
) -> None:
    scenario = await enabled(svc, user, schedule_doc("{mode: interval, interval_minutes: 5}"))
    scheduler = Scheduler(svc)
    await scheduler.run_due(T0)
    await svc.disable(user.id, scenario.id)
    await svc.enable(user.id, scenario.id)
    assert await scheduler.run_due(T0 + timedelta(hours=2)) == 0  # plans again
    assert executions(svc, user, scenario.id) == []


def test_the_schedule_column_says_what_the_schedule_trigger_says(
    svc: Cellwright, user: Any
) -> None:
    """The row's ``schedule`` is the Schedule trigger's settings (defaults included),
    and goes back to empty when the trigger changes."""
    cron = documents.loads(
        "name: Weekly\ncells:\n  - {id: tick, kind: trigger, app: schedule, operation: every,"
        " inputs: {mode: cron, cron: '0 9 * * 1', timezone: Europe/Paris}}\n"
    )
    saved = svc.import_scenario(user.id, cron)
    assert svc.store.get_scenario(user.id, saved.id).schedule == {
        "mode": "cron",
        "cron": "0 9 * * 1",
        "timezone": "Europe/Paris",
        "interval_minutes": 15,
    }
    hooked = documents.loads(
        "name: Weekly\ncells:\n  - {id: hook, kind: trigger, app: webhook, operation: catch_hook}\n"
    )
    svc.import_scenario(user.id, hooked, scenario_id=saved.id)
    assert svc.store.get_scenario(user.id, saved.id).schedule is None
