"""Model tokens of AI steps in the analytics log: stored per node, summed per scenario and
per model, for their owner only; files written before the token columns are upgraded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from storage.analytics import _MIGRATIONS, SCHEMA_VERSION, AnalyticsLog

T0 = datetime(2026, 5, 1, tzinfo=UTC)


def usage(model: str, prompt: int, completion: int) -> dict[str, Any]:
    return {
        "model": model,
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def run(
    i: int, user: str, scenario: str, name: str, nodes: list[tuple[str, str, Any]]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    started = T0 + timedelta(hours=i)
    execution = {
        "id": f"{user}-{i}",
        "user_id": user,
        "scenario_id": scenario,
        "scenario_name": name,
        "status": "completed",
        "started_at": started,
        "ended_at": started + timedelta(seconds=1),
    }
    cells = [
        {"cell_id": cell, "app": app, "status": "completed", "duration_ms": 5.0, "usage": used}
        for cell, app, used in nodes
    ]
    return execution, cells


@pytest.fixture
def log(tmp_path: Path) -> Any:
    with AnalyticsLog(tmp_path / "analytics.duckdb") as analytics:
        analytics.record(
            *run(
                0,
                "ada",
                "s-triage",
                "Triage",
                [
                    ("hook", "webhook", None),
                    ("topic", "ai", usage("openai/gpt-4o-mini", 100, 2)),
                    ("details", "ai", usage("openai/gpt-4o-mini", 150, 30)),
                ],
            )
        )
        analytics.record(
            *run(1, "ada", "s-digest", "Digest", [("sum", "ai", usage("ollama/llama3", 900, 80))])
        )
        analytics.record(
            *run(
                2,
                "ada",
                "s-triage",
                "Triage (renamed)",
                [("topic", "ai", usage("openai/gpt-4o-mini", 90, 1))],
            )
        )
        analytics.record(
            *run(3, "bob", "s-bob", "Bob's", [("x", "ai", usage("openai/gpt-4o-mini", 5000, 5000))])
        )
        yield analytics


def rows(frame: Any) -> list[list[Any]]:
    return [[None if v != v else v for v in row] for row in frame.values.tolist()]  # NaN → None


def test_tokens_per_scenario_most_first_named_by_the_latest_run(log: AnalyticsLog) -> None:
    frame = log.token_usage("ada", by="scenario")
    assert list(frame.columns) == [
        "key",
        "name",
        "calls",
        "prompt_tokens",
        "completion_tokens",
        "total_tokens",
    ]
    assert rows(frame) == [
        ["s-digest", "Digest", 1, 900, 80, 980],
        ["s-triage", "Triage (renamed)", 3, 340, 33, 373],
    ]


def test_tokens_per_model(log: AnalyticsLog) -> None:
    assert rows(log.token_usage("ada", by="model")) == [
        ["ollama/llama3", "ollama/llama3", 1, 900, 80, 980],
        ["openai/gpt-4o-mini", "openai/gpt-4o-mini", 3, 340, 33, 373],
    ]


def test_tokens_are_their_owners_and_follow_the_time_range(log: AnalyticsLog) -> None:
    assert rows(log.token_usage("bob", by="model")) == [
        ["openai/gpt-4o-mini", "openai/gpt-4o-mini", 1, 5000, 5000, 10000]
    ]
    assert log.token_usage("eve").empty
    later = log.token_usage("ada", by="model", since=T0 + timedelta(hours=1))
    assert rows(later) == [
        ["ollama/llama3", "ollama/llama3", 1, 900, 80, 980],
        ["openai/gpt-4o-mini", "openai/gpt-4o-mini", 1, 90, 1, 91],
    ]
    assert log.token_usage("ada", until=T0).empty


def test_cells_without_usage_leave_the_columns_empty(log: AnalyticsLog) -> None:
    log.flush()
    con = log._connection()
    found = con.execute(
        "SELECT model, prompt_tokens, total_tokens FROM node_results WHERE cell_id = 'hook'"
    ).fetchall()
    assert found == [(None, None, None)]


def test_a_usage_without_a_total_is_summed_and_bad_counts_are_refused(tmp_path: Path) -> None:
    with AnalyticsLog(tmp_path / "a.duckdb") as log:
        log.record(
            *run(
                0,
                "ada",
                "s",
                "S",
                [("c", "ai", {"model": "m", "prompt_tokens": 3, "completion_tokens": 4})],
            )
        )
        assert rows(log.token_usage("ada", by="model")) == [["m", "m", 1, 3, 4, 7]]
        with pytest.raises(ValueError, match="token counts cannot be negative"):
            log.record(*run(1, "ada", "s", "S", [("c", "ai", usage("m", -1, 0))]))
    with pytest.raises(ValueError, match="by must be"):
        log.token_usage("ada", by="app")  # type: ignore[arg-type]


def test_a_file_from_before_the_token_columns_is_upgraded_and_keeps_its_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "analytics.duckdb"
    monkeypatch.setattr("storage.analytics._MIGRATIONS", _MIGRATIONS[:1])
    monkeypatch.setattr("storage.analytics.SCHEMA_VERSION", 1)
    monkeypatch.setattr(
        "storage.analytics._NODE_COLUMNS",
        tuple(
            c
            for c in __import__("storage.analytics", fromlist=["x"])._NODE_COLUMNS
            if c not in ("model", "prompt_tokens", "completion_tokens", "total_tokens")
        ),
    )
    monkeypatch.setattr(
        "storage.analytics._node_row",
        lambda execution, position, node: _old_row(execution, position, node),
    )
    with AnalyticsLog(path) as old:
        old.record(*run(0, "ada", "s-old", "Old", [("c", "http", None)]))
        assert old.schema_version() == 1
    monkeypatch.undo()
    with AnalyticsLog(path) as log:
        assert log.schema_version() == SCHEMA_VERSION == 2
        assert log.summary("ada")["runs"] == 1
        assert log.app_calls("ada")["calls"].tolist() == [1]
        log.record(*run(1, "ada", "s-new", "New", [("c", "ai", usage("m", 1, 2))]))
        assert rows(log.token_usage("ada")) == [["s-new", "New", 1, 1, 2, 3]]
    con = duckdb.connect(str(path))
    assert con.execute("SELECT count(*) FROM node_results WHERE model IS NULL").fetchone() == (1,)
    con.close()


def _old_row(execution: Any, position: int, node: dict[str, Any]) -> tuple[Any, ...]:
    """A node row as the code before the token columns wrote it."""
    return (
        execution[0],
        execution[1],
        execution[2],
        execution[5],
        position,
        node["cell_id"],
        node["app"],
        None,
        None,
        node["status"],
        None,
        None,
        node["duration_ms"],
        None,
        None,
    )
