"""Alembic migrations: they build exactly the schema the models describe, on both databases."""

from __future__ import annotations

import io
import logging
import subprocess
import sys
from argparse import Namespace
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata, produce_migrations, render_python_code
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect
from sqlalchemy.dialects import postgresql

from storage import Store, Vault
from storage.migrations import MIGRATIONS_DIR, alembic_config, render_item
from storage.models import Base

TABLES = {
    "users",
    "api_keys",
    "apps",
    "connections",
    "scenarios",
    "scenario_versions",
    "nodes",
    "scenario_executions",
    "node_results",
    "trigger_state",
    "webhook_subscriptions",
    "audit_log",
    "analytics_outbox",
    "leases",
    "alert_rules",
    "revoked_sessions",
    "login_failures",
    "scenario_secrets",
    "data_stores",
    "data_records",
    "retention_policies",
    "analytics_deletions",
}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database (no migration run yet)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    server = request.getfixturevalue("pg_server")
    url = server.create_database()
    yield url
    server.drop_database(url)


def schema_diff(url: str) -> list[object]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            return list(compare_metadata(context, Base.metadata))
    finally:
        engine.dispose()


def tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_migrate_builds_exactly_the_models(fresh_url: str) -> None:
    assert len(schema_diff(fresh_url)) > 0  # an empty database differs: the check can fail
    with Store(fresh_url, Vault([Vault.generate_key()])) as store:
        store.migrate()
        store.migrate()  # idempotent
    assert tables(fresh_url) == TABLES
    assert schema_diff(fresh_url) == []


def test_downgrade_then_upgrade(fresh_url: str) -> None:
    config = alembic_config(fresh_url)
    command.upgrade(config, "head")
    command.downgrade(config, "base")
    assert tables(fresh_url) == set()
    command.upgrade(config, "head")
    assert schema_diff(fresh_url) == []


def test_existing_scenarios_go_live_at_their_latest_version(fresh_url: str) -> None:
    """0003 adds ``scenarios.live_version``: installs upgraded from before drafts keep
    running what they ran (the latest saved version)."""
    config = alembic_config(fresh_url)
    command.upgrade(config, "0002")
    json_type = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
    now = datetime.now(UTC)
    users = sa.table(
        "users", *(sa.column(c) for c in ("id", "email", "name", "is_admin", "created_at"))
    )
    columns = ("id", "user_id", "name", "description", "status", "created_at", "updated_at")
    scenarios = sa.table(
        "scenarios",
        *(sa.column(c) for c in (*columns, "version")),
        sa.column("error_handling", json_type),
        sa.column("document", json_type),
    )
    engine = create_engine(fresh_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                users.insert().values(
                    id="u1", email="a@example.com", name="A", is_admin=False, created_at=now
                )
            )
            for scenario_id, version, status in (("s1", 1, "draft"), ("s7", 7, "active")):
                conn.execute(
                    scenarios.insert().values(
                        id=scenario_id,
                        user_id="u1",
                        name=scenario_id,
                        description="",
                        status=status,
                        created_at=now,
                        updated_at=now,
                        version=version,
                        error_handling={},
                        document={"cells": []},
                    )
                )
        command.upgrade(config, "head")
        with engine.connect() as conn:
            query = sa.text("SELECT id, version, live_version FROM scenarios ORDER BY id")
            rows = conn.execute(query).all()
        assert [tuple(r) for r in rows] == [("s1", 1, 1), ("s7", 7, 7)]
        command.downgrade(config, "0002")  # the column goes; the scenarios stay
        assert "live_version" not in {c["name"] for c in inspect(engine).get_columns("scenarios")}
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM scenarios")).scalar() == 2
    finally:
        engine.dispose()


