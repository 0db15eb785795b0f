"""Alembic environment for the Cellwright store.

Run programmatically by :meth:`storage.Store.migrate` (which passes an open connection
in ``config.attributes["connection"]``), or from a checkout for new revisions::

    alembic -c storage/alembic.ini -x url=sqlite:///dev.db revision --autogenerate -m "..."
    alembic -c storage/alembic.ini -x url=postgresql+psycopg://... upgrade head

The URL comes from ``-x url=...``, else ``CELLWRIGHT_DATABASE_URL``, else
``sqlalchemy.url``. SQLite migrations use batch mode (table copies) for ALTERs.
"""

from __future__ import annotations

import os
from logging.config import fileConfig
from typing import Any

from alembic import context
from sqlalchemy.engine import Connection

from storage.migrations import PG_MIGRATION_LOCK, render_item
from storage.models import Base
from storage.repos._base import make_engine

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = (
        context.get_x_argument(as_dictionary=True).get("url")
        or os.environ.get("CELLWRIGHT_DATABASE_URL")
        or config.get_main_option("sqlalchemy.url")
    )
    if not url:
        raise RuntimeError("no database URL: pass -x url=... or set CELLWRIGHT_DATABASE_URL")
    return url


def _configure(**kwargs: Any) -> None:
    context.configure(
        target_metadata=target_metadata,
        compare_type=True,
        render_item=render_item,
        **kwargs,
    )


def run_migrations_offline() -> None:
    """Print the SQL instead of running it (``alembic upgrade head --sql``)."""
    url = _url()
    _configure(url=url, literal_binds=True, render_as_batch=url.startswith("sqlite"))
    with context.begin_transaction():
        context.run_migrations()


def _run(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        # Several servers may start at once: one migrates, the others wait, then see head.
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({PG_MIGRATION_LOCK})")
    _configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    if config.config_file_name is not None:
        fileConfig(config.config_file_name, disable_existing_loggers=False)
    engine = make_engine(_url())
    try:
        with engine.begin() as connection:
            _run(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
