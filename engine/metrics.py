"""``/metrics``: the operator's figures in Prometheus' text format (version 0.0.4).

What a deployment needs watched, over every user, never any data or names:

- ``cellwright_executions{status}``: unfinished executions — the queue (``queued``),
  ``running``, and ``waiting`` for a retry — from the store, so every process agrees;
- ``cellwright_analytics_backlog``: finished executions not yet copied to analytics;
- ``cellwright_runs_total{status}``, ``cellwright_app_calls_total{app}``,
  ``cellwright_app_errors_total{app}`` and the ``cellwright_app_call_duration_seconds``
  summary (``_sum``/``_count``): from the analytics log, which every process' runs reach,
  so the server's ``/metrics`` covers its webhook workers too (a worker's own /metrics
  has the store's figures only). Retention deletes analytics rows: these totals can go
  down then, which Prometheus treats as a counter reset;
- ``cellwright_scheduler_leader``: 1 in the process running the schedules;
- ``cellwright_vendor_calls_total{app,outcome}``: this process' calls to apps that declare
  vendor limits, ``sent`` or ``refused`` by the limiter (the run was parked).

The endpoint is off until ``CELLWRIGHT_METRICS_TOKEN`` is set, and then answers only
``Authorization: Bearer <token>`` (Prometheus' ``authorization`` scrape setting).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import pandas as pd

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class MetricsStore(Protocol):
    def open_execution_counts(self) -> dict[str, int]: ...
    def analytics_backlog(self) -> int: ...


class OperatorTotals(Protocol):
    def operator_totals(self) -> tuple[pd.DataFrame, pd.DataFrame]: ...


def _label(value: object) -> str:
    text = str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')
    return f'"{text}"'


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


class _Text:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def family(self, name: str, kind: str, help_text: str) -> None:
        self.lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]

    def sample(self, name: str, value: float, **labels: object) -> None:
        inner = ",".join(f"{key}={_label(v)}" for key, v in labels.items())
        self.lines.append(
            f"{name}{{{inner}}} {_number(value)}" if inner else f"{name} {_number(value)}"
        )


def render(
    store: MetricsStore,
    analytics: OperatorTotals | None,
    *,
    leader: bool,
    vendor_calls: Mapping[tuple[str, str], int] | None = None,
) -> str:
    """The metrics page (blocking: call it in a thread)."""
    # first: reading the analytics log copies the outbox, so the backlog is the current one
    totals = analytics.operator_totals() if analytics is not None else None
    out = _Text()
    out.family("cellwright_executions", "gauge", "Executions not finished yet, by status.")
    for status, count in sorted(store.open_execution_counts().items()):
        out.sample("cellwright_executions", count, status=status)
    out.family(
        "cellwright_analytics_backlog",
        "gauge",
        "Finished executions waiting to be copied into the analytics log.",
    )
    out.sample("cellwright_analytics_backlog", store.analytics_backlog())
    out.family("cellwright_scheduler_leader", "gauge", "1 in the process that runs the schedules.")
    out.sample("cellwright_scheduler_leader", 1 if leader else 0)
    if vendor_calls:
        out.family(
            "cellwright_vendor_calls_total",
            "counter",
            "Calls to apps with declared vendor limits in this process, sent or refused.",
        )
        for (app, outcome), count in sorted(vendor_calls.items()):
            out.sample("cellwright_vendor_calls_total", count, app=app, outcome=outcome)
    if totals is not None:
        runs, apps = totals
        out.family("cellwright_runs_total", "counter", "Finished runs by status.")
        for row in runs.itertuples(index=False):
            out.sample("cellwright_runs_total", int(row.runs), status=row.status)
        out.family("cellwright_app_calls_total", "counter", "Cell runs per app.")
        for row in apps.itertuples(index=False):
            out.sample("cellwright_app_calls_total", int(row.calls), app=row.app)
        out.family("cellwright_app_errors_total", "counter", "Failed cell runs per app.")
        for row in apps.itertuples(index=False):
            out.sample("cellwright_app_errors_total", int(row.errors), app=row.app)
        out.family("cellwright_app_call_duration_seconds", "summary", "Time of cell runs per app.")
        for row in apps.itertuples(index=False):
            out.sample(
                "cellwright_app_call_duration_seconds_sum",
                float(row.duration_ms) / 1000,
                app=row.app,
            )
            out.sample("cellwright_app_call_duration_seconds_count", int(row.calls), app=row.app)
    return "\n".join(out.lines) + "\n"