def test_existing_connections_get_a_webhook_token_column_without_a_token(fresh_url: str) -> None:
    """0004 adds ``connections.webhook_token`` (unique index): existing connections keep
    working and get their token when their URL is first shown; downgrading removes it."""
    config = alembic_config(fresh_url)
    command.upgrade(config, "0003")
    json_type = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
    now = datetime.now(UTC)
    users = sa.table(
        "users", *(sa.column(c) for c in ("id", "email", "name", "is_admin", "created_at"))
    )
    columns = (
        "id",
        "app_id",
        "user_id",
        "name",
        "status",
        "credentials",
        "created_at",
        "updated_at",
        "usage_count",
        "is_sandbox",
    )
    connections = sa.table(
        "connections", *(sa.column(c) for c in columns), sa.column("metadata", json_type)
    )
    engine = create_engine(fresh_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                users.insert().values(
                    id="u1", email="a@example.com", name="A", is_admin=False, created_at=now
                )
            )
            for connection_id in ("c1", "c2"):
                conn.execute(
                    connections.insert().values(
                        id=connection_id,
                        app_id="slack",
                        user_id="u1",
                        name=connection_id,
                        status="active",
                        credentials="x",
                        created_at=now,
                        updated_at=now,
                        usage_count=0,
                        is_sandbox=False,
                        metadata={},
                    )
                )
        command.upgrade(config, "head")
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text("SELECT id, webhook_token FROM connections ORDER BY id")
            ).all()
        assert [tuple(r) for r in rows] == [
            ("c1", None),
            ("c2", None),
        ]  # several NULLs: unique allows them
        [index] = [
            i
            for i in inspect(engine).get_indexes("connections")
            if i["column_names"] == ["webhook_token"]
        ]
        assert index["unique"] and index["name"] == "ix_connections_webhook_token"
        command.downgrade(config, "0003")
        assert "webhook_token" not in {
            c["name"] for c in inspect(engine).get_columns("connections")
        }
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM connections")).scalar() == 2
    finally:
        engine.dispose()


def test_concurrent_migrations_are_serialised(fresh_url: str) -> None:
    """Several servers starting at once on one database (separate processes): all
    succeed, one migrates, the others find the schema at head."""
    code = (
        "import sys; from storage import Store, Vault; "
        "Store(sys.argv[1], Vault([Vault.generate_key()])).migrate()"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code, fresh_url], stderr=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    failures = [p.communicate(timeout=120)[1] for p in procs if p.wait(timeout=120) != 0]
    assert failures == []
    assert schema_diff(fresh_url) == []


def test_migrate_from_threads_of_one_process(fresh_url: str) -> None:
    """Alembic keeps global state: migrations inside one process take turns."""
    stores = [Store(fresh_url, Vault([Vault.generate_key()])) for _ in range(3)]
    with ThreadPoolExecutor(3) as pool:
        list(pool.map(Store.migrate, stores))  # re-raises any error
    for store in stores:
        store.close()
    assert schema_diff(fresh_url) == []


def test_existing_scenarios_start_without_tags(fresh_url: str) -> None:
    """0005 adds ``scenarios.tags``: existing scenarios get an empty list (tag filters
    skip them, the list shows them untagged); downgrading removes the column only."""
    config = alembic_config(fresh_url)
    command.upgrade(config, "0004_scenario_secrets")
    json_type = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
    now = datetime.now(UTC)
    users = sa.table(
        "users", *(sa.column(c) for c in ("id", "email", "name", "is_admin", "created_at"))
    )
    columns = (
        "id",
        "user_id",
        "name",
        "description",
        "status",
        "created_at",
        "updated_at",
        "version",
    )
    scenarios = sa.table(
        "scenarios",
        *(sa.column(c) for c in columns),
        sa.column("error_handling", json_type),
        sa.column("document", json_type),
    )
    engine = create_engine(fresh_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                users.insert().values(
                    id="u1", email="a@example.com", name="A", is_admin=False, created_at=now
                )
            )
            conn.execute(
                scenarios.insert().values(
                    id="s1",
                    user_id="u1",
                    name="s1",
                    description="",
                    status="draft",
                    created_at=now,
                    updated_at=now,
                    version=1,
                    error_handling={},
                    document={"cells": []},
                )
            )
        command.upgrade(config, "head")
        with Store(fresh_url, Vault([Vault.generate_key()])) as store:
            [scenario] = store.list_scenarios("u1")
            assert scenario.tags == []
            assert store.list_scenarios("u1", tag="billing") == []
        command.downgrade(config, "0004_scenario_secrets")
        assert "tags" not in {c["name"] for c in inspect(engine).get_columns("scenarios")}
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM scenarios")).scalar() == 1
    finally:
        engine.dispose()


