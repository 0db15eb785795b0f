"""The services front ends use (``svc.scenarios``, ``svc.connections``,
``svc.executions``, ``svc.accounts``) keep each user to their own objects: another
user's scenario, connection, execution, API key or alert rule is not found and is
left untouched."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cells import document as documents
from connectors.sdk import ConfigurationError
from engine.service import Cellwright, NotFound

DOC = (
    "name: {name}\ncells:\n  - {{id: start, kind: trigger, app: manual, operation: run_manually}}\n"
)


@pytest.fixture
def bob(svc: Cellwright) -> Any:
    return svc.accounts.create_user("bob@example.com", name="Bob")


def test_another_users_scenario_is_not_found_and_not_deleted(
    svc: Cellwright, user: Any, bob: Any
) -> None:
    mine = svc.scenarios.save(user.id, documents.loads(DOC.format(name="Mine")))
    theirs = svc.scenarios.save(bob.id, documents.loads(DOC.format(name="Theirs")))
    assert [s.name for s in svc.scenarios.for_user(user.id)] == ["Mine"]
    assert svc.scenarios.names(user.id) == {mine.id: "Mine"}
    assert svc.scenarios.find(user.id, theirs.id) is None
    for attempt in (
        lambda: svc.scenarios.get(user.id, theirs.id),
        lambda: svc.scenarios.version_document(user.id, theirs.id, 1),
        lambda: svc.scenarios.delete(user.id, theirs.id),
    ):
        with pytest.raises(NotFound):
            attempt()
    assert svc.scenarios.get(bob.id, theirs.id).name == "Theirs"  # still there
    assert svc.scenarios.version_document(user.id, mine.id, 1).name == "Mine"
    with pytest.raises(NotFound, match="no version 2"):
        svc.scenarios.version_document(user.id, mine.id, 2)
    svc.scenarios.delete(user.id, mine.id)
    assert svc.scenarios.for_user(user.id) == []


async def test_delete_scenario_disables_an_enabled_one_first(svc: Cellwright, user: Any) -> None:
    scenario = svc.import_scenario(user.id, documents.loads(DOC.format(name="On")))
    await svc.enable(user.id, scenario.id)
    await svc.delete_scenario(user.id, scenario.id)
    actions = [e.action for e in svc.accounts.audit_entries(user.id)]
    assert actions[:3] == ["scenario.delete", "scenario.disable", "scenario.enable"]  # newest first
    assert svc.scenarios.find(user.id, scenario.id) is None


def test_sandbox_connections_and_pickers_show_only_the_users_own(
    svc: Cellwright, user: Any, bob: Any
) -> None:
    monday = svc.apps.get("monday")
    mine = svc.connections.add_sandbox(user.id, monday, details={"demo": True})
    theirs = svc.connections.add_sandbox(bob.id, monday)
    assert (mine.status, mine.is_sandbox, mine.name) == ("active", True, "monday.com (sandbox)")
    assert svc.connections.choices(user.id, "monday") == {"monday.com (sandbox) (sandbox)": mine.id}
    assert [c.id for c in svc.connections.for_user(user.id)] == [mine.id]
    assert svc.connections.find(user.id, theirs.id) is None
    with pytest.raises(NotFound):
        svc.connections.get(user.id, theirs.id)
    entry = svc.accounts.audit_entries(user.id)[0]
    assert (entry.action, entry.details) == (
        "connection.create",
        {"app": "monday", "sandbox": True, "demo": True},
    )
    with pytest.raises(
        ConfigurationError,
        match=r"Keyed's sandbox credentials do not fill its connection form \(fields: api_key\)",
    ):
        svc.connections.add_sandbox(user.id, svc.apps.get("keyed"))  # it publishes none


async def test_executions_are_read_per_user_and_only_finished_ones_are_swept(
    svc: Cellwright, user: Any, bob: Any
) -> None:
    scenario = svc.scenarios.save(user.id, documents.loads(DOC.format(name="Queued")))
    first = svc.executions.enqueue(scenario, {"n": 1}, key="once")
    assert (
        svc.executions.enqueue(scenario, {"n": 2}, key="once").id == first.id
    )  # the key deduplicates
    svc.executions.enqueue(scenario, {"n": 3})
    assert svc.executions.count(user.id) == 2 and svc.executions.count(bob.id) == 0
    assert [e["trigger"] for e in svc.executions.page(user.id, search="3")] == [{"n": 3}]
    assert svc.executions.get(user.id, first.id)["cells"] == []
    with pytest.raises(NotFound):
        svc.executions.get(bob.id, first.id)
    later = datetime.now(UTC) + timedelta(days=31)
    assert svc.retention.run(now=later) == 0  # queued ones are kept, however old
    finished = await svc.run_now(user.id, scenario.id, {"n": 4})
    assert finished["status"] == "completed"
    assert svc.retention.run() == 0
    assert svc.retention.run(now=later) == 1
    assert svc.executions.count(user.id) == 2


def test_alert_rules_and_api_keys_belong_to_their_user(
    svc: Cellwright, user: Any, bob: Any
) -> None:
    theirs = svc.scenarios.save(bob.id, documents.loads(DOC.format(name="Theirs")))
    with pytest.raises(NotFound):
        svc.accounts.add_alert_rule(user.id, scenario_id=theirs.id)
    assert svc.accounts.alert_rules(user.id) == []
    rule = svc.accounts.add_alert_rule(bob.id, scenario_id=theirs.id)
    assert svc.accounts.delete_alert_rule(user.id, rule.id) is False
    assert [r.id for r in svc.accounts.alert_rules(bob.id)] == [rule.id]

    plaintext, key = svc.accounts.create_api_key(bob.id, "ci")
    assert svc.accounts.user_for_api_key(plaintext).id == bob.id
    assert svc.accounts.revoke_api_key(user.id, key.id) is False
    assert svc.accounts.user_for_api_key(plaintext) is not None
    assert svc.accounts.revoke_api_key(bob.id, key.id) is True
    assert svc.accounts.user_for_api_key(plaintext) is None
    logged = [(e.action, e.details) for e in svc.accounts.audit_entries(bob.id)]
    assert logged[:2] == [("api_key.revoke", None), ("api_key.create", {"name": "ci"})]
    assert plaintext not in repr(logged)


def test_the_local_user_is_the_first_admin(svc: Cellwright) -> None:
    admin = svc.accounts.local_user()
    assert (admin.email, admin.is_admin) == ("admin@localhost", True)
    assert svc.local_user().id == admin.id
