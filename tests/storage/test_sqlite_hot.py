"""The hot path's writes on the sqlite3 driver (storage/repos/_sqlite_hot.py) store
exactly what the SQLAlchemy statements store, and fail the same way."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy.exc import IntegrityError

from storage import NotFoundError, Store

T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
# an offset and a whole second: stored as UTC, with microseconds, like SQLAlchemy does
T1 = datetime(2026, 3, 1, 14, 0, 1, tzinfo=timezone(timedelta(hours=2)))


@pytest.fixture
def owner(sqlite_store: Store) -> Any:
    return sqlite_store.create_user("ada@example.com", "Ada")


@pytest.fixture
def saved(sqlite_store: Store, owner: Any) -> Any:
    return sqlite_store.save_scenario(
        owner.id, {"name": "s", "cells": [{"id": "trigger", "type": "trigger"}]}
    )


def run_once(store: Store, saved: Any, user_id: str, driver: bool) -> str:
    store.sqlite_driver_writes = driver
    trigger = {"body": {"name": "Zoë \ud800", "amount": float("nan")}, "headers": {}}
    execution, created = store.create_execution(
        scenario_id=saved.id,
        scenario_version=saved.version,
        user_id=user_id,
        trigger=trigger,
        idempotency_key=f"key-{int(driver)}",
        claim_owner="me",
    )
    assert created
    first = [
        {
            "cell_id": "hook",
            "status": "completed",
            "start_time": T0,
            "end_time": T1,
            "input": None,
            "output": trigger,
        },
        {
            "cell_id": "post",
            "status": "completed",
            "attempt": 1,
            "start_time": T0,
            "end_time": T0,
            "duration_ms": 5,
            "input": {"a": [1, 2.5, True]},
            "output": "text",
        },
    ]
    store.record_node_results(execution.id, first)
    last = [
        {
            "cell_id": "answer",
            "status": "failed",
            "input": {},
            "output": None,
            "error": {"code": "x", "message": "é"},
        }
    ]
    finished = store.finish_execution(
        execution.id, status="failed", error={"code": "x", "cell_id": "answer"}, node_results=last
    )
    assert (
        finished.status == "failed"
        and finished.end_time is not None
        and finished.lease_owner is None
    )
    assert finished == store.get_execution(None, execution.id)
    return execution.id


def rows(path: str, sql: str, execution_id: str) -> list[dict[str, Any]]:
    with sqlite3.connect(path) as con:
        con.row_factory = sqlite3.Row
        found = [dict(r) for r in con.execute(sql, (execution_id,))]
    con.close()
    return found


def test_the_driver_path_stores_the_same_rows_as_sqlalchemy(
    sqlite_store: Store, sqlite_url: str, owner: Any, saved: Any
) -> None:
    path = sqlite_url.removeprefix("sqlite:///")
    ids = {driver: run_once(sqlite_store, saved, owner.id, driver) for driver in (False, True)}
    executions = {
        d: rows(path, "SELECT * FROM scenario_executions WHERE id = ?", i)[0]
        for d, i in ids.items()
    }
    results = {
        d: rows(path, "SELECT * FROM node_results WHERE execution_id = ? ORDER BY seq", i)
        for d, i in ids.items()
    }
    timed = (
        "id",
        "start_time",
        "end_time",
        "duration_ms",
        "created_at",
        "lease_until",
        "idempotency_key",
    )
    for column, value in executions[False].items():
        if column in timed:
            assert (value is None) == (executions[True][column] is None), column
            if isinstance(value, str):
                assert len(value) == len(executions[True][column]), column  # same text format
        else:
            assert executions[True][column] == value, column
    assert len(results[True]) == len(results[False]) == 3
    for slow, fast in zip(results[False], results[True], strict=True):
        assert {k: v for k, v in fast.items() if k not in ("id", "execution_id")} == {
            k: v for k, v in slow.items() if k not in ("id", "execution_id")
        }
    assert results[True][0]["start_time"] == "2026-03-01 12:00:00.000000"
    assert results[True][0]["end_time"] == "2026-03-01 12:00:01.000000"
    assert [r.cell_id for r in sqlite_store.node_results(ids[True])] == ["hook", "post", "answer"]
    assert sqlite_store.node_results(ids[True])[0].output["body"] == {
        "name": "Zoë \ufffd",
        "amount": None,
    }
    assert sqlite_store.get_scenario_any(saved.id).last_run is not None


def test_the_driver_path_fails_as_the_store_does(
    sqlite_store: Store, owner: Any, saved: Any
) -> None:
    assert sqlite_store.sqlite_driver_writes
    with pytest.raises(NotFoundError):
        sqlite_store.finish_execution("nope", status="completed")
    with pytest.raises(IntegrityError):  # no such scenario version: a foreign key
        sqlite_store.create_execution(
            scenario_id=saved.id, scenario_version=99, user_id=owner.id, trigger={}
        )
    with pytest.raises(ValueError, match="naive datetime"):
        sqlite_store.record_node_results(
            "x", [{"cell_id": "c", "status": "completed", "start_time": datetime(2026, 1, 1)}]
        )
    execution, _ = sqlite_store.create_execution(
        scenario_id=saved.id,
        scenario_version=saved.version,
        user_id=owner.id,
        trigger={},
        idempotency_key="k",
    )
    again, created = sqlite_store.create_execution(
        scenario_id=saved.id,
        scenario_version=saved.version,
        user_id=owner.id,
        trigger={"other": 1},
        idempotency_key="k",
    )
    assert not created and again.id == execution.id
    assert sqlite_store.count_executions(owner.id) == 1
