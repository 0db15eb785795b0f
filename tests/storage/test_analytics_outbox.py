"""The analytics outbox: every finished execution reaches the DuckDB log exactly once,
whichever process finished it, across a crash between the copy and the discard."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from storage import Store
from storage.analytics import AnalyticsLog
from storage.records import AnalyticsFacts, Scenario


def facts(status: str = "completed") -> AnalyticsFacts:
    return {
        "scenario_name": "Orders to Slack",
        "trigger_app": "webhook",
        "nodes": [
            {
                "cell_id": "post",
                "app": "slack",
                "operation": "send_message",
                "kind": "action",
                "status": status,
                "started_at": "2027-01-05T10:00:00+00:00",
                "ended_at": "2027-01-05T10:00:00.250000+00:00",
                "duration_ms": 250.0,
                "error": {"code": "http_error", "message": "boom"} if status == "failed" else None,
            }
        ],
    }


def finish(store: Store, scenario: Scenario, status: str = "completed", **kwargs: Any) -> str:
    execution, _ = store.create_execution(
        scenario_id=scenario.id,
        scenario_version=scenario.version,
        user_id=scenario.user_id,
        trigger={"order": 1},
        claim_owner="test",
    )
    store.finish_execution(execution.id, status=status, analytics=facts(status), **kwargs)
    return execution.id


def test_finishing_with_facts_leaves_one_outbox_row_without_data(
    store: Store, scenario: Scenario
) -> None:
    execution_id = finish(store, scenario, "failed", error={"code": "http_error", "message": "x"})
    [entry] = store.take_analytics()
    assert entry.execution["id"] == execution_id
    assert entry.execution["status"] == "failed"
    assert entry.execution["scenario_name"] == "Orders to Slack"
    assert entry.execution["started_at"] is not None and entry.execution["ended_at"] is not None
    assert entry.nodes[0]["app"] == "slack"
    assert "order" not in str(entry.execution)  # trigger data never goes to analytics
    assert store.analytics_backlog() == 1
    store.discard_analytics([entry.id])
    assert store.take_analytics() == []
    assert store.analytics_backlog() == 0


def test_finishing_without_facts_writes_no_outbox_row(store: Store, scenario: Scenario) -> None:
    execution, _ = store.create_execution(
        scenario_id=scenario.id,
        scenario_version=scenario.version,
        user_id=scenario.user_id,
        trigger={},
    )
    store.finish_execution(execution.id, status="completed")
    assert store.take_analytics() == []


def test_the_outbox_row_commits_or_rolls_back_with_the_finish(
    store: Store, scenario: Scenario
) -> None:
    with pytest.raises(Exception, match="not found"):
        store.finish_execution("0" * 32, status="completed", analytics=facts())
    assert store.take_analytics() == []


def test_the_log_copies_the_outbox_and_empties_it(
    store: Store, scenario: Scenario, tmp_path: Path
) -> None:
    ids = [finish(store, scenario) for _ in range(3)] + [finish(store, scenario, "failed")]
    with AnalyticsLog(tmp_path / "a.duckdb", outbox=store) as log:
        summary = log.summary(scenario.user_id)  # a query copies the outbox first
        assert (summary["runs"], summary["completed"], summary["failed"]) == (4, 3, 1)
        assert store.analytics_backlog() == 0
        calls = log.app_calls(scenario.user_id)
        assert calls.to_dict("records") == [
            {"app": "slack", "calls": 4, "errors": 1, "error_rate": 0.25}
        ]
    assert len(set(ids)) == 4


def test_a_crash_between_copy_and_discard_copies_again_without_counting_twice(
    store: Store, scenario: Scenario, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for _ in range(5):
        finish(store, scenario)

    class Crash(Exception):
        pass

    def crash(ids: Any) -> None:
        raise Crash

    log = AnalyticsLog(tmp_path / "a.duckdb", outbox=store)
    monkeypatch.setattr(store, "discard_analytics", crash)
    with pytest.raises(Crash):
        log.flush()  # written to DuckDB and committed, but the rows stay in the outbox
    monkeypatch.undo()
    log._con.close()  # type: ignore[union-attr]  # the process dies: no close(), no flush
    log._con = None
    assert store.analytics_backlog() == 5

    with AnalyticsLog(tmp_path / "a.duckdb", outbox=store) as again:
        assert again.summary(scenario.user_id)["runs"] == 5  # not 10
        assert again.app_calls(scenario.user_id)["calls"].tolist() == [5]
    assert store.analytics_backlog() == 0


def test_copying_goes_in_batches(
    store: Store, scenario: Scenario, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import storage.analytics as analytics

    monkeypatch.setattr(analytics, "OUTBOX_BATCH", 2)
    for _ in range(5):
        finish(store, scenario)
    with AnalyticsLog(tmp_path / "a.duckdb", outbox=store) as log:
        assert log.flush() == 10  # 5 executions + 5 node rows, over three batches
    assert store.analytics_backlog() == 0
