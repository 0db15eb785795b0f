"""The Audit trail page, headless: a user sees only their own entries, an administrator
everyone's (and may filter by actor and check the chain); filters, paging, downloads."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from cells import document as documents
from connectors.sdk import ConfigurationError
from engine.service import Cellwright
from storage import audit_origin

pytestmark = pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")

DOC = (
    "name: {name}\ncells:\n  - {{id: start, kind: trigger, app: manual, operation: run_manually}}\n"
)


@pytest.fixture
def people(svc: Cellwright) -> tuple[Any, Any]:
    with audit_origin("workspace", ip="192.0.2.8"):
        ada = svc.accounts.create_user("ada@example.com")
        root = svc.accounts.create_user("root@example.com", is_admin=True)
        for i in range(3):
            svc.import_scenario(ada.id, documents.loads(DOC.format(name=f"S{i}")))
        svc.accounts.create_api_key(root.id, "ops")
    return ada, root


def test_a_user_sees_their_own_entries_and_downloads_them(
    svc: Cellwright, people: tuple[Any, Any]
) -> None:
    from workspace.views.audit import AuditPage, AuditState

    ada, root = people
    state = AuditState(svc, ada)
    assert {e.user_id for e in state.items} == {ada.id}
    assert [e.action for e in state.items][:3] == ["scenario.create"] * 3
    state.actor = root.id  # not an administrator: the actor filter is ignored
    assert {e.user_id for e in state.items} == {ada.id}
    state.group = "user"
    assert [e.action for e in state.items] == ["user.create"]
    state.group = "any"
    one = state.items[0].object_id
    state.object_id = one
    assert [e.object_id for e in state.items] == [one]
    state.object_id = ""
    rows = list(csv.DictReader(io.StringIO(state.export("csv"))))
    assert len(rows) == 4 and {r["user_id"] for r in rows} == {ada.id}
    assert {e["user_id"] for e in json.loads(state.export("json"))} == {ada.id}
    with pytest.raises(ConfigurationError):
        state.verify()
    page = AuditPage(svc, ada, nav=lambda *a, **k: None)
    assert "scenario.create" in page.list.object and "192.0.2.8" in page.list.object
    assert "root@example.com" not in page.list.object
    assert page.prev.disabled and page.next.disabled


async def test_an_admin_sees_everyone_filters_by_actor_and_checks_the_chain(
    svc: Cellwright, people: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from workspace.views import audit
    from workspace.views.audit import AuditPage, AuditState

    ada, root = people
    state = AuditState(svc, root)
    assert {ada.id, root.id} <= {e.user_id for e in state.items}
    state.actor = root.id
    assert [e.action for e in state.items] == ["api_key.create", "user.create"]
    assert "intact: 6 entries" in state.verify()

    monkeypatch.setattr(audit, "PAGE_SIZE", 2)
    page = AuditPage(svc, root, nav=lambda *a, **k: None)
    assert not page.next.disabled and page.prev.disabled
    page.next.clicks += 1
    assert page.state.page == 1 and not page.prev.disabled
    assert "ada@example.com" in page.list.object  # actors by e-mail

    engine = create_engine(str(svc.store._engine.url))
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET ip = '10.0.0.1' WHERE seq = 3"))
    engine.dispose()
    await page._verify()
    assert page.banner.kind == "error" and "broken at entry #3" in page.banner.message


async def test_the_page_opens_from_the_navigation(svc: Cellwright, people: tuple[Any, Any]) -> None:
    from workspace.app import NAV, Shell
    from workspace.views.audit import AuditPage

    assert ("audit", "Audit trail") in NAV
    shell = Shell(svc, people[0], "csrf")
    shell.go("audit")
    assert isinstance(shell.view, AuditPage)


def test_an_export_from_the_notebook_is_audited(svc: Cellwright, people: tuple[Any, Any]) -> None:
    from workspace.views.notebook_state import NotebookState

    ada, _ = people
    scenario = svc.scenarios.for_user(ada.id)[0]
    text = NotebookState(svc, ada, scenario.id).export()
    assert "name:" in text
    [entry] = svc.accounts.audit_entries(ada.id, action="scenario.export")
    assert (entry.object_id, entry.details) == (scenario.id, {"version": 1, "editor": True})
