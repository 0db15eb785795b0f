"""The Store's repositories against real SQLite and PostgreSQL databases."""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, StatementError

from storage import (
    ConflictError,
    Connection,
    NotFoundError,
    Scenario,
    Store,
    User,
    Vault,
)
from storage.repos import users as users_repo

NOW = datetime.now(UTC)


def raw(store: Store, sql: str, **params: Any) -> list[Any]:
    with store._engine.connect() as conn:
        return list(conn.execute(text(sql), params))


# --------------------------------------------------------------------------- users


def test_users_are_created_found_and_listed(store: Store) -> None:
    ada = store.create_user("  Ada@Example.COM ", "Ada", password_hash="$argon2$x", is_admin=True)
    bo = store.create_user("bo@example.com")

    assert ada.email == "ada@example.com"
    assert ada.is_admin and not bo.is_admin
    assert ada.created_at.tzinfo is UTC
    assert store.get_user(ada.id) == ada
    assert store.get_user_by_email("ADA@example.com") == ada
    assert store.get_user("nope") is None
    assert store.get_user_by_email("nobody@example.com") is None
    assert [u.id for u in store.list_users()] == [ada.id, bo.id]
    assert "password_hash" not in ada.to_dict()
    assert "argon2" not in repr(ada)
    assert ada.to_dict()["created_at"] == ada.created_at.isoformat()


def test_duplicate_email_is_a_conflict(store: Store, alice: User, bob: User) -> None:
    with pytest.raises(ConflictError):
        store.create_user("ALICE@example.com")
    with pytest.raises(ConflictError):
        store.update_user(bob.id, email="alice@EXAMPLE.com")
    assert store.get_user(bob.id) == bob


def test_update_user(store: Store, alice: User) -> None:
    updated = store.update_user(
        alice.id, email="Alice2@Example.com", name="Al", password_hash="h2", is_admin=True
    )
    assert updated is not None
    assert (updated.email, updated.name, updated.password_hash, updated.is_admin) == (
        "alice2@example.com",
        "Al",
        "h2",
        True,
    )
    assert store.get_user(alice.id) == updated
    assert store.update_user(alice.id) == updated  # nothing given: nothing changes
    assert store.update_user(alice.id, is_admin=False).is_admin is False  # type: ignore[union-attr]
    assert store.update_user("missing", name="x") is None


def test_api_keys(store: Store, alice: User, bob: User) -> None:
    plaintext, key = store.create_api_key(alice.id, "ci")

    assert re.fullmatch(r"cw_[A-Za-z0-9_-]{43}", plaintext)
    assert key.prefix == plaintext[:8] and key.name == "ci" and key.last_used_at is None
    stored = raw(store, "SELECT key_hash FROM api_keys WHERE id = :id", id=key.id)
    assert stored[0][0] == hashlib.sha256(plaintext.encode()).hexdigest()

    assert store.user_for_api_key(plaintext) == alice
    assert store.list_api_keys(alice.id)[0].last_used_at is not None
    assert store.user_for_api_key(plaintext + "x") is None
    assert store.list_api_keys(bob.id) == []

    assert store.revoke_api_key(bob.id, key.id) is False  # not Bob's
    assert store.revoke_api_key(alice.id, key.id) is True
    assert store.revoke_api_key(alice.id, key.id) is False  # already revoked
    assert store.user_for_api_key(plaintext) is None
    assert store.list_api_keys(alice.id)[0].revoked_at is not None


