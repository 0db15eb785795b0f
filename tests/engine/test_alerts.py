"""Failure alerts: rules' webhooks get a POST per failed run, through the SSRF guard,
retried while the failure may pass; the outcome is audited (host only, never the URL);
delivery never changes or blocks the run."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest

from cells import document as documents
from connectors.sdk import UpstreamError
from engine.alerts import Alerts, retry_delay
from engine.service import Cellwright

MANUAL = "  - {id: start, kind: trigger, app: manual, operation: run_manually}\n"
BOOM = "  - {id: boom, kind: action, app: probe, operation: count}\n"


def save(svc: Cellwright, user: Any, name: str = "Nightly sync", *, notify: bool = False) -> Any:
    settings = "settings: {notify_on_error: true}\n" if notify else ""
    return svc.import_scenario(
        user.id, documents.loads(f"name: {name}\n{settings}cells:\n{MANUAL}{BOOM}")
    )


def deliveries(svc: Cellwright, user: Any) -> list[Any]:
    """The audited outcomes of webhook deliveries, newest first."""
    return [
        e
        for e in svc.store.audit_entries(user.id)
        if e.action in ("alert.delivered", "alert.delivery_failed")
    ]


class Waits:
    """An injected sleep: records each wait between attempts, waits for nothing."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        await asyncio.sleep(0)


async def failed_execution(svc: Cellwright, user: Any, probe: Any) -> Any:
    """A failed execution of a scenario with no rule yet (rules are added afterwards)."""
    scenario = save(svc, user, "Nightly sync")
    probe.fail("boom", UpstreamError("no", status=400))
    result = await run(svc, scenario, user)
    assert result["status"] == "failed"
    return svc.store.get_execution(user.id, result["id"])


async def run(svc: Cellwright, scenario: Any, user: Any) -> dict[str, Any]:
    result: dict[str, Any] = await svc.run_now(user.id, scenario.id, {}, timeout=10)
    await svc.runner.alerts.drain()  # deliveries are background tasks: let them land
    return result


async def test_a_failed_run_posts_the_documented_payload_once(
    svc: Cellwright, user: Any, probe: Any, sink: Any
) -> None:
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
        "scenario_paused": None,  # this failure did not pause the scenario
    }
    assert (
        hits[0].body["error"]["code"] == "upstream_error"
        and hits[0].body["error"]["cell_id"] == "boom"
    )
    assert hits[0].body["finished_at"].endswith("+00:00")
    assert execution is not None and execution.end_time is not None
    assert hits[0].body["finished_at"] == execution.end_time.isoformat()


async def test_a_completed_run_posts_nothing(svc: Cellwright, user: Any, sink: Any) -> None:
    scenario = save(svc, user, notify=True)
    svc.store.create_alert_rule(user.id, webhook_url=sink.plan("/alert"))
    result = await run(svc, scenario, user)
    assert result["status"] == "completed"
    assert sink.hits("/alert") == []
    assert [
        e for e in svc.store.audit_entries(user.id) if e.action == "alert.execution_failed"
    ] == []


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


