"""Tests for storage.analytics, against real DuckDB files.

Expected figures are computed here, in plain Python/numpy over the recorded input,
never by asking DuckDB.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pytest

from storage.analytics import _MIGRATIONS, SCHEMA_VERSION, AnalyticsLog

T0 = datetime(2026, 3, 1, tzinfo=UTC)
NAMES = {"s-orders": "Orders to Sheets", "s-leads": "Leads to Slack"}
E_UPSTREAM = {"code": "upstream_error", "message": "Sheets answered 502"}
E_RATE = {"code": "rate_limited", "message": "Slack: slow down"}
E_AUTH = {"code": "auth_expired", "message": "Token expired"}
ALICE_ERRORS = {1: E_UPSTREAM, 5: E_UPSTREAM, 9: E_RATE, 13: E_UPSTREAM}

Run = tuple[dict[str, Any], list[dict[str, Any]]]


def node(
    cell: str, app: str | None, status: str, duration: float | None, **extra: Any
) -> dict[str, Any]:
    return {
        "cell_id": cell,
        "app": app,
        "operation": extra.pop("operation", None),
        "kind": extra.pop("kind", "action"),
        "status": status,
        "duration_ms": duration,
        "started_at": None,
        "ended_at": None,
        "error": extra.pop("error", None),
        **extra,
    }


def alice_run(i: int) -> Run:
    """15 runs over 3 UTC days and 2 scenarios; 4 fail, one is cancelled."""
    scenario = "s-orders" if i % 5 < 3 else "s-leads"
    failed = i in ALICE_ERRORS
    status = "failed" if failed else "cancelled" if i == 14 else "completed"
    started = T0 + timedelta(days=i % 3, hours=1 + i)
    duration = 100.0 + 37.0 * i + (i * i) % 11
    nodes = [
        node("trigger", "webhook", "completed", 1.0 + i, kind="trigger"),
        node(
            "c1",
            "sheets",
            "failed" if failed else "completed",
            20.0 + 3 * i,
            operation="add_row",
            error=ALICE_ERRORS.get(i),
        ),
        node(
            "c2",
            "slack",
            "skipped" if failed else "completed",
            None if failed else 50.0 + i,
            operation="post_message",
        ),
        node("c3", None, "completed", 0.1, kind="filter"),
    ]
    execution = {
        "id": f"a-{i}",
        "scenario_id": scenario,
        "scenario_name": NAMES[scenario],
        "user_id": "alice",
        "status": status,
        "started_at": started,
        "ended_at": started + timedelta(milliseconds=duration),
        "duration_ms": duration,
        "error": ALICE_ERRORS.get(i),
        "trigger_app": "webhook",
        "attempt": 1,
    }
    return execution, nodes


def bob_run(i: int) -> Run:
    """Bob reuses alice's scenario id and apps, so a missing user filter shows."""
    started = T0 + timedelta(days=i % 2, hours=20)
    failed = i == 2
    execution = {
        "id": f"b-{i}",
        "scenario_id": "s-orders",
        "scenario_name": "Bob's orders",
        "user_id": "bob",
        "status": "failed" if failed else "completed",
        "started_at": started,
        "ended_at": None,
        "duration_ms": 5000.0 + i,
        "error": E_AUTH if failed else None,
        "trigger_app": None,
        "attempt": 1,
    }
    return execution, [node("c1", "slack", "failed" if failed else "completed", 900.0 + i)]


ALICE = [alice_run(i) for i in range(15)]
BOB = [bob_run(i) for i in range(3)]


@pytest.fixture
def log(tmp_path: Path):
    analytics = AnalyticsLog(tmp_path / "data" / "analytics.duckdb", batch_size=10_000)
    yield analytics
    analytics.close()


@pytest.fixture
def loaded(log: AnalyticsLog) -> AnalyticsLog:
    for execution, nodes in ALICE + BOB:
        log.record(execution, nodes)
    return log


def recreate_node_results(log: AnalyticsLog) -> None:
    """The node_results table as the migrations build it (after a test dropped it)."""
    log._con.execute(_MIGRATIONS[0][1])
    for statement in _MIGRATIONS[1]:  # the token columns
        log._con.execute(statement)


