"""The local executor: bounded concurrency, retries that free their slot, leases."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from cells import document as documents
from connectors.registry import Registry
from connectors.sdk import UpstreamError
from engine.service import Cellwright
from engine.settings import Settings
from tests.services import running_service

MANUAL = "  - {id: start, kind: trigger, app: manual, operation: run_manually}\n"


def save(svc: Cellwright, user: Any, cells: str, settings: str = "") -> Any:
    return svc.import_scenario(
        user.id, documents.loads(f"name: T\n{settings}cells:\n{MANUAL}{cells}")
    )


async def test_100_executions_waiting_on_a_slow_sink_run_concurrently(
    svc: Cellwright, user: Any, sink: Any, helpers: Any
) -> None:
    url = sink.plan("/slow", helpers.Reply(200, {"slow": True}, delay=1.0))
    scenario = save(
        svc,
        user,
        "  - {id: call, kind: action, app: http, "
        f"operation: request, inputs: {{url: '{url}'}}}}\n",
    )
    created = [await svc.trigger(scenario, {"n": i}) for i in range(100)]
    ids = [execution.id for execution, _ in created]
    results = [await helpers.finished(svc, execution_id, timeout=60) for execution_id in ids]
    assert [r["status"] for r in results] == ["completed"] * 100
    assert len(sink.hits("/slow")) == 100
    # the sink saw them waiting together (one after another: one at a time); how fast is
    # a benchmark's job (benchmarks/bench_engine.py), never a test's on a busy machine
    assert sink.peak >= 50, f"at most {sink.peak} of 100 one-second executions waited at once"


async def test_concurrency_is_bounded_by_the_setting(
    make_settings: Callable[..., Settings], registry: Registry, probe: Any, helpers: Any
) -> None:
    async with running_service(make_settings(max_concurrent_executions=3), registry) as svc:
        user = svc.local_user()
        scenario = save(
            svc,
            user,
            "  - {id: work, kind: action, app: probe, operation: count, inputs: {sleep: 0.1}}\n",
        )
        ids = [(await svc.trigger(scenario, {}))[0].id for _ in range(9)]
        for execution_id in ids:
            assert (await helpers.finished(svc, execution_id))["status"] == "completed"
        assert probe.peak == 3
        assert probe.calls["work"] == 9


async def test_a_waiting_retry_does_not_hold_a_slot(
    make_settings: Callable[..., Settings], registry: Registry, probe: Any, helpers: Any
) -> None:
    async with running_service(
        make_settings(max_concurrent_executions=1, retry_base_seconds=1.0, retry_max_seconds=1.0),
        registry,
    ) as svc:
        user = svc.local_user()
        probe.fail("slow_vendor", UpstreamError("busy", status=503))
        first = save(
            svc, user, "  - {id: slow_vendor, kind: action, app: probe, operation: count}\n"
        )
        second = save(svc, user, "  - {id: quick, kind: action, app: probe, operation: count}\n")
        waiting, _ = await svc.trigger(first, {})
        await helpers.wait_for(
            lambda: svc.store.get_execution(None, waiting.id).status == "waiting"
        )
        other, _ = await svc.trigger(second, {})
        quick = await helpers.finished(svc, other.id)
        slow = await helpers.finished(svc, waiting.id)
        assert quick["status"] == slow["status"] == "completed"
        retried = [c for c in slow["cells"] if c["cell_id"] == "slow_vendor"]
        assert [c["status"] for c in retried] == ["failed", "completed"]
        # with one slot, the other run could only finish first if the wait left the slot free
        assert quick["end_time"] < retried[1]["start_time"]
        assert probe.calls == {"slow_vendor": 2, "quick": 1}


async def test_a_waiting_execution_is_released_in_the_store(
    svc: Cellwright, user: Any, probe: Any, helpers: Any
) -> None:
    svc.settings.retry_base_seconds = svc.settings.retry_max_seconds = 0.5
    probe.fail("a", UpstreamError("busy", status=500))
    scenario = save(svc, user, "  - {id: a, kind: action, app: probe, operation: count}\n")
    execution, _ = await svc.trigger(scenario, {})
    parked = await helpers.wait_for(
        lambda: (e := svc.store.get_execution(None, execution.id)).status == "waiting" and e
    )
    assert parked.lease_owner is None and parked.lease_until is None
    assert parked.next_attempt_at is not None and parked.attempt == 1
    assert parked.error["cell_id"] == "a"
    assert svc.store.reclaimable_executions() == []  # not due yet
    assert (await helpers.finished(svc, execution.id))["status"] == "completed"


async def test_submitting_twice_runs_once(
    svc: Cellwright, user: Any, probe: Any, helpers: Any
) -> None:
    scenario = save(
        svc,
        user,
        "  - {id: a, kind: action, app: probe, operation: count, inputs: {sleep: 0.05}}\n",
    )
    execution, _ = svc.store.create_execution(
        scenario_id=scenario.id, scenario_version=scenario.version, user_id=user.id, trigger={}
    )
    for _ in range(3):
        svc.executor.submit(execution.id)
    assert (await helpers.finished(svc, execution.id))["status"] == "completed"
    await asyncio.sleep(0.1)
    assert probe.calls["a"] == 1


async def test_wait_gives_up_without_stopping_the_run(
    svc: Cellwright, user: Any, helpers: Any
) -> None:
    scenario = save(
        svc, user, "  - {id: a, kind: action, app: probe, operation: count, inputs: {sleep: 0.3}}\n"
    )
    execution, outcome = await svc.trigger(scenario, {}, wait=0.05)
    assert outcome is None
    assert (await helpers.finished(svc, execution.id))["status"] == "completed"


async def test_the_lease_is_kept_alive_while_a_run_lasts(
    make_settings: Callable[..., Settings], registry: Registry, helpers: Any
) -> None:
    async with running_service(make_settings(lease_seconds=0.3), registry) as svc:
        user = svc.local_user()
        scenario = save(
            svc,
            user,
            "  - {id: a, kind: action, app: probe, operation: count, inputs: {sleep: 0.8}}\n",
        )
        execution, _ = await svc.trigger(scenario, {})
        first = await helpers.wait_for(
            lambda: svc.store.get_execution(None, execution.id).lease_until
        )
        await asyncio.sleep(0.45)
        later = svc.store.get_execution(None, execution.id)
        assert later.status == "running" and later.lease_until > first
        assert later.lease_owner == svc.executor.owner
        assert svc.store.reclaimable_executions() == []  # nobody may take it over
        assert (await helpers.finished(svc, execution.id))["status"] == "completed"


async def test_an_expired_lease_is_resumed_on_start(
    settings: Settings, registry: Registry, probe: Any, helpers: Any
) -> None:
    async with running_service(settings, registry) as first:
        user = first.local_user()
        scenario = save(
            first,
            user,
            "  - {id: a, kind: action, app: probe, operation: count}\n"
            "  - {id: b, kind: action, app: probe, operation: count}\n",
        )
        crashed, _ = first.store.create_execution(
            scenario_id=scenario.id,
            scenario_version=scenario.version,
            user_id=user.id,
            trigger={"n": 1},
        )
        claimed = first.store.claim_execution(crashed.id, "dead-host:1", 0.05)
        first.store.record_node_result(
            crashed.id, cell_id="start", status="completed", output={"n": 1}
        )
        first.store.record_node_result(
            crashed.id, cell_id="a", status="completed", output={"value": None, "calls": 1}
        )
        held, _ = first.store.create_execution(
            scenario_id=scenario.id,
            scenario_version=scenario.version,
            user_id=user.id,
            trigger={"n": 2},
        )
        first.store.claim_execution(held.id, "live-host:1", 60)
        assert claimed is not None and claimed.status == "running"
    await asyncio.sleep(0.1)  # the dead process' lease expires
    async with running_service(settings, registry) as restarted:
        result = await helpers.finished(restarted, crashed.id)
        assert result["status"] == "completed"
        assert [c["cell_id"] for c in result["cells"]] == ["start", "a", "b"]
        assert probe.calls == {"b": 1}  # a finished before the crash: not run again
        assert (
            restarted.store.get_execution(None, held.id).status == "running"
        )  # its lease is alive


async def test_stopping_leaves_work_for_the_next_start(
    settings: Settings, registry: Registry, probe: Any, helpers: Any
) -> None:
    async with running_service(
        settings.model_copy(update={"lease_seconds": 0.2}), registry
    ) as first:
        user = first.local_user()
        scenario = save(
            first,
            user,
            "  - {id: a, kind: action, app: probe, operation: count}\n"
            "  - {id: b, kind: action, app: probe, operation: count}\n",
        )
        probe.sleeps["b"] = 30
        execution, _ = await first.trigger(scenario, {})
        await helpers.wait_for(lambda: probe.calls["b"] == 1)
    assert first.store.get_execution(None, execution.id).status == "running"
    await asyncio.sleep(0.25)
    probe.sleeps.clear()
    async with running_service(settings, registry) as second:
        result = await helpers.finished(second, execution.id)
        assert result["status"] == "completed"
        assert probe.calls == {"a": 1, "b": 2}


async def test_the_sweep_picks_up_executions_nobody_submitted(
    make_settings: Callable[..., Settings], registry: Registry, helpers: Any
) -> None:
    async with running_service(
        make_settings(lease_seconds=4), registry
    ) as svc:  # sweep every second
        user = svc.local_user()
        scenario = save(svc, user, "  - {id: a, kind: action, app: probe, operation: count}\n")
        orphan, _ = svc.store.create_execution(
            scenario_id=scenario.id, scenario_version=scenario.version, user_id=user.id, trigger={}
        )
        assert (await helpers.finished(svc, orphan.id, timeout=3))["status"] == "completed"


async def test_an_event_queued_longer_than_its_lease_runs_once(
    make_settings: Callable[..., Settings], registry: Registry, probe: Any, helpers: Any
) -> None:
    # one slot, a short lease: the second event waits for the slot past its lease while
    # the sweep (every second) sees it as reclaimable; it must still run exactly once
    async with running_service(
        make_settings(max_concurrent_executions=1, lease_seconds=0.3), registry
    ) as svc:
        user = svc.local_user()
        busy = save(
            svc,
            user,
            "  - {id: first, kind: action, app: probe, operation: count, inputs: {sleep: 1.5}}\n",
        )
        queued = save(
            svc,
            user,
            "  - {id: second, kind: action, app: probe, operation: count}\n"
            "  - {id: third, kind: action, app: probe, operation: count, inputs: {sleep: 0.3}}\n",
        )
        running, _ = await svc.trigger(busy, {})
        waiting, _ = await svc.trigger(queued, {})
        for execution in (running, waiting):
            assert (await helpers.finished(svc, execution.id, timeout=10))["status"] == "completed"
        await asyncio.sleep(1.2)  # a sweep after the end finds nothing to do again
        assert probe.calls == {"first": 1, "second": 1, "third": 1}
