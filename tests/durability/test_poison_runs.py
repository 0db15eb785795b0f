"""Runs that cannot finish normally end ``failed`` instead of staying ``running``.

Two ways a run used to stay ``running`` and be run again forever: the store refused
its results (a row too large for the database), or its process died with it every time
(a run that exhausts the server's memory), so each takeover after the lease expired
started it again. Both use a real SQLite store; the store's refusal is SQLite's own
("string or blob too big") from a connection whose length limit is lowered.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import event

from cells import document as documents
from connectors.registry import Registry
from engine.service import Cellwright
from engine.settings import Settings
from tests.services import running_service

pytestmark = pytest.mark.xdist_group("durability")

MANUAL = "  - {id: start, kind: trigger, app: manual, operation: run_manually}\n"
ROW_LIMIT = 200_000  # bytes SQLite accepts in one value below


def save(svc: Cellwright, user: Any, cells: str) -> Any:
    return svc.import_scenario(user.id, documents.loads(f"name: T\ncells:\n{MANUAL}{cells}"))


def limit_row_size(svc: Cellwright) -> None:
    """Make the real store refuse values over ``ROW_LIMIT`` bytes, as SQLite does past
    its (compile-time) maximum of 1,000,000,000."""
    engine = svc.store._engine

    @event.listens_for(engine, "connect")
    def _limit(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, ROW_LIMIT)

    engine.dispose()  # connections opened from now on carry the limit


async def test_an_action_whose_result_cannot_be_saved_fails_the_run(
    svc: Cellwright, user: Any, probe: Any, helpers: Any
) -> None:
    scenario = save(
        svc,
        user,
        (
            "  - {id: big, kind: action, app: probe, operation: count, "
            "inputs: {value: \"{{ 'x' * 300000 }}\"}}\n"
            "  - {id: after, kind: action, app: probe, operation: count}\n"
        ),
    )
    limit_row_size(svc)
    execution, _ = await svc.trigger(scenario, {})
    result = await helpers.finished(svc, execution.id)
    assert result["status"] == "failed"
    assert result["error"]["code"] == "result_not_saved"
    assert result["error"]["message"] == (
        "The run was stopped: the results of cell(s) 'start', 'big' could not be saved"
        " (string or blob too big). A value may be too large to store: make the cell's inputs"
        " or output smaller (map only the fields you need), then rerun it."
    )
    assert probe.calls == {"big": 1}  # the run stopped there: 'after' never ran
    assert svc.store.get_execution(None, execution.id).lease_owner is None


async def test_a_transformer_whose_result_cannot_be_saved_fails_the_run(
    svc: Cellwright, user: Any, helpers: Any
) -> None:
    # results of pure cells are written with the execution's end: that write is refused
    scenario = save(
        svc,
        user,
        (
            "  - id: shape\n    kind: transformer\n    app: formatter\n    operation: set_fields\n"
            "    inputs: {fields: {text: \"{{ 'x' * 300000 }}\"}}\n"
        ),
    )
    limit_row_size(svc)
    execution, _ = await svc.trigger(scenario, {})
    result = await helpers.finished(svc, execution.id)
    assert result["status"] == "failed"
    assert result["error"]["code"] == "result_not_saved"
    assert (
        "cell(s) 'start', 'shape' could not be saved (string or blob too big)"
        in result["error"]["message"]
    )
    # what could be kept is: each cell's status, without its data
    assert [(c["cell_id"], c["status"], c["output"]) for c in result["cells"]] == [
        ("start", "completed", None),
        ("shape", "completed", None),
    ]


def test_a_claim_counts_takeovers_of_a_running_execution_only(svc: Cellwright, user: Any) -> None:
    scenario = save(svc, user, "  - {id: a, kind: action, app: probe, operation: count}\n")
    store = svc.store
    execution, _ = store.create_execution(
        scenario_id=scenario.id, scenario_version=scenario.version, user_id=user.id, trigger={}
    )
    assert store.claim_execution(execution.id, "host:1", -1).reclaims == 0  # queued: a first claim
    assert store.claim_execution(execution.id, "host:2", -1).reclaims == 1  # host:1 died with it
    assert store.claim_execution(execution.id, "host:3", 60).reclaims == 2
    store.schedule_retry(
        execution.id,
        next_attempt_at=store.get_execution(None, execution.id).created_at,
        attempt=1,
        error={},
    )
    assert (
        store.claim_execution(execution.id, "host:3", 60).reclaims == 2
    )  # a due retry is no takeover


async def test_a_run_that_keeps_killing_its_server_is_given_up(
    make_settings: Callable[..., Settings], registry: Registry, probe: Any, helpers: Any
) -> None:
    settings = make_settings(max_reclaims=2)
    async with running_service(settings, registry) as first:
        user = first.local_user()
        scenario = save(first, user, "  - {id: a, kind: action, app: probe, operation: count}\n")
        poison, _ = first.store.create_execution(
            scenario_id=scenario.id, scenario_version=scenario.version, user_id=user.id, trigger={}
        )
        survivor, _ = first.store.create_execution(
            scenario_id=scenario.id, scenario_version=scenario.version, user_id=user.id, trigger={}
        )
        # three processes took the poison run and died with it (their leases expired)
        for host in ("dead:1", "dead:2", "dead:3"):
            assert first.store.claim_execution(poison.id, host, 0.01) is not None
            await asyncio.sleep(0.02)
        # the survivor's process died once: within the limit, it is resumed
        first.store.claim_execution(survivor.id, "dead:1", 0.01)
        await asyncio.sleep(0.02)
        first.store.claim_execution(survivor.id, "dead:2", 0.01)
        await asyncio.sleep(0.02)
    async with running_service(settings, registry) as restarted:
        given_up = await helpers.finished(restarted, poison.id)
        resumed = await helpers.finished(restarted, survivor.id)
    assert given_up["status"] == "failed"
    assert given_up["error"] == {
        "code": "run_abandoned",
        "message": (
            "The run was stopped: the server running it stopped or stalled 3 times while it ran "
            "(the limit is 2, setting max_reclaims). "
            "It may make the server run out of memory or time: "
            "check its largest mappings and data, then rerun it."
        ),
        "details": {"reclaims": 3},
    }
    assert given_up["cells"] == []  # nothing of it ran again
    assert resumed["status"] == "completed"
    assert probe.calls == {"a": 1}  # the survivor's cell only