def test_existing_alert_rules_send_no_email(fresh_url: str) -> None:
    """0008 adds the e-mail channel to ``alert_rules``: existing rules keep their webhook
    and name no connection; an e-mail rule reads back; downgrading drops the columns only."""
    config = alembic_config(fresh_url)
    command.upgrade(config, "0005_scenario_tags")
    now = datetime.now(UTC)
    users = sa.table(
        "users", *(sa.column(c) for c in ("id", "email", "name", "is_admin", "created_at"))
    )
    rules = sa.table(
        "alert_rules",
        *(
            sa.column(c)
            for c in (
                "id",
                "user_id",
                "scenario_id",
                "notify_workspace",
                "webhook_url",
                "created_at",
            )
        ),
    )
    engine = create_engine(fresh_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                users.insert().values(
                    id="u1", email="a@example.com", name="A", is_admin=False, created_at=now
                )
            )
            conn.execute(
                rules.insert().values(
                    id="r1",
                    user_id="u1",
                    scenario_id=None,
                    notify_workspace=True,
                    webhook_url="https://hooks.example.com/x",
                    created_at=now,
                )
            )
        command.upgrade(config, "head")
        with Store(fresh_url, Vault([Vault.generate_key()])) as store:
            [old] = store.list_alert_rules("u1")
            assert old.webhook_url == "https://hooks.example.com/x"
            assert old.email_connection_id is None and old.email_to is None
            new = store.create_alert_rule(
                "u1", notify_workspace=False, email_connection_id="c1", email_to=["a@example.com"]
            )
            assert {r.id: r for r in store.list_alert_rules("u1")}[new.id] == new
            assert new.email_to == ["a@example.com"]
        command.downgrade(config, "0007_file_scenarios")
        columns = {c["name"] for c in inspect(engine).get_columns("alert_rules")}
        assert "email_to" not in columns and "email_connection_id" not in columns
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM alert_rules")).scalar() == 2
    finally:
        engine.dispose()


def test_single_head_and_self_contained_revisions() -> None:
    scripts = ScriptDirectory(str(MIGRATIONS_DIR))
    assert scripts.get_heads() == ["0016_gdpr"]
    for script in scripts.walk_revisions():
        source = Path(script.path).read_text()
        assert "storage.models" not in source.replace("storage.models.UTCDateTime", "")


@pytest.mark.parametrize("url", ["sqlite:///offline.db", "postgresql+psycopg://u@h/db"])
def test_offline_sql(url: str) -> None:
    config = alembic_config(url)
    config.output_buffer = io.StringIO()
    command.upgrade(config, "head", sql=True)
    sql = config.output_buffer.getvalue()
    assert "CREATE TABLE scenario_executions" in sql
    assert ("JSONB" in sql) == url.startswith("postgresql")


def test_cli_style_run_with_the_ini_file(tmp_path: Path) -> None:
    """What a developer runs from a checkout: alembic -c storage/alembic.ini -x url=..."""
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    ini = MIGRATIONS_DIR.parent / "alembic.ini"
    root = logging.getLogger()
    saved = (root.level, list(root.handlers))
    try:
        config = Config(str(ini), cmd_opts=Namespace(x=[f"url={url}"]))
        command.upgrade(config, "head")
    finally:
        root.setLevel(saved[0])
        root.handlers[:] = saved[1]
    assert schema_diff(url) == []


def test_url_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'env.db'}"
    monkeypatch.setenv("CELLWRIGHT_DATABASE_URL", url)
    command.upgrade(alembic_config(), "head")
    assert tables(url) == TABLES


def test_no_url_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CELLWRIGHT_DATABASE_URL", raising=False)
    with pytest.raises(RuntimeError, match="no database URL"):
        command.upgrade(alembic_config(), "head")


