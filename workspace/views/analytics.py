"""Analytics dashboards from the DuckDB log (``AnalyticsLog``), each chart with a table
alternative for screen readers."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from html import escape
from typing import Any

import pandas as pd
import panel as pn
import param

from workspace.views.components import section
from workspace.views.widgets import Banner, attempt, html, table

RANGES = {
    "Last 24 hours": timedelta(days=1),
    "Last 7 days": timedelta(days=7),
    "Last 30 days": timedelta(days=30),
    "Last 90 days": timedelta(days=90),
    "All time": None,
}


class AnalyticsState(param.Parameterized):
    time_range = param.Selector(default="Last 30 days", objects=list(RANGES))
    frames = param.Dict(default={})

    def __init__(self, svc: Any, user: Any, **params: Any) -> None:
        super().__init__(**params)
        self.svc = svc
        self.user = user

    @property
    def enabled(self) -> bool:
        return getattr(self.svc, "analytics", None) is not None

    def since(self) -> datetime | None:
        span = RANGES[self.time_range]
        return datetime.now(UTC) - span if span else None

    def load(self) -> dict[str, Any]:
        log = self.svc.analytics
        uid, since = self.user.id, self.since()
        frames = {
            "summary": log.summary(uid, since=since),
            "runs": log.runs_per_day(uid, since=since),
            "success": log.success_rate(uid, since=since),
            "durations": log.duration_percentiles(uid, "scenario", since=since),
            "apps": log.app_calls(uid, since=since),
            "errors": log.top_errors(uid, 10, since=since),
            "tokens": log.token_usage(uid, "scenario", since=since),
            "tokens_by_model": log.token_usage(uid, "model", since=since),
        }
        self.frames = frames
        return frames

    async def aload(self) -> dict[str, Any]:
        return await asyncio.to_thread(self.load)


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    for row in frame.to_dict("records"):
        out.append(
            {
                k: (
                    v.isoformat()[:19]
                    if hasattr(v, "isoformat")
                    else (f"{v:.3g}" if isinstance(v, float) else v)
                )
                for k, v in row.items()
            }
        )
    return out


#: (tab key, tab label, heading)
CHARTS: list[tuple[str, str, str]] = [
    ("runs", "Runs over time", "Runs over time by status"),
    ("success", "Success rate", "Success rate per scenario"),
    ("durations", "Durations", "Duration per scenario (median and 95th percentile)"),
    ("apps", "Apps", "Calls and errors per app"),
    ("errors", "Top errors", "Top errors"),
    ("tokens", "AI tokens", "Model tokens of AI steps per scenario"),
]
OPTS = {"toolbar": None}
# sizes given to hvplot itself: set later with .opts, responsive came on top of hvplot's
# default width and HoloViews logged a warning for every chart drawn
SIZE = {"responsive": True, "height": 250}


def chart_and_table(key: str, frames: dict[str, Any]) -> tuple[Any, str]:
    """The HoloViews plot (None without data) and the accessible table of one chart."""
    import hvplot.pandas  # noqa: F401 - registers .hvplot

    if key == "runs":
        runs = frames["runs"]
        plot = (
            None
            if runs.empty
            else runs.assign(day=runs["day"].astype(str))
            .hvplot.bar(
                x="day",
                y="runs",
                by="status",
                stacked=True,
                rot=45,
                ylabel="runs",
                xlabel="day",
                **SIZE,
            )
            .opts(**OPTS)
        )
        return plot, table(
            _records(runs),
            [("day", "Day"), ("status", "Status"), ("runs", "Runs")],
            caption="Runs per day and status",
        )
    if key == "success":
        success = frames["success"]
        plot = None
        if not success.empty:
            plot = (
                success.assign(
                    label=success["scenario_name"].fillna(success["scenario_id"]),
                    percent=success["success_rate"] * 100,
                )
                .hvplot.barh(x="label", y="percent", xlabel="", ylabel="success rate (%)", **SIZE)
                .opts(**OPTS)
            )
        return plot, table(
            _records(success),
            [
                ("scenario_name", "Scenario"),
                ("runs", "Runs"),
                ("completed", "Completed"),
                ("failed", "Failed"),
                ("success_rate", "Success rate"),
            ],
            caption="Success rate per scenario",
        )
    if key == "durations":
        durations = frames["durations"]
        plot = None
        if not durations.empty:
            melted = durations.assign(label=durations["name"].fillna(durations["key"])).melt(
                id_vars=["label"],
                value_vars=["p50_ms", "p95_ms"],
                var_name="percentile",
                value_name="ms",
            )
            plot = melted.hvplot.bar(
                x="label",
                y="ms",
                by="percentile",
                xlabel="",
                ylabel="duration (ms)",
                rot=20,
                **SIZE,
            ).opts(**OPTS)
        return plot, table(
            _records(durations),
            [
                ("name", "Scenario"),
                ("runs", "Runs"),
                ("p50_ms", "Median (ms)"),
                ("p95_ms", "p95 (ms)"),
            ],
            caption="Run durations per scenario",
        )
    if key == "apps":
        apps = frames["apps"]
        plot = None
        if not apps.empty:
            plot = (
                apps.melt(
                    id_vars=["app"],
                    value_vars=["calls", "errors"],
                    var_name="kind",
                    value_name="count",
                )
                .hvplot.bar(x="app", y="count", by="kind", xlabel="", ylabel="calls", **SIZE)
                .opts(**OPTS)
            )
        return plot, table(
            _records(apps),
            [
                ("app", "App"),
                ("calls", "Calls"),
                ("errors", "Errors"),
                ("error_rate", "Error rate"),
            ],
            caption="Calls and errors per app",
        )
    if key == "tokens":
        return tokens_chart_and_tables(frames)
    return None, table(
        _records(frames["errors"]),
        [
            ("error_code", "Code"),
            ("error_message", "Message"),
            ("count", "Count"),
            ("last_seen", "Last seen"),
        ],
        caption="Most frequent errors",
        empty="No errors in this time range.",
    )


def tokens_chart_and_tables(frames: dict[str, Any]) -> tuple[Any, str]:
    """Prompt and completion tokens per scenario (the chart), and tables per scenario and
    per model: what the AI steps spent, failed calls included."""
    tokens, by_model = frames["tokens"], frames["tokens_by_model"]
    plot = None
    if not tokens.empty:
        plot = (
            tokens.assign(label=tokens["name"].fillna(tokens["key"]))
            .melt(
                id_vars=["label"],
                value_vars=["prompt_tokens", "completion_tokens"],
                var_name="kind",
                value_name="tokens",
            )
            .hvplot.bar(
                x="label",
                y="tokens",
                by="kind",
                stacked=True,
                xlabel="",
                ylabel="tokens",
                rot=20,
                **SIZE,
            )
            .opts(**OPTS)
        )
    columns = [
        ("calls", "Calls"),
        ("prompt_tokens", "Prompt tokens"),
        ("completion_tokens", "Completion tokens"),
        ("total_tokens", "Total tokens"),
    ]
    empty = "No AI steps ran in this time range."
    per_scenario = table(
        _records(tokens.assign(name=tokens["name"].fillna(tokens["key"]))),
        [("name", "Scenario"), *columns],
        caption="Model tokens per scenario",
        empty=empty,
    )
    per_model = table(
        _records(by_model),
        [("key", "Model"), *columns],
        caption="Model tokens per model",
        empty=empty,
    )
    return plot, per_scenario + per_model


def warm_up() -> None:
    """Import the plotting stack ahead of the first Analytics visit (a server-start thread)."""
    import holoviews  # noqa: F401
    import hvplot.pandas  # noqa: F401


class Dashboard(pn.viewable.Viewer):
    """A summary line and one tab per chart. Only the open tab's chart is built (and sent
    to the browser); the others are built when opened, and rebuilt after the time range
    changes only when they are opened again. The queries run once per time range."""

    def __init__(self, svc: Any, user: Any, **params: Any) -> None:
        super().__init__(**params)
        self.state = AnalyticsState(svc, user)
        self.banner = Banner()
        self.summary = html("", css_classes=["analytics-summary-host"])
        self.panes: dict[str, pn.Column] = {
            key: pn.Column(
                sizing_mode="stretch_width", margin=0, name=label, css_classes=[f"analytics-{key}"]
            )
            for key, label, _ in CHARTS
        }
        self.built: set[str] = set()
        self.tabs = pn.Tabs(
            *self.panes.values(),
            dynamic=True,
            sizing_mode="stretch_width",
            css_classes=["analytics-tabs"],
        )
        self.tabs.param.watch(lambda e: self._build_active(), "active")
        self.body = pn.Column(
            self.summary,
            self.tabs,
            sizing_mode="stretch_width",
            margin=0,
            css_classes=["analytics-body"],
        )
        picker = pn.widgets.Select.from_param(
            self.state.param.time_range,
            name="Time range",
            width=200,
            css_classes=["analytics-range"],
        )
        self._layout = pn.Column(
            html("<h1>Analytics</h1>"), picker, self.banner, self.body, sizing_mode="stretch_width"
        )
        if not self.state.enabled:
            self.body[:] = [
                html(
                    '<p class="cw-muted">Analytics are turned off on this server '
                    "(CELLWRIGHT_ANALYTICS=false).</p>"
                )
            ]
            return
        self.state.param.watch(
            lambda e: pn.state.execute(self.refresh) if pn.state.curdoc else None, "time_range"
        )
        self._render(self.state.load())

    async def refresh(self) -> None:
        frames = await attempt(self.banner, self.state.aload)
        if frames is not None:
            self._render(frames)

    def _render(self, frames: dict[str, Any]) -> None:
        s = frames["summary"]
        rate = "—" if s["success_rate"] is None else f"{s['success_rate']:.0%}"
        p50 = "—" if s["p50_ms"] is None else f"{s['p50_ms']:.0f} ms"
        p95 = "—" if s["p95_ms"] is None else f"{s['p95_ms']:.0f} ms"
        self.summary.object = (
            f'<p role="status" class="analytics-summary"><strong>{s["runs"]}</strong> runs · '
            f"<strong>{s['completed']}</strong> completed · "
            f"<strong>{s['failed']}</strong> failed · success rate <strong>{rate}"
            f"</strong> · median {p50} · p95 {p95}</p>"
        )
        self.built.clear()  # new data: every chart is rebuilt when next shown
        self._build_active()

    def _build_active(self) -> None:
        key, _, heading = CHARTS[self.tabs.active]
        if key in self.built or not self.state.frames:
            return
        try:
            plot, alt = chart_and_table(key, self.state.frames)
        except Exception as exc:  # a chart that cannot be drawn says so; the page stays
            self.banner.error(exc)
            return
        self.built.add(key)
        parts: list[Any] = [html(f"<h2>{escape(heading)}</h2>")]
        if key == "errors":
            parts.append(html(alt))
        else:
            parts.append(
                pn.pane.HoloViews(
                    plot, sizing_mode="stretch_width", height=260, css_classes=["chart"]
                )
                if plot is not None
                else html('<p class="cw-muted">No data in this time range.</p>')
            )
            parts.append(section(f"{heading}: data table", html(alt), css_classes=["data-table"]))
        self.panes[key][:] = parts

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout
