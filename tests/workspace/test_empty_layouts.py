"""Every workspace page builds without empty layouts: Bokeh logs a W-1002 (EMPTY_LAYOUT)
warning for each one every time the document is validated (each plot it draws), which
filled the server log with dozens of lines per session."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from bokeh.document import Document

from workspace.demo import demo_documents

pytestmark = pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")

PAGES = [
    "scenarios",
    "scenario",
    "executions",
    "execution",
    "connections",
    "directory",
    "app",
    "templates",
    "assistant",
    "audit",
    "settings",
]


@pytest.fixture
async def shell(svc: Any, user: Any) -> Any:
    from workspace.app import Shell

    for _, doc in demo_documents("http://127.0.0.1:8000")[:2]:
        scenario = svc.import_scenario(user.id, doc)
    await svc.run_now(
        user.id,
        scenario.id,
        {
            "method": "POST",
            "headers": {},
            "query": {},
            "body": {"id": 1, "amount": 42, "name": "a"},
        },
    )
    return Shell(svc, user, "csrf")


def empty_layouts(document: Document, caplog: pytest.LogCaptureFixture) -> list[str]:
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="bokeh.core.validation.check"):
        document.validate()
    import re

    out = []
    for record in caplog.records:
        found = re.search(r"EMPTY_LAYOUT.*id='([^']+)'", record.getMessage())
        if found:
            model = document.get_model_by_id(found.group(1))
            out.append(
                f"{type(model).__name__} {getattr(model, 'css_classes', [])} "
                f"{getattr(model, 'name', '')}"
            )
    return out


def test_no_page_builds_an_empty_layout(
    shell: Any, svc: Any, user: Any, caplog: pytest.LogCaptureFixture
) -> None:
    document = Document()
    document.add_root(shell.__panel__().get_root(document))
    scenario = svc.store.list_scenarios(user.id)[0]
    execution = svc.list_executions(user.id)[0]
    refs = {"scenario": scenario.id, "execution": execution["id"], "app": "slack"}
    found = {}
    for page in PAGES:
        shell.go(page, refs.get(page))
        assert shell.view is not None, page
        found[page] = empty_layouts(document, caplog)
    assert found == {page: [] for page in PAGES}
