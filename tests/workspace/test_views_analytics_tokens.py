"""The Analytics page's "AI tokens" tab: tokens per scenario (chart and table) and per model."""

from __future__ import annotations

from typing import Any

from cells import document as documents
from tests.services import running_service


def texts(layout: Any) -> str:
    """Every HTML text inside a Panel layout."""
    import panel as pn

    return "".join(str(p.object) for p in layout.select(pn.pane.HTML))


SCENARIO = """
name: Summaries
cells:
  - {id: start, kind: trigger, app: manual, operation: run_manually}
  - id: s
    kind: action
    app: ai
    operation: summarize
    connection: CONNECTION
    inputs: {text: "The launch moved to May. Copy is due Friday.", max_words: 8}
"""


async def test_the_tokens_tab_shows_tokens_per_scenario_and_model(
    make_settings: Any, registry: Any
) -> None:
    from workspace.views.analytics import CHARTS, Dashboard

    async with running_service(make_settings(analytics=True), registry) as svc:
        user = svc.store.create_user("ana@example.com")
        dash = Dashboard(svc, user)
        dash.tabs.active = [key for key, _, _ in CHARTS].index("tokens")
        assert "No data in this time range." in dash.panes["tokens"][1].object
        assert "No AI steps ran in this time range." in texts(dash.panes["tokens"][2])

        connection = await svc.create_connection(user.id, "ai", credentials={}, sandbox=True)
        text = SCENARIO.replace("CONNECTION", connection.id)
        scenario = svc.import_scenario(user.id, documents.loads(text))
        execution = await svc.run_now(user.id, scenario.id, {})
        assert execution["status"] == "completed", execution["error"]
        spent = execution["cells"][-1]["output"]["usage"]["total_tokens"]

        dash._render(dash.state.load())
        heading, chart, data = dash.panes["tokens"].objects
        assert "Model tokens of AI steps per scenario" in heading.object
        assert chart.object is not None  # the chart, not "No data"
        tables = texts(data)
        assert "Model tokens per scenario" in tables and "Model tokens per model" in tables
        assert "<td>Summaries</td>" in tables and "<td>openai/cellwright-sandbox</td>" in tables
        assert f"<td>{spent}</td>" in tables