def stored(path: Path | str, table: str = "executions") -> int:
    """Rows committed to the file, seen through a second connection."""
    con = duckdb.connect(str(path))
    try:
        return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    finally:
        con.close()


def in_range(
    runs: list[Run], since: datetime | None = None, until: datetime | None = None
) -> list[Run]:
    return [
        (e, n)
        for e, n in runs
        if (since is None or e["started_at"] >= since)
        and (until is None or e["started_at"] < until)
    ]


def calls(runs: list[Run]) -> list[dict[str, Any]]:
    return [
        n for _, nodes in runs for n in nodes if n["app"] is not None and n["status"] != "skipped"
    ]


def percentiles(values: list[float]) -> tuple[float, float]:
    p50, p95 = np.percentile(values, [50, 95])
    return float(p50), float(p95)


# -- queries -----------------------------------------------------------------------


def test_runs_per_day_counts_runs_by_utc_day_and_status(loaded: AnalyticsLog) -> None:
    frame = loaded.runs_per_day("alice")
    got = {(row.day.date(), row.status): row.runs for row in frame.itertuples()}
    expected = Counter((e["started_at"].date(), e["status"]) for e, _ in ALICE)
    assert got == dict(expected)
    assert list(frame.columns) == ["day", "status", "runs"]
    assert list(zip(frame.day, frame.status, strict=True)) == sorted(
        zip(frame.day, frame.status, strict=True)
    )

    leads = loaded.runs_per_day("alice", scenario_id="s-leads")
    expected = Counter(
        (e["started_at"].date(), e["status"]) for e, _ in ALICE if e["scenario_id"] == "s-leads"
    )
    assert {(r.day.date(), r.status): r.runs for r in leads.itertuples()} == dict(expected)


def test_success_rate_per_scenario(loaded: AnalyticsLog) -> None:
    frame = loaded.success_rate("alice")
    assert list(frame.columns) == [
        "scenario_id",
        "scenario_name",
        "runs",
        "completed",
        "failed",
        "success_rate",
    ]
    got = {row.scenario_id: row for row in frame.itertuples()}
    assert set(got) == set(NAMES)
    for scenario, name in NAMES.items():
        runs = [e for e, _ in ALICE if e["scenario_id"] == scenario]
        completed = sum(e["status"] == "completed" for e in runs)
        row = got[scenario]
        assert (row.scenario_name, row.runs, row.completed) == (name, len(runs), completed)
        assert row.failed == sum(e["status"] == "failed" for e in runs)
        assert row.success_rate == pytest.approx(completed / len(runs))
    assert list(frame.runs) == sorted(frame.runs, reverse=True)


def test_success_rate_shows_latest_scenario_name(log: AnalyticsLog) -> None:
    old, new = alice_run(0), alice_run(2)
    old[0]["scenario_name"], new[0]["scenario_name"] = "Old name", "New name"
    log.record(*new)
    log.record(*old)  # recorded later, but started earlier
    assert log.success_rate("alice").scenario_name.tolist() == ["New name"]


def test_duration_percentiles_by_scenario(loaded: AnalyticsLog) -> None:
    frame = loaded.duration_percentiles("alice")
    assert list(frame.columns) == ["key", "name", "runs", "p50_ms", "p95_ms"]
    assert len(frame) == 2
    for row in frame.itertuples():
        durations = [e["duration_ms"] for e, _ in ALICE if e["scenario_id"] == row.key]
        p50, p95 = percentiles(durations)
        assert (row.name, row.runs) == (NAMES[row.key], len(durations))
        assert row.p50_ms == pytest.approx(p50)
        assert row.p95_ms == pytest.approx(p95)


def test_duration_percentiles_by_app_ignore_skipped_and_appless_cells(loaded: AnalyticsLog) -> None:
    frame = loaded.duration_percentiles("alice", by="app")
    assert sorted(frame.key) == ["sheets", "slack", "webhook"]
    for row in frame.itertuples():
        durations = [n["duration_ms"] for n in calls(ALICE) if n["app"] == row.key]
        p50, p95 = percentiles(durations)
        assert (row.name, row.runs) == (row.key, len(durations))
        assert (row.p50_ms, row.p95_ms) == (pytest.approx(p50), pytest.approx(p95))
    assert frame.set_index("key").runs["slack"] == 11  # 15 runs, 4 skipped


