"""GDPR in the store: an account's rows all go (and nobody else's), a value is erased
from every execution record, retention deletes in batches; on SQLite and PostgreSQL,
with the DuckDB analytics log following through the deletion queue."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, select

from storage import ERASED, Store, User
from storage.analytics import AnalyticsLog
from storage.models import Base
from storage.records import AnalyticsFacts

SUBJECT = "grace.hopper@example.org"
#: tables whose rows are not anybody's: the audit trail is kept, the queue is the log's
NOT_OWNED = {"audit_log", "analytics_deletions", "apps", "leases", "revoked_sessions"}


def facts(name: str = "Orders", error: str | None = None) -> AnalyticsFacts:
    return {
        "scenario_name": name,
        "trigger_app": "webhook",
        "nodes": [
            {
                "cell_id": "post",
                "app": "http",
                "operation": "request",
                "kind": "action",
                "status": "failed" if error else "completed",
                "started_at": "2027-01-05T10:00:00+00:00",
                "ended_at": "2027-01-05T10:00:01+00:00",
                "duration_ms": 1000.0,
                "error": {"code": "http_error", "message": error} if error else None,
            }
        ],
    }


def run(store: Store, user: User, scenario_id: str, version: int, *, payload: Any) -> str:
    execution, _ = store.create_execution(
        scenario_id=scenario_id,
        scenario_version=version,
        user_id=user.id,
        trigger={"body": payload},
        claim_owner="test",
    )
    store.record_node_result(
        execution.id, cell_id="post", status="completed", input=payload, output={"ok": payload}
    )
    store.finish_execution(execution.id, status="completed", analytics=facts())
    return execution.id


def populate(store: Store, user: User, runs: int = 3) -> dict[str, Any]:
    """One of everything a user can own."""
    store.create_api_key(user.id, "ci")
    conn = store.create_connection(user.id, "http", "Mine", {"token": "s3cr3t-token"})
    scenario = store.save_scenario(
        user.id, {"name": "Orders", "cells": [{"id": "trigger", "type": "trigger"}]}
    )
    scenario = store.save_scenario(
        user.id,
        {"name": "Orders", "cells": [{"id": "trigger", "type": "trigger"}, {"id": "post"}]},
        scenario_id=scenario.id,
    )
    store.set_webhook_token(scenario.id, f"tok-{user.id}")
    store.save_trigger_state(scenario.id, "trigger", cursor={"at": 1}, seen_ids=["a"])
    store.create_webhook_subscription(
        scenario_id=scenario.id,
        cell_id="trigger",
        token=f"sub-{user.id}",
        app_id="http",
        state={"secret": "x"},
    )
    store.create_secret(user.id, "typed-secret")
    ids = [run(store, user, scenario.id, scenario.version, payload={"n": i}) for i in range(runs)]
    data = store.create_data_store(user.id, "crm", max_stores=10)
    store.put_data_record(user.id, data.id, "k", {"v": 1}, max_records=10)
    store.create_alert_rule(user.id, scenario_id=scenario.id)
    store.set_retention_policy(user.id, retention_days=5, retention_failed_days=None)
    return {"scenario": scenario, "connection": conn, "executions": ids}


def counts(url: str) -> dict[str, int]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {
                t.name: int(conn.execute(select(func.count()).select_from(t)).scalar_one())
                for t in Base.metadata.sorted_tables
                if t.name not in NOT_OWNED
            }
    finally:
        engine.dispose()


def test_deleting_an_account_removes_every_row_of_theirs_and_no_one_elses(
    store: Store, db_url: str, alice: User, bob: User, tmp_path: Path
) -> None:
    populate(store, bob)
    with AnalyticsLog(tmp_path / "a.duckdb", outbox=store, deletions=store) as log:
        log.flush()
        only_bob = counts(db_url)
        populate(store, alice, runs=4)
        log.flush()
        with_alice = counts(db_url)
        grew = {t for t in with_alice if with_alice[t] > only_bob[t]}
        # every table a user's data lives in got rows of Alice's
        assert grew >= {
            "api_keys",
            "connections",
            "scenarios",
            "scenario_versions",
            "scenario_executions",
            "node_results",
            "trigger_state",
            "webhook_subscriptions",
            "scenario_secrets",
            "data_stores",
            "data_records",
            "alert_rules",
            "retention_policies",
        }
        assert log.summary(alice.id)["runs"] == 4

        deleted = store.delete_account(alice.id, batch=3)  # executions in two batches

        assert counts(db_url) == {**only_bob, "users": only_bob["users"] - 1}  # Alice's row
        assert deleted["scenario_executions"] == 4
        assert deleted["users"] == 1
        assert store.get_user(alice.id) is None
        log.flush()  # the queue reaches the analytics log
        assert log.summary(alice.id)["runs"] == 0
        assert log.summary(bob.id)["runs"] == 3
        assert store.analytics_deletions_backlog() == 0


def test_a_value_is_found_across_users_and_erased_inside_the_json(
    store: Store, alice: User, bob: User, tmp_path: Path
) -> None:
    a = populate(store, alice)
    b = populate(store, bob)
    s = a["scenario"]
    hit_alice = run(store, alice, s.id, s.version, payload={"to": SUBJECT.upper(), "n": 7})
    hit_bob = run(store, bob, b["scenario"].id, b["scenario"].version, payload=f"mail {SUBJECT}")
    # waiting in the outbox with the value in an error message
    failed, _ = store.create_execution(
        scenario_id=s.id, scenario_version=s.version, user_id=alice.id, trigger={}
    )
    store.finish_execution(
        failed.id,
        status="failed",
        error={"message": f"bounced: {SUBJECT}"},
        analytics=facts(error=f"bounced: {SUBJECT}"),
    )

    found = store.find_executions_containing(SUBJECT)
    assert {m.id for m in found} == {hit_alice, hit_bob, failed.id}
    # batches: two pages of one cover the same matches, in id order
    first = store.find_executions_containing(SUBJECT, limit=2)
    rest = store.find_executions_containing(SUBJECT, after=first[-1].id, limit=2)
    assert [m.id for m in first + rest] == sorted(m.id for m in found)

    changed = store.erase_value(SUBJECT, [m.id for m in found])
    assert changed == (3, 2)  # triggers (and one error); two cells' input and output
    assert store.find_executions_containing(SUBJECT) == []
    assert store.get_execution(None, hit_alice).trigger == {"body": {"to": ERASED, "n": 7}}
    cell = store.node_results(hit_bob)[0]
    assert (cell.input, cell.output) == (f"mail {ERASED}", {"ok": f"mail {ERASED}"})
    assert store.get_execution(None, failed.id).error == {"message": f"bounced: {ERASED}"}
    untouched = store.get_execution(None, a["executions"][0])
    assert untouched.trigger == {"body": {"n": 0}}

    store.queue_analytics_erasure(SUBJECT)
    with AnalyticsLog(tmp_path / "a.duckdb", outbox=store, deletions=store) as log:
        errors = log.top_errors(alice.id)
        assert SUBJECT not in errors.to_string()
        assert f"bounced: {ERASED}" in errors.to_string()


def test_retention_deletes_expired_runs_in_batches_and_keeps_failed_ones_longer(
    store: Store, alice: User, bob: User, tmp_path: Path
) -> None:
    a = populate(store, alice, runs=5)
    populate(store, bob, runs=2)
    s = a["scenario"]
    failed, _ = store.create_execution(
        scenario_id=s.id, scenario_version=s.version, user_id=alice.id, trigger={}
    )
    store.finish_execution(failed.id, status="failed", analytics=facts(error="boom"))
    open_one, _ = store.create_execution(
        scenario_id=s.id, scenario_version=s.version, user_id=alice.id, trigger={}
    )
    later = datetime.now(UTC) + timedelta(days=10)
    batches = []
    while True:
        n = store.delete_expired_executions(
            cutoff=later,
            failed_cutoff=later - timedelta(days=30),
            user_id=alice.id,
            limit=2,
        )
        batches.append(n)
        if n < 2:
            break
    assert batches == [2, 2, 1]
    left = {e.id for e in store.list_executions(alice.id, limit=100)}
    assert left == {failed.id, open_one.id}  # failed kept longer; open runs never go
    assert len(store.list_executions(bob.id)) == 2  # another user's pass
    with AnalyticsLog(tmp_path / "a.duckdb", outbox=store, deletions=store) as log:
        assert log.summary(alice.id)["runs"] == 1
        assert log.summary(bob.id)["runs"] == 2


def test_the_call_a_wait_cell_took_is_searched_and_erased_too(store: Store, alice: User) -> None:
    a = populate(store, alice)
    s = a["scenario"]
    waiting, _ = store.create_execution(
        scenario_id=s.id, scenario_version=s.version, user_id=alice.id, trigger={}
    )
    token = store.ensure_resume_token(waiting.id)
    assert store.take_resume_call(token, {"body": {"approver": SUBJECT}})[0] == "accepted"
    assert [m.id for m in store.find_executions_containing(SUBJECT)] == [waiting.id]
    assert store.erase_value(SUBJECT, [waiting.id]) == (1, 0)
    assert store.resume_call_of(waiting.id) == {"body": {"approver": ERASED}}
    assert store.find_executions_containing(SUBJECT) == []