async def test_a_failing_webhook_does_not_touch_the_execution(
    svc: Cellwright,
    user: Any,
    probe: Any,
    sink: Any,
    helpers: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    scenario = save(svc, user)
    url = sink.plan("/down", helpers.Reply(500, {"message": "down"}))
    svc.store.create_alert_rule(user.id, scenario_id=scenario.id, webhook_url=url)
    probe.fail("boom", UpstreamError("no", status=400))
    with caplog.at_level(logging.WARNING, logger="cellwright.alerts"):
        result = await run(svc, scenario, user)
    assert result["status"] == "failed"
    assert len(sink.hits("/down")) == svc.settings.alert_attempts  # a 5xx is retried, then given up
    assert svc.execution(user.id, result["id"])["status"] == "failed"
    assert result["error"]["code"] == "upstream_error"
    assert (
        "HTTP 500" in caplog.text and "/down" not in caplog.text
    )  # the host only: URLs may hold tokens


async def test_a_slow_webhook_never_blocks_the_run(
    svc: Cellwright, user: Any, probe: Any, sink: Any, helpers: Any
) -> None:
    scenario = save(svc, user)
    svc.store.create_alert_rule(
        user.id, webhook_url=sink.plan("/slow", helpers.Reply(200, delay=2))
    )
    svc.runner.alerts.timeout = 0.3
    probe.fail("boom", UpstreamError("no", status=400))
    result = await svc.run_now(user.id, scenario.id, {}, timeout=10)
    assert result["status"] == "failed"
    pending = list(
        svc.runner.alerts._tasks
    )  # the run finished while its alert still waits on the sink
    assert pending and not any(task.done() for task in pending)
    await svc.runner.alerts.drain()  # times out on the delivery side, quietly
    assert len(sink.hits("/slow")) == svc.settings.alert_attempts  # a timeout is retried
    assert deliveries(svc, user)[0].details["error"] == "timeout"


async def test_notify_on_error_without_a_rule_is_audited(
    svc: Cellwright, user: Any, probe: Any, sink: Any
) -> None:
    scenario = save(svc, user, notify=True)
    probe.fail("boom", UpstreamError("no", status=400))
    result = await run(svc, scenario, user)
    entries = [e for e in svc.store.audit_entries(user.id) if e.action == "alert.execution_failed"]
    assert [(e.object_type, e.object_id) for e in entries] == [("execution", result["id"])]
    assert (
        entries[0].details["scenario_id"] == scenario.id
        and entries[0].details["error"]["code"] == "upstream_error"
    )
    assert sink.requests == []
    quiet = save(svc, user, "Quiet")  # notify_on_error off, no rule: nothing at all
    probe.fail("boom", UpstreamError("no", status=400))
    await run(svc, quiet, user)
    assert (
        len([e for e in svc.store.audit_entries(user.id) if e.action == "alert.execution_failed"])
        == 1
    )


async def test_the_ssrf_guard_applies(
    svc: Cellwright,
    user: Any,
    probe: Any,
    sink: Any,
    make_settings: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    scenario = save(svc, user)
    rule = svc.store.create_alert_rule(user.id, webhook_url=sink.plan("/internal"))
    probe.fail("boom", UpstreamError("no", status=400))
    result = await svc.run_now(user.id, scenario.id, {}, timeout=10)
    await svc.runner.alerts.drain()
    sink.reset()
    guarded = Alerts(
        svc.store, make_settings(http_allow_private=False)
    )  # the default: no private addresses
    execution = svc.store.get_execution(user.id, result["id"])
    with caplog.at_level(logging.WARNING, logger="cellwright.alerts"):
        await guarded.execution_failed(execution, "Nightly sync", False)  # never raises
    assert sink.requests == []
    assert (
        "alert webhook on 127.0.0.1 failed: forbidden_destination" in caplog.text
        and "not retried" in caplog.text
    )
    refused = deliveries(svc, user)[0]  # never retried: a blocked destination stays blocked
    assert refused.action == "alert.delivery_failed"
    assert refused.details == {
        "rule_ids": [rule.id],
        "host": "127.0.0.1",
        "attempts": 1,
        "status": None,
        "error": "forbidden_destination",
    }


# -- retries and their audited outcome -----------------------------------------------------


async def test_a_5xx_is_retried_with_backoff_until_delivered(
    svc: Cellwright, user: Any, probe: Any, sink: Any, helpers: Any
) -> None:
    scenario = save(svc, user)
    url = sink.plan("/flaky", helpers.Reply(503), helpers.Reply(503), helpers.Reply(200))
    rule = svc.store.create_alert_rule(user.id, scenario_id=scenario.id, webhook_url=url)
    waits = svc.runner.alerts.sleep = Waits()
    probe.fail("boom", UpstreamError("no", status=400))
    result = await run(svc, scenario, user)
    hits = sink.hits("/flaky")
    assert len(hits) == 3 and hits[0].body == hits[2].body  # the same alert, three times
    assert len(waits.delays) == 2 and all(
        0 < d <= svc.settings.retry_max_seconds for d in waits.delays
    )
    [entry] = deliveries(svc, user)
    assert (entry.action, entry.object_type, entry.object_id) == (
        "alert.delivered",
        "execution",
        result["id"],
    )
    assert entry.details == {
        "rule_ids": [rule.id],
        "host": "127.0.0.1",
        "attempts": 3,
        "status": 200,
        "error": None,
    }


async def test_a_4xx_is_not_retried(
    svc: Cellwright,
    user: Any,
    probe: Any,
    sink: Any,
    helpers: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    scenario = save(svc, user)
    first = svc.store.create_alert_rule(
        user.id, scenario_id=scenario.id, webhook_url=sink.plan("/gone", helpers.Reply(404))
    )
    second = svc.store.create_alert_rule(
        user.id, webhook_url=first.webhook_url
    )  # the same URL: one POST, both rules
    probe.fail("boom", UpstreamError("no", status=400))
    with caplog.at_level(logging.WARNING, logger="cellwright.alerts"):
        result = await run(svc, scenario, user)
    assert len(sink.hits("/gone")) == 1
    [entry] = deliveries(svc, user)
    assert (entry.action, entry.object_id) == ("alert.delivery_failed", result["id"])
    assert entry.details == {
        "rule_ids": [first.id, second.id],
        "host": "127.0.0.1",
        "attempts": 1,
        "status": 404,
        "error": None,
    }
    assert "HTTP 404 after 1 attempt; not retried" in caplog.text


async def test_a_webhook_that_is_down_is_tried_alert_attempts_times(
    svc: Cellwright, user: Any, probe: Any, helpers: Any, make_settings: Any
) -> None:
    execution = await failed_execution(svc, user, probe)
    rule = svc.store.create_alert_rule(
        user.id, webhook_url=f"http://127.0.0.1:{helpers.free_port()}/hook"
    )  # nothing listens
    waits = Waits()
    await Alerts(svc.store, make_settings(alert_attempts=3), sleep=waits).execution_failed(
        execution, "Nightly sync", False
    )
    assert len(waits.delays) == 2  # three attempts, two waits
    [entry] = deliveries(svc, user)
    assert (entry.action, entry.object_id) == ("alert.delivery_failed", execution.id)
    assert entry.details == {
        "rule_ids": [rule.id],
        "host": "127.0.0.1",
        "attempts": 3,
        "status": None,
        "error": "network_error",
    }


async def test_retry_after_is_honoured_up_to_the_max_delay(
    svc: Cellwright, user: Any, probe: Any, sink: Any, helpers: Any, make_settings: Any
) -> None:
    execution = await failed_execution(svc, user, probe)
    url = sink.plan(
        "/busy",
        helpers.Reply(429, headers={"Retry-After": "7"}),
        helpers.Reply(503, headers={"Retry-After": "120"}),  # more than the cap
        helpers.Reply(204, body=""),
    )
    svc.store.create_alert_rule(user.id, webhook_url=url)
    waits = Waits()
    alerts = Alerts(
        svc.store, make_settings(retry_base_seconds=0.01, retry_max_seconds=30), sleep=waits
    )
    await alerts.execution_failed(execution, "Nightly sync", False)
    assert waits.delays == [7.0, 30.0]
    assert len(sink.hits("/busy")) == 3
    assert (
        deliveries(svc, user)[0].details["attempts"] == 3
        and deliveries(svc, user)[0].details["status"] == 204
    )


def test_retry_delay_is_the_runners_backoff_capped() -> None:
    for attempt in range(6):
        delay = retry_delay(attempt, 1.0, 8.0)
        assert (
            min(8.0, 2.0**attempt) / 2 <= delay <= min(8.0, 2.0**attempt)
        )  # exponential, with jitter
    assert retry_delay(0, 1.0, 8.0, retry_after=5) == 5  # a floor
    assert retry_delay(0, 1.0, 8.0, retry_after=3600) == 8  # capped


async def test_the_url_token_is_never_logged_or_audited(
    svc: Cellwright,
    user: Any,
    probe: Any,
    sink: Any,
    helpers: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    execution = await failed_execution(svc, user, probe)
    sink.plan("/hook", helpers.Reply(503), helpers.Reply(200))
    svc.store.create_alert_rule(user.id, webhook_url=f"{sink.url}/hook?token=secret123")
    svc.store.create_alert_rule(
        user.id,
        webhook_url=f"http://127.0.0.1:{helpers.free_port()}/down/secret123?token=secret123",
    )
    svc.store.create_alert_rule(user.id, webhook_url=f"{sink.url}/gone?token=secret123")
    sink.plan("/gone", helpers.Reply(410))
    with caplog.at_level(logging.DEBUG, logger="cellwright"):
        await svc.runner.alerts.execution_failed(execution, "Nightly sync", False)
    assert len(sink.hits("/hook")) == 2 and sink.hits("/gone")
    entries = deliveries(svc, user)
    assert sorted(e.action for e in entries) == [
        "alert.delivered",
        "alert.delivery_failed",
        "alert.delivery_failed",
    ]
    stored = json.dumps([e.to_dict() for e in svc.store.audit_entries(user.id)])
    assert "secret123" not in stored and "/hook" not in stored and "/down" not in stored
    assert caplog.records and "127.0.0.1" in caplog.text
    assert not [
        r for r in caplog.records if "secret123" in r.getMessage() or "secret123" in str(r.exc_info)
    ]


async def test_a_cancelled_retry_wait_logs_no_traceback(
    svc: Cellwright,
    user: Any,
    probe: Any,
    sink: Any,
    helpers: Any,
    make_settings: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    execution = await failed_execution(svc, user, probe)
    svc.store.create_alert_rule(user.id, webhook_url=sink.plan("/down", helpers.Reply(503)))
    alerts = Alerts(
        svc.store, make_settings(retry_base_seconds=60, retry_max_seconds=60)
    )  # the real sleep: a long wait
    with caplog.at_level(logging.DEBUG, logger="cellwright"):
        task = alerts.notify(execution, "Nightly sync", False)
        await helpers.wait_for(lambda: sink.hits("/down"))
        await asyncio.sleep(0.05)  # into the wait
        await alerts.drain(timeout=0.1)
    assert task.cancelled()  # cut short in its 60 s wait
    assert (
        len(sink.hits("/down")) == 1 and deliveries(svc, user) == []
    )  # cut short: nothing recorded
    assert "delivery cancelled after 1 attempt" in caplog.text
    assert not [r for r in caplog.records if r.exc_info]