def test_app_calls(loaded: AnalyticsLog) -> None:
    frame = loaded.app_calls("alice")
    assert list(frame.columns) == ["app", "calls", "errors", "error_rate"]
    expected_calls = Counter(n["app"] for n in calls(ALICE))
    expected_errors = Counter(n["app"] for n in calls(ALICE) if n["status"] == "failed")
    got = {row.app: (row.calls, row.errors, row.error_rate) for row in frame.itertuples()}
    assert got == {
        app: (count, expected_errors[app], pytest.approx(expected_errors[app] / count))
        for app, count in expected_calls.items()
    }
    assert got["sheets"][:2] == (15, 4)


def test_top_errors(loaded: AnalyticsLog) -> None:
    frame = loaded.top_errors("alice")
    assert list(frame.columns) == [
        "error_code",
        "error_message",
        "count",
        "last_seen",
        "scenario_id",
    ]
    failed = [e for e, _ in ALICE if e["error"]]
    groups = Counter((e["error"]["code"], e["error"]["message"], e["scenario_id"]) for e in failed)
    got = [(r.error_code, r.error_message, r.scenario_id) for r in frame.itertuples()]
    assert Counter({key: c for key, c in zip(got, frame["count"], strict=True)}) == groups
    assert got[0] == ("upstream_error", "Sheets answered 502", "s-orders")  # 2 runs: the top one
    last = max(e["ended_at"] for e in failed if e["scenario_id"] == "s-orders")
    assert frame.last_seen.iloc[0].to_pydatetime() == last.replace(tzinfo=None)
    assert len(loaded.top_errors("alice", limit=1)) == 1
    assert loaded.top_errors("alice", limit=0).empty


def test_summary(loaded: AnalyticsLog) -> None:
    durations = [e["duration_ms"] for e, _ in ALICE]
    p50, p95 = percentiles(durations)
    assert loaded.summary("alice") == {
        "runs": 15,
        "completed": 10,
        "failed": 4,
        "success_rate": pytest.approx(10 / 15),
        "p50_ms": pytest.approx(p50),
        "p95_ms": pytest.approx(p95),
    }
    summary = loaded.summary("alice")
    assert all(type(summary[k]) is int for k in ("runs", "completed", "failed"))
    assert all(type(summary[k]) is float for k in ("success_rate", "p50_ms", "p95_ms"))


def test_a_user_sees_only_their_own_data(loaded: AnalyticsLog) -> None:
    durations = [e["duration_ms"] for e, _ in BOB]
    assert loaded.summary("bob") == {
        "runs": 3,
        "completed": 2,
        "failed": 1,
        "success_rate": pytest.approx(2 / 3),
        "p50_ms": pytest.approx(percentiles(durations)[0]),
        "p95_ms": pytest.approx(percentiles(durations)[1]),
    }
    rate = loaded.success_rate("bob")
    assert rate[["scenario_id", "scenario_name", "runs"]].values.tolist() == [
        ["s-orders", "Bob's orders", 3]
    ]
    assert loaded.runs_per_day("bob").runs.sum() == 3
    assert loaded.app_calls("bob")[["app", "calls", "errors"]].values.tolist() == [["slack", 3, 1]]
    assert loaded.duration_percentiles("bob", by="app").runs.tolist() == [3]
    assert loaded.top_errors("bob")[["error_code", "count"]].values.tolist() == [
        ["auth_expired", 1]
    ]
    assert "auth_expired" not in loaded.top_errors("alice").error_code.tolist()
    assert loaded.app_calls("alice").set_index("app").calls["slack"] == 11


def test_an_unknown_user_gets_empty_results_with_columns(loaded: AnalyticsLog) -> None:
    assert loaded.summary("mallory") == {
        "runs": 0,
        "completed": 0,
        "failed": 0,
        "success_rate": None,
        "p50_ms": None,
        "p95_ms": None,
    }
    for frame in (
        loaded.runs_per_day("mallory"),
        loaded.success_rate("mallory"),
        loaded.duration_percentiles("mallory"),
        loaded.app_calls("mallory"),
        loaded.top_errors("mallory"),
    ):
        assert frame.empty and len(frame.columns) >= 3


def test_time_range_selects_runs_by_start_time(loaded: AnalyticsLog) -> None:
    since, until = T0 + timedelta(days=1), T0 + timedelta(days=2)
    window = in_range(ALICE, since, until)
    assert 0 < len(window) < len(ALICE)
    assert loaded.summary("alice", since, until)["runs"] == len(window)
    assert loaded.summary("alice", since=since)["runs"] == len(in_range(ALICE, since=since))
    assert loaded.summary("alice", until=until)["runs"] == len(in_range(ALICE, until=until))
    days = loaded.runs_per_day("alice", since, until).day
    assert {d.date() for d in days} == {date(2026, 3, 2)}
    assert loaded.success_rate("alice", since, until).runs.sum() == len(window)
    assert loaded.duration_percentiles("alice", since=since, until=until).runs.sum() == len(window)
    app_frame = loaded.app_calls("alice", since, until)
    assert dict(zip(app_frame.app, app_frame.calls, strict=True)) == dict(
        Counter(n["app"] for n in calls(window))
    )
    by_app = loaded.duration_percentiles("alice", by="app", since=since, until=until)
    assert by_app.runs.sum() == len(calls(window))
    errors = loaded.top_errors("alice", since=since, until=until)
    assert errors["count"].sum() == sum(1 for e, _ in window if e["error"])


def test_time_range_bounds_are_inclusive_then_exclusive_and_timezone_aware(
    log: AnalyticsLog,
) -> None:
    edge = T0 + timedelta(days=5)
    for i, started in enumerate(
        [edge - timedelta(microseconds=1), edge, edge + timedelta(hours=1)]
    ):
        execution, nodes = alice_run(1)  # failed: has an error, 3 app calls
        execution.update(id=f"edge-{i}", started_at=started)
        log.record(execution, nodes)
    window = {"since": edge, "until": edge + timedelta(hours=1)}  # holds only edge-1
    assert log.summary("alice", **window)["runs"] == 1
    assert log.runs_per_day("alice", **window).runs.tolist() == [1]
    assert log.success_rate("alice", **window).runs.tolist() == [1]
    assert log.duration_percentiles("alice", **window).runs.tolist() == [1]
    assert log.duration_percentiles("alice", by="app", **window).runs.sum() == 2
    assert log.app_calls("alice", **window).calls.sum() == 2  # webhook, sheets; slack skipped
    assert log.top_errors("alice", **window)["count"].tolist() == [1]
    plus_two = timezone(timedelta(hours=2))
    assert log.summary("alice", since=edge.astimezone(plus_two))["runs"] == 2
    assert log.summary("alice", since=edge.replace(tzinfo=None))["runs"] == 2  # naive = UTC


# -- buffering, flushing, persistence ----------------------------------------------


def test_buffered_rows_are_visible_to_queries_before_any_flush(log: AnalyticsLog) -> None:
    log.record(*alice_run(0))
    assert log.pending_rows == 5  # one execution + four node results
    assert stored(log.path) == 0
    assert log.summary("alice")["runs"] == 1
    assert log.pending_rows == 0
    assert stored(log.path) == 1


def test_flushes_by_itself_when_batch_size_rows_are_buffered(tmp_path: Path) -> None:
    path = tmp_path / "a.duckdb"
    with AnalyticsLog(path, batch_size=12) as log:
        log.record(*alice_run(0))
        log.record(*alice_run(1))
        assert (log.pending_rows, stored(path)) == (10, 0)
        log.record(*alice_run(2))  # 15 rows >= 12
        assert log.pending_rows == 0
        assert (stored(path), stored(path, "node_results")) == (3, 12)
        assert log.flush() == 0


def test_flush_writes_everything_and_returns_row_count(log: AnalyticsLog) -> None:
    for execution, nodes in BOB:
        log.record(execution, nodes)
    assert log.flush() == 6
    assert log.flush() == 0
    assert (stored(log.path), stored(log.path, "node_results")) == (3, 3)


def test_data_survives_closing_and_reopening(tmp_path: Path) -> None:
    path = tmp_path / "analytics.duckdb"
    log = AnalyticsLog(path)
    for execution, nodes in ALICE:
        log.record(execution, nodes)
    log.close()  # flushes
    with AnalyticsLog(path) as reopened:
        assert reopened.summary("alice")["runs"] == 15
        assert reopened.app_calls("alice").calls.sum() == len(calls(ALICE))
        assert reopened.schema_version() == SCHEMA_VERSION == 2
    con = duckdb.connect(str(path))
    versions = con.execute("SELECT version FROM schema_version ORDER BY version").fetchall()
    assert versions == [(1,), (2,)]  # not re-applied
    con.close()


