"""Failure alerts: rules' webhooks get one POST per failed run, through the SSRF guard;
delivery never changes or blocks the run."""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest

from cells import document as documents
from connectors.sdk import UpstreamError
from engine.alerts import Alerts
from engine.service import Cellwright

MANUAL = "  - {id: start, kind: trigger, app: manual, operation: run_manually}\n"
BOOM = "  - {id: boom, kind: action, app: probe, operation: count}\n"


def save(svc: Cellwright, user: Any, name: str = "Nightly sync", *, notify: bool = False) -> Any:
    settings = "settings: {notify_on_error: true}\n" if notify else ""
    return svc.import_scenario(user.id, documents.loads(f"name: {name}\n{settings}cells:\n{MANUAL}{BOOM}"))


async def run(svc: Cellwright, scenario: Any, user: Any) -> dict[str, Any]:
    result: dict[str, Any] = await svc.run_now(user.id, scenario.id, {}, timeout=10)
    await svc.runner.alerts.drain()  # deliveries are background tasks: let them land
    return result


async def test_a_failed_run_posts_the_documented_payload_once(svc: Cellwright, user: Any, probe: Any, sink: Any) -> None:
    scenario = save(svc, user)
    url = sink.plan("/alert")
    svc.store.create_alert_rule(user.id, scenario_id=scenario.id, webhook_url=url)
    svc.store.create_alert_rule(user.id, notify_workspace=True)  # workspace only: nothing to POST
    probe.fail("boom", UpstreamError("vendor said no", status=400))
    result = await run(svc, scenario, user)
    assert result["status"] == "failed"
    hits = sink.hits("/alert")
    assert len(hits) == 1 and hits[0].method == "POST"
    assert hits[0].headers["content-type"] == "application/json"
    execution = svc.store.get_execution(user.id, result["id"])
    assert hits[0].body == {
        "event": "execution.failed",
        "execution_id": result["id"],
        "scenario_id": scenario.id,
        "scenario_name": "Nightly sync",
        "error": result["error"],
        "finished_at": hits[0].body["finished_at"],
    }
    assert hits[0].body["error"]["code"] == "upstream_error" and hits[0].body["error"]["cell_id"] == "boom"
    assert hits[0].body["finished_at"].endswith("+00:00")
    assert execution is not None and execution.end_time is not None
    assert hits[0].body["finished_at"] == execution.end_time.isoformat()


async def test_a_completed_run_posts_nothing(svc: Cellwright, user: Any, sink: Any) -> None:
    scenario = save(svc, user, notify=True)
    svc.store.create_alert_rule(user.id, webhook_url=sink.plan("/alert"))
    result = await run(svc, scenario, user)
    assert result["status"] == "completed"
    assert sink.hits("/alert") == []
    assert [e for e in svc.store.audit_entries(user.id) if e.action == "alert.execution_failed"] == []


async def test_only_matching_rules_fire(svc: Cellwright, user: Any, probe: Any, sink: Any) -> None:
    failing = save(svc, user, "Failing")
    other = save(svc, user, "Other")
    svc.store.create_alert_rule(user.id, scenario_id=other.id, webhook_url=sink.plan("/other"))
    svc.store.create_alert_rule(user.id, webhook_url=sink.plan("/any"))
    bob = svc.store.create_user("bob@example.com")
    svc.store.create_alert_rule(bob.id, webhook_url=sink.plan("/bob"))  # someone else's "any"
    probe.fail("boom", UpstreamError("no", status=400))
    assert (await run(svc, failing, user))["status"] == "failed"
    assert sink.hits("/other") == [] and sink.hits("/bob") == []
    assert [h.body["scenario_name"] for h in sink.hits("/any")] == ["Failing"]


async def test_a_failing_webhook_does_not_touch_the_execution(svc: Cellwright, user: Any, probe: Any, sink: Any, helpers: Any, caplog: pytest.LogCaptureFixture) -> None:
    scenario = save(svc, user)
    url = sink.plan("/down", helpers.Reply(500, {"message": "down"}))
    svc.store.create_alert_rule(user.id, scenario_id=scenario.id, webhook_url=url)
    probe.fail("boom", UpstreamError("no", status=400))
    with caplog.at_level(logging.WARNING, logger="cellwright.alerts"):
        result = await run(svc, scenario, user)
    assert result["status"] == "failed"
    assert len(sink.hits("/down")) == 1  # no retries
    assert svc.execution(user.id, result["id"])["status"] == "failed"
    assert result["error"]["code"] == "upstream_error"
    assert "HTTP 500" in caplog.text and "/down" not in caplog.text  # the host only: URLs may hold tokens


async def test_a_slow_webhook_never_blocks_the_run(svc: Cellwright, user: Any, probe: Any, sink: Any, helpers: Any) -> None:
    scenario = save(svc, user)
    svc.store.create_alert_rule(user.id, webhook_url=sink.plan("/slow", helpers.Reply(200, delay=2)))
    svc.runner.alerts.timeout = 0.3
    probe.fail("boom", UpstreamError("no", status=400))
    started = time.monotonic()
    result = await svc.run_now(user.id, scenario.id, {}, timeout=10)
    assert result["status"] == "failed" and time.monotonic() - started < 1.5
    await svc.runner.alerts.drain()  # times out on the delivery side, quietly
    assert len(sink.hits("/slow")) == 1


async def test_notify_on_error_without_a_rule_is_audited(svc: Cellwright, user: Any, probe: Any, sink: Any) -> None:
    scenario = save(svc, user, notify=True)
    probe.fail("boom", UpstreamError("no", status=400))
    result = await run(svc, scenario, user)
    entries = [e for e in svc.store.audit_entries(user.id) if e.action == "alert.execution_failed"]
    assert [(e.object_type, e.object_id) for e in entries] == [("execution", result["id"])]
    assert entries[0].details["scenario_id"] == scenario.id and entries[0].details["error"]["code"] == "upstream_error"
    assert sink.requests == []
    quiet = save(svc, user, "Quiet")  # notify_on_error off, no rule: nothing at all
    probe.fail("boom", UpstreamError("no", status=400))
    await run(svc, quiet, user)
    assert len([e for e in svc.store.audit_entries(user.id) if e.action == "alert.execution_failed"]) == 1


async def test_the_ssrf_guard_applies(svc: Cellwright, user: Any, probe: Any, sink: Any, make_settings: Any, caplog: pytest.LogCaptureFixture) -> None:
    scenario = save(svc, user)
    svc.store.create_alert_rule(user.id, webhook_url=sink.plan("/internal"))
    probe.fail("boom", UpstreamError("no", status=400))
    result = await svc.run_now(user.id, scenario.id, {}, timeout=10)
    await svc.runner.alerts.drain()
    sink.reset()
    guarded = Alerts(svc.store, make_settings(http_allow_private=False))  # the default: no private addresses
    execution = svc.store.get_execution(user.id, result["id"])
    with caplog.at_level(logging.WARNING, logger="cellwright.alerts"):
        await guarded.execution_failed(execution, "Nightly sync", False)  # never raises
    assert sink.requests == []
    assert "alert webhook on 127.0.0.1 failed" in caplog.text
