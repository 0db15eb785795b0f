"""The audit trail is a hash chain: appends never fork it (threads, two stores on one
database), and a row changed, removed or inserted behind the store's back is found by
``verify_audit_chain`` — on SQLite and on PostgreSQL. Existing entries are chained by
the migration."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy import create_engine, text
from sqlalchemy.dialects import postgresql

from storage import Store, Vault, audit_origin
from storage.audit_chain import GENESIS, current_origin, entry_hash
from storage.migrations import alembic_config


def fill(store: Store, n: int = 5) -> None:
    for i in range(n):
        store.audit(f"u{i % 2}", "scenario.save", "scenario", f"s{i}", {"version": i + 1})


def sql(url: str, statement: str, **params: Any) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text(statement), params)
    finally:
        engine.dispose()


def test_entries_are_chained_in_order(store: Store) -> None:
    assert store.verify_audit_chain().intact
    assert store.verify_audit_chain().checked == 0
    fill(store, 3)
    entries = sorted(store.audit_entries(), key=lambda e: e.seq)
    assert [e.seq for e in entries] == [1, 2, 3]
    assert entries[0].prev_hash == GENESIS
    assert [e.prev_hash for e in entries[1:]] == [e.hash for e in entries[:-1]]
    for entry in entries:
        assert entry.hash == entry_hash(entry.prev_hash, entry.to_dict() | {"at": entry.at})
    verdict = store.verify_audit_chain()
    assert (verdict.intact, verdict.checked, verdict.head_hash) == (True, 3, entries[-1].hash)


def test_origin_source_ip_and_actor(store: Store) -> None:
    store.audit("u1", "api_key.create", "api_key", "k1")
    with audit_origin("api", ip="203.0.113.9", actor_id="admin1"):
        assert current_origin().source == "api"
        store.audit("u1", "user.create", "user", "u1")
        store.audit(None, "auth.sign_in_failed", "user", None, {"reason": "x"}, actor_id="")
    assert current_origin().source == "system"
    failed, made, first = store.audit_entries()
    assert (failed.source, failed.ip, failed.actor_id, failed.user_id) == (
        "api",
        "203.0.113.9",
        None,  # nobody known
        None,
    )
    assert (made.user_id, made.actor_id, made.source) == ("u1", "admin1", "api")
    assert (first.source, first.ip, first.actor_id) == ("system", None, "u1")
    with pytest.raises(ValueError, match="invalid audit source"):
        store.audit("u1", "x.y", "x", source="browser")
    with pytest.raises(ValueError, match="invalid audit source"), audit_origin("telnet"):
        pass


def test_details_are_stored_as_they_are_hashed(store: Store) -> None:
    """A value JSON has no type for (a datetime) is stored as text, so the entry still
    verifies after it is read back."""
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    store.audit("u1", "x.y", "x", "1", {"when": when, "n": 1.5, "list": [1, "é"]})
    [entry] = store.audit_entries()
    assert entry.details == {"when": str(when), "n": 1.5, "list": [1, "é"]}
    assert store.verify_audit_chain().intact


def test_filters(store: Store) -> None:
    store.audit("u1", "scenario.save", "scenario", "s1")
    store.audit("u1", "scenario.publish", "scenario", "s1")
    store.audit("u2", "scenarios.odd", "scenario", "s2")  # not in the "scenario" group
    with audit_origin("workspace", actor_id="admin"):
        store.audit("u2", "connection.create", "connection", "c1")
    store.audit("u2", "100%_done.x", "x", "x")
    assert [e.action for e in store.audit_entries(action="scenario")] == [
        "scenario.publish",
        "scenario.save",
    ]
    assert [e.action for e in store.audit_entries(action="scenario.save")] == ["scenario.save"]
    assert [e.action for e in store.audit_entries(action="100%_done")] == ["100%_done.x"]
    assert [e.action for e in store.audit_entries(action="100")] == []  # % is no wildcard
    assert [e.object_id for e in store.audit_entries(actor_id="admin")] == ["c1"]
    assert [e.action for e in store.audit_entries("u1", object_id="s1")] == [
        "scenario.publish",
        "scenario.save",
    ]
    assert len(store.audit_entries(object_type="scenario")) == 3
    everything = store.audit_entries()
    assert [e.seq for e in everything] == [5, 4, 3, 2, 1]  # newest first
    assert [e.seq for e in store.audit_entries(limit=2, offset=1)] == [4, 3]
    middle = everything[2].at
    assert all(e.at >= middle for e in store.audit_entries(since=middle))
    assert all(e.at < middle for e in store.audit_entries(until=middle))
    future = datetime.now(UTC) + timedelta(days=1)
    assert store.audit_entries(since=future) == []


def test_a_changed_row_is_found(store: Store, db_url: str) -> None:
    fill(store)
    sql(db_url, "UPDATE audit_log SET object_id = 'other' WHERE seq = 3")
    verdict = store.verify_audit_chain()
    assert not verdict.intact
    assert (verdict.broken_seq, verdict.checked) == (3, 3)
    assert verdict.reason is not None and "content does not match" in verdict.reason
    assert verdict.broken_id == store.audit_entries(object_id="other")[0].id


def test_a_change_with_a_recomputed_hash_breaks_the_next_link(store: Store, db_url: str) -> None:
    fill(store)
    [third] = [e for e in store.audit_entries() if e.seq == 3]
    forged = third.to_dict() | {"at": third.at, "action": "scenario.delete"}
    sql(
        db_url,
        "UPDATE audit_log SET action = 'scenario.delete', hash = :h WHERE seq = 3",
        h=entry_hash(third.prev_hash, forged),
    )
    verdict = store.verify_audit_chain()
    assert (verdict.intact, verdict.broken_seq) == (False, 4)
    assert verdict.reason is not None and "link to the previous entry" in verdict.reason


def test_a_removed_row_is_found(store: Store, db_url: str) -> None:
    fill(store)
    sql(db_url, "DELETE FROM audit_log WHERE seq = 2")
    verdict = store.verify_audit_chain()
    assert (verdict.intact, verdict.broken_seq) == (False, 3)
    assert verdict.reason is not None and "expected entry #2" in verdict.reason


def test_a_tampered_details_value_is_found(store: Store, db_url: str) -> None:
    store.audit("u1", "user.update", "user", "u1", {"is_admin": False})
    store.audit("u1", "api_key.create", "api_key", "k1")
    sql(db_url, "UPDATE audit_log SET details = NULL WHERE seq = 1")
    assert store.verify_audit_chain().broken_seq == 1


def test_concurrent_appends_keep_one_chain(store: Store, db_url: str, vault: Vault) -> None:
    """Threads of one store and a second store on the same database (as a second process
    would have) append at once: one chain, no gap, no fork."""
    other = Store(db_url, vault)
    try:

        def write(i: int) -> None:
            (store if i % 2 else other).audit(f"u{i % 3}", "scenario.save", "scenario", str(i))

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(write, range(120)))
    finally:
        other.close()
    entries = store.audit_entries(limit=1000)
    assert sorted(e.seq for e in entries) == list(range(1, 121))
    assert len({e.prev_hash for e in entries}) == 120  # nobody shares a predecessor
    verdict = store.verify_audit_chain()
    assert (verdict.intact, verdict.checked) == (True, 120)


def test_seq_is_unique_in_the_database(store: Store, db_url: str) -> None:
    """The backstop under the lock: a second entry with the same position is refused."""
    fill(store, 1)
    with pytest.raises(sa.exc.IntegrityError):
        sql(
            db_url,
            "INSERT INTO audit_log (id, seq, action, object_type, at, source, prev_hash, hash) "
            "VALUES ('x', 1, 'a.b', 'x', :at, 'system', :g, :g)",
            at=datetime.now(UTC),
            g=GENESIS,
        )


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    server = request.getfixturevalue("pg_server")
    url = server.create_database()
    yield url
    server.drop_database(url)


def test_the_migration_chains_existing_entries(fresh_url: str) -> None:
    config = alembic_config(fresh_url)
    command.upgrade(config, "0010_data_stores")
    json_type = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
    audit = sa.table(
        "audit_log",
        *(sa.column(c) for c in ("id", "user_id", "action", "object_type", "object_id", "at")),
        sa.column("details", json_type),
    )
    start = datetime(2026, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)
    engine = create_engine(fresh_url)
    try:
        with engine.begin() as conn:
            for i, details in enumerate([{"version": 1}, None, {"name": "Ünïcode"}]):
                conn.execute(
                    audit.insert().values(
                        id=f"old{i}",
                        user_id="u1",
                        action="scenario.save",
                        object_type="scenario",
                        object_id="s1",
                        at=start + timedelta(seconds=2 - i),  # written in reverse id order
                        details=details,
                    )
                )
        command.upgrade(config, "head")
        with Store(fresh_url, Vault([Vault.generate_key()])) as store:
            old = sorted(store.audit_entries(), key=lambda e: e.seq)
            assert [e.id for e in old] == ["old2", "old1", "old0"]  # by time
            assert {(e.source, e.actor_id) for e in old} == {("system", "u1")}
            store.audit("u1", "scenario.publish", "scenario", "s1")
            verdict = store.verify_audit_chain()
            assert (verdict.intact, verdict.checked) == (True, 4)
        command.downgrade(config, "0010_data_stores")
        command.upgrade(config, "head")
    finally:
        engine.dispose()