def test_a_file_from_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "analytics.duckdb"
    AnalyticsLog(path).close()
    con = duckdb.connect(str(path))
    con.execute("INSERT INTO schema_version VALUES (99, now())")
    con.close()
    with pytest.raises(RuntimeError, match="schema version 99"):
        AnalyticsLog(path)


def test_a_failed_migration_is_rolled_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "analytics.duckdb"
    monkeypatch.setattr("storage.analytics._MIGRATIONS", (*_MIGRATIONS, ("CREATE TABLE broken (",)))
    monkeypatch.setattr("storage.analytics.SCHEMA_VERSION", SCHEMA_VERSION + 1)
    with pytest.raises(duckdb.ParserException):
        AnalyticsLog(path)
    monkeypatch.undo()
    with AnalyticsLog(path) as log:  # the shipped versions were committed, the broken one was not
        assert log.schema_version() == SCHEMA_VERSION


def test_in_memory_database(tmp_path: Path) -> None:
    with AnalyticsLog(":memory:") as log:
        log.record(*bob_run(0))
        assert log.summary("bob")["runs"] == 1
    assert list(tmp_path.iterdir()) == []


def test_a_failed_flush_keeps_the_rows_and_writes_nothing(log: AnalyticsLog) -> None:
    log.record(*alice_run(0))
    log._con.execute("DROP TABLE node_results")  # the disk "fails" half-way through a flush
    with pytest.raises(duckdb.CatalogException):
        log.flush()
    assert log.pending_rows == 5
    assert stored(log.path) == 0  # the executions insert was rolled back too
    recreate_node_results(log)
    log.record(*alice_run(1))
    assert log.flush() == 10
    assert [e for e in log.success_rate("alice").runs] == [2]


