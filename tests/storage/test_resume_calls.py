"""A run's resume token (Wait for a call): one call per token, decided by the store on
SQLite and PostgreSQL alike, and a park that sees a call that came while the run worked."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from storage import Execution, Scenario, Store
from storage.repos._base import utcnow


def claimed(store: Store, scenario: Scenario) -> Execution:
    execution, _ = store.create_execution(
        scenario_id=scenario.id,
        scenario_version=scenario.version,
        user_id=scenario.user_id,
        trigger={},
        claim_owner="worker",
    )
    return execution


def test_a_token_is_made_once_and_takes_one_call(store: Store, scenario: Scenario) -> None:
    execution = claimed(store, scenario)
    token = store.ensure_resume_token(execution.id)
    assert store.ensure_resume_token(execution.id) == token and len(token) >= 40
    later = utcnow() + timedelta(days=1)
    assert store.park_execution(execution.id, until=later, for_call=True) == later
    assert store.take_resume_call(token, {"body": {"ok": True}}) == ("accepted", execution.id)
    parked = store.get_execution(None, execution.id)
    assert parked is not None and parked.next_attempt_at is not None
    assert parked.next_attempt_at <= utcnow()  # due now, not tomorrow
    assert store.take_resume_call(token, {"body": {"ok": False}}) == ("used", execution.id)
    assert store.resume_call_of(execution.id) == {"body": {"ok": True}}
    assert store.take_resume_call("nope", {}) == ("unknown", None)
    store.finish_execution(execution.id, status="completed")
    assert store.take_resume_call(token, {}) == ("finished", execution.id)


def test_a_call_taken_while_the_run_works_makes_its_park_due_at_once(
    store: Store, scenario: Scenario
) -> None:
    execution = claimed(store, scenario)
    token = store.ensure_resume_token(execution.id)
    assert store.take_resume_call(token, {"body": 1})[0] == "accepted"
    assert store.get_execution(None, execution.id).status == "running"  # type: ignore[union-attr]
    due = store.park_execution(execution.id, until=utcnow() + timedelta(days=1), for_call=True)
    assert due <= utcnow()
    assert execution.id in store.reclaimable_executions()


def test_a_timed_out_wait_refuses_a_late_call(store: Store, scenario: Scenario) -> None:
    execution = claimed(store, scenario)
    token = store.ensure_resume_token(execution.id)
    assert store.expire_resume_call(execution.id) is None  # closed: it timed out
    assert store.take_resume_call(token, {"body": 1}) == ("used", execution.id)
    assert store.expire_resume_call(execution.id) == {"timed_out": True}


def test_racing_calls_get_exactly_one_acceptance(store: Store, scenario: Scenario) -> None:
    execution = claimed(store, scenario)
    token = store.ensure_resume_token(execution.id)
    store.park_execution(execution.id, until=utcnow() + timedelta(days=1), for_call=True)
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda n: store.take_resume_call(token, {"n": n})[0], range(8)))
    assert answers.count("accepted") == 1 and answers.count("used") == 7


def test_a_call_does_not_cut_short_a_retrys_backoff(store: Store, scenario: Scenario) -> None:
    execution = claimed(store, scenario)
    token = store.ensure_resume_token(execution.id)
    later = utcnow() + timedelta(minutes=5)
    store.schedule_retry(
        execution.id, next_attempt_at=later, attempt=1, error={"code": "upstream_error"}
    )
    assert store.take_resume_call(token, {"body": 1})[0] == "accepted"  # kept for the wait
    retrying = store.get_execution(None, execution.id)
    assert retrying is not None and retrying.next_attempt_at == later
