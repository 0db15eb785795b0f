"""Analytics dashboards from the DuckDB log (``AnalyticsLog``), each chart with a table
alternative for screen readers."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import panel as pn
import param

from workspace.views.widgets import Banner, attempt, html, table

RANGES = {"Last 24 hours": timedelta(days=1), "Last 7 days": timedelta(days=7), "Last 30 days": timedelta(days=30), "Last 90 days": timedelta(days=90), "All time": None}


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
        }
        self.frames = frames
        return frames

    async def aload(self) -> dict[str, Any]:
        return await asyncio.to_thread(self.load)


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    for row in frame.to_dict("records"):
        out.append({k: (v.isoformat()[:19] if hasattr(v, "isoformat") else (f"{v:.3g}" if isinstance(v, float) else v)) for k, v in row.items()})
    return out


class Dashboard(pn.viewable.Viewer):
    def __init__(self, svc: Any, user: Any, **params: Any) -> None:
        super().__init__(**params)
        self.state = AnalyticsState(svc, user)
        self.banner = Banner()
        self.body = pn.Column(sizing_mode="stretch_width", margin=0, css_classes=["analytics-body"])
        picker = pn.widgets.Select.from_param(self.state.param.time_range, name="Time range", width=200, css_classes=["analytics-range"])
        self._layout = pn.Column(html("<h1>Analytics</h1>"), picker, self.banner, self.body, sizing_mode="stretch_width")
        if not self.state.enabled:
            self.body[:] = [html('<p class="cw-muted">Analytics are turned off on this server (CELLWRIGHT_ANALYTICS=false).</p>')]
            return
        self.state.param.watch(lambda e: pn.state.execute(self.refresh) if pn.state.curdoc else None, "time_range")
        self._render(self.state.load())

    async def refresh(self) -> None:
        frames = await attempt(self.banner, self.state.aload)
        if frames is not None:
            self._render(frames)

    def _chart(self, title: str, plot: Any, alt: str) -> Any:
        return pn.Column(
            html(f"<h2>{title}</h2>"),
            pn.pane.HoloViews(plot, sizing_mode="stretch_width", height=260, css_classes=["chart"]) if plot is not None else html('<p class="cw-muted">No data in this time range.</p>'),
            pn.Card(html(alt), title=f"{title}: data table", collapsed=True, sizing_mode="stretch_width", header_background="#f3f4f6"),
            sizing_mode="stretch_width",
        )

    def _render(self, frames: dict[str, Any]) -> None:
        import hvplot.pandas  # noqa: F401 - registers .hvplot

        s = frames["summary"]
        rate = "—" if s["success_rate"] is None else f"{s['success_rate']:.0%}"
        p50 = "—" if s["p50_ms"] is None else f"{s['p50_ms']:.0f} ms"
        p95 = "—" if s["p95_ms"] is None else f"{s['p95_ms']:.0f} ms"
        parts: list[Any] = [html(
            f'<p role="status" class="analytics-summary"><strong>{s["runs"]}</strong> runs · <strong>{s["completed"]}</strong> completed · '
            f'<strong>{s["failed"]}</strong> failed · success rate <strong>{rate}</strong> · median {p50} · p95 {p95}</p>'
        )]
        opts = {"toolbar": None, "responsive": True, "height": 250}
        runs = frames["runs"]
        plot = None
        if not runs.empty:
            runs = runs.assign(day=runs["day"].astype(str))
            plot = runs.hvplot.bar(x="day", y="runs", by="status", stacked=True, rot=45, ylabel="runs", xlabel="day").opts(**opts)
        parts.append(self._chart("Runs over time by status", plot, table(_records(frames["runs"]), [("day", "Day"), ("status", "Status"), ("runs", "Runs")], caption="Runs per day and status")))
        success = frames["success"]
        plot = None
        if not success.empty:
            plot = success.assign(label=success["scenario_name"].fillna(success["scenario_id"]), percent=success["success_rate"] * 100).hvplot.barh(x="label", y="percent", xlabel="", ylabel="success rate (%)").opts(**opts)
        parts.append(self._chart("Success rate per scenario", plot, table(_records(success), [("scenario_name", "Scenario"), ("runs", "Runs"), ("completed", "Completed"), ("failed", "Failed"), ("success_rate", "Success rate")], caption="Success rate per scenario")))
        durations = frames["durations"]
        plot = None
        if not durations.empty:
            melted = durations.assign(label=durations["name"].fillna(durations["key"])).melt(id_vars=["label"], value_vars=["p50_ms", "p95_ms"], var_name="percentile", value_name="ms")
            plot = melted.hvplot.bar(x="label", y="ms", by="percentile", xlabel="", ylabel="duration (ms)", rot=20).opts(**opts)
        parts.append(self._chart("Duration per scenario (median and 95th percentile)", plot, table(_records(durations), [("name", "Scenario"), ("runs", "Runs"), ("p50_ms", "Median (ms)"), ("p95_ms", "p95 (ms)")], caption="Run durations per scenario")))
        apps = frames["apps"]
        plot = None
        if not apps.empty:
            plot = apps.melt(id_vars=["app"], value_vars=["calls", "errors"], var_name="kind", value_name="count").hvplot.bar(x="app", y="count", by="kind", xlabel="", ylabel="calls").opts(**opts)
        parts.append(self._chart("Calls and errors per app", plot, table(_records(apps), [("app", "App"), ("calls", "Calls"), ("errors", "Errors"), ("error_rate", "Error rate")], caption="Calls and errors per app")))
        parts.append(html("<h2>Top errors</h2>" + table(_records(frames["errors"]), [("error_code", "Code"), ("error_message", "Message"), ("count", "Count"), ("last_seen", "Last seen")], caption="Most frequent errors", empty="No errors in this time range.")))
        self.body[:] = parts

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout
