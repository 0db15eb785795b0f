"""Delay for / Delay until: the run parks (no slot held, no task sleeping), resumes on
time from its recorded cells, survives a restart, and refuses what it cannot wait for."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cells import document as documents
from connectors.registry import Registry
from connectors.sdk import CellwrightError, UpstreamError
from engine.service import Cellwright
from engine.settings import Settings
from tests.services import running_service

MANUAL = "  - {id: start, kind: trigger, app: manual, operation: run_manually}\n"


def save(svc: Cellwright, user: Any, cells: str) -> Any:
    return svc.import_scenario(user.id, documents.loads(f"name: T\ncells:\n{MANUAL}{cells}"))


DELAYED = (
    "  - {id: before, kind: action, app: probe, operation: count}\n"
    "  - {id: pause, kind: action, app: delay, operation: delay_for,"
    " inputs: {amount: '{{ trigger.wait }}', unit: seconds}}\n"
    "  - {id: after, kind: action, app: probe, operation: count,"
    " inputs: {value: '{{ steps.pause.waited_seconds }}'}}\n"
)


def cell(result: dict[str, Any], cell_id: str, status: str = "completed") -> dict[str, Any]:
    return next(c for c in result["cells"] if c["cell_id"] == cell_id and c["status"] == status)


async def test_a_delay_parks_the_run_and_frees_its_slot(
    make_settings: Callable[..., Settings], registry: Registry, probe: Any, helpers: Any
) -> None:
    async with running_service(make_settings(max_concurrent_executions=1), registry) as svc:
        user = svc.local_user()
        delayed = save(svc, user, DELAYED)
        quick = save(svc, user, "  - {id: quick, kind: action, app: probe, operation: count}\n")
        parked, _ = await svc.trigger(delayed, {"wait": 1.5})
        waiting = await helpers.wait_for(
            lambda: (e := svc.execution(None, parked.id))["status"] == "waiting" and e
        )
        assert waiting["waiting"]["for"] == "time"
        assert waiting["waiting"]["cell_id"] == "pause"
        stored = svc.store.get_execution(None, parked.id)
        assert stored.lease_owner is None and stored.lease_until is None  # nothing holds it
        other, _ = await svc.trigger(quick, {})
        done = await helpers.finished(svc, other.id)
        result = await helpers.finished(svc, parked.id, timeout=10)
    assert done["status"] == result["status"] == "completed"
    resumed = cell(result, "pause")
    # one slot: the other run could finish only because the parked run left it free
    assert done["end_time"] < resumed["start_time"]
    assert resumed["output"]["waited_seconds"] >= 1.5
    assert resumed["output"]["preview"] is False
    assert cell(result, "after")["input"]["value"] == resumed["output"]["waited_seconds"]
    # the cells before the delay ran once: the resumed run restored them
    assert probe.calls == {"before": 1, "after": 1, "quick": 1}


async def test_a_parked_run_survives_a_restart(
    make_settings: Callable[..., Settings], registry: Registry, probe: Any, helpers: Any
) -> None:
    settings = make_settings(lease_seconds=4)  # the sweep looks every second
    async with running_service(settings, registry) as first:
        scenario = save(first, first.local_user(), DELAYED)
        execution, _ = await first.trigger(scenario, {"wait": 1.5})
        await helpers.wait_for(
            lambda: first.store.get_execution(None, execution.id).status == "waiting"
        )
    # a new service on the same data directory: no timer of the first one is left
    async with running_service(settings, registry) as second:
        result = await helpers.finished(second, execution.id, timeout=10)
    assert result["status"] == "completed"
    assert cell(result, "pause")["output"]["waited_seconds"] >= 1.5
    assert probe.calls == {"before": 1, "after": 1}


async def test_delay_until_a_past_time_goes_on_at_once(
    svc: Cellwright, user: Any, probe: Any, helpers: Any
) -> None:
    scenario = save(
        svc,
        user,
        "  - {id: pause, kind: action, app: delay, operation: delay_until,"
        " inputs: {until: '{{ trigger.at }}'}}\n"
        "  - {id: after, kind: action, app: probe, operation: count}\n",
    )
    execution, _ = await svc.trigger(scenario, {"at": "2020-01-01T00:00:00Z"})
    result = await helpers.finished(svc, execution.id)
    assert result["status"] == "completed"
    assert cell(result, "pause")["output"]["waited_seconds"] == 0
    assert [c["status"] for c in result["cells"]] == ["completed"] * 3  # never parked


async def test_delay_until_a_near_time_resumes_on_time(
    svc: Cellwright, user: Any, helpers: Any
) -> None:
    scenario = save(
        svc,
        user,
        "  - {id: pause, kind: action, app: delay, operation: delay_until,"
        " inputs: {until: '{{ trigger.at }}', timezone: Europe/Paris}}\n",
    )
    at = datetime.now(UTC) + timedelta(seconds=1)
    execution, _ = await svc.trigger(scenario, {"at": at.isoformat()})
    result = await helpers.finished(svc, execution.id, timeout=10)
    assert result["status"] == "completed"
    resumed_at = datetime.fromisoformat(cell(result, "pause")["output"]["resumed_at"])
    assert resumed_at >= at


async def test_an_unparseable_time_fails_the_cell_clearly(
    svc: Cellwright, user: Any, helpers: Any
) -> None:
    scenario = save(
        svc,
        user,
        "  - {id: pause, kind: action, app: delay, operation: delay_until,"
        " inputs: {until: '{{ trigger.at }}'}}\n",
    )
    execution, _ = await svc.trigger(scenario, {"at": "next tuesday"})
    result = await helpers.finished(svc, execution.id)
    assert result["status"] == "failed"
    assert result["error"]["code"] == "invalid_input"
    assert result["error"]["cell_id"] == "pause"
    assert "'next tuesday' is not a date or time" in result["error"]["message"]
    assert "ISO 8601" in result["error"]["message"]


async def test_a_delay_past_the_limit_fails_and_says_which_setting(
    svc: Cellwright, user: Any, probe: Any, helpers: Any
) -> None:
    svc.settings.max_delay_days = 2
    scenario = save(
        svc,
        user,
        "  - id: pause\n    kind: action\n    app: delay\n    operation: delay_for\n"
        "    inputs: {amount: 3, unit: days}\n    on_error: continue\n"
        "  - {id: after, kind: action, app: probe, operation: count}\n",
    )
    execution, _ = await svc.trigger(scenario, {})
    result = await helpers.finished(svc, execution.id)
    failed = cell(result, "pause", "failed")
    assert failed["error"]["code"] == "limit_exceeded"
    assert "3 days" in failed["error"]["message"]
    assert "max_delay_days" in failed["error"]["message"]
    # a failing delay is a failing cell: its on_error applies
    assert result["status"] == "completed" and probe.calls == {"after": 1}


async def test_run_on_its_own_a_delay_only_says_what_it_would_do(
    svc: Cellwright, user: Any
) -> None:
    doc = documents.loads(
        f"name: T\ncells:\n{MANUAL}  - {{id: pause, kind: action, app: delay,"
        " operation: delay_for, inputs: {amount: 2, unit: hours}}\n"
    )
    result = await svc.run_cell(user.id, doc, "pause", {"trigger": {}, "steps": {}})
    assert result.ok
    assert result.output["preview"] is True
    assert result.output["waited_seconds"] == 7200


async def test_a_rerun_after_the_delay_does_not_wait_again(
    svc: Cellwright, user: Any, probe: Any, helpers: Any
) -> None:
    probe.fail("after", UpstreamError("no", status=400))
    scenario = save(svc, user, DELAYED)
    execution, _ = await svc.trigger(scenario, {"wait": 0.3})
    failed = await helpers.finished(svc, execution.id, timeout=10)
    assert failed["status"] == "failed" and failed["error"]["cell_id"] == "after"
    rerun = await svc.rerun(user.id, execution.id)
    result = await helpers.finished(svc, rerun.id)
    assert result["status"] == "completed"
    # the delay's finished result was copied: the rerun neither waits nor parks again
    assert [c["status"] for c in result["cells"] if c["cell_id"] == "pause"] == ["completed"]
    assert probe.calls == {"before": 1, "after": 2}


@pytest.mark.parametrize(
    ("cells", "message"),
    [
        (
            "  - {id: pause, kind: action, app: delay, operation: delay_for,"
            " inputs: {amount: 1, unit: weeks}}\n",
            "'unit' has a wrong value",
        ),
        (
            "  - {id: pause, kind: action, app: delay, operation: delay_until,"
            " inputs: {until: soon}}\n",
            "'soon' is not a date or time",
        ),
        (
            "  - {id: pause, kind: action, app: delay, operation: delay_for,"
            " inputs: {amount: 1, seconds: 3}}\n",
            "'seconds' is not one of its inputs",
        ),
    ],
)
def test_a_delay_cell_with_wrong_static_inputs_is_refused_on_save(
    svc: Cellwright, user: Any, cells: str, message: str
) -> None:
    with pytest.raises(CellwrightError) as caught:
        save(svc, user, cells)
    assert message in caught.value.message
    assert "pause" in caught.value.message


def test_a_delay_inside_a_loop_is_refused_with_the_way_out() -> None:
    text = (
        "name: T\ncells:\n" + MANUAL + "  - id: each\n    kind: loop\n"
        "    items: '{{ trigger.items }}'\n    cells:\n"
        "      - {id: pause, kind: action, app: delay, operation: delay_for,"
        " inputs: {amount: 1}}\n"
    )
    with pytest.raises(documents.DocumentError) as caught:
        documents.loads(text)
    assert "inside loop 'each'" in caught.value.message
    assert "before or after the loop" in caught.value.message


async def test_a_delay_counts_as_one_call_in_analytics(
    make_settings: Callable[..., Settings], registry: Registry, helpers: Any
) -> None:
    async with running_service(make_settings(analytics=True), registry) as svc:
        user = svc.local_user()
        execution, _ = await svc.trigger(save(svc, user, DELAYED), {"wait": 0.3})
        result = await helpers.finished(svc, execution.id, timeout=10)
        assert result["status"] == "completed"
        # the record of the parked cell and the one of its finish: one call
        assert [c["status"] for c in result["cells"] if c["cell_id"] == "pause"] == [
            "running",
            "completed",
        ]
        assert svc.analytics is not None
        svc.analytics.flush()
        calls = svc.analytics.app_calls(user.id)
        delay = calls[calls["app"] == "delay"]
        assert int(delay["calls"].sum()) == 1 and int(delay["errors"].sum()) == 0
