"""Alert rules: per-user storage and matching, on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import delete

from storage import AlertRule, Scenario, Store, User
from storage.models import UserRow


def test_create_and_list_are_scoped_to_the_user(
    store: Store, alice: User, bob: User, scenario: Scenario
) -> None:
    first = store.create_alert_rule(
        alice.id, scenario_id=scenario.id, webhook_url="https://hooks.example.com/a"
    )
    second = store.create_alert_rule(
        alice.id, notify_workspace=False, webhook_url="https://hooks.example.com/b"
    )
    assert isinstance(first, AlertRule)
    assert (first.user_id, first.scenario_id, first.notify_workspace) == (
        alice.id,
        scenario.id,
        True,
    )
    assert second.scenario_id is None and not second.notify_workspace
    assert first.created_at.tzinfo is not None
    assert store.list_alert_rules(alice.id) == [first, second]  # oldest first, round-trips exactly
    assert store.list_alert_rules(bob.id) == []
    assert first.to_dict()["webhook_url"] == "https://hooks.example.com/a"


def test_delete_only_your_own_rules(store: Store, alice: User, bob: User) -> None:
    rule = store.create_alert_rule(alice.id)
    assert store.delete_alert_rule(bob.id, rule.id) is False  # someone else's: untouched
    assert store.list_alert_rules(alice.id) == [rule]
    assert store.delete_alert_rule(alice.id, rule.id) is True
    assert store.delete_alert_rule(alice.id, rule.id) is False
    assert store.list_alert_rules(alice.id) == []


def test_matching_rules_are_the_scenarios_own_and_any(
    store: Store, alice: User, bob: User, make_scenario: object
) -> None:
    mine = make_scenario(alice, "Mine")  # type: ignore[operator]
    other = make_scenario(alice, "Other")  # type: ignore[operator]
    specific = store.create_alert_rule(
        alice.id, scenario_id=mine.id, webhook_url="https://h.example/1"
    )
    any_rule = store.create_alert_rule(alice.id, webhook_url="https://h.example/2")
    store.create_alert_rule(alice.id, scenario_id=other.id, webhook_url="https://h.example/3")
    store.create_alert_rule(
        bob.id, webhook_url="https://h.example/bob"
    )  # bob's "any" is not alice's
    assert store.alert_rules_for(alice.id, mine.id) == [specific, any_rule]
    assert [r.webhook_url for r in store.alert_rules_for(alice.id, other.id)] == [
        "https://h.example/2",
        "https://h.example/3",
    ]
    assert store.alert_rules_for(alice.id, "no-such-scenario") == [any_rule]
    assert [r.webhook_url for r in store.alert_rules_for(bob.id, mine.id)] == [
        "https://h.example/bob"
    ]


def test_rules_go_with_their_user(store: Store, alice: User, bob: User) -> None:
    store.create_alert_rule(alice.id)
    kept = store.create_alert_rule(bob.id)
    with store._write() as s:
        s.execute(delete(UserRow).where(UserRow.id == alice.id))
    assert store.list_alert_rules(alice.id) == []
    assert store.list_alert_rules(bob.id) == [kept]
