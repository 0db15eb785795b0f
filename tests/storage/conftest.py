"""Fixtures for the store tests: real SQLite files and a real PostgreSQL server.

Every store test runs twice, on SQLite (a file under tmp_path) and on PostgreSQL
(marked ``postgres``). The PostgreSQL runs use a database ``cw_test_<random>`` created
for the test session from the ``test`` database and dropped at the end; tables are
emptied after each test. When PostgreSQL is unreachable the ``postgres`` tests fail
under CI (CI=true) and are skipped, loudly, elsewhere.
Server URL: ``CELLWRIGHT_TEST_PG_URL`` (default postgres@127.0.0.1:5432/test, trust auth).
"""

from __future__ import annotations

import os
import secrets
import shutil
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from storage import Scenario, Store, User, Vault
from storage.models import Base

PG_SERVER_URL = os.environ.get(
    "CELLWRIGHT_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


class PgServer:
    """Creates and drops throwaway databases on the test server."""

    def __init__(self, url: str) -> None:
        self.url = make_url(url)
        self.admin = create_engine(self.url, isolation_level="AUTOCOMMIT", pool_size=1)
        self.created: list[str] = []

    def create_database(self) -> str:
        name = f"cw_test_{secrets.token_hex(6)}"
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        return self.url.set(database=name).render_as_string(hide_password=False)

    def drop_database(self, url: str) -> None:
        name = make_url(url).database
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.created.remove(name)

    def close(self) -> None:
        for name in list(self.created):
            with self.admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.admin.dispose()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    server = PgServer(PG_SERVER_URL)
    try:
        with server.admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except OperationalError as exc:
        server.admin.dispose()
        reason = f"PostgreSQL unreachable at {server.url.render_as_string()}: {exc.orig}"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"CI needs PostgreSQL for the storage tests. {reason}")
        warnings.warn(f"SKIPPING PostgreSQL store tests: {reason}", stacklevel=1)
        pytest.skip(f"!!! PostgreSQL store tests SKIPPED: {reason}")
    yield server
    server.close()


@pytest.fixture(scope="session")
def pg_url(pg_server: PgServer) -> str:
    """A database of this test session, migrated to head once."""
    url = pg_server.create_database()
    store = Store(url, Vault([Vault.generate_key()]))
    store.migrate()
    store.close()
    return url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (faster than migrating each time)."""
    path = tmp_path_factory.mktemp("template") / "cellwright.db"
    store = Store(f"sqlite:///{path}", Vault([Vault.generate_key()]))
    store.migrate()
    store.close()  # the last connection checkpoints the WAL into the file
    return path


@pytest.fixture
def vault() -> Vault:
    return Vault([Vault.generate_key()])


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    path = tmp_path / "cellwright.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


def _truncate_all(url: str) -> None:
    engine = create_engine(url)
    tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"TRUNCATE {tables} CASCADE")
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """The URL of an empty, migrated database: SQLite, then PostgreSQL."""
    if request.param == "sqlite":
        yield request.getfixturevalue("sqlite_url")
        return
    url = request.getfixturevalue("pg_url")
    yield url
    _truncate_all(url)


@pytest.fixture
def store(db_url: str, vault: Vault) -> Iterator[Store]:
    with Store(db_url, vault) as s:
        yield s


@pytest.fixture
def sqlite_store(sqlite_url: str, vault: Vault) -> Iterator[Store]:
    with Store(sqlite_url, vault) as s:
        yield s


@pytest.fixture
def alice(store: Store) -> User:
    return store.create_user("alice@example.com", "Alice")


@pytest.fixture
def bob(store: Store) -> User:
    return store.create_user("bob@example.com", "Bob")


def simple_document(name: str = "Orders to Slack", **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "cells": [{"id": "trigger", "type": "trigger"}, {"id": "post", "type": "action"}],
        **extra,
    }


@pytest.fixture
def doc() -> Callable[..., dict[str, Any]]:
    """Builds a small scenario document."""
    return simple_document


@pytest.fixture
def make_scenario(store: Store) -> Callable[..., Scenario]:
    def make(user: User, name: str = "Orders to Slack", **extra: Any) -> Scenario:
        return store.save_scenario(user.id, simple_document(name, **extra))

    return make


@pytest.fixture
def scenario(make_scenario: Callable[..., Scenario], alice: User) -> Scenario:
    return make_scenario(alice)