def test_record_logs_but_does_not_raise_when_its_flush_fails(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with AnalyticsLog(tmp_path / "a.duckdb", batch_size=1) as log:
        log._con.execute("DROP TABLE node_results")
        with caplog.at_level(logging.ERROR, logger="storage.analytics"):
            log.record(*alice_run(0))
        assert "analytics flush failed" in caplog.text
        assert log.pending_rows == 5
        recreate_node_results(log)


def test_concurrent_record_from_threads_loses_nothing(tmp_path: Path) -> None:
    threads, per_thread = 6, 100
    path = tmp_path / "a.duckdb"
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # switch threads as often as possible to provoke races
    try:
        with AnalyticsLog(path, batch_size=7) as log:
            start = threading.Barrier(threads + 1)

            def work(t: int) -> None:
                start.wait()
                for i in range(per_thread):
                    execution, nodes = bob_run(i)
                    execution["id"] = f"t{t}-{i}"
                    log.record(execution, nodes * 2)

            def read() -> None:
                start.wait()
                for _ in range(20):
                    log.summary("bob")

            workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
            workers.append(threading.Thread(target=read))
            for w in workers:
                w.start()
            for w in workers:
                w.join()
            assert log.summary("bob")["runs"] == threads * per_thread
            assert log.app_calls("bob").calls.tolist() == [threads * per_thread * 2]
    finally:
        sys.setswitchinterval(previous)
    assert stored(path, "node_results") == threads * per_thread * 2


# -- re-recording ------------------------------------------------------------------


def test_rerecording_an_execution_replaces_it(log: AnalyticsLog) -> None:
    execution, nodes = alice_run(1)  # failed, with an error and 4 node results
    log.record(execution, nodes)
    log.flush()
    rerun = {**execution, "status": "completed", "error": None, "duration_ms": 42.0}
    log.record(rerun, [node("c1", "sheets", "completed", 7.0)])
    assert log.summary("alice") == {
        "runs": 1,
        "completed": 1,
        "failed": 0,
        "success_rate": 1.0,
        "p50_ms": 42.0,
        "p95_ms": 42.0,
    }
    assert log.app_calls("alice")[["app", "calls", "errors"]].values.tolist() == [["sheets", 1, 0]]
    assert log.top_errors("alice").empty
    assert (stored(log.path), stored(log.path, "node_results")) == (1, 1)


def test_rerecording_within_one_batch_keeps_the_last(log: AnalyticsLog) -> None:
    first, nodes = alice_run(0)
    log.record(first, nodes)
    log.record({**first, "status": "failed", "error": E_RATE}, nodes[:1])
    assert log.flush() == 2
    assert log.summary("alice")["failed"] == 1
    assert log.top_errors("alice").error_code.tolist() == ["rate_limited"]


# -- the flusher task --------------------------------------------------------------


async def wait_for(condition: Callable[[], bool], within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def test_run_flusher_flushes_every_interval(tmp_path: Path) -> None:
    path = tmp_path / "a.duckdb"
    log = AnalyticsLog(path, flush_interval=0.05)
    task = asyncio.create_task(log.run_flusher())
    try:
        log.record(*alice_run(0))
        await wait_for(lambda: stored(path) == 1)
        log.record(*alice_run(1))
        await wait_for(lambda: stored(path) == 2)
        assert log.pending_rows == 0
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        log.close()


async def test_run_flusher_flushes_on_cancel(tmp_path: Path) -> None:
    path = tmp_path / "a.duckdb"
    log = AnalyticsLog(path, flush_interval=3600)
    task = asyncio.create_task(log.run_flusher())
    await asyncio.sleep(0.01)
    log.record(*alice_run(0))
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert (log.pending_rows, stored(path)) == (0, 1)
    log.close()


async def test_a_full_batch_wakes_the_flusher_instead_of_flushing_in_record(tmp_path: Path) -> None:
    path = tmp_path / "a.duckdb"
    log = AnalyticsLog(path, batch_size=5, flush_interval=3600)
    task = asyncio.create_task(log.run_flusher())
    await asyncio.sleep(0.01)
    try:
        log.record(*alice_run(0))
        log.record(*alice_run(1))  # a second wake-up while one is pending
        assert log.pending_rows == 10  # record() did not block on a flush
        await wait_for(lambda: stored(path) == 2)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        log.close()


async def test_only_one_flusher_per_log(log: AnalyticsLog) -> None:
    task = asyncio.create_task(log.run_flusher())
    await asyncio.sleep(0.01)
    with pytest.raises(RuntimeError, match="already running"):
        await log.run_flusher()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_run_flusher_logs_failures_and_carries_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "a.duckdb"
    log = AnalyticsLog(path, flush_interval=0.02)
    log._con.execute("DROP TABLE node_results")
    log.record(*alice_run(0))
    task = asyncio.create_task(log.run_flusher())
    with caplog.at_level(logging.ERROR, logger="storage.analytics"):
        await wait_for(lambda: "analytics flush failed" in caplog.text)
        with log._db_lock:
            recreate_node_results(log)
        await wait_for(lambda: stored(path) == 1)
        with log._db_lock:
            log._con.execute("DROP TABLE node_results")
        log.record(*alice_run(1))
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert "final analytics flush failed" in caplog.text
    assert log.pending_rows == 5
    with log._db_lock:
        recreate_node_results(log)
    log.close()
    assert stored(path) == 2


def test_record_flushes_itself_when_the_flusher_loop_is_gone(tmp_path: Path) -> None:
    path = tmp_path / "a.duckdb"
    log = AnalyticsLog(path, batch_size=5, flush_interval=3600)
    loop = asyncio.new_event_loop()
    task = loop.create_task(log.run_flusher())
    loop.run_until_complete(asyncio.sleep(0.01))
    loop.close()  # the loop dies without cancelling the flusher
    log.record(*alice_run(0))
    assert (log.pending_rows, stored(path)) == (0, 1)
    log.record(*alice_run(1))  # and keeps doing so
    assert (log.pending_rows, stored(path)) == (0, 2)
    log.close()
    del task


# -- input handling ----------------------------------------------------------------


def test_only_ids_statuses_timings_and_errors_are_stored(log: AnalyticsLog) -> None:
    execution, nodes = alice_run(1)
    execution["inputs"] = {"email": "jane@example.com"}
    execution["error"] = {
        "code": "upstream_error",
        "message": "x" * 2000,
        "body": "jane@example.com",
    }
    nodes[0]["output"] = {"email": "jane@example.com"}
    log.record(execution, nodes)
    log.flush()
    con = log._con
    for table in ("executions", "node_results"):
        dump = con.execute(f"SELECT * FROM {table}").fetchall()
        assert "jane@example.com" not in repr(dump)
    message = log.top_errors("alice").error_message.iloc[0]
    assert message == "x" * 500


def test_input_normalisation(log: AnalyticsLog) -> None:
    log.record(
        {
            "id": 7,
            "scenario_id": "s",
            "user_id": "carol",
            "status": "failed",
            "started_at": "2026-03-01T23:30:00-02:00",
            "ended_at": "2026-03-02T01:30:00.250Z",
        },
        [
            {
                "app": "http",
                "status": "completed",
                "started_at": "2026-03-02T01:30:00Z",
                "ended_at": "2026-03-02T01:30:00.125Z",
            },
            {"app": "http", "status": "failed", "error": "connection refused"},
            {"app": "http", "status": "failed", "error": {"code": "timeout"}},
            {"app": "http"},
        ],
    )
    log.record(
        {
            "id": "d",
            "scenario_id": "s",
            "user_id": "carol",
            "status": "completed",
            "ended_at": date(2026, 3, 5),
            "attempt": "2",
        }
    )
    day = log.runs_per_day("carol")
    assert [(d.date(), s, n) for d, s, n in day.itertuples(index=False)] == [
        (date(2026, 3, 2), "failed", 1),
        (date(2026, 3, 5), "completed", 1),
    ]  # 23:30-02:00 is 01:30 UTC
    assert log.duration_percentiles("carol").p95_ms.tolist() == [250.0]  # from start and end
    assert log.duration_percentiles("carol", by="app").p50_ms.tolist() == [125.0]
    errors = log.top_errors("carol")  # the run had no error: its first failed node's is used
    assert errors[["error_code", "error_message"]].values.tolist() == [[None, "connection refused"]]
    assert log.app_calls("carol")[["calls", "errors"]].values.tolist() == [[4, 2]]
    statuses = log._con.execute(
        "SELECT status, error_code FROM node_results ORDER BY position"
    ).fetchall()
    assert statuses[2:] == [("failed", "timeout"), ("unknown", None)]
    assert log._con.execute(
        "SELECT attempt FROM executions WHERE execution_id = 'd'"
    ).fetchone() == (2,)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"id": None}, "'id' is required"),
        ({"user_id": ""}, "'user_id' is required"),
        ({"scenario_id": None}, "'scenario_id' is required"),
        ({"started_at": "yesterday"}, "not an ISO 8601 timestamp"),
        ({"ended_at": 1700000000}, "expected a datetime or ISO string"),
    ],
)
def test_invalid_input_is_refused_at_record_time(
    log: AnalyticsLog, change: dict, message: str
) -> None:
    execution, nodes = alice_run(0)
    with pytest.raises(ValueError, match=message):
        log.record({**execution, **change}, nodes)
    assert log.pending_rows == 0


def test_argument_validation(tmp_path: Path, log: AnalyticsLog) -> None:
    with pytest.raises(ValueError, match="batch_size"):
        AnalyticsLog(tmp_path / "x.duckdb", batch_size=0)
    with pytest.raises(ValueError, match="flush_interval"):
        AnalyticsLog(tmp_path / "x.duckdb", flush_interval=0)
    with pytest.raises(ValueError, match="by must be"):
        log.duration_percentiles("alice", by="cell")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="limit"):
        log.top_errors("alice", limit=-1)
    for user in ("", None):
        with pytest.raises(ValueError, match="user_id is required"):
            log.summary(user)  # type: ignore[arg-type]


def test_closed_log(tmp_path: Path) -> None:
    path = tmp_path / "a.duckdb"
    with AnalyticsLog(path) as log:
        log.record(*bob_run(0))
    assert stored(path) == 1  # closing flushed
    log.close()  # idempotent
    assert log.flush() == 0
    with pytest.raises(RuntimeError, match="closed"):
        log.record(*bob_run(1))
    with pytest.raises(RuntimeError, match="closed"):
        log.summary("bob")
    with pytest.raises(RuntimeError, match="closed"):
        log.schema_version()
