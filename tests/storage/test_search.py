"""Finding scenarios by name and tag, and executions by their trigger data, on both databases."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from storage import Scenario, Store, User
from storage.repos.executions import MAX_SEARCH_LENGTH


def run_of(store: Store, scenario: Scenario, trigger: dict[str, Any]) -> str:
    execution, _ = store.create_execution(
        scenario_id=scenario.id,
        scenario_version=scenario.version,
        user_id=scenario.user_id,
        trigger=trigger,
    )
    return execution.id


def names(scenarios: list[Scenario]) -> list[str]:
    return sorted(s.name for s in scenarios)


def test_scenarios_filter_by_name_and_tag(
    store: Store, alice: User, bob: User, make_scenario: Callable[..., Scenario]
) -> None:
    make_scenario(alice, "Stripe refunds to Slack", tags=["billing", "slack"])
    make_scenario(alice, "New leads", tags=["sales"])
    make_scenario(alice, "100%_sure", tags=["café"])
    make_scenario(bob, "Bob's refunds", tags=["billing"])

    assert names(store.list_scenarios(alice.id, name="REFUND")) == ["Stripe refunds to Slack"]
    assert names(store.list_scenarios(alice.id, tag="billing")) == ["Stripe refunds to Slack"]
    assert names(store.list_scenarios(alice.id, tag="café")) == [
        "100%_sure"
    ]  # decoded, not the escaped JSON
    assert store.list_scenarios(alice.id, tag="bill") == []  # a tag matches whole
    assert names(store.list_scenarios(alice.id, name="new", tag="sales")) == ["New leads"]
    assert store.list_scenarios(alice.id, name="new", tag="billing") == []
    # % and _ are themselves, not wildcards
    assert names(store.list_scenarios(alice.id, name="0%_")) == ["100%_sure"]
    assert store.list_scenarios(alice.id, name="1_0") == []
    assert len(store.list_scenarios(alice.id, name="  ")) == 3  # blank: no filter


def test_tags_follow_each_save(
    store: Store, alice: User, doc: Callable[..., dict[str, Any]]
) -> None:
    scenario = store.save_scenario(alice.id, doc(tags=["billing"]))
    assert scenario.tags == ["billing"]
    # an export leaves out an empty list: saving without "tags" clears them
    again = store.save_scenario(alice.id, doc(), scenario_id=scenario.id)
    assert again.tags == [] and store.list_scenarios(alice.id, tag="billing") == []


def test_executions_search_trigger_data(
    store: Store, scenario: Scenario, make_scenario: Callable[..., Scenario], bob: User
) -> None:
    ada = run_of(store, scenario, {"body": {"email": "Ada@Example.com", "amount": 80}})
    quote = run_of(store, scenario, {"body": {"note": 'said "hi"', "city": "Zürich"}})
    plain = run_of(store, scenario, {"body": {"email": "grace@example.com"}})
    run_of(store, make_scenario(bob, "Bob's"), {"body": {"email": "ada@example.com"}})

    def found(text: str, **filters: Any) -> list[str]:
        listed = [e.id for e in store.list_executions(scenario.user_id, search=text, **filters)]
        assert store.count_executions(scenario.user_id, search=text, **filters) == len(listed)
        return listed

    assert found("ada@example") == [ada]  # case-insensitive, only the user's own
    assert found("EXAMPLE.COM") == [plain, ada]
    assert found("amount") == [ada]  # keys too
    assert found('"amount": 80') == [ada]  # the trigger's JSON text: a key and its value
    assert found("Zürich") == [quote]
    assert found("80", status="failed") == []
    assert found("%") == [] and found("_") == []
    paged = store.list_executions(scenario.user_id, search="example", limit=1, offset=1)
    assert [e.id for e in paged] == [ada]
    assert store.count_executions(scenario.user_id, search="example") == 2
    assert len(found("")) == 3


def test_search_text_is_bounded(store: Store, scenario: Scenario) -> None:
    with pytest.raises(ValueError, match=f"at most {MAX_SEARCH_LENGTH}"):
        store.list_executions(scenario.user_id, search="x" * (MAX_SEARCH_LENGTH + 1))


def test_search_finds_non_ascii_text_in_old_escaped_rows_too(
    store: Store, scenario: Scenario
) -> None:
    """Rows written before JSON was stored as UTF-8 text hold "Z\\u00fcrich" on SQLite."""
    from sqlalchemy import text

    new = run_of(store, scenario, {"city": "Zürich"})
    old = run_of(store, scenario, {"city": "placeholder"})
    value = "CAST(:t AS JSONB)" if not store.is_sqlite else ":t"
    with store._engine.begin() as db:
        db.execute(
            text(f"UPDATE scenario_executions SET trigger = {value} WHERE id = :id"),
            {"t": '{"city": "Z\\u00fcrich"}', "id": old},
        )
    assert {e.id for e in store.list_executions(scenario.user_id, search="Zürich")} == {new, old}
