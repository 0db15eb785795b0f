"""Auto-pause: a scenario whose runs fail ``pause_after_failures`` times in a row is
paused with status ``error`` and a reason; its trigger is disarmed, its alert rules are
told, and enabling it again clears the status and the reason."""

from __future__ import annotations

from typing import Any

import httpx

from cells import document as documents
from connectors.sdk import UpstreamError
from engine.service import Cellwright

HOOKED = """\
name: Fragile
%scells:
  - {id: hook, kind: trigger, app: probe, operation: hook}
  - {id: boom, kind: action, app: probe, operation: count, inputs: {value: x}}
"""
SECRET = {"x-probe-secret": "probe-signing-secret"}


async def deliver(anon: httpx.AsyncClient, svc: Cellwright, scenario: Any, helpers: Any) -> Any:
    """One vendor event; the finished execution (its alerts and any pause landed)."""
    answer = await anon.post(f"/hooks/{scenario.webhook_token}", json={"n": 1}, headers=SECRET)
    assert answer.status_code == 202, answer.text
    done = await helpers.finished(svc, answer.json()["execution_id"])
    await svc.runner.alerts.drain()
    return done


async def enabled(svc: Cellwright, user: Any, settings: str = "") -> Any:
    scenario = svc.import_scenario(user.id, documents.loads(HOOKED % settings))
    return await svc.enable(user.id, scenario.id)


async def test_failing_runs_in_a_row_pause_the_scenario_and_alert_its_rules(
    svc: Cellwright, user: Any, probe: Any, sink: Any, anon: httpx.AsyncClient, helpers: Any
) -> None:
    scenario = await enabled(svc, user, "settings: {pause_after_failures: 3}\n")
    svc.store.create_alert_rule(user.id, scenario_id=scenario.id, webhook_url=sink.plan("/alert"))
    probe.fail("boom", *[UpstreamError("vendor said no", status=400) for _ in range(5)])
    for _ in range(2):
        assert (await deliver(anon, svc, scenario, helpers))["status"] == "failed"
    assert svc.scenario(user.id, scenario.id).status == "active"  # 2 of 3: still on
    last = await deliver(anon, svc, scenario, helpers)
    assert last["status"] == "failed"

    paused = svc.scenario(user.id, scenario.id)
    assert paused.status == "error"
    assert paused.status_reason is not None
    assert paused.status_reason.startswith("Paused after 3 failed runs in a row")
    assert last["id"] in paused.status_reason and "vendor said no" in paused.status_reason
    assert len(probe.unsubscribed) == 1  # the vendor subscription is removed
    hits = [h.body for h in sink.hits("/alert")]
    assert [h["scenario_paused"] for h in hits] == [None, None, paused.status_reason]
    assert hits[-1]["execution_id"] == last["id"]
    audit = [e for e in svc.store.audit_entries(user.id) if e.action == "scenario.auto_pause"]
    assert [(e.object_id, e.details["reason"]) for e in audit] == [
        (scenario.id, paused.status_reason)
    ]

    # the trigger no longer starts runs
    refused = await anon.post(f"/hooks/{scenario.webhook_token}", json={"n": 2}, headers=SECRET)
    # (its subscription, with the signing secret, is gone: the delivery is refused)
    assert refused.status_code == 401, refused.text
    assert len(svc.list_executions(user.id, scenario_id=scenario.id)) == 3
    assert probe.calls["boom"] == 3

    # enabling it again clears the status and the reason; it runs again
    again = await svc.enable(user.id, scenario.id)
    assert again is not None and (again.status, again.status_reason) == ("active", None)
    probe.failures.clear()
    assert (await deliver(anon, svc, scenario, helpers))["status"] == "completed"


async def test_a_completed_run_resets_the_count(
    svc: Cellwright, user: Any, probe: Any, anon: httpx.AsyncClient, helpers: Any
) -> None:
    scenario = await enabled(svc, user, "settings: {pause_after_failures: 2}\n")
    probe.fail("boom", UpstreamError("no", status=400))
    assert (await deliver(anon, svc, scenario, helpers))["status"] == "failed"
    assert (await deliver(anon, svc, scenario, helpers))["status"] == "completed"
    probe.fail("boom", UpstreamError("no", status=400))
    assert (await deliver(anon, svc, scenario, helpers))["status"] == "failed"
    assert svc.scenario(user.id, scenario.id).status == "active"  # 1 in a row, not 2


async def test_the_server_default_applies_and_zero_never_pauses(
    make_settings: Any, registry: Any, probe: Any, helpers: Any
) -> None:
    from tests.services import running_service  # the same service the svc fixture runs

    async with running_service(make_settings(pause_after_failures=2), registry) as app:
        user = app.store.create_user("ada@example.com")
        default = await enabled(app, user)
        never = await enabled(app, user, "settings: {pause_after_failures: 0}\n")
        probe.fail("boom", *[UpstreamError("no", status=400) for _ in range(4)])
        for scenario in (default, never):
            for _ in range(2):
                execution, _ = await app.trigger(scenario, {"n": 1}, wait=10)
                await app.runner.alerts.drain()
                assert app.store.get_execution(user.id, execution.id).status == "failed"
        assert app.scenario(user.id, default.id).status == "error"
        assert app.scenario(user.id, never.id).status == "active"


async def test_failed_test_runs_of_a_draft_do_not_pause_the_live_version(
    svc: Cellwright, user: Any, probe: Any
) -> None:
    scenario = await enabled(svc, user, "settings: {pause_after_failures: 1}\n")
    svc.import_scenario(
        user.id,
        documents.loads(HOOKED % "settings: {pause_after_failures: 1}\n"),
        scenario_id=scenario.id,
    )  # version 2, a draft: test runs use it
    probe.fail("boom", UpstreamError("no", status=400))
    tested = await svc.run_now(user.id, scenario.id, {"n": 1}, timeout=10)
    await svc.runner.alerts.drain()
    assert (tested["status"], tested["scenario_version"]) == ("failed", 2)
    assert svc.scenario(user.id, scenario.id).status == "active"


async def test_the_api_returns_the_reason(
    svc: Cellwright,
    user: Any,
    probe: Any,
    client: httpx.AsyncClient,
    anon: httpx.AsyncClient,
    helpers: Any,
) -> None:
    scenario = await enabled(svc, user, "settings: {pause_after_failures: 1}\n")
    probe.fail("boom", UpstreamError("no", status=400))
    await deliver(anon, svc, scenario, helpers)
    body = (await client.get(f"/api/v1/scenarios/{scenario.id}")).json()
    assert body["status"] == "error"
    assert body["status_reason"].startswith("Paused after 1 failed run in a row")
    listed = (await client.get("/api/v1/scenarios")).json()
    rows = listed["items"] if isinstance(listed, dict) else listed
    assert [r["status_reason"] for r in rows if r["id"] == scenario.id] == [body["status_reason"]]
    assert (await client.post(f"/api/v1/scenarios/{scenario.id}/enable")).status_code == 200
    body = (await client.get(f"/api/v1/scenarios/{scenario.id}")).json()
    assert (body["status"], body["status_reason"]) == ("active", None)