def test_autogenerate_renders_utc_datetimes_as_plain_types(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"render_item": render_item})
        code = render_python_code(
            produce_migrations(context, Base.metadata).upgrade_ops, render_item=render_item
        )
    engine.dispose()
    assert "sa.DateTime(timezone=True)" in code
    assert "UTCDateTime" not in code


def test_loop_items_and_kinds_migrate_both_ways_keeping_rows(fresh_url: str) -> None:
    """0006 adds ``node_results.item`` and the loop/aggregate node types. Downgrading drops
    the loops' node rows (the documents keep them) and the column; other rows stay, and
    upgrading again copies the nodes with their parents."""
    from cells import document as documents

    config = alembic_config(fresh_url)
    command.upgrade(config, "head")
    doc = documents.parse(
        {
            "name": "Loop",
            "cells": [
                {"id": "start", "kind": "trigger", "app": "manual", "operation": "run_manually"},
                {
                    "id": "route",
                    "kind": "condition",
                    "branches": [
                        {
                            "name": "all",
                            "fallback": True,
                            "cells": [
                                {
                                    "id": "inner",
                                    "kind": "transformer",
                                    "app": "formatter",
                                    "operation": "set_fields",
                                    "inputs": {"fields": {"a": "1"}},
                                },
                            ],
                        }
                    ],
                },
                {
                    "id": "each",
                    "kind": "loop",
                    "items": [1, 2],
                    "cells": [
                        {
                            "id": "post",
                            "kind": "transformer",
                            "app": "formatter",
                            "operation": "set_fields",
                            "inputs": {"fields": {"a": "{{ item }}"}},
                        },
                    ],
                },
                {"id": "total", "kind": "aggregate", "loop": "each", "mode": "count"},
            ],
        }
    )
    engine = create_engine(fresh_url)
    try:
        with Store(fresh_url, Vault([Vault.generate_key()])) as store:
            user = store.create_user("a@example.com")
            scenario = store.save_scenario(user.id, doc.to_data(), nodes=documents.node_rows(doc))
            execution, _ = store.create_execution(
                scenario_id=scenario.id, scenario_version=1, user_id=user.id, trigger={}
            )
            store.record_node_result(execution.id, cell_id="start", status="completed")
            store.record_node_result(execution.id, cell_id="post", status="completed", item="1")
        command.downgrade(config, "0011_audit_chain")
        assert "item" not in {c["name"] for c in inspect(engine).get_columns("node_results")}
        with engine.connect() as conn:
            kinds = dict(conn.execute(sa.text("SELECT cell_id, type FROM nodes")).all())
            # the loop's own cells go with it; a router's branch cells keep their parent
            assert kinds == {"start": "trigger", "route": "condition", "inner": "transformer"}
            parent = conn.execute(
                sa.text(
                    "SELECT p.cell_id FROM nodes c JOIN nodes p ON c.parent_id = p.id"
                    " WHERE c.cell_id = 'inner'"
                )
            ).scalar()
            assert parent == "route"
            assert conn.execute(sa.text("SELECT count(*) FROM node_results")).scalar() == 2
        command.upgrade(config, "head")
        with engine.connect() as conn:  # the copy kept the rows and their parents
            linked = conn.execute(
                sa.text(
                    "SELECT c.cell_id, p.cell_id FROM nodes c JOIN nodes p ON c.parent_id = p.id"
                )
            ).all()
            assert [tuple(row) for row in linked] == [("inner", "route")]
        with Store(fresh_url, Vault([Vault.generate_key()])) as store:
            assert [r.item for r in store.node_results(execution.id)] == [None, None]
            saved = store.save_scenario(
                user.id, doc.to_data(), scenario_id=scenario.id, nodes=documents.node_rows(doc)
            )
            assert saved.version == 2
        with engine.connect() as conn:
            rows = dict(conn.execute(sa.text("SELECT cell_id, type FROM nodes")).all())
            assert rows["each"] == "loop" and rows["total"] == "aggregate"
            parent = conn.execute(
                sa.text(
                    "SELECT p.cell_id FROM nodes c JOIN nodes p ON c.parent_id = p.id WHERE "
                    "c.cell_id = 'post'"
                )
            ).scalar()
            assert parent == "each"
    finally:
        engine.dispose()
