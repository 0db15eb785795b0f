"""The Panel workspace, mounted into the FastAPI server at ``/``."""

from __future__ import annotations

from typing import Any

import panel as pn


def workspace_page(svc: Any) -> pn.viewable.Viewable:
    """The workspace's first page: the app directory (the full workspace is being built)."""
    rows = [
        {"App": app.name, "Category": app.category, "Auth": app.auth.type, "Triggers": len(app.triggers), "Actions": len(app.actions)}
        for app in svc.apps
    ]
    import pandas as pd

    table = pn.widgets.Tabulator(pd.DataFrame(rows), disabled=True, show_index=False, sizing_mode="stretch_width", name="App directory")
    return pn.template.FastListTemplate(
        title="Cellwright",
        main=[pn.pane.Markdown("## App directory"), table],
        accent="#2563eb",
    )


def mount_workspace(app: Any, svc: Any) -> None:
    from panel.io.fastapi import add_application

    @add_application("/", app=app, title="Cellwright")
    def _page() -> pn.viewable.Viewable:
        return workspace_page(svc)
