"""SQL of :mod:`storage.analytics`, and the dashboard queries next to their SQL.

Every statement is constant text (no string building, so nothing to inject into);
values arrive only as named parameters (``$user``, ``$since``, ``$until``, ...).
DuckDB substitutes them before optimising, so ``$since IS NULL OR ...`` folds away
when no bound is given.

Every dashboard query filters on ``user_id = $user``: a user never sees another
user's rows. Run queries select on ``started_at``; app (node) queries on
``run_started_at``, the start of the node's run, so a run is wholly inside a time
range or wholly outside it. A non-skipped cell with an app counts as one app call.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal

import pandas as pd

# -- flush (reads the frames registered as batch_executions / batch_nodes) -----------

RERUN_EXISTS = """
SELECT 1 FROM executions
WHERE execution_id IN (SELECT execution_id FROM batch_executions) LIMIT 1
"""
DELETE_RERUN_NODES = """
DELETE FROM node_results WHERE execution_id IN (SELECT execution_id FROM batch_executions)
"""
DELETE_RERUN_EXECUTIONS = """
DELETE FROM executions WHERE execution_id IN (SELECT execution_id FROM batch_executions)
"""
INSERT_EXECUTIONS = "INSERT INTO executions BY NAME SELECT * FROM batch_executions"
INSERT_NODES = "INSERT INTO node_results BY NAME SELECT * FROM batch_nodes"

# -- dashboards ----------------------------------------------------------------------

RUNS_PER_DAY = """
SELECT CAST(started_at AS DATE) AS day, status, count(*) AS runs
FROM executions
WHERE user_id = $user
  AND ($since IS NULL OR started_at >= $since)
  AND ($until IS NULL OR started_at < $until)
  AND ($scenario IS NULL OR scenario_id = $scenario)
GROUP BY ALL
ORDER BY day, status
"""

SUCCESS_RATE = """
SELECT scenario_id,
       arg_max(scenario_name, started_at) FILTER (WHERE scenario_name IS NOT NULL)
           AS scenario_name,
       count(*) AS runs,
       count(*) FILTER (WHERE status = 'completed') AS completed,
       count(*) FILTER (WHERE status = 'failed') AS failed,
       count(*) FILTER (WHERE status = 'completed') / count(*) AS success_rate
FROM executions
WHERE user_id = $user
  AND ($since IS NULL OR started_at >= $since)
  AND ($until IS NULL OR started_at < $until)
GROUP BY scenario_id
ORDER BY runs DESC, scenario_id
"""

DURATIONS_BY_SCENARIO = """
SELECT scenario_id AS key,
       arg_max(scenario_name, started_at) FILTER (WHERE scenario_name IS NOT NULL) AS name,
       count(*) AS runs,
       quantile_cont(duration_ms, 0.5) AS p50_ms,
       quantile_cont(duration_ms, 0.95) AS p95_ms
FROM executions
WHERE user_id = $user
  AND ($since IS NULL OR started_at >= $since)
  AND ($until IS NULL OR started_at < $until)
GROUP BY scenario_id
ORDER BY runs DESC, key
"""

DURATIONS_BY_APP = """
SELECT app AS key,
       app AS name,
       count(*) AS runs,
       quantile_cont(duration_ms, 0.5) AS p50_ms,
       quantile_cont(duration_ms, 0.95) AS p95_ms
FROM node_results
WHERE user_id = $user
  AND ($since IS NULL OR run_started_at >= $since)
  AND ($until IS NULL OR run_started_at < $until)
  AND app IS NOT NULL AND status <> 'skipped'
GROUP BY app
ORDER BY runs DESC, key
"""

APP_CALLS = """
SELECT app,
       count(*) AS calls,
       count(*) FILTER (WHERE status = 'failed') AS errors,
       count(*) FILTER (WHERE status = 'failed') / count(*) AS error_rate
FROM node_results
WHERE user_id = $user
  AND ($since IS NULL OR run_started_at >= $since)
  AND ($until IS NULL OR run_started_at < $until)
  AND app IS NOT NULL AND status <> 'skipped'
GROUP BY app
ORDER BY calls DESC, app
"""

# every user's totals, for the operator's /metrics (no names, no data: apps and counts)
APP_TOTALS = """
SELECT app,
       count(*) AS calls,
       count(*) FILTER (WHERE status = 'failed') AS errors,
       coalesce(sum(duration_ms), 0) AS duration_ms
FROM node_results
WHERE app IS NOT NULL AND status <> 'skipped'
GROUP BY app
ORDER BY app
"""

RUN_TOTALS = """
SELECT status, count(*) AS runs FROM executions GROUP BY status ORDER BY status
"""

TOP_ERRORS = """
SELECT error_code, error_message, count(*) AS count,
       max(coalesce(ended_at, started_at)) AS last_seen, scenario_id
FROM executions
WHERE user_id = $user
  AND ($since IS NULL OR started_at >= $since)
  AND ($until IS NULL OR started_at < $until)
  AND (error_code IS NOT NULL OR error_message IS NOT NULL)
GROUP BY error_code, error_message, scenario_id
ORDER BY count DESC, last_seen DESC, error_code, error_message, scenario_id
LIMIT $limit
"""

TOKENS_BY_SCENARIO = """
WITH names AS (
    SELECT scenario_id,
           arg_max(scenario_name, started_at) FILTER (WHERE scenario_name IS NOT NULL) AS name
    FROM executions
    WHERE user_id = $user
    GROUP BY scenario_id
)
SELECT n.scenario_id AS key,
       any_value(names.name) AS name,
       count(*) AS calls,
       sum(n.prompt_tokens) AS prompt_tokens,
       sum(n.completion_tokens) AS completion_tokens,
       sum(n.total_tokens) AS total_tokens