def test_api_key_last_used_is_refreshed_at_most_once_a_minute(
    store: Store, alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    plaintext, _ = store.create_api_key(alice.id)
    store.user_for_api_key(plaintext)
    first = store.list_api_keys(alice.id)[0].last_used_at
    store.user_for_api_key(plaintext)
    assert store.list_api_keys(alice.id)[0].last_used_at == first

    monkeypatch.setattr(users_repo, "API_KEY_TOUCH_INTERVAL", timedelta(0))
    store.user_for_api_key(plaintext)
    assert store.list_api_keys(alice.id)[0].last_used_at > first


# ---------------------------------------------------------------------------- apps


def test_sync_apps_inserts_then_updates(store: Store) -> None:
    store.sync_apps(
        [
            {"id": "slack", "name": "Slack", "auth_type": "oauth2", "triggers": [{"id": "new"}]},
            {"id": "http", "name": "HTTP"},
        ]
    )
    apps = {a.id: a for a in store.list_apps()}
    assert list(apps) == ["http", "slack"]  # by name
    assert apps["http"].auth_type == "none" and apps["http"].source == "code"
    assert apps["slack"].triggers == [{"id": "new"}] and apps["slack"].actions == []

    store.sync_apps(
        [
            {"id": "slack", "name": "Slack", "description": "Chat", "category": "chat"},
            {"id": "mine", "name": "Mine", "source": "user", "auth_type": "api_key"},
            {"id": "mine", "name": "Mine v2", "source": "user", "auth_type": "api_key"},
        ]
    )
    slack = store.get_app("slack")
    assert slack is not None and slack.description == "Chat" and slack.category == "chat"
    assert slack.updated_at >= apps["slack"].updated_at
    assert store.get_app("mine").name == "Mine v2"  # type: ignore[union-attr]
    assert store.get_app("missing") is None
    assert len(store.list_apps()) == 3


@pytest.mark.parametrize(
    "app, message",
    [
        ({"id": "x", "name": "X", "colour": "red"}, "unknown app fields"),
        ({"id": "x"}, "needs an id and a name"),
        ({"id": "x", "name": "X", "auth_type": "apiKey"}, "invalid auth_type"),
        ({"id": "x", "name": "X", "source": "plugin"}, "invalid app source"),
    ],
)
def test_sync_apps_refuses_bad_entries(store: Store, app: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        store.sync_apps([app])
    assert store.list_apps() == []


# --------------------------------------------------------------------- connections


def test_connection_lifecycle(store: Store, alice: User) -> None:
    conn = store.create_connection(
        alice.id, "slack", "Work", {"token": "xoxb-1"}, metadata={"team": "T1"}, is_sandbox=True
    )
    assert not hasattr(conn, "credentials") and "credentials" not in conn.to_dict()
    assert (conn.status, conn.usage_count, conn.metadata, conn.is_sandbox) == (
        "active",
        0,
        {"team": "T1"},
        True,
    )
    assert store.get_connection(alice.id, conn.id) == conn
    assert store.connection_credentials(conn.id) == {"token": "xoxb-1"}

    other = store.create_connection(
        alice.id, "github", "Code", {}, status="error", status_message="x"
    )
    assert [c.id for c in store.list_connections(alice.id)] == [conn.id, other.id]
    assert store.list_connections(alice.id, app_id="github") == [other]

    updated = store.update_connection(
        alice.id,
        conn.id,
        name="Work 2",
        credentials={"token": "xoxb-2"},
        metadata={"team": "T2"},
        status="error",
        status_message="revoked",
    )
    assert updated is not None
    assert (updated.name, updated.metadata, updated.status, updated.status_message) == (
        "Work 2",
        {"team": "T2"},
        "error",
        "revoked",
    )
    assert updated.updated_at >= conn.updated_at
    assert store.connection_credentials(conn.id) == {"token": "xoxb-2"}
    untouched = store.update_connection(alice.id, conn.id)
    assert untouched is not None and untouched.name == "Work 2"

    store.set_connection_status(conn.id, "active")
    assert store.get_connection(alice.id, conn.id).status_message is None  # type: ignore[union-attr]
    store.touch_connection(conn.id)
    store.touch_connection(conn.id)
    touched = store.get_connection(alice.id, conn.id)
    assert touched is not None and touched.usage_count == 2 and touched.last_used is not None

    assert store.delete_connection(alice.id, conn.id) is True
    assert store.get_connection(alice.id, conn.id) is None
    assert store.delete_connection(alice.id, conn.id) is False
    with pytest.raises(NotFoundError):
        store.connection_credentials(conn.id)


def test_connection_status_is_validated(store: Store, alice: User) -> None:
    with pytest.raises(ValueError, match="invalid connection status"):
        store.create_connection(alice.id, "slack", "x", {}, status="broken")
    conn = store.create_connection(alice.id, "slack", "x", {})
    with pytest.raises(ValueError):
        store.update_connection(alice.id, conn.id, status="broken")
    with pytest.raises(ValueError):
        store.set_connection_status(conn.id, "broken")


def test_connections_are_scoped_to_their_user(store: Store, alice: User, bob: User) -> None:
    conn = store.create_connection(alice.id, "slack", "Work", {"token": "t"})

    assert store.get_connection(bob.id, conn.id) is None
    assert store.list_connections(bob.id) == []
    assert store.update_connection(bob.id, conn.id, name="mine now") is None
    assert store.delete_connection(bob.id, conn.id) is False
    assert store.scenarios_using_connection(bob.id, conn.id) == []
    assert store.get_connection(alice.id, conn.id) == conn  # untouched


def test_connection_webhook_tokens_are_made_on_demand_and_owned(
    store: Store, alice: User, bob: User
) -> None:
    """``/hooks/apps/<app>/<token>``: one random URL-safe token per connection, made when
    first asked for, then stable; only the owner gets it; the token finds the connection."""
    work = store.create_connection(alice.id, "slack", "Work", {"signing_secret": "s"})
    home = store.create_connection(alice.id, "slack", "Home", {})
    token = store.connection_webhook_token(alice.id, work.id)
    assert token is not None and re.fullmatch(r"[A-Za-z0-9_-]{32}", token)
    assert store.connection_webhook_token(alice.id, work.id) == token  # stable
    other = store.connection_webhook_token(alice.id, home.id)
    assert other is not None and other != token
    assert store.connection_webhook_token(bob.id, work.id) is None  # not Bob's
    assert store.connection_webhook_token(alice.id, "missing") is None
    found = store.connection_by_webhook_token(token)
    assert found is not None and (found.id, found.user_id) == (work.id, alice.id)
    assert found == store.get_connection(alice.id, work.id)  # the record carries no token
    assert store.connection_by_webhook_token("no-such-token") is None
    store.update_connection(alice.id, work.id, credentials={"signing_secret": "new"})
    assert store.connection_webhook_token(alice.id, work.id) == token  # kept across edits
    assert store.delete_connection(alice.id, work.id)
    assert store.connection_by_webhook_token(token) is None


def test_connection_webhook_tokens_are_unique(store: Store, alice: User) -> None:
    conn = store.create_connection(alice.id, "slack", "Work", {})
    twin = store.create_connection(alice.id, "slack", "Twin", {})
    token = store.connection_webhook_token(alice.id, conn.id)
    with pytest.raises(IntegrityError), store._write() as s:  # the database refuses a duplicate too
        s.execute(
            text("UPDATE connections SET webhook_token = :t WHERE id = :id"),
            {"t": token, "id": twin.id},
        )


def test_concurrent_first_requests_share_one_token(store: Store, alice: User) -> None:
    conn = store.create_connection(alice.id, "slack", "Work", {})
    with ThreadPoolExecutor(4) as pool:
        tokens = set(
            pool.map(lambda _: store.connection_webhook_token(alice.id, conn.id), range(8))
        )
    assert len(tokens) == 1 and None not in tokens


def test_scenarios_using_connection(
    doc: Callable[..., dict[str, Any]],
    store: Store,
    alice: User,
    bob: User,
    make_scenario: Callable[..., Scenario],
) -> None:
    conn = store.create_connection(alice.id, "slack", "Work", {})
    nodes = [{"cell_id": "post", "type": "action", "app_id": "slack", "connection_id": conn.id}]
    using = store.save_scenario(alice.id, doc("uses it"), nodes=nodes)
    make_scenario(alice, "does not")
    store.save_scenario(bob.id, doc("bob's"), nodes=nodes)

    assert [s.id for s in store.scenarios_using_connection(alice.id, conn.id)] == [using.id]


# ----------------------------------------------------------------------- scenarios


def test_save_scenario_creates_then_versions(
    doc: Callable[..., dict[str, Any]], store: Store, alice: User
) -> None:
    doc1 = doc(
        "Orders", description="d1", schedule={"cron": "*/5 * * * *"}, settings={"retry_count": 3}
    )
    created = store.save_scenario(alice.id, doc1)
    assert (created.version, created.status, created.name, created.description) == (
        1,
        "draft",
        "Orders",
        "d1",
    )
    assert created.schedule == {"cron": "*/5 * * * *"}
    assert created.error_handling == {"retry_count": 3, "notify_on_error": False}
    assert created.document == doc1 and created.last_run is None and created.webhook_token is None

    doc2 = {"name": "Orders v2", "settings": {"notify_on_error": True}, "schedule": None}
    updated = store.save_scenario(alice.id, doc2, scenario_id=created.id)
    assert updated.version == 2 and updated.name == "Orders v2"
    assert updated.description == "d1"  # absent from the document: kept
    assert updated.schedule is None
    # the row says what the new document does: no retry_count there is the default
    assert updated.error_handling == {"retry_count": 2, "notify_on_error": True}
    assert updated.created_at == created.created_at and updated.updated_at >= created.updated_at

    assert store.scenario_document(created.id) == doc2
    assert store.scenario_document(created.id, version=1) == doc1
    assert store.scenario_document(created.id, version=2) == doc2
    assert store.scenario_document(created.id, version=3) is None
    assert store.scenario_document("missing") is None
    assert store.get_scenario(alice.id, created.id) == updated
    assert store.get_scenario_any(created.id) == updated
    assert store.get_scenario_any("missing") is None


def test_untitled_scenario_defaults(store: Store, alice: User) -> None:
    scenario = store.save_scenario(alice.id, {"cells": []})
    assert scenario.name == "Untitled scenario" and scenario.description == ""
    assert scenario.error_handling == {"retry_count": 2, "notify_on_error": False}
    assert scenario.to_dict()["document"] == {"cells": []}


def test_saving_drafts_and_publishing_a_version(
    doc: Callable[..., dict[str, Any]], store: Store, alice: User, bob: User
) -> None:
    created = store.save_scenario(alice.id, doc("v1"))
    assert created.live_version is None  # never published
    assert created.to_dict()["live_version"] is None
    published = store.publish_scenario(alice.id, created.id)  # the latest
    assert (published.version, published.live_version) == (1, 1)
    assert published.updated_at >= created.updated_at

    draft = store.save_scenario(alice.id, doc("v2"), scenario_id=created.id)
    assert (draft.version, draft.live_version) == (2, 1)  # saving never changes what runs
    assert draft.document == doc("v2") and draft.to_dict()["live_version"] == 1
    assert store.publish_scenario(alice.id, created.id).live_version == 2
    rolled_back = store.publish_scenario(alice.id, created.id, version=1)
    assert (rolled_back.version, rolled_back.live_version) == (2, 1)
    assert store.get_scenario(alice.id, created.id) == rolled_back

    for missing in (0, 3):
        with pytest.raises(NotFoundError, match=f"has no version {missing}"):
            store.publish_scenario(alice.id, created.id, version=missing)
    with pytest.raises(NotFoundError):
        store.publish_scenario(bob.id, created.id)
    with pytest.raises(NotFoundError):
        store.publish_scenario(alice.id, "missing")
    assert store.get_scenario_any(created.id) == rolled_back  # refusals change nothing


def test_nodes_are_derived_from_each_save(
    doc: Callable[..., dict[str, Any]], store: Store, alice: User
) -> None:
    nodes = [
        {"cell_id": "new_order", "type": "trigger", "app_id": "shopify", "operation": "new_order"},
        {"cell_id": "route", "type": "condition", "name": "Route"},
        {
            "cell_id": "big",
            "type": "action",
            "parent_cell_id": "route",
            "branch": "big",
            "position": 0,
            "config": {"channel": "#sales"},
            "input_mappings": {"text": "{{steps.new_order.total}}"},
            "output_mappings": {"ts": "ts"},
            "conditions": [{"field": "total", "op": ">", "value": 100}],
        },
        {"cell_id": "note", "type": "transformer", "parent_cell_id": "big", "position": 0},
        {
            "cell_id": "small",
            "type": "action",
            "parent_cell_id": "route",
            "branch": "else",
            "position": 1,
        },
    ]
    # children listed before their parents are inserted after them
    scenario = store.save_scenario(alice.id, doc(), nodes=nodes[::-1])
    rows = {n.cell_id: n for n in store.list_nodes(scenario.id)}

    assert set(rows) == {"new_order", "route", "big", "note", "small"}
    assert rows["big"].parent_id == rows["route"].id and rows["big"].parent_cell_id == "route"
    assert rows["note"].parent_id == rows["big"].id
    assert rows["small"].branch == "else" and rows["small"].position == 1
    assert rows["new_order"].parent_id is None and rows["new_order"].position == 4  # list index
    assert rows["big"].config == {"channel": "#sales"}
    assert rows["big"].conditions == [{"field": "total", "op": ">", "value": 100}]
    assert rows["route"].config == {} and rows["route"].conditions is None
    assert rows["route"].name == "Route" and rows["note"].name == ""

    store.save_scenario(alice.id, doc(), scenario_id=scenario.id)  # nodes=None: kept
    assert len(store.list_nodes(scenario.id)) == 5
    store.save_scenario(alice.id, doc(), scenario_id=scenario.id, nodes=nodes[:1])
    assert [n.cell_id for n in store.list_nodes(scenario.id)] == ["new_order"]
    store.save_scenario(alice.id, doc(), scenario_id=scenario.id, nodes=[])
    assert store.list_nodes(scenario.id) == []


@pytest.mark.parametrize(
    "nodes, error, message",
    [
        ([{"cell_id": "a", "type": "action", "colour": 1}], ValueError, "unknown node fields"),
        ([{"type": "action"}], ValueError, "has no cell_id"),
        ([{"cell_id": "a", "type": "router"}], ValueError, "invalid type of cell"),
        ([{"cell_id": "a", "type": "action"}] * 2, ConflictError, "used twice"),
        (
            [{"cell_id": "a", "type": "action", "parent_cell_id": "zz"}],
            ValueError,
            "unknown parent",
        ),
        (
            [
                {"cell_id": "a", "type": "condition", "parent_cell_id": "b"},
                {"cell_id": "b", "type": "condition", "parent_cell_id": "a"},
            ],
            ValueError,
            "cycle",
        ),
    ],
)
def test_bad_nodes_are_refused_and_nothing_is_saved(
    store: Store, scenario: Scenario, nodes: list[dict[str, Any]], error: type, message: str
) -> None:
    with pytest.raises(error, match=message):
        store.save_scenario(scenario.user_id, {"name": "bad"}, scenario_id=scenario.id, nodes=nodes)
    assert store.get_scenario_any(scenario.id) == scenario  # rolled back, version unchanged


def test_scenarios_are_scoped_to_their_user(
    store: Store, alice: User, bob: User, scenario: Scenario
) -> None:
    assert store.get_scenario(bob.id, scenario.id) is None
    assert store.list_scenarios(bob.id) == []
    with pytest.raises(NotFoundError):
        store.save_scenario(bob.id, {"name": "hijack"}, scenario_id=scenario.id)
    assert store.set_scenario_status(bob.id, scenario.id, "active") is None
    assert store.delete_scenario(bob.id, scenario.id) is False
    assert store.get_scenario(alice.id, scenario.id) == scenario
    with pytest.raises(NotFoundError):
        store.save_scenario(alice.id, {}, scenario_id="missing")


def test_status_lists_and_active_scenarios(
    store: Store, alice: User, bob: User, make_scenario: Callable[..., Scenario]
) -> None:
    a1, a2, b1 = make_scenario(alice, "a1"), make_scenario(alice, "a2"), make_scenario(bob, "b1")
    assert [s.id for s in store.list_scenarios(alice.id)] == [a2.id, a1.id]  # recent first

    activated = store.set_scenario_status(alice.id, a1.id, "active")
    assert activated is not None and activated.status == "active"
    store.set_scenario_status(bob.id, b1.id, "active")
    assert {s.id for s in store.active_scenarios()} == {a1.id, b1.id}
    assert [s.id for s in store.active_scenarios(alice.id)] == [a1.id]
    assert [s.id for s in store.active_scenarios(bob.id)] == [b1.id]
    with pytest.raises(ValueError, match="invalid scenario status"):
        store.set_scenario_status(alice.id, a2.id, "enabled")


def test_webhook_tokens(store: Store, alice: User, make_scenario: Callable[..., Scenario]) -> None:
    one, two = make_scenario(alice), make_scenario(alice)
    store.set_webhook_token(one.id, "tok-1")
    assert store.scenario_by_webhook_token("tok-1").id == one.id  # type: ignore[union-attr]
    assert store.get_scenario_any(one.id).webhook_token == "tok-1"  # type: ignore[union-attr]
    with pytest.raises(ConflictError):
        store.set_webhook_token(two.id, "tok-1")
    store.set_webhook_token(one.id, None)
    assert store.scenario_by_webhook_token("tok-1") is None


def test_delete_scenario_takes_everything_with_it(
    doc: Callable[..., dict[str, Any]], store: Store, alice: User, scenario: Scenario
) -> None:
    store.save_scenario(
        alice.id,
        doc(),
        scenario_id=scenario.id,
        nodes=[{"cell_id": "t", "type": "trigger"}],
    )
    execution, _ = store.create_execution(
        scenario_id=scenario.id, scenario_version=1, user_id=alice.id, trigger={}
    )
    store.record_node_result(execution.id, cell_id="t", status="completed")
    store.save_trigger_state(scenario.id, "t", cursor={"since": 1})
    store.create_webhook_subscription(scenario_id=scenario.id, cell_id="t", token="w", app_id="x")

    assert store.delete_scenario(alice.id, scenario.id) is True
    for table in (
        "scenarios",
        "scenario_versions",
        "nodes",
        "scenario_executions",
        "node_results",
        "trigger_state",
        "webhook_subscriptions",
    ):
        assert raw(store, f"SELECT count(*) FROM {table}")[0][0] == 0, table
    assert store.delete_scenario(alice.id, scenario.id) is False


# ---------------------------------------------------------------------- executions


def new_execution(store: Store, scenario: Scenario, **kwargs: Any) -> Any:
    execution, created = store.create_execution(
        scenario_id=scenario.id,
        scenario_version=scenario.version,
        user_id=scenario.user_id,
        trigger=kwargs.pop("trigger", {"order": 1}),
        **kwargs,
    )
    assert created
    return execution


def test_create_and_get_execution(store: Store, scenario: Scenario, bob: User) -> None:
    execution = new_execution(store, scenario, rerun_of="abc", resume_from="post")
    assert (execution.status, execution.attempt, execution.trigger) == ("queued", 0, {"order": 1})
    assert (execution.rerun_of, execution.resume_from) == ("abc", "post")
    assert execution.start_time is None and execution.created_at.tzinfo is UTC

    assert store.get_execution(None, execution.id) == execution
    assert store.get_execution(scenario.user_id, execution.id) == execution
    assert store.get_execution(bob.id, execution.id) is None
    assert store.get_execution(None, "missing") is None
    assert store.list_executions(bob.id) == [] and store.count_executions(bob.id) == 0
    assert execution.to_dict()["created_at"] == execution.created_at.isoformat()


def test_create_execution_refuses_unknown_references(store: Store, scenario: Scenario) -> None:
    with pytest.raises(ValueError, match="invalid execution status"):
        new_execution(store, scenario, status="done")
    with pytest.raises(IntegrityError):  # no such version: not mistaken for a duplicate
        store.create_execution(
            scenario_id=scenario.id,
            scenario_version=9,
            user_id=scenario.user_id,
            trigger={},
            idempotency_key="k",
        )


def test_idempotency_key_dedupes(
    store: Store, scenario: Scenario, make_scenario: Callable[..., Scenario]
) -> None:
    first = new_execution(store, scenario, idempotency_key="evt_1")
    again, created = store.create_execution(
        scenario_id=scenario.id,
        scenario_version=1,
        user_id=scenario.user_id,
        trigger={"other": True},
        idempotency_key="evt_1",
    )
    assert not created and again == first
    # the key is per scenario, and executions without a key never collide
    other = make_scenario(store.get_user(scenario.user_id))
    new_execution(store, other, idempotency_key="evt_1")
    new_execution(store, scenario)
    new_execution(store, scenario)
    assert store.count_executions(scenario.user_id) == 4


def test_idempotency_key_race(store: Store, scenario: Scenario) -> None:
    threads = 8
    barrier = threading.Barrier(threads)

    def create(_: int) -> tuple[str, bool]:
        barrier.wait()
        execution, created = store.create_execution(
            scenario_id=scenario.id,
            scenario_version=1,
            user_id=scenario.user_id,
            trigger={},
            idempotency_key="same-event",
        )
        return execution.id, created

    with ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(create, range(threads)))
    assert sum(created for _, created in results) == 1
    assert len({execution_id for execution_id, _ in results}) == 1
    assert store.count_executions(scenario.user_id) == 1


def test_idempotency_race_loser_reads_the_winner(
    store: Store, scenario: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pre-check misses (another process inserts in between): the insert fails on the
    unique constraint and the existing execution is returned."""
    winner = new_execution(store, scenario, idempotency_key="evt")
    real = store._by_idempotency_key
    calls = []

    def miss_first(scenario_id: str, key: str) -> Any:
        calls.append(key)
        return None if len(calls) == 1 else real(scenario_id, key)

    monkeypatch.setattr(store, "_by_idempotency_key", miss_first)
    execution, created = store.create_execution(
        scenario_id=scenario.id,
        scenario_version=1,
        user_id=scenario.user_id,
        trigger={},
        idempotency_key="evt",
    )
    assert (execution, created, len(calls)) == (winner, False, 2)


def test_claim_is_exclusive(store: Store, scenario: Scenario) -> None:
    execution = new_execution(store, scenario)
    threads = 12
    barrier = threading.Barrier(threads)

    def claim(i: int) -> Any:
        barrier.wait()
        return store.claim_execution(execution.id, f"worker-{i}", 30)

    with ThreadPoolExecutor(threads) as pool:
        claims = [c for c in pool.map(claim, range(threads)) if c is not None]
    assert len(claims) == 1
    claimed = claims[0]
    assert claimed.status == "running" and claimed.start_time is not None
    assert claimed.lease_until > datetime.now(UTC) + timedelta(seconds=25)
    assert store.get_execution(None, execution.id).lease_owner == claimed.lease_owner  # type: ignore[union-attr]


def test_claim_respects_leases_and_retries(store: Store, scenario: Scenario) -> None:
    execution = new_execution(store, scenario)
    first = store.claim_execution(execution.id, "a", -1)  # a lease that has already expired
    assert first is not None
    reclaimed = store.claim_execution(execution.id, "b", 60)
    assert reclaimed is not None and reclaimed.lease_owner == "b"
    assert reclaimed.start_time == first.start_time  # set once, on the first claim
    assert store.claim_execution(execution.id, "c", 60) is None  # b's lease holds

    assert store.extend_lease(execution.id, "c", 60) is False
    assert store.extend_lease(execution.id, "b", 120) is True
    assert store.get_execution(None, execution.id).lease_until > NOW + timedelta(seconds=100)  # type: ignore[union-attr]

    later = datetime.now(UTC) + timedelta(hours=1)
    store.schedule_retry(
        execution.id, next_attempt_at=later, attempt=1, error={"code": "rate_limited"}
    )
    waiting = store.get_execution(None, execution.id)
    assert waiting is not None
    assert (waiting.status, waiting.attempt, waiting.error) == (
        "waiting",
        1,
        {"code": "rate_limited"},
    )
    assert waiting.lease_owner is None and waiting.lease_until is None
    assert waiting.next_attempt_at == later
    assert store.next_retry_due() == later
    assert store.claim_execution(execution.id, "c", 60) is None  # not due yet
    assert store.extend_lease(execution.id, "b", 60) is False  # b let go

    store.schedule_retry(
        execution.id, next_attempt_at=NOW - timedelta(seconds=1), attempt=2, error={}
    )
    retried = store.claim_execution(execution.id, "c", 60)
    assert retried is not None and retried.attempt == 2 and retried.next_attempt_at is None
    assert store.next_retry_due() is None

    store.finish_execution(execution.id, status="completed")
    assert store.claim_execution(execution.id, "d", -1) is None  # finished: never claimable
    assert store.extend_lease(execution.id, "c", 60) is False
    assert store.claim_execution("missing", "d", 60) is None


def test_finish_execution(store: Store, scenario: Scenario) -> None:
    execution = new_execution(store, scenario)
    claimed = store.claim_execution(execution.id, "w", 60)
    assert claimed is not None
    time.sleep(0.01)
    done = store.finish_execution(execution.id, status="failed", error={"code": "upstream_error"})
    assert (done.status, done.error) == ("failed", {"code": "upstream_error"})
    assert done.end_time is not None and done.duration_ms is not None and done.duration_ms >= 10
    assert done.lease_owner is None and done.lease_until is None
    assert store.get_scenario_any(scenario.id).last_run == claimed.start_time  # type: ignore[union-attr]

    # never claimed (e.g. cancelled while queued): duration 0, last_run only moves forward
    older = new_execution(store, scenario)
    cancelled = store.finish_execution(older.id, status="cancelled")
    assert cancelled.duration_ms == 0 and cancelled.start_time is None
    assert cancelled.error is None
    assert raw(store, "SELECT count(*) FROM scenario_executions WHERE error IS NULL")[0][0] == 1
    assert store.get_scenario_any(scenario.id).last_run == cancelled.end_time  # type: ignore[union-attr]

    with pytest.raises(ValueError, match="invalid final execution status"):
        store.finish_execution(execution.id, status="running")
    with pytest.raises(NotFoundError):
        store.finish_execution("missing", status="completed")


def test_last_run_never_moves_back(store: Store, scenario: Scenario) -> None:
    early = new_execution(store, scenario)
    late = new_execution(store, scenario)
    store.claim_execution(early.id, "w", 60)
    time.sleep(0.005)
    late_claim = store.claim_execution(late.id, "w", 60)
    store.finish_execution(late.id, status="completed")
    store.finish_execution(early.id, status="completed")  # finishes last, started first
    assert store.get_scenario_any(scenario.id).last_run == late_claim.start_time  # type: ignore[union-attr]


def test_node_results_keep_recording_order(store: Store, scenario: Scenario) -> None:
    execution = new_execution(store, scenario)
    t0 = datetime.now(UTC)
    first = store.record_node_result(
        execution.id,
        cell_id="trigger",
        status="completed",
        start_time=t0,
        end_time=t0 + timedelta(milliseconds=250),
        input={"a": 1},
        output={"b": [1, 2]},
    )
    assert first.seq == 0 and first.duration_ms == 250 and first.output == {"b": [1, 2]}
    store.record_node_result(
        execution.id, cell_id="post", status="failed", attempt=0, error={"code": "x"}
    )
    store.record_node_result(
        execution.id, cell_id="post", status="completed", attempt=1, duration_ms=5
    )
    store.record_node_result(execution.id, cell_id="after", status="skipped")

    results = store.node_results(execution.id)
    assert [(r.cell_id, r.status, r.attempt, r.seq) for r in results] == [
        ("trigger", "completed", 0, 0),
        ("post", "failed", 0, 1),
        ("post", "completed", 1, 2),
        ("after", "skipped", 0, 3),
    ]
    assert results[0] == first and results[2].duration_ms == 5 and results[3].output is None
    assert store.node_results("missing") == []
    with pytest.raises(ValueError, match="invalid node result status"):
        store.record_node_result(execution.id, cell_id="x", status="ok")
    with pytest.raises(IntegrityError):
        store.record_node_result("missing", cell_id="x", status="completed")


def test_node_results_concurrent_writers_get_distinct_seqs(
    store: Store, scenario: Scenario
) -> None:
    """Parallel branches of one execution record at once (on PostgreSQL two writers may
    read the same max(seq); the loser retries)."""
    execution = new_execution(store, scenario)
    threads = 8
    barrier = threading.Barrier(threads)

    def record(i: int) -> int:
        barrier.wait()
        return store.record_node_result(execution.id, cell_id=f"c{i}", status="completed").seq

    with ThreadPoolExecutor(threads) as pool:
        seqs = list(pool.map(record, range(threads)))
    assert sorted(seqs) == list(range(threads))
    assert [r.seq for r in store.node_results(execution.id)] == list(range(threads))


def test_list_and_count_executions(
    store: Store, scenario: Scenario, make_scenario: Callable[..., Scenario], alice: User
) -> None:
    other = make_scenario(alice, "other")
    ids = [new_execution(store, scenario).id for _ in range(5)]
    other_id = new_execution(store, other).id
    store.claim_execution(ids[0], "w", 60)
    store.finish_execution(ids[0], status="failed")

    listed = store.list_executions(alice.id)
    assert [e.id for e in listed] == [other_id, *ids[::-1]]  # newest first
    assert store.count_executions(alice.id) == 6
    assert [e.id for e in store.list_executions(alice.id, scenario_id=other.id)] == [other_id]
    assert [e.id for e in store.list_executions(alice.id, status="failed")] == [ids[0]]
    assert store.count_executions(alice.id, scenario_id=scenario.id, status="queued") == 4
    assert [e.id for e in store.list_executions(alice.id, limit=2, offset=1)] == [ids[4], ids[3]]

    pivot = store.get_execution(None, ids[2]).created_at  # type: ignore[union-attr]
    since = [e.id for e in store.list_executions(alice.id, since=pivot)]
    assert since == [other_id, ids[4], ids[3], ids[2]]
    assert [e.id for e in store.list_executions(alice.id, until=pivot)] == [ids[1], ids[0]]
    assert store.count_executions(alice.id, since=pivot, until=pivot + timedelta(days=1)) == 4


def test_reclaimable_executions(store: Store, scenario: Scenario) -> None:
    queued = new_execution(store, scenario).id
    leased = new_execution(store, scenario).id
    expired = new_execution(store, scenario).id
    waiting_later = new_execution(store, scenario).id
    waiting_due = new_execution(store, scenario).id
    finished = new_execution(store, scenario).id
    store.claim_execution(leased, "w", 60)
    store.claim_execution(expired, "w", -1)
    store.schedule_retry(
        waiting_later, next_attempt_at=NOW + timedelta(hours=1), attempt=1, error={}
    )
    store.schedule_retry(
        waiting_due, next_attempt_at=NOW - timedelta(seconds=1), attempt=1, error={}
    )
    store.finish_execution(finished, status="completed")

    assert store.reclaimable_executions() == [queued, expired, waiting_due]
    assert store.reclaimable_executions(limit=1) == [queued]
    in_two_hours = datetime.now(UTC) + timedelta(hours=2)
    assert store.reclaimable_executions(now=in_two_hours) == [
        queued,
        leased,
        expired,
        waiting_later,
        waiting_due,
    ]


def test_retention_deletes_finished_executions_and_keeps_open_ones(
    store: Store, scenario: Scenario
) -> None:
    done = new_execution(store, scenario).id
    store.record_node_result(done, cell_id="t", status="completed")
    store.finish_execution(done, status="completed")
    still_queued = new_execution(store, scenario).id
    cutoff = datetime.now(UTC)
    recent = new_execution(store, scenario).id
    store.finish_execution(recent, status="completed")

    assert store.delete_expired_executions(cutoff=cutoff, failed_cutoff=cutoff) == 1
    assert store.get_execution(None, done) is None
    assert store.node_results(done) == []
    assert raw(store, "SELECT count(*) FROM node_results")[0][0] == 0
    assert store.get_execution(None, still_queued) is not None
    assert store.get_execution(None, recent) is not None
    assert store.delete_expired_executions(cutoff=cutoff, failed_cutoff=cutoff) == 0


def test_naive_datetimes_are_refused(store: Store, scenario: Scenario) -> None:
    execution = new_execution(store, scenario)
    with pytest.raises(StatementError, match="naive datetime"):
        store.schedule_retry(execution.id, next_attempt_at=datetime.now(), attempt=1, error={})


# ------------------------------------------------------------------- trigger state


def test_trigger_state(store: Store, scenario: Scenario) -> None:
    assert store.get_trigger_state(scenario.id, "poll") is None
    baseline = datetime(2026, 1, 1, tzinfo=UTC)
    created = store.save_trigger_state(
        scenario.id, "poll", cursor={"after": "c1"}, baseline_at=baseline
    )
    assert (
        created.cursor == {"after": "c1"}
        and created.seen_ids == []
        and created.baseline_at == baseline
    )
    assert created.next_poll_at is None

    next_poll = datetime.now(UTC) + timedelta(minutes=5)
    updated = store.save_trigger_state(
        scenario.id, "poll", seen_ids=["a", "b"], next_poll_at=next_poll
    )
    assert updated.cursor == {"after": "c1"}  # None keeps the stored value
    assert updated.seen_ids == ["a", "b"] and updated.next_poll_at == next_poll
    assert updated.baseline_at == baseline and updated.updated_at >= created.updated_at
    assert store.get_trigger_state(scenario.id, "poll") == updated

    store.save_trigger_state(scenario.id, "other", cursor=1)
    store.delete_trigger_state(scenario.id, "poll")
    assert store.get_trigger_state(scenario.id, "poll") is None
    assert store.get_trigger_state(scenario.id, "other") is not None
    store.delete_trigger_state(scenario.id)
    assert store.get_trigger_state(scenario.id, "other") is None


# ----------------------------------------------------------- webhook subscriptions


def test_webhook_subscriptions(store: Store, scenario: Scenario) -> None:
    sub = store.create_webhook_subscription(
        scenario_id=scenario.id,
        cell_id="t",
        token="tok",
        app_id="stripe",
        connection_id="c1",
        external_id="we_1",
        state={"secret": "whsec_1"},
    )
    assert sub.state == {"secret": "whsec_1"}
    assert "state" not in sub.to_dict() and "whsec" not in repr(sub)
    assert store.webhook_subscription_by_token("tok") == sub
    assert store.webhook_subscription_by_token("nope") is None

    bare = store.create_webhook_subscription(
        scenario_id=scenario.id, cell_id="u", token="tok2", app_id="x"
    )
    assert bare.state == {} and bare.external_id is None
    assert store.webhook_subscriptions(scenario.id) == [sub, bare]

    updated = store.update_webhook_subscription(bare.id, external_id="ext", state={"k": "v"})
    assert updated is not None and (updated.external_id, updated.state) == ("ext", {"k": "v"})
    assert store.webhook_subscription_by_token("tok2") == updated
    assert store.update_webhook_subscription(bare.id) == updated
    assert store.update_webhook_subscription("missing", external_id="x") is None

    with pytest.raises(ConflictError):
        store.create_webhook_subscription(
            scenario_id=scenario.id, cell_id="v", token="tok", app_id="x"
        )
    with pytest.raises(IntegrityError):  # unknown scenario: not reported as a token conflict
        store.create_webhook_subscription(
            scenario_id="missing", cell_id="v", token="t3", app_id="x"
        )

    store.delete_webhook_subscription(sub.id)
    assert store.webhook_subscriptions(scenario.id) == [updated]


# --------------------------------------------------------------------------- audit


def test_audit_log(store: Store, alice: User, bob: User) -> None:
    store.audit(alice.id, "connection.create", "connection", "c1", {"app": "slack"})
    store.audit(bob.id, "login", "user")
    store.audit(None, "vault.rotate", "vault")

    entries = store.audit_entries()
    assert [e.action for e in entries] == ["vault.rotate", "login", "connection.create"]
    mine = store.audit_entries(alice.id)
    assert len(mine) == 1 and mine[0].details == {"app": "slack"} and mine[0].object_id == "c1"
    assert mine[0].to_dict()["at"] == mine[0].at.isoformat()
    assert len(store.audit_entries(limit=2)) == 2


# ------------------------------------------------------------------ the Store itself


def test_for_data_dir_creates_database_and_vault(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with Store.for_data_dir(data_dir) as store:
        store.migrate()
        user = store.create_user("a@example.com")
        conn = store.create_connection(user.id, "slack", "x", {"token": "t"})
        assert store.is_sqlite and "cellwright.db" in repr(store)
    assert (data_dir / "cellwright.db").exists() and (data_dir / "vault.key").exists()

    with Store.for_data_dir(data_dir) as reopened:  # same key file: still readable
        assert reopened.connection_credentials(conn.id) == {"token": "t"}
        assert reopened.vault.key_ids == Vault.from_key_file(data_dir / "vault.key").key_ids


def test_for_data_dir_with_url_and_vault(tmp_path: Path, vault: Vault) -> None:
    url = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    with Store.for_data_dir(tmp_path / "d", vault=vault, url=url) as store:
        assert store.vault is vault and "elsewhere.db" in repr(store)
    assert not (tmp_path / "d" / "vault.key").exists()


@pytest.mark.parametrize(
    "url", ["sqlite://", "sqlite:///:memory:", "sqlite:///file:x?mode=memory&uri=true"]
)
def test_in_memory_sqlite_is_refused(url: str, vault: Vault) -> None:
    with pytest.raises(ValueError, match="file-backed"):
        Store(url, vault)


def test_repr_hides_the_password(vault: Vault) -> None:
    store = Store("postgresql+psycopg://cw:hunter2@db.invalid/cw", vault)
    assert "hunter2" not in repr(store) and "db.invalid" in repr(store)
    store.close()


# ------------------------------------------------------------ SQLite under threads


def test_sqlite_concurrent_writers_never_hit_database_is_locked(
    doc: Callable[..., dict[str, Any]], sqlite_store: Store, tmp_path: Path
) -> None:
    store = sqlite_store
    user = store.create_user("load@example.com")
    scenario = store.save_scenario(user.id, doc())
    threads, per_thread = 8, 200

    def work(t: int) -> int:
        for i in range(per_thread):
            execution, _ = store.create_execution(
                scenario_id=scenario.id,
                scenario_version=1,
                user_id=user.id,
                trigger={"t": t, "i": i},
                idempotency_key=f"{t}-{i}",
            )
            store.record_node_result(
                execution.id, cell_id="trigger", status="completed", output={"i": i}
            )
        return per_thread

    with ThreadPoolExecutor(threads) as pool:
        assert sum(pool.map(work, range(threads))) == threads * per_thread  # re-raises any error
    assert store.count_executions(user.id) == threads * per_thread
    assert raw(store, "SELECT count(*) FROM node_results")[0][0] == threads * per_thread
    assert raw(store, "PRAGMA journal_mode")[0][0] == "wal"
    assert raw(store, "PRAGMA foreign_keys")[0][0] == 1


def test_sqlite_two_stores_on_one_file_share_it(
    doc: Callable[..., dict[str, Any]], sqlite_url: str, vault: Vault
) -> None:
    """Two processes (here: two Store objects, each with its own lock) writing one file
    wait on each other through BEGIN IMMEDIATE + busy_timeout instead of failing."""
    with Store(sqlite_url, vault) as one, Store(sqlite_url, vault) as two:
        user = one.create_user("two@example.com")
        scenario = one.save_scenario(user.id, doc())

        def work(store: Store) -> None:
            for i in range(100):
                e, _ = store.create_execution(
                    scenario_id=scenario.id, scenario_version=1, user_id=user.id, trigger={"i": i}
                )
                store.record_node_result(e.id, cell_id="t", status="completed")

        with ThreadPoolExecutor(4) as pool:
            list(pool.map(work, [one, two, one, two]))
        assert two.count_executions(user.id) == 400


def test_hot_path_throughput(
    doc: Callable[..., dict[str, Any]], store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    """Not asserted: prints executions/s for create + 4 node results + finish."""
    user = store.create_user("speed@example.com")
    scenario = store.save_scenario(user.id, doc())
    count = 300 if store.is_sqlite else 100
    started = time.perf_counter()
    for i in range(count):
        execution, _ = store.create_execution(
            scenario_id=scenario.id, scenario_version=1, user_id=user.id, trigger={"i": i}
        )
        store.claim_execution(execution.id, "bench", 60)
        for cell in ("trigger", "filter", "map", "post"):
            store.record_node_result(
                execution.id, cell_id=cell, status="completed", output={"ok": True}
            )
        store.finish_execution(execution.id, status="completed")
    elapsed = time.perf_counter() - started
    assert store.count_executions(user.id, status="completed") == count
    with capsys.disabled():
        dialect = "SQLite" if store.is_sqlite else "PostgreSQL"
        print(
            f"\n[throughput] {dialect}: {count / elapsed:,.0f} executions/s "
            f"(create + claim + 4 node results + finish, single thread; "
            f"{elapsed / count * 1000:.2f} ms each)"
        )


def test_records_are_plain_and_detached(store: Store, alice: User) -> None:
    conn = store.create_connection(alice.id, "slack", "x", {})
    store.close()  # records stay usable after the store is gone
    assert isinstance(conn, Connection) and conn.to_dict()["name"] == "x"
    with pytest.raises(AttributeError):
        conn.name = "y"  # type: ignore[misc]


def test_error_handling_defaults_are_the_documents(store: Store, alice: User) -> None:
    """The row says what the document does: its defaults are the document model's, and a
    setting a new version leaves out goes back to the default."""
    from cells.models import ScenarioSettings
    from storage.repos.scenarios import DEFAULT_ERROR_HANDLING

    model = ScenarioSettings()
    assert DEFAULT_ERROR_HANDLING == {key: getattr(model, key) for key in DEFAULT_ERROR_HANDLING}
    created = store.save_scenario(alice.id, {"cells": [], "settings": {"retry_count": 5}})
    assert created.error_handling == {"retry_count": 5, "notify_on_error": False}
    again = store.save_scenario(alice.id, {"cells": []}, scenario_id=created.id)
    assert again.error_handling == {"retry_count": 2, "notify_on_error": False}


def test_failures_in_a_row_count_final_runs_newest_first(
    store: Store, alice: User, scenario: Scenario
) -> None:
    def run(status: str, version: int = 1) -> None:
        execution, _ = store.create_execution(
            scenario_id=scenario.id, scenario_version=version, user_id=alice.id, trigger={}
        )
        if status != "queued":
            store.finish_execution(execution.id, status=status)

    assert store.failures_in_a_row(scenario.id, 5) == 0
    run("failed")
    run("completed")  # starts the count over
    for status in ("failed", "cancelled", "failed", "queued", "failed"):
        run(status)  # cancelled and still open runs are not counted
    store.save_scenario(alice.id, {"cells": []}, scenario_id=scenario.id)  # version 2
    run("failed", version=2)
    assert store.failures_in_a_row(scenario.id, 10) == 4
    assert store.failures_in_a_row(scenario.id, 2) == 2  # looks at no more than the limit
    assert store.failures_in_a_row(scenario.id, 10, version=1) == 3
    assert store.failures_in_a_row(scenario.id, 10, version=2) == 1
    assert store.failures_in_a_row("no-such-scenario", 10) == 0


def test_a_called_run_records_its_caller_and_the_history_filters_by_it(
    store: Store, scenario: Scenario, bob: User
) -> None:
    parent = new_execution(store, scenario)
    other = new_execution(store, scenario)
    child = new_execution(store, scenario, parent_execution_id=parent.id)
    claimed, created = store.create_execution(  # created running, as an inline call is
        scenario_id=scenario.id,
        scenario_version=scenario.version,
        user_id=scenario.user_id,
        trigger={},
        idempotency_key="call:k",
        claim_owner="me",
        parent_execution_id=parent.id,
    )
    assert created and claimed.status == "running"
    assert store.get_execution(None, child.id).parent_execution_id == parent.id
    assert store.get_execution(None, claimed.id).parent_execution_id == parent.id
    assert store.get_execution(None, other.id).parent_execution_id is None
    listed = store.list_executions(scenario.user_id, parent_execution_id=parent.id)
    assert {e.id for e in listed} == {child.id, claimed.id}
    assert store.count_executions(scenario.user_id, parent_execution_id=parent.id) == 2
    assert store.list_executions(bob.id, parent_execution_id=parent.id) == []
    finished = store.finish_execution(claimed.id, status="completed")
    assert finished.parent_execution_id == parent.id