FROM node_results n LEFT JOIN names ON names.scenario_id = n.scenario_id
WHERE n.user_id = $user
  AND ($since IS NULL OR n.run_started_at >= $since)
  AND ($until IS NULL OR n.run_started_at < $until)
  AND n.total_tokens IS NOT NULL
GROUP BY n.scenario_id
ORDER BY total_tokens DESC, key
"""

TOKENS_BY_MODEL = """
SELECT model AS key,
       model AS name,
       count(*) AS calls,
       sum(prompt_tokens) AS prompt_tokens,
       sum(completion_tokens) AS completion_tokens,
       sum(total_tokens) AS total_tokens
FROM node_results
WHERE user_id = $user
  AND ($since IS NULL OR run_started_at >= $since)
  AND ($until IS NULL OR run_started_at < $until)
  AND total_tokens IS NOT NULL
GROUP BY model
ORDER BY total_tokens DESC, key
"""

SUMMARY = """
SELECT count(*) AS runs,
       count(*) FILTER (WHERE status = 'completed') AS completed,
       count(*) FILTER (WHERE status = 'failed') AS failed,
       count(*) FILTER (WHERE status = 'completed') / nullif(count(*), 0) AS success_rate,
       quantile_cont(duration_ms, 0.5) AS p50_ms,
       quantile_cont(duration_ms, 0.95) AS p95_ms
FROM executions
WHERE user_id = $user
  AND ($since IS NULL OR started_at >= $since)
  AND ($until IS NULL OR started_at < $until)
"""


class AnalyticsQueries:
    """The dashboard queries of :class:`storage.analytics.AnalyticsLog`.

    ``_query(sql, user_id, since, until, **params)`` is supplied by the log: it
    checks the user id, normalises the time range, flushes the buffer and runs the
    statement under the connection lock.
    """

    _query: Callable[..., pd.DataFrame]

    def runs_per_day(
        self,
        user_id: str,
        since: datetime | None = None,
        until: datetime | None = None,
        scenario_id: str | None = None,
    ) -> pd.DataFrame:
        """Runs per UTC day and status (columns ``day``, ``status``, ``runs``),
        optionally of one scenario."""
        return self._query(RUNS_PER_DAY, user_id, since, until, scenario=scenario_id)

    def success_rate(
        self, user_id: str, since: datetime | None = None, until: datetime | None = None
    ) -> pd.DataFrame:
        """Per scenario: ``scenario_id, scenario_name, runs, completed, failed,
        success_rate`` (completed / runs; other statuses such as cancelled count as
        runs), busiest scenario first. The name is the one of the latest run."""
        return self._query(SUCCESS_RATE, user_id, since, until)

    def duration_percentiles(
        self,
        user_id: str,
        by: Literal["scenario", "app"] = "scenario",
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> pd.DataFrame:
        """Median and 95th percentile duration (``key, name, runs, p50_ms, p95_ms``)
        of runs per scenario, or of calls per app (``runs`` is then the number of
        calls). Interpolated like numpy's default."""
        if by not in ("scenario", "app"):
            raise ValueError("by must be 'scenario' or 'app'")
        sql = DURATIONS_BY_SCENARIO if by == "scenario" else DURATIONS_BY_APP
        return self._query(sql, user_id, since, until)

    def app_calls(
        self, user_id: str, since: datetime | None = None, until: datetime | None = None
    ) -> pd.DataFrame:
        """Per app: ``app, calls, errors, error_rate``; an error is a failed call."""
        return self._query(APP_CALLS, user_id, since, until)

    def top_errors(
        self,
        user_id: str,
        limit: int = 10,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> pd.DataFrame:
        """The most frequent run errors: ``error_code, error_message, count,
        last_seen, scenario_id``, one row per error and scenario."""
        if limit < 0:
            raise ValueError("limit must not be negative")
        return self._query(TOP_ERRORS, user_id, since, until, limit=int(limit))

    def operator_totals(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Every user's run counts by status (``status, runs``) and calls per app (``app,
        calls, errors, duration_ms``): figures for /metrics, no names and no data."""
        return self._query_all(RUN_TOTALS), self._query_all(APP_TOTALS)

    _query_all: Callable[[str], pd.DataFrame]

    def token_usage(
        self,
        user_id: str,
        by: Literal["scenario", "model"] = "scenario",
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> pd.DataFrame:
        """Model tokens of AI steps (``key, name, calls, prompt_tokens, completion_tokens,
        total_tokens``) per scenario, or per model (``key`` and ``name`` are then the
        model), most tokens first. Failed calls count: their tokens were spent."""
        if by not in ("scenario", "model"):
            raise ValueError("by must be 'scenario' or 'model'")
        sql = TOKENS_BY_SCENARIO if by == "scenario" else TOKENS_BY_MODEL
        return self._query(sql, user_id, since, until)

    def summary(
        self, user_id: str, since: datetime | None = None, until: datetime | None = None
    ) -> dict[str, Any]:
        """Headline figures: ``runs, completed, failed, success_rate, p50_ms, p95_ms``
        as plain Python numbers (rate and percentiles are ``None`` without runs)."""
        row = self._query(SUMMARY, user_id, since, until).iloc[0]
        return {
            "runs": int(row["runs"]),
            "completed": int(row["completed"]),
            "failed": int(row["failed"]),
            "success_rate": _float_or_none(row["success_rate"]),
            "p50_ms": _float_or_none(row["p50_ms"]),
            "p95_ms": _float_or_none(row["p95_ms"]),
        }


def _float_or_none(value: Any) -> float | None:
    return None if pd.isna(value) else float(value)
